package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// Workloads for the benchmarks. The site is 100 devices × 20
// float32 points polled every second; the values follow what `sitegate sim
// modbus` serves (device/modbus/sim/wave.go: waveFor picks a sine, ramp,
// counter or constant from a point's name and unit, the value is encoded
// as the point's type), and the times what the poller stamps
// (device/modbus/poller.go: the next cycle starts interval + up to 10 %
// later, so a device drifts by about 50 ms a cycle and a 1 s frame holds 0,
// 1 or 2 of its cycles). This package may not import the simulator, so the
// shapes are restated here.

type waveKind int

const (
	waveSine waveKind = iota
	waveRamp
	waveCounter
	waveConstant
)

type simWave struct {
	kind            waveKind
	base, amp, rate float64
	period, phase   float64 // seconds, fraction
	name, unit      string
}

func (w simWave) at(sec float64) float64 {
	cycles := 0.0
	if w.period > 0 {
		cycles = sec/w.period + w.phase
	}
	switch w.kind {
	case waveSine:
		return w.base + w.amp*math.Sin(2*math.Pi*cycles)
	case waveRamp:
		return w.base + w.amp*(cycles-math.Floor(cycles))
	case waveCounter:
		return w.base + w.rate*sec
	}
	return w.base
}

// meterPoints are 20 float32 points named and unit-ed like a power meter
// and plant sensors, with the motion waveFor gives each (address 2·i, as
// float32 points take two registers).
func meterPoints() []simWave {
	type p struct{ name, unit string }
	pts := []p{
		{"voltage_l1", "V"}, {"voltage_l2", "V"}, {"voltage_l3", "V"},
		{"current_l1", "A"}, {"current_l2", "A"}, {"current_l3", "A"},
		{"active_power_l1", "W"}, {"active_power_l2", "W"}, {"active_power_l3", "W"}, {"active_power_total", "W"},
		{"power_factor_total", ""}, {"frequency", "Hz"},
		{"energy_import", "kWh"}, {"energy_export", "kWh"},
		{"supply_temp", "degC"}, {"return_temp", "degC"}, {"humidity", "%"},
		{"fan_speed", "%"}, {"temp_setpoint", "degC"}, {"status_code", ""},
	}
	out := make([]simWave, len(pts))
	for i, pt := range pts {
		addr := 2 * i
		x := float64(addr) * 0.1373
		phase := x - math.Floor(x)
		w := simWave{kind: waveSine, base: 100, amp: 50, period: float64(60 + 15*(addr%5)), phase: phase, name: pt.name, unit: pt.unit}
		switch {
		case pt.name == "status_code":
			w = simWave{kind: waveConstant}
		case pt.unit == "kWh":
			w = simWave{kind: waveCounter, base: 1000, rate: 0.01}
		case pt.name == "fan_speed" || pt.name == "temp_setpoint":
			w = simWave{kind: waveRamp, base: 0, amp: 100, period: 120, phase: phase}
		case pt.unit == "V":
			w.base, w.amp = 230, 5
		case pt.unit == "A":
			w.base, w.amp = 12, 4
		case pt.unit == "W":
			w.base, w.amp = 4000, 1500
		case pt.unit == "Hz":
			w.base, w.amp = 50, 0.1
		case pt.unit == "degC":
			w.base, w.amp = 21, 2
		case pt.unit == "%":
			w.base, w.amp = 45, 10
		case pt.name == "power_factor_total":
			w.base, w.amp = 0.95, 0.03
		}
		w.name, w.unit = pt.name, pt.unit
		out[i] = w
	}
	return out
}

// workload is a site's readings over time.
type workload struct {
	name    string
	devices int
	points  []string
	value   func(r *rand.Rand, dev, point int, sec float64, state []float64) float64
}

// cycle is one device's poll: its time and the values of its points.
type cycle struct {
	dev  int
	time int64
	vals []float64
}

var epoch = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC).UnixMilli()

// run polls every device every second plus up to 10 % for secs seconds.
func (w workload) run(secs int) []cycle {
	r := rand.New(rand.NewPCG(42, uint64(len(w.name))))
	next := make([]int64, w.devices)
	state := make([]float64, w.devices*len(w.points))
	for d := range next {
		next[d] = epoch + r.Int64N(1000)
	}
	end := epoch + int64(secs)*1000
	var out []cycle
	for {
		d := 0
		for i := range next {
			if next[i] < next[d] {
				d = i
			}
		}
		t := next[d]
		if t >= end {
			break
		}
		c := cycle{dev: d, time: t, vals: make([]float64, len(w.points))}
		sec := float64(t-epoch) / 1000
		for p := range w.points {
			c.vals[p] = w.value(r, d, p, sec, state[d*len(w.points)+p:])
		}
		out = append(out, c)
		next[d] = t + 1000 + r.Int64N(101)
	}
	return out
}

