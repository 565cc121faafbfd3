package modbus

import (
	"slices"

	"github.com/sitegate/sitegate/device"
)

// Protocol limits of one read request (Modbus Application Protocol v1.1b3,
// function codes 1–4): a device may refuse a longer read as malformed.
const (
	MaxReadRegisters = 125  // registers per read of the input or holding table
	MaxReadBits      = 2000 // bits per read of the coil or discrete table
)

// Read is one Modbus read request of a plan.
type Read struct {
	Table   device.RegisterTable
	Address uint16 // first register or bit
	Count   uint16 // registers or bits
	Points  []int  // indexes (into the slice given to Plan) of the points this read covers, in address order
}

// Covers reports whether the size registers (or bits) starting at addr all
// lie inside the read, so that a decoder can take a point's value from the
// read's answer. An empty or negative size covers nothing.
func (r Read) Covers(addr, size int) bool {
	return size > 0 && addr >= int(r.Address) && addr+size <= int(r.Address)+int(r.Count)
}

// Limits bound one read.
type Limits struct {
	MaxGap       int // unrequested registers/bits allowed between two points in one read (0: only adjacent or overlapping)
	MaxRegisters int // registers per read, 1..125 (the device's max_registers); bit reads are always at most 2000 bits
}

// DeviceLimits returns the limits a device's reads must keep: its max_gap
// (default 16) and its max_registers.
func DeviceLimits(d device.Device) Limits {
	return Limits{MaxGap: d.EffectiveMaxGap(), MaxRegisters: d.MaxRegisters}
}

// gap is MaxGap with a negative value read as 0, the strictest setting,
// because a nonsensical limit must not widen reads.
func (l Limits) gap() int { return max(l.MaxGap, 0) }

// registers is MaxRegisters clamped to 1..125. Zero (an unset Limits, like
// an unset max_registers in a site file) means the protocol limit rather than
// one register per read, which would silently multiply the requests.
func (l Limits) registers() int {
	if l.MaxRegisters <= 0 || l.MaxRegisters > MaxReadRegisters {
		return MaxReadRegisters
	}
	return l.MaxRegisters
}

// PointSize returns how many registers (or, in the coil and discrete tables,
// bits) point p occupies: a point of a bit table is one bit whatever its
// type, and a register point of an unset type counts as one register so
// that it still gets read (validation reports the type).
func PointSize(p device.Point) int { return planSize(p.Table, p.Type) }

// planSize is PointSize from the two fields it depends on, so that the
// planner's hot loop does not copy whole points.
func planSize(t device.RegisterTable, typ device.DataType) int {
	if t.IsBit() {
		return 1
	}
	return max(typ.Registers(), 1)
}

// plannable reports whether some read request can address a point of table
// t at addr of the given size: a known table and every register inside
// 0..65535.
func plannable(t device.RegisterTable, addr, size int) bool {
	return t >= device.TableCoil && t <= device.TableHolding && addr >= 0 && addr+size <= 1<<16
}

