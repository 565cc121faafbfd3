package modbus

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
)

// poller polls one device on its interval.
type poller struct {
	e      *Engine
	dev    device.Device
	bus    device.Bus
	ep     *endpoint
	unit   byte
	points []device.Point

	mu       sync.Mutex // guards what the console reads while a cycle runs
	plan     []Read
	isolated map[int]string // point index → why it is read alone
	last     []field.Reading
	status   field.Status
	failures int // consecutive failed cycles
	cycles   int

	// The endpoint's goroutine only: when the next cycle is due, and the
	// first read of the cycle about to run when the endpoint sent it
	// ahead in a batch (nil otherwise).
	next          time.Time
	pre           *prefetched
	preReq        prefetched
	cycleReadings []field.Reading
	cycleGot      []bool
}

// prefetched is a read the endpoint sent ahead of the cycle in a batch.
type prefetched struct {
	batchReq
	read Read
	sent time.Time
	buf  [4]byte
}

// firstRead returns the first read of the plan, if any.
func (p *poller) firstRead() (Read, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.plan) == 0 {
		return Read{}, false
	}
	return p.plan[0], true
}

func newPoller(e *Engine, d device.Device, points []device.Point, b device.Bus, ep *endpoint) *poller {
	p := &poller{e: e, dev: d, bus: b, ep: ep, unit: byte(d.UnitID), points: points, isolated: map[int]string{}}
	p.last = make([]field.Reading, len(p.points))
	for i, pt := range p.points {
		p.last[i] = field.Reading{Device: d.Name, Point: pt.Name, Unit: pt.Unit, Quality: field.QualityStale, Error: "not read yet"}
	}
	p.status = field.Status{Device: d.Name, Protocol: field.Modbus, Bus: b.Name, State: field.StateUnknown, Errors: map[string]uint64{}}
	p.replan()
	return p
}

