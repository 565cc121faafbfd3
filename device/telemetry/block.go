package telemetry

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Block is what goes on the wire (telemetry/v2): the samples of a batch
// window, per series, with the outbox seqs of the frames it carries and
// its own dictionary of names.
type Block struct {
	Gateway string
	Seqs    []uint64 // strictly increasing
	Series  []BlockSeries

	index map[Series]int // Series position by name, for Add
}

// BlockSeries is one series of a block and its samples.
type BlockSeries struct {
	Series
	Samples []Sample
}

// Len returns the number of samples.
func (b *Block) Len() int {
	n := 0
	for _, s := range b.Series {
		n += len(s.Samples)
	}
	return n
}

// Add appends samples to series s, adding the series if it is new.
func (b *Block) Add(s Series, samples ...Sample) {
	if b.index == nil {
		b.index = make(map[Series]int, len(b.Series))
		for i, bs := range b.Series {
			b.index[bs.Series] = i
		}
	}
	i, ok := b.index[s]
	if !ok {
		b.index[s] = len(b.Series)
		// A copy with room for a batch window of 1 s frames: Add never
		// writes into the caller's array (a decoded frame's samples share
		// one), and a block of ten frames grows each series once.
		b.Series = append(b.Series, BlockSeries{s, append(make([]Sample, 0, max(16, len(samples))), samples...)})
		return
	}
	b.Series[i].Samples = append(b.Series[i].Samples, samples...)
}

// AddFrame appends a decoded frame's samples, resolving its indexes with
// d, and records the frame's outbox seq, which must be above the seqs
// already in the block.
func (b *Block) AddFrame(seq uint64, d *Dictionary, f *Frame) error {
	if f.Dict != d.ID() {
		return fmt.Errorf("add frame %d: frame names dictionary %s, not %s: %w", seq, f.Dict, d.ID(), ErrDictMismatch)
	}
	if n := len(b.Seqs); n > 0 && seq <= b.Seqs[n-1] {
		return fmt.Errorf("add frame %d: seq is not above the block's last seq %d: %w", seq, b.Seqs[n-1], ErrInvalid)
	}
	for _, ss := range f.Series {
		if _, ok := d.Series(ss.Index); !ok {
			return fmt.Errorf("add frame %d: series %d is not in the dictionary of %d series: %w", seq, ss.Index, d.Len(), ErrInvalid)
		}
	}
	for _, ss := range f.Series {
		s, _ := d.Series(ss.Index)
		b.Add(s, ss.Samples...)
	}
	b.Seqs = append(b.Seqs, seq)
	return nil
}

const (
	magicBlock  = 0xB1 // block, version 1
	magicBlock2 = 0xB2 // block, version 2: version 1 and text values

	numF64 = 0 // number modes of a series in a block
	numF32 = 1
	numDec = 2
	numInt = 3 // float bits as integers (+1 bit: 0 binary32, 1 binary64)
)

// AppendBlock appends the encoded block to dst (see the package doc).
// Series with no samples are left out; series keep their order and
// samples theirs. Error texts longer than MaxErrorLen are cut.
func AppendBlock(dst []byte, b *Block) ([]byte, error) {
	var e Encoder
	return e.AppendBlock(dst, b)
}

// AppendBlock is the package's AppendBlock with e's scratch space.
func (e *Encoder) AppendBlock(dst []byte, b *Block) ([]byte, error) {
	out, err := e.appendBlock(dst, b)
	if err != nil {
		return dst, fmt.Errorf("encode block: %w", err)
	}
	return out, nil
}

