package telemetry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFrameRoundTripRandom(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 1))
		f := randFrame(r, 1+r.IntN(200))
		var e Encoder
		enc, err := e.AppendFrame(nil, f)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		got, err := DecodeFrame(enc)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if d := diffFrames(normalFrame(f), got); d != "" {
			t.Fatalf("seed %d: %s", seed, d)
		}
		h, err := ReadFrameHeader(enc)
		if err != nil || h.Dict != f.Dict || h.Samples != f.Len() {
			t.Fatalf("seed %d: header %+v, %v; want %d samples", seed, h, err, f.Len())
		}
		// The same encoder again gives the same bytes (no scratch leaks).
		again, _ := e.AppendFrame(nil, f)
		if string(again) != string(enc) {
			t.Fatalf("seed %d: a second encoding differs", seed)
		}
	}
}

func TestBlockRoundTripRandom(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 2))
		b := randBlock(r, 1+r.IntN(100))
		var e Encoder
		enc, err := e.AppendBlock(nil, b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		got, err := DecodeBlock(enc)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if d := diffBlocks(normalBlock(b), got); d != "" {
			t.Fatalf("seed %d: %s", seed, d)
		}
		again, _ := e.AppendBlock(nil, b)
		if string(again) != string(enc) {
			t.Fatalf("seed %d: a second encoding differs", seed)
		}
	}
}

// TestEveryValueKind puts each special value, quality and error through
// both codecs, alone and among others.
func TestEveryValueKind(t *testing.T) {
	var values []Value
	values = append(values, Value{}, Boolean(true), Boolean(false))
	for _, x := range specials {
		values = append(values, Number(x))
	}
	for _, q := range []Quality{QualityGood, QualityStale, QualityError} {
		for _, text := range errorTexts {
			for i, v := range values {
				s := Sample{Time: int64(i) * 1000, Value: v, Quality: q, Error: text}
				f := &Frame{Series: []SeriesSamples{{Index: 7, Samples: []Sample{s}}}}
				checkFrame(t, f)
				b := &Block{Series: []BlockSeries{{Series{"d", "p"}, []Sample{s}}}}
				checkBlock(t, b)
			}
		}
	}
	// All together in one series: mixed kinds in a block, one code per
	// sample in a frame.
	var all []Sample
	for i, v := range values {
		all = append(all, Sample{Time: int64(i), Value: v, Quality: Quality(i % 3), Error: errorTexts[i%len(errorTexts)]})
	}
	checkFrame(t, &Frame{Series: []SeriesSamples{{Index: 0, Samples: all}}})
	checkBlock(t, &Block{Series: []BlockSeries{{Series{"d", "p"}, all}}})
	// Each special number as a whole series (one number mode).
	for _, x := range specials {
		s := make([]Sample, 5)
		for i := range s {
			s[i] = Sample{Time: int64(i), Value: Number(x)}
		}
		s[2].Value = Number(x * 2)
		checkBlock(t, &Block{Series: []BlockSeries{{Series{"d", "p"}, s}}})
	}
}

