package coap

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// decodeCBOR decodes a readings body in CBOR (RFC 8949), the subset a
// sensor needs: unsigned and negative integers, text strings, arrays and
// maps of definite length with text keys, false, true, null, half, single
// and double floats, and tag 1 (a time in seconds since 1970). Byte
// strings, indefinite lengths, other tags and simple values, duplicate map
// keys and bytes after the item are refused. Depth, items and lengths are
// bounded (MaxDepth, MaxItems); a length is checked against the bytes
// left before anything is allocated for it.
func decodeCBOR(b []byte) (item, error) {
	if len(b) > MaxBodySize {
		return item{}, fmt.Errorf("%w: %d bytes; at most %d", ErrMalformed, len(b), MaxBodySize)
	}
	d := cborDecoder{b: b}
	it, err := d.item(0)
	if err != nil {
		return item{}, err
	}
	if d.off != len(b) {
		return item{}, d.errorf("%d bytes after the item", len(b)-d.off)
	}
	return it, nil
}

type cborDecoder struct {
	b     []byte
	off   int
	items int
}

func (d *cborDecoder) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: cbor at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, a...))
}

// head reads an initial byte and its argument (RFC 8949 section 3).
func (d *cborDecoder) head() (major byte, ai byte, arg uint64, err error) {
	if d.off >= len(d.b) {
		return 0, 0, 0, d.errorf("unexpected end")
	}
	ib := d.b[d.off]
	d.off++
	major, ai = ib>>5, ib&0x1f
	n := 0
	switch {
	case ai < 24:
		return major, ai, uint64(ai), nil
	case ai == 24:
		n = 1
	case ai == 25:
		n = 2
	case ai == 26:
		n = 4
	case ai == 27:
		n = 8
	case ai == 31:
		return 0, 0, 0, d.errorf("indefinite lengths are not accepted")
	default:
		return 0, 0, 0, d.errorf("reserved additional information %d", ai)
	}
	if len(d.b)-d.off < n {
		return 0, 0, 0, d.errorf("unexpected end")
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, ai, arg, nil
}

func (d *cborDecoder) item(depth int) (item, error) {
	if depth > MaxDepth {
		return item{}, d.errorf("nested deeper than %d", MaxDepth)
	}
	if d.items++; d.items > MaxItems {
		return item{}, d.errorf("more than %d items", MaxItems)
	}
	start := d.off
	major, ai, arg, err := d.head()
	if err != nil {
		return item{}, err
	}
	switch major {
	case 0:
		return item{kind: kindNumber, num: float64(arg)}, nil
	case 1:
		return item{kind: kindNumber, num: -1 - float64(arg)}, nil
	case 2:
		d.off = start
		return item{}, d.errorf("byte strings are not accepted")
	case 3:
		if arg > uint64(len(d.b)-d.off) {
			return item{}, d.errorf("text of %d bytes with %d left", arg, len(d.b)-d.off)
		}
		s := d.b[d.off : d.off+int(arg)]
		if !utf8.Valid(s) {
			return item{}, d.errorf("text is not valid UTF-8")
		}
		d.off += int(arg)
		return item{kind: kindText, text: string(s)}, nil
	case 4:
		// Every element takes at least one byte.
		if arg > uint64(len(d.b)-d.off) {
			return item{}, d.errorf("array of %d items with %d bytes left", arg, len(d.b)-d.off)
		}
		it := item{kind: kindArray, elems: make([]item, 0, arg)}
		for range arg {
			e, err := d.item(depth + 1)
			if err != nil {
				return item{}, err
			}
			it.elems = append(it.elems, e)
		}
		return it, nil
	case 5:
		if arg > uint64(len(d.b)-d.off)/2 {
			return item{}, d.errorf("map of %d pairs with %d bytes left", arg, len(d.b)-d.off)
		}
		it := item{kind: kindMap, keys: make([]string, 0, arg), elems: make([]item, 0, arg)}
		for range arg {
			k, err := d.item(depth + 1)
			if err != nil {
				return item{}, err
			}
			if k.kind != kindText {
				return item{}, d.errorf("map keys must be text")
			}
			if slices.Contains(it.keys, k.text) {
				return item{}, d.errorf("key %q given twice", truncate(k.text))
			}
			v, err := d.item(depth + 1)
			if err != nil {
				return item{}, err
			}
			it.keys, it.elems = append(it.keys, k.text), append(it.elems, v)
		}
		return it, nil
	case 6:
		if arg != 1 {
			return item{}, d.errorf("tag %d is not accepted (only tag 1, a time)", arg)
		}
		v, err := d.item(depth + 1)
		if err != nil {
			return item{}, err
		}
		if v.kind != kindNumber || v.epoch {
			return item{}, d.errorf("tag 1 must hold a number")
		}
		v.epoch = true
		return v, nil
	}
	// Major type 7: simple values and floats.
	switch ai {
	case 20, 21:
		return item{kind: kindBool, b: ai == 21}, nil
	case 22:
		return item{kind: kindNull}, nil
	case 25:
		return item{kind: kindNumber, num: halfToFloat(uint16(arg))}, nil
	case 26:
		return item{kind: kindNumber, num: float64(math.Float32frombits(uint32(arg)))}, nil
	case 27:
		return item{kind: kindNumber, num: math.Float64frombits(arg)}, nil
	}
	return item{}, d.errorf("simple value %d is not accepted", arg)
}

// halfToFloat decodes an IEEE 754 half-precision float (RFC 8949
// Appendix D).
func halfToFloat(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		return -v
	}
	return v
}
