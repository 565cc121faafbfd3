package bacnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
)

// Mode is how a point's value reaches the gateway.
type Mode uint8

// Modes.
const (
	ModePolled Mode = iota + 1 // read by ReadPropertyMultiple every interval
	ModeCOV                    // notified by the device (SubscribeCOV)
)

var modeNames = map[Mode]string{ModePolled: "polled", ModeCOV: "cov"}

// String returns the mode's name as the console and JSON show it.
func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if n == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown mode %q: use polled or cov", s)
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode's name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	*m = v
	return err
}

// Error kinds counted in a device's status.
const (
	kindTimeout  = "timeout"
	kindReject   = "reject"
	kindAbort    = "abort"
	kindError    = "error"
	kindSegments = "segments"
	kindLink     = "link"
	kindResolve  = "resolve"
	kindOther    = "other"
)

func errKind(err error) string {
	switch {
	case errors.Is(err, node.ErrTimeout):
		return kindTimeout
	case errors.Is(err, node.ErrSegmentTimeout), errors.Is(err, node.ErrReplyTooLarge):
		return kindSegments
	case errors.Is(err, node.ErrUnknownDevice):
		return kindResolve
	case node.IsRejected(err):
		return kindReject
	case node.IsAborted(err):
		return kindAbort
	case node.IsError(err):
		return kindError
	}
	return kindOther
}

// pointDef is a point as the poller reads it.
type pointDef struct {
	cfg     device.BACnetPoint
	obj     stack.ObjectID
	prop    stack.PropertyID
	wantCOV bool
}

// pointMode is a point's COV state.
type pointMode struct {
	sub       *node.Subscription
	why       string    // why it is polled although COV was asked
	refusedAt time.Time // when the device refused; asked again after COVRetry
	lastCOV   time.Time
	notified  uint64
}

// poller reads one device: it finds it (Who-Is unless its address is
// given), reads the units it reports, subscribes to its COV points and
// polls the rest every interval.
type poller struct {
	d      *Driver
	dev    device.BACnetDevice
	conf   []byte
	points []pointDef
	static *node.Address // the address the site gives, if any
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex // guards what follows; never held across a request
	gen       uint64     // the link generation the state below belongs to
	addr      node.Address
	resolved  bool
	info      node.DeviceInfo
	units     []string // as the device reports them, by point
	unitsRead bool
	last      []field.Reading
	modes     []pointMode
	status    field.Status
	failures  int
	// resubscribe: the device did not answer; once it does again its
	// subscriptions are made anew (a restarted device forgot them).
	resubscribe bool
}

func newPoller(d *Driver, dev device.BACnetDevice, conf []byte) *poller {
	p := &poller{d: d, dev: dev, conf: conf, done: make(chan struct{})}
	for _, pt := range dev.Points {
		obj, _ := pt.ObjectID()
		prop, _ := pt.PropertyID()
		p.points = append(p.points, pointDef{cfg: pt, obj: obj, prop: prop, wantCOV: dev.UsesCOV(pt) && prop == stack.PropPresentValue})
	}
	p.units = make([]string, len(p.points))
	p.modes = make([]pointMode, len(p.points))
	p.last = make([]field.Reading, len(p.points))
	for i, pt := range p.points {
		p.last[i] = field.Reading{Device: dev.Name, Point: pt.cfg.Name, Unit: pt.cfg.Unit, Quality: field.QualityStale, Error: "not read yet"}
	}
	p.static = staticAddress(dev)
	p.status = field.Status{Device: dev.Name, Protocol: field.BACnet, Bus: dev.FieldBus(), State: field.StateUnknown, Errors: map[string]uint64{}}
	return p
}

// staticAddress is the address the site gives the device, or nil when it
// is found by Who-Is.
func staticAddress(dev device.BACnetDevice) *node.Address {
	switch {
	case dev.Bus != "" && dev.MAC != nil:
		a := node.MSTP(uint8(*dev.MAC))
		return &a
	case dev.Bus != "" || dev.Address == "":
		return nil
	}
	ap, err := device.ParseBACnetAddress(dev.Address)
	if err != nil {
		return nil
	}
	a := node.IP(ap)
	if dev.Network != 0 && dev.MAC != nil {
		a = node.Routed(a, uint16(dev.Network), []byte{byte(*dev.MAC)})
	}
	return &a
}

