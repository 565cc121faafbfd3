package telemetry

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
)

// DictID identifies a dictionary by its content: the first 8 bytes of a
// SHA-256 over its canonical (front-coded, uncompressed) names. Equal
// series lists have equal ids, whoever built them, so a store keeps each
// dictionary once.
type DictID [8]byte

// String returns the id in hex.
func (id DictID) String() string { return hex.EncodeToString(id[:]) }

// ParseDictID reads an id as String writes it.
func ParseDictID(s string) (DictID, error) {
	var id DictID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("dictionary id %q is not 16 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// Dictionary is an ordered list of distinct series; frames refer to series
// by their index in it. A Dictionary is immutable and safe for concurrent
// use.
type Dictionary struct {
	series []Series
	index  map[Series]int
	raw    []byte // front-coded names
	id     DictID
}

const (
	magicDict  = 0xD1 // dictionary, version 1
	dictPlain  = 0    // front-coded names as they are
	dictFlate  = 1    // front-coded names, DEFLATE-compressed (RFC 1951)
	flateRatio = 1032 // DEFLATE's largest expansion on decompression, rounded up
)

// NewDictionary returns a dictionary of series in the given order. Names
// are at most MaxNameLen bytes, series distinct, at most MaxSeries.
func NewDictionary(series []Series) (*Dictionary, error) {
	d, err := newDictionary(series, true)
	if err != nil {
		return nil, fmt.Errorf("dictionary: %w", err)
	}
	return d, nil
}

// newDictionary builds a dictionary; the id only when asked (a block's
// dictionary needs none).
func newDictionary(series []Series, withID bool) (*Dictionary, error) {
	d := &Dictionary{series: slices.Clone(series), index: make(map[Series]int, len(series))}
	raw, err := checkNames(nil, d.series, d.index)
	if err != nil {
		return nil, err
	}
	d.raw = raw
	if withID {
		d.id = dictID(len(d.series), d.raw)
	}
	return d, nil
}

// checkNames checks series against the bounds and for duplicates (filling
// index, which must be empty) and appends their front-coded names to dst.
func checkNames(dst []byte, series []Series, index map[Series]int) ([]byte, error) {
	if len(series) > MaxSeries {
		return nil, fmt.Errorf("%d series is more than %d: %w", len(series), MaxSeries, ErrTooLarge)
	}
	for i, s := range series {
		if len(s.Device) > MaxNameLen || len(s.Point) > MaxNameLen {
			return nil, fmt.Errorf("series %d (%.40q): a name is longer than %d bytes: %w", i, s.String(), MaxNameLen, ErrTooLarge)
		}
		if j, dup := index[s]; dup {
			return nil, fmt.Errorf("series %d (%q) is also series %d: %w", i, s.String(), j, ErrInvalid)
		}
		index[s] = i
	}
	raw := frontCode(dst, series)
	if len(raw)-len(dst) > MaxNamesBytes {
		return nil, fmt.Errorf("names take %d bytes, more than %d: %w", len(raw)-len(dst), MaxNamesBytes, ErrTooLarge)
	}
	return raw, nil
}

// With returns a dictionary with d's series (same indexes) followed by
// those of add not yet in d, or d itself when there are none: how a
// dictionary grows when the site gains points, so that frames written
// before stay valid with either.
func (d *Dictionary) With(add ...Series) (*Dictionary, error) {
	var extra []Series
	seen := map[Series]bool{}
	for _, s := range add {
		if _, ok := d.index[s]; !ok && !seen[s] {
			seen[s] = true
			extra = append(extra, s)
		}
	}
	if len(extra) == 0 {
		return d, nil
	}
	return NewDictionary(append(append(make([]Series, 0, len(d.series)+len(extra)), d.series...), extra...))
}

// ID returns the dictionary's content id.
func (d *Dictionary) ID() DictID { return d.id }

// Len returns the number of series.
func (d *Dictionary) Len() int { return len(d.series) }

// Series returns series i; false when i is outside the dictionary.
func (d *Dictionary) Series(i int) (Series, bool) {
	if i < 0 || i >= len(d.series) {
		return Series{}, false
	}
	return d.series[i], true
}

// Index returns the index of s; false when s is not in the dictionary.
func (d *Dictionary) Index(s Series) (int, bool) {
	i, ok := d.index[s]
	return i, ok
}

// All returns a copy of the series in order.
func (d *Dictionary) All() []Series { return append([]Series(nil), d.series...) }

// MarshalBinary encodes the dictionary (see the package doc).
func (d *Dictionary) MarshalBinary() ([]byte, error) { return d.AppendBinary(nil) }

// AppendBinary appends the encoded dictionary to dst: the front-coded
// names, DEFLATE-compressed when that is smaller.
func (d *Dictionary) AppendBinary(dst []byte) ([]byte, error) {
	var z dictCompressor
	return z.append(dst, len(d.series), d.raw), nil
}

// dictCompressor compresses dictionaries: names are encoded rarely and
// sent often, so the best compression.
type dictCompressor struct{ z compressor }

// append encodes a dictionary of n series with front-coded names raw.
func (c *dictCompressor) append(dst []byte, n int, raw []byte) []byte {
	start := len(dst)
	dst = append(dst, magicDict)
	dst = binary.AppendUvarint(dst, uint64(n))
	if z := c.z.compress(raw, flate.BestCompression); z != nil {
		dst = append(dst, dictFlate)
		dst = binary.AppendUvarint(dst, uint64(len(raw)))
		return seal(append(dst, z...), start)
	}
	dst = append(dst, dictPlain)
	return seal(append(dst, raw...), start)
}

// compressor deflates, keeping its DEFLATE state (about 1 MiB) between
// calls.
type compressor struct {
	buf   bytes.Buffer
	w     *flate.Writer
	level int
}

// compress returns src DEFLATEd at level, or nil when that would not save
// bytes (a length varint included).
func (c *compressor) compress(src []byte, level int) []byte {
	if len(src) < 64 {
		return nil
	}
	c.buf.Reset()
	if c.w == nil || c.level != level {
		c.w, _ = flate.NewWriter(&c.buf, level) // the levels used are valid
		c.level = level
	} else {
		c.w.Reset(&c.buf)
	}
	_, _ = c.w.Write(src) // a bytes.Buffer does not fail
	_ = c.w.Close()
	if c.buf.Len()+uvarintLen(uint64(len(src))) >= len(src) {
		return nil
	}
	return c.buf.Bytes()
}

// DecodeDictionary decodes what AppendBinary wrote.
func DecodeDictionary(src []byte) (*Dictionary, error) {
	var dec Decoder
	return dec.DecodeDictionary(src)
}

// DecodeDictionary is the package's DecodeDictionary with d's scratch
// space.
func (dec *Decoder) DecodeDictionary(src []byte) (*Dictionary, error) {
	d, err := dec.decodeDictionary(src, true)
	if err != nil {
		return nil, fmt.Errorf("decode dictionary: %w", err)
	}
	return d, nil
}

// decodeDictionary decodes a dictionary; its id only when asked.
func (dec *Decoder) decodeDictionary(src []byte, withID bool) (*Dictionary, error) {
	r, err := open(src, "dictionary", magicDict)
	if err != nil {
		return nil, err
	}
	n, err := r.count("series count", MaxSeries)
	if err != nil {
		return nil, err
	}
	mode, err := r.byte("names encoding")
	if err != nil {
		return nil, err
	}
	var raw []byte
	switch mode {
	case dictPlain:
		raw = r.b[r.off:]
	case dictFlate:
		rawLen, err := r.count("names length", MaxNamesBytes)
		if err != nil {
			return nil, err
		}
		raw, err = dec.inflate(nil, r.b[r.off:], rawLen)
		if err != nil {
			return nil, fmt.Errorf("names: %w", err)
		}
	default:
		return nil, fmt.Errorf("names encoding %d is unknown: %w", mode, ErrCorrupt)
	}
	// Every series takes at least 4 bytes (four varints).
	if n > len(raw)/4 {
		return nil, fmt.Errorf("%d series cannot fit in %d bytes of names: %w", n, len(raw), ErrTruncated)
	}
	series, err := unfrontCode(raw, n)
	if err != nil {
		return nil, err
	}
	d := &Dictionary{series: series, index: make(map[Series]int, n), raw: raw}
	if withID {
		d.id = dictID(n, raw)
	}
	for i, s := range series {
		if j, dup := d.index[s]; dup {
			return nil, fmt.Errorf("series %d (%q) is also series %d: %w", i, s.String(), j, ErrCorrupt)
		}
		d.index[s] = i
	}
	if mode == dictPlain {
		d.raw = slices.Clone(raw) // do not keep the caller's buffer
	}
	return d, nil
}

func dictID(n int, raw []byte) DictID {
	h := sha256.New()
	h.Write([]byte{magicDict})
	h.Write(binary.AppendUvarint(nil, uint64(n)))
	h.Write(raw)
	var id DictID
	copy(id[:], h.Sum(nil))
	return id
}

// frontCode writes each name as the length of the prefix it shares with
// the same name of the series before, then the rest: a device's name
// costs 2 bytes after its first point, and points numbered alike share
// their stems.
func frontCode(out []byte, series []Series) []byte {
	var prevDev, prevPt string
	for _, s := range series {
		out = appendFront(out, prevDev, s.Device)
		out = appendFront(out, prevPt, s.Point)
		prevDev, prevPt = s.Device, s.Point
	}
	return out
}

func appendFront(dst []byte, prev, s string) []byte {
	k := 0
	for k < len(prev) && k < len(s) && prev[k] == s[k] {
		k++
	}
	dst = binary.AppendUvarint(dst, uint64(k))
	return appendText(dst, s[k:])
}

func unfrontCode(raw []byte, n int) ([]Series, error) {
	r := &reader{b: raw}
	out := make([]Series, n)
	var prevDev, prevPt string
	var err error
	for i := range out {
		if prevDev, err = readFront(r, prevDev); err != nil {
			return nil, fmt.Errorf("series %d device: %w", i, err)
		}
		if prevPt, err = readFront(r, prevPt); err != nil {
			return nil, fmt.Errorf("series %d point: %w", i, err)
		}
		out[i] = Series{Device: prevDev, Point: prevPt}
	}
	if r.left() != 0 {
		return nil, fmt.Errorf("%d bytes after the last name: %w", r.left(), ErrCorrupt)
	}
	return out, nil
}

func readFront(r *reader, prev string) (string, error) {
	k, err := r.count("shared prefix", len(prev))
	if err != nil {
		return "", err
	}
	suffix, err := r.text("name", MaxNameLen-k)
	if err != nil {
		return "", err
	}
	if k == len(prev) && suffix == "" {
		return prev, nil // the same name: no new string
	}
	return prev[:k] + suffix, nil
}
