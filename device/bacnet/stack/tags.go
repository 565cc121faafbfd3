package stack

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Bounds of the tag decoder. Lengths beyond the octets actually present are
// refused before anything is allocated, so a four-octet length field cannot
// make the decoder reserve memory the frame does not carry.
const (
	// MaxNesting bounds how deep opening tags may nest inside one property
	// value (a BACnetPropertyValue inside a list inside a sequence...).
	// Real devices stay below 6; a frame nesting deeper is refused rather
	// than recursed into.
	MaxNesting = 16
	// MaxIntLength is the longest Unsigned, Signed or Enumerated content
	// accepted: 8 octets, the widest a Go integer holds.
	MaxIntLength = 8
)

// AppTag is an application tag number (clause 20.2.1.4): the type of a
// primitive value that carries its own type.
type AppTag uint8

// Application tags. TypeRaw is this package's own marker for an element
// that was context tagged (or constructed) inside a property value and is
// kept in its encoded form, because only the property's definition says
// what it means.
const (
	TypeNull AppTag = iota
	TypeBoolean
	TypeUnsigned
	TypeSigned
	TypeReal
	TypeDouble
	TypeOctetString
	TypeCharacterString
	TypeBitString
	TypeEnumerated
	TypeDate
	TypeTime
	TypeObjectID
	TypeRaw AppTag = 255
)

var appTagNames = [...]string{"null", "boolean", "unsigned", "signed", "real", "double",
	"octet-string", "character-string", "bit-string", "enumerated", "date", "time", "object-identifier"}

func (t AppTag) String() string {
	if int(t) < len(appTagNames) {
		return appTagNames[t]
	}
	if t == TypeRaw {
		return "raw"
	}
	return fmt.Sprintf("application-tag-%d", uint8(t))
}

// Tag is a decoded tag header (clause 20.2.1).
type Tag struct {
	Number  uint8
	Context bool
	Opening bool
	Closing bool
	// Length is the content length in octets; for an application Boolean
	// it is the value itself (clause 20.2.3), with no content following.
	Length uint32
}

func (t Tag) String() string {
	switch {
	case t.Opening:
		return fmt.Sprintf("opening tag [%d]", t.Number)
	case t.Closing:
		return fmt.Sprintf("closing tag [%d]", t.Number)
	case t.Context:
		return fmt.Sprintf("context tag [%d] length %d", t.Number, t.Length)
	}
	return fmt.Sprintf("application tag %s length %d", AppTag(t.Number), t.Length)
}