func (p *poller) run(ctx context.Context) {
	defer p.unsubscribeAll(ctx)
	field.RunCycles(ctx, p.d.o.Clock, p.dev.EffectiveInterval().Std(), p.cycle)
}

// sync resets what belonged to an earlier node of the link: its
// subscriptions ended with it, and the device is found again.
func (p *poller) sync(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == l.gen {
		return
	}
	for i := range p.modes {
		if s := p.modes[i].sub; s != nil {
			p.d.targets.Delete(covKey{p.gen, s.ProcessID})
		}
		p.modes[i] = pointMode{}
	}
	p.gen, p.resolved, p.unitsRead = l.gen, false, false
}

// resolve returns where the device is: the site's address, else the I-Am
// table or a Who-Is for its instance (global broadcast on BACnet/IP, so
// that devices behind routers answer too).
func (p *poller) resolve(ctx context.Context, n *node.Node, fresh bool) (node.Address, error) {
	p.mu.Lock()
	if p.resolved {
		a := p.addr
		p.mu.Unlock()
		return a, nil
	}
	p.mu.Unlock()
	inst := uint32(*p.dev.Instance)
	var addr node.Address
	var info node.DeviceInfo
	if p.static != nil {
		addr = *p.static
		info, _ = n.Device(inst)
	} else {
		hint := node.Address{Net: stack.GlobalNetwork}
		if p.dev.Bus != "" {
			hint = node.Address{}
		}
		if fresh {
			// The table may hold where the device was: ask again.
			if _, err := n.Discover(ctx, node.DiscoverOptions{To: &hint, HasRange: true, Low: inst, High: inst}); err != nil {
				return node.Address{}, err
			}
		}
		var err error
		if info, err = n.Resolve(ctx, inst, &hint); err != nil {
			return node.Address{}, fmt.Errorf("find device %d: %w (give its address, or check that it is on the network)", inst, err)
		}
		addr = info.Address
	}
	p.mu.Lock()
	p.addr, p.info, p.resolved = addr, info, true
	p.status.Bus = p.dev.FieldBus() + " " + addr.String()
	p.mu.Unlock()
	return addr, nil
}

// cycle polls the device once and returns the delay to the next cycle.
func (p *poller) cycle(ctx context.Context) time.Duration {
	l, n, err := p.d.link(p.dev.FieldBus())
	if err != nil {
		return p.fail(err, kindLink)
	}
	p.sync(l)
	p.mu.Lock()
	fresh := p.failures >= p.d.o.OfflineAfter
	p.mu.Unlock()
	addr, err := p.resolve(ctx, n, fresh)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return p.fail(err, errKind(err))
	}
	p.readUnits(ctx, n, addr)
	p.subscribe(ctx, l, n, addr)
	idx := p.pollIndexes()
	var readings []field.Reading
	if len(idx) > 0 {
		readings, err = p.readPoints(ctx, n, addr, idx)
	} else {
		// Every point is on COV: read the device's status, so that a
		// device that went away is noticed.
		start := p.d.o.Clock.Now()
		_, err = n.ReadProperty(ctx, addr, stack.Ref(stack.ObjectID{Type: stack.ObjectDevice, Instance: uint32(*p.dev.Instance)}, stack.PropSystemStatus))
		p.count(err, p.d.o.Clock.Now().Sub(start))
	}
	if ctx.Err() != nil {
		return 0
	}
	if err != nil {
		return p.fail(err, errKind(err))
	}
	p.renewAfterOutage(ctx, l, n, addr)
	return p.finish(idx, readings)
}

// renewAfterOutage makes the subscriptions anew once a device that did
// not answer does again: it may have restarted and forgotten them, and a
// new subscription is told the current value at once.
func (p *poller) renewAfterOutage(ctx context.Context, l *link, n *node.Node, addr node.Address) {
	p.mu.Lock()
	again := p.resubscribe
	p.resubscribe = false
	var old []*node.Subscription
	if again {
		for i := range p.modes {
			if s := p.modes[i].sub; s != nil {
				old = append(old, s)
				p.d.targets.Delete(covKey{p.gen, s.ProcessID})
				p.modes[i].sub = nil
			}
		}
	}
	p.mu.Unlock()
	if len(old) == 0 {
		return
	}
	for _, s := range old {
		_ = n.Unsubscribe(ctx, s)
	}
	p.subscribe(ctx, l, n, addr)
}

