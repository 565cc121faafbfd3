package modbus

import (
	"math"
	"slices"
	"testing"

	"github.com/sitegate/sitegate/device"
)

// FuzzDecodeRegisters feeds arbitrary register payloads, types and orders
// (including invalid ones) to the decoder. It must never panic, and a value
// it decodes must encode back to the same registers, except where the
// representation cannot: NaN payloads (float64 conversion may quiet them)
// and 64-bit integers from ±2^53 on (float64 has 53 bits of mantissa).
func FuzzDecodeRegisters(f *testing.F) {
	for _, g := range goldens {
		b := make([]byte, 0, 2*len(g.words))
		for _, w := range g.words {
			b = append(b, byte(w>>8), byte(w))
		}
		f.Add(b, uint8(g.typ), uint8(g.order))
	}
	f.Add([]byte{0x7F, 0xC0, 0x00, 0x01}, uint8(device.TypeFloat32), uint8(0))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, uint8(device.TypeUint64), uint8(0))
	f.Add([]byte{1}, uint8(device.TypeBool), uint8(7))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xDF}, uint8(device.TypeInt64), uint8(device.OrderCDAB)) // -(2^53+1)
	f.Fuzz(func(t *testing.T, data []byte, typ, order uint8) {
		words := WordsFromBytes(data)
		dt := device.DataType(typ & 0x0F) // 0..15: a few invalid types too
		o := device.ByteOrder(order & 0x07)
		// Usually trim to the type's size so that decoding succeeds and the
		// round trip is exercised; the high bit keeps the length as it is.
		if typ&0x80 == 0 && len(words) > dt.Registers() {
			words = words[:dt.Registers()]
		}
		_ = DecodeBits(data, int(order)*3)

		v, err := DecodeRegisters(words, dt, o)
		if err != nil {
			return
		}
		if math.IsNaN(v) {
			return
		}
		// At ±2^53 and beyond, float64 has no room for every integer: a
		// decoded -(2^53+1) is -2^53.
		if (dt == device.TypeInt64 || dt == device.TypeUint64) && math.Abs(v) >= 1<<53 {
			return
		}
		back, err := EncodeRegisters(v, dt, o)
		if err != nil {
			t.Fatalf("encode(decode(%04X)) as %s %s = %v: %v", words, dt, o, v, err)
		}
		if !slices.Equal(back, words) {
			t.Fatalf("encode(decode(%04X)) as %s %s = %04X (value %v)", words, dt, o, back, v)
		}
	})
}
