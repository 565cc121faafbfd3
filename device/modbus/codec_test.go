package modbus

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
)

const (
	abcd = device.OrderABCD
	cdab = device.OrderCDAB
	badc = device.OrderBADC
	dcba = device.OrderDCBA
)

// golden is one hand-written row: the registers a device sends and the raw
// value they stand for. The words are typed out from the byte-order
// definitions (README "Site file", codec.go), never computed, so that the table
// checks the codec against the definition rather than against itself.
type golden struct {
	typ   device.DataType
	order device.ByteOrder
	words []uint16
	value float64
	// decodeOnly marks values that float64 cannot hold exactly (64-bit
	// integers beyond 2^53): they decode to the nearest float64, which
	// encodes to a neighbouring integer.
	decodeOnly bool
}

var goldens = []golden{
	// int16 -12345 = 0xCFC7; a single register has no word order.
	{device.TypeInt16, abcd, []uint16{0xCFC7}, -12345, false},
	{device.TypeInt16, cdab, []uint16{0xCFC7}, -12345, false},
	{device.TypeInt16, badc, []uint16{0xC7CF}, -12345, false},
	{device.TypeInt16, dcba, []uint16{0xC7CF}, -12345, false},
	{device.TypeInt16, abcd, []uint16{0x8000}, -32768, false},
	{device.TypeInt16, abcd, []uint16{0x7FFF}, 32767, false},
	{device.TypeInt16, badc, []uint16{0xFEFF}, -2, false},

	// uint16 0x1234 = 4660.
	{device.TypeUint16, abcd, []uint16{0x1234}, 4660, false},
	{device.TypeUint16, cdab, []uint16{0x1234}, 4660, false},
	{device.TypeUint16, badc, []uint16{0x3412}, 4660, false},
	{device.TypeUint16, dcba, []uint16{0x3412}, 4660, false},
	{device.TypeUint16, abcd, []uint16{0xFFFF}, 65535, false},

	// int32 -2 = 0xFFFFFFFE and -123456789 = 0xF8A432EB.
	{device.TypeInt32, abcd, []uint16{0xFFFF, 0xFFFE}, -2, false},
	{device.TypeInt32, cdab, []uint16{0xFFFE, 0xFFFF}, -2, false},
	{device.TypeInt32, badc, []uint16{0xFFFF, 0xFEFF}, -2, false},
	{device.TypeInt32, dcba, []uint16{0xFEFF, 0xFFFF}, -2, false},
	{device.TypeInt32, abcd, []uint16{0xF8A4, 0x32EB}, -123456789, false},
	{device.TypeInt32, cdab, []uint16{0x32EB, 0xF8A4}, -123456789, false},
	{device.TypeInt32, badc, []uint16{0xA4F8, 0xEB32}, -123456789, false},
	{device.TypeInt32, dcba, []uint16{0xEB32, 0xA4F8}, -123456789, false},
	{device.TypeInt32, abcd, []uint16{0x8000, 0x0000}, math.MinInt32, false},

	// uint32 0x01020304 = 16909060.
	{device.TypeUint32, abcd, []uint16{0x0102, 0x0304}, 16909060, false},
	{device.TypeUint32, cdab, []uint16{0x0304, 0x0102}, 16909060, false},
	{device.TypeUint32, badc, []uint16{0x0201, 0x0403}, 16909060, false},
	{device.TypeUint32, dcba, []uint16{0x0403, 0x0201}, 16909060, false},
	{device.TypeUint32, abcd, []uint16{0xFFFF, 0xFFFF}, math.MaxUint32, false},

	// int64 -2 and -0x00123456789ABCDE = 0xFFEDCBA987654322.
	{device.TypeInt64, abcd, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, -2, false},
	{device.TypeInt64, cdab, []uint16{0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF}, -2, false},
	{device.TypeInt64, badc, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF}, -2, false},
	{device.TypeInt64, dcba, []uint16{0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF}, -2, false},
	{device.TypeInt64, abcd, []uint16{0xFFED, 0xCBA9, 0x8765, 0x4322}, -0x00123456789ABCDE, false},
	{device.TypeInt64, cdab, []uint16{0x4322, 0x8765, 0xCBA9, 0xFFED}, -0x00123456789ABCDE, false},
	{device.TypeInt64, badc, []uint16{0xEDFF, 0xA9CB, 0x6587, 0x2243}, -0x00123456789ABCDE, false},
	{device.TypeInt64, dcba, []uint16{0x2243, 0x6587, 0xA9CB, 0xEDFF}, -0x00123456789ABCDE, false},
	{device.TypeInt64, abcd, []uint16{0x8000, 0, 0, 0}, math.MinInt64, false},

	// uint64 0x00123456789ABCDE (exact in float64) and 0x0102030405060708
	// (57 significant bits: decodes to the nearest float64).
	{device.TypeUint64, abcd, []uint16{0x0012, 0x3456, 0x789A, 0xBCDE}, 0x00123456789ABCDE, false},
	{device.TypeUint64, cdab, []uint16{0xBCDE, 0x789A, 0x3456, 0x0012}, 0x00123456789ABCDE, false},
	{device.TypeUint64, badc, []uint16{0x1200, 0x5634, 0x9A78, 0xDEBC}, 0x00123456789ABCDE, false},
	{device.TypeUint64, dcba, []uint16{0xDEBC, 0x9A78, 0x5634, 0x1200}, 0x00123456789ABCDE, false},
	{device.TypeUint64, abcd, []uint16{0x0102, 0x0304, 0x0506, 0x0708}, 0x0102030405060708, true},
	{device.TypeUint64, cdab, []uint16{0x0708, 0x0506, 0x0304, 0x0102}, 0x0102030405060708, true},
	{device.TypeUint64, badc, []uint16{0x0201, 0x0403, 0x0605, 0x0807}, 0x0102030405060708, true},
	{device.TypeUint64, dcba, []uint16{0x0807, 0x0605, 0x0403, 0x0201}, 0x0102030405060708, true},

	// float32 123.456 = 0x42F6E979 (the value is the float32 nearest 123.456).
	{device.TypeFloat32, abcd, []uint16{0x42F6, 0xE979}, float64(float32(123.456)), false},
	{device.TypeFloat32, cdab, []uint16{0xE979, 0x42F6}, float64(float32(123.456)), false},
	{device.TypeFloat32, badc, []uint16{0xF642, 0x79E9}, float64(float32(123.456)), false},
	{device.TypeFloat32, dcba, []uint16{0x79E9, 0xF642}, float64(float32(123.456)), false},
	{device.TypeFloat32, abcd, []uint16{0x3F80, 0x0000}, 1, false},
	{device.TypeFloat32, abcd, []uint16{0xC000, 0x0000}, -2, false},
	{device.TypeFloat32, abcd, []uint16{0x7F80, 0x0000}, math.Inf(1), false},

	// float64 123.456 = 0x405EDD2F1A9FBE77.
	{device.TypeFloat64, abcd, []uint16{0x405E, 0xDD2F, 0x1A9F, 0xBE77}, 123.456, false},
	{device.TypeFloat64, cdab, []uint16{0xBE77, 0x1A9F, 0xDD2F, 0x405E}, 123.456, false},
	{device.TypeFloat64, badc, []uint16{0x5E40, 0x2FDD, 0x9F1A, 0x77BE}, 123.456, false},
	{device.TypeFloat64, dcba, []uint16{0x77BE, 0x9F1A, 0x2FDD, 0x5E40}, 123.456, false},
	{device.TypeFloat64, abcd, []uint16{0xFFF0, 0, 0, 0}, math.Inf(-1), false},
}