// pollIndexes are the points to read this cycle: every point not on
// COV, and COV points without a good value (not notified yet, after an
// outage or a fault, or whose subscription is failing).
func (p *poller) pollIndexes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var idx []int
	for i := range p.points {
		if p.modeLocked(i) == ModeCOV && p.last[i].Quality == field.QualityGood {
			continue
		}
		idx = append(idx, i)
	}
	return idx
}

func (p *poller) modeLocked(i int) Mode {
	m := p.modes[i]
	if m.sub != nil && m.sub.Err() == nil {
		return ModeCOV
	}
	return ModePolled
}

// readUnits reads, once per finding of the device, the units of analog
// points the site gives none: the readings carry them.
func (p *poller) readUnits(ctx context.Context, n *node.Node, addr node.Address) {
	p.mu.Lock()
	done := p.unitsRead
	p.mu.Unlock()
	if done {
		return
	}
	var refs []stack.PropertyRef
	var idx []int
	for i, pt := range p.points {
		if pt.cfg.Unit == "" && pt.prop == stack.PropPresentValue && hasUnits(pt.obj.Type) {
			refs = append(refs, stack.Ref(pt.obj, stack.PropUnits))
			idx = append(idx, i)
		}
	}
	units := make([]string, len(p.points))
	if len(refs) > 0 {
		res, err := n.ReadProperties(ctx, addr, refs)
		if err != nil {
			return // the poll says why; units are read next cycle
		}
		for j, r := range res {
			if r.Err == nil && len(r.Values) == 1 && r.Values[0].Type == stack.TypeEnumerated {
				units[idx[j]] = unitText(stack.Units(r.Values[0].Unsigned))
			}
		}
	}
	p.mu.Lock()
	p.units, p.unitsRead = units, true
	for i := range p.last {
		p.last[i].Unit = p.unitOf(i)
	}
	p.mu.Unlock()
}

// unitOf is the unit of point i: the site's, else the device's. The
// caller holds p.mu.
func (p *poller) unitOf(i int) string {
	if u := p.points[i].cfg.Unit; u != "" {
		return u
	}
	return p.units[i]
}

// subscribe subscribes the COV points that are not (any more), except
// those the device refused within COVRetry.
func (p *poller) subscribe(ctx context.Context, l *link, n *node.Node, addr node.Address) {
	now := p.d.o.Clock.Now()
	life := p.dev.EffectiveCOVLifetime().Std()
	for i, pt := range p.points {
		if !pt.wantCOV {
			continue
		}
		p.mu.Lock()
		m := p.modes[i]
		p.mu.Unlock()
		if m.sub != nil || !m.refusedAt.IsZero() && now.Sub(m.refusedAt) < p.d.o.COVRetry {
			continue
		}
		// The target is known before the request goes: the device may
		// notify before its acknowledgement is read.
		pid := l.nextPID()
		key := covKey{l.gen, pid}
		p.d.targets.Store(key, &covTarget{p: p, point: i})
		sub, err := n.Subscribe(ctx, addr, pt.obj, node.SubscribeOptions{Lifetime: life, ProcessID: pid})
		if err != nil {
			p.d.targets.Delete(key)
		}
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		if err != nil {
			p.modes[i].refusedAt, p.modes[i].why = now, "cov refused: "+err.Error()
			p.d.log.Info("bacnet: cov refused; polling the point", "device", p.dev.Name, "point", pt.cfg.Name, "err", err)
		} else {
			p.modes[i].sub, p.modes[i].why, p.modes[i].refusedAt = sub, "", time.Time{}
		}
		p.mu.Unlock()
	}
}

// unsubscribeAll cancels the poller's subscriptions when it stops (its
// device left the site or changed), each within the APDU timeout.
func (p *poller) unsubscribeAll(ctx context.Context) {
	p.mu.Lock()
	gen := p.gen
	var subs []*node.Subscription
	for i := range p.modes {
		if s := p.modes[i].sub; s != nil {
			subs = append(subs, s)
			p.d.targets.Delete(covKey{gen, s.ProcessID})
		}
		p.modes[i].sub = nil
	}
	p.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	l, n, err := p.d.link(p.dev.FieldBus())
	if err != nil || l.gen != gen {
		return // the node the subscriptions belonged to is gone, and them with it
	}
	site, _ := p.d.gw.Site()
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), site.BACnet.EffectiveAPDUTimeout().Std())
	defer cancel()
	for _, s := range subs {
		_ = n.Unsubscribe(uctx, s)
	}
}

