package sim

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus"
)

// DefaultSize is the number of registers (and bits) per table in the
// default map: addresses 0..DefaultSize-1 exist in all four tables.
const DefaultSize = 100

// Model is one simulated device: its points, how each moves, and the values
// written to it. It is safe for concurrent use; one Model may serve several
// unit ids, which then share its state.
//
// Which registers exist: by default every address from a table's lowest to
// its highest point address exists, as on most real devices, so that a
// planner may read across gaps; a register inside a gap belongs to no point,
// reads as 0 and refuses writes (exception 2). With Sparse, only the
// registers of points exist. Addresses outside are exception 2.
type Model struct {
	name   string
	now    func() time.Time
	epoch  time.Time
	sparse bool
	points []simPoint
	byName map[string]int
	tables [5]tableMap // indexed by device.RegisterTable

	mu       sync.Mutex
	heldRegs map[int][]uint16 // point index → words held since a write
	heldBits map[int]bool     // point index → bit held since a write
}

type simPoint struct {
	device.Point
	wave wave
}

// tableMap says which addresses of one table exist and which point owns
// each.
type tableMap struct {
	lo, hi int          // existing range (dense models); hi < lo when empty
	owner  map[int]cell // address → owning point and word
}

type cell struct{ point, word int }

// exists reports whether addr exists in the table.
func (t *tableMap) exists(addr int, sparse bool) bool {
	if sparse {
		_, ok := t.owner[addr]
		return ok
	}
	return addr >= t.lo && addr <= t.hi
}

// ModelOption configures a Model.
type ModelOption func(*Model)

// WithClock makes the model read time from now instead of time.Now, so that
// a test can set the clock and predict every value (see ManualClock).
func WithClock(now func() time.Time) ModelOption { return func(m *Model) { m.now = now } }

// WithEpoch sets the instant at which every waveform starts; by default it
// is the clock's time when the model is built.
func WithEpoch(t time.Time) ModelOption { return func(m *Model) { m.epoch = t } }

// WithName sets the ProductCode the device reports in its identification
// (function 43/14); ProfileModel uses the profile's name.
func WithName(name string) ModelOption { return func(m *Model) { m.name = name } }

// Sparse makes only the registers and bits of points exist: a read that
// spans a gap between points is refused with exception 2, as strict
// devices do.
func Sparse() ModelOption { return func(m *Model) { m.sparse = true } }

// NewModel builds a device from points (a profile's or a site device's).
// Each point moves by a rule picked from its name and unit (sine for
// temperatures and voltages, ramp for speeds, counter for energy and run
// hours, toggling bools) and is encoded with the point's type, byte order,
// scale and offset. Points must not overlap, bools must be in the coil or
// discrete table and numbers in the input or holding table.
func NewModel(points []device.Point, opts ...ModelOption) (*Model, error) {
	sps := make([]simPoint, len(points))
	for i, p := range points {
		sps[i] = simPoint{Point: p, wave: waveFor(p)}
	}
	return newModel(sps, opts)
}

// ProfileModel builds a device from the built-in profile called name
// (device.LookupProfile), reporting the profile's name as its product code.
func ProfileModel(name string, opts ...ModelOption) (*Model, error) {
	prof, ok := device.LookupProfile(name)
	if !ok {
		return nil, fmt.Errorf("no built-in profile %q (known: %v)", name, device.ProfileNames())
	}
	return NewModel(prof.Points, append([]ModelOption{WithName(prof.Name)}, opts...)...)
}

