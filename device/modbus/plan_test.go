package modbus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
)

const (
	tU16 = device.TypeUint16
	tF32 = device.TypeFloat32
	tU32 = device.TypeUint32
	tF64 = device.TypeFloat64
)

func holdingPt(addr int, t device.DataType) device.Point {
	return device.Point{Table: device.TableHolding, Address: addr, Type: t}
}

func inputPt(addr int, t device.DataType) device.Point {
	return device.Point{Table: device.TableInput, Address: addr, Type: t}
}

func coilPt(addr int) device.Point {
	return device.Point{Table: device.TableCoil, Address: addr, Type: device.TypeBool}
}

func discretePt(addr int) device.Point {
	return device.Point{Table: device.TableDiscrete, Address: addr, Type: device.TypeBool}
}

// pointRun returns n points of type t at consecutive addresses from addr.
func pointRun(n int, mk func(int) device.Point) []device.Point {
	out := make([]device.Point, n)
	for i := range out {
		out[i] = mk(i)
	}
	return out
}

// readString shows a read as "holding 0+4 [0-2 5]": table, address+count,
// and point indexes with runs of three or more consecutive ones shortened.
func readString(r Read) string {
	var b strings.Builder
	for i := 0; i < len(r.Points); {
		j := i
		for j+1 < len(r.Points) && r.Points[j+1] == r.Points[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if j-i >= 2 {
			fmt.Fprintf(&b, "%d-%d", r.Points[i], r.Points[j])
			i = j + 1
		} else {
			fmt.Fprintf(&b, "%d", r.Points[i])
			i++
		}
	}
	return fmt.Sprintf("%s %d+%d [%s]", r.Table, r.Address, r.Count, b.String())
}

func readStrings(reads []Read) []string {
	out := make([]string, len(reads))
	for i, r := range reads {
		out[i] = readString(r)
	}
	return out
}

func TestPlanLayouts(t *testing.T) {
	tests := []struct {
		name   string
		points []device.Point
		lim    Limits
		want   []string
	}{
		{name: "empty", want: nil},
		{
			name:   "adjacent points merge with MaxGap 0",
			points: []device.Point{holdingPt(0, tU16), holdingPt(1, tU16), holdingPt(2, tF32)},
			want:   []string{"holding 0+4 [0-2]"},
		},
		{
			name:   "one unused register splits with MaxGap 0",
			points: []device.Point{holdingPt(0, tU16), holdingPt(2, tU16)},
			want:   []string{"holding 0+1 [0]", "holding 2+1 [1]"},
		},
		{
			name:   "one unused register merges with MaxGap 1",
			points: []device.Point{holdingPt(0, tU16), holdingPt(2, tU16)},
			lim:    Limits{MaxGap: 1},
			want:   []string{"holding 0+3 [0 1]"},
		},
		{
			name:   "a gap of exactly MaxGap merges",
			points: []device.Point{holdingPt(0, tU16), holdingPt(17, tU16)},
			lim:    Limits{MaxGap: 16},
			want:   []string{"holding 0+18 [0 1]"},
		},
		{
			name:   "a gap of MaxGap+1 splits",
			points: []device.Point{holdingPt(0, tU16), holdingPt(18, tU16)},
			lim:    Limits{MaxGap: 16},
			want:   []string{"holding 0+1 [0]", "holding 18+1 [1]"},
		},
		{
			name:   "the gap counts from the end of a multi-register point",
			points: []device.Point{holdingPt(0, tF64), holdingPt(5, tU16)},
			lim:    Limits{MaxGap: 1},
			want:   []string{"holding 0+6 [0 1]"},
		},
		{
			name:   "uint16 inside a float32",
			points: []device.Point{holdingPt(0, tF32), holdingPt(1, tU16)},
			want:   []string{"holding 0+2 [0 1]"},
		},
		{
			name:   "two points at the same address, listed by index",
			points: []device.Point{holdingPt(5, tF32), holdingPt(5, tU16), holdingPt(5, tF32)},
			want:   []string{"holding 5+2 [0-2]"},
		},
		{
			name:   "points nested in a float64",
			points: []device.Point{holdingPt(12, tU32), holdingPt(10, tF64), holdingPt(11, tU16)},
			want:   []string{"holding 10+4 [1 2 0]"},
		},
		{
			// Without the float64 at 1..4, MaxGap 0 would need three reads.
			name:   "a long point bridges gaps between short ones",
			points: []device.Point{holdingPt(2, tU16), holdingPt(4, tU16), holdingPt(0, tU16), holdingPt(1, tF64), holdingPt(6, tU16)},
			want:   []string{"holding 0+5 [2 3 0 1]", "holding 6+1 [4]"},
		},
		{
			name:   "125 registers per read by default",
			points: pointRun(126, func(i int) device.Point { return holdingPt(i, tU16) }),
			want:   []string{"holding 0+125 [0-124]", "holding 125+1 [125]"},
		},
		{
			name:   "a float32 that would end at register 126 starts a new read",
			points: []device.Point{holdingPt(0, tU16), holdingPt(124, tF32)},
			lim:    Limits{MaxGap: 200},
			want:   []string{"holding 0+1 [0]", "holding 124+2 [1]"},
		},
		{
			name:   "a float32 ending exactly at 125 fits",
			points: []device.Point{holdingPt(0, tU16), holdingPt(123, tF32)},
			lim:    Limits{MaxGap: 200},
			want:   []string{"holding 0+125 [0 1]"},
		},
		{
			name:   "max_registers below 125",
			points: pointRun(20, func(i int) device.Point { return inputPt(i, tU16) }),
			lim:    Limits{MaxRegisters: 8},
			want:   []string{"input 0+8 [0-7]", "input 8+8 [8-15]", "input 16+4 [16-19]"},
		},
		{
			name:   "max_registers above 125 is clamped",
			points: pointRun(130, func(i int) device.Point { return holdingPt(i, tU16) }),
			lim:    Limits{MaxRegisters: 500},
			want:   []string{"holding 0+125 [0-124]", "holding 125+5 [125-129]"},
		},
		{
			name:   "max_registers 1 reads one register at a time",
			points: []device.Point{holdingPt(0, tU16), holdingPt(1, tU16)},
			lim:    Limits{MaxRegisters: 1},
			want:   []string{"holding 0+1 [0]", "holding 1+1 [1]"},
		},
		{
			name:   "negative MaxGap acts as 0",
			points: []device.Point{holdingPt(0, tU16), holdingPt(2, tU16)},
			lim:    Limits{MaxGap: -3},
			want:   []string{"holding 0+1 [0]", "holding 2+1 [1]"},
		},
		{
			name:   "huge MaxGap is bounded by the span only",
			points: []device.Point{holdingPt(0, tU16), holdingPt(100, tU16), holdingPt(60000, tU16)},
			lim:    Limits{MaxGap: 1 << 40},
			want:   []string{"holding 0+101 [0 1]", "holding 60000+1 [2]"},
		},
		{
			name:   "2000 bits per read",
			points: pointRun(2001, coilPt),
			want:   []string{"coil 0+2000 [0-1999]", "coil 2000+1 [2000]"},
		},
		{
			name:   "bit reads ignore max_registers",
			points: pointRun(200, discretePt),
			lim:    Limits{MaxRegisters: 10},
			want:   []string{"discrete 0+200 [0-199]"},
		},
		{
			name:   "a non-bool point in a bit table is one bit",
			points: []device.Point{{Table: device.TableCoil, Address: 0, Type: tF64}, coilPt(1)},
			want:   []string{"coil 0+2 [0 1]"},
		},
		{
			name:   "tables in protocol order from unsorted input",
			points: []device.Point{holdingPt(3, tU16), inputPt(0, tU16), coilPt(7), discretePt(1), holdingPt(0, tF32), coilPt(0)},
			lim:    Limits{MaxGap: 16},
			want:   []string{"coil 0+8 [5 2]", "discrete 1+1 [3]", "input 0+1 [1]", "holding 0+4 [4 0]"},
		},
		{
			name:   "unsorted inputPt within a table",
			points: []device.Point{holdingPt(9, tU16), holdingPt(0, tU16), holdingPt(4, tU16), holdingPt(1, tU16)},
			want:   []string{"holding 0+2 [1 3]", "holding 4+1 [2]", "holding 9+1 [0]"},
		},
		{
			name:   "the last register",
			points: []device.Point{holdingPt(65535, tU16), holdingPt(65534, tU16)},
			want:   []string{"holding 65534+2 [1 0]"},
		},
		{
			name:   "the last coil",
			points: []device.Point{coilPt(65535)},
			want:   []string{"coil 65535+1 [0]"},
		},
		{
			name: "points no request can address are left out",
			points: []device.Point{
				holdingPt(65535, tF32), holdingPt(-1, tU16), {Address: 3, Type: tU16}, holdingPt(70000, tU16),
				{Table: 9, Address: 3, Type: tU16}, holdingPt(10, tU16), holdingPt(65532, tF64),
			},
			want: []string{"holding 10+1 [5]", "holding 65532+4 [6]"},
		},
		{
			name:   "an unset type reads one register",
			points: []device.Point{{Table: device.TableInput, Address: 4}},
			want:   []string{"input 4+1 [0]"},
		},
		{
			// Validation refuses a float64 with max_registers 2; the plan
			// still reads it, alone, so that the poller reports it.
			name:   "a point larger than max_registers is read alone",
			points: []device.Point{holdingPt(0, tU16), holdingPt(1, tF64), holdingPt(2, tU16), holdingPt(8, tF64), holdingPt(9, tU16)},
			lim:    Limits{MaxRegisters: 2, MaxGap: 16},
			want: []string{
				"holding 0+1 [0]", "holding 1+4 [1]", "holding 2+1 [2]",
				"holding 8+4 [3]", "holding 9+1 [4]",
			},
		},
		{
			name:   "a point larger than max_registers does not break its neighbours' read",
			points: []device.Point{holdingPt(0, tU16), holdingPt(1, tU16), holdingPt(1, tF64), holdingPt(2, tU16)},
			lim:    Limits{MaxRegisters: 2},
			want:   []string{"holding 0+2 [0 1]", "holding 1+4 [2]", "holding 2+1 [3]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads := Plan(tt.points, tt.lim)
			if got := readStrings(reads); !slices.Equal(got, tt.want) {
				t.Errorf("Plan(%v) =\n  %q\nwant\n  %q", tt.lim, got, tt.want)
			}
			checkPlan(t, tt.points, tt.lim, MaxReadBits, reads)
		})
	}
}

// TestPlanBitLimitHook checks the test-only bit limit that the exhaustive
// tests rely on, so that those tests exercise the same code as Plan.
func TestPlanBitLimitHook(t *testing.T) {
	points := pointRun(7, coilPt)
	got := readStrings(plan(points, 0, MaxReadRegisters, 3))
	want := []string{"coil 0+3 [0-2]", "coil 3+3 [3-5]", "coil 6+1 [6]"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPlanPointsDoNotAlias(t *testing.T) {
	reads := Plan([]device.Point{holdingPt(0, tU16), holdingPt(1, tU16), holdingPt(50, tU16)}, Limits{})
	if len(reads) != 2 {
		t.Fatalf("got %d reads, want 2", len(reads))
	}
	_ = append(reads[0].Points, 99)
	if reads[1].Points[0] != 2 {
		t.Errorf("appending to one read's Points changed the next read's: %v", reads[1].Points)
	}
}

func TestPointSize(t *testing.T) {
	tests := []struct {
		p    device.Point
		want int
	}{
		{coilPt(0), 1},
		{discretePt(0), 1},
		{device.Point{Table: device.TableCoil, Type: tF64}, 1},
		{holdingPt(0, tU16), 1},
		{holdingPt(0, device.TypeInt16), 1},
		{inputPt(0, tF32), 2},
		{holdingPt(0, device.TypeInt32), 2},
		{holdingPt(0, device.TypeUint64), 4},
		{holdingPt(0, tF64), 4},
		{holdingPt(0, 0), 1},
	}
	for _, tt := range tests {
		if got := PointSize(tt.p); got != tt.want {
			t.Errorf("PointSize(%s %s) = %d, want %d", tt.p.Table, tt.p.Type, got, tt.want)
		}
	}
}

func TestReadCovers(t *testing.T) {
	r := Read{Table: device.TableHolding, Address: 10, Count: 5}
	tests := []struct {
		addr, size int
		want       bool
	}{
		{10, 1, true}, {10, 5, true}, {14, 1, true}, {12, 2, true},
		{9, 1, false}, {9, 2, false}, {14, 2, false}, {15, 1, false},
		{10, 0, false}, {10, -1, false}, {-5, 20, false},
	}
	for _, tt := range tests {
		if got := r.Covers(tt.addr, tt.size); got != tt.want {
			t.Errorf("Covers(%d, %d) = %v, want %v", tt.addr, tt.size, got, tt.want)
		}
	}
	top := Read{Table: device.TableCoil, Address: 65535, Count: 1}
	if !top.Covers(65535, 1) || top.Covers(65535, 2) {
		t.Errorf("a read of the last coilPt must cover it and nothing past it")
	}
}

func TestDeviceLimits(t *testing.T) {
	d := device.Device{MaxRegisters: 60}
	if got := DeviceLimits(d); got != (Limits{MaxGap: device.DefaultMaxGap, MaxRegisters: 60}) {
		t.Errorf("unset max_gap: got %+v", got)
	}
	d.SetMaxGap(0)
	if got := DeviceLimits(d); got != (Limits{MaxGap: 0, MaxRegisters: 60}) {
		t.Errorf("max_gap 0: got %+v", got)
	}
}

func TestSplitRead(t *testing.T) {
	points := []device.Point{holdingPt(3, tU16), holdingPt(0, tU16), holdingPt(1, tF32), holdingPt(10, tU16), coilPt(0)}
	reads := Plan(points, Limits{MaxGap: 16})
	if len(reads) != 2 || reads[1].Table != device.TableHolding {
		t.Fatalf("plan: %q", readStrings(reads))
	}
	r := reads[1]
	a, b, ok := SplitRead(r, points)
	if !ok {
		t.Fatalf("SplitRead(%s) refused a read of four points", readString(r))
	}
	if got, want := []string{readString(a), readString(b)}, []string{"holding 0+3 [1 2]", "holding 3+8 [0 3]"}; !slices.Equal(got, want) {
		t.Errorf("halves %q, want %q", got, want)
	}
	a2, b2, ok := SplitRead(b, points)
	if !ok || readString(a2) != "holding 3+1 [0]" || readString(b2) != "holding 10+1 [3]" {
		t.Errorf("second split: %q %q %v", readString(a2), readString(b2), ok)
	}
	if _, _, ok := SplitRead(a2, points); ok {
		t.Errorf("split a read of one point")
	}
	if _, _, ok := SplitRead(Read{}, points); ok {
		t.Errorf("split an empty read")
	}

	bad := []struct {
		name string
		r    Read
	}{
		{"index out of range", Read{Table: device.TableHolding, Address: 0, Count: 11, Points: []int{1, 7}}},
		{"negative index", Read{Table: device.TableHolding, Address: 0, Count: 11, Points: []int{-1, 1}}},
		{"point of another table", Read{Table: device.TableHolding, Address: 0, Count: 11, Points: []int{1, 4}}},
		{"point outside the read", Read{Table: device.TableHolding, Address: 0, Count: 2, Points: []int{1, 2}}},
	}
	for _, tt := range bad {
		if _, _, ok := SplitRead(tt.r, points); ok {
			t.Errorf("%s: SplitRead accepted %s", tt.name, readString(tt.r))
		}
	}
}

// TestSplitReadIsolates bisects random reads down to single points, as a
// poller does after exception 2, and checks that every point ends up alone
// in a tight read exactly once.
func TestSplitReadIsolates(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		points := randomLayout(rng, 1+rng.IntN(40), 1+rng.IntN(120), []device.RegisterTable{device.TableHolding, device.TableCoil})
		for _, r := range Plan(points, Limits{MaxGap: rng.IntN(20)}) {
			var singles []int
			queue := []Read{r}
			for len(queue) > 0 {
				q := queue[0]
				queue = queue[1:]
				a, b, ok := SplitRead(q, points)
				if !ok {
					if len(q.Points) != 1 {
						t.Fatalf("SplitRead refused %s", readString(q))
					}
					p := points[q.Points[0]]
					if int(q.Address) != p.Address || int(q.Count) != PointSize(p) {
						t.Fatalf("single-point read %s is not tight around its point at %d", readString(q), p.Address)
					}
					singles = append(singles, q.Points[0])
					continue
				}
				for _, h := range []Read{a, b} {
					if len(h.Points) == 0 || h.Address < q.Address || int(h.Address)+int(h.Count) > int(q.Address)+int(q.Count) {
						t.Fatalf("half %s of %s is empty or outside it", readString(h), readString(q))
					}
				}
				if len(a.Points)+len(b.Points) != len(q.Points) {
					t.Fatalf("halves of %s lost points", readString(q))
				}
				queue = append(queue, a, b)
			}
			slices.Sort(singles)
			want := slices.Sorted(slices.Values(r.Points))
			if !slices.Equal(singles, want) {
				t.Fatalf("bisecting %s isolated %v", readString(r), singles)
			}
		}
	}
}

// TestPlanOptimal compares the number of reads with an exhaustive search
// over every way to group the points, on thousands of random small layouts
// with nesting, overlaps, duplicates, oversized points and small limits.
func TestPlanOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 4))
	all := []device.RegisterTable{device.TableCoil, device.TableDiscrete, device.TableInput, device.TableHolding}
	layouts := 10000
	if testing.Short() {
		layouts = 1000
	}
	for n := range layouts {
		tables := []device.RegisterTable{all[rng.IntN(4)]}
		if rng.IntN(3) == 0 {
			tables = append(tables, all[rng.IntN(4)])
		}
		points := randomLayout(rng, 1+rng.IntN(10), 1+rng.IntN(60), tables)
		gap := rng.IntN(7)
		maxRegs := 4 + rng.IntN(13)
		if rng.IntN(8) == 0 {
			maxRegs = 1 + rng.IntN(3) // float64 and 32-bit points do not fit
		}
		maxBits := 1 + rng.IntN(16)
		reads := plan(points, gap, maxRegs, maxBits)
		checkPlan(t, points, Limits{MaxGap: gap, MaxRegisters: maxRegs}, maxBits, reads)
		if want := bruteCount(points, gap, maxRegs, maxBits); len(reads) != want {
			t.Fatalf("layout %d (gap %d, max_registers %d, bits %d): %d reads, optimum %d\npoints %v\nplan %q",
				n, gap, maxRegs, maxBits, len(reads), want, points, readStrings(reads))
		}
	}
}