// readPoints reads points idx by ReadPropertyMultiple (ReadProperty for a
// device without it): each point's property, its object's status-flags
// where present-value is read, and the reliability of objects in fault.
func (p *poller) readPoints(ctx context.Context, n *node.Node, addr node.Address, idx []int) ([]field.Reading, error) {
	refs := make([]stack.PropertyRef, 0, 2*len(idx))
	propAt := make([]int, len(idx)) // where point j's property is in refs
	flagAt := make([]int, len(idx)) // and its status-flags, or -1
	for j, i := range idx {
		pt := p.points[i]
		propAt[j] = len(refs)
		refs = append(refs, stack.Ref(pt.obj, pt.prop))
		flagAt[j] = -1
		if hasStatusFlags(pt.obj, pt.prop) {
			flagAt[j] = len(refs)
			refs = append(refs, stack.Ref(pt.obj, stack.PropStatusFlags))
		}
	}
	start := p.d.o.Clock.Now()
	res, err := n.ReadProperties(ctx, addr, refs)
	p.count(err, p.d.o.Clock.Now().Sub(start))
	if err != nil {
		return nil, err
	}
	now := p.d.o.Clock.Now()
	out := make([]field.Reading, len(idx))
	var faulty []int
	p.mu.Lock()
	for j, i := range idx {
		pt := p.points[i]
		r := field.Reading{Device: p.dev.Name, Point: pt.cfg.Name, Unit: p.unitOf(i), TS: now, Quality: field.QualityGood}
		vr := res[propAt[j]]
		if vr.Err != nil {
			r.Quality, r.Error = field.QualityError, vr.Err.Error()
			out[j] = r
			continue
		}
		val, verr := toField(pt.obj, pt.prop, vr.Values)
		if verr != nil {
			r.Quality, r.Error = field.QualityError, verr.Error()
			out[j] = r
			continue
		}
		r.Value = val
		if f := flagAt[j]; f >= 0 && res[f].Err == nil && len(res[f].Values) == 1 && res[f].Values[0].Type == stack.TypeBitString {
			flags := stack.DecodeStatusFlags(res[f].Values[0].Bits)
			r.Quality, r.Error = quality(flags, 0, false)
			if flags.Fault {
				faulty = append(faulty, j)
			}
		}
		out[j] = r
	}
	p.mu.Unlock()
	if len(faulty) > 0 {
		p.reliabilities(ctx, n, addr, idx, faulty, out)
	}
	return out, nil
}

// reliabilities reads the reliability of the objects in fault, so that
// the error says what the fault is.
func (p *poller) reliabilities(ctx context.Context, n *node.Node, addr node.Address, idx, faulty []int, out []field.Reading) {
	refs := make([]stack.PropertyRef, len(faulty))
	for k, j := range faulty {
		refs[k] = stack.Ref(p.points[idx[j]].obj, stack.PropReliability)
	}
	res, err := n.ReadProperties(ctx, addr, refs)
	if err != nil {
		return
	}
	for k, j := range faulty {
		if r := res[k]; r.Err == nil && len(r.Values) == 1 && r.Values[0].Type == stack.TypeEnumerated {
			_, out[j].Error = quality(stack.StatusFlags{Fault: true}, stack.Reliability(r.Values[0].Unsigned), true)
		}
	}
}

// count updates request statistics.
func (p *poller) count(err error, latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.Requests++
	if err == nil {
		p.status.LastLatency = latency
	} else {
		p.status.Errors[errKind(err)]++
		p.status.LastError = err.Error()
	}
	p.status.SuccessRate = float64(p.status.Requests-p.status.Failed()) / float64(p.status.Requests)
}

// fail ends a cycle that reached nothing: every point keeps its last
// value, stale, with why; a device found by Who-Is is looked for afresh
// once it is offline.
func (p *poller) fail(err error, kind string) time.Duration {
	now := p.d.o.Clock.Now()
	p.mu.Lock()
	if kind == kindLink || kind == kindResolve {
		p.status.Errors[kind]++
		p.status.LastError = err.Error()
	}
	readings := make([]field.Reading, len(p.last))
	for i := range p.last {
		r := p.last[i]
		r.Quality, r.Error = field.QualityStale, err.Error()
		p.last[i] = r
		readings[i] = r
	}
	p.failures++
	p.resubscribe = true
	if p.failures >= p.d.o.OfflineAfter && p.static == nil {
		p.resolved = false
	}
	p.mu.Unlock()
	return p.record(readings, 0, len(readings), err, now)
}

