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
	errTexts []string
	errRef   map[string]int
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
	ref     int // 0: no text; i: errTexts[i-1]
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

func (e *Encoder) resetErrTexts() {
	e.errTexts = e.errTexts[:0]
	if e.errRef == nil {
		e.errRef = make(map[string]int)
	}
	clear(e.errRef)
}

// errText returns the reference of an error text, adding it to the table.
func (e *Encoder) errText(s string) int {
	if s == "" {
		return 0
	}
	s = TruncateError(s)
	if ref, ok := e.errRef[s]; ok {
		return ref
	}
	e.errTexts = append(e.errTexts, s)
	e.errRef[s] = len(e.errTexts)
	return len(e.errTexts)
}

func (e *Encoder) appendErrTexts(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(e.errTexts)))
	for _, t := range e.errTexts {
		dst = appendText(dst, t)
	}
	return dst
}
