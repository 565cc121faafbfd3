package telemetry

import (
	"cmp"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Frame is what the store keeps per group commit: the samples of every
// series read in about one commit interval. It names its dictionary by id
// and its series by index in it, and decodes on its own.
type Frame struct {
	Dict   DictID
	Series []SeriesSamples
}

// SeriesSamples are the samples of the series at Index of the frame's
// dictionary.
type SeriesSamples struct {
	Index   int
	Samples []Sample
}

// Add appends samples of series index (merged with the last entry when it
// is the same series; the encoder merges the others).
func (f *Frame) Add(index int, samples ...Sample) {
	if n := len(f.Series); n > 0 && f.Series[n-1].Index == index {
		f.Series[n-1].Samples = append(f.Series[n-1].Samples, samples...)
		return
	}
	// Clipped, so that a later Add to this entry never writes into the
	// caller's array.
	f.Series = append(f.Series, SeriesSamples{Index: index, Samples: slices.Clip(samples)})
}

// Len returns the number of samples.
func (f *Frame) Len() int {
	n := 0
	for _, s := range f.Series {
		n += len(s.Samples)
	}
	return n
}

// FrameHeader is what the first bytes of a frame say.
type FrameHeader struct {
	Version  int // 1, or 2 when the frame holds text values
	Dict     DictID
	BaseTime int64 // Unix ms: the first sample's time
	Samples  int
}

const (
	magicFrame  = 0xF1 // frame, version 1
	magicFrame2 = 0xF2 // frame, version 2: version 1 and text values

	codeAbsent = 0x00
	codeBool   = 0x01
	codeF32    = 0x02
	codeF64    = 0x03
	codeText   = 0x04 // version 2
	codeDiv    = 0x10 // | p: float64(m) / 10^p
	codeMul    = 0x20 // | p: float64(m) * 10^-p, p ≥ 1

	bodyPlain = 0 // frame body as it is
	bodyFlate = 1 // frame body DEFLATE-compressed (RFC 1951)
)

// AppendFrame appends the encoded frame to dst (see the package doc).
// Series with no samples are left out; several entries for one series are
// merged in order. Samples keep their order, so times may go backwards or
// repeat. Error texts longer than MaxErrorLen are cut (TruncateError).
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	var e Encoder
	return e.AppendFrame(dst, f)
}

// AppendFrame is the package's AppendFrame with e's scratch space.
func (e *Encoder) AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	out, err := e.appendFrame(dst, f)
	if err != nil {
		return dst, fmt.Errorf("encode frame: %w", err)
	}
	return out, nil
}