func TestGoldenDecode(t *testing.T) {
	for _, g := range goldens {
		got, err := DecodeRegisters(g.words, g.typ, g.order)
		if err != nil {
			t.Errorf("decode %s %s %04X: %v", g.typ, g.order, g.words, err)
			continue
		}
		if got != g.value {
			t.Errorf("decode %s %s %04X = %v, want %v", g.typ, g.order, g.words, got, g.value)
		}
	}
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range goldens {
		if g.decodeOnly {
			continue
		}
		got, err := EncodeRegisters(g.value, g.typ, g.order)
		if err != nil {
			t.Errorf("encode %v as %s %s: %v", g.value, g.typ, g.order, err)
			continue
		}
		if !slices.Equal(got, g.words) {
			t.Errorf("encode %v as %s %s = %04X, want %04X", g.value, g.typ, g.order, got, g.words)
		}
	}
}

// TestGoldenCoversEveryCombination keeps the golden table honest: every
// register type in every byte order has at least one exact row.
func TestGoldenCoversEveryCombination(t *testing.T) {
	for _, typ := range registerTypes {
		for _, o := range allOrders {
			if !slices.ContainsFunc(goldens, func(g golden) bool {
				return g.typ == typ && g.order == o && !g.decodeOnly
			}) {
				t.Errorf("no golden row for %s %s", typ, o)
			}
		}
	}
}