func (e *Encoder) appendBlock(dst []byte, b *Block) ([]byte, error) {
	if len(b.Gateway) > MaxGatewayLen {
		return nil, fmt.Errorf("gateway id of %d bytes is longer than %d: %w", len(b.Gateway), MaxGatewayLen, ErrTooLarge)
	}
	if len(b.Seqs) > MaxSeqs {
		return nil, fmt.Errorf("%d seqs is more than %d: %w", len(b.Seqs), MaxSeqs, ErrTooLarge)
	}
	for i := 1; i < len(b.Seqs); i++ {
		if b.Seqs[i] <= b.Seqs[i-1] {
			return nil, fmt.Errorf("seq %d follows %d: seqs must increase: %w", b.Seqs[i], b.Seqs[i-1], ErrInvalid)
		}
	}
	e.views = e.views[:0]
	e.names = e.names[:0]
	n := 0
	for i, s := range b.Series {
		if len(s.Samples) == 0 {
			continue
		}
		n += len(s.Samples)
		if n > MaxSamples {
			return nil, fmt.Errorf("more than %d samples: %w", MaxSamples, ErrTooLarge)
		}
		for j := range s.Samples {
			if err := checkSample(&s.Samples[j]); err != nil {
				return nil, fmt.Errorf("series %d (%q) sample %d: %w", i, s.Series.String(), j, err)
			}
		}
		e.views = append(e.views, view{len(e.names), s.Samples})
		e.names = append(e.names, s.Series)
	}
	if e.nameIndex == nil {
		e.nameIndex = make(map[Series]int)
	}
	clear(e.nameIndex)
	raw, err := checkNames(e.raw[:0], e.names, e.nameIndex)
	if err != nil {
		return nil, err
	}
	e.raw = raw
	e.groupViews(func(i int) []Sample { return e.views[i].samples })

	var base int64
	if len(e.views) > 0 {
		base = e.views[0].samples[0].Time
	}
	e.errs.reset()
	e.texts.reset()
	e.bw.reset(e.bw.buf[:0])
	for i, v := range e.views {
		g := e.groupOf[i]
		switch {
		case i > 0 && g == e.groupOf[i-1]:
			e.bw.vlc(0)
		case e.groups[g].first == int32(i):
			e.bw.vlc(1)
			e.times = e.times[:0]
			for _, s := range v.samples {
				e.times = append(e.times, s.Time)
			}
			e.bw.vlc(uint64(len(e.times) - 1))
			writeSeq(&e.bw, e.times, base)
		default:
			e.bw.vlc(uint64(g) + 2)
		}
		e.writeValues(v.samples)
		e.writeQuality(v.samples)
	}
	body := e.bw.finish()

	start := len(dst)
	if len(e.texts.list) > 0 {
		// Version 2 only when there are texts: blocks without them stay
		// readable by decoders of version 1.
		dst = append(dst, magicBlock2)
	} else {
		dst = append(dst, magicBlock)
	}
	dst = appendText(dst, b.Gateway)
	dst = binary.AppendUvarint(dst, uint64(len(b.Seqs)))
	for i, s := range b.Seqs {
		if i == 0 {
			dst = binary.AppendUvarint(dst, s)
		} else {
			dst = binary.AppendUvarint(dst, s-b.Seqs[i-1]-1)
		}
	}
	// Consecutive blocks of a site usually carry the same names: compress
	// them once.
	if len(e.lastDict) == 0 || len(e.names) != e.lastCount || !bytes.Equal(raw, e.lastNames) {
		e.lastDict = e.dictZ.append(e.lastDict[:0], len(e.names), raw)
		e.lastNames = append(e.lastNames[:0], raw...)
		e.lastCount = len(e.names)
	}
	clear(e.names) // keep no caller's strings alive
	dst = binary.AppendUvarint(dst, uint64(len(e.lastDict)))
	dst = append(dst, e.lastDict...)
	dst = appendVarint(dst, base)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = e.errs.appendTo(dst)
	if len(e.texts.list) > 0 {
		dst = e.texts.appendTo(dst)
	}
	dst = append(dst, body...)
	dst = seal(dst, start)
	clear(e.views)
	if len(dst)-start > MaxPayload {
		return nil, fmt.Errorf("%d bytes is more than %d: %w", len(dst)-start, MaxPayload, ErrTooLarge)
	}
	return dst, nil
}

// writeValues writes a series' kinds, numbers, bools and texts.
func (e *Encoder) writeValues(samples []Sample) {
	w := &e.bw
	kind := samples[0].Value.Kind
	uniform := true
	for _, s := range samples[1:] {
		if s.Value.Kind != kind {
			uniform = false
			break
		}
	}
	w.bit(!uniform)
	if uniform {
		w.bits(uint64(kind), 2)
	} else {
		for _, s := range samples {
			w.bits(uint64(s.Value.Kind), 2)
		}
	}
	e.nums = e.nums[:0]
	for _, s := range samples {
		if s.Value.Kind == KindNumber {
			e.nums = append(e.nums, s.Value.Num)
		}
	}
	if len(e.nums) > 0 {
		e.writeNumbers(e.nums)
	}
	for _, s := range samples {
		if s.Value.Kind == KindBool {
			w.bit(s.Value.Bool)
		}
	}
	// Texts: the first a reference into the table, each next a 0 bit when
	// it is the text before (a device's name or firmware rarely changes).
	last := -1
	for _, s := range samples {
		if s.Value.Kind != KindText {
			continue
		}
		ref := e.textRef(s.Value.Text)
		if last >= 0 {
			if ref == last {
				w.bit(false)
				continue
			}
			w.bit(true)
		}
		w.vlc(uint64(ref))
		last = ref
	}
}