func (w workload) series() []Series {
	var s []Series
	for d := range w.devices {
		for _, p := range w.points {
			s = append(s, Series{fmt.Sprintf("dev-%03d", d+1), p})
		}
	}
	return s
}

// frames cuts the cycles into commit windows, as group commit will.
func (w workload) frames(cycles []cycle, dict *Dictionary, commit int64) []*Frame {
	var out []*Frame
	var f *Frame
	var until int64
	for _, c := range cycles {
		if f == nil || c.time >= until {
			f = &Frame{Dict: dict.ID()}
			out = append(out, f)
			until = (c.time/commit + 1) * commit
		}
		for p, v := range c.vals {
			f.Series = append(f.Series, SeriesSamples{Index: c.dev*len(w.points) + p, Samples: []Sample{{Time: c.time, Value: Number(v)}}})
		}
	}
	return out
}

func workloads() []workload {
	meter := meterPoints()
	names := make([]string, len(meter))
	for i, m := range meter {
		names[i] = m.name
	}
	generic := make([]string, 20)
	for i := range generic {
		generic[i] = fmt.Sprintf("point_%02d", i)
	}
	return []workload{
		{
			// (a) float32 values, as `sitegate sim modbus` serves them.
			name: "sim-100x20-float32", devices: 100, points: names,
			value: func(_ *rand.Rand, dev, p int, sec float64, _ []float64) float64 {
				return float64(float32(meter[p].at(sec + float64(dev)*0.7)))
			},
		},
		{
			// (b) int16 × 0.1 °C: 21 ± 2 over half an hour, a little noise.
			name: "temperature-0.1", devices: 100, points: generic,
			value: func(r *rand.Rand, dev, p int, sec float64, _ []float64) float64 {
				v := 21 + 2*math.Sin(2*math.Pi*(sec/1800+float64(dev*20+p)/97)) + r.NormFloat64()*0.03
				return math.Round(v/0.1) * 0.1
			},
		},
		{
			// (c) uint32 × 0.01 kWh, counting a load of 20–50 kW.
			name: "energy-counter", devices: 100, points: generic,
			value: func(r *rand.Rand, dev, p int, sec float64, st []float64) float64 {
				if st[0] == 0 {
					st[0] = float64(1_000_000 + (dev*20+p)*1000) // kWh·100
				}
				kw := 35 + 15*math.Sin(2*math.Pi*sec/900)
				st[0] += kw / 3600 * 100 * (1 + r.Float64()*0.1)
				return math.Floor(st[0]) * 0.01
			},
		},
		{
			// (d) float32 with noise in every mantissa bit.
			name: "noisy-float32", devices: 100, points: generic,
			value: func(r *rand.Rand, dev, p int, sec float64, _ []float64) float64 {
				return float64(float32(230 + r.NormFloat64()))
			},
		},
	}
}

// jsonBytes is what today's telemetry costs: one outbox record per device
// cycle, published with "seq" (device/readings.go, cloudsync/drain.go).
func jsonBytes(w workload, cycles []cycle) int {
	type reading struct {
		Device  string          `json:"device"`
		Point   string          `json:"point"`
		Value   json.RawMessage `json:"value"`
		Quality string          `json:"quality"`
		TS      time.Time       `json:"ts"`
	}
	n := 0
	for i, c := range cycles {
		rs := make([]reading, len(c.vals))
		for p, v := range c.vals {
			rs[p] = reading{fmt.Sprintf("dev-%03d", c.dev+1), w.points[p], json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64)), "good", time.UnixMilli(c.time).UTC()}
		}
		b, _ := json.Marshal(struct {
			Seq      int       `json:"seq"`
			Gateway  string    `json:"gateway"`
			Readings []reading `json:"readings"`
		}{i + 1, "gw-0001", rs})
		n += len(b)
	}
	return n
}

// sizes encodes a workload as frames and as blocks of batch seconds.
type sizes struct {
	readings, frames, frameBytes, maxFrame, blocks, blockBytes, jsonBytes, dictBytes int
}