var (
	registerTypes = []device.DataType{
		device.TypeInt16, device.TypeUint16, device.TypeInt32, device.TypeUint32,
		device.TypeInt64, device.TypeUint64, device.TypeFloat32, device.TypeFloat64,
	}
	allOrders = []device.ByteOrder{abcd, cdab, badc, dcba}
)

// The nearest float64 of 0x0102030405060708 is 0x0102030405060700 (a tie
// rounded to even), so that is what encoding the decoded value gives back.
func TestUint64BeyondFloatPrecision(t *testing.T) {
	v, err := DecodeRegisters([]uint16{0x0102, 0x0304, 0x0506, 0x0708}, device.TypeUint64, abcd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EncodeRegisters(v, device.TypeUint64, abcd)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint16{0x0102, 0x0304, 0x0506, 0x0700}; !slices.Equal(got, want) {
		t.Errorf("encode(decode(0x0102030405060708)) = %04X, want %04X", got, want)
	}
	// The largest uint64 decodes to 2^64, which is out of range on the way
	// back: an error, not a silent wrap to 0.
	v, _ = DecodeRegisters([]uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, device.TypeUint64, abcd)
	if _, err := EncodeRegisters(v, device.TypeUint64, abcd); err == nil {
		t.Errorf("encode %v as uint64: no error", v)
	}
}

func TestFloatSpecials(t *testing.T) {
	for _, typ := range []device.DataType{device.TypeFloat32, device.TypeFloat64} {
		for _, o := range allOrders {
			w, err := EncodeRegisters(math.NaN(), typ, o)
			if err != nil {
				t.Fatalf("encode NaN as %s: %v", typ, err)
			}
			v, err := DecodeRegisters(w, typ, o)
			if err != nil || !math.IsNaN(v) {
				t.Errorf("%s %s NaN round trip = %v, %v", typ, o, v, err)
			}
			w, _ = EncodeRegisters(math.Copysign(0, -1), typ, o)
			v, _ = DecodeRegisters(w, typ, o)
			if v != 0 || !math.Signbit(v) {
				t.Errorf("%s %s -0 round trip = %v", typ, o, v)
			}
		}
	}
	// A float32 subnormal survives the trip through float64.
	w, _ := EncodeRegisters(float64(math.SmallestNonzeroFloat32), device.TypeFloat32, abcd)
	if !slices.Equal(w, []uint16{0x0000, 0x0001}) {
		t.Errorf("smallest float32 = %04X", w)
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 20))
	for _, typ := range registerTypes {
		for _, o := range allOrders {
			for range 2000 {
				v := randomValue(r, typ)
				w, err := EncodeRegisters(v, typ, o)
				if err != nil {
					t.Fatalf("encode %v as %s %s: %v", v, typ, o, err)
				}
				if len(w) != typ.Registers() {
					t.Fatalf("encode %v as %s: %d words", v, typ, len(w))
				}
				got, err := DecodeRegisters(w, typ, o)
				if err != nil {
					t.Fatalf("decode %04X as %s %s: %v", w, typ, o, err)
				}
				want := math.Round(v)
				switch typ {
				case device.TypeFloat32:
					want = float64(float32(v))
				case device.TypeFloat64:
					want = v
				}
				if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Fatalf("%s %s: %v → %04X → %v, want %v", typ, o, v, w, got, want)
				}
			}
		}
	}
}