// writeNumbers writes numbers in the shortest of: decimal integers (when
// one decimal code fits them all), XOR on 32 bits (when all are exact
// binary32), XOR on 64 bits.
func (e *Encoder) writeNumbers(nums []float64) {
	e.cand.reset(e.cand.buf[:0])
	best := -1
	if d, ok := commonDecimal(nums, &e.mants); ok {
		e.cand.bits(numDec, 2)
		e.cand.bit(d.mul)
		e.cand.bits(uint64(d.p), 4)
		writeSeq(&e.cand, e.mants, 0)
		best = e.cand.len()
	}
	e.alt.reset(e.alt.buf[:0])
	e.numBits = e.numBits[:0]
	f32 := true
	for _, x := range nums {
		u, ok := narrow32(x)
		if !ok {
			f32 = false
			break
		}
		e.numBits = append(e.numBits, uint64(u))
	}
	if f32 {
		e.alt.bits(numF32, 2)
		writeXOR(&e.alt, e.numBits, 32)
	} else {
		e.numBits = e.numBits[:0]
		for _, x := range nums {
			e.numBits = append(e.numBits, math.Float64bits(x))
		}
		e.alt.bits(numF64, 2)
		writeXOR(&e.alt, e.numBits, 64)
	}
	// The same bits as integers, delta or delta-of-delta coded: shorter
	// than XOR for smooth signals, whose bit patterns move by similar
	// steps (a sine's slope, a counter's rate) while XOR sees a new
	// pattern every time.
	e.mants = e.mants[:0]
	for _, u := range e.numBits {
		if f32 {
			e.mants = append(e.mants, int64(int32(u)))
		} else {
			e.mants = append(e.mants, int64(u))
		}
	}
	e.alt2.reset(e.alt2.buf[:0])
	e.alt2.bits(numInt, 2)
	e.alt2.bit(!f32)
	writeSeq(&e.alt2, e.mants, 0)
	w := &e.alt
	if e.alt2.len() < w.len() {
		w = &e.alt2
	}
	if best >= 0 && best <= w.len() {
		e.cand.appendTo(&e.bw)
		return
	}
	w.appendTo(&e.bw)
}

// commonDecimal finds the decimal code with the fewest decimals that fits
// every number, and the integers in *mants.
func commonDecimal(nums []float64, mants *[]int64) (decimal, bool) {
	d, _, ok := smallestDecimal(nums[0])
	if !ok {
		return d, false
	}
	for ; d.p <= searchDecimal; d = nextDecimal(d) {
		*mants = (*mants)[:0]
		fits := true
		for _, x := range nums {
			m, ok := d.mantissa(x)
			if !ok {
				fits = false
				break
			}
			*mants = append(*mants, m)
		}
		if fits {
			return d, true
		}
	}
	return d, false
}

// nextDecimal is the order smallestDecimal tries codes in.
func nextDecimal(d decimal) decimal {
	if !d.mul && d.p > 0 {
		return decimal{mul: true, p: d.p}
	}
	return decimal{p: d.p + 1}
}

// writeQuality writes a series' qualities and errors: one 0 bit when all
// are good without error text, else per sample a 0 bit when nothing
// changed since the sample before (the state starts good and empty), or a
// 1 bit, the quality and the error text's reference.
func (e *Encoder) writeQuality(samples []Sample) {
	w := &e.bw
	plain := true
	for _, s := range samples {
		if s.Quality != QualityGood || s.Error != "" {
			plain = false
			break
		}
	}
	w.bit(!plain)
	if plain {
		return
	}
	q, ref := QualityGood, 0
	for _, s := range samples {
		sq, sref := s.Quality, e.errText(s.Error)
		if sq == q && sref == ref {
			w.bits(0, 1)
			continue
		}
		w.bits(1, 1)
		w.vlc(uint64(sq))
		w.vlc(uint64(sref))
		q, ref = sq, sref
	}
}

// DecodeBlock decodes what AppendBlock wrote.
func DecodeBlock(src []byte) (*Block, error) {
	var d Decoder
	return d.DecodeBlock(src)
}

// DecodeBlock is the package's DecodeBlock with d's scratch space.
func (d *Decoder) DecodeBlock(src []byte) (*Block, error) {
	b, err := d.decodeBlock(src)
	if err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	return b, nil
}

