package telemetry

import (
	"encoding/binary"
	"slices"
)

// Encoder encodes frames and blocks, reusing its scratch space (and
// DEFLATE state, about 1 MiB) from one call to the next. The zero Encoder
// is ready; it is not safe for concurrent use.
type Encoder struct {
	// Uncompressed leaves frame bodies as they are: about 1.5 times
	// faster to encode, and about 45 % larger for float32 values
	// (BenchmarkFrame).
	Uncompressed bool

	views    []view
	groupOf  []int32
	groups   []group
	byHash   map[uint64]int32 // time hash → first group with it
	sameHash []int32          // group → next group with its hash, or -1
	members  []int32
	runs     []run
	codes    []codeRun
	values   []byte // decimal varints
	f32s     []uint32
	f64s     []uint64
	body     []byte
	frameZ   compressor
	bools    []byte
	nbools   int
	errs     textTable // error texts
	texts    textTable // text values (version 2)
	textRefs []int     // per text sample of a frame, in sample order
	excs     []exception
	merged   []Sample

	// block scratch
	names               []Series
	nameIndex           map[Series]int
	raw                 []byte
	dictZ               dictCompressor
	lastNames           []byte // front-coded names of the last block's dictionary
	lastCount           int
	lastDict            []byte // and its encoding
	bw, cand, alt, alt2 bitWriter
	times               []int64
	nums                []float64
	numBits             []uint64
	mants               []int64
}

type view struct {
	index   int
	samples []Sample
}

type group struct {
	first int32 // the view whose times the group shares
	n     int32 // members
	off   int32 // into members
}

type run struct{ start, n int }

type codeRun struct {
	code byte
	n    int
}

type exception struct {
	pos     int
	quality Quality
	ref     int // 0: no text; i: errs.list[i-1]
}

// groupViews puts views with the same sample times (in the same order)
// into one group, groups in order of first appearance, and fills
// e.members with each group's views in view order.
func (e *Encoder) groupViews(samplesOf func(int) []Sample) {
	nv := len(e.views)
	e.groups = e.groups[:0]
	e.groupOf = slices.Grow(e.groupOf[:0], nv)[:nv]
	if e.byHash == nil {
		e.byHash = make(map[uint64]int32)
	}
	clear(e.byHash)
	e.sameHash = e.sameHash[:0]
	for i := range nv {
		ts := samplesOf(i)
		if i > 0 && sameTimes(samplesOf(int(e.groups[e.groupOf[i-1]].first)), ts) {
			e.groupOf[i] = e.groupOf[i-1]
			e.groups[e.groupOf[i]].n++
			continue
		}
		h := hashTimes(ts)
		found := int32(-1)
		head, ok := e.byHash[h]
		if ok {
			for g := head; g >= 0; g = e.sameHash[g] {
				if sameTimes(samplesOf(int(e.groups[g].first)), ts) {
					found = g
					break
				}
			}
		}
		if found < 0 {
			found = int32(len(e.groups))
			e.groups = append(e.groups, group{first: int32(i)})
			e.sameHash = append(e.sameHash, -1)
			if ok {
				e.sameHash[found] = e.sameHash[head] // second in the chain
				e.sameHash[head] = found
			} else {
				e.byHash[h] = found
			}
		}
		e.groupOf[i] = found
		e.groups[found].n++
	}
	off := int32(0)
	for i := range e.groups {
		e.groups[i].off = off
		off += e.groups[i].n
		e.groups[i].n = 0
	}
	e.members = slices.Grow(e.members[:0], nv)[:nv]
	for i := range nv {
		g := &e.groups[e.groupOf[i]]
		e.members[g.off+g.n] = int32(i)
		g.n++
	}
}

func sameTimes(a, b []Sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Time != b[i].Time {
			return false
		}
	}
	return true
}

func hashTimes(s []Sample) uint64 {
	h := uint64(14695981039346656037) ^ uint64(len(s))
	for _, x := range s {
		h ^= uint64(x.Time)
		h *= 1099511628211
		h ^= h >> 29
	}
	return h
}

// textTable is a table of distinct strings, referred to by index: how
// frames and blocks carry error texts and text values once each.
type textTable struct {
	list []string
	ref  map[string]int
}

func (t *textTable) reset() {
	t.list = t.list[:0]
	if t.ref == nil {
		t.ref = make(map[string]int)
	}
	clear(t.ref)
}

// add returns the index of s in the table, adding it.
func (t *textTable) add(s string) int {
	if i, ok := t.ref[s]; ok {
		return i
	}
	t.list = append(t.list, s)
	t.ref[s] = len(t.list) - 1
	return len(t.list) - 1
}

// appendTo appends the table: its length, then each string length-prefixed.
func (t *textTable) appendTo(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(t.list)))
	for _, s := range t.list {
		dst = appendText(dst, s)
	}
	return dst
}

// errText returns the reference of an error text (0: none, i: the i-th
// text of the table), adding it to the table.
func (e *Encoder) errText(s string) int {
	if s == "" {
		return 0
	}
	return e.errs.add(TruncateError(s)) + 1
}

// textRef returns the index of a text value in the table, adding it.
func (e *Encoder) textRef(s string) int { return e.texts.add(TruncateText(s)) }
