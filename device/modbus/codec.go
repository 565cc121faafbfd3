package modbus

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sitegate/sitegate/device"
)

// The codec turns the registers of a point, as they travel on the wire, into
// its raw numeric value and back. It knows nothing of scale and offset
// (device.Point.Apply does that) and nothing of requests: the poller, the
// decode lab and the simulator all share it, so that what the simulator
// encodes is exactly what the poller decodes.
//
// Byte orders name the bytes of the value from most (A) to least significant
// in the order the device sends them. With the value's big-endian 16-bit
// words c[0..n-1] (ABCD, the Modbus default), the wire words are:
//
//	ABCD  c[0] c[1] ... c[n-1]                 words and bytes big-endian
//	CDAB  c[n-1] ... c[1] c[0]                 word order reversed
//	BADC  swap(c[0]) ... swap(c[n-1])          bytes swapped within each word
//	DCBA  swap(c[n-1]) ... swap(c[0])          fully little-endian
//
// so for 64 bits (bytes A..H) CDAB is [GH EF CD AB]: the words of the whole
// value reversed, which is what word-swapping devices do for 64-bit values.
// For a 16-bit value there is no word order to reverse, so CDAB reads like
// ABCD and DCBA like BADC; site validation refuses those two spellings for
// single registers, but the codec accepts them so that the decode lab can
// show every order for every type.

// Codec errors. Encoding range errors are not sentinels: they name the value
// and the type's range.
var (
	// ErrBitType means a bool point was given to a register codec: bools
	// live in the coil and discrete tables, one bit each.
	ErrBitType = errors.New("bool is a single bit (coil or discrete), not a register value")
	// ErrUnknownType means the data type is unset or not one of device's.
	ErrUnknownType = errors.New("unknown data type")
	// ErrUnknownOrder means the byte order is not one of device's four.
	ErrUnknownOrder = errors.New("unknown byte order")
	// ErrWordCount means the number of registers does not match the type.
	ErrWordCount = errors.New("wrong number of registers for the data type")
)

// checkCodec validates the type and order and returns the number of words.
func checkCodec(t device.DataType, o device.ByteOrder) (int, error) {
	if t == device.TypeBool {
		return 0, ErrBitType
	}
	n := t.Registers()
	if n == 0 {
		name := t.String()
		if name == "" {
			name = "(unset)"
		}
		return 0, fmt.Errorf("%w %s", ErrUnknownType, name)
	}
	if o > device.OrderDCBA {
		return 0, fmt.Errorf("%w %s", ErrUnknownOrder, o)
	}
	return n, nil
}

// reorder maps between wire words and canonical (ABCD) words. Each of the
// four orders is its own inverse, so the same function serves both ways.
func reorder(dst, src []uint16, o device.ByteOrder) {
	n := len(src)
	for i := range src {
		w := src[i]
		if o == device.OrderCDAB || o == device.OrderDCBA {
			w = src[n-1-i]
		}
		if o == device.OrderBADC || o == device.OrderDCBA {
			w = w<<8 | w>>8
		}
		dst[i] = w
	}
}

// DecodeRegisters returns the raw numeric value of a point from its
// registers as read on the wire (words[0] is the register at the point's
// address). len(words) must equal t.Registers(). Integers are two's
// complement where signed. 64-bit integers beyond ±2^53 come back as the
// nearest float64, because every value in the engine is a float64.
func DecodeRegisters(words []uint16, t device.DataType, o device.ByteOrder) (float64, error) {
	n, err := checkCodec(t, o)
	if err != nil {
		return 0, err
	}
	if len(words) != n {
		return 0, fmt.Errorf("%w: %s needs %d, got %d", ErrWordCount, t, n, len(words))
	}
	var canon [4]uint16
	reorder(canon[:n], words, o)
	var bits uint64
	for _, w := range canon[:n] {
		bits = bits<<16 | uint64(w)
	}
	switch t {
	case device.TypeInt16:
		return float64(int16(bits)), nil
	case device.TypeUint16:
		return float64(uint16(bits)), nil
	case device.TypeInt32:
		return float64(int32(bits)), nil
	case device.TypeUint32:
		return float64(uint32(bits)), nil
	case device.TypeInt64:
		return float64(int64(bits)), nil
	case device.TypeUint64:
		return float64(bits), nil
	case device.TypeFloat32:
		return float64(math.Float32frombits(uint32(bits))), nil
	default: // TypeFloat64; checkCodec let nothing else through
		return math.Float64frombits(bits), nil
	}
}

