package payload

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// FuzzCayenne decodes arbitrary payloads: a result or an error, never a
// panic, and never values together with an error.
func FuzzCayenne(f *testing.F) {
	f.Add([]byte{3, 0x67, 1, 0x10, 5, 0x67, 0, 0xff})
	f.Add([]byte{1, 0x88, 6, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0, 3, 0xe8})
	f.Add([]byte{9, 0x71, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := CayenneLPP{}.Decode(1, b)
		if err != nil && v != nil {
			t.Fatal("values with an error")
		}
	})
}

// FuzzDeclarative builds a codec from fuzzed field definitions and decodes
// a fuzzed payload with it when it validates.
func FuzzDeclarative(f *testing.F) {
	f.Add([]byte{0, 0, 2, 0, 0, 0, 0, 0, 1, 3, 1, 0xf0, 0, 0, 0}, []byte{0xf8, 0x30, 0x5a, 0xe4})
	f.Add([]byte{200, 0, 7, 1, 0, 0, 0, 1}, []byte{})
	f.Fuzz(func(t *testing.T, def, payload []byte) {
		var fields []Field
		for i := 0; i+8 <= len(def) && len(fields) < MaxFields+2; i += 8 {
			fields = append(fields, Field{
				Name:  string(rune('a' + len(fields)%26)),
				Byte:  int(int8(def[i])) + int(def[i+1]),
				Type:  FieldType(def[i+2] % 9),
				Order: ByteOrder(def[i+3] % 3),
				Mask:  binary.LittleEndian.Uint32(def[i+4:]),
				Scale: float64(def[i+1]) / 7,
			})
		}
		c, err := NewDeclarative("fuzz", fields)
		if err != nil {
			return
		}
		v, err := c.Decode(1, payload)
		if err == nil && len(v) != len(fields) {
			t.Fatalf("%d values for %d fields", len(v), len(fields))
		}
	})
}

// FuzzDownlink encodes fuzzed values with fuzzed downlink definitions that
// validate: a payload of the type's size that decodes back to the value
// (within the rounding of the type), or ErrRange; never a panic.
func FuzzDownlink(f *testing.F) {
	f.Add(uint8(3), uint8(0), 0.1, 0.0, 21.5)
	f.Add(uint8(7), uint8(1), 1.0, -40.0, 1e39)
	f.Add(uint8(6), uint8(0), 0.0, 0.0, -1.0)
	f.Fuzz(func(t *testing.T, typ, order uint8, scale, offset, v float64) {
		d := Downlink{Name: "x", FPort: 1, Type: FieldType(typ % 9), Order: ByteOrder(order % 3), Scale: scale, Offset: offset}
		if ValidateDownlinks([]Downlink{d}) != nil {
			return
		}
		b, err := d.Encode(v)
		if err != nil {
			if !errors.Is(err, ErrRange) {
				t.Fatalf("%+v of %v: %v", d, v, err)
			}
			return
		}
		if len(b) != d.Type.Size() {
			t.Fatalf("%+v of %v: %d bytes", d, v, len(b))
		}
		c, err := NewDeclarative("c", []Field{{Name: "x", Type: d.Type, Order: d.Order, Scale: d.Scale, Offset: d.Offset}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(1, b)
		if err != nil {
			t.Fatal(err)
		}
		s := d.Scale
		if s == 0 {
			s = 1
		}
		// Integers round to the scale; float32 keeps 24 bits of the raw
		// value; the float64 arithmetic adds its own rounding.
		mag := math.Abs(v) + math.Abs(d.Offset)
		tol := math.Abs(s)/2 + 1e-9*mag
		if d.Type == Float32 {
			tol = 1e-6*mag + 1e-30
		}
		if diff := math.Abs(got[0].Value - v); !(diff <= tol) && !math.IsInf(got[0].Value, 0) {
			t.Fatalf("%+v: %v encodes to % x, decodes to %v", d, v, b, got[0].Value)
		}
	})
}