// Plan returns the reads that cover every point with the fewest requests,
// table by table (tables in the order coil, discrete, input, holding; reads
// in address order within a table). A point is never split across reads.
//
// Within one read the span from the first to the last register (or bit)
// requested is at most lim.MaxRegisters (clamped to 1..125, 0 meaning 125)
// or MaxReadBits, and no run of unrequested registers between the points is
// longer than lim.MaxGap. Points may overlap or share an address. Every read
// is tight: it starts at its first point and ends with its last.
//
// Points that validation refuses are handled without panicking: a point
// larger than the limit gets a read of its own size, longer than the limit
// (the device will refuse it, and the poller reports that point alone); a
// point no request can address (an unset table, an address outside 0..65535
// or a value running past 65535) is in no read.
//
// # Why the plan is minimal
//
// Plan takes the points of a table by start address and extends the current
// read while the next point keeps the gap and the span within the limits.
// Points larger than the limit aside (each needs a read of its own in any
// plan), that greedy is exact, although points nest and overlap:
//
//  1. Some minimal plan reads runs of points that are consecutive in start
//     order. In a minimal plan no read's range contains another's (the two
//     would merge: more points inside the same range only shrink gaps), so
//     the reads' first addresses a₁<…<aₖ and their ends both increase. Give
//     each point to the read j with the largest aⱼ ≤ its start: it still
//     lies inside read j (its old read ends no later), read j's own points
//     that start before aⱼ₊₁ keep their gaps (a start-order prefix of a
//     valid read is valid), and an adopted point starts before aⱼ₊₁, which
//     read j's next own point reaches within MaxGap of that prefix's end, so
//     it opens no longer gap. The number of reads is unchanged.
//  2. Against any plan of consecutive runs, the greedy's k-th read ends at
//     least as far as the plan's k-th run (induction on k). Say the greedy's
//     k-th read starts at a point x inside the run. The run's points from x
//     on keep the span, and would open a gap only if a point y were bridged
//     by some z before x (z ends within MaxGap of y's start) and by no point
//     from x to y. The first point u after z's greedy read starts at or
//     before y, so within MaxGap of that read's end: the greedy stopped
//     there for the span, so u ends after z and bridges y too. Repeating
//     read by read, x itself bridges y, a contradiction. So the greedy's
//     k-th read reaches the end of the run.
//
// The nested case is the one that looks dangerous: a long point can bridge a
// gap between short ones, so removing the first point of a valid read can
// make it invalid. Step 2 shows that the greedy never has to start a read
// there. Tests compare the result with an exhaustive search on thousands of
// random layouts. The cost is one sort of packed keys and one pass.
func Plan(points []device.Point, lim Limits) []Read {
	return plan(points, lim.gap(), lim.registers(), MaxReadBits)
}

