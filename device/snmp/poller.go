package snmp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
)

// sysUpTimeOID is sysUpTime.0: an agent restart resets its counters.
const sysUpTimeOID = "1.3.6.1.2.1.1.3.0"

// poller polls one device on its interval.
type poller struct {
	drv    *Driver
	dev    device.SNMPDevice
	points []device.SNMPPoint // the device's effective points (its profile's, then its own)
	conf   string             // what the poller was started with, to notice changes
	ag     *agent

	cancel context.CancelFunc
	done   chan struct{}

	turn      chan struct{} // one cycle at a time, with the state below; taking it heeds ctx
	mu        sync.Mutex    // st, which status reads
	st        field.Status
	noneInRow int
	failed    uint64
	samples   map[string]sample        // rate points' last samples, by reading point name
	uptime    uint32                   // the agent's last sysUpTime
	hasUptime bool                     //
	last      map[string]field.Reading // last good reading by point name: a failed read is stale with it
	rows      map[string][]string      // walk point → its rows' point names, last seen
}

func newPoller(drv *Driver, dev device.SNMPDevice, conf string) *poller {
	now := drv.o.Clock.Now()
	return &poller{drv: drv, dev: dev, points: dev.EffectivePoints(), conf: conf, ag: newAgent(dev), done: make(chan struct{}), turn: make(chan struct{}, 1),
		st:      field.Status{Device: dev.Name, Protocol: field.SNMP, Bus: dev.EffectiveAddress(), State: field.StateUnknown, Since: now, Errors: map[string]uint64{}},
		samples: map[string]sample{}, last: map[string]field.Reading{}, rows: map[string][]string{}}
}

// run polls until ctx ends.
func (p *poller) run(ctx context.Context) {
	defer close(p.done)
	defer p.ag.close()
	timer := p.drv.o.Clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		readings, st, err := p.cycle(ctx, nil)
		if err != nil || ctx.Err() != nil {
			return
		}
		if err := p.drv.sink.Record(st, readings); err != nil {
			p.drv.log.Warn("record snmp cycle", "device", p.dev.Name, "err", err)
		}
		timer.Reset(max(0, st.NextPoll.Sub(p.drv.o.Clock.Now())))
	}
}

// nextWait is the interval, doubled for each offline cycle up to
// MaxBackoff (never below the interval); called with the turn held.
func (p *poller) nextWait(st field.Status) time.Duration {
	iv := p.dev.EffectiveInterval()
	if st.State != field.StateOffline {
		return iv
	}
	w := iv
	for i := p.drv.o.OfflineAfter; i < p.noneInRow && w < p.drv.o.MaxBackoff; i++ {
		w *= 2
	}
	return min(w, max(iv, p.drv.o.MaxBackoff)) // w ≥ iv
}

// cycle reads the device's points (only those named by only, when
// given; a walk point's rows are named by the walk point) and updates the
// status.
func (p *poller) cycle(ctx context.Context, only []string) ([]field.Reading, field.Status, error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, field.Status{}, ctx.Err()
	}
	defer func() { <-p.turn }()
	var scalars, walks []device.SNMPPoint
	for _, pt := range p.points {
		if len(only) > 0 && !slices.Contains(only, pt.Name) {
			continue
		}
		if pt.IsWalk() {
			walks = append(walks, pt)
		} else {
			scalars = append(scalars, pt)
		}
	}
	now := func() time.Time { return p.drv.o.Clock.Now() }
	var readings []field.Reading
	good, total := 0, 0
	var errs []error
	var notes []string // not failures: walks cut at max_rows
	fail := func(err error) {
		errs = append(errs, err)
		p.mu.Lock()
		p.st.Errors[errKind(err)]++
		p.mu.Unlock()
		p.failed++
	}

	restarted := false
	// sysUpTime tells rate points of an agent restart, and is the probe of
	// a device without points (never online without an answer).
	needUptime := len(p.points) == 0 || slices.ContainsFunc(p.points, func(pt device.SNMPPoint) bool { return pt.Convert == device.SNMPConvertRate })
	oids := make([]string, 0, len(scalars)+1)
	for _, pt := range scalars {
		oids = append(oids, pt.BaseOID())
	}
	if needUptime {
		oids = append(oids, sysUpTimeOID)
	}
	if len(oids) > 0 {
		vars, err := p.ag.get(ctx, oids)
		at := now()
		if err != nil {
			fail(err)
		}
		if err == nil && needUptime {
			u := vars[len(vars)-1]
			if u.Num != nil {
				up := uint32(u.counter)
				restarted = p.hasUptime && up < p.uptime
				p.uptime, p.hasUptime = up, true
			}
		}
		for i, pt := range scalars {
			total++
			var r field.Reading
			if err != nil {
				r = p.failure(pt.Name, pt.Unit, err, at)
			} else {
				r = p.reading(pt, pt.Name, vars[i], at, restarted)
			}
			if r.Quality == field.QualityGood {
				good++
			}
			readings = append(readings, r)
		}
	}

	for _, pt := range walks {
		rs, truncated, err := p.walkPoint(ctx, pt, restarted)
		if truncated {
			notes = append(notes, fmt.Sprintf("walk %s stopped at max_rows %d: the agent has more rows", pt.Name, pt.EffectiveMaxRows()))
		}
		if err != nil {
			fail(err)
			names := p.rows[pt.Name]
			if len(names) == 0 {
				names = []string{pt.Name}
			}
			at := now()
			for _, n := range names {
				total++
				readings = append(readings, p.failure(n, pt.Unit, err, at))
			}
			continue
		}
		for _, r := range rs {
			total++
			if r.Quality == field.QualityGood {
				good++
			}
			readings = append(readings, r)
		}
	}

	if good == 0 {
		p.noneInRow++
	} else {
		p.noneInRow = 0
	}
	offlineAfter := p.drv.o.OfflineAfter
	if slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, ErrAuth) }) && good == 0 {
		// Wrong credentials do not heal by waiting: offline at once.
		p.noneInRow = max(p.noneInRow, offlineAfter)
	}
	state := field.CycleState(good, total, p.noneInRow, offlineAfter)
	if total == 0 && len(errs) == 0 {
		state = field.StateOnline // a device without points answers nothing wrong
	}
	at := now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if state != p.st.State {
		p.st.State, p.st.Since = state, at
	}
	p.st.LastPoll = at
	p.st.Requests, p.st.LastLatency = p.ag.figures()
	p.st.LastError = ""
	switch {
	case len(errs) > 0:
		p.st.LastError = errs[0].Error()
	case len(notes) > 0:
		p.st.LastError = notes[0]
	}
	if p.st.Requests > 0 {
		p.st.SuccessRate = float64(p.st.Requests-min(p.failed, p.st.Requests)) / float64(p.st.Requests)
	}
	p.st.NextPoll = at.Add(p.nextWait(p.st))
	return readings, p.st.Clone(), nil
}