// TestPlanMatchesReference compares Plan on layouts too large for the
// exhaustive search with a plain quadratic dynamic programme over runs of
// consecutive points (exact, because some minimal plan is made of such runs;
// TestPlanOptimal checks that claim on small layouts).
func TestPlanMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	all := []device.RegisterTable{device.TableCoil, device.TableDiscrete, device.TableInput, device.TableHolding}
	for n := range 300 {
		size := 20 + rng.IntN(400)
		points := randomLayout(rng, size, 1+rng.IntN(size*4), all)
		lim := Limits{MaxGap: rng.IntN(20), MaxRegisters: 1 + rng.IntN(MaxReadRegisters)}
		maxBits := MaxReadBits
		reads := Plan(points, lim)
		if rng.IntN(2) == 0 {
			maxBits = 1 + rng.IntN(64)
			reads = plan(points, lim.MaxGap, lim.MaxRegisters, maxBits)
		}
		checkPlan(t, points, lim, maxBits, reads)
		if want := refCount(points, lim.MaxGap, lim.MaxRegisters, maxBits); len(reads) != want {
			t.Fatalf("layout %d (%+v, bits %d): %d reads, reference %d", n, lim, maxBits, len(reads), want)
		}
	}
}

// randomLayout returns n points in the given tables at addresses within a
// window, sometimes at the top of the address space. Register points are
// 1, 2 or 4 registers long, so they nest and overlap.
func randomLayout(rng *rand.Rand, n, window int, tables []device.RegisterTable) []device.Point {
	base := 0
	if rng.IntN(10) == 0 {
		base = 1<<16 - window - 4
	}
	types := []device.DataType{tU16, tU16, device.TypeInt16, tF32, tU32, tF64}
	points := make([]device.Point, n)
	for i := range points {
		p := device.Point{Table: tables[rng.IntN(len(tables))], Address: base + rng.IntN(window)}
		if p.Table.IsBit() {
			p.Type = device.TypeBool
		} else {
			p.Type = types[rng.IntN(len(types))]
		}
		points[i] = p
	}
	return points
}