// DefaultModel is the device served when no profile is given: holding and
// input registers and coils and discrete inputs 0..DefaultSize-1, all
// existing and moving (registers cycle through sine, ramp and counter by
// address; bits toggle), with holding registers and coils writable. Its
// points are named hr0.., ir0.., co0.., di0.. (uint16, ABCD, no scaling).
func DefaultModel(opts ...ModelOption) *Model {
	var sps []simPoint
	for a := range DefaultSize {
		sps = append(sps,
			simPoint{device.Point{Name: fmt.Sprintf("hr%d", a), Table: device.TableHolding, Address: a, Type: device.TypeUint16, Writable: true}, defaultWave(a)},
			simPoint{device.Point{Name: fmt.Sprintf("ir%d", a), Table: device.TableInput, Address: a, Type: device.TypeUint16}, defaultWave(a + 1)},
			simPoint{device.Point{Name: fmt.Sprintf("co%d", a), Table: device.TableCoil, Address: a, Type: device.TypeBool, Writable: true}, waveFor(device.Point{Type: device.TypeBool, Address: a})},
			simPoint{device.Point{Name: fmt.Sprintf("di%d", a), Table: device.TableDiscrete, Address: a, Type: device.TypeBool}, waveFor(device.Point{Type: device.TypeBool, Address: a + 1})},
		)
	}
	m, err := newModel(sps, append([]ModelOption{WithName("default")}, opts...))
	if err != nil {
		panic("sim: default map: " + err.Error()) // built here, so a bug
	}
	return m
}

func newModel(points []simPoint, opts []ModelOption) (*Model, error) {
	m := &Model{now: time.Now, points: points, byName: make(map[string]int), heldRegs: make(map[int][]uint16), heldBits: make(map[int]bool)}
	for _, o := range opts {
		o(m)
	}
	if m.epoch.IsZero() {
		m.epoch = m.now()
	}
	for t := range m.tables {
		m.tables[t] = tableMap{lo: 0, hi: -1, owner: make(map[int]cell)}
	}
	for i, p := range points {
		if _, dup := m.byName[p.Name]; dup {
			return nil, fmt.Errorf("point %q: the name is used twice", p.Name)
		}
		m.byName[p.Name] = i
		if p.Table < device.TableCoil || p.Table > device.TableHolding {
			return nil, fmt.Errorf("point %q: table %s is not coil, discrete, input or holding", p.Name, p.Table)
		}
		if p.Table.IsBit() != (p.Type == device.TypeBool) {
			return nil, fmt.Errorf("point %q: type %s does not fit the %s table", p.Name, p.Type, p.Table)
		}
		n := p.Type.Registers()
		if n == 0 {
			return nil, fmt.Errorf("point %q: unknown type %s", p.Name, p.Type)
		}
		if p.Address < 0 || p.Address+n > 65536 {
			return nil, fmt.Errorf("point %q: address %d is outside 0..65535", p.Name, p.Address)
		}
		tm := &m.tables[p.Table]
		for w := range n {
			a := p.Address + w
			if c, taken := tm.owner[a]; taken {
				return nil, fmt.Errorf("point %q: %s address %d is also used by %q", p.Name, p.Table, a, points[c.point].Name)
			}
			tm.owner[a] = cell{i, w}
		}
		if tm.hi < tm.lo {
			tm.lo, tm.hi = p.Address, p.Address+n-1
		} else {
			tm.lo, tm.hi = min(tm.lo, p.Address), max(tm.hi, p.Address+n-1)
		}
	}
	return m, nil
}

// Name returns the product code the device reports.
func (m *Model) Name() string { return m.name }

// Points returns the device's points.
func (m *Model) Points() []device.Point {
	out := make([]device.Point, len(m.points))
	for i, p := range m.points {
		out[i] = p.Point
	}
	return out
}

// Value returns the engineering value a read of point name would give now:
// the moving (or written) value after encoding into the point's registers
// and decoding them again, so it carries the same rounding as what a client
// sees. Bools are 0 or 1.
func (m *Model) Value(name string) (float64, bool) {
	i, ok := m.byName[name]
	if !ok {
		return 0, false
	}
	p := m.points[i]
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.Type == device.TypeBool {
		if m.bitLocked(i, now) {
			return 1, true
		}
		return 0, true
	}
	raw, err := modbus.DecodeRegisters(m.wordsLocked(i, now), p.Type, p.Order)
	if err != nil {
		return 0, false
	}
	return p.Apply(raw), true
}

// wordsLocked returns the wire registers of register point i at now.
func (m *Model) wordsLocked(i int, now time.Time) []uint16 {
	if w, ok := m.heldRegs[i]; ok {
		return w
	}
	p := m.points[i]
	v := p.wave.at(now.Sub(m.epoch))
	scale := p.Scale()
	if scale == 0 {
		scale = 1
	}
	raw := fitRaw((v-p.Offset)/scale, p.Type, p.wave.kind)
	words, err := modbus.EncodeRegisters(raw, p.Type, p.Order)
	if err != nil {
		// fitRaw keeps raw in range, so this is a bug; zeros beat a crash
		// in a simulator.
		return make([]uint16, p.Type.Registers())
	}
	return words
}