// replan plans the points that are not isolated. A read must not span an
// isolated point's registers either (the device refuses any request that
// touches them), so the points are planned in segments between isolated
// ranges. Plan's indexes refer to the slice it is given and are mapped back
// to p.points.
func (p *poller) replan() {
	type segKey struct {
		table device.RegisterTable
		seg   int
	}
	groups := map[segKey][]int{}
	var order []segKey
	for i, pt := range p.points {
		if _, bad := p.isolated[i]; bad {
			continue
		}
		k := segKey{pt.Table, 0}
		for j := range p.isolated {
			q := p.points[j]
			if q.Table == pt.Table && q.Address+PointSize(q) <= pt.Address {
				k.seg++
			}
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	sort.Slice(order, func(a, b int) bool {
		if order[a].table != order[b].table {
			return order[a].table < order[b].table
		}
		return order[a].seg < order[b].seg
	})
	var plan []Read
	for _, k := range order {
		index := groups[k]
		pts := make([]device.Point, len(index))
		for j, i := range index {
			pts[j] = p.points[i]
		}
		reads := Plan(pts, DeviceLimits(p.dev))
		for r := range reads {
			for j, x := range reads[r].Points {
				reads[r].Points[j] = index[x]
			}
		}
		plan = append(plan, reads...)
	}
	p.plan = plan
}

func (p *poller) timeout() time.Duration { return p.dev.EffectiveTimeout(p.bus).Std() }

// readResult is what one read returned.
type readResult struct {
	words []uint16
	bits  []bool
}

// read performs one planned read: through the endpoint's goroutine for
// the console (readNow, ReadRaw), or right here when a cycle (run by that
// goroutine) reads. The console's closure may still run after its caller
// gave up; the caller then never looks at got, and when it does, receiving
// the closure's error has ordered the write before the read.
func (p *poller) read(ctx context.Context, r Read, inCycle bool) (readResult, error) {
	clk := p.e.opts.Clock
	start := clk.Now()
	var res readResult
	var pre *prefetched
	if inCycle {
		pre = p.pre // the endpoint's goroutine, which runs this cycle
	}
	var err error
	latency := func() time.Duration { return clk.Now().Sub(start) }
	switch {
	case pre != nil && pre.answered && pre.read.Table == r.Table && pre.read.Address == r.Address && pre.read.Count == r.Count:
		// The endpoint sent this read ahead; its answer is here.
		p.pre = nil
		latency = func() time.Duration { return pre.at.Sub(pre.sent) }
		if err = pre.err; err == nil {
			var b []byte
			if b, err = readPayload(r.Table, r.Count, pre.ans); err != nil {
				err = p.ep.settle(classify(err))
			} else {
				res = decodeRead(r, b)
			}
		}
	case inCycle:
		// On this goroutine: nothing here escapes to the heap (a cycle
		// reads often; the console's path below allocates its job anyway).
		var b []byte
		err = p.ep.serve(ctx, p.unit, p.timeout(), func(l link) (err error) {
			b, err = readBlock(l, r.Table, r.Address, r.Count)
			return err
		})
		if err == nil {
			res = decodeRead(r, b)
		}
	default:
		var got readResult
		err = p.ep.do(ctx, p.unit, p.timeout(), func(l link) error {
			b, err := readBlock(l, r.Table, r.Address, r.Count)
			if err == nil {
				got = decodeRead(r, b) // b is the link's: decode before the next exchange
			}
			return err
		})
		if err == nil { // the closure's result received: its write is done
			res = got
		}
	}
	p.count(err, latency())
	if err != nil {
		return readResult{}, err
	}
	return res, nil
}

// decodeRead turns the bytes of an answer to r into its values
// (readBlock or readPayload has checked their size against r.Count).
func decodeRead(r Read, b []byte) readResult {
	if r.Table.IsBit() {
		return readResult{bits: DecodeBits(b, int(r.Count))}
	}
	return readResult{words: WordsFromBytes(b)}
}

// count updates request statistics.
func (p *poller) count(err error, latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.Requests++
	var re *RequestError
	switch {
	case err == nil:
		p.status.LastLatency = latency
	case errors.As(err, &re):
		p.status.Errors[re.Kind]++
		p.status.LastError = re.Error()
	default:
		p.status.Errors[KindConnection]++
		p.status.LastError = err.Error()
	}
	var failed uint64
	for _, n := range p.status.Errors {
		failed += n
	}
	p.status.SuccessRate = float64(p.status.Requests-failed) / float64(p.status.Requests)
}

// isIsolating reports whether err means some point of the read does not
// exist on the device (illegal data address or value).
func isIsolating(err error) bool {
	code := Exception(err)
	return code == 2 || code == 3
}

// cycle polls the device once and returns when the next cycle is due. The
// endpoint's goroutine runs it.
func (p *poller) cycle(ctx context.Context) time.Time {
	now := p.e.opts.Clock.Now()
	// The cycle's buffers are reused: Record keeps no reference to
	// readings (field.Sink), and cycles run on the endpoint's goroutine.
	if len(p.cycleReadings) != len(p.points) {
		p.cycleReadings, p.cycleGot = make([]field.Reading, len(p.points)), make([]bool, len(p.points))
	}
	readings, got := p.cycleReadings, p.cycleGot
	clear(readings)
	clear(got)
	var cycleErr error
	replan := false

	store := func(r Read, res readResult) {
		for _, pi := range r.Points {
			readings[pi] = p.decode(pi, r, res, now)
			got[pi] = true
		}
	}
	// isolate splits a read that a device refused until the refused points
	// stand alone, reading the rest.
	var isolate func(r Read) error
	isolate = func(r Read) error {
		a, b, ok := SplitRead(r, p.points)
		if !ok {
			return nil
		}
		for _, half := range []Read{a, b} {
			res, err := p.read(ctx, half, true)
			switch {
			case err == nil:
				store(half, res)
			case isIsolating(err) && len(half.Points) > 1:
				if err := isolate(half); err != nil {
					return err
				}
			case isIsolating(err):
				p.markIsolated(half.Points[0], err)
				readings[half.Points[0]] = p.errorReading(half.Points[0], err.Error(), now)
				got[half.Points[0]] = true
				replan = true
			default:
				return err
			}
		}
		return nil
	}

	p.mu.Lock()
	plan := p.plan
	retry := p.cycles%p.e.opts.RetryIsolatedEvery == p.e.opts.RetryIsolatedEvery-1
	isolated := make(map[int]string, len(p.isolated))
	for k, v := range p.isolated {
		isolated[k] = v
	}
	p.cycles++
	p.mu.Unlock()

	for _, r := range plan {
		res, err := p.read(ctx, r, true)
		switch {
		case err == nil:
			store(r, res)
			continue
		case isIsolating(err) && len(r.Points) > 1:
			err = isolate(r)
		case isIsolating(err):
			p.markIsolated(r.Points[0], err)
			readings[r.Points[0]] = p.errorReading(r.Points[0], err.Error(), now)
			got[r.Points[0]] = true
			replan = true
			err = nil
		case Exception(err) != 0:
			// The device answered but cannot serve the read now (busy,
			// failure): these points are in error this cycle only.
			for _, pi := range r.Points {
				readings[pi] = p.errorReading(pi, err.Error(), now)
				got[pi] = true
			}
			err = nil
		}
		if err != nil {
			// Unreachable device: stop here, so a hung device costs one
			// timeout per cycle, not one per read.
			cycleErr = err
			break
		}
	}
	// Points isolated earlier: reported as errors, and tried again now and
	// then, one by one, in case the device was reconfigured.
	for pi, why := range isolated {
		if got[pi] {
			continue
		}
		if retry && cycleErr == nil {
			r := singleRead(p.points[pi], pi)
			if res, err := p.read(ctx, r, true); err == nil {
				store(r, res)
				p.mu.Lock()
				delete(p.isolated, pi)
				p.mu.Unlock()
				replan = true
				continue
			}
		}
		readings[pi] = p.errorReading(pi, why, now)
		got[pi] = true
	}
	if ctx.Err() != nil {
		return now
	}
	return p.finish(readings, got, cycleErr, replan, now)
}

func singleRead(pt device.Point, index int) Read {
	count := uint16(pt.Type.Registers())
	if pt.Table.IsBit() {
		count = 1
	}
	return Read{Table: pt.Table, Address: uint16(pt.Address), Count: count, Points: []int{index}}
}

func (p *poller) markIsolated(pi int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.isolated[pi]; !ok {
		p.e.log.Warn("modbus point refused by the device; reading it alone from now on", "device", p.dev.Name, "point", p.points[pi].Name, "err", err)
	}
	p.isolated[pi] = err.Error()
}

func (p *poller) errorReading(pi int, why string, now time.Time) field.Reading {
	pt := p.points[pi]
	return field.Reading{Device: p.dev.Name, Point: pt.Name, Unit: pt.Unit, Quality: field.QualityError, Error: why, TS: now}
}

// decode turns point pi's part of a read into a reading.
func (p *poller) decode(pi int, r Read, res readResult, now time.Time) field.Reading {
	pt := p.points[pi]
	rd := field.Reading{Device: p.dev.Name, Point: pt.Name, Unit: pt.Unit, Quality: field.QualityGood, TS: now}
	off := pt.Address - int(r.Address)
	if pt.Table.IsBit() {
		rd.Value = field.Boolean(res.bits[off])
		return rd
	}
	raw, err := DecodeRegisters(res.words[off:off+pt.Type.Registers()], pt.Type, pt.Order)
	if err != nil {
		rd.Quality, rd.Error = field.QualityError, err.Error()
		return rd
	}
	rd.Value = field.Number(pt.Apply(raw))
	return rd
}

// finish updates state after a cycle that started at now, records it, and
// returns when the next one is due.
func (p *poller) finish(readings []field.Reading, got []bool, cycleErr error, replan bool, now time.Time) time.Time {
	interval := p.dev.Interval.Std()
	p.mu.Lock()
	if replan {
		p.replan()
	}
	for i := range readings {
		if got[i] {
			p.last[i] = readings[i]
			continue
		}
		// Not read this cycle: keep the last value, say it is stale and why.
		r := p.last[i]
		r.Quality = field.QualityStale
		if cycleErr != nil {
			r.Error = cycleErr.Error()
		}
		p.last[i] = r
		readings[i] = r
	}
	prev := p.status.State
	good := 0
	for _, r := range readings {
		if r.Quality == field.QualityGood {
			good++
		}
	}
	switch {
	case len(readings) == 0 && cycleErr == nil:
		// Nothing to read, and the device is reachable.
		p.failures = 0
		p.status.State = field.StateOnline
	case good == 0:
		p.failures++
		p.status.State = field.CycleState(good, len(readings), p.failures, p.e.opts.OfflineAfter)
	default:
		p.failures = 0
		p.status.State = field.CycleState(good, len(readings), 0, p.e.opts.OfflineAfter)
	}
	if p.status.State != prev {
		p.status.Since = now
		if prev != field.StateUnknown || p.status.State == field.StateOffline {
			p.e.log.Info("modbus device state", "device", p.dev.Name, "state", string(p.status.State), "err", errText(cycleErr))
		}
	}
	end := p.e.opts.Clock.Now()
	// The next slot of the interval's grid after this one: a cycle that
	// overran its interval skips the slots it missed.
	from := now.Add(interval / 2)
	if end.After(from) {
		from = end
	}
	next := gridAfter(from, interval)
	if p.status.State == field.StateOffline && p.failures >= p.e.opts.OfflineAfter {
		// Back off while offline: double per failed cycle, up to the bound.
		backoff := interval << min(p.failures-p.e.opts.OfflineAfter+1, 10)
		backoff = min(max(backoff, interval), max(p.e.opts.MaxBackoff, interval))
		next = gridAfter(end.Add(backoff), interval)
	}
	p.status.LastPoll = end
	p.status.NextPoll = next
	status := p.status.Clone()
	p.mu.Unlock()
	if err := p.e.sink.Record(status, readings); err != nil {
		p.e.log.Error("record readings", "device", p.dev.Name, "err", err)
	}
	return next
}

// gridAfter returns the first instant from t on that is a whole multiple
// of interval (since the Unix epoch; the wall clock places the grid, the
// result keeps t's monotonic reading).
func gridAfter(t time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		return t
	}
	if off := time.Duration(t.UnixNano() % int64(interval)); off > 0 {
		return t.Add(interval - off)
	}
	return t
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// raw sends a request through the device's endpoint.
func (p *poller) raw(ctx context.Context, fn func(l link) error) error {
	return p.ep.do(ctx, p.unit, p.timeout(), fn)
}

// readNow reads the points with the given indexes now, outside the
// schedule, and returns their readings in that order. Points the device
// refuses come back in error; an unreachable device is an error.
func (p *poller) readNow(ctx context.Context, index []int) ([]field.Reading, error) {
	pts := make([]device.Point, len(index))
	for j, i := range index {
		pts[j] = p.points[i]
	}
	now := p.e.opts.Clock.Now()
	out := make([]field.Reading, len(index))
	for _, r := range Plan(pts, DeviceLimits(p.dev)) {
		for j, x := range r.Points {
			r.Points[j] = index[x]
		}
		res, err := p.read(ctx, r, false)
		if err != nil && Exception(err) == 0 {
			return nil, err
		}
		for _, pi := range r.Points {
			pos := slices.Index(index, pi)
			if err != nil {
				out[pos] = p.errorReading(pi, err.Error(), now)
				continue
			}
			out[pos] = p.decode(pi, r, res, now)
		}
	}
	return out, nil
}
