package coap

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/sitegate/sitegate/device/field"
)

// Bounds of a readings body, whatever its format.
const (
	// MaxBodySize bounds a request body: one DTLS record of a 1280-byte
	// IPv6 path carries it whole, so the server never reassembles blocks.
	MaxBodySize = 1024
	// MaxDepth bounds the nesting of a body: a map of points, a point's
	// array of samples, a sample's map, a tagged time.
	MaxDepth = 4
	// MaxItems bounds the data items of one body (CBOR items, JSON
	// values), so that a small body cannot cost much to decode.
	MaxItems = 1024
	// MaxSamples bounds the readings of one body.
	MaxSamples = 256
	// MaxPointName bounds a point name, as the site file does.
	MaxPointName = 64
)

// ErrMalformed means a body is not what POST /v1/readings accepts; the
// wrapping error says what was wrong and where.
var ErrMalformed = errors.New("malformed body")

// kind is the kind of a decoded data item.
type kind uint8

const (
	kindNull kind = iota + 1
	kindBool
	kindNumber
	kindText
	kindArray
	kindMap
)

// item is a decoded data item of the subset both formats share: CBOR
// and JSON bodies decode to the same tree, and one interpreter reads it.
type item struct {
	kind  kind
	num   float64
	b     bool
	text  string
	epoch bool     // CBOR tag 1: the number is a time in seconds since 1970
	keys  []string // map keys, in the order given
	elems []item   // array elements, or the values of keys
}

// sample is one reading of a body: a point's value and, when the sensor
// gave one, its time.
type sample struct {
	point string
	value field.Value
	ts    time.Time // zero: "now"
}

// interpret reads the readings of a decoded body. The body is a map of
// point names to a value (a number, a bool or a text of at most
// field.MaxTextLen bytes of UTF-8: a firmware version), to a sample
// {"v": value, "t": seconds since 1970}, or to an array of samples.
func interpret(root item) ([]sample, error) {
	if root.kind != kindMap {
		return nil, fmt.Errorf("%w: the body must be a map of point names to values", ErrMalformed)
	}
	var out []sample
	for i, name := range root.keys {
		if err := checkPointName(name); err != nil {
			return nil, err
		}
		v := root.elems[i]
		var err error
		switch v.kind {
		case kindArray:
			for j, e := range v.elems {
				if e.kind != kindMap {
					return nil, fmt.Errorf("%w: %s[%d]: want a sample {v, t}", ErrMalformed, name, j)
				}
				out, err = appendSample(out, name, e)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %w", name, j, err)
				}
			}
		default:
			out, err = appendSample(out, name, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		if len(out) > MaxSamples {
			return nil, fmt.Errorf("%w: more than %d readings in one body", ErrMalformed, MaxSamples)
		}
	}
	return out, nil
}

func appendSample(out []sample, name string, v item) ([]sample, error) {
	s := sample{point: name}
	val := v
	if v.kind == kindMap {
		var have bool
		for i, k := range v.keys {
			e := v.elems[i]
			switch k {
			case "v":
				val, have = e, true
			case "t":
				if e.kind != kindNumber || math.IsNaN(e.num) || math.IsInf(e.num, 0) || e.num < 0 || e.num > maxEpoch {
					return nil, fmt.Errorf("%w: t: want seconds since 1970", ErrMalformed)
				}
				sec, frac := math.Modf(e.num)
				s.ts = time.Unix(int64(sec), int64(frac*1e9)).UTC()
			default:
				return nil, fmt.Errorf("%w: unknown key %q in a sample (v, t)", ErrMalformed, truncate(k))
			}
		}
		if !have {
			return nil, fmt.Errorf("%w: a sample needs v", ErrMalformed)
		}
	}
	switch {
	case val.epoch:
		return nil, fmt.Errorf("%w: a time is not a value", ErrMalformed)
	case val.kind == kindNumber:
		if math.IsNaN(val.num) || math.IsInf(val.num, 0) {
			return nil, fmt.Errorf("%w: NaN and infinities are no values", ErrMalformed)
		}
		s.value = field.Number(val.num)
	case val.kind == kindBool:
		s.value = field.Boolean(val.b)
	case val.kind == kindText:
		if len(val.text) > field.MaxTextLen || !utf8.ValidString(val.text) {
			return nil, fmt.Errorf("%w: a text value must be UTF-8 of at most %d bytes", ErrMalformed, field.MaxTextLen)
		}
		s.value = field.Text(val.text)
	default:
		return nil, fmt.Errorf("%w: want a number, a bool, a text or a sample {v, t}", ErrMalformed)
	}
	return append(out, s), nil
}

// maxEpoch is the last second a sample's time may name (year 9999): far
// beyond any clock, and within what time.Time holds.
const maxEpoch = 253402300799

func checkPointName(name string) error {
	if name == "" || len(name) > MaxPointName {
		return fmt.Errorf("%w: point name %q: want 1..%d of letters, digits, '_', '.', '-'", ErrMalformed, truncate(name), MaxPointName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("%w: point name %q: want letters, digits, '_', '.', '-'", ErrMalformed, truncate(name))
		}
	}
	return nil
}

// truncate shortens outside text for messages and logs.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}
