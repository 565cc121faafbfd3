package telemetry

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// specials are the floats a codec gets wrong first.
var specials = []float64{
	0, math.Copysign(0, -1), 1, -1, math.Inf(1), math.Inf(-1),
	math.NaN(),
	math.Float64frombits(0x7FF8000000000001), // quiet NaN, low payload (not binary32)
	math.Float64frombits(0xFFF8000020000000), // negative NaN with a binary32 payload
	math.Float64frombits(0x7FF0000000000001), // signalling NaN
	math.Float64frombits(0x7FF4000000000000), // signalling NaN, binary32 payload
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
	math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
	1 << 53, -(1 << 53), 1<<53 + 2, 1 << 62, 0.1, 0.3, scaled(213, 0.1), 21.3, scaled(3, 0.1), scaled(35, 0.01),
	float64(float32(230.1234)), 1e-300, 123456789.123,
}

// scaled computes raw × scale at run time, as the field layer does (a
// constant expression would be exact).
func scaled(raw, scale float64) float64 { return raw * scale }

// randValue draws from every kind and every compact form.
func randValue(r *rand.Rand) Value {
	switch r.IntN(13) {
	case 0:
		return Value{}
	case 1:
		return Boolean(r.IntN(2) == 0)
	case 11:
		return Text(valueTexts[r.IntN(len(valueTexts))])
	case 2:
		return Number(specials[r.IntN(len(specials))])
	case 3:
		return Number(math.Float64frombits(r.Uint64())) // anything, NaNs included
	case 4:
		return Number(float64(math.Float32frombits(r.Uint32())))
	case 5:
		return Number(float64(r.Int64N(2000) - 1000)) // integers
	case 6:
		return Number(float64(r.Int64N(100000)) * 0.1) // raw × scale
	case 7:
		return Number(float64(r.Int64N(100000)) / 100) // human decimals
	case 8:
		return Number(float64(r.Int64()>>r.IntN(64)) * 0.001)
	case 9:
		return Number(r.NormFloat64() * 1000)
	default:
		return Number(float64(float32(230 + r.NormFloat64())))
	}
}

// valueTexts: empty, ASCII, UTF-8, bytes that are not UTF-8, and one
// longer than the bound (cut by the encoders).
var valueTexts = []string{"", "ups-1", "Linux gw 6.1.0 #1 SMP", "Kälteanlage Süd", "\x00\xff\xfe", strings.Repeat("ü", 200)}

var errorTexts = []string{"", "timeout", "exception 2: illegal data address", "connection refused", strings.Repeat("é", 150)}

func randSample(r *rand.Rand, t int64) Sample {
	s := Sample{Time: t, Value: randValue(r)}
	if r.IntN(4) == 0 {
		s.Quality = Quality(r.IntN(int(maxQuality) + 1))
		s.Error = errorTexts[r.IntN(len(errorTexts))]
	}
	return s
}

// randTimes draws a sample time sequence: regular, jittered, equal,
// backwards, far apart.
func randTimes(r *rand.Rand, n int) []int64 {
	t := make([]int64, n)
	start := int64(1_700_000_000_000) + r.Int64N(1_000_000)
	switch r.IntN(6) {
	case 0:
		for i := range t {
			t[i] = start + int64(i)*1000
		}
	case 1:
		for i := range t {
			t[i] = start + int64(i)*1000 + r.Int64N(100)
		}
	case 2:
		for i := range t {
			t[i] = start
		}
	case 3:
		for i := range t {
			t[i] = start - int64(i)*r.Int64N(5000)
		}
	case 4:
		for i := range t {
			t[i] = int64(r.Uint64())
		}
	default:
		for i := range t {
			t[i] = []int64{math.MinInt64, math.MaxInt64, 0, -1, start}[r.IntN(5)]
		}
	}
	return t
}

// randFrame makes a frame of up to nseries series; series of a "device"
// share their times, as a poll cycle's do.
func randFrame(r *rand.Rand, nseries int) *Frame {
	f := &Frame{Dict: DictID{1, 2, 3, 4, 5, 6, 7, 8}}
	idx := r.IntN(10)
	for idx < MaxSeries && len(f.Series) < nseries {
		k := 1 + r.IntN(3)
		if r.IntN(5) == 0 {
			k = r.IntN(12)
		}
		times := randTimes(r, k)
		for range 1 + r.IntN(20) {
			ss := SeriesSamples{Index: idx}
			for _, t := range times {
				ss.Samples = append(ss.Samples, randSample(r, t))
			}
			f.Series = append(f.Series, ss)
			idx += 1 + r.IntN(2)*r.IntN(50)
			if idx >= MaxSeries {
				break
			}
		}
	}
	r.Shuffle(len(f.Series), func(i, j int) {
		if r.IntN(8) == 0 {
			f.Series[i], f.Series[j] = f.Series[j], f.Series[i]
		}
	})
	return f
}

