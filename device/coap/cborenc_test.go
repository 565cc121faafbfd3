package coap_test

import (
	"encoding/binary"
	"math"
)

// A test-only CBOR encoder for the bodies the tests send: its bytes are
// checked against RFC 8949 Appendix A in cbor_test.go (the decoder's own
// goldens) and against what the server decodes.

type kv struct {
	k string
	v any
}

type epoch float64 // tag 1

func cborHead(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n <= math.MaxUint8:
		return []byte{major<<5 | 24, byte(n)}
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
	}
	return binary.BigEndian.AppendUint64([]byte{major<<5 | 27}, n)
}

func cborEncode(v any) []byte {
	switch v := v.(type) {
	case int:
		if v < 0 {
			return cborHead(1, uint64(-1-v))
		}
		return cborHead(0, uint64(v))
	case float64:
		return binary.BigEndian.AppendUint64([]byte{0xfb}, math.Float64bits(v))
	case bool:
		if v {
			return []byte{0xf5}
		}
		return []byte{0xf4}
	case string:
		return append(cborHead(3, uint64(len(v))), v...)
	case epoch:
		return append([]byte{0xc1}, cborEncode(float64(v))...)
	case []any:
		out := cborHead(4, uint64(len(v)))
		for _, e := range v {
			out = append(out, cborEncode(e)...)
		}
		return out
	case []kv:
		out := cborHead(5, uint64(len(v)))
		for _, p := range v {
			out = append(out, cborEncode(p.k)...)
			out = append(out, cborEncode(p.v)...)
		}
		return out
	}
	panic("cborEncode: unsupported type")
}