func (e *Encoder) appendFrame(dst []byte, f *Frame) ([]byte, error) {
	n, err := e.collect(f)
	if err != nil {
		return nil, err
	}
	e.groupViews(func(i int) []Sample { return e.views[i].samples })

	start := len(dst)
	dst = append(dst, magicFrame)
	dst = append(dst, f.Dict[:]...)
	var base int64
	if len(e.groups) > 0 {
		base = e.views[e.groups[0].first].samples[0].Time
	}
	dst = appendVarint(dst, base)
	dst = binary.AppendUvarint(dst, uint64(n))

	body := binary.AppendUvarint(e.body[:0], uint64(len(e.groups)))
	cursor := 0
	for _, g := range e.groups {
		times := e.views[g.first].samples
		body = binary.AppendUvarint(body, uint64(len(times)))
		prev := base
		for _, s := range times {
			body = appendVarint(body, int64(uint64(s.Time)-uint64(prev)))
			prev = s.Time
		}
		e.runs = e.runs[:0]
		for _, m := range e.members[g.off : g.off+g.n] {
			idx := e.views[m].index
			if k := len(e.runs) - 1; k >= 0 && e.runs[k].start+e.runs[k].n == idx {
				e.runs[k].n++
				continue
			}
			e.runs = append(e.runs, run{idx, 1})
		}
		body = binary.AppendUvarint(body, uint64(len(e.runs)))
		for _, r := range e.runs {
			body = appendVarint(body, int64(r.start-cursor))
			body = binary.AppendUvarint(body, uint64(r.n-1))
			cursor = r.start + r.n
		}
	}

	e.frameValues()
	body = binary.AppendUvarint(body, uint64(len(e.codes)))
	for _, c := range e.codes {
		body = append(body, c.code)
		body = binary.AppendUvarint(body, uint64(c.n-1))
	}
	body = append(body, e.values...)
	// Fixed-width values as byte planes, most significant first: the
	// sign and exponent bytes of a site's values repeat, the low mantissa
	// bytes do not, and DEFLATE finds the repeats only when they are
	// side by side.
	for k := 3; k >= 0; k-- {
		for _, v := range e.f32s {
			body = append(body, byte(v>>(8*k)))
		}
	}
	for k := 7; k >= 0; k-- {
		for _, v := range e.f64s {
			body = append(body, byte(v>>(8*k)))
		}
	}
	body = append(body, e.bools...)
	if len(e.textRefs) > 0 {
		// Version 2: the table of text values, then a reference per text
		// sample. A frame without texts stays version 1, which decoders
		// of version 1 read.
		dst[start] = magicFrame2
		body = e.texts.appendTo(body)
		for _, ref := range e.textRefs {
			body = binary.AppendUvarint(body, uint64(ref))
		}
	}
	body = e.errs.appendTo(body)
	body = binary.AppendUvarint(body, uint64(len(e.excs)))
	prev := -1
	for _, x := range e.excs {
		body = binary.AppendUvarint(body, uint64(x.pos-prev-1))
		body = append(body, byte(x.quality))
		body = binary.AppendUvarint(body, uint64(x.ref))
		prev = x.pos
	}
	e.body = body
	clear(e.views) // keep no caller's samples alive

	if z := e.deflate(body); z != nil {
		dst = append(dst, bodyFlate)
		dst = binary.AppendUvarint(dst, uint64(len(body)))
		dst = append(dst, z...)
	} else {
		dst = append(dst, bodyPlain)
		dst = append(dst, body...)
	}
	dst = seal(dst, start)
	if len(dst)-start > MaxPayload {
		return nil, fmt.Errorf("%d bytes is more than %d: %w", len(dst)-start, MaxPayload, ErrTooLarge)
	}
	return dst, nil
}

// deflate returns body compressed (fast: a frame is written every
// second), or nil when that does not make it smaller or compression is off.
func (e *Encoder) deflate(body []byte) []byte {
	if e.Uncompressed {
		return nil
	}
	return e.frameZ.compress(body, flate.BestSpeed)
}

// collect fills e.views with f's non-empty series in index order, merged,
// checked, and returns the number of samples.
func (e *Encoder) collect(f *Frame) (int, error) {
	e.views = e.views[:0]
	e.merged = e.merged[:0]
	n := 0
	for _, s := range f.Series {
		if len(s.Samples) == 0 {
			continue
		}
		if s.Index < 0 || s.Index >= MaxSeries {
			return 0, fmt.Errorf("series index %d is outside 0..%d: %w", s.Index, MaxSeries-1, ErrInvalid)
		}
		n += len(s.Samples)
		if n > MaxSamples {
			return 0, fmt.Errorf("more than %d samples: %w", MaxSamples, ErrTooLarge)
		}
		for i := range s.Samples {
			if err := checkSample(&s.Samples[i]); err != nil {
				return 0, fmt.Errorf("series %d sample %d: %w", s.Index, i, err)
			}
		}
		e.views = append(e.views, view{s.Index, s.Samples})
	}
	byIndex := func(a, b view) int { return cmp.Compare(a.index, b.index) }
	if !slices.IsSortedFunc(e.views, byIndex) {
		slices.SortStableFunc(e.views, byIndex)
	}
	// Merge entries of one series; the merged samples live in e.merged.
	out := e.views[:0]
	for i := 0; i < len(e.views); {
		j := i + 1
		for j < len(e.views) && e.views[j].index == e.views[i].index {
			j++
		}
		v := e.views[i]
		if j > i+1 {
			from := len(e.merged)
			for _, w := range e.views[i:j] {
				e.merged = append(e.merged, w.samples...)
			}
			v.samples = e.merged[from:len(e.merged):len(e.merged)]
		}
		out = append(out, v)
		i = j
	}
	e.views = out
	return n, nil
}