// limitOf is the read limit of table t, worked out apart from the planner.
func limitOf(t device.RegisterTable, lim Limits, maxBits int) int {
	if t.IsBit() {
		return maxBits
	}
	if lim.MaxRegisters < 1 || lim.MaxRegisters > 125 {
		return 125
	}
	return lim.MaxRegisters
}

// checkPlan checks every property a plan must have, apart from minimality.
func checkPlan(tb testing.TB, points []device.Point, lim Limits, maxBits int, reads []Read) {
	tb.Helper()
	gap := max(lim.MaxGap, 0)
	in := make([]int, len(points)) // 1 + the read listing each point
	prevTable, prevAddr := device.RegisterTable(0), -1
	for ri, r := range reads {
		name := fmt.Sprintf("read %d (%s)", ri, readString(r))
		if r.Table < device.TableCoil || r.Table > device.TableHolding {
			tb.Fatalf("%s: bad table", name)
		}
		if r.Table < prevTable || r.Table == prevTable && int(r.Address) < prevAddr {
			tb.Fatalf("%s: out of order after %s %d", name, prevTable, prevAddr)
		}
		prevTable, prevAddr = r.Table, int(r.Address)
		if r.Count == 0 || len(r.Points) == 0 {
			tb.Fatalf("%s: empty", name)
		}
		if int(r.Address)+int(r.Count) > 1<<16 {
			tb.Fatalf("%s: extends beyond 65535", name)
		}
		limit := limitOf(r.Table, lim, maxBits)
		for _, i := range r.Points {
			if i < 0 || i >= len(points) {
				tb.Fatalf("%s: point index %d out of range", name, i)
			}
		}
		alone := len(r.Points) == 1 && PointSize(points[r.Points[0]]) > limit
		if int(r.Count) > limit && !alone {
			tb.Fatalf("%s: %d exceeds the limit %d", name, r.Count, limit)
		}
		lo, hi, prev := 1<<16, 0, -1
		for _, i := range r.Points {
			p := points[i]
			if in[i] != 0 {
				tb.Fatalf("%s: point %d is already in read %d", name, i, in[i]-1)
			}
			in[i] = ri + 1
			if p.Table != r.Table {
				tb.Fatalf("%s: point %d is in the %s table", name, i, p.Table)
			}
			if !r.Covers(p.Address, PointSize(p)) {
				tb.Fatalf("%s: point %d at %d+%d is not inside", name, i, p.Address, PointSize(p))
			}
			if prev >= 0 && (points[prev].Address > p.Address || points[prev].Address == p.Address && prev > i) {
				tb.Fatalf("%s: points not in address order", name)
			}
			if prev >= 0 && p.Address-hi > gap {
				tb.Fatalf("%s: %d unused registers before point %d, MaxGap %d", name, p.Address-hi, i, gap)
			}
			prev = i
			lo, hi = min(lo, p.Address), max(hi, p.Address+PointSize(p))
		}
		if lo != int(r.Address) || hi != int(r.Address)+int(r.Count) {
			tb.Fatalf("%s: not tight, its points span %d..%d", name, lo, hi-1)
		}
	}
	for i, p := range points {
		addressable := p.Table >= device.TableCoil && p.Table <= device.TableHolding &&
			p.Address >= 0 && p.Address+PointSize(p)-1 <= 65535
		if addressable && in[i] == 0 {
			tb.Fatalf("point %d (%s %d %s) is in no read", i, p.Table, p.Address, p.Type)
		}
		if !addressable && in[i] != 0 {
			tb.Fatalf("unaddressable point %d (%s %d %s) is in read %d", i, p.Table, p.Address, p.Type, in[i]-1)
		}
	}
}

