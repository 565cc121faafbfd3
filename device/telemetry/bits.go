package telemetry

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
)

// castagnoli is CRC-32C, which amd64 and arm64 compute in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal appends the CRC-32C of dst[start:] (little endian): every frame,
// block and dictionary ends with one, so a bit flipped on flash or on the
// way is an error rather than a wrong reading (bbolt keeps no checksums
// of its values).
func seal(dst []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// open checks an input's size, format byte (one of magics: the versions
// the caller reads) and checksum, and returns a reader of what lies
// between the format byte and the checksum.
func open(src []byte, kind string, magics ...byte) (*reader, error) {
	if len(src) > MaxPayload {
		return nil, fmt.Errorf("%d bytes is more than %d: %w", len(src), MaxPayload, ErrTooLarge)
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("format byte: %w", ErrTruncated)
	}
	if !slices.Contains(magics, src[0]) {
		return nil, fmt.Errorf("format byte %#02x is not a %s (%#02x): %w", src[0], kind, magics, ErrVersion)
	}
	if len(src) < 5 {
		return nil, fmt.Errorf("%d bytes is too short for a %s: %w", len(src), kind, ErrTruncated)
	}
	body := src[:len(src)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(src[len(body):]); got != want {
		return nil, fmt.Errorf("checksum %08x, the %s says %08x (damaged or cut): %w", got, kind, want, ErrCorrupt)
	}
	return &reader{b: body, off: 1}, nil
}

// reader reads the byte-aligned parts of a payload. Every read checks the
// bytes left and names what it was reading when they run out.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) byte(what string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("%s: %w", what, ErrTruncated)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		return 0, fmt.Errorf("%s: %w", what, ErrTruncated)
	case n < 0:
		return 0, fmt.Errorf("%s: varint longer than 64 bits: %w", what, ErrCorrupt)
	}
	r.off += n
	return v, nil
}

// count reads a uvarint that sizes something and checks it against max.
func (r *reader) count(what string, max int) (int, error) {
	v, err := r.uvarint(what)
	if err != nil {
		return 0, err
	}
	if max < 0 || v > uint64(max) {
		return 0, fmt.Errorf("%s: %d is more than %d: %w", what, v, max, ErrTooLarge)
	}
	return int(v), nil
}

func (r *reader) varint(what string) (int64, error) {
	u, err := r.uvarint(what)
	return unzigzag(u), err
}

func (r *reader) bytes(n int, what string) ([]byte, error) {
	if n > r.left() {
		return nil, fmt.Errorf("%s: %d bytes declared, %d left: %w", what, n, r.left(), ErrTruncated)
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

// text reads a length-prefixed string of at most max bytes.
func (r *reader) text(what string, max int) (string, error) {
	n, err := r.count(what+" length", max)
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n, what)
	return string(b), err
}

func appendText(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendVarint(dst []byte, v int64) []byte { return binary.AppendUvarint(dst, zigzag(v)) }

// bitWriter appends bits most significant first.
type bitWriter struct {
	buf []byte
	acc uint64 // the last n bits written, not yet in buf
	n   uint
}

func (w *bitWriter) reset(buf []byte) { *w = bitWriter{buf: buf} }

// bits writes the low n bits of v (n ≤ 64).
func (w *bitWriter) bits(v uint64, n uint) {
	if n == 0 {
		return
	}
	if n < 64 {
		v &= 1<<n - 1
	}
	if free := 64 - w.n; n >= free {
		// Fill the accumulator, flush it, keep the rest.
		rest := n - free
		word := w.acc<<free | v>>rest // acc<<64 is 0 in Go
		w.buf = binary.BigEndian.AppendUint64(w.buf, word)
		w.acc, w.n = v&(1<<rest-1), rest
		return
	}
	w.acc = w.acc<<n | v
	w.n += n
}

func (w *bitWriter) bit(b bool) {
	if b {
		w.bits(1, 1)
	} else {
		w.bits(0, 1)
	}
}

func (w *bitWriter) len() int { return len(w.buf)*8 + int(w.n) }

// appendTo appends everything written to o, bit-exactly.
func (w *bitWriter) appendTo(o *bitWriter) {
	for i := 0; i+8 <= len(w.buf); i += 8 {
		o.bits(binary.BigEndian.Uint64(w.buf[i:]), 64)
	}
	o.bits(w.acc, w.n)
}

// finish pads the last byte with zero bits and returns the bytes.
func (w *bitWriter) finish() []byte {
	for w.n >= 8 {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.n)))
	}
	w.acc, w.n = 0, 0
	return w.buf
}