// frameValues computes the value codes, values, bools and exceptions of
// the samples in frame order (group, member, sample).
func (e *Encoder) frameValues() {
	e.codes, e.values, e.bools, e.nbools, e.excs = e.codes[:0], e.values[:0], e.bools[:0], 0, e.excs[:0]
	e.f32s, e.f64s = e.f32s[:0], e.f64s[:0]
	e.errs.reset()
	e.texts.reset()
	e.textRefs = e.textRefs[:0]
	prev := byte(0xFF)
	pos := 0
	for _, g := range e.groups {
		for _, m := range e.members[g.off : g.off+g.n] {
			for i := range e.views[m].samples {
				s := &e.views[m].samples[i]
				code := e.appendValue(s.Value, prev)
				if k := len(e.codes) - 1; k >= 0 && e.codes[k].code == code {
					e.codes[k].n++
				} else {
					e.codes = append(e.codes, codeRun{code, 1})
				}
				prev = code
				if s.Quality != QualityGood || s.Error != "" {
					e.excs = append(e.excs, exception{pos, s.Quality, e.errText(s.Error)})
				}
				pos++
			}
		}
	}
}

// appendValue appends v to e.values (or e.bools) in the cheapest code,
// keeping the previous sample's code when that costs at most 2 bytes more
// (a change of code costs a run of about 2 bytes, and often another to
// change back).
func (e *Encoder) appendValue(v Value, prev byte) byte {
	switch v.Kind {
	case KindAbsent:
		return codeAbsent
	case KindBool:
		if e.nbools%8 == 0 {
			e.bools = append(e.bools, 0)
		}
		if v.Bool {
			e.bools[len(e.bools)-1] |= 1 << (e.nbools % 8)
		}
		e.nbools++
		return codeBool
	case KindText:
		e.textRefs = append(e.textRefs, e.textRef(v.Text))
		return codeText
	}
	x := v.Num
	code, size := byte(codeF64), 8
	var m int64
	if d, mm, ok := smallestDecimal(x); ok {
		code, m, size = decimalCode(d), mm, uvarintLen(zigzag(mm))
	}
	f32, isF32 := narrow32(x)
	if isF32 && size > 4 {
		code, size = codeF32, 4
	}
	if prev != code {
		switch {
		case prev == codeF32 && isF32 && size+2 >= 4:
			code = codeF32
		case prev == codeF64 && size+2 >= 8:
			code = codeF64
		case prev&0xF0 == codeDiv || prev&0xF0 == codeMul:
			if d, ok := codeDecimal(prev); ok {
				if mm, ok := d.mantissa(x); ok && uvarintLen(zigzag(mm)) <= size+2 {
					code, m = prev, mm
				}
			}
		}
	}
	switch code {
	case codeF32:
		e.f32s = append(e.f32s, f32)
	case codeF64:
		e.f64s = append(e.f64s, math.Float64bits(x))
	default:
		e.values = binary.AppendUvarint(e.values, zigzag(m))
	}
	return code
}

func decimalCode(d decimal) byte {
	if d.mul {
		return codeMul | d.p
	}
	return codeDiv | d.p
}

func codeDecimal(c byte) (decimal, bool) {
	switch c & 0xF0 {
	case codeDiv:
		return decimal{p: c & 0x0F}, true
	case codeMul:
		return decimal{mul: true, p: c & 0x0F}, c&0x0F != 0
	}
	return decimal{}, false
}