func (d *Decoder) decodeBlock(src []byte) (*Block, error) {
	r, err := open(src, "telemetry block", magicBlock, magicBlock2)
	if err != nil {
		return nil, err
	}
	v2 := src[0] == magicBlock2
	b := &Block{}
	if b.Gateway, err = r.text("gateway id", MaxGatewayLen); err != nil {
		return nil, err
	}
	ns, err := r.count("seq count", MaxSeqs)
	if err != nil {
		return nil, err
	}
	if ns > r.left() {
		return nil, fmt.Errorf("%d seqs cannot fit in %d bytes: %w", ns, r.left(), ErrTruncated)
	}
	b.Seqs = make([]uint64, ns)
	for i := range b.Seqs {
		v, err := r.uvarint("seq")
		if err != nil {
			return nil, fmt.Errorf("seq %d: %w", i, err)
		}
		if i > 0 {
			prev := b.Seqs[i-1]
			if v >= math.MaxUint64-prev {
				return nil, fmt.Errorf("seq %d: beyond 2^64: %w", i, ErrCorrupt)
			}
			v += prev + 1
		}
		b.Seqs[i] = v
	}
	dl, err := r.count("dictionary length", r.left())
	if err != nil {
		return nil, err
	}
	db, _ := r.bytes(dl, "dictionary")
	dict, err := d.decodeDictionary(db, false)
	if err != nil {
		return nil, fmt.Errorf("dictionary: %w", err)
	}
	base, err := r.varint("base time")
	if err != nil {
		return nil, err
	}
	n, err := r.count("sample count", MaxSamples)
	if err != nil {
		return nil, err
	}
	if dict.Len() > n {
		return nil, fmt.Errorf("%d series with %d samples: %w", dict.Len(), n, ErrCorrupt)
	}
	texts, err := readTexts(r, "error text", n, MaxErrorLen, false)
	if err != nil {
		return nil, err
	}
	var values []string
	if v2 {
		if values, err = readTexts(r, "text value", n, MaxTextLen, true); err != nil {
			return nil, err
		}
	}
	br := &bitReader{b: r.b[r.off:]}
	samples := make([]Sample, n)
	b.Series = make([]BlockSeries, dict.Len())
	type tgroup struct{ off, n int }
	var groups []tgroup
	var prev tgroup // of the series before
	var times, mants []int64
	var bitsBuf []uint64
	pos := 0
	for i := range b.Series {
		b.Series[i].Series = dict.series[i]
		ref, err := br.vlc("time group")
		if err != nil {
			return nil, fmt.Errorf("series %d: %w", i, err)
		}
		var g tgroup
		switch {
		case ref == 0:
			if i == 0 {
				return nil, fmt.Errorf("series 0 refers to the time group before it: %w", ErrCorrupt)
			}
			g = prev
		case ref == 1:
			k, err := br.count("time count", min(n-pos-1, br.left()))
			if err != nil {
				return nil, fmt.Errorf("series %d: %w", i, err)
			}
			k++
			g = tgroup{len(times), k}
			times = slices.Grow(times, k)[:len(times)+k]
			if err := readSeq(br, times[g.off:], base); err != nil {
				return nil, fmt.Errorf("series %d times: %w", i, err)
			}
			groups = append(groups, g)
		default:
			if ref-2 >= uint64(len(groups)) {
				return nil, fmt.Errorf("series %d: time group %d of %d: %w", i, ref-2, len(groups), ErrCorrupt)
			}
			g = groups[ref-2]
		}
		if g.n == 0 || g.n > n-pos {
			return nil, fmt.Errorf("series %d: more samples than the %d declared: %w", i, n, ErrCorrupt)
		}
		prev = g
		ss := samples[pos : pos+g.n : pos+g.n]
		pos += g.n
		for j := range ss {
			ss[j].Time = times[g.off+j]
		}
		b.Series[i].Samples = ss
		if err := readValues(br, ss, values, v2, &mants, &bitsBuf); err != nil {
			return nil, fmt.Errorf("series %d (%q): %w", i, dict.series[i].String(), err)
		}
		if err := readQuality(br, ss, texts); err != nil {
			return nil, fmt.Errorf("series %d (%q): %w", i, dict.series[i].String(), err)
		}
	}
	if pos != n {
		return nil, fmt.Errorf("series hold %d samples, the header says %d: %w", pos, n, ErrCorrupt)
	}
	if err := br.end("samples"); err != nil {
		return nil, err
	}
	return b, nil
}