func checkFrame(t *testing.T, f *Frame) {
	t.Helper()
	got, err := DecodeFrame(mustFrame(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffFrames(normalFrame(f), got); d != "" {
		t.Fatal(d)
	}
}

func checkBlock(t *testing.T, b *Block) {
	t.Helper()
	got, err := DecodeBlock(mustBlock(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffBlocks(normalBlock(b), got); d != "" {
		t.Fatal(d)
	}
}

func TestEmpty(t *testing.T) {
	checkFrame(t, &Frame{})
	checkFrame(t, &Frame{Series: []SeriesSamples{{Index: 3}}}) // a series without samples is left out
	checkBlock(t, &Block{})
	checkBlock(t, &Block{Gateway: "gw", Seqs: []uint64{math.MaxUint64}})
	checkBlock(t, &Block{Series: []BlockSeries{{Series: Series{"a", "b"}}}})
	enc := mustFrame(t, &Frame{})
	if len(enc) > 20 { // format, id, 3 zeros, checksum
		t.Errorf("an empty frame takes %d bytes", len(enc))
	}
}

func TestTimes(t *testing.T) {
	cases := map[string][]int64{
		"equal":      {5, 5, 5, 5},
		"backwards":  {5000, 4000, 3000, 1000, 2000},
		"far apart":  {math.MinInt64, math.MaxInt64, 0, math.MinInt64, -1, 1},
		"negative":   {-1000, -2000, -1, -5_000_000_000_000},
		"jitter":     {1000, 2003, 2999, 4100, 5000},
		"one sample": {1_700_000_000_123},
	}
	for name, times := range cases {
		t.Run(name, func(t *testing.T) {
			var ss []Sample
			for i, ts := range times {
				ss = append(ss, Sample{Time: ts, Value: Number(float64(i))})
			}
			checkFrame(t, &Frame{Series: []SeriesSamples{{Index: 1, Samples: ss}, {Index: 2, Samples: ss}, {Index: 9, Samples: ss[:1]}}})
			checkBlock(t, &Block{Series: []BlockSeries{{Series{"a", "x"}, ss}, {Series{"a", "y"}, ss}, {Series{"b", "x"}, ss[:1]}}})
		})
	}
}

func TestTenThousandSeries(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	f := &Frame{}
	b := &Block{Gateway: "gw"}
	for i := range 10_000 {
		s := randSample(r, 1_700_000_000_000+int64(i/20)*17)
		f.Series = append(f.Series, SeriesSamples{Index: i, Samples: []Sample{s}})
		b.Series = append(b.Series, BlockSeries{Series{fmt.Sprintf("dev-%d", i/20), fmt.Sprintf("p%d", i%20)}, []Sample{s, s}})
	}
	checkFrame(t, f)
	checkBlock(t, b)
}

func TestFrameMergesEntries(t *testing.T) {
	a := Sample{Time: 1, Value: Number(1)}
	c := Sample{Time: 2, Value: Number(2)}
	f := &Frame{}
	f.Add(4, a)
	f.Add(2, a)
	f.Add(4, c)
	got, err := DecodeFrame(mustFrame(t, f))
	if err != nil {
		t.Fatal(err)
	}
	want := &Frame{Series: []SeriesSamples{{2, []Sample{a}}, {4, []Sample{a, c}}}}
	if d := diffFrames(want, got); d != "" {
		t.Fatal(d)
	}
}

func TestEncoderRefuses(t *testing.T) {
	cases := []struct {
		name string
		f    *Frame
		b    *Block
		want error
	}{
		{"index", &Frame{Series: []SeriesSamples{{Index: MaxSeries, Samples: []Sample{{}}}}}, nil, ErrInvalid},
		{"negative index", &Frame{Series: []SeriesSamples{{Index: -1, Samples: []Sample{{}}}}}, nil, ErrInvalid},
		{"quality", &Frame{Series: []SeriesSamples{{Samples: []Sample{{Quality: 9}}}}}, nil, ErrInvalid},
		{"kind", &Frame{Series: []SeriesSamples{{Samples: []Sample{{Value: Value{Kind: 4}}}}}}, nil, ErrInvalid},
		{"too many", &Frame{Series: []SeriesSamples{{Samples: make([]Sample, MaxSamples+1)}}}, nil, ErrTooLarge},
		{"seqs", nil, &Block{Seqs: []uint64{3, 3}}, ErrInvalid},
		{"gateway", nil, &Block{Gateway: strings.Repeat("g", MaxGatewayLen+1)}, ErrTooLarge},
		{"duplicate series", nil, &Block{Series: []BlockSeries{{Series{"a", "b"}, []Sample{{}}}, {Series{"a", "b"}, []Sample{{}}}}}, ErrInvalid},
		{"long name", nil, &Block{Series: []BlockSeries{{Series{strings.Repeat("a", MaxNameLen+1), "b"}, []Sample{{}}}}}, ErrTooLarge},
		{"block quality", nil, &Block{Series: []BlockSeries{{Series{"a", "b"}, []Sample{{Quality: 3}}}}}, ErrInvalid},
	}
	for _, c := range cases {
		var err error
		if c.f != nil {
			_, err = AppendFrame(nil, c.f)
		} else {
			_, err = AppendBlock(nil, c.b)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestTruncateError(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	cut := TruncateError(long)
	if len(cut) != MaxErrorLen || cut != long[:MaxErrorLen] {
		t.Errorf("cut to %d bytes", len(cut))
	}
	odd := "x" + long
	if cut := TruncateError(odd); len(cut) != MaxErrorLen-1 || !strings.HasPrefix(odd, cut) {
		t.Errorf("cut inside a rune: %d bytes", len(cut))
	}
}

func TestDictionary(t *testing.T) {
	series := []Series{{"meter", "voltage_l1"}, {"meter", "voltage_l2"}, {"ahu-1", "supply_temp"}, {"", ""}, {"ahu-1", ""}}
	d, err := NewDictionary(series)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := d.MarshalBinary()
	got, err := DecodeDictionary(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != d.ID() || got.Len() != len(series) {
		t.Fatalf("decoded %s with %d series, want %s with %d", got.ID(), got.Len(), d.ID(), len(series))
	}
	for i, s := range series {
		if g, _ := got.Series(i); g != s {
			t.Errorf("series %d: %v, want %v", i, g, s)
		}
		if j, ok := got.Index(s); !ok || j != i {
			t.Errorf("index of %v: %d %v", s, j, ok)
		}
	}
	if _, ok := d.Series(len(series)); ok {
		t.Error("a series beyond the end")
	}
	// With keeps indexes and the id depends only on content.
	more, err := d.With(Series{"meter", "voltage_l1"}, Series{"new", "p"}, Series{"new", "p"})
	if err != nil || more.Len() != len(series)+1 {
		t.Fatalf("With: %v, %d series", err, more.Len())
	}
	if i, _ := more.Index(Series{"new", "p"}); i != len(series) {
		t.Errorf("new series at %d", i)
	}
	same, _ := NewDictionary(more.All())
	if same.ID() != more.ID() || same.ID() == d.ID() {
		t.Error("ids do not follow content")
	}
	if d2, _ := d.With(series...); d2 != d {
		t.Error("With of nothing new made a new dictionary")
	}
	id, err := ParseDictID(d.ID().String())
	if err != nil || id != d.ID() {
		t.Errorf("ParseDictID: %v %v", id, err)
	}
	// Large dictionaries are compressed, and come back.
	var big []Series
	for i := range 2000 {
		big = append(big, Series{fmt.Sprintf("device-%03d", i/20), fmt.Sprintf("point_%02d", i%20)})
	}
	bd, _ := NewDictionary(big)
	benc, _ := bd.MarshalBinary()
	if benc[3] != dictFlate { // magic, 2 bytes of count, mode
		t.Errorf("a 2,000-series dictionary is not compressed")
	}
	bg, err := DecodeDictionary(benc)
	if err != nil || bg.ID() != bd.ID() {
		t.Fatalf("large dictionary: %v", err)
	}
}

func TestAddFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var series []Series
	for i := range 60 {
		series = append(series, Series{fmt.Sprintf("dev-%d", i/20), fmt.Sprintf("p%d", i%20)})
	}
	d, _ := NewDictionary(series)
	blk := &Block{Gateway: "gw-1"}
	want := map[Series][]Sample{}
	for sec := range 10 {
		f := &Frame{Dict: d.ID()}
		for i := range series {
			if r.IntN(10) == 0 {
				continue // not read in this frame
			}
			s := randSample(r, int64(sec*1000+i/20))
			f.Add(i, s)
			want[series[i]] = append(want[series[i]], normalSample(s))
		}
		dec, err := DecodeFrame(mustFrame(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := blk.AddFrame(uint64(100+sec*3), d, dec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := DecodeBlock(mustBlock(t, blk))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Seqs) != 10 || got.Seqs[9] != 127 {
		t.Errorf("seqs %v", got.Seqs)
	}
	for _, s := range got.Series {
		if d := diffSamples(want[s.Series], s.Samples); d != "" {
			t.Errorf("%s: %s", s.Series, d)
		}
	}
	other, _ := NewDictionary(series[:3])
	if err := blk.AddFrame(1000, other, &Frame{Dict: d.ID()}); !errors.Is(err, ErrDictMismatch) {
		t.Errorf("another dictionary: %v", err)
	}
	if err := blk.AddFrame(127, d, &Frame{Dict: d.ID()}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an old seq: %v", err)
	}
	if err := blk.AddFrame(1000, d, &Frame{Dict: d.ID(), Series: []SeriesSamples{{Index: 60}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an index outside: %v", err)
	}
}

func TestQualityAndKindNames(t *testing.T) {
	for q := QualityGood; q <= maxQuality; q++ {
		p, err := ParseQuality(q.String())
		if err != nil || p != q {
			t.Errorf("%s: %v %v", q, p, err)
		}
	}
	if _, err := ParseQuality("bad"); err == nil {
		t.Error("ParseQuality accepted bad")
	}
	if Quality(7).String() != "quality(7)" || Quality(7).Valid() {
		t.Error("unknown quality")
	}
	for k := KindAbsent; k <= maxKind; k++ {
		p, err := ParseKind(k.String())
		if err != nil || p != k {
			t.Errorf("%s: %v %v", k, p, err)
		}
	}
	if _, err := ParseKind("string"); err == nil {
		t.Error("ParseKind accepted string")
	}
}

func TestDecimalCodes(t *testing.T) {
	// raw × scale is found with the multiplying formula, m / 10^p with the
	// dividing one; both in 1–3 bytes instead of 4 or 8.
	for _, c := range []struct {
		x    float64
		mul  bool
		p, m int64
	}{
		{21.3, false, 1, 213},
		{scaled(213, 0.1), false, 1, 213}, // happens to equal 213 / 10
		{scaled(3, 0.1), true, 1, 3},      // 0.30000000000000004
		{0.3, false, 1, 3},
		{-12.75, false, 2, -1275},
		{1e6, false, 0, 1e6},
		{scaled(123456, 0.001), false, 3, 123456},
		{scaled(35, 0.01), true, 2, 35}, // 0.35000000000000003
	} {
		d, m, ok := smallestDecimal(c.x)
		if !ok || d.mul != c.mul || int64(d.p) != c.p || m != c.m {
			t.Errorf("%v: %+v %d %v, want mul=%v p=%d m=%d", c.x, d, m, ok, c.mul, c.p, c.m)
		}
	}
	for _, x := range []float64{math.Copysign(0, -1), math.NaN(), math.Inf(1), 1e300, math.Pi, float64(float32(0.1))} {
		if d, m, ok := smallestDecimal(x); ok {
			t.Errorf("%v: decimal %+v %d", x, d, m)
		}
	}
}

func TestNarrow32(t *testing.T) {
	for _, x := range specials {
		u, ok := narrow32(x)
		if ok && math.Float64bits(widen32(u)) != math.Float64bits(x) {
			t.Errorf("%#016x narrowed to %#08x widens to %#016x", math.Float64bits(x), u, math.Float64bits(widen32(u)))
		}
	}
	// Every binary32 NaN payload survives.
	for _, u := range []uint32{0x7FC00000, 0x7F800001, 0xFFC00001, 0x7FBFFFFF} {
		x := widen32(u)
		back, ok := narrow32(x)
		if !ok || back != u {
			t.Errorf("%#08x → %#016x → %#08x %v", u, math.Float64bits(x), back, ok)
		}
	}
	if _, ok := narrow32(0.1); ok {
		t.Error("0.1 is not a binary32")
	}
}

// TestSeqCodes puts edge sequences through the block's integer code,
// including a residual of 2^64−1 in an order-0 code (65 bits of q+1).
func TestSeqCodes(t *testing.T) {
	cases := [][]int64{
		{0},
		{math.MinInt64},
		{7, 7, 7, 7},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, math.MinInt64},
		{0, math.MaxInt64, math.MinInt64, 0, -1, math.MaxInt64},
		{1000, 2000, 3000, 4000, 5001},
		{-5, 3, -5, 3, -5},
	}
	for _, v := range cases {
		for _, ref := range []int64{0, math.MaxInt64, math.MinInt64} {
			var w bitWriter
			writeSeq(&w, v, ref)
			w.bits(0b101, 3) // a marker: the reader must stop exactly at it
			r := &bitReader{b: w.finish()}
			got := make([]int64, len(v))
			if err := readSeq(r, got, ref); err != nil {
				t.Fatalf("%v ref %d: %v", v, ref, err)
			}
			if mark, err := r.bits(3, "marker"); err != nil || mark != 0b101 {
				t.Fatalf("%v ref %d: read past the sequence", v, ref)
			}
			for i := range v {
				if got[i] != v[i] {
					t.Fatalf("%v ref %d: got %v", v, ref, got)
				}
			}
		}
	}
	for _, u := range []uint64{0, 1, 2, 1<<63 - 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64} {
		for _, k := range []uint{0, 1, 7, 63} {
			var w bitWriter
			w.expGolomb(u, k)
			if w.len() != expGolombLen(u, k) {
				t.Errorf("expGolomb(%d, %d) wrote %d bits, expGolombLen says %d", u, k, w.len(), expGolombLen(u, k))
			}
			r := &bitReader{b: w.finish()}
			if got, err := r.expGolomb(k, "v"); err != nil || got != u {
				t.Errorf("expGolomb(%d, %d) read back %d, %v", u, k, got, err)
			}
		}
	}
}

func TestFrameAddMergesConsecutive(t *testing.T) {
	buf := make([]Sample, 1, 4)
	buf[0] = Sample{Time: 1}
	f := &Frame{}
	f.Add(3, buf...)
	f.Add(3, Sample{Time: 2})
	if len(f.Series) != 1 || len(f.Series[0].Samples) != 2 {
		t.Fatalf("entries %+v", f.Series)
	}
	if buf[:2][1].Time != 0 {
		t.Error("Add wrote into the caller's array")
	}
}

func TestQualityText(t *testing.T) {
	var q Quality
	if err := q.UnmarshalText([]byte("stale")); err != nil || q != QualityStale {
		t.Errorf("stale: %v %v", q, err)
	}
	if err := q.UnmarshalText([]byte("fine")); err == nil {
		t.Error("fine accepted")
	}
	if b, err := QualityError.MarshalText(); err != nil || string(b) != "error" {
		t.Errorf("error: %s %v", b, err)
	}
	if _, err := Quality(5).MarshalText(); !errors.Is(err, ErrInvalid) {
		t.Errorf("quality 5: %v", err)
	}
	if Kind(9).String() != "kind(9)" {
		t.Error("unknown kind")
	}
}