// DecodeTag decodes the tag header at the start of b and returns it with
// the number of octets it took. It does not check that the content is
// present; Reader does.
func DecodeTag(b []byte) (Tag, int, error) {
	if len(b) < 1 {
		return Tag{}, 0, fmt.Errorf("tag: %w", ErrShort)
	}
	h := b[0]
	n := 1
	t := Tag{Number: h >> 4, Context: h&0x08 != 0}
	if t.Number == 15 {
		if len(b) < 2 {
			return Tag{}, 0, fmt.Errorf("extended tag number: %w", ErrShort)
		}
		t.Number = b[1]
		if t.Number == 255 {
			return Tag{}, 0, fmt.Errorf("extended tag number 255 is reserved: %w", ErrBadTag)
		}
		n = 2
	}
	lvt := h & 0x07
	switch {
	case t.Context && lvt == 6:
		t.Opening = true
		return t, n, nil
	case t.Context && lvt == 7:
		t.Closing = true
		return t, n, nil
	case lvt < 5:
		t.Length = uint32(lvt)
		return t, n, nil
	}
	if !t.Context && t.Number == uint8(TypeBoolean) {
		// An application Boolean carries its value in LVT; 5..7 are not values.
		return Tag{}, 0, fmt.Errorf("application boolean with LVT %d: %w", lvt, ErrBadTag)
	}
	if !t.Context && lvt > 5 {
		return Tag{}, 0, fmt.Errorf("application tag with LVT %d: %w", lvt, ErrBadTag)
	}
	// lvt == 5: extended length.
	if len(b) < n+1 {
		return Tag{}, 0, fmt.Errorf("extended length: %w", ErrShort)
	}
	l := b[n]
	n++
	switch l {
	case 254:
		if len(b) < n+2 {
			return Tag{}, 0, fmt.Errorf("two-octet length: %w", ErrShort)
		}
		t.Length = uint32(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 255:
		if len(b) < n+4 {
			return Tag{}, 0, fmt.Errorf("four-octet length: %w", ErrShort)
		}
		t.Length = binary.BigEndian.Uint32(b[n:])
		n += 4
	default:
		t.Length = uint32(l)
	}
	return t, n, nil
}

// AppendTag appends a tag header. Numbers from 15 up take the extended
// form, lengths from 5 up the extended length (clause 20.2.1.2-3).
func AppendTag(b []byte, number uint8, context bool, length uint32) []byte {
	h := byte(0)
	if context {
		h = 0x08
	}
	ext := number >= 15
	if ext {
		h |= 0xF0
	} else {
		h |= number << 4
	}
	switch {
	case length < 5:
		b = append(b, h|byte(length))
		if ext {
			b = append(b, number)
		}
		return b
	default:
		b = append(b, h|5)
	}
	if ext {
		b = append(b, number)
	}
	switch {
	case length < 254:
		return append(b, byte(length))
	case length <= 0xFFFF:
		return append(b, 254, byte(length>>8), byte(length))
	}
	return append(b, 255, byte(length>>24), byte(length>>16), byte(length>>8), byte(length))
}

// AppendOpen appends opening tag n; AppendClose its closing tag.
func AppendOpen(b []byte, n uint8) []byte { return appendPD(b, n, 6) }

// AppendClose appends closing tag n.
func AppendClose(b []byte, n uint8) []byte { return appendPD(b, n, 7) }

func appendPD(b []byte, n uint8, lvt byte) []byte {
	if n >= 15 {
		return append(b, 0xF8|lvt, n)
	}
	return append(b, n<<4|0x08|lvt)
}

// Charset is the character set octet of a CharacterString (clause 20.2.9).
type Charset uint8

// Character sets. Decoding turns UTF-8, UCS-2, UCS-4 and ISO 8859-1 into Go
// strings; DBCS and JIS X 0208 need code pages this stack does not carry.
const (
	CharsetUTF8     Charset = 0
	CharsetDBCS     Charset = 1
	CharsetJIS      Charset = 2
	CharsetUCS4     Charset = 3
	CharsetUCS2     Charset = 4
	CharsetISO88591 Charset = 5
)

func (c Charset) String() string {
	switch c {
	case CharsetUTF8:
		return "utf-8"
	case CharsetDBCS:
		return "ibm-microsoft-dbcs"
	case CharsetJIS:
		return "jis-x-0208"
	case CharsetUCS4:
		return "ucs-4"
	case CharsetUCS2:
		return "ucs-2"
	case CharsetISO88591:
		return "iso-8859-1"
	}
	return fmt.Sprintf("charset-%d", uint8(c))
}

// BitString is a BACnet bit string: Length bits, bit 0 the most significant
// bit of the first octet (clause 20.2.10).
type BitString struct {
	Length int
	Octets []byte
}

// NewBitString returns a bit string of n bits with the given bits set.
func NewBitString(n int, set ...int) BitString {
	bs := BitString{Length: n, Octets: make([]byte, (n+7)/8)}
	for _, i := range set {
		bs.Set(i, true)
	}
	return bs
}

// Bit reports bit i; bits beyond Length are false.
func (bs BitString) Bit(i int) bool {
	if i < 0 || i >= bs.Length || i/8 >= len(bs.Octets) {
		return false
	}
	return bs.Octets[i/8]&(0x80>>(i%8)) != 0
}

// Set sets or clears bit i (within Length).
func (bs BitString) Set(i int, v bool) {
	if i < 0 || i >= bs.Length || i/8 >= len(bs.Octets) {
		return
	}
	if v {
		bs.Octets[i/8] |= 0x80 >> (i % 8)
	} else {
		bs.Octets[i/8] &^= 0x80 >> (i % 8)
	}
}

func (bs BitString) String() string {
	var sb strings.Builder
	for i := 0; i < bs.Length; i++ {
		if bs.Bit(i) {
			sb.WriteByte('1')
		} else {
			sb.WriteByte('0')
		}
	}
	return sb.String()
}

// Unspecified is the "any" value of a Date or Time octet (clause 20.2.12).
const Unspecified = 255

// Date is a BACnet Date: Year is years since 1900; any field may be
// Unspecified. Weekday is 1 (Monday) .. 7 (Sunday).
type Date struct{ Year, Month, Day, Weekday uint8 }

func (d Date) String() string {
	f := func(v uint8, w int, base int) string {
		if v == Unspecified {
			return strings.Repeat("*", w)
		}
		return fmt.Sprintf("%0*d", w, int(v)+base)
	}
	return f(d.Year, 4, 1900) + "-" + f(d.Month, 2, 0) + "-" + f(d.Day, 2, 0)
}

// Time is a BACnet Time; any field may be Unspecified.
type Time struct{ Hour, Minute, Second, Hundredths uint8 }

func (t Time) String() string {
	f := func(v uint8) string {
		if v == Unspecified {
			return "**"
		}
		return fmt.Sprintf("%02d", v)
	}
	return f(t.Hour) + ":" + f(t.Minute) + ":" + f(t.Second) + "." + f(t.Hundredths)
}

// Value is one primitive value of any application type, or (TypeRaw) an
// element kept in its encoded form. Only the field of its Type is set.
type Value struct {
	Type     AppTag
	Bool     bool
	Unsigned uint64 // Unsigned and Enumerated
	Signed   int64
	Real     float32
	Double   float64
	Octets   []byte // OctetString; the whole encoding for TypeRaw
	String   string // CharacterString, always UTF-8 in Go
	Charset  Charset
	Bits     BitString
	Date     Date
	Time     Time
	Object   ObjectID
}

// Value constructors, one per application type.
func Null() Value                   { return Value{Type: TypeNull} }
func Bool(v bool) Value             { return Value{Type: TypeBoolean, Bool: v} }
func Unsigned(v uint64) Value       { return Value{Type: TypeUnsigned, Unsigned: v} }
func Signed(v int64) Value          { return Value{Type: TypeSigned, Signed: v} }
func Real(v float32) Value          { return Value{Type: TypeReal, Real: v} }
func Double(v float64) Value        { return Value{Type: TypeDouble, Double: v} }
func OctetString(v []byte) Value    { return Value{Type: TypeOctetString, Octets: v} }
func CharString(v string) Value     { return Value{Type: TypeCharacterString, String: v} }
func Bits(v BitString) Value        { return Value{Type: TypeBitString, Bits: v} }
func Enumerated(v uint64) Value     { return Value{Type: TypeEnumerated, Unsigned: v} }
func DateValue(v Date) Value        { return Value{Type: TypeDate, Date: v} }
func TimeValue(v Time) Value        { return Value{Type: TypeTime, Time: v} }
func ObjectValue(v ObjectID) Value  { return Value{Type: TypeObjectID, Object: v} }
func RawValue(encoded []byte) Value { return Value{Type: TypeRaw, Octets: encoded} }

// Float returns a numeric value (Real, Double, Unsigned, Signed,
// Enumerated, Boolean) as a float64, and false for any other type.
func (v Value) Float() (float64, bool) {
	switch v.Type {
	case TypeReal:
		return float64(v.Real), true
	case TypeDouble:
		return v.Double, true
	case TypeUnsigned, TypeEnumerated:
		return float64(v.Unsigned), true
	case TypeSigned:
		return float64(v.Signed), true
	case TypeBoolean:
		if v.Bool {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Format renders the value for people and logs.
func (v Value) Format() string {
	switch v.Type {
	case TypeNull:
		return "null"
	case TypeBoolean:
		return fmt.Sprint(v.Bool)
	case TypeUnsigned, TypeEnumerated:
		return fmt.Sprint(v.Unsigned)
	case TypeSigned:
		return fmt.Sprint(v.Signed)
	case TypeReal:
		return fmt.Sprint(v.Real)
	case TypeDouble:
		return fmt.Sprint(v.Double)
	case TypeOctetString, TypeRaw:
		return fmt.Sprintf("%x", v.Octets)
	case TypeCharacterString:
		return v.String
	case TypeBitString:
		return v.Bits.String()
	case TypeDate:
		return v.Date.String()
	case TypeTime:
		return v.Time.String()
	case TypeObjectID:
		return v.Object.String()
	}
	return "?"
}

// contentLen is the content length of v as a primitive (not TypeRaw, and
// for Boolean the context form's one octet).
func contentLen(v Value) (int, error) {
	switch v.Type {
	case TypeNull:
		return 0, nil
	case TypeBoolean:
		return 1, nil
	case TypeUnsigned, TypeEnumerated:
		return unsignedLen(v.Unsigned), nil
	case TypeSigned:
		return signedLen(v.Signed), nil
	case TypeReal:
		return 4, nil
	case TypeDouble:
		return 8, nil
	case TypeOctetString:
		return len(v.Octets), nil
	case TypeCharacterString:
		s, err := encodeString(v.String, v.Charset)
		return 1 + len(s), err
	case TypeBitString:
		return 1 + (v.Bits.Length+7)/8, nil
	case TypeDate, TypeTime, TypeObjectID:
		return 4, nil
	}
	return 0, fmt.Errorf("encode %s: %w", v.Type, ErrType)
}

func unsignedLen(u uint64) int {
	n := 1
	for u > 0xFF {
		u >>= 8
		n++
	}
	return n
}

func signedLen(i int64) int {
	n := 1
	for i < -128 || i > 127 {
		i >>= 8
		n++
	}
	return n
}

func appendContent(b []byte, v Value) ([]byte, error) {
	switch v.Type {
	case TypeNull:
		return b, nil
	case TypeBoolean:
		if v.Bool {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case TypeUnsigned, TypeEnumerated:
		for i := unsignedLen(v.Unsigned) - 1; i >= 0; i-- {
			b = append(b, byte(v.Unsigned>>(8*i)))
		}
		return b, nil
	case TypeSigned:
		for i := signedLen(v.Signed) - 1; i >= 0; i-- {
			b = append(b, byte(v.Signed>>(8*i)))
		}
		return b, nil
	case TypeReal:
		return binary.BigEndian.AppendUint32(b, math.Float32bits(v.Real)), nil
	case TypeDouble:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v.Double)), nil
	case TypeOctetString:
		return append(b, v.Octets...), nil
	case TypeCharacterString:
		s, err := encodeString(v.String, v.Charset)
		if err != nil {
			return b, err
		}
		return append(append(b, byte(v.Charset)), s...), nil
	case TypeBitString:
		n := (v.Bits.Length + 7) / 8
		b = append(b, byte(n*8-v.Bits.Length))
		for i := 0; i < n; i++ {
			if i < len(v.Bits.Octets) {
				b = append(b, v.Bits.Octets[i])
			} else {
				b = append(b, 0)
			}
		}
		return b, nil
	case TypeDate:
		return append(b, v.Date.Year, v.Date.Month, v.Date.Day, v.Date.Weekday), nil
	case TypeTime:
		return append(b, v.Time.Hour, v.Time.Minute, v.Time.Second, v.Time.Hundredths), nil
	case TypeObjectID:
		u, err := v.Object.Encode()
		if err != nil {
			return b, err
		}
		return binary.BigEndian.AppendUint32(b, u), nil
	}
	return b, fmt.Errorf("encode %s: %w", v.Type, ErrType)
}

// AppendApp appends v with its application tag; a TypeRaw value is
// appended as it was received.
func AppendApp(b []byte, v Value) ([]byte, error) {
	switch v.Type {
	case TypeRaw:
		return append(b, v.Octets...), nil
	case TypeBoolean:
		// The value lives in LVT (clause 20.2.3).
		if v.Bool {
			return AppendTag(b, uint8(TypeBoolean), false, 1), nil
		}
		return AppendTag(b, uint8(TypeBoolean), false, 0), nil
	}
	n, err := contentLen(v)
	if err != nil {
		return b, err
	}
	b = AppendTag(b, uint8(v.Type), false, uint32(n))
	return appendContent(b, v)
}

// AppendContext appends v's content under context tag n.
func AppendContext(b []byte, n uint8, v Value) ([]byte, error) {
	if v.Type == TypeRaw {
		return b, fmt.Errorf("encode raw value under context tag %d: %w", n, ErrType)
	}
	l, err := contentLen(v)
	if err != nil {
		return b, err
	}
	b = AppendTag(b, n, true, uint32(l))
	return appendContent(b, v)
}

// AppendContextUnsigned appends an Unsigned (or Enumerated: the content is
// the same) under context tag n.
func AppendContextUnsigned(b []byte, n uint8, u uint64) []byte {
	b = AppendTag(b, n, true, uint32(unsignedLen(u)))
	b, _ = appendContent(b, Unsigned(u))
	return b
}

// AppendContextObject appends an object identifier under context tag n.
func AppendContextObject(b []byte, n uint8, o ObjectID) ([]byte, error) {
	return AppendContext(b, n, ObjectValue(o))
}

// decodeContent turns the content of a primitive of type t into a Value.
func decodeContent(t AppTag, c []byte) (Value, error) {
	switch t {
	case TypeNull:
		if len(c) != 0 {
			return Value{}, fmt.Errorf("null with %d octets: %w", len(c), ErrBadTag)
		}
		return Null(), nil
	case TypeBoolean:
		if len(c) != 1 || c[0] > 1 {
			return Value{}, fmt.Errorf("context boolean of %d octets: %w", len(c), ErrBadTag)
		}
		return Bool(c[0] == 1), nil
	case TypeUnsigned, TypeEnumerated:
		u, err := decodeUnsigned(c)
		if err != nil {
			return Value{}, fmt.Errorf("%s: %w", t, err)
		}
		return Value{Type: t, Unsigned: u}, nil
	case TypeSigned:
		if len(c) < 1 || len(c) > MaxIntLength {
			return Value{}, fmt.Errorf("signed of %d octets: %w", len(c), ErrBadTag)
		}
		i := int64(int8(c[0]))
		for _, x := range c[1:] {
			i = i<<8 | int64(x)
		}
		return Signed(i), nil
	case TypeReal:
		if len(c) != 4 {
			return Value{}, fmt.Errorf("real of %d octets: %w", len(c), ErrBadTag)
		}
		return Real(math.Float32frombits(binary.BigEndian.Uint32(c))), nil
	case TypeDouble:
		if len(c) != 8 {
			return Value{}, fmt.Errorf("double of %d octets: %w", len(c), ErrBadTag)
		}
		return Double(math.Float64frombits(binary.BigEndian.Uint64(c))), nil
	case TypeOctetString:
		return OctetString(append([]byte(nil), c...)), nil
	case TypeCharacterString:
		if len(c) < 1 {
			return Value{}, fmt.Errorf("character string without its charset octet: %w", ErrBadTag)
		}
		s, err := decodeString(Charset(c[0]), c[1:])
		if err != nil {
			return Value{}, err
		}
		return Value{Type: TypeCharacterString, String: s, Charset: Charset(c[0])}, nil
	case TypeBitString:
		if len(c) < 1 || c[0] > 7 || (len(c) == 1 && c[0] != 0) {
			return Value{}, fmt.Errorf("bit string with %d octets and %d unused bits: %w", len(c), firstOr(c), ErrBadTag)
		}
		return Bits(BitString{Length: (len(c)-1)*8 - int(c[0]), Octets: append([]byte(nil), c[1:]...)}), nil
	case TypeDate:
		if len(c) != 4 {
			return Value{}, fmt.Errorf("date of %d octets: %w", len(c), ErrBadTag)
		}
		return DateValue(Date{c[0], c[1], c[2], c[3]}), nil
	case TypeTime:
		if len(c) != 4 {
			return Value{}, fmt.Errorf("time of %d octets: %w", len(c), ErrBadTag)
		}
		return TimeValue(Time{c[0], c[1], c[2], c[3]}), nil
	case TypeObjectID:
		if len(c) != 4 {
			return Value{}, fmt.Errorf("object identifier of %d octets: %w", len(c), ErrBadTag)
		}
		return ObjectValue(DecodeObjectID(binary.BigEndian.Uint32(c))), nil
	}
	return Value{}, fmt.Errorf("application tag %d is reserved: %w", uint8(t), ErrBadTag)
}

func firstOr(c []byte) int {
	if len(c) == 0 {
		return 0
	}
	return int(c[0])
}

func decodeUnsigned(c []byte) (uint64, error) {
	if len(c) < 1 || len(c) > MaxIntLength {
		return 0, fmt.Errorf("%d octets: %w", len(c), ErrBadTag)
	}
	var u uint64
	for _, x := range c {
		u = u<<8 | uint64(x)
	}
	return u, nil
}

func encodeString(s string, cs Charset) ([]byte, error) {
	switch cs {
	case CharsetUTF8:
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("character string is not valid UTF-8: %w", ErrRange)
		}
		return []byte(s), nil
	case CharsetUCS2:
		var out []byte
		for _, r := range s {
			if r > 0xFFFF {
				return nil, fmt.Errorf("rune %U does not fit UCS-2: %w", r, ErrRange)
			}
			out = append(out, byte(r>>8), byte(r))
		}
		return out, nil
	case CharsetUCS4:
		var out []byte
		for _, r := range s {
			out = binary.BigEndian.AppendUint32(out, uint32(r))
		}
		return out, nil
	case CharsetISO88591:
		var out []byte
		for _, r := range s {
			if r > 0xFF {
				return nil, fmt.Errorf("rune %U does not fit ISO 8859-1: %w", r, ErrRange)
			}
			out = append(out, byte(r))
		}
		return out, nil
	}
	return nil, fmt.Errorf("encode %s: %w", cs, ErrCharset)
}

func decodeString(cs Charset, c []byte) (string, error) {
	switch cs {
	case CharsetUTF8:
		// Invalid sequences are replaced, not refused: a device name with a
		// stray Latin-1 octet is still worth showing.
		return strings.ToValidUTF8(string(c), "\uFFFD"), nil
	case CharsetUCS2:
		if len(c)%2 != 0 {
			return "", fmt.Errorf("ucs-2 string of odd length %d: %w", len(c), ErrBadTag)
		}
		u := make([]uint16, len(c)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(c[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case CharsetUCS4:
		if len(c)%4 != 0 {
			return "", fmt.Errorf("ucs-4 string of length %d: %w", len(c), ErrBadTag)
		}
		var sb strings.Builder
		for i := 0; i < len(c); i += 4 {
			r := rune(binary.BigEndian.Uint32(c[i:]))
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			sb.WriteRune(r)
		}
		return sb.String(), nil
	case CharsetISO88591:
		var sb strings.Builder
		for _, x := range c {
			sb.WriteRune(rune(x))
		}
		return sb.String(), nil
	}
	return "", fmt.Errorf("character string in %s: %w", cs, ErrCharset)
}

// Reader walks the tagged elements of a service request or ack in order.
// Each method consumes one element and fails with a wrapped ErrBadTag or
// ErrShort naming what it expected, so a service decoder reads like the
// service's ASN.1 production.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader over b (not copied).
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Len is the number of octets left.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Offset is the number of octets consumed.
func (r *Reader) Offset() int { return r.off }

// Peek decodes the next tag header without consuming it.
func (r *Reader) Peek() (Tag, error) {
	t, _, err := DecodeTag(r.b[r.off:])
	return t, err
}

// next consumes one tag and, for a primitive, its content.
func (r *Reader) next() (Tag, []byte, error) {
	t, n, err := DecodeTag(r.b[r.off:])
	if err != nil {
		return t, nil, err
	}
	if t.Opening || t.Closing || (!t.Context && t.Number == uint8(TypeBoolean)) {
		r.off += n
		return t, nil, nil
	}
	if uint64(t.Length) > uint64(len(r.b)-r.off-n) {
		return t, nil, fmt.Errorf("%s: need %d octets, have %d: %w", t, t.Length, len(r.b)-r.off-n, ErrShort)
	}
	c := r.b[r.off+n : r.off+n+int(t.Length)]
	r.off += n + int(t.Length)
	return t, c, nil
}

// Is reports whether the next element is context tag n (primitive or
// opening); false at the end or on a malformed header.
func (r *Reader) Is(n uint8) bool {
	t, err := r.Peek()
	return err == nil && t.Context && !t.Closing && t.Number == n
}

// IsClose reports whether the next element is closing tag n.
func (r *Reader) IsClose(n uint8) bool {
	t, err := r.Peek()
	return err == nil && t.Closing && t.Number == n
}

// IsApp reports whether the next element is an application tag.
func (r *Reader) IsApp() bool {
	t, err := r.Peek()
	return err == nil && !t.Context
}

// Open consumes opening tag n.
func (r *Reader) Open(n uint8) error {
	t, _, err := r.next()
	if err != nil {
		return fmt.Errorf("opening tag [%d]: %w", n, err)
	}
	if !t.Opening || t.Number != n {
		return fmt.Errorf("want opening tag [%d], have %s: %w", n, t, ErrBadTag)
	}
	return nil
}

// Close consumes closing tag n.
func (r *Reader) Close(n uint8) error {
	t, _, err := r.next()
	if err != nil {
		return fmt.Errorf("closing tag [%d]: %w", n, err)
	}
	if !t.Closing || t.Number != n {
		return fmt.Errorf("want closing tag [%d], have %s: %w", n, t, ErrBadTag)
	}
	return nil
}

// Context consumes primitive context tag n and decodes it as type t.
func (r *Reader) Context(n uint8, t AppTag) (Value, error) {
	tag, c, err := r.next()
	if err != nil {
		return Value{}, fmt.Errorf("context tag [%d]: %w", n, err)
	}
	if !tag.Context || tag.Opening || tag.Closing || tag.Number != n {
		return Value{}, fmt.Errorf("want context tag [%d], have %s: %w", n, tag, ErrBadTag)
	}
	v, err := decodeContent(t, c)
	if err != nil {
		return Value{}, fmt.Errorf("context tag [%d]: %w", n, err)
	}
	return v, nil
}

// ContextUnsigned consumes context tag n as an Unsigned (or Enumerated).
func (r *Reader) ContextUnsigned(n uint8) (uint64, error) {
	v, err := r.Context(n, TypeUnsigned)
	return v.Unsigned, err
}

// ContextObject consumes context tag n as an object identifier.
func (r *Reader) ContextObject(n uint8) (ObjectID, error) {
	v, err := r.Context(n, TypeObjectID)
	return v.Object, err
}

// App consumes one application-tagged primitive.
func (r *Reader) App() (Value, error) {
	t, c, err := r.next()
	if err != nil {
		return Value{}, err
	}
	if t.Context {
		return Value{}, fmt.Errorf("want an application tag, have %s: %w", t, ErrBadTag)
	}
	if t.Number == uint8(TypeBoolean) {
		if t.Length > 1 {
			return Value{}, fmt.Errorf("application boolean %d: %w", t.Length, ErrBadTag)
		}
		return Bool(t.Length == 1), nil
	}
	v, err := decodeContent(AppTag(t.Number), c)
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

// AppOf consumes an application-tagged primitive that must be of type t.
func (r *Reader) AppOf(t AppTag) (Value, error) {
	v, err := r.App()
	if err != nil {
		return v, err
	}
	if v.Type != t {
		return v, fmt.Errorf("want %s, have %s: %w", t, v.Type, ErrType)
	}
	return v, nil
}

// Values reads the elements of an abstract-syntax value up to (and
// including) closing tag n, after the caller consumed opening tag n.
// Application-tagged elements are decoded; context-tagged and constructed
// ones are kept encoded as TypeRaw.
func (r *Reader) Values(n uint8) ([]Value, error) {
	var out []Value
	for {
		t, err := r.Peek()
		if err != nil {
			return nil, fmt.Errorf("value in [%d]: %w", n, err)
		}
		if t.Closing && t.Number == n {
			r.off += tagHeaderLen(t)
			return out, nil
		}
		if !t.Context {
			v, err := r.App()
			if err != nil {
				return nil, fmt.Errorf("value in [%d]: %w", n, err)
			}
			out = append(out, v)
			continue
		}
		start := r.off
		if err := r.skip(0); err != nil {
			return nil, fmt.Errorf("value in [%d]: %w", n, err)
		}
		out = append(out, RawValue(append([]byte(nil), r.b[start:r.off]...)))
	}
}

func tagHeaderLen(t Tag) int {
	if t.Number >= 15 {
		return 2
	}
	return 1
}

// Skip consumes one element: a primitive, or a whole constructed element
// from its opening tag to the matching closing tag.
func (r *Reader) Skip() error { return r.skip(0) }

func (r *Reader) skip(depth int) error {
	if depth > MaxNesting {
		return fmt.Errorf("constructed value nests deeper than %d: %w", MaxNesting, ErrTooLong)
	}
	t, _, err := r.next()
	if err != nil {
		return err
	}
	if t.Closing {
		return fmt.Errorf("unbalanced %s: %w", t, ErrBadTag)
	}
	if !t.Opening {
		return nil
	}
	for {
		c, err := r.Peek()
		if err != nil {
			return err
		}
		if c.Closing {
			if c.Number != t.Number {
				return fmt.Errorf("%s closes opening tag [%d]: %w", c, t.Number, ErrBadTag)
			}
			r.off += tagHeaderLen(c)
			return nil
		}
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
}

// AppendValues appends each value with its application tag (TypeRaw as
// received), the content of a property-value constructed element.
func AppendValues(b []byte, vs []Value) ([]byte, error) {
	var err error
	for _, v := range vs {
		if b, err = AppendApp(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}
