package payload

import (
	"fmt"
)

// CayenneLPPName is the built-in Cayenne LPP codec's name in the site file.
const CayenneLPPName = "cayenne-lpp"

// lppType is one Cayenne LPP data type: its size, whether its integers
// are signed, the divisor that scales them, and its components.
type lppType struct {
	name    string
	size    int // bytes per component
	signed  bool
	divisor float64
	unit    string
	// parts names the components of multi-valued types; nil for one value.
	parts []string
	// partDivisors overrides divisor per component (GPS altitude).
	partDivisors []float64
}

// lppTypes are the Cayenne LPP types by code: the IPSO object id minus
// 3200. Standard ones after myDevices' reference implementation, extended
// ones after the ElectronicCats/TTN Arduino library.
var lppTypes = map[byte]lppType{
	0:   {name: "digital_input", size: 1, divisor: 1},
	1:   {name: "digital_output", size: 1, divisor: 1},
	2:   {name: "analog_input", size: 2, signed: true, divisor: 100},
	3:   {name: "analog_output", size: 2, signed: true, divisor: 100},
	100: {name: "generic_sensor", size: 4, divisor: 1},
	101: {name: "illuminance", size: 2, divisor: 1, unit: "lx"},
	102: {name: "presence", size: 1, divisor: 1},
	103: {name: "temperature", size: 2, signed: true, divisor: 10, unit: "degC"},
	104: {name: "humidity", size: 1, divisor: 2, unit: "%"},
	113: {name: "accelerometer", size: 2, signed: true, divisor: 1000, unit: "g", parts: []string{"x", "y", "z"}},
	115: {name: "barometer", size: 2, divisor: 10, unit: "hPa"},
	116: {name: "voltage", size: 2, divisor: 100, unit: "V"},
	117: {name: "current", size: 2, divisor: 1000, unit: "A"},
	118: {name: "frequency", size: 4, divisor: 1, unit: "Hz"},
	120: {name: "percentage", size: 1, divisor: 1, unit: "%"},
	121: {name: "altitude", size: 2, signed: true, divisor: 1, unit: "m"},
	125: {name: "concentration", size: 2, divisor: 1, unit: "ppm"},
	128: {name: "power", size: 2, divisor: 1, unit: "W"},
	130: {name: "distance", size: 4, divisor: 1000, unit: "m"},
	131: {name: "energy", size: 4, divisor: 1000, unit: "kWh"},
	132: {name: "direction", size: 2, divisor: 1, unit: "deg"},
	133: {name: "unixtime", size: 4, divisor: 1, unit: "s"},
	134: {name: "gyrometer", size: 2, signed: true, divisor: 100, unit: "deg/s", parts: []string{"x", "y", "z"}},
	135: {name: "colour", size: 1, divisor: 1, parts: []string{"r", "g", "b"}},
	136: {name: "gps", size: 3, signed: true, divisor: 10000, parts: []string{"latitude", "longitude", "altitude"}, partDivisors: []float64{10000, 10000, 100}},
	142: {name: "switch", size: 1, divisor: 1},
}

// gpsUnits are the units of the GPS components.
var gpsUnits = []string{"deg", "deg", "m"}

// CayenneLPP is the Cayenne Low Power Payload codec: a sequence of
// channel, type, value (big-endian), repeated.
type CayenneLPP struct{}

// Name returns CayenneLPPName.
func (CayenneLPP) Name() string { return CayenneLPPName }

// Decode decodes every value of an LPP payload; fport is not used (LPP is
// self-describing). An empty payload has no values.
func (CayenneLPP) Decode(_ uint8, b []byte) ([]Value, error) {
	var out []Value
	for i := 0; i < len(b); {
		if len(b)-i < 2 {
			return nil, fmt.Errorf("cayenne lpp: %w", truncated("channel and type", i, 2, len(b)-i))
		}
		ch, code := b[i], b[i+1]
		t, ok := lppTypes[code]
		if !ok {
			return nil, fmt.Errorf("cayenne lpp: type %d on channel %d at byte %d: %w", code, ch, i+1, ErrUnknownType)
		}
		parts := max(1, len(t.parts))
		need := t.size * parts
		v := b[i+2:]
		if len(v) < need {
			return nil, fmt.Errorf("cayenne lpp: %w", truncated(fmt.Sprintf("%s on channel %d", t.name, ch), i+2, need, len(v)))
		}
		base := fmt.Sprintf("%s_%d", t.name, ch)
		for p := range parts {
			raw := beInt(v[p*t.size:(p+1)*t.size], t.signed)
			div, name, unit := t.divisor, base, t.unit
			if t.parts != nil {
				name += "_" + t.parts[p]
			}
			if t.partDivisors != nil {
				div, unit = t.partDivisors[p], gpsUnits[p]
			}
			out = append(out, Value{Name: name, Value: float64(raw) / div, Unit: unit})
		}
		i += 2 + need
	}
	return out, nil
}

// beInt reads a big-endian integer of 1 to 4 bytes, sign-extended when
// signed.
func beInt(b []byte, signed bool) int64 {
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	if signed {
		shift := 64 - 8*len(b)
		return int64(u<<shift) >> shift
	}
	return int64(u)
}

// LPP builds Cayenne LPP payloads, for simulators and tests.
type LPP []byte

// Temperature appends a temperature in °C (0.1 °C resolution).
func (l LPP) Temperature(ch uint8, c float64) LPP { return l.int(ch, 103, round(c*10), 2) }

// Humidity appends a relative humidity in % (0.5 % resolution).
func (l LPP) Humidity(ch uint8, pct float64) LPP { return l.int(ch, 104, round(pct*2), 1) }

// Barometer appends a pressure in hPa (0.1 hPa resolution).
func (l LPP) Barometer(ch uint8, hpa float64) LPP { return l.int(ch, 115, round(hpa*10), 2) }

// Illuminance appends an illuminance in lux.
func (l LPP) Illuminance(ch uint8, lux uint16) LPP { return l.int(ch, 101, int64(lux), 2) }

// DigitalInput appends a digital input.
func (l LPP) DigitalInput(ch uint8, v uint8) LPP { return l.int(ch, 0, int64(v), 1) }

// AnalogInput appends an analog input (0.01 resolution).
func (l LPP) AnalogInput(ch uint8, v float64) LPP { return l.int(ch, 2, round(v*100), 2) }

// GPS appends a position: degrees (0.0001°) and metres (0.01 m).
func (l LPP) GPS(ch uint8, lat, lon, alt float64) LPP {
	l = append(l, ch, 136)
	for _, v := range []int64{round(lat * 10000), round(lon * 10000), round(alt * 100)} {
		l = appendBE(l, v, 3)
	}
	return l
}

func (l LPP) int(ch, code uint8, v int64, size int) LPP {
	return appendBE(append(l, ch, code), v, size)
}

func appendBE(b []byte, v int64, size int) []byte {
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func round(f float64) int64 {
	if f < 0 {
		return int64(f - 0.5)
	}
	return int64(f + 0.5)
}