// bitLocked returns bool point i at now.
func (m *Model) bitLocked(i int, now time.Time) bool {
	if b, ok := m.heldBits[i]; ok {
		return b
	}
	return m.points[i].wave.at(now.Sub(m.epoch)) != 0
}

// check returns exception 2 unless every address of [addr, addr+qty)
// exists in table.
func (m *Model) check(table device.RegisterTable, addr, qty int) error {
	if table < device.TableCoil || table > device.TableHolding {
		return IllegalFunction
	}
	tm := &m.tables[table]
	for a := addr; a < addr+qty; a++ {
		if !tm.exists(a, m.sparse) {
			return IllegalDataAddress
		}
	}
	return nil
}

// ReadRegisters returns qty registers of an input or holding table from
// addr, as a device would put them on the wire. Missing addresses give
// IllegalDataAddress.
func (m *Model) ReadRegisters(table device.RegisterTable, addr, qty uint16) ([]uint16, error) {
	if table.IsBit() {
		return nil, IllegalFunction
	}
	if err := m.check(table, int(addr), int(qty)); err != nil {
		return nil, err
	}
	now := m.now() // once, so that the words of one value are consistent
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]uint16, qty)
	cache := make(map[int][]uint16)
	tm := &m.tables[table]
	for k := range out {
		c, ok := tm.owner[int(addr)+k]
		if !ok {
			continue // a gap: reads as 0
		}
		w, ok := cache[c.point]
		if !ok {
			w = m.wordsLocked(c.point, now)
			cache[c.point] = w
		}
		out[k] = w[c.word]
	}
	return out, nil
}

// ReadBits returns qty bits of the coil or discrete table from addr.
func (m *Model) ReadBits(table device.RegisterTable, addr, qty uint16) ([]bool, error) {
	if !table.IsBit() {
		return nil, IllegalFunction
	}
	if err := m.check(table, int(addr), int(qty)); err != nil {
		return nil, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]bool, qty)
	tm := &m.tables[table]
	for k := range out {
		if c, ok := tm.owner[int(addr)+k]; ok {
			out[k] = m.bitLocked(c.point, now)
		}
	}
	return out, nil
}

// writable returns the owners of [addr, addr+n) in table, or exception 2
// if any address belongs to no writable point. Nothing is written unless
// every address is writable, so a refused write changes nothing.
func (m *Model) writable(table device.RegisterTable, addr, n int) ([]cell, error) {
	tm := &m.tables[table]
	cells := make([]cell, n)
	for k := range cells {
		c, ok := tm.owner[addr+k]
		if !ok || !m.points[c.point].Writable {
			return nil, IllegalDataAddress
		}
		cells[k] = c
	}
	return cells, nil
}

// WriteRegisters writes holding registers from addr. Every register must
// belong to a writable point; a write that covers part of a multi-register
// point holds the point's other registers at their value at the time of
// the write. A written point keeps its value until written again.
func (m *Model) WriteRegisters(addr uint16, values []uint16) error {
	cells, err := m.writable(device.TableHolding, int(addr), len(values))
	if err != nil {
		return err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range cells {
		w, ok := m.heldRegs[c.point]
		if !ok {
			w = slices.Clone(m.wordsLocked(c.point, now))
			m.heldRegs[c.point] = w
		}
		w[c.word] = values[k]
	}
	return nil
}

// WriteCoils writes coils from addr; every coil must be a writable point.
func (m *Model) WriteCoils(addr uint16, values []bool) error {
	cells, err := m.writable(device.TableCoil, int(addr), len(values))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range cells {
		m.heldBits[c.point] = values[k]
	}
	return nil
}

// Release forgets every written value, so points move again.
func (m *Model) Release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.heldRegs)
	clear(m.heldBits)
}

// ManualClock is a clock that moves only when told, for WithClock.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