// bruteCount returns the fewest reads for up to about 12 addressable points
// within 64 registers of each other, by a dynamic programme over all subsets:
// the best plan of a set is one valid read holding its lowest point plus the
// best plan of the rest. It assumes nothing about the order of points in
// reads, and checks gaps on a bitmap rather than by sweeping.
func bruteCount(points []device.Point, gap, maxRegs, maxBits int) int {
	n := len(points)
	base := 1 << 16
	for _, p := range points {
		base = min(base, p.Address)
	}
	valid := make([]bool, 1<<n)
	for set := 1; set < 1<<n; set++ {
		if set&(set-1) == 0 {
			valid[set] = true // any one point can be read on its own
			continue
		}
		var covered uint64
		lo, hi := 1<<16, 0
		var table device.RegisterTable
		ok := true
		for i, p := range points {
			if set&(1<<i) == 0 {
				continue
			}
			if table != 0 && p.Table != table {
				ok = false
			}
			table = p.Table
			size := PointSize(p)
			covered |= (1<<size - 1) << (p.Address - base)
			lo, hi = min(lo, p.Address), max(hi, p.Address+size)
		}
		limit := maxRegs
		if table.IsBit() {
			limit = maxBits
		}
		ok = ok && hi-lo <= limit
		unused := 0
		for a := lo; a < hi && ok; a++ {
			if covered&(1<<(a-base)) != 0 {
				unused = 0
			} else if unused++; unused > gap {
				ok = false
			}
		}
		valid[set] = ok
	}
	best := make([]int, 1<<n)
	for set := 1; set < 1<<n; set++ {
		low := set & -set
		rest := set ^ low
		best[set] = n + 1
		for sub := rest; ; sub = (sub - 1) & rest {
			if valid[sub|low] {
				best[set] = min(best[set], 1+best[set^(sub|low)])
			}
			if sub == 0 {
				break
			}
		}
	}
	return best[1<<n-1]
}

