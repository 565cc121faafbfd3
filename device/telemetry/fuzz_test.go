package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// fixChecksum makes the checksum of most fuzz inputs right, so that the
// fuzzer explores the parser rather than the checksum; inputs whose last
// byte is odd keep theirs, so a wrong checksum is tried too.
func fixChecksum(data []byte) []byte {
	if len(data) < 5 || data[len(data)-1]&1 == 1 {
		return data
	}
	return resealed(data)
}

// decodeError checks that a decoder's error is one of the package's.
func decodeError(t *testing.T, err error) {
	t.Helper()
	for _, want := range []error{ErrTruncated, ErrCorrupt, ErrVersion, ErrTooLarge} {
		if errors.Is(err, want) {
			return
		}
	}
	t.Fatalf("error %q wraps none of the package's errors", err)
}

func frameSeeds(f *testing.F) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 11))
		fr := randFrame(r, 1+r.IntN(30))
		b, err := AppendFrame(nil, fr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		var e Encoder
		e.Uncompressed = true
		b, _ = e.AppendFrame(nil, fr)
		f.Add(b)
	}
	f.Add(mustFrame(f, &Frame{}))
	f.Add([]byte{magicFrame})
	f.Add([]byte{magicFrame2})
	f.Add([]byte{})
}

// FuzzDecodeFrame: any input decodes or fails with a package error, never
// a panic; what decodes re-encodes to the same frame.
func FuzzDecodeFrame(f *testing.F) {
	frameSeeds(f)
	var e Encoder // one DEFLATE state for the whole run: far more execs
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fixChecksum(data)
		var d Decoder
		fr, err := d.DecodeFrame(data)
		if err != nil {
			decodeError(t, err)
			return
		}
		h, err := ReadFrameHeader(data)
		if err != nil || h.Samples != fr.Len() || h.Dict != fr.Dict {
			t.Fatalf("header %+v %v for a frame of %d samples", h, err, fr.Len())
		}
		enc, err := e.AppendFrame(nil, fr)
		if err != nil {
			t.Fatal(err)
		}
		again, err := d.DecodeFrame(enc)
		if err != nil {
			t.Fatalf("re-encoded frame: %v", err)
		}
		if diff := diffFrames(fr, again); diff != "" {
			t.Fatalf("re-encoded frame: %s", diff)
		}
	})
}

func blockSeeds(f *testing.F) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 12))
		b, err := AppendBlock(nil, randBlock(r, 1+r.IntN(20)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(mustBlock(f, &Block{}))
	f.Add([]byte{magicBlock, 0, 0})
	f.Add([]byte{magicBlock2, 0, 0})
	f.Add([]byte(`{"seq":1}`))
}

// FuzzDecodeBlock: as FuzzDecodeFrame, for blocks, and JSON never fails
// on a decoded block with times inside year 0..9999.
func FuzzDecodeBlock(f *testing.F) {
	blockSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fixChecksum(data)
		var d Decoder
		b, err := d.DecodeBlock(data)
		if err != nil {
			decodeError(t, err)
			return
		}
		again, err := d.DecodeBlock(mustBlock(t, b))
		if err != nil {
			t.Fatalf("re-encoded block: %v", err)
		}
		if diff := diffBlocks(b, again); diff != "" {
			t.Fatalf("re-encoded block: %s", diff)
		}
		inRange := true
		for _, r := range b.Readings() {
			if r.Time < -62135596800000 || r.Time > 253402300799999 {
				inRange = false
			}
		}
		if _, err := b.JSON(); err != nil && inRange {
			t.Fatalf("JSON: %v", err)
		}
	})
}

// FuzzDecodeDictionary: as FuzzDecodeFrame, for dictionaries.
func FuzzDecodeDictionary(f *testing.F) {
	d, _ := NewDictionary([]Series{{"meter", "voltage_l1"}, {"meter", "voltage_l2"}, {"ahu", "t"}})
	b, _ := d.MarshalBinary()
	f.Add(b)
	var big []Series
	for i := range 300 {
		big = append(big, Series{fmt.Sprintf("dev-%d", i/10), fmt.Sprintf("p%d", i%10)})
	}
	d, _ = NewDictionary(big)
	b, _ = d.MarshalBinary()
	f.Add(b)
	f.Add([]byte{magicDict, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fixChecksum(data)
		d, err := DecodeDictionary(data)
		if err != nil {
			decodeError(t, err)
			return
		}
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeDictionary(b)
		if err != nil || again.ID() != d.ID() || again.Len() != d.Len() {
			t.Fatalf("re-encoded dictionary: %v", err)
		}
	})
}

// samplesFrom turns fuzz bytes into series of samples: per sample a
// series step, a time step, a kind, the value's 8 bytes, a quality and an
// error text.
func samplesFrom(data []byte) [][]Sample {
	var out [][]Sample
	var t int64
	for len(data) >= 13 {
		step, dt, kind := data[0], int64(int16(binary.LittleEndian.Uint16(data[1:]))), data[3]
		bits := binary.LittleEndian.Uint64(data[4:])
		q, e := data[12], data[12]>>4
		data = data[13:]
		if len(out) == 0 || step&3 == 0 {
			out = append(out, nil)
		}
		if step&0x80 != 0 {
			dt *= 1 << 40 // far apart
		}
		t += dt
		s := Sample{Time: t, Quality: Quality(q % 3), Error: errorTexts[int(e)%len(errorTexts)]}
		switch kind % 8 {
		case 0:
		case 1:
			s.Value = Boolean(bits&1 == 1)
		case 2:
			s.Value = Number(float64(math.Float32frombits(uint32(bits))))
		case 3:
			s.Value = Number(float64(int64(bits)>>(kind/8)) * 0.1)
		case 4:
			s.Value = Number(float64(int32(bits)) / 100)
		case 7:
			s.Value = Text(valueTexts[bits%uint64(len(valueTexts))])
		default:
			s.Value = Number(math.Float64frombits(bits))
		}
		last := len(out) - 1
		out[last] = append(out[last], s)
	}
	return out
}

// FuzzRoundTrip: samples built from fuzz bytes come back bit for bit from
// a frame and from a block.
func FuzzRoundTrip(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 5))
	for range 8 {
		b := make([]byte, 13*(1+r.IntN(40)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	var e Encoder
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		series := samplesFrom(data)
		fr := &Frame{Dict: DictID{9}}
		blk := &Block{Gateway: "gw", Seqs: []uint64{1, 5}}
		for i, ss := range series {
			fr.Series = append(fr.Series, SeriesSamples{Index: i * 3, Samples: ss})
			blk.Series = append(blk.Series, BlockSeries{Series{fmt.Sprint("d", i/4), fmt.Sprint("p", i)}, ss})
		}
		enc, err := e.AppendFrame(nil, fr)
		if err != nil {
			t.Fatal(err)
		}
		gotF, err := d.DecodeFrame(enc)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffFrames(normalFrame(fr), gotF); d != "" {
			t.Fatalf("frame: %s", d)
		}
		enc, err = e.AppendBlock(nil, blk)
		if err != nil {
			t.Fatal(err)
		}
		gotB, err := d.DecodeBlock(enc)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffBlocks(normalBlock(blk), gotB); d != "" {
			t.Fatalf("block: %s", d)
		}
	})
}