// plan is Plan with the bit limit as a parameter, so that tests can check
// bit tables against an exhaustive search with limits small enough for it.
func plan(points []device.Point, gap, maxRegs, maxBits int) []Read {
	keys := make([]planKey, 0, len(points))
	for i := range points {
		// A pointer, not a copy: Point is large and this loop is most of
		// the planner's time when the input is already sorted.
		p := &points[i]
		if n := planSize(p.Table, p.Type); plannable(p.Table, p.Address, n) {
			keys = append(keys, newPlanKey(p.Table, p.Address, i, n))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sortPlanKeys(keys)
	pl := planner{
		gap: min(gap, 1<<16), // wider than any address range: no gap rule at all
		idx: make([]int, 0, len(keys)),
	}
	for len(keys) > 0 {
		t := keys[0].table()
		n := 1
		for n < len(keys) && keys[n].table() == t {
			n++
		}
		limit := maxRegs
		if t.IsBit() {
			limit = min(max(maxBits, 1), MaxReadBits)
		}
		pl.table(t, keys[:n], limit)
		keys = keys[n:]
	}
	return pl.out
}

// A plan key packs what the planner needs of a point into one word, so that
// one sort orders the points by table (the enum order is the plan's table
// order), then address, then index, and the planner never reads the points
// again:
//
//	bits 56..58 table, 40..55 address, 3..39 index, 0..2 size (1, 2 or 4)
//
// 37 bits of index are plenty: a slice of 2³⁷ points would not fit in memory.
type planKey uint64

func newPlanKey(t device.RegisterTable, addr, index, size int) planKey {
	return planKey(uint64(t)<<56 | uint64(addr)<<40 | uint64(index)<<3 | uint64(size))
}

func (k planKey) table() device.RegisterTable { return device.RegisterTable(k >> 56) }
func (k planKey) addr() int                   { return int(k >> 40 & 0xffff) }
func (k planKey) index() int                  { return int(k >> 3 & (1<<37 - 1)) }
func (k planKey) size() int                   { return int(k & 7) }

// sortPlanKeys sorts plan keys. Register maps are usually listed in address
// order, so a sorted input is checked for first; a large unsorted one is
// radix sorted on its 19 bits of table and address in two passes, several
// times faster than a comparison sort at 10,000 points. The radix sort is
// stable and the keys arrive in index order, so equal addresses stay in
// index order, as a full comparison sort would leave them.
func sortPlanKeys(keys []planKey) {
	if slices.IsSorted(keys) {
		return
	}
	if len(keys) < 512 {
		slices.Sort(keys)
		return
	}
	const bits = 10
	tmp := make([]planKey, len(keys))
	src, dst := keys, tmp
	for shift := 40; shift < 60; shift += bits {
		var count [1 << bits]int
		for _, k := range src {
			count[k>>shift&(1<<bits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range src {
			b := k >> shift & (1<<bits - 1)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	// An even number of passes leaves the result back in keys.
}

// planner holds one Plan call's output.
type planner struct {
	gap int
	out []Read
	idx []int     // backing array of every Read.Points, one allocation
	big []planKey // keys of the current table's points larger than the limit
}

// table plans the points of one table, whose keys are sorted, with at most
// limit registers (or bits) per read.
func (pl *planner) table(t device.RegisterTable, keys []planKey, limit int) {
	pl.big = pl.big[:0]
	var (
		first      = -1 // position in keys of the current read's first point
		start, end int  // the current read's range
	)
	for i, k := range keys {
		addr, size := k.addr(), k.size()
		switch {
		case size > limit:
			// Cannot share a read with anything; emitted in address order
			// by flush.
			pl.big = append(pl.big, k)
			continue
		case first >= 0 && addr-end <= pl.gap && max(end, addr+size)-start <= limit:
			end = max(end, addr+size)
			continue
		case first >= 0:
			pl.flush(t, start)
			pl.add(Read{Table: t, Address: uint16(start), Count: uint16(end - start)}, keys[first:i], limit)
		}
		first, start, end = i, addr, addr+size
	}
	if first >= 0 {
		pl.flush(t, start)
		pl.add(Read{Table: t, Address: uint16(start), Count: uint16(end - start)}, keys[first:], limit)
	}
	pl.flush(t, 1<<16)
}

// flush emits the reads of the oversized points that start before addr.
func (pl *planner) flush(t device.RegisterTable, addr int) {
	for len(pl.big) > 0 && pl.big[0].addr() < addr {
		k := pl.big[0]
		pl.add(Read{Table: t, Address: uint16(k.addr()), Count: uint16(k.size())}, pl.big[:1], k.size())
		pl.big = pl.big[1:]
	}
}

// add appends r with the points of keys, skipping those larger than limit
// (they are read on their own), to the plan.
func (pl *planner) add(r Read, keys []planKey, limit int) {
	n := len(pl.idx)
	for _, k := range keys {
		if k.size() <= limit {
			pl.idx = append(pl.idx, k.index())
		}
	}
	// Cap the slice so that a caller appending to one read's Points cannot
	// overwrite the next read's.
	r.Points = pl.idx[n:len(pl.idx):len(pl.idx)]
	pl.out = append(pl.out, r)
}

// SplitRead splits a read's points into two halves in their order, each
// half re-planned to its own tight address range, so that a poller can
// isolate the point that makes a device answer exception 2 or 3 (illegal
// data address or value) by bisection. It returns false when the read
// holds fewer than two points, or when its points do not belong to it
// (an index outside points, or a point of another table or address range).
func SplitRead(r Read, points []device.Point) (Read, Read, bool) {
	if len(r.Points) < 2 {
		return Read{}, Read{}, false
	}
	for _, i := range r.Points {
		if i < 0 || i >= len(points) || points[i].Table != r.Table || !r.Covers(points[i].Address, PointSize(points[i])) {
			return Read{}, Read{}, false
		}
	}
	h := len(r.Points) / 2
	return tightRead(r.Table, r.Points[:h:h], points), tightRead(r.Table, r.Points[h:], points), true
}

// tightRead returns the read of table t that covers exactly the given points.
func tightRead(t device.RegisterTable, idx []int, points []device.Point) Read {
	lo, hi := 1<<16, 0
	for _, i := range idx {
		lo = min(lo, points[i].Address)
		hi = max(hi, points[i].Address+PointSize(points[i]))
	}
	return Read{Table: t, Address: uint16(lo), Count: uint16(hi - lo), Points: idx}
}