// randomValue returns a value in range for typ, with fractions for the
// integer types so that rounding is exercised. 64-bit integers stay within
// ±2^53, where float64 is exact.
func randomValue(r *rand.Rand, typ device.DataType) float64 {
	u := r.Float64()
	switch typ {
	case device.TypeInt16:
		return -32768.49 + u*(32767.49+32768.49)
	case device.TypeUint16:
		return u * 65535.49
	case device.TypeInt32:
		return -2147483648.49 + u*(2147483647.49+2147483648.49)
	case device.TypeUint32:
		return u * 4294967295.49
	case device.TypeInt64:
		return math.Round((u*2 - 1) * (1 << 53))
	case device.TypeUint64:
		return math.Round(u * (1 << 53))
	case device.TypeFloat32:
		return (u*2 - 1) * math.Pow(10, float64(r.IntN(60)-30))
	default:
		return math.Float64frombits(r.Uint64())
	}
}

func TestEncodeRounds(t *testing.T) {
	cases := []struct {
		v    float64
		typ  device.DataType
		want []uint16
	}{
		{65535.4, device.TypeUint16, []uint16{0xFFFF}},
		{-0.4, device.TypeUint16, []uint16{0x0000}},
		{-2.5, device.TypeInt16, []uint16{0xFFFD}}, // halves away from zero
		{2.5, device.TypeInt16, []uint16{0x0003}},
		{-32768.4, device.TypeInt16, []uint16{0x8000}},
		{1.5, device.TypeUint32, []uint16{0x0000, 0x0002}},
	}
	for _, c := range cases {
		got, err := EncodeRegisters(c.v, c.typ, abcd)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("encode %v as %s = %04X, %v; want %04X", c.v, c.typ, got, err, c.want)
		}
	}
}

func TestEncodeRangeErrors(t *testing.T) {
	cases := []struct {
		v    float64
		typ  device.DataType
		want string // part of the message: the range
	}{
		{70000, device.TypeUint16, "0..65535"},
		{65535.5, device.TypeUint16, "0..65535"},
		{-1, device.TypeUint16, "0..65535"},
		{-40000, device.TypeInt16, "-32768..32767"},
		{32768, device.TypeInt16, "-32768..32767"},
		{-0.5, device.TypeUint32, "0..4294967295"},
		{-1, device.TypeUint32, "0..4294967295"},
		{4294967296, device.TypeUint32, "0..4294967295"},
		{2147483648, device.TypeInt32, "-2147483648..2147483647"},
		{-2147483649, device.TypeInt32, "-2147483648..2147483647"},
		{9223372036854775808, device.TypeInt64, "-9223372036854775808..9223372036854775807"},
		{-1e19, device.TypeInt64, "-9223372036854775808..9223372036854775807"},
		{18446744073709551616, device.TypeUint64, "0..18446744073709551615"},
		{-1, device.TypeUint64, "0..18446744073709551615"},
		{math.NaN(), device.TypeInt16, "not a number"},
		{math.NaN(), device.TypeUint64, "not a number"},
		{math.Inf(1), device.TypeUint32, "not a number"},
		{math.Inf(-1), device.TypeInt64, "not a number"},
		{1e39, device.TypeFloat32, "float32 range"},
		{-1e39, device.TypeFloat32, "float32 range"},
	}
	for _, c := range cases {
		for _, o := range allOrders {
			w, err := EncodeRegisters(c.v, c.typ, o)
			if err == nil {
				t.Errorf("encode %v as %s %s = %04X, want an error", c.v, c.typ, o, w)
				continue
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("encode %v as %s: error %q does not mention %q", c.v, c.typ, err, c.want)
			}
		}
	}
	// The bounds themselves are in range.
	for _, c := range []struct {
		v   float64
		typ device.DataType
	}{
		{math.MaxUint16, device.TypeUint16}, {math.MinInt16, device.TypeInt16},
		{math.MaxUint32, device.TypeUint32}, {math.MinInt32, device.TypeInt32},
		{math.MinInt64, device.TypeInt64}, {math.MaxFloat32, device.TypeFloat32},
		{math.Inf(1), device.TypeFloat32}, {math.MaxFloat64, device.TypeFloat64},
	} {
		if _, err := EncodeRegisters(c.v, c.typ, abcd); err != nil {
			t.Errorf("encode %v as %s: %v", c.v, c.typ, err)
		}
	}
}