// integer ranges, as float64 bounds on the rounded value. The 64-bit upper
// bounds are exclusive powers of two because 2^63-1 and 2^64-1 have no
// float64 of their own.
type intRange struct {
	lo, hi    float64 // inclusive, except hi when hiExcl
	hiExcl    bool
	loS, hiS  string // exact bounds for error messages
	bitsOfInt int
}

var intRanges = map[device.DataType]intRange{
	device.TypeInt16:  {lo: math.MinInt16, hi: math.MaxInt16, loS: "-32768", hiS: "32767", bitsOfInt: 16},
	device.TypeUint16: {lo: 0, hi: math.MaxUint16, loS: "0", hiS: "65535", bitsOfInt: 16},
	device.TypeInt32:  {lo: math.MinInt32, hi: math.MaxInt32, loS: "-2147483648", hiS: "2147483647", bitsOfInt: 32},
	device.TypeUint32: {lo: 0, hi: math.MaxUint32, loS: "0", hiS: "4294967295", bitsOfInt: 32},
	device.TypeInt64:  {lo: math.MinInt64, hi: 1 << 63, hiExcl: true, loS: "-9223372036854775808", hiS: "9223372036854775807", bitsOfInt: 64},
	device.TypeUint64: {lo: 0, hi: 1 << 64, hiExcl: true, loS: "0", hiS: "18446744073709551615", bitsOfInt: 64},
}

// EncodeRegisters returns the registers, in wire order, that hold raw value
// v as type t in order o: the inverse of DecodeRegisters. Integers are
// rounded to the nearest (halves away from zero); a value outside the type's
// range, NaN or an infinity for an integer type, or a finite value too large
// for float32 is an error naming the range. NaN and infinities are valid
// float values and are encoded as such.
func EncodeRegisters(v float64, t device.DataType, o device.ByteOrder) ([]uint16, error) {
	n, err := checkCodec(t, o)
	if err != nil {
		return nil, err
	}
	var bits uint64
	switch t {
	case device.TypeFloat32:
		f := float32(v)
		if math.IsInf(float64(f), 0) && !math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %s is outside the float32 range ±%g", fmtValue(v), math.MaxFloat32)
		}
		bits = uint64(math.Float32bits(f))
	case device.TypeFloat64:
		bits = math.Float64bits(v)
	default:
		r := intRanges[t]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %s is not a number; %s holds integers %s..%s", fmtValue(v), t, r.loS, r.hiS)
		}
		x := math.Round(v)
		if x < r.lo || x > r.hi || (r.hiExcl && x == r.hi) {
			return nil, fmt.Errorf("value %s is outside the %s range %s..%s", fmtValue(v), t, r.loS, r.hiS)
		}
		if r.lo < 0 {
			// Two's complement: the low bits of the int64 are the value.
			bits = maskBits(uint64(int64(x)), r.bitsOfInt)
		} else {
			bits = uint64(x)
		}
	}
	canon := make([]uint16, n)
	for i := n - 1; i >= 0; i-- {
		canon[i] = uint16(bits)
		bits >>= 16
	}
	words := make([]uint16, n)
	reorder(words, canon, o)
	return words, nil
}

// maskBits keeps the low n bits of a two's complement value.
func maskBits(x uint64, n int) uint64 {
	if n >= 64 {
		return x
	}
	return x & (1<<n - 1)
}

// fmtValue prints v without exponent noise for the sizes registers hold.
func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// DecodeBits returns count bits of a coil or discrete-input response
// payload (the data after the byte count): bit i is bit i%8 of byte i/8,
// least significant first, as the Modbus specification packs them. Bits
// beyond the payload read as false; check the byte count before calling.
func DecodeBits(payload []byte, count int) []bool {
	if count < 0 {
		count = 0
	}
	out := make([]bool, count)
	for i := range out {
		if i/8 < len(payload) {
			out[i] = payload[i/8]>>(i%8)&1 == 1
		}
	}
	return out
}

// WordsFromBytes turns a register response payload (the data after the byte
// count: big-endian 16-bit words) into words. A trailing odd byte is
// ignored; check the byte count before calling.
func WordsFromBytes(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return out
}
