package coap

import (
	"github.com/sitegate/sitegate/device/field"

	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// The examples of RFC 8949 Appendix A that the accepted subset covers,
// decoded to the value the RFC gives.
func TestCBORAppendixA(t *testing.T) {
	num := func(f float64) item { return item{kind: kindNumber, num: f} }
	text := func(s string) item { return item{kind: kindText, text: s} }
	tests := []struct {
		hex  string
		want item
	}{
		{"00", num(0)}, {"01", num(1)}, {"0a", num(10)}, {"17", num(23)}, {"1818", num(24)}, {"1819", num(25)},
		{"1864", num(100)}, {"1903e8", num(1000)}, {"1a000f4240", num(1000000)},
		{"1b000000e8d4a51000", num(1000000000000)}, {"1bffffffffffffffff", num(18446744073709551615)},
		{"20", num(-1)}, {"29", num(-10)}, {"3863", num(-100)}, {"3903e7", num(-1000)},
		{"f90000", num(0)}, {"f93c00", num(1)}, {"fb3ff199999999999a", num(1.1)}, {"f93e00", num(1.5)},
		{"f97bff", num(65504)}, {"fa47c35000", num(100000)}, {"fa7f7fffff", num(3.4028234663852886e+38)},
		{"fb7e37e43c8800759c", num(1.0e+300)}, {"f90001", num(5.960464477539063e-8)}, {"f90400", num(0.00006103515625)},
		{"f9c400", num(-4)}, {"fbc010666666666666", num(-4.1)},
		{"f97c00", num(math.Inf(1))}, {"f9fc00", num(math.Inf(-1))},
		{"f4", item{kind: kindBool}}, {"f5", item{kind: kindBool, b: true}}, {"f6", item{kind: kindNull}},
		{"c11a514b67b0", item{kind: kindNumber, num: 1363896240, epoch: true}},
		{"c1fb41d452d9ec200000", item{kind: kindNumber, num: 1363896240.5, epoch: true}},
		{"60", text("")}, {"6161", text("a")}, {"6449455446", text("IETF")}, {"62225c", text("\"\\")},
		{"62c3bc", text("ü")}, {"63e6b0b4", text("水")}, {"64f0908591", text("𐅑")},
		{"80", item{kind: kindArray, elems: []item{}}},
		{"83010203", item{kind: kindArray, elems: []item{num(1), num(2), num(3)}}},
		{"8301820203820405", item{kind: kindArray, elems: []item{num(1), {kind: kindArray, elems: []item{num(2), num(3)}}, {kind: kindArray, elems: []item{num(4), num(5)}}}}},
		{"a0", item{kind: kindMap, keys: []string{}, elems: []item{}}},
		{"a26161016162820203", item{kind: kindMap, keys: []string{"a", "b"}, elems: []item{num(1), {kind: kindArray, elems: []item{num(2), num(3)}}}}},
		{"826161a161626163", item{kind: kindArray, elems: []item{text("a"), {kind: kindMap, keys: []string{"b"}, elems: []item{text("c")}}}}},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		got, err := decodeCBOR(b)
		if err != nil {
			t.Errorf("%s: %v", tt.hex, err)
			continue
		}
		if !sameItem(got, tt.want) {
			t.Errorf("%s: got %+v want %+v", tt.hex, got, tt.want)
		}
	}
	// 25 items (a one-byte length).
	b, _ := hex.DecodeString("98190102030405060708090a0b0c0d0e0f101112131415161718181819")
	if got, err := decodeCBOR(b); err != nil || len(got.elems) != 25 || got.elems[24].num != 25 {
		t.Errorf("25 items: %v %+v", err, got)
	}
	// NaN.
	if got, err := decodeCBOR([]byte{0xf9, 0x7e, 0x00}); err != nil || !math.IsNaN(got.num) {
		t.Errorf("NaN: %v %v", err, got)
	}
}

func sameItem(a, b item) bool {
	if a.kind != b.kind || a.num != b.num || a.b != b.b || a.text != b.text || a.epoch != b.epoch ||
		len(a.keys) != len(b.keys) || len(a.elems) != len(b.elems) {
		return false
	}
	for i := range a.keys {
		if a.keys[i] != b.keys[i] {
			return false
		}
	}
	for i := range a.elems {
		if !sameItem(a.elems[i], b.elems[i]) {
			return false
		}
	}
	return true
}

// What the subset refuses, each with a message saying why.
func TestCBORRefused(t *testing.T) {
	tests := []struct{ hex, frag string }{
		{"", "unexpected end"},
		{"4401020304", "byte strings are not accepted"},
		{"5f42010243030405ff", "indefinite lengths"},
		{"7f657374726561646d696e67ff", "indefinite lengths"},
		{"9fff", "indefinite lengths"},
		{"f7", "simple value 23"},
		{"f0", "simple value 16"},
		{"f8ff", "simple value 255"},
		{"c074323031332d30332d32315432303a30343a30305a", "tag 0 is not accepted"},
		{"a201020304", "map keys must be text"},
		{"a2616101616102", "key \"a\" given twice"},
		{"0000", "1 bytes after the item"},
		{"1c", "reserved additional information 28"},
		{"19ff", "unexpected end"},
		{"7a7fffffff", "text of 2147483647 bytes with 0 left"},
		{"9b7fffffffffffffff", "array of"},
		{"bb7fffffffffffffff", "map of"},
		{"62c328", "not valid UTF-8"},
		{"c16161", "tag 1 must hold a number"},
		{"8181818181818101", "nested deeper than 4"},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		_, err := decodeCBOR(b)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.frag) {
			t.Errorf("%s: %v; want ...%s...", tt.hex, err, tt.frag)
		}
	}
}

