package field

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MaxPointsPerDevice bounds the points kept for one device: a sensor that
// names its own points cannot grow the gateway's memory without bound.
const MaxPointsPerDevice = 1024

// HubOptions connect a Hub to the rest of the gateway.
type HubOptions struct {
	// Readings receives the readings of every recorded cycle for the
	// uplink (the gateway's group commit, which stores them durably). It
	// must not block and must not keep the slice. Nil: readings are kept
	// in memory only.
	Readings func(readings []Reading)
	// Notify is called after each recorded cycle with the device's name
	// (live screens). It must not block.
	Notify func(device string)
}

// Hub is the one readings path of the gateway (see the package doc). It is
// safe for concurrent use.
type Hub struct {
	o HubOptions

	mu      sync.RWMutex
	order   []string                   // device names in site order
	topo    map[string]DeviceInfo      // by device name
	points  map[string]map[string]bool // device → its listed point names
	latest  map[string]map[string]Reading
	status  map[string]Status
	drivers map[Protocol]Driver

	dropped atomic.Uint64 // cycles recorded for devices not in the topology
}

// NewHub returns an empty hub.
func NewHub(o HubOptions) *Hub {
	return &Hub{o: o, topo: map[string]DeviceInfo{}, latest: map[string]map[string]Reading{},
		status: map[string]Status{}, drivers: map[Protocol]Driver{}}
}

// SetTopology replaces the site's devices. State of devices that are gone
// is forgotten; a device whose protocol changed starts afresh.
func (h *Hub) SetTopology(devices []DeviceInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[string]DeviceInfo, len(devices))
	points := make(map[string]map[string]bool, len(devices))
	order := make([]string, 0, len(devices))
	for _, d := range devices {
		d.Points = slices.Clone(d.Points)
		next[d.Name] = d
		set := make(map[string]bool, len(d.Points))
		for _, p := range d.Points {
			set[p.Name] = true
		}
		points[d.Name] = set
		order = append(order, d.Name)
	}
	for name := range h.topo {
		if n, ok := next[name]; !ok || n.Protocol != h.topo[name].Protocol {
			delete(h.latest, name)
			delete(h.status, name)
		}
	}
	h.topo, h.order, h.points = next, order, points
}

// Topology returns the site's devices in site order.
func (h *Hub) Topology() []DeviceInfo {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]DeviceInfo, 0, len(h.order))
	for _, name := range h.order {
		d := h.topo[name]
		d.Points = slices.Clone(d.Points)
		out = append(out, d)
	}
	return out
}

// Device returns one device of the topology.
func (h *Hub) Device(name string) (DeviceInfo, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	d, ok := h.topo[name]
	d.Points = slices.Clone(d.Points)
	return d, ok
}

// Attach makes d the driver of its protocol (reads, writes and discovery
// of that protocol's devices go to it) until the returned function is
// called.
func (h *Hub) Attach(d Driver) (detach func()) {
	h.mu.Lock()
	h.drivers[d.Protocol()] = d
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if h.drivers[d.Protocol()] == d {
			delete(h.drivers, d.Protocol())
		}
		h.mu.Unlock()
	}
}

// Driver returns the driver attached for p, or nil.
func (h *Hub) Driver(p Protocol) Driver {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.drivers[p]
}

// DriverAs returns the driver of protocol p running in h as D — its
// concrete type, or the narrow interface a caller reads it through —
// and false when none runs or it is not a D.
func DriverAs[D any](h *Hub, p Protocol) (D, bool) {
	d, ok := h.Driver(p).(D)
	return d, ok
}

// Record implements Sink: it keeps the cycle's status and readings and
// hands the readings to HubOptions.Readings.
func (h *Hub) Record(st Status, readings []Reading) error {
	h.mu.Lock()
	info, ok := h.topo[st.Device]
	if !ok {
		h.mu.Unlock()
		h.dropped.Add(1)
		return nil
	}
	st = st.Clone()
	st.Protocol = info.Protocol
	latest := h.latest[st.Device]
	if latest == nil {
		latest = make(map[string]Reading, len(info.Points))
		h.latest[st.Device] = latest
	}
	listed := h.points[st.Device]
	accept := func(r Reading) bool {
		if r.Device != st.Device || !info.DynamicPoints && !listed[r.Point] {
			return false // a point the site no longer has
		}
		if len(latest) < MaxPointsPerDevice {
			return true // no lookup needed below the bound
		}
		_, known := latest[r.Point]
		return known
	}
	for i, r := range readings {
		if !accept(r) {
			// Rare: copy the acceptable ones, leaving the caller's slice alone.
			kept := slices.Clone(readings[:i])
			for _, r := range readings[i+1:] {
				if accept(r) {
					kept = append(kept, r)
					latest[r.Point] = r
				}
			}
			readings = kept
			break
		}
		latest[r.Point] = r
	}
	h.status[st.Device] = st
	h.mu.Unlock()
	if h.o.Notify != nil {
		h.o.Notify(st.Device)
	}
	if len(readings) > 0 && h.o.Readings != nil {
		h.o.Readings(readings)
	}
	return nil
}

