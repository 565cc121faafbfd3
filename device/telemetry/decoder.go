package telemetry

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Decoder decodes frames, blocks and dictionaries, reusing its DEFLATE
// state and scratch space. The zero Decoder is ready; it is not safe for
// concurrent use. Decoded values share nothing with the Decoder or the
// input.
type Decoder struct {
	zr      io.ReadCloser // flate reader, reset for each input
	zsrc    bytes.Reader
	body    []byte
	entries []uint64
}

// inflate decompresses exactly n bytes from a DEFLATE stream that must end
// with the input, into dst (grown as needed).
func (d *Decoder) inflate(dst, z []byte, n int) ([]byte, error) {
	if n > len(z)*flateRatio+64 {
		return nil, fmt.Errorf("%d bytes cannot come from %d compressed bytes: %w", n, len(z), ErrCorrupt)
	}
	d.zsrc.Reset(z)
	if d.zr == nil {
		d.zr = flate.NewReader(&d.zsrc)
	} else if err := d.zr.(flate.Resetter).Reset(&d.zsrc, nil); err != nil {
		return nil, fmt.Errorf("deflate: %v: %w", err, ErrCorrupt)
	}
	out := slices.Grow(dst[:0], n)[:n]
	if _, err := io.ReadFull(d.zr, out); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("shorter than the %d bytes declared: %w", n, ErrCorrupt)
		}
		return nil, fmt.Errorf("deflate: %v: %w", err, ErrCorrupt)
	}
	var one [1]byte
	if k, err := d.zr.Read(one[:]); k != 0 || err != io.EOF {
		return nil, fmt.Errorf("longer than the %d bytes declared: %w", n, ErrCorrupt)
	}
	if d.zsrc.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the compressed data: %w", d.zsrc.Len(), ErrCorrupt)
	}
	return out, nil
}