// refCount returns the fewest reads over plans made of runs of consecutive
// points in address order: for every first point, every pointRun it can start
// is tried. Quadratic in the worst case, and independent of Plan's code.
func refCount(points []device.Point, gap, maxRegs, maxBits int) int {
	gap = max(gap, 0)
	if maxRegs < 1 || maxRegs > 125 {
		maxRegs = 125
	}
	total := 0
	for t := device.TableCoil; t <= device.TableHolding; t++ {
		limit := maxRegs
		if t.IsBit() {
			limit = maxBits
		}
		var ps []device.Point
		for _, p := range points {
			if p.Table != t || p.Address < 0 || p.Address+PointSize(p) > 1<<16 {
				continue
			}
			if PointSize(p) > limit {
				total++ // read on its own
				continue
			}
			ps = append(ps, p)
		}
		slices.SortStableFunc(ps, func(a, b device.Point) int { return a.Address - b.Address })
		best := make([]int, len(ps)+1)
		for i := 1; i <= len(ps); i++ {
			best[i] = len(ps) + 1
		}
		for j := range ps {
			end := ps[j].Address
			for i := j; i < len(ps); i++ {
				p := ps[i]
				if p.Address-end > gap || max(end, p.Address+PointSize(p))-ps[j].Address > limit {
					break
				}
				end = max(end, p.Address+PointSize(p))
				best[i+1] = min(best[i+1], best[j]+1)
			}
		}
		total += best[len(ps)]
	}
	return total
}