// Dropped returns how many cycles were recorded for devices that were not
// in the topology (a site change raced them).
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Latest returns the latest readings of a device in the site's point order;
// false when the site has no such device. Points never read yet are
// included with no value and quality stale.
func (h *Hub) Latest(device string) ([]Reading, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	info, ok := h.topo[device]
	if !ok {
		return nil, false
	}
	latest := h.latest[device]
	out := make([]Reading, 0, max(len(info.Points), len(latest)))
	for _, p := range info.Points {
		r, ok := latest[p.Name]
		if !ok {
			r = Reading{Device: device, Point: p.Name, Unit: p.Unit, Quality: QualityStale, Error: "not read yet"}
		}
		out = append(out, r)
	}
	if info.DynamicPoints {
		var extra []Reading
		for name, r := range latest {
			if !h.points[device][name] {
				extra = append(extra, r)
			}
		}
		slices.SortFunc(extra, func(a, b Reading) int { return strings.Compare(a.Point, b.Point) })
		out = append(out, extra...)
	}
	return out, true
}

// Status returns one device's status.
func (h *Hub) Status(device string) (Status, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	info, ok := h.topo[device]
	if !ok {
		return Status{}, false
	}
	return h.statusLocked(info), true
}

func (h *Hub) statusLocked(info DeviceInfo) Status {
	st, ok := h.status[info.Name]
	if !ok {
		return Status{Device: info.Name, Protocol: info.Protocol, Bus: info.Bus, State: StateUnknown, Errors: map[string]uint64{}}
	}
	return st.Clone()
}

// Statuses returns the status of every device of the site, in site order.
func (h *Hub) Statuses() []Status {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Status, 0, len(h.order))
	for _, name := range h.order {
		out = append(out, h.statusLocked(h.topo[name]))
	}
	return out
}

// Counts are devices online out of a total.
type Counts struct {
	DevicesOnline int `json:"devices_online"`
	DevicesTotal  int `json:"devices_total"`
}

// Summary is the field part of health: devices online in all, and per
// protocol that has devices.
type Summary struct {
	Counts
	Protocols map[string]Counts `json:"protocols"`
}

// Summary counts devices online, in all and per protocol.
func (h *Hub) Summary() Summary {
	s := Summary{Protocols: map[string]Counts{}}
	for _, st := range h.Statuses() {
		c := s.Protocols[st.Protocol.String()]
		c.DevicesTotal++
		s.DevicesTotal++
		if st.State == StateOnline {
			c.DevicesOnline++
			s.DevicesOnline++
		}
		s.Protocols[st.Protocol.String()] = c
	}
	return s
}

// route finds the device and its driver.
func (h *Hub) route(device string) (DeviceInfo, Driver, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	info, ok := h.topo[device]
	if !ok {
		return DeviceInfo{}, nil, fmt.Errorf("%w %q in the site", ErrNoDevice, device)
	}
	d := h.drivers[info.Protocol]
	if d == nil {
		return info, nil, fmt.Errorf("device %s: %w (%s)", device, ErrNoDriver, info.Protocol)
	}
	return info, d, nil
}

// Read reads points of a device now through its driver (every point when
// points is empty).
func (h *Hub) Read(ctx context.Context, device string, points []string) ([]Reading, error) {
	info, d, err := h.route(device)
	if err != nil {
		return nil, err
	}
	h.mu.RLock()
	latest := h.latest[device]
	for _, p := range points {
		_, seen := latest[p]
		if !hasPoint(info, p) && !(info.DynamicPoints && seen) {
			h.mu.RUnlock()
			return nil, fmt.Errorf("device %s: %w %q", device, ErrNoPoint, p)
		}
	}
	h.mu.RUnlock()
	return d.Read(ctx, device, points)
}

// Write checks that the point exists and is writable, then writes through
// the device's driver. The caller audits the write.
func (h *Hub) Write(ctx context.Context, w Write) error {
	info, d, err := h.route(w.Device)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(info.Points, func(p PointInfo) bool { return p.Name == w.Point })
	switch {
	case i < 0:
		return fmt.Errorf("device %s: %w %q", w.Device, ErrNoPoint, w.Point)
	case !info.Points[i].Writable:
		return fmt.Errorf("%s.%s: %w (set writable: true on the point to allow writes)", w.Device, w.Point, ErrReadOnly)
	case w.Priority < 0 || w.Priority > 16:
		return fmt.Errorf("priority %d: give 1..16, or 0 for the point's default", w.Priority)
	case w.Value.IsText:
		return fmt.Errorf("%s.%s: writing a text: %w (give a number, or true/false)", w.Device, w.Point, ErrNotSupported)
	}
	return d.Write(ctx, w)
}

// Discover asks the driver of protocol p to find devices.
func (h *Hub) Discover(ctx context.Context, p Protocol, q Query, progress func(Progress)) ([]Found, error) {
	d := h.Driver(p)
	if d == nil {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDriver)
	}
	disc, ok := d.(Discoverer)
	if !ok {
		return nil, fmt.Errorf("discovery: %w (%s)", ErrNotSupported, p)
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	return disc.Discover(ctx, q, progress)
}

func hasPoint(info DeviceInfo, name string) bool {
	return slices.ContainsFunc(info.Points, func(p PointInfo) bool { return p.Name == name })
}