// readValues reads a series' values; texts is the block's table of text
// values, and text is whether the version has them.
func readValues(r *bitReader, ss []Sample, texts []string, text bool, mants *[]int64, bitsBuf *[]uint64) error {
	mixed, err := r.bit("kind layout")
	if err != nil {
		return err
	}
	nn, nb := 0, 0
	for j := range ss {
		if j == 0 || mixed {
			k, err := r.bits(2, "kind")
			if err != nil {
				return err
			}
			if Kind(k) == KindText && !text { // 2 bits: every other kind is known
				return fmt.Errorf("value kind %d is unknown: %w", k, ErrCorrupt)
			}
			ss[j].Value.Kind = Kind(k)
		} else {
			ss[j].Value.Kind = ss[0].Value.Kind
		}
		switch ss[j].Value.Kind {
		case KindNumber:
			nn++
		case KindBool:
			nb++
		}
	}
	if nn > 0 {
		if err := readNumbers(r, ss, nn, mants, bitsBuf); err != nil {
			return err
		}
	}
	for j := range ss {
		if ss[j].Value.Kind == KindBool {
			if ss[j].Value.Bool, err = r.bit("bool"); err != nil {
				return err
			}
		}
	}
	last := -1
	for j := range ss {
		if ss[j].Value.Kind != KindText {
			continue
		}
		if last >= 0 {
			changed, err := r.bit("text change")
			if err != nil {
				return err
			}
			if !changed {
				ss[j].Value.Text = texts[last]
				continue
			}
		}
		if last, err = r.count("text reference", len(texts)-1); err != nil {
			return fmt.Errorf("sample %d: %w", j, err)
		}
		ss[j].Value.Text = texts[last]
	}
	return nil
}

func readNumbers(r *bitReader, ss []Sample, nn int, mants *[]int64, bitsBuf *[]uint64) error {
	mode, err := r.bits(2, "number mode")
	if err != nil {
		return err
	}
	put := func(f func(i int) float64) {
		i := 0
		for j := range ss {
			if ss[j].Value.Kind == KindNumber {
				ss[j].Value.Num = f(i)
				i++
			}
		}
	}
	switch mode {
	case numDec:
		mul, err := r.bit("decimal formula")
		if err != nil {
			return err
		}
		p, err := r.bits(4, "decimals")
		if err != nil {
			return err
		}
		d := decimal{mul: mul, p: uint8(p)}
		if mul && p == 0 {
			return fmt.Errorf("decimal code multiplies by 10^0: %w", ErrCorrupt)
		}
		m := slices.Grow((*mants)[:0], nn)[:nn]
		*mants = m
		if err := readSeq(r, m, 0); err != nil {
			return err
		}
		put(func(i int) float64 { return d.value(m[i]) })
	case numF32, numF64:
		width := uint(64)
		if mode == numF32 {
			width = 32
		}
		v := slices.Grow((*bitsBuf)[:0], nn)[:nn]
		*bitsBuf = v
		if err := readXOR(r, v, width); err != nil {
			return err
		}
		if width == 32 {
			put(func(i int) float64 { return widen32(uint32(v[i])) })
		} else {
			put(func(i int) float64 { return math.Float64frombits(v[i]) })
		}
	default: // numInt
		wide, err := r.bit("integer width")
		if err != nil {
			return err
		}
		m := slices.Grow((*mants)[:0], nn)[:nn]
		*mants = m
		if err := readSeq(r, m, 0); err != nil {
			return err
		}
		if wide {
			put(func(i int) float64 { return math.Float64frombits(uint64(m[i])) })
		} else {
			for i, v := range m {
				if v != int64(int32(v)) {
					return fmt.Errorf("value %d: %d is not a binary32: %w", i, v, ErrCorrupt)
				}
			}
			put(func(i int) float64 { return widen32(uint32(m[i])) })
		}
	}
	return nil
}

func readQuality(r *bitReader, ss []Sample, texts []string) error {
	some, err := r.bit("quality layout")
	if err != nil || !some {
		return err
	}
	q, ref := QualityGood, 0
	for j := range ss {
		changed, err := r.bit("quality change")
		if err != nil {
			return err
		}
		if changed {
			v, err := r.vlc("quality")
			if err != nil {
				return err
			}
			if v > uint64(maxQuality) {
				return fmt.Errorf("sample %d: quality %d is unknown: %w", j, v, ErrCorrupt)
			}
			if ref, err = r.count("error reference", len(texts)); err != nil {
				return fmt.Errorf("sample %d: %w", j, err)
			}
			q = Quality(v)
		}
		ss[j].Quality = q
		if ref > 0 {
			ss[j].Error = texts[ref-1]
		}
	}
	return nil
}