func TestCodecRefuses(t *testing.T) {
	if _, err := DecodeRegisters([]uint16{1}, device.TypeBool, abcd); !errors.Is(err, ErrBitType) {
		t.Errorf("decode bool: %v, want ErrBitType", err)
	}
	if _, err := EncodeRegisters(1, device.TypeBool, abcd); !errors.Is(err, ErrBitType) {
		t.Errorf("encode bool: %v, want ErrBitType", err)
	}
	for _, typ := range []device.DataType{0, device.TypeFloat64 + 1, 255} {
		if _, err := DecodeRegisters([]uint16{1}, typ, abcd); !errors.Is(err, ErrUnknownType) {
			t.Errorf("decode type %d: %v, want ErrUnknownType", typ, err)
		}
		if _, err := EncodeRegisters(1, typ, abcd); !errors.Is(err, ErrUnknownType) {
			t.Errorf("encode type %d: %v, want ErrUnknownType", typ, err)
		}
	}
	if _, err := DecodeRegisters([]uint16{1}, device.TypeUint16, dcba+1); !errors.Is(err, ErrUnknownOrder) {
		t.Errorf("decode order 4: %v, want ErrUnknownOrder", err)
	}
	if _, err := EncodeRegisters(1, device.TypeUint16, dcba+1); !errors.Is(err, ErrUnknownOrder) {
		t.Errorf("encode order 4: %v, want ErrUnknownOrder", err)
	}
	for _, words := range [][]uint16{nil, {1}, {1, 2, 3}} {
		if _, err := DecodeRegisters(words, device.TypeFloat32, abcd); !errors.Is(err, ErrWordCount) {
			t.Errorf("decode float32 from %d words: %v, want ErrWordCount", len(words), err)
		}
	}
}

func TestDecodeBits(t *testing.T) {
	// The example of the Modbus application protocol specification (read
	// coils 20..38): CD 6B 05 packs coils 27..20 in the first byte, LSB first.
	got := DecodeBits([]byte{0xCD, 0x6B, 0x05}, 19)
	want := []bool{
		true, false, true, true, false, false, true, true, // 0xCD
		true, true, false, true, false, true, true, false, // 0x6B
		true, false, true, // 0x05, upper bits padding
	}
	if !slices.Equal(got, want) {
		t.Errorf("DecodeBits = %v, want %v", got, want)
	}
	if got := DecodeBits([]byte{0xFF}, 10); !slices.Equal(got, []bool{true, true, true, true, true, true, true, true, false, false}) {
		t.Errorf("short payload: %v", got)
	}
	if got := DecodeBits(nil, -1); len(got) != 0 {
		t.Errorf("negative count: %v", got)
	}
}

func TestWordsFromBytes(t *testing.T) {
	got := WordsFromBytes([]byte{0x12, 0x34, 0xAB, 0xCD, 0xFF})
	if want := []uint16{0x1234, 0xABCD}; !slices.Equal(got, want) {
		t.Errorf("WordsFromBytes = %04X, want %04X", got, want)
	}
	if got := WordsFromBytes(nil); len(got) != 0 {
		t.Errorf("WordsFromBytes(nil) = %v", got)
	}
}