func uvarintLen(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// IsFrame reports whether b starts as a frame of a version this package
// reads (it does not check the rest: DecodeFrame does).
func IsFrame(b []byte) bool {
	return len(b) > 0 && (b[0] == magicFrame || b[0] == magicFrame2)
}

// ReadFrameHeader reads a frame's header only: enough to find its
// dictionary and count its samples without decoding it.
func ReadFrameHeader(src []byte) (FrameHeader, error) {
	h, _, err := readFrameHeader(src)
	if err != nil {
		return h, fmt.Errorf("decode frame: %w", err)
	}
	return h, nil
}

// readFrameHeader checks the frame and reads its header; the reader is
// left at the body encoding byte.
func readFrameHeader(src []byte) (FrameHeader, *reader, error) {
	var h FrameHeader
	r, err := open(src, "frame", magicFrame, magicFrame2)
	if err != nil {
		return h, nil, err
	}
	h.Version = int(src[0] & 0x0F)
	id, err := r.bytes(len(h.Dict), "dictionary id")
	if err != nil {
		return h, nil, err
	}
	copy(h.Dict[:], id)
	if h.BaseTime, err = r.varint("base time"); err != nil {
		return h, nil, err
	}
	if h.Samples, err = r.count("sample count", MaxSamples); err != nil {
		return h, nil, err
	}
	return h, r, nil
}

// DecodeFrame decodes what AppendFrame wrote: one entry per series, in
// index order, samples in their order.
func DecodeFrame(src []byte) (*Frame, error) {
	var d Decoder
	return d.DecodeFrame(src)
}

// DecodeFrame is the package's DecodeFrame with d's scratch space.
func (d *Decoder) DecodeFrame(src []byte) (*Frame, error) {
	f, err := d.decodeFrame(src)
	if err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}

func (d *Decoder) decodeFrame(src []byte) (*Frame, error) {
	h, r, err := readFrameHeader(src)
	if err != nil {
		return nil, err
	}
	mode, err := r.byte("body encoding")
	if err != nil {
		return nil, err
	}
	switch mode {
	case bodyPlain:
		r = &reader{b: r.b[r.off:]}
	case bodyFlate:
		n, err := r.count("body length", MaxPayload)
		if err != nil {
			return nil, err
		}
		if d.body, err = d.inflate(d.body, r.b[r.off:], n); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		r = &reader{b: d.body}
	default:
		return nil, fmt.Errorf("body encoding %d is unknown: %w", mode, ErrCorrupt)
	}
	return d.decodeFrameBody(r, h)
}

// Series entries while decoding, packed for a cheap sort by index:
// index << 38 | first sample << 19 | samples (MaxSeries ≤ 2^16,
// MaxSamples < 2^19).
const entryBits = 19

func (d *Decoder) decodeFrameBody(r *reader, h FrameHeader) (*Frame, error) {
	n := h.Samples
	ng, err := r.count("group count", n)
	if err != nil {
		return nil, err
	}
	if ng > r.left()/5 { // a group takes at least 5 bytes
		return nil, fmt.Errorf("%d groups cannot fit in %d bytes: %w", ng, r.left(), ErrTruncated)
	}
	f := &Frame{Dict: h.Dict}
	samples := make([]Sample, n)
	d.entries = d.entries[:0]
	var seen [MaxSeries / 8]byte
	var times []int64
	pos, cursor := 0, 0
	for g := range ng {
		k, err := r.count("time count", n-pos)
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", g, err)
		}
		if k == 0 || k > r.left() {
			return nil, fmt.Errorf("group %d: %d times: %w", g, k, ErrCorrupt)
		}
		times = times[:0]
		t := h.BaseTime
		for range k {
			dt, err := r.varint("time")
			if err != nil {
				return nil, fmt.Errorf("group %d: %w", g, err)
			}
			t = int64(uint64(t) + uint64(dt))
			times = append(times, t)
		}
		nr, err := r.count("run count", r.left()/2)
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", g, err)
		}
		if nr == 0 {
			return nil, fmt.Errorf("group %d has no series: %w", g, ErrCorrupt)
		}
		for range nr {
			ds, err := r.varint("run start")
			if err != nil {
				return nil, fmt.Errorf("group %d: %w", g, err)
			}
			ln, err := r.count("run length", MaxSeries-1)
			if err != nil {
				return nil, fmt.Errorf("group %d: %w", g, err)
			}
			ln++
			start := int64(cursor) + ds
			if ds < -MaxSeries || ds > MaxSeries || start < 0 || start+int64(ln) > MaxSeries {
				return nil, fmt.Errorf("group %d: series %d..%d outside 0..%d: %w", g, start, start+int64(ln)-1, MaxSeries-1, ErrCorrupt)
			}
			if ln > (n-pos)/k {
				return nil, fmt.Errorf("group %d: more samples than the %d declared: %w", g, n, ErrCorrupt)
			}
			for idx := int(start); idx < int(start)+ln; idx++ {
				if seen[idx/8]&(1<<(idx%8)) != 0 {
					return nil, fmt.Errorf("group %d: series %d appears twice: %w", g, idx, ErrCorrupt)
				}
				seen[idx/8] |= 1 << (idx % 8)
				for i, t := range times {
					samples[pos+i].Time = t
				}
				d.entries = append(d.entries, uint64(idx)<<(2*entryBits)|uint64(pos)<<entryBits|uint64(k))
				pos += k
			}
			cursor = int(start) + ln
		}
	}
	if pos != n {
		return nil, fmt.Errorf("groups hold %d samples, the header says %d: %w", pos, n, ErrCorrupt)
	}
	// Groups interleave indexes (a device polled twice in the frame has a
	// group of its own): sort once.
	if !slices.IsSorted(d.entries) {
		slices.Sort(d.entries)
	}
	f.Series = make([]SeriesSamples, len(d.entries))
	for i, e := range d.entries {
		p, k := int(e>>entryBits&(1<<entryBits-1)), int(e&(1<<entryBits-1))
		f.Series[i] = SeriesSamples{Index: int(e >> (2 * entryBits)), Samples: samples[p : p+k : p+k]}
	}

	nc, err := r.count("code run count", n)
	if err != nil {
		return nil, err
	}
	if nc > r.left()/2 {
		return nil, fmt.Errorf("%d code runs cannot fit in %d bytes: %w", nc, r.left(), ErrTruncated)
	}
	runs := make([]codeRun, nc)
	covered, nbools, nf32, nf64, ntexts := 0, 0, 0, 0, 0
	for i := range runs {
		c, err := r.byte("value code")
		if err != nil {
			return nil, err
		}
		if _, ok := codeDecimal(c); !ok && c > codeF64 && (c != codeText || h.Version < 2) {
			return nil, fmt.Errorf("value code run %d: code %#02x is unknown: %w", i, c, ErrCorrupt)
		}
		ln, err := r.count("value code run length", n-covered-1)
		if err != nil {
			return nil, fmt.Errorf("value code run %d: %w", i, err)
		}
		runs[i] = codeRun{c, ln + 1}
		covered += ln + 1
		switch c {
		case codeBool:
			nbools += ln + 1
		case codeF32:
			nf32 += ln + 1
		case codeF64:
			nf64 += ln + 1
		case codeText:
			ntexts += ln + 1
		}
	}
	if covered != n {
		return nil, fmt.Errorf("value codes cover %d samples of %d: %w", covered, n, ErrCorrupt)
	}
	// Decimals first (a varint stream), then the planes of fixed-width
	// values and the bools, whose sizes are known now.
	pos = 0
	for _, cr := range runs {
		dec, isDec := codeDecimal(cr.code)
		if !isDec {
			pos += cr.n
			continue
		}
		for range cr.n {
			m, err := r.varint("decimal value")
			if err != nil {
				return nil, fmt.Errorf("sample %d: %w", pos, err)
			}
			samples[pos].Value = Number(dec.value(m))
			pos++
		}
	}
	p32, err := r.bytes(4*nf32, "float32 values")
	if err != nil {
		return nil, err
	}
	p64, err := r.bytes(8*nf64, "float64 values")
	if err != nil {
		return nil, err
	}
	bools, err := r.bytes((nbools+7)/8, "bools")
	if err != nil {
		return nil, err
	}
	if nbools%8 != 0 && bools[len(bools)-1]>>(nbools%8) != 0 {
		return nil, fmt.Errorf("bools: padding bits are not zero: %w", ErrCorrupt)
	}
	var values []string
	var refs []int
	if h.Version >= 2 {
		if values, err = readTexts(r, "text value", ntexts, MaxTextLen, true); err != nil {
			return nil, err
		}
		if ntexts > r.left() {
			return nil, fmt.Errorf("%d text references cannot fit in %d bytes: %w", ntexts, r.left(), ErrTruncated)
		}
		refs = make([]int, ntexts)
		for i := range refs {
			if refs[i], err = r.count("text reference", len(values)-1); err != nil {
				return nil, fmt.Errorf("text %d: %w", i, err)
			}
		}
	}
	pos = 0
	i32, i64, ib, it := 0, 0, 0, 0
	for _, cr := range runs {
		for range cr.n {
			v := &samples[pos].Value
			switch cr.code {
			case codeBool:
				*v = Boolean(bools[ib/8]&(1<<(ib%8)) != 0)
				ib++
			case codeF32:
				var u uint32
				for k := range 4 {
					u = u<<8 | uint32(p32[k*nf32+i32])
				}
				*v = Number(widen32(u))
				i32++
			case codeF64:
				var u uint64
				for k := range 8 {
					u = u<<8 | uint64(p64[k*nf64+i64])
				}
				*v = Number(math.Float64frombits(u))
				i64++
			case codeText:
				*v = Text(values[refs[it]])
				it++
			}
			pos++
		}
	}

	texts, err := readTexts(r, "error text", n, MaxErrorLen, false)
	if err != nil {
		return nil, err
	}
	nx, err := r.count("exception count", n)
	if err != nil {
		return nil, err
	}
	if nx > r.left()/3 {
		return nil, fmt.Errorf("%d exceptions cannot fit in %d bytes: %w", nx, r.left(), ErrTruncated)
	}
	pos = -1
	for i := range nx {
		gap, err := r.count("exception gap", n-pos-2)
		if err != nil {
			return nil, fmt.Errorf("exception %d: %w", i, err)
		}
		pos += gap + 1
		q, err := r.byte("quality")
		if err != nil {
			return nil, fmt.Errorf("exception %d: %w", i, err)
		}
		if !Quality(q).Valid() {
			return nil, fmt.Errorf("exception %d: quality %d is unknown: %w", i, q, ErrCorrupt)
		}
		ref, err := r.count("error reference", len(texts))
		if err != nil {
			return nil, fmt.Errorf("exception %d: %w", i, err)
		}
		samples[pos].Quality = Quality(q)
		if ref > 0 {
			samples[pos].Error = texts[ref-1]
		}
	}
	if r.left() != 0 {
		return nil, fmt.Errorf("%d bytes after the end: %w", r.left(), ErrCorrupt)
	}
	return f, nil
}

// readTexts reads a text table of at most max entries of at most maxLen
// bytes each (error texts are never empty; text values may be).
func readTexts(r *reader, what string, max, maxLen int, empty bool) ([]string, error) {
	ne, err := r.count(what+" count", max)
	if err != nil {
		return nil, err
	}
	if ne > r.left() {
		return nil, fmt.Errorf("%d %ss cannot fit in %d bytes: %w", ne, what, r.left(), ErrTruncated)
	}
	texts := make([]string, ne)
	for i := range texts {
		if texts[i], err = r.text(what, maxLen); err != nil {
			return nil, fmt.Errorf("%s %d: %w", what, i, err)
		}
		if texts[i] == "" && !empty {
			return nil, fmt.Errorf("%s %d is empty: %w", what, i, ErrCorrupt)
		}
	}
	return texts, nil
}