// normalFrame is what a frame decodes to: non-empty series in index
// order, entries of one series merged, error texts cut.
func normalFrame(f *Frame) *Frame {
	out := &Frame{Dict: f.Dict}
	byIndex := map[int]int{}
	for _, s := range f.Series {
		if len(s.Samples) == 0 {
			continue
		}
		i, ok := byIndex[s.Index]
		if !ok {
			i = len(out.Series)
			byIndex[s.Index] = i
			out.Series = append(out.Series, SeriesSamples{Index: s.Index})
		}
		for _, x := range s.Samples {
			out.Series[i].Samples = append(out.Series[i].Samples, normalSample(x))
		}
	}
	slices.SortFunc(out.Series, func(a, b SeriesSamples) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

func normalSample(x Sample) Sample {
	x.Error = TruncateError(x.Error)
	switch x.Value.Kind {
	case KindAbsent:
		x.Value = Value{}
	case KindNumber:
		x.Value = Number(x.Value.Num)
	case KindBool:
		x.Value = Boolean(x.Value.Bool)
	case KindText:
		x.Value = Text(TruncateText(x.Value.Text))
	}
	return x
}

func diffFrames(want, got *Frame) string {
	if want.Dict != got.Dict {
		return fmt.Sprintf("dictionary %s, want %s", got.Dict, want.Dict)
	}
	if len(want.Series) != len(got.Series) {
		return fmt.Sprintf("%d series, want %d", len(got.Series), len(want.Series))
	}
	for i := range want.Series {
		w, g := want.Series[i], got.Series[i]
		if w.Index != g.Index {
			return fmt.Sprintf("entry %d: series %d, want %d", i, g.Index, w.Index)
		}
		if d := diffSamples(w.Samples, g.Samples); d != "" {
			return fmt.Sprintf("series %d: %s", w.Index, d)
		}
	}
	return ""
}

func diffSamples(want, got []Sample) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d samples, want %d", len(got), len(want))
	}
	for j := range want {
		if !want[j].Equal(got[j]) {
			return fmt.Sprintf("sample %d: %s, want %s", j, fmtSample(got[j]), fmtSample(want[j]))
		}
	}
	return ""
}

func fmtSample(s Sample) string {
	v := s.Value.Kind.String()
	switch s.Value.Kind {
	case KindNumber:
		v = fmt.Sprintf("%v (%#016x)", s.Value.Num, math.Float64bits(s.Value.Num))
	case KindBool:
		v = fmt.Sprint(s.Value.Bool)
	case KindText:
		v = fmt.Sprintf("%q", s.Value.Text)
	}
	return fmt.Sprintf("{t=%d %s %s %q}", s.Time, v, s.Quality, s.Error)
}

// randBlock makes a block of up to nseries series.
func randBlock(r *rand.Rand, nseries int) *Block {
	b := &Block{Gateway: fmt.Sprintf("gw-%d", r.IntN(1000))}
	seq := r.Uint64N(1 << 40)
	for range r.IntN(12) {
		b.Seqs = append(b.Seqs, seq)
		seq += 1 + r.Uint64N(3)*r.Uint64N(1000)
	}
	for len(b.Series) < nseries {
		k := 1 + r.IntN(12)
		if r.IntN(6) == 0 {
			k = r.IntN(40)
		}
		times := randTimes(r, k)
		dev := fmt.Sprintf("device-%03d", len(b.Series))
		for p := range 1 + r.IntN(20) {
			s := BlockSeries{Series: Series{dev, fmt.Sprintf("point_%d", p)}}
			shape := r.IntN(7)
			for j, t := range times {
				s.Samples = append(s.Samples, shapedSample(r, shape, j, t))
			}
			b.Series = append(b.Series, s)
		}
	}
	return b
}

// shapedSample makes series that stay in one form (so the block's
// per-series modes are exercised) or mix them.
func shapedSample(r *rand.Rand, shape, j int, t int64) Sample {
	s := Sample{Time: t}
	switch shape {
	case 0:
		s.Value = Number(float64(float32(21 + float64(j)*0.013 + r.Float64())))
	case 1:
		s.Value = Number(float64(1000+j*7+r.IntN(3)) * 0.01)
	case 2:
		s.Value = Boolean(r.IntN(5) == 0)
	case 3:
		s.Value = Number(math.Float64frombits(r.Uint64()))
	case 4:
		// A name that rarely changes, as SNMP's sysName.
		s.Value = Text(valueTexts[1+j/8%3])
	default:
		s = randSample(r, t)
	}
	if r.IntN(10) == 0 {
		s.Quality, s.Error = QualityStale, "timeout"
	}
	return s
}

func normalBlock(b *Block) *Block {
	out := &Block{Gateway: b.Gateway, Seqs: slices.Clone(b.Seqs)}
	if out.Seqs == nil {
		out.Seqs = []uint64{}
	}
	for _, s := range b.Series {
		if len(s.Samples) == 0 {
			continue
		}
		ns := BlockSeries{Series: s.Series}
		for _, x := range s.Samples {
			ns.Samples = append(ns.Samples, normalSample(x))
		}
		out.Series = append(out.Series, ns)
	}
	return out
}

func diffBlocks(want, got *Block) string {
	if want.Gateway != got.Gateway {
		return fmt.Sprintf("gateway %q, want %q", got.Gateway, want.Gateway)
	}
	if !slices.Equal(want.Seqs, got.Seqs) && (len(want.Seqs) != 0 || len(got.Seqs) != 0) {
		return fmt.Sprintf("seqs %v, want %v", got.Seqs, want.Seqs)
	}
	if len(want.Series) != len(got.Series) {
		return fmt.Sprintf("%d series, want %d", len(got.Series), len(want.Series))
	}
	for i := range want.Series {
		w, g := want.Series[i], got.Series[i]
		if w.Series != g.Series {
			return fmt.Sprintf("series %d: %s, want %s", i, g.Series, w.Series)
		}
		if d := diffSamples(w.Samples, g.Samples); d != "" {
			return fmt.Sprintf("series %d (%s): %s", i, w.Series, d)
		}
	}
	return ""
}

func mustFrame(tb testing.TB, f *Frame) []byte {
	tb.Helper()
	b, err := AppendFrame(nil, f)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustBlock(tb testing.TB, b *Block) []byte {
	tb.Helper()
	p, err := AppendBlock(nil, b)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