// Variable-length code for unsigned numbers in the bit stream, after
// Gorilla's delta-of-delta buckets, tuned for zig-zagged deltas (a tenth
// of a degree, a millisecond of jitter, ±100 ms of poll jitter):
//
//	0                     0
//	10    + 3 bits        1 .. 8
//	110   + 6 bits        9 .. 72
//	1110  + 9 bits        73 .. 584
//	11110 + 16 bits       585 .. 66,120
//	11111 + 64 bits       anything (the raw value)
var vlcBuckets = [...]struct {
	prefix, prefixLen, width uint
	base                     uint64
}{
	{0b10, 2, 3, 1},
	{0b110, 3, 6, 9},
	{0b1110, 4, 9, 73},
	{0b11110, 5, 16, 585},
}

func (w *bitWriter) vlc(u uint64) {
	if u == 0 {
		w.bits(0, 1)
		return
	}
	for _, b := range vlcBuckets {
		if u-b.base < 1<<b.width {
			w.bits(uint64(b.prefix)<<b.width|(u-b.base), b.prefixLen+b.width)
			return
		}
	}
	w.bits(0b11111, 5)
	w.bits(u, 64)
}

// expGolomb writes u as an exponential-Golomb code of order k: q = u>>k
// as n-1 zeros and q+1 in n bits, then the k low bits of u. Values below
// 2^k take k+1 bits, and each doubling beyond costs 2 more, so an outlier
// costs little. (q+1 has 65 bits for the largest q.)
func (w *bitWriter) expGolomb(u uint64, k uint) {
	q := u >> k
	if q == math.MaxUint64 {
		w.bits(0, 64)
		w.bits(1, 1)
		w.bits(0, 64)
	} else {
		n := uint(bits.Len64(q + 1))
		w.bits(0, n-1)
		w.bits(q+1, n)
	}
	w.bits(u, k)
}

// expGolombLen is the number of bits expGolomb writes.
func expGolombLen(u uint64, k uint) int {
	q := u >> k
	n := 65
	if q != math.MaxUint64 {
		n = bits.Len64(q + 1)
	}
	return 2*n - 1 + int(k)
}

// lenPrefixed writes u as 7 bits of bit length, then its bits: for a
// first value, which has nothing to be small against.
func (w *bitWriter) lenPrefixed(u uint64) {
	n := uint(bits.Len64(u))
	w.bits(uint64(n), 7)
	w.bits(u, n)
}

// bitReader reads what bitWriter wrote.
type bitReader struct {
	b   []byte
	pos uint // in bits
}

func (r *bitReader) left() int { return len(r.b)*8 - int(r.pos) }

// bits reads n ≤ 64 bits.
func (r *bitReader) bits(n uint, what string) (uint64, error) {
	if int(n) > r.left() {
		return 0, fmt.Errorf("%s: %w", what, ErrTruncated)
	}
	if n > 56 {
		hi, _ := r.bits(n-32, what)
		lo, _ := r.bits(32, what)
		return hi<<32 | lo, nil
	}
	var v uint64
	if n == 0 {
		return 0, nil
	}
	byteOff, shift := r.pos/8, r.pos%8
	if int(byteOff)+8 <= len(r.b) {
		v = binary.BigEndian.Uint64(r.b[byteOff:]) << shift >> (64 - n)
	} else {
		for i := uint(0); i < n; i++ {
			p := r.pos + i
			v = v<<1 | uint64(r.b[p/8]>>(7-p%8)&1)
		}
	}
	r.pos += n
	return v, nil
}

