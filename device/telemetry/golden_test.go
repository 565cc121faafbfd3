package telemetry

import (
	"encoding/hex"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenSeries is a small site: a meter with a float32 voltage and a
// counter in hundredths, an air-handling unit with a coil and a sensor
// that timed out.
var goldenSeries = []Series{
	{"meter", "voltage_l1"}, {"meter", "energy_import"},
	{"ahu-1", "running"}, {"ahu-1", "supply_temp"},
}

const t0 = 1_740_816_000_000 // 2025-03-01T08:00:00Z

func goldenFrame(d *Dictionary, sec int64) *Frame {
	t := t0 + sec*1000
	f := &Frame{Dict: d.ID()}
	f.Add(0, Sample{Time: t + 3, Value: Number(229.875 + float64(sec)*0.125)})
	f.Add(1, Sample{Time: t + 3, Value: Number(scaled(float64(123456+sec*2), 0.01))})
	f.Add(2, Sample{Time: t + 41, Value: Boolean(sec != 1)})
	f.Add(3, Sample{Time: t - 2000, Value: Number(21.5), Quality: QualityStale, Error: "timeout"})
	return f
}

var goldenTextSeries = []Series{{"ups-1", "sysname"}, {"ups-1", "battery_status"}, {"ups-1", "location"}}

func goldenTextFrame(d *Dictionary, sec int64) *Frame {
	t := t0 + sec*1000
	name := "ups-1.plant"
	if sec >= 2 {
		name = "UPS 1"
	}
	f := &Frame{Dict: d.ID()}
	f.Add(0, Sample{Time: t + 5, Value: Text(name)})
	f.Add(1, Sample{Time: t + 5, Value: Number(2)})
	f.Add(2, Sample{Time: t + 5, Value: Text("")})
	return f
}

func goldenBlock(tb testing.TB, d *Dictionary) *Block {
	b := &Block{Gateway: "gw-0001"}
	for i, seq := range []uint64{41, 44, 45} {
		if err := b.AddFrame(seq, d, goldenFrame(d, int64(i))); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

func mustDecodeBlock(tb testing.TB, b []byte) *Block {
	tb.Helper()
	got, err := DecodeBlock(b)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// checkGolden compares got with testdata/golden/name (hex, lines starting
// with # are comments), or rewrites it with -update.
func checkGolden(t *testing.T, name, comment string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		var sb strings.Builder
		for _, line := range strings.Split(comment, "\n") {
			sb.WriteString("# " + line + "\n")
		}
		h := hex.EncodeToString(got)
		for len(h) > 64 {
			sb.WriteString(h[:64] + "\n")
			h = h[64:]
		}
		sb.WriteString(h + "\n")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGolden(t, path)
	if string(got) != string(want) {
		t.Errorf("%s: the encoding changed (a format change needs a new version byte; run with -update only if that is intended)\n got %x\nwant %x", name, got, want)
	}
}

func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "#") {
			h.WriteString(strings.TrimSpace(line))
		}
	}
	b, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func TestGolden(t *testing.T) {
	d, err := NewDictionary(goldenSeries)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := d.MarshalBinary()
	checkGolden(t, "dictionary.hex", "meter/voltage_l1, meter/energy_import, ahu-1/running, ahu-1/supply_temp", db)
	// The id is SHA-256 of the canonical names: stable across versions.
	if got := d.ID().String(); got != "b8ab5192890426b7" {
		t.Errorf("dictionary id %s, want b8ab5192890426b7", got)
	}

	f := goldenFrame(d, 0)
	fb := mustFrame(t, f)
	checkGolden(t, "frame.hex", `one frame of that dictionary at 2025-03-01T08:00:00Z:
voltage 229.875 (float32), energy 1234.56 (123456 × 0.01), running true,
supply_temp 21.5 stale "timeout" from 2 s before`, fb)

	b := goldenBlock(t, d)
	bb := mustBlock(t, b)
	checkGolden(t, "block.hex", `three frames of that site (seqs 41, 44, 45), one second apart, gateway gw-0001`, bb)

	// Version 2: text values (SNMP's sysName), in a dictionary of their own.
	td, err := NewDictionary(goldenTextSeries)
	if err != nil {
		t.Fatal(err)
	}
	tf := goldenTextFrame(td, 0)
	tfb := mustFrame(t, tf)
	if tfb[0] != 0xF2 {
		t.Errorf("a frame with texts has format byte %#02x, want 0xf2", tfb[0])
	}
	checkGolden(t, "frame-text.hex", `version 2: one frame with text values at 2025-03-01T08:00:00Z:
ups-1/sysname "ups-1.plant", ups-1/battery_status 2, ups-1/location "" (empty)`, tfb)
	tb := &Block{Gateway: "gw-0001"}
	for i := range 3 {
		if err := tb.AddFrame(uint64(7+i), td, goldenTextFrame(td, int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	tbb := mustBlock(t, tb)
	checkGolden(t, "block-text.hex", `version 2: three frames of that dictionary (seqs 7, 8, 9), the name changing to "UPS 1" in the third`, tbb)
	for name, want := range map[string]any{"testdata/golden/frame-text.hex": tf, "testdata/golden/block-text.hex": tb} {
		in := readGolden(t, name)
		var diff string
		switch w := want.(type) {
		case *Frame:
			got, err := DecodeFrame(in)
			if err != nil {
				t.Fatal(err)
			}
			diff = diffFrames(normalFrame(w), got)
		case *Block:
			got, err := DecodeBlock(in)
			if err != nil {
				t.Fatal(err)
			}
			diff = diffBlocks(normalBlock(w), got)
		}
		if diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
	}

	// The stored bytes decode to the samples (the cloud's side of the
	// contract).
	gd, err := DecodeDictionary(readGolden(t, "testdata/golden/dictionary.hex"))
	if err != nil || gd.ID() != d.ID() {
		t.Fatalf("golden dictionary: %v", err)
	}
	gf, err := DecodeFrame(readGolden(t, "testdata/golden/frame.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffFrames(normalFrame(f), gf); diff != "" {
		t.Error("golden frame:", diff)
	}
	gb, err := DecodeBlock(readGolden(t, "testdata/golden/block.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffBlocks(normalBlock(b), gb); diff != "" {
		t.Error("golden block:", diff)
	}
}

func TestJSON(t *testing.T) {
	d, _ := NewDictionary(goldenSeries)
	b := goldenBlock(t, d)
	b.Add(Series{"meter", "frequency"}, Sample{Time: t0 + 120, Value: Number(math.NaN())}, Sample{Time: t0 + 1120, Value: Number(math.Inf(-1)), Quality: QualityError, Error: "exception 2: illegal data address"})
	enc := mustBlock(t, b)
	got, err := DecodeBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	j, err := got.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":45,"seqs":[41,44,45],"gateway":"gw-0001","readings":[` +
		`{"device":"ahu-1","point":"supply_temp","value":21.5,"quality":"stale","error":"timeout","ts":"2025-03-01T07:59:58Z"},` +
		`{"device":"ahu-1","point":"supply_temp","value":21.5,"quality":"stale","error":"timeout","ts":"2025-03-01T07:59:59Z"},` +
		`{"device":"ahu-1","point":"supply_temp","value":21.5,"quality":"stale","error":"timeout","ts":"2025-03-01T08:00:00Z"},` +
		`{"device":"meter","point":"voltage_l1","value":229.875,"quality":"good","ts":"2025-03-01T08:00:00.003Z"},` +
		`{"device":"meter","point":"energy_import","value":1234.56,"quality":"good","ts":"2025-03-01T08:00:00.003Z"},` +
		`{"device":"ahu-1","point":"running","value":true,"quality":"good","ts":"2025-03-01T08:00:00.041Z"},` +
		`{"device":"meter","point":"frequency","value":null,"quality":"good","ts":"2025-03-01T08:00:00.12Z"},` +
		`{"device":"meter","point":"voltage_l1","value":230,"quality":"good","ts":"2025-03-01T08:00:01.003Z"},` +
		`{"device":"meter","point":"energy_import","value":1234.58,"quality":"good","ts":"2025-03-01T08:00:01.003Z"},` +
		`{"device":"ahu-1","point":"running","value":false,"quality":"good","ts":"2025-03-01T08:00:01.041Z"},` +
		`{"device":"meter","point":"frequency","value":null,"quality":"error","error":"exception 2: illegal data address","ts":"2025-03-01T08:00:01.12Z"},` +
		`{"device":"meter","point":"voltage_l1","value":230.125,"quality":"good","ts":"2025-03-01T08:00:02.003Z"},` +
		`{"device":"meter","point":"energy_import","value":1234.6000000000001,"quality":"good","ts":"2025-03-01T08:00:02.003Z"},` +
		`{"device":"ahu-1","point":"running","value":true,"quality":"good","ts":"2025-03-01T08:00:02.041Z"}]}`
	if string(j) != want {
		t.Errorf("JSON\n got %s\nwant %s", j, want)
	}
	tb := &Block{Gateway: "gw"}
	tb.Add(Series{"ups-1", "sysname"}, Sample{Time: t0, Value: Text("ups \"1\"")}, Sample{Time: t0 + 1000, Value: Text("\xff")})
	j, err = mustDecodeBlock(t, mustBlock(t, tb)).JSON()
	if err != nil {
		t.Fatal(err)
	}
	want = `{"seq":0,"seqs":[],"gateway":"gw","readings":[` +
		`{"device":"ups-1","point":"sysname","value":"ups \"1\"","quality":"good","ts":"2025-03-01T08:00:00Z"},` +
		`{"device":"ups-1","point":"sysname","value":"\ufffd","quality":"good","ts":"2025-03-01T08:00:01Z"}]}`
	if string(j) != want {
		t.Errorf("JSON of texts\n got %s\nwant %s", j, want)
	}
	empty, err := (&Block{Gateway: "gw"}).JSON()
	if err != nil || string(empty) != `{"seq":0,"seqs":[],"gateway":"gw","readings":[]}` {
		t.Errorf("empty block: %s %v", empty, err)
	}
}

// TestCorruptInput cuts and flips valid encodings: every cut is an error,
// every flip an error or a decodable payload, never a panic.
func TestCorruptInput(t *testing.T) {
	d, _ := NewDictionary(goldenSeries)
	db, _ := d.MarshalBinary()
	r := rand.New(rand.NewPCG(9, 9))
	var e Encoder
	bigFrame, _ := e.AppendFrame(nil, randFrame(r, 60))
	if _, hr, err := readFrameHeader(bigFrame); err != nil || bigFrame[hr.off] != bodyFlate {
		t.Fatal("the big frame's body is not compressed")
	}
	inputs := map[string][]byte{
		"dictionary": db,
		"frame":      mustFrame(t, goldenFrame(d, 0)),
		"big frame":  bigFrame,
		"block":      mustBlock(t, goldenBlock(t, d)),
		"big block":  mustBlock(t, randBlock(r, 20)),
	}
	var dec Decoder
	decode := func(name string, b []byte) error {
		var err error
		switch {
		case strings.Contains(name, "frame"):
			_, err = dec.DecodeFrame(b)
		case strings.Contains(name, "block"):
			_, err = dec.DecodeBlock(b)
		default:
			_, err = dec.DecodeDictionary(b)
		}
		return err
	}
	for name, in := range inputs {
		if err := decode(name, in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Every cut and flip of the small inputs; of the big ones, the
		// first 200 bytes (header, groups, dictionary) and 200 more at
		// random (the fuzz targets do the rest).
		positions := make([]int, 0, len(in))
		for i := range len(in) {
			if len(in) < 400 || i < 200 || r.IntN(len(in)) < 200 {
				positions = append(positions, i)
			}
		}
		for _, n := range positions {
			err := decode(name, in[:n])
			if err == nil {
				t.Fatalf("%s cut to %d of %d bytes decodes", name, n, len(in))
			}
			decodeError(t, err)
		}
		for _, i := range positions {
			for _, x := range []byte{0x01, 0x80, 0xFF} {
				b := append([]byte(nil), in...)
				b[i] ^= x
				if err := decode(name, b); err == nil {
					t.Fatalf("%s with byte %d flipped by %#02x passes its checksum", name, i, x)
				}
				// With the checksum made right, the parser behind it
				// sees the damage.
				if i < len(b)-4 {
					if err := decode(name, resealed(b)); err != nil {
						decodeError(t, err)
					}
				}
			}
		}
		if err := decode(name, append(append([]byte(nil), in...), 0)); err == nil {
			t.Errorf("%s with a trailing byte decodes", name)
		}
	}
	// Wrong kinds of payload say so.
	for _, b := range [][]byte{[]byte(`{"seq":1,"gateway":"gw","readings":[]}`), {0xB3}, {0xF1}} {
		if _, err := DecodeBlock(b); err == nil || !strings.Contains(err.Error(), "not a telemetry block") {
			t.Errorf("%q as a block: %v", b, err)
		}
	}
	if _, err := DecodeFrame(inputs["block"]); err == nil || !strings.Contains(err.Error(), "not a frame") {
		t.Errorf("a block as a frame: %v", err)
	}
}

// TestHugeCounts: counts far beyond the input are refused before any
// allocation (the test would run out of memory otherwise).
func TestHugeCounts(t *testing.T) {
	frame := []byte{magicFrame, 1, 2, 3, 4, 5, 6, 7, 8, 0}
	frame = append(frame, 0xFF, 0xFF, 0x0F) // sample count 262143
	frame = append(frame, bodyPlain, 0xFF, 0xFF, 0x0F)
	if _, err := DecodeFrame(sealed(frame)); err == nil || !strings.Contains(err.Error(), "groups cannot fit") {
		t.Errorf("a frame of 262,143 groups in 3 bytes: %v", err)
	}
	bigCount := []byte{magicFrame, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}
	if _, err := DecodeFrame(sealed(bigCount)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("sample count 2^32: %v", err)
	}
	dict := []byte{magicDict, 0xFF, 0xFF, 0x03, dictFlate, 0xFF, 0xFF, 0xFF, 0x01, 0x03, 0x00}
	if _, err := DecodeDictionary(sealed(dict)); err == nil || !strings.Contains(err.Error(), "cannot come from") {
		t.Errorf("a dictionary of 4 MiB names from 2 bytes: %v", err)
	}
	block := []byte{magicBlock, 0, 0xFF, 0xFF, 0x03}
	if _, err := DecodeBlock(sealed(block)); err == nil || !strings.Contains(err.Error(), "seqs cannot fit") {
		t.Errorf("a block of 65535 seqs in 3 bytes: %v", err)
	}
}

// sealed appends a valid checksum to b.
func sealed(b []byte) []byte { return seal(append([]byte(nil), b...), 0) }

// resealed replaces the checksum at the end of b with a valid one.
func resealed(b []byte) []byte {
	if len(b) < 5 {
		return b
	}
	return sealed(b[:len(b)-4])
}
