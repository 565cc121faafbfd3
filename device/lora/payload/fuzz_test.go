package payload

import (
	"encoding/binary"
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