// A readings body in both formats gives the same samples.
func TestInterpretJSONAndCBOR(t *testing.T) {
	js := `{"temperature": [{"v": 20.5, "t": 1764590000}, {"t": 1764590060.5, "v": 20.75}], "occupied": true, "co2": -3, "firmware": "1.4.2"}`
	// The same body in CBOR, written by hand from RFC 8949.
	cb, _ := hex.DecodeString("a4" +
		"6b74656d7065726174757265" + "82" +
		"a2" + "6176" + "f94d20" + "6174" + "c11a692d81b0" +
		"a2" + "6174" + "fb41da4b607b200000" + "6176" + "f94d30" +
		"686f63637570696564" + "f5" +
		"63636f32" + "22" +
		"686669726d77617265" + "65312e342e32")
	for name, decode := range map[string]func() (item, error){
		"json": func() (item, error) { return decodeJSON([]byte(js)) },
		"cbor": func() (item, error) { return decodeCBOR(cb) },
	} {
		root, err := decode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := interpret(root)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := []sample{
			{point: "temperature", value: field.Number(20.5), ts: time.Unix(1764590000, 0).UTC()},
			{point: "temperature", value: field.Number(20.75), ts: time.Unix(1764590060, 5e8).UTC()},
			{point: "occupied", value: field.Boolean(true)},
			{point: "co2", value: field.Number(-3)},
			{point: "firmware", value: field.Text("1.4.2")},
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %+v", name, got)
		}
		for i := range want {
			if got[i].point != want[i].point || got[i].value != want[i].value || !got[i].ts.Equal(want[i].ts) {
				t.Errorf("%s sample %d: got %+v want %+v", name, i, got[i], want[i])
			}
		}
	}
}

func TestInterpretRefused(t *testing.T) {
	tests := []struct{ body, frag string }{
		{`{"a": null}`, "want a number, a bool"},
		{`{"a": "` + strings.Repeat("x", 256) + `"}`, "at most 255 bytes"},
		{`{"a": {"t": 1}}`, "a sample needs v"},
		{`{"a": {"v": 1, "x": 2}}`, `unknown key "x"`},
		{`{"a": {"v": 1, "t": -5}}`, "t: want seconds"},
		{`{"a": {"v": 1, "t": "now"}}`, "t: want seconds"},
		{`{"a": [1]}`, "a[0]: want a sample"},
		{`{"": 1}`, "point name"},
		{`{"a": 1, "a": 2}`, "given twice"},
		{`{"a": 1e999}`, "out of range"},
		{`{"a": 1} {}`, "text after the value"},
		{`[[[[[[1]]]]]]`, "nested deeper"},
		{`{"a": [` + strings.Repeat(`{"v":1,"t":1},`, MaxSamples) + `{"v":1,"t":1}]}`, "at most 1024"},
	}
	for _, tt := range tests {
		root, err := decodeJSON([]byte(tt.body))
		if err == nil {
			_, err = interpret(root)
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.frag) {
			t.Errorf("%s: %v; want ...%s...", tt.body, err, tt.frag)
		}
	}
	// More samples than MaxSamples in a body that fits MaxBodySize.
	cb := append(cborHeadFor(5, 1), append([]byte{0x61, 'a'}, cborHeadFor(4, MaxSamples+1)...)...)
	for range MaxSamples + 1 {
		cb = append(cb, 0x01)
	}
	root, err := decodeCBOR(cb)
	if err == nil {
		_, err = interpret(root)
	}
	if err == nil || !strings.Contains(err.Error(), "a[0]: want a sample") {
		t.Errorf("many plain values: %v", err)
	}
}

func cborHeadFor(major byte, n int) []byte {
	if n < 24 {
		return []byte{major<<5 | byte(n)}
	}
	return []byte{major<<5 | 25, byte(n >> 8), byte(n)}
}

func FuzzDecodeCBOR(f *testing.F) {
	for _, h := range []string{"a26161016162820203", "a1617482a2617601617401a26176f5617402", "c11a514b67b0", "9fff", "f97e00", "bb7fffffffffffffff"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkBody(t, decodeCBOR, b) })
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a": 1}`, `{"t": [{"v": 1.5, "t": 1764590000}], "b": true}`, `[[[[1]]]]`, `{"a": {"v": null}}`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkBody(t, decodeJSON, b) })
}

// checkBody decodes and interprets any input: an error wraps ErrMalformed,
// never a panic, and the bounds hold.
func checkBody(t *testing.T, decode func([]byte) (item, error), b []byte) {
	it, err := decode(b)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error not wrapping ErrMalformed: %v", err)
		}
		return
	}
	if s, err := interpret(it); err == nil && len(s) > MaxSamples {
		t.Fatalf("%d samples", len(s))
	}
}
