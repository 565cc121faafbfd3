package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxDownlinks bounds the downlinks of one declarative codec.
const MaxDownlinks = 16

// ErrRange means a value that the downlink's type cannot carry.
var ErrRange = errors.New("value out of range")

// Downlink is a value the gateway may write to a device: one number,
// encoded alone as the whole payload of a downlink on its own port, raw =
// (value - Offset) / Scale, rounded to the nearest integer for the integer
// types. It is the reverse of a Field without a mask.
type Downlink struct {
	Name  string    `json:"name" yaml:"name"`   // the point written
	FPort uint8     `json:"fport" yaml:"fport"` // 1..223
	Type  FieldType `json:"type" yaml:"type"`
	Order ByteOrder `json:"order,omitempty" yaml:"order,omitempty"`
	// Scale divides the value; 0 means 1.
	Scale  float64 `json:"scale,omitempty" yaml:"scale,omitempty"`
	Offset float64 `json:"offset,omitempty" yaml:"offset,omitempty"`
	Unit   string  `json:"unit,omitempty" yaml:"unit,omitempty"`
}

// ValidateDownlinks reports every problem of a codec's downlinks, with
// List "downlinks"; nil means none. A downlink may share its name with a
// field (the device reports the value it was given).
func ValidateDownlinks(ds []Downlink) []Problem {
	var ps []Problem
	add := func(i int, key, format string, args ...any) {
		ps = append(ps, Problem{List: "downlinks", Field: i, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if len(ds) > MaxDownlinks {
		add(-1, "downlinks", "%d downlinks, at most %d", len(ds), MaxDownlinks)
	}
	seen := map[string]int{}
	for i, d := range ds {
		at := func(key, format string, args ...any) { add(i, key, format, args...) }
		checkShape(at, "downlink", "downlinks", i, seen, d.Name, d.Type, d.Order, d.Scale, d.Offset)
		if d.FPort < 1 || d.FPort > 223 {
			add(i, "fport", "%d is outside 1..223 (the application ports)", d.FPort)
		}
	}
	return ps
}

// Encode returns the payload that carries v. A value the type cannot
// hold after scaling is refused with ErrRange, never wrapped around.
func (d Downlink) Encode(v float64) ([]byte, error) {
	scale := d.Scale
	if scale == 0 {
		scale = 1
	}
	raw := (v - d.Offset) / scale
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return nil, fmt.Errorf("%s: %v: %w", d.Name, v, ErrRange)
	}
	var u uint32
	if d.Type == Float32 {
		if math.Abs(raw) > math.MaxFloat32 {
			return nil, fmt.Errorf("%s: %v does not fit a float32: %w", d.Name, v, ErrRange)
		}
		u = math.Float32bits(float32(raw))
	} else {
		lo, hi := d.Type.limits()
		r := math.Round(raw)
		if hi == 0 || r < lo || r > hi {
			return nil, fmt.Errorf("%s: %v is raw %v, outside %v..%v of %s: %w", d.Name, v, r, lo, hi, d.Type, ErrRange)
		}
		u = uint32(int64(r))
	}
	b := make([]byte, d.Type.Size())
	switch len(b) {
	case 1:
		b[0] = byte(u)
	case 2:
		if d.Order == LittleEndian {
			binary.LittleEndian.PutUint16(b, uint16(u))
		} else {
			binary.BigEndian.PutUint16(b, uint16(u))
		}
	case 4:
		if d.Order == LittleEndian {
			binary.LittleEndian.PutUint32(b, u)
		} else {
			binary.BigEndian.PutUint32(b, u)
		}
	}
	return b, nil
}

// limits returns the raw range of an integer type (0, 0 for others).
func (t FieldType) limits() (lo, hi float64) {
	switch t {
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Uint8:
		return 0, math.MaxUint8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Uint16:
		return 0, math.MaxUint16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Uint32:
		return 0, math.MaxUint32
	}
	return 0, 0
}
