package payload

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// MaxFields bounds the fields of one declarative codec.
const MaxFields = 64

// FieldType is the type of a declarative codec's field on the wire.
type FieldType uint8

// Field types.
const (
	Int8 FieldType = iota + 1
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Float32
)

var fieldTypeNames = [...]string{"", "int8", "uint8", "int16", "uint16", "int32", "uint32", "float32"}

// String is the site file's name of the type.
func (t FieldType) String() string {
	if t > 0 && int(t) < len(fieldTypeNames) {
		return fieldTypeNames[t]
	}
	return fmt.Sprintf("FieldType(%d)", uint8(t))
}

// ParseFieldType accepts a name String returns.
func ParseFieldType(s string) (FieldType, error) {
	for i := 1; i < len(fieldTypeNames); i++ {
		if strings.EqualFold(s, fieldTypeNames[i]) {
			return FieldType(i), nil
		}
	}
	return 0, fmt.Errorf("type %q: want one of %s", s, strings.Join(fieldTypeNames[1:], ", "))
}

// MarshalText writes String.
func (t FieldType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses what MarshalText writes.
func (t *FieldType) UnmarshalText(b []byte) error {
	v, err := ParseFieldType(string(b))
	*t = v
	return err
}

// Size is the type's size in bytes (0 for an invalid type).
func (t FieldType) Size() int {
	switch t {
	case Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	}
	return 0
}

func (t FieldType) signed() bool { return t == Int8 || t == Int16 || t == Int32 }

// ByteOrder is a field's byte order.
type ByteOrder uint8

// Byte orders. The zero value is big-endian, the usual order of sensor
// payloads.
const (
	BigEndian ByteOrder = iota
	LittleEndian
)

// String is the site file's name: "big" or "little".
func (o ByteOrder) String() string {
	switch o {
	case BigEndian:
		return "big"
	case LittleEndian:
		return "little"
	}
	return fmt.Sprintf("ByteOrder(%d)", uint8(o))
}

// ParseByteOrder accepts "big" or "little" (and "be", "le").
func ParseByteOrder(s string) (ByteOrder, error) {
	switch strings.ToLower(s) {
	case "big", "be", "":
		return BigEndian, nil
	case "little", "le":
		return LittleEndian, nil
	}
	return 0, fmt.Errorf("order %q: want big or little", s)
}

// MarshalText writes String.
func (o ByteOrder) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses what MarshalText writes.
func (o *ByteOrder) UnmarshalText(b []byte) error {
	v, err := ParseByteOrder(string(b))
	*o = v
	return err
}

// Field is one value of a declarative codec: value = raw * Scale + Offset,
// where raw is the integer (or float32) at byte Byte, masked with Mask and
// shifted down to the mask's lowest bit when a mask is given.
type Field struct {
	Name  string    `json:"name" yaml:"name"`
	Byte  int       `json:"byte" yaml:"byte"` // offset of the first byte in the payload
	Type  FieldType `json:"type" yaml:"type"`
	Order ByteOrder `json:"order,omitempty" yaml:"order,omitempty"`
	// Scale multiplies the raw value; 0 means 1.
	Scale  float64 `json:"scale,omitempty" yaml:"scale,omitempty"`
	Offset float64 `json:"offset,omitempty" yaml:"offset,omitempty"`
	// Mask selects bits of an integer field (0: all); the selected bits
	// are read as an unsigned number.
	Mask uint32 `json:"mask,omitempty" yaml:"mask,omitempty"`
	Unit string `json:"unit,omitempty" yaml:"unit,omitempty"`
}

// Problem is one thing wrong with a codec definition.
type Problem struct {
	// List names the list the index is in: "" for fields, "downlinks".
	List string
	// Field is the index of the field concerned, -1 for the codec itself.
	Field int
	// Key is the field's key concerned ("type", "byte"), empty for the field.
	Key string
	Msg string
}

// Path is "fields[2].type" or "downlinks[0].fport" (or "fields", "name"
// for the codec).
func (p Problem) Path() string {
	if p.Field < 0 {
		return p.Key
	}
	list := p.List
	if list == "" {
		list = "fields"
	}
	s := fmt.Sprintf("%s[%d]", list, p.Field)
	if p.Key != "" {
		s += "." + p.Key
	}
	return s
}

func (p Problem) String() string { return p.Path() + ": " + p.Msg }

// ValidationError lists every problem of a codec definition.
type ValidationError struct {
	Codec    string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("codec %q: %s", e.Codec, strings.Join(lines, "; "))
}

// Unwrap makes errors.Is(err, ErrInvalidCodec) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalidCodec }

// Declarative is a codec defined as data in the site file.
type Declarative struct {
	name   string
	fields []Field
}

// Validate reports every problem of a codec definition, each with the
// index of its field; nil means none.
func Validate(name string, fields []Field) []Problem {
	var ps []Problem
	add := func(i int, key, format string, args ...any) {
		ps = append(ps, Problem{Field: i, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if name == "" || name == CayenneLPPName {
		add(-1, "name", "a codec needs a name other than %q", CayenneLPPName)
	}
	switch {
	case len(fields) == 0:
		add(-1, "fields", "a codec needs at least one field")
	case len(fields) > MaxFields:
		add(-1, "fields", "%d fields, at most %d", len(fields), MaxFields)
	}
	seen := map[string]int{}
	for i, f := range fields {
		at := func(key, format string, args ...any) { add(i, key, format, args...) }
		checkShape(at, "field", "fields", i, seen, f.Name, f.Type, f.Order, f.Scale, f.Offset)
		size := f.Type.Size()
		if f.Byte < 0 || f.Byte+max(size, 1) > MaxPayload {
			add(i, "byte", "%d: the field must lie within the %d bytes of a payload", f.Byte, MaxPayload)
		}
		if f.Mask != 0 {
			if f.Type == Float32 {
				add(i, "mask", "a float32 field cannot be masked")
			} else if size > 0 && size < 4 && f.Mask>>(8*size) != 0 {
				add(i, "mask", "%#x has bits beyond the %d bits of %s", f.Mask, 8*size, f.Type)
			}
		}
	}
	return ps
}

// checkShape reports what a field and a downlink share: a name unique in
// its list, a type, a byte order, a finite scale and offset.
func checkShape(add func(key, format string, args ...any), what, list string, i int, seen map[string]int, name string, t FieldType, o ByteOrder, scale, offset float64) {
	switch {
	case name == "":
		add("name", "a %s needs a name", what)
	case !validName(name):
		add("name", "%q: use lower-case letters, digits and _", name)
	default:
		if j, dup := seen[name]; dup {
			add("name", "%q is already the name of %s[%d]", name, list, j)
		}
		seen[name] = i
	}
	if t.Size() == 0 {
		add("type", "want one of %s", strings.Join(fieldTypeNames[1:], ", "))
	}
	if o > LittleEndian {
		add("order", "want big or little")
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		add("scale", "must be a finite number")
	}
	if math.IsNaN(offset) || math.IsInf(offset, 0) {
		add("offset", "must be a finite number")
	}
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// NewDeclarative checks a definition and returns its codec, or a
// *ValidationError with every problem.
func NewDeclarative(name string, fields []Field) (*Declarative, error) {
	if ps := Validate(name, fields); ps != nil {
		return nil, &ValidationError{Codec: name, Problems: ps}
	}
	return &Declarative{name: name, fields: append([]Field(nil), fields...)}, nil
}

// Name is the codec's name.
func (d *Declarative) Name() string { return d.name }

// Fields returns a copy of the definition.
func (d *Declarative) Fields() []Field { return append([]Field(nil), d.fields...) }

// Decode reads every field; a payload too short for any of them is
// refused whole (ErrTruncated, naming the field). Bytes beyond the last
// field are ignored.
func (d *Declarative) Decode(_ uint8, b []byte) ([]Value, error) {
	out := make([]Value, 0, len(d.fields))
	for i, f := range d.fields {
		size := f.Type.Size()
		if f.Byte+size > len(b) {
			return nil, fmt.Errorf("codec %s: fields[%d] (%s): %w", d.name, i, f.Name, truncated(f.Type.String(), f.Byte, size, max(0, len(b)-f.Byte)))
		}
		raw := b[f.Byte : f.Byte+size]
		var u uint32
		switch size {
		case 1:
			u = uint32(raw[0])
		case 2:
			if f.Order == LittleEndian {
				u = uint32(binary.LittleEndian.Uint16(raw))
			} else {
				u = uint32(binary.BigEndian.Uint16(raw))
			}
		case 4:
			if f.Order == LittleEndian {
				u = binary.LittleEndian.Uint32(raw)
			} else {
				u = binary.BigEndian.Uint32(raw)
			}
		}
		var v float64
		switch {
		case f.Type == Float32:
			v = float64(math.Float32frombits(u))
		case f.Mask != 0:
			v = float64((u & f.Mask) >> bits.TrailingZeros32(f.Mask))
		case f.Type.signed():
			shift := 32 - 8*size
			v = float64(int32(u<<shift) >> shift)
		default:
			v = float64(u)
		}
		scale := f.Scale
		if scale == 0 {
			scale = 1
		}
		out = append(out, Value{Name: f.Name, Value: v*scale + f.Offset, Unit: f.Unit})
	}
	return out, nil
}