// finish keeps the cycle's readings and records them.
func (p *poller) finish(idx []int, readings []field.Reading) time.Duration {
	now := p.d.o.Clock.Now()
	p.mu.Lock()
	for j, i := range idx {
		p.last[i] = readings[j]
	}
	good := 0
	for _, r := range p.last {
		if r.Quality == field.QualityGood {
			good++
		}
	}
	if good > 0 || len(p.last) == 0 {
		p.failures = 0
	} else {
		p.failures++
	}
	p.mu.Unlock()
	return p.record(readings, good, len(p.points), nil, now)
}

// record updates the device's state and sends the cycle to the field
// layer; it returns the delay to the next cycle.
func (p *poller) record(readings []field.Reading, good, total int, cycleErr error, now time.Time) time.Duration {
	interval := p.dev.EffectiveInterval().Std()
	p.mu.Lock()
	prev := p.status.State
	switch {
	case total == 0 && cycleErr == nil:
		p.status.State = field.StateOnline
	default:
		none := 0
		if good == 0 {
			none = p.failures
		}
		p.status.State = field.CycleState(good, total, none, p.d.o.OfflineAfter)
	}
	if p.status.State != prev {
		p.status.Since = now
		if prev != field.StateUnknown || p.status.State == field.StateOffline {
			msg := ""
			if cycleErr != nil {
				msg = cycleErr.Error()
			}
			p.d.log.Info("bacnet device state", "device", p.dev.Name, "state", string(p.status.State), "err", msg)
		}
	}
	next := interval + time.Duration(rand.Int64N(int64(interval)/10+1))
	if p.status.State == field.StateOffline && p.failures >= p.d.o.OfflineAfter {
		backoff := interval << min(p.failures-p.d.o.OfflineAfter+1, 10)
		next = min(max(backoff, interval), max(p.d.o.MaxBackoff, interval))
	}
	p.status.LastPoll = p.d.o.Clock.Now()
	p.status.NextPoll = p.status.LastPoll.Add(next)
	st := p.status.Clone()
	p.mu.Unlock()
	if err := p.d.sink.Record(st, readings); err != nil {
		p.d.log.Error("record readings", "device", p.dev.Name, "err", err)
	}
	return next
}

// onCOV takes a notification for point i; false when it is not from the
// device the point is on.
func (p *poller) onCOV(ev covEvent, i int) bool {
	c := ev.cov
	p.mu.Lock()
	if !p.resolved || c.From != p.addr || ev.link.gen != p.gen || p.points[i].obj != c.Notification.Object {
		p.mu.Unlock()
		return false
	}
	pt := p.points[i]
	r := field.Reading{Device: p.dev.Name, Point: pt.cfg.Name, Unit: p.unitOf(i), TS: ev.at, Quality: field.QualityGood}
	seen := false
	for _, pv := range c.Notification.Values {
		switch pv.Property {
		case stack.PropPresentValue:
			v, err := toField(pt.obj, pt.prop, pv.Values)
			if err != nil {
				r.Quality, r.Error = field.QualityError, err.Error()
			} else {
				r.Value, seen = v, true
			}
		case stack.PropStatusFlags:
			if len(pv.Values) == 1 && pv.Values[0].Type == stack.TypeBitString && r.Quality == field.QualityGood {
				r.Quality, r.Error = quality(stack.DecodeStatusFlags(pv.Values[0].Bits), 0, false)
			}
		}
	}
	if !seen && r.Quality == field.QualityGood {
		p.mu.Unlock()
		return true // a notification without present-value: nothing to record
	}
	p.last[i] = r
	p.modes[i].lastCOV = ev.at
	p.modes[i].notified++
	st := p.status.Clone()
	p.mu.Unlock()
	if err := p.d.sink.Record(st, []field.Reading{r}); err != nil {
		p.d.log.Error("record cov reading", "device", p.dev.Name, "err", err)
	}
	return true
}