// walkPoint walks a column (and its naming column) into one reading per
// row.
func (p *poller) walkPoint(ctx context.Context, pt device.SNMPPoint, restarted bool) ([]field.Reading, bool, error) {
	col := pt.BaseOID()
	vars, truncated, err := p.ag.walk(ctx, col, pt.EffectiveMaxRows())
	if err != nil {
		return nil, false, err
	}
	at := p.drv.o.Clock.Now()
	labels := map[string]string{}
	if idx := pt.IndexOID(); idx != "" {
		names, _, err := p.ag.walk(ctx, idx, pt.EffectiveMaxRows())
		if err != nil {
			return nil, truncated, fmt.Errorf("walk the index column %s: %w", idx, err)
		}
		for _, v := range names {
			labels[strings.TrimPrefix(v.OID, idx+".")] = v.Text
		}
	}
	out := make([]field.Reading, 0, len(vars))
	seen := map[string]bool{}
	names := make([]string, 0, len(vars))
	for _, v := range vars {
		suffix := strings.TrimPrefix(v.OID, col+".")
		name := rowPointName(pt.Name, labels[suffix], suffix, seen)
		seen[name] = true
		names = append(names, name)
		out = append(out, p.reading(pt, name, v, at, restarted))
	}
	p.rows[pt.Name] = names
	return out, truncated, nil
}

// rowPointName names a walk row NAME.LABEL (the index column's value) or
// NAME.SUFFIX (the row's index), within MaxNameLength; a label two rows
// share gets the index too.
func rowPointName(base, label, suffix string, seen map[string]bool) string {
	room := device.MaxNameLength - len(base) - 1
	part := rowLabel(label, room)
	if part == "" {
		part = rowLabel(suffix, room)
	}
	name := base + "." + part
	if seen[name] || part == "" {
		tail := "." + rowLabel(suffix, room)
		name = base + "." + truncateTo(part, max(0, room-len(tail))) + tail
	}
	return name
}

// reading converts one value of pt into the reading called name.
func (p *poller) reading(pt device.SNMPPoint, name string, v Var, at time.Time, restarted bool) field.Reading {
	r := field.Reading{Device: p.dev.Name, Point: name, Unit: pt.Unit, TS: at}
	if pt.Convert == device.SNMPConvertRate {
		if v.missing {
			return p.failure(name, pt.Unit, ErrNoSuchObject, at)
		}
		if v.bits == 0 {
			return p.failure(name, pt.Unit, fmt.Errorf("%w (got %s)", ErrNotCounter, v.Type), at)
		}
		cur := sample{v: v.counter, bits: v.bits, at: at}
		rate, ok, why := counterRate(p.samples[name], cur, restarted)
		p.samples[name] = cur
		if !ok {
			// The agent answered: the point is read, only its rate is not
			// known yet. The last rate stays, marked stale.
			r.Quality, r.Error = field.QualityGood, why
			if last, had := p.last[name]; had {
				r.Value = last.Value
				r.Quality = field.QualityStale
			}
			return r
		}
		r.Value, r.Quality = field.Number(scaled(rate, pt)), field.QualityGood
		p.last[name] = r
		return r
	}
	val, err := convertValue(v, pt)
	if err != nil {
		return p.failure(name, pt.Unit, err, at)
	}
	r.Value, r.Quality = val, field.QualityGood
	p.last[name] = r
	return r
}

// failure is the reading of a point that could not be read: stale with
// its last value when it had one, else an error.
func (p *poller) failure(name, unit string, err error, at time.Time) field.Reading {
	r := field.Reading{Device: p.dev.Name, Point: name, Unit: unit, Quality: field.QualityError, Error: err.Error(), TS: at}
	if last, ok := p.last[name]; ok && !errors.Is(err, ErrNoSuchObject) && !errors.Is(err, ErrNotNumber) {
		r.Value, r.Quality = last.Value, field.QualityStale
	}
	return r
}

func (p *poller) status() field.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.Clone()
}
