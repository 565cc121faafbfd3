package telemetry

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Bounds. Every length and count read from an input is checked against
// these (and against the bytes left) before anything is allocated, and the
// encoders refuse to produce more.
const (
	// MaxSeries is the most series one dictionary holds (and so one frame
	// or block). A site of 100 devices × 20 points has 2,000.
	MaxSeries = 1 << 16

	// MaxNameLen bounds a device or point name, in bytes. The site file
	// allows 64 (device.MaxNameLength); the room is for other protocols.
	MaxNameLen = 255

	// MaxNamesBytes bounds a dictionary's names as front-coded before
	// compression (about 4 bytes plus the differing suffixes per series).
	MaxNamesBytes = 4 << 20

	// MaxErrorLen bounds an error text, in bytes. Encoders cut longer texts
	// (see TruncateError); decoders reject them.
	MaxErrorLen = 200

	// MaxTextLen bounds a text value, in bytes: SNMP's DisplayString
	// (RFC 2579) and BACnet's names are at most 255 characters. Encoders
	// cut longer texts (see TruncateText); decoders reject them.
	MaxTextLen = 255

	// MaxSamples bounds the samples of one frame and of one block: about
	// 2 minutes of the 2,000 readings/s site. Decoding a frame or block
	// allocates at most about 80 bytes per sample.
	MaxSamples = 1 << 18

	// MaxSeqs bounds the outbox sequence numbers one block covers.
	MaxSeqs = 1 << 16

	// MaxGatewayLen bounds the gateway id carried in a block, in bytes.
	MaxGatewayLen = 255

	// MaxPayload bounds an encoded frame, block or dictionary, in bytes.
	// MQTT brokers often refuse far less (a cloud broker may stop at
	// 128 KiB): the uplink's batch settings keep blocks small, this is
	// only the decoder's safety bound.
	MaxPayload = 8 << 20
)

// Errors. Decoders wrap them with where in the input the fault is, in
// lower case: "decode frame: group 3: time 2: input ends early".
var (
	// ErrTruncated means the input ends before what it declares.
	ErrTruncated = errors.New("input ends early")
	// ErrCorrupt means the input is not a well-formed frame, block or
	// dictionary (a bad code, a count that does not add up, trailing
	// bytes, a duplicate series).
	ErrCorrupt = errors.New("input is malformed")
	// ErrVersion means the first byte is not a format this package knows:
	// another kind of payload (JSON starts with '{'), or a newer version.
	ErrVersion = errors.New("unknown format or version")
	// ErrTooLarge means a count or length exceeds one of the bounds above.
	ErrTooLarge = errors.New("exceeds a bound of the format")
	// ErrInvalid means the encoder was given something it cannot encode
	// (a series index outside the dictionary, an unknown quality, seqs not
	// increasing).
	ErrInvalid = errors.New("invalid input")
	// ErrDictMismatch means a frame was combined with a dictionary other
	// than the one its header names.
	ErrDictMismatch = errors.New("frame refers to another dictionary")
)

// Quality says how far a sample can be trusted. It is a small number on
// the wire; values after QualityError are free for later versions (a
// decoder of this version rejects them).
type Quality uint8

// Qualities, as in the JSON contract (device.Quality*).
const (
	QualityGood  Quality = 0 // read in the last cycle
	QualityStale Quality = 1 // the last value, but the last cycle could not read it
	QualityError Quality = 2 // the device refuses this point; the error says why

	maxQuality = QualityError
)

var qualityNames = [...]string{"good", "stale", "error"}

// String returns the JSON contract's name ("good", "stale", "error").
func (q Quality) String() string {
	if q <= maxQuality {
		return qualityNames[q]
	}
	return fmt.Sprintf("quality(%d)", uint8(q))
}

// Valid reports whether q is one of the qualities this version knows.
func (q Quality) Valid() bool { return q <= maxQuality }

// ParseQuality reads a quality name as String writes it.
func ParseQuality(s string) (Quality, error) {
	for i, n := range qualityNames {
		if n == s {
			return Quality(i), nil
		}
	}
	return 0, fmt.Errorf("unknown quality %q (known: good, stale, error)", s)
}

// MarshalText writes the name.
func (q Quality) MarshalText() ([]byte, error) {
	if !q.Valid() {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, q)
	}
	return []byte(q.String()), nil
}

// UnmarshalText reads the name.
func (q *Quality) UnmarshalText(b []byte) error {
	v, err := ParseQuality(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// Kind is what a Value holds.
type Kind uint8

// Value kinds.
const (
	KindAbsent Kind = 0 // no value (a point never read, or refused)
	KindNumber Kind = 1
	KindBool   Kind = 2
	KindText   Kind = 3 // version 2 of frames and blocks only

	maxKind = KindText
)

var kindNames = [...]string{"absent", "number", "bool", "text"}

// String returns "absent", "number", "bool" or "text".
func (k Kind) String() string {
	if k <= maxKind {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads a kind name as String writes it.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown value kind %q (known: absent, number, bool, text)", s)
}

// Value is a sample's value: absent, a number, a bool or a text. The zero
// Value is absent. Only the field of its kind is meaningful; encoders
// ignore the others and decoders leave them zero.
type Value struct {
	Num  float64
	Text string
	Kind Kind
	Bool bool
}

// Number returns a numeric Value; every float64 (NaN payloads, -0, ±Inf)
// comes back bit for bit.
func Number(f float64) Value { return Value{Kind: KindNumber, Num: f} }

// Boolean returns a bool Value.
func Boolean(b bool) Value { return Value{Kind: KindBool, Bool: b} }

// Text returns a text Value. Encoders keep at most MaxTextLen bytes of it
// (TruncateText); any bytes come back as they were, UTF-8 or not.
func Text(s string) Value { return Value{Kind: KindText, Text: s} }

// Equal reports whether v and w are the same value, comparing numbers bit
// for bit (so NaN equals the same NaN and -0 differs from 0).
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind {
		return false
	}
	switch v.Kind {
	case KindNumber:
		return math.Float64bits(v.Num) == math.Float64bits(w.Num)
	case KindBool:
		return v.Bool == w.Bool
	case KindText:
		return v.Text == w.Text
	}
	return true
}

// Sample is one reading of one series.
type Sample struct {
	Time    int64 // Unix milliseconds
	Value   Value
	Quality Quality
	Error   string // why the quality is not good; at most MaxErrorLen bytes are kept
}

// Equal reports whether s and o are the same sample (values bit for bit).
func (s Sample) Equal(o Sample) bool {
	return s.Time == o.Time && s.Quality == o.Quality && s.Error == o.Error && s.Value.Equal(o.Value)
}

// Series names one time series: a device's point. Names are unique across
// a site, so the pair is.
type Series struct {
	Device string
	Point  string
}

// String returns "device/point".
func (s Series) String() string { return s.Device + "/" + s.Point }

// TruncateError cuts an error text to at most MaxErrorLen bytes without
// splitting a UTF-8 sequence: what an encoder keeps of it.
func TruncateError(s string) string { return truncate(s, MaxErrorLen) }

// TruncateText cuts a text value to at most MaxTextLen bytes without
// splitting a UTF-8 sequence: what an encoder keeps of it.
func TruncateText(s string) string { return truncate(s, MaxTextLen) }

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// checkSample checks what an encoder cannot encode.
func checkSample(s *Sample) error {
	if s.Value.Kind > maxKind {
		return fmt.Errorf("%w: value kind %d", ErrInvalid, s.Value.Kind)
	}
	if !s.Quality.Valid() {
		return fmt.Errorf("%w: quality %d", ErrInvalid, s.Quality)
	}
	return nil
}
