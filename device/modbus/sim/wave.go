package sim

import (
	"math"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
)

// waveKind is how a simulated point moves over time.
type waveKind uint8

const (
	waveSine     waveKind = iota // base ± amp, for temperatures, voltages, currents
	waveRamp                     // sawtooth from base to base+amp, for speeds
	waveCounter                  // base + rate·t, monotonic, for energy and run hours
	waveToggle                   // bool flipping every half period, for coils and inputs
	waveConstant                 // base, for codes and states that should read "all good"
)

// wave is a point's motion: its engineering value as a function of the time
// since the model's epoch. Every field is fixed at model construction, so a
// value depends only on the clock and tests can predict it.
type wave struct {
	kind   waveKind
	base   float64
	amp    float64
	rate   float64 // counter: engineering units per second
	period time.Duration
	phase  float64 // fraction of a period, so neighbouring points differ
}

// at returns the engineering value at d after the epoch.
func (w wave) at(d time.Duration) float64 {
	cycles := 0.0
	if w.period > 0 {
		cycles = d.Seconds()/w.period.Seconds() + w.phase
	}
	switch w.kind {
	case waveSine:
		return w.base + w.amp*math.Sin(2*math.Pi*cycles)
	case waveRamp:
		return w.base + w.amp*(cycles-math.Floor(cycles))
	case waveCounter:
		return w.base + w.rate*d.Seconds()
	case waveToggle:
		if cycles-math.Floor(cycles) >= 0.5 {
			return 1
		}
		return 0
	default:
		return w.base
	}
}

// phaseOf spreads points over the cycle by address (the fractional part of
// a multiple of an irrational-ish step).
func phaseOf(addr int) float64 {
	x := float64(addr) * 0.1373
	return x - math.Floor(x)
}

// waveFor picks a plausible motion for a profile point from its name and
// unit, so that the demo's meters, drives and sensors look like the real
// thing: mains voltage near 230 V, temperatures near 21 °C, energy counting
// up. The rules are heuristics; anything unrecognised swings 100 ± 50,
// which every numeric type can hold.
func waveFor(p device.Point) wave {
	name := strings.ToLower(p.Name)
	unit := strings.ToLower(p.Unit)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(name, s) {
				return true
			}
		}
		return false
	}
	phase := phaseOf(p.Address)
	slow := time.Duration(60+15*(p.Address%5)) * time.Second
	if p.Type == device.TypeBool {
		return wave{kind: waveToggle, period: time.Duration(60+15*(p.Address%4)) * time.Second, phase: phase}
	}
	switch {
	case has("code", "status", "alarm", "fault", "state", "mode", "error"):
		return wave{kind: waveConstant}
	case has("energy", "hours", "counter", "count", "runtime") ||
		unit == "kwh" || unit == "wh" || unit == "mwh" || unit == "kvarh" || unit == "varh" || unit == "h" || unit == "m3":
		rate := 1.0
		switch unit {
		case "kwh", "kvarh":
			rate = 0.01 // 36 kW: a busy plant room
		case "wh", "varh":
			rate = 10
		case "mwh":
			rate = 0.00001
		case "h":
			rate = 1.0 / 3600
		}
		// An integer counter ticks at least one raw step per second, so
		// that run hours visibly move in the demo (fast-forwarded).
		if isInteger(p.Type) {
			rate = math.Max(rate, math.Abs(p.Scale()))
		}
		return wave{kind: waveCounter, base: 1000, rate: rate}
	case has("speed", "setpoint") || unit == "rpm" || (unit == "%" && !has("humid")):
		hi := 100.0
		switch unit {
		case "rpm":
			hi = 1500
		case "hz":
			hi = 50
		}
		return wave{kind: waveRamp, base: 0, amp: hi, period: 2 * time.Minute, phase: phase}
	}
	w := wave{kind: waveSine, period: slow, phase: phase, base: 100, amp: 50}
	switch {
	case unit == "v" && has("dc"):
		w.base, w.amp = 540, 10
	case unit == "v":
		w.base, w.amp = 230, 5
	case unit == "a":
		w.base, w.amp = 12, 4
	case unit == "w":
		w.base, w.amp = 4000, 1500
	case unit == "kw":
		w.base, w.amp = 4, 1.5
	case unit == "hz":
		w.base, w.amp = 50, 0.1
	case unit == "degc":
		w.base, w.amp = 21, 2
	case unit == "degf":
		w.base, w.amp = 70, 4
	case unit == "%":
		w.base, w.amp = 45, 10
	case has("power_factor", "pf"):
		w.base, w.amp = 0.95, 0.03
	}
	return w
}

// defaultWave is the motion of a register in the default map: sine, ramp
// and counter in turn by address, so a range read shows all three.
func defaultWave(addr int) wave {
	switch addr % 3 {
	case 0:
		return wave{kind: waveSine, base: 1000, amp: 500, period: time.Duration(60+15*(addr%5)) * time.Second, phase: phaseOf(addr)}
	case 1:
		return wave{kind: waveRamp, base: 0, amp: 1000, period: 2 * time.Minute, phase: phaseOf(addr)}
	default:
		return wave{kind: waveCounter, base: float64(addr * 100), rate: 1}
	}
}

func isInteger(t device.DataType) bool {
	switch t {
	case device.TypeInt16, device.TypeUint16, device.TypeInt32, device.TypeUint32, device.TypeInt64, device.TypeUint64:
		return true
	}
	return false
}

// intBounds returns the inclusive range of an integer type as float64 (the
// 64-bit ones slightly inside, where float64 is exact).
func intBounds(t device.DataType) (lo, hi float64, bits uint) {
	switch t {
	case device.TypeInt16:
		return math.MinInt16, math.MaxInt16, 16
	case device.TypeUint16:
		return 0, math.MaxUint16, 16
	case device.TypeInt32:
		return math.MinInt32, math.MaxInt32, 32
	case device.TypeUint32:
		return 0, math.MaxUint32, 32
	case device.TypeInt64:
		return -(1 << 53), 1 << 53, 64
	default:
		return 0, 1 << 53, 64
	}
}

// fitRaw brings a raw value into what the point's type can hold: counters
// wrap like real counters, everything else is clamped, and integers are
// rounded here so that the codec never sees an out-of-range value.
func fitRaw(raw float64, t device.DataType, kind waveKind) float64 {
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 0
	}
	switch t {
	case device.TypeFloat32:
		return math.Max(-math.MaxFloat32, math.Min(math.MaxFloat32, raw))
	case device.TypeFloat64:
		return raw
	}
	raw = math.Round(raw)
	lo, hi, bits := intBounds(t)
	if kind == waveCounter && bits < 64 {
		span := math.Ldexp(1, int(bits))
		raw = math.Mod(raw-lo, span)
		if raw < 0 {
			raw += span
		}
		return raw + lo
	}
	return math.Max(lo, math.Min(hi, raw))
}