func measure(tb testing.TB, w workload, secs, batch int) sizes {
	cycles := w.run(secs)
	dict, err := NewDictionary(w.series())
	if err != nil {
		tb.Fatal(err)
	}
	frames := w.frames(cycles, dict, 1000)
	var s sizes
	var e Encoder
	var blk *Block
	flush := func() {
		if blk == nil {
			return
		}
		b, err := e.AppendBlock(nil, blk)
		if err != nil {
			tb.Fatal(err)
		}
		s.blocks++
		s.blockBytes += len(b)
		blk = nil
	}
	for i, f := range frames {
		enc, err := e.AppendFrame(nil, f)
		if err != nil {
			tb.Fatal(err)
		}
		s.frames++
		s.readings += f.Len()
		s.frameBytes += len(enc)
		s.maxFrame = max(s.maxFrame, len(enc))
		dec, err := DecodeFrame(enc)
		if err != nil {
			tb.Fatal(err)
		}
		if blk == nil {
			blk = &Block{Gateway: "gw-0001"}
		}
		if err := blk.AddFrame(uint64(1+3*i), dict, dec); err != nil {
			tb.Fatal(err)
		}
		if len(blk.Seqs) == batch {
			flush()
		}
	}
	flush()
	s.jsonBytes = jsonBytes(w, cycles)
	db, _ := dict.MarshalBinary()
	s.dictBytes = len(db)
	return s
}

// BenchmarkSize reports bytes per reading: frames (what the store keeps,
// 1 s group commits), blocks (telemetry/v2, 10 s batches) and today's JSON,
// over 60 s of each workload.
func BenchmarkSize(b *testing.B) {
	for _, w := range workloads() {
		b.Run(w.name, func(b *testing.B) {
			var s sizes
			for b.Loop() {
				s = measure(b, w, 60, 10)
			}
			b.ReportMetric(float64(s.frameBytes)/float64(s.readings), "frame-B/reading")
			b.ReportMetric(float64(s.maxFrame), "max-frame-B")
			b.ReportMetric(float64(s.blockBytes)/float64(s.readings), "block-B/reading")
			b.ReportMetric(float64(s.blockBytes)/float64(s.blocks), "B/block")
			b.ReportMetric(float64(s.jsonBytes)/float64(s.readings), "json-B/reading")
			b.ReportMetric(float64(s.dictBytes), "dict-B")
		})
	}
}

// BenchmarkFrame measures encoding and decoding the 1 s frames of the
// issue's site (about 1,900 readings each).
func BenchmarkFrame(b *testing.B) {
	w := workloads()[0]
	dict, _ := NewDictionary(w.series())
	frames := w.frames(w.run(20), dict, 1000)
	frames = frames[2 : len(frames)-2] // whole seconds only
	n := 0
	var enc [][]byte
	for _, f := range frames {
		n += f.Len()
		enc = append(enc, mustFrame(b, f))
	}
	for _, plain := range []bool{false, true} {
		name := "encode"
		if plain {
			name = "encode-uncompressed"
		}
		b.Run(name, func(b *testing.B) {
			e := Encoder{Uncompressed: plain}
			var buf []byte
			size := 0
			b.ReportAllocs()
			for b.Loop() {
				size = 0
				for _, f := range frames {
					buf, _ = e.AppendFrame(buf[:0], f)
					size += len(buf)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
			b.ReportMetric(float64(size)/float64(n), "B/reading")
		})
	}
	b.Run("decode", func(b *testing.B) {
		var d Decoder
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range enc {
				if _, err := d.DecodeFrame(p); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
}

// BenchmarkBlock measures a 10 s block of the site (about 19,000
// readings): built from decoded frames as the uplink will, encoded,
// decoded, and turned into JSON.
func BenchmarkBlock(b *testing.B) {
	w := workloads()[0]
	dict, _ := NewDictionary(w.series())
	frames := w.frames(w.run(12), dict, 1000)[1:11]
	var encFrames [][]byte
	for _, f := range frames {
		encFrames = append(encFrames, mustFrame(b, f))
	}
	var d Decoder
	build := func() *Block {
		blk := &Block{Gateway: "gw-0001"}
		for i, p := range encFrames {
			f, err := d.DecodeFrame(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := blk.AddFrame(uint64(i*3+1), dict, f); err != nil {
				b.Fatal(err)
			}
		}
		return blk
	}
	blk := build()
	n := blk.Len()
	enc := mustBlock(b, blk)
	b.Run("frames-to-block", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			build()
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("encode", func(b *testing.B) {
		var e Encoder
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = e.AppendBlock(buf[:0], blk)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.DecodeBlock(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := blk.JSON(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
}