func (r *bitReader) bit(what string) (bool, error) {
	v, err := r.bits(1, what)
	return v == 1, err
}

func (r *bitReader) vlc(what string) (uint64, error) {
	// The prefix is at most 5 ones.
	ones := 0
	for ones < 5 {
		b, err := r.bit(what)
		if err != nil {
			return 0, err
		}
		if !b {
			break
		}
		ones++
	}
	switch ones {
	case 0:
		return 0, nil
	case 5:
		return r.bits(64, what)
	}
	b := vlcBuckets[ones-1]
	v, err := r.bits(b.width, what)
	return v + b.base, err
}

func (r *bitReader) expGolomb(k uint, what string) (uint64, error) {
	zeros := uint(0)
	for {
		n := uint(min(56, r.left()))
		if n == 0 {
			return 0, fmt.Errorf("%s: %w", what, ErrTruncated)
		}
		v, _ := r.peek(n)
		lz := uint(bits.LeadingZeros64(v << (64 - n)))
		if lz < n {
			zeros += lz
			r.pos += lz
			break
		}
		zeros += n
		r.pos += n
		if zeros > 64 {
			return 0, fmt.Errorf("%s: more than 64 leading zeros: %w", what, ErrCorrupt)
		}
	}
	if zeros > 64 {
		return 0, fmt.Errorf("%s: more than 64 leading zeros: %w", what, ErrCorrupt)
	}
	var q uint64
	if zeros == 64 {
		if one, err := r.bits(1, what); err != nil || one != 1 {
			return 0, fmt.Errorf("%s: %w", what, ErrTruncated)
		}
		rest, err := r.bits(64, what)
		if err != nil {
			return 0, err
		}
		if rest != 0 {
			return 0, fmt.Errorf("%s: beyond 2^64: %w", what, ErrCorrupt)
		}
		q = math.MaxUint64
	} else {
		w, err := r.bits(zeros+1, what)
		if err != nil {
			return 0, err
		}
		q = w - 1
	}
	if k > 0 && q > math.MaxUint64>>k {
		return 0, fmt.Errorf("%s: beyond 2^64: %w", what, ErrCorrupt)
	}
	low, err := r.bits(k, what)
	if err != nil {
		return 0, err
	}
	return q<<k | low, nil
}

func (r *bitReader) lenPrefixed(what string) (uint64, error) {
	n, err := r.bits(7, what)
	if err != nil {
		return 0, err
	}
	if n > 64 {
		return 0, fmt.Errorf("%s: %d bits: %w", what, n, ErrCorrupt)
	}
	return r.bits(uint(n), what)
}

// peek returns the next n ≤ 56 bits (n ≤ left) without consuming them.
func (r *bitReader) peek(n uint) (uint64, error) {
	pos := r.pos
	v, err := r.bits(n, "")
	r.pos = pos
	return v, err
}

// count reads a vlc that sizes something, bounded by max.
func (r *bitReader) count(what string, max int) (int, error) {
	v, err := r.vlc(what)
	if err != nil {
		return 0, err
	}
	if max < 0 || v > uint64(max) {
		return 0, fmt.Errorf("%s: %d is more than %d: %w", what, v, max, ErrTooLarge)
	}
	return int(v), nil
}

// end checks that only zero padding is left.
func (r *bitReader) end(what string) error {
	left := r.left()
	if left >= 8 {
		return fmt.Errorf("%s: %d bytes after the end: %w", what, left/8, ErrCorrupt)
	}
	if left > 0 {
		if v, _ := r.bits(uint(left), what); v != 0 {
			return fmt.Errorf("%s: padding bits are not zero: %w", what, ErrCorrupt)
		}
	}
	return nil
}

// leading and trailing zeros of an XOR on width bits.
func zeros(x uint64, width uint) (lead, trail uint) {
	return uint(bits.LeadingZeros64(x)) - (64 - width), uint(bits.TrailingZeros64(x))
}
