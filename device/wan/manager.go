package wan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// Gateway is what the manager needs of *device.Gateway: the site, the
// store for its own state, the audit trail and the event bus.
type Gateway interface {
	Site() (*device.Site, uint64)
	Store() *store.Store
	AuditDetail(actor device.Actor, action device.Action, target string, result device.Result, detail string) error
	Publish(ev device.Event)
}

// Audit action and target of a network change.
const (
	ActionNetworkChanged = device.ActionNetworkChanged
	AuditTarget          = "wan"
)

// metaKey is the store metadata key of the manager's persisted state.
const metaKey = "wan.state"

// Week is the period of rotate: weekly.
const Week = 7 * 24 * time.Hour

// Options configure a Manager.
type Options struct {
	Clock  clockwork.Clock // default SystemClock
	Logger *slog.Logger    // default slog.Default()
	// ProbeTimeout bounds one link's probe (default: half the interval, at
	// most MaxDefaultProbeTimeout).
	ProbeTimeout time.Duration
	// PersistEvery is how often growing data usage is written to the
	// store (default 5m); SIM changes, alerts and month changes are
	// written at once, and Stop writes what is left.
	PersistEvery time.Duration
	// OnRound, when set, is called after every probe round with what it
	// saw, outside the manager's locks.
	OnRound func(RoundReport)
	// OnUsageAlert, when set, is called once per SIM and month when its
	// data usage reaches 80 % and 100 % of its monthly limit, outside the
	// manager's locks (for example to re-evaluate health rules at once).
	// Usage alerts are not published as device.EventNetwork: they are not
	// network changes.
	OnUsageAlert func(UsageAlert)
}

// RoundReport is what one probe round saw and decided.
type RoundReport struct {
	Time   time.Time
	Active device.LinkKind // 0: offline
	Links  []LinkReport    // in priority order
	// Notes are the network changes of the round as audited and
	// published (failover, failback, SIM switches, usage alerts).
	Notes []string
}

// LinkReport is one link in a RoundReport.
type LinkReport struct {
	Kind   device.LinkKind
	State  State
	Probed bool
	Err    error // the probe's error; nil when it succeeded or was not probed
	Good   int   // consecutive successful probes
	Failed int   // consecutive failed probes
	SIM    int   // cellular: the SIM slot probed
}

// Manager selects the WAN uplink: it probes every enabled link each
// interval, applies hysteresis, makes the highest-priority link that is up
// the active one, runs the cellular SIM rules and counts data usage. It is
// safe for concurrent use.
type Manager struct {
	gw   Gateway
	be   Backend
	clk  clockwork.Clock
	log  *slog.Logger
	opts Options

	roundMu sync.Mutex // one round at a time
	kick    chan struct{}

	mu         sync.Mutex
	cfg        config
	links      map[device.LinkKind]*linkRun
	active     device.LinkKind
	rounds     uint64
	started    time.Time // first round
	configured [32]byte  // key of the config the backend has
	configErr  string
	routeErr   string
	simApplied bool       // the backend was told about the active SIM...
	simCfg     device.SIM // ...with these settings
	simErr     string
	persisted  persisted
	lastSave   time.Time
	dirty      bool
	counters   Counters
	haveCount  bool
}

type linkRun struct {
	state   State
	good    int
	failed  int
	probes  int // since start or since the link was enabled
	lastErr string
	why     string // why disabled
	status  LinkStatus
}

// persisted is the manager's state in the store.
type persisted struct {
	SIM          int               `json:"sim,omitempty"`           // active SIM slot
	SIMSince     time.Time         `json:"sim_since,omitzero"`      // when it was selected
	LastRotation time.Time         `json:"last_rotation,omitzero"`  // weekly rotation's reference
	Failed       map[int]time.Time `json:"failed,omitempty"`        // slot -> when it was left for having no internet
	Usage        map[int]*simUsage `json:"usage,omitempty"`         // by slot
	LastGood     time.Time         `json:"sim_last_good,omitzero"`  // last good probe on the active SIM
	Month        string            `json:"counting_month,omitzero"` // informational
}

// New returns a manager for gw's site using backend be. It loads the
// state kept from earlier runs (active SIM, last rotation, data usage).
// Call Start (or Run) to begin probing.
func New(gw Gateway, be Backend, o Options) (*Manager, error) {
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PersistEvery <= 0 {
		o.PersistEvery = 5 * time.Minute
	}
	m := &Manager{
		gw: gw, be: be, clk: o.Clock, log: o.Logger.With("subsystem", "wan", "backend", be.Name()), opts: o,
		kick:  make(chan struct{}, 1),
		links: map[device.LinkKind]*linkRun{},
	}
	raw, err := gw.Store().Meta(metaKey)
	if err != nil {
		return nil, fmt.Errorf("load wan state: %w", err)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m.persisted); err != nil {
			// The state is a convenience (which SIM, usage so far): a
			// damaged record must not keep the uplink down.
			m.log.Warn("stored WAN state is unreadable; starting afresh", "err", err)
			m.persisted = persisted{}
		}
	}
	if m.persisted.Failed == nil {
		m.persisted.Failed = map[int]time.Time{}
	}
	if m.persisted.Usage == nil {
		m.persisted.Usage = map[int]*simUsage{}
	}
	site, _ := gw.Site()
	m.cfg = configOf(site)
	for _, k := range allKinds {
		m.links[k] = &linkRun{state: StateDown}
	}
	m.applyEnablement(m.cfg)
	return m, nil
}

// Backend returns the backend, for the sim backend's link control.
func (m *Manager) Backend() Backend { return m.be }

// Run probes every interval until ctx ends, starting at once, and writes
// the state not yet stored when it ends. A change of the probe interval in
// the site takes effect at the next round.
func (m *Manager) Run(ctx context.Context) error {
	interval := m.round(ctx)
	t := m.clk.NewTicker(interval)
	defer t.Stop()
	defer m.flush()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		case <-m.kick:
		}
		if ctx.Err() != nil {
			return nil
		}
		if iv := m.round(ctx); iv != interval {
			interval = iv
			t.Reset(iv)
		}
	}
}

// Reconfigure asks for a round now, for example after the site changed;
// without it, the next round picks the change up anyway.
func (m *Manager) Reconfigure() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Round runs one probe round now and waits for it. Run calls it on every
// tick; tests call it directly after advancing a clockwork.Fake.
func (m *Manager) Round(ctx context.Context) { m.round(ctx) }

// Rounds returns how many rounds have run.
func (m *Manager) Rounds() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rounds
}

// Active returns the active link, or 0 when offline.
func (m *Manager) Active() device.LinkKind {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active
}

// State returns a link's state.
func (m *Manager) State(k device.LinkKind) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.links[k]; l != nil {
		return l.state
	}
	return StateDisabled
}

// SIM returns the active SIM slot (0 when none is configured).
func (m *Manager) SIM() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.persisted.SIM
}

func activeName(k device.LinkKind) string {
	if k == 0 {
		return "offline"
	}
	return k.String()
}

// note is a side effect of a round, carried out after the lock is released.
type note struct {
	detail string
	kind   noteKind
	level  slog.Level
	usage  UsageAlert // noteUsage
}

type noteKind uint8

const (
	noteLog    noteKind = iota // a link's own state: logged only
	noteChange                 // the active link or SIM changed: logged, audited, published
	noteUsage                  // a data usage alert: logged and handed to OnUsageAlert
)

// probeResult is one link's probe outcome.
type probeResult struct {
	link   Link
	err    error
	status LinkStatus
}

// round runs one probe round and returns the interval it used.
func (m *Manager) round(ctx context.Context) time.Duration {
	m.roundMu.Lock()
	defer m.roundMu.Unlock()

	site, _ := m.gw.Site()
	cfg := configOf(site)
	now := m.clk.Now()

	m.mu.Lock()
	if m.started.IsZero() {
		m.started = now
	}
	m.cfg = cfg
	notes := m.applyEnablement(cfg)
	needConfigure := m.configured != cfg.key
	selectSIM := m.ensureSIM(cfg, now)
	slot := m.persisted.SIM
	m.mu.Unlock()

	if needConfigure {
		err := m.be.Configure(ctx, site)
		m.mu.Lock()
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			m.configured = cfg.key
		}
		changed := msg != m.configErr
		m.configErr = msg
		m.mu.Unlock()
		if err != nil && changed {
			m.log.Warn("network configuration not applied; retrying each round", "err", err)
		}
	}
	if selectSIM {
		m.selectSIM(ctx, cfg, slot)
	}

	// Count before probing and before any SIM switch, so the traffic of
	// the last interval goes to the SIM that carried it.
	if cfg.enabled(device.LinkCellular) {
		c, err := m.be.Counters(ctx, Link{Kind: device.LinkCellular, Interface: cfg.iface[device.LinkCellular], SIM: slot})
		m.mu.Lock()
		notes = append(notes, m.countUsage(cfg, now, c, err)...)
		m.mu.Unlock()
	} else {
		m.mu.Lock()
		notes = append(notes, m.countUsage(cfg, now, Counters{}, errNoCount)...)
		m.mu.Unlock()
	}

	results := m.probe(ctx, cfg, slot)
	if ctx.Err() != nil {
		// Stopping: a cancelled probe says nothing about the link.
		return cfg.interval
	}

	m.mu.Lock()
	m.rounds++
	notes = append(notes, m.observe(cfg, results)...)
	simNotes, switched := m.simRules(cfg, now, results)
	notes = append(notes, simNotes...)
	prev := m.active
	m.active = m.pick(cfg)
	if m.active != prev {
		reason := m.activeReason(prev, m.active, notes)
		detail := fmt.Sprintf("active %s -> %s: %s", activeName(prev), activeName(m.active), reason)
		if m.rounds == 1 {
			// The first selection after a start is not a change of the
			// network: log it, do not audit it or raise network.changed.
			notes = append(notes, note{detail: "uplink at start: " + activeName(m.active), level: slog.LevelInfo})
		} else {
			notes = append(notes, note{detail: detail, kind: noteChange, level: slog.LevelWarn})
		}
	}
	order := m.routeOrder(cfg)
	report := m.report(now, results)
	newSlot := m.persisted.SIM
	m.mu.Unlock()

	if switched {
		m.selectSIM(ctx, cfg, newSlot)
	}
	routeErr := m.be.Route(ctx, order)
	m.mu.Lock()
	msg := ""
	if routeErr != nil {
		msg = routeErr.Error()
	}
	routeChanged := msg != m.routeErr
	m.routeErr = msg
	m.mu.Unlock()
	if routeErr != nil && routeChanged {
		m.log.Warn("default routes not updated", "err", routeErr)
	}

	for _, n := range notes {
		m.emit(n)
		if n.kind != noteLog {
			report.Notes = append(report.Notes, n.detail)
		}
	}
	m.maybePersist(now, false)
	if m.opts.OnRound != nil {
		m.opts.OnRound(report)
	}
	return cfg.interval
}

var errNoCount = errors.New("cellular disabled")

// emit logs a note; a network change is also audited and published, a
// usage alert handed to OnUsageAlert.
func (m *Manager) emit(n note) {
	m.log.Log(context.Background(), n.level, n.detail)
	switch n.kind {
	case noteChange:
		if err := m.gw.AuditDetail(device.SystemActor, ActionNetworkChanged, AuditTarget, device.ResultOK, n.detail); err != nil {
			m.log.Error("audit network change", "err", err)
		}
		m.gw.Publish(device.Event{Kind: device.EventNetwork, Time: m.clk.Now(), Detail: n.detail})
	case noteUsage:
		if m.opts.OnUsageAlert != nil {
			m.opts.OnUsageAlert(n.usage)
		}
	}
}

// applyEnablement moves links to or from disabled as the site says.
// Caller holds m.mu.
func (m *Manager) applyEnablement(cfg config) []note {
	var notes []note
	for _, k := range allKinds {
		l := m.links[k]
		why, off := cfg.disabled[k]
		switch {
		case off && l.state != StateDisabled:
			*l = linkRun{state: StateDisabled, why: why}
			notes = append(notes, note{detail: fmt.Sprintf("%s disabled: %s", k, why), level: slog.LevelInfo})
		case off:
			l.why = why
		case !off && l.state == StateDisabled:
			// A link enabled again starts afresh: its first probe decides.
			*l = linkRun{state: StateDown}
			if m.rounds > 0 {
				notes = append(notes, note{detail: fmt.Sprintf("%s enabled", k), level: slog.LevelInfo})
			}
		}
	}
	return notes
}

// ensureSIM makes sure a configured SIM is selected and reports whether
// the backend must be told. Caller holds m.mu.
func (m *Manager) ensureSIM(cfg config, now time.Time) bool {
	if !cfg.enabled(device.LinkCellular) {
		m.simApplied = false
		return false
	}
	p := &m.persisted
	sim, ok := cfg.sim(p.SIM)
	if !ok {
		sim = cfg.sims[0]
		p.SIM = sim.Slot
		p.SIMSince = now
		p.LastGood = time.Time{}
		m.dirty = true
		m.simApplied = false
	}
	// A new APN or PIN for the active SIM needs a reconnect too.
	return !m.simApplied || m.simCfg != sim
}

func (m *Manager) selectSIM(ctx context.Context, cfg config, slot int) {
	sim, _ := cfg.sim(slot)
	err := m.be.SelectSIM(ctx, Link{Kind: device.LinkCellular, Interface: cfg.iface[device.LinkCellular], SIM: slot}, sim)
	m.mu.Lock()
	defer m.mu.Unlock()
	// Tried once per selection: retrying every round would reset a modem
	// that is busy registering.
	m.simApplied, m.simCfg = true, sim
	msg := ""
	if err != nil && !errors.Is(err, ErrNotAvailable) {
		// A missing ModemManager is the backend's status detail already.
		msg = err.Error()
	}
	if err != nil && err.Error() != m.simErr {
		m.log.Warn("SIM not selected", "slot", slot, "err", err)
	}
	m.simErr = msg
}

// probe probes every enabled link at once and asks for their status.
func (m *Manager) probe(ctx context.Context, cfg config, slot int) map[device.LinkKind]probeResult {
	ctx, cancel := context.WithTimeout(ctx, cfg.probeTimeout(m.opts.ProbeTimeout))
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[device.LinkKind]probeResult{}
	for _, k := range cfg.order {
		if !cfg.enabled(k) {
			continue
		}
		l := Link{Kind: k, Interface: cfg.iface[k]}
		if k == device.LinkCellular {
			l.SIM = slot
		}
		wg.Go(func() {
			err := m.be.Probe(ctx, l, cfg.targets)
			st := m.be.Status(ctx, l)
			mu.Lock()
			out[k] = probeResult{link: l, err: err, status: st}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// observe applies probe results with hysteresis. Caller holds m.mu.
func (m *Manager) observe(cfg config, results map[device.LinkKind]probeResult) []note {
	var notes []note
	for _, k := range cfg.order {
		r, ok := results[k]
		l := m.links[k]
		if !ok || l.state == StateDisabled {
			continue
		}
		l.status = r.status
		l.probes++
		if r.err == nil {
			l.good++
			l.failed = 0
			l.lastErr = ""
			switch {
			case l.state == StateUp:
			case l.probes == 1:
				// The first probe after start (or after the link was
				// enabled) decides: there is no earlier state to protect.
				l.state = StateUp
				notes = append(notes, note{detail: fmt.Sprintf("%s up", k), level: slog.LevelInfo})
			case l.good >= cfg.upAfter:
				l.state = StateUp
				notes = append(notes, note{detail: fmt.Sprintf("%s up after %d good probes", k, l.good), level: slog.LevelInfo})
			}
			continue
		}
		l.failed++
		l.good = 0
		l.lastErr = r.err.Error()
		if l.state == StateUp && l.failed >= cfg.downAfter {
			l.state = StateDown
			notes = append(notes, note{detail: fmt.Sprintf("%s down after %d failed probes", k, l.failed), level: slog.LevelWarn})
		}
	}
	return notes
}

// simRules switches SIMs after failover_after without internet and
// rotates them weekly. Caller holds m.mu.
func (m *Manager) simRules(cfg config, now time.Time, results map[device.LinkKind]probeResult) ([]note, bool) {
	r, probed := results[device.LinkCellular]
	if !probed || !cfg.enabled(device.LinkCellular) {
		return nil, false
	}
	p := &m.persisted
	cur := p.SIM
	if r.err == nil {
		p.LastGood = now
		if _, bad := p.Failed[cur]; bad {
			delete(p.Failed, cur)
			m.dirty = true
		}
	}
	other := cfg.otherSlot(cur)
	if other == 0 {
		return nil, false
	}
	reason := ""
	if r.err != nil {
		since := p.SIMSince
		for _, t := range []time.Time{p.LastGood, m.started} {
			if t.After(since) {
				since = t
			}
		}
		if now.Sub(since) >= cfg.failoverAfter {
			reason = fmt.Sprintf("no internet on SIM %d for %s", cur, now.Sub(since).Round(time.Second))
			p.Failed[cur] = now
		}
	} else if cfg.rotate == device.RotateWeekly && m.links[device.LinkCellular].state == StateUp {
		switch {
		case p.LastRotation.IsZero():
			p.LastRotation = now
			m.dirty = true
		case now.Sub(p.LastRotation) >= Week && m.usable(cfg, other, now):
			reason = "weekly rotation"
			p.LastRotation = now
		}
	}
	if reason == "" {
		return nil, false
	}
	p.SIM, p.SIMSince, p.LastGood = other, now, time.Time{}
	m.dirty = true
	m.saveNow()
	// Probes of the old SIM say nothing about the new one.
	l := m.links[device.LinkCellular]
	l.good, l.failed = 0, 0
	return []note{{detail: fmt.Sprintf("cellular SIM %d -> SIM %d: %s", cur, other, reason), kind: noteChange, level: slog.LevelWarn}}, true
}

// usable reports whether a SIM may be rotated to: it was not left for
// having no internet within the last week, and it has data left this
// month. Caller holds m.mu.
func (m *Manager) usable(cfg config, slot int, now time.Time) bool {
	if t, bad := m.persisted.Failed[slot]; bad && now.Sub(t) < Week {
		return false
	}
	sim, ok := cfg.sim(slot)
	if !ok {
		return false
	}
	if u := m.persisted.Usage[slot]; u != nil && u.Month == monthOf(now, cfg.loc) && levelOf(u.Bytes, sim.MonthlyLimitMB) >= UsageExceeded {
		return false
	}
	return true
}

// pick returns the highest-priority link that is up, or 0. Caller holds
// m.mu.
func (m *Manager) pick(cfg config) device.LinkKind {
	for _, k := range cfg.priority {
		if cfg.enabled(k) && m.links[k].state == StateUp {
			return k
		}
	}
	return 0
}

// activeReason explains a change of the active link from the round's
// link notes. Caller holds m.mu.
func (m *Manager) activeReason(prev, next device.LinkKind, notes []note) string {
	find := func(k device.LinkKind) string {
		if k == 0 {
			return ""
		}
		for _, n := range notes {
			if n.kind == noteLog && strings.HasPrefix(n.detail, k.String()+" ") {
				return n.detail
			}
		}
		return ""
	}
	if r := find(prev); r != "" {
		return r
	}
	if r := find(next); r != "" {
		return r
	}
	if prev != 0 && next != 0 {
		return "priority changed"
	}
	return "no link is up"
}

// routeOrder ranks the links for the default routes: the active link,
// then the other links that are up, then those that are down, then the
// disabled ones, each group by priority. Caller holds m.mu.
func (m *Manager) routeOrder(cfg config) []Link {
	var out []Link
	add := func(k device.LinkKind) {
		l := Link{Kind: k, Interface: cfg.iface[k]}
		if k == device.LinkCellular {
			l.SIM = m.persisted.SIM
		}
		if !slices.ContainsFunc(out, func(x Link) bool { return x.Kind == k }) {
			out = append(out, l)
		}
	}
	if m.active != 0 {
		add(m.active)
	}
	for _, want := range []State{StateUp, StateDown, StateDisabled} {
		for _, k := range cfg.order {
			if m.links[k].state == want {
				add(k)
			}
		}
	}
	return out
}

// report builds the round's report. Caller holds m.mu.
func (m *Manager) report(now time.Time, results map[device.LinkKind]probeResult) RoundReport {
	r := RoundReport{Time: now, Active: m.active}
	for _, k := range m.cfg.order {
		l := m.links[k]
		res, probed := results[k]
		lr := LinkReport{Kind: k, State: l.state, Probed: probed, Err: res.err, Good: l.good, Failed: l.failed}
		if k == device.LinkCellular {
			lr.SIM = res.link.SIM
		}
		r.Links = append(r.Links, lr)
	}
	return r
}

// countUsage adds the traffic since the last reading to the active SIM,
// starts new months and raises usage alerts. Caller holds m.mu.
func (m *Manager) countUsage(cfg config, now time.Time, c Counters, err error) []note {
	p := &m.persisted
	month := monthOf(now, cfg.loc)
	for _, sim := range cfg.sims {
		u := p.Usage[sim.Slot]
		if u == nil || u.Month != month {
			p.Usage[sim.Slot] = &simUsage{Month: month, Raised: map[int]time.Time{}}
			m.dirty = u != nil || m.dirty
		}
	}
	if err != nil {
		m.haveCount = false
	} else {
		if m.haveCount {
			d := counterDelta(m.counters.RxBytes, c.RxBytes) + counterDelta(m.counters.TxBytes, c.TxBytes)
			if u := p.Usage[p.SIM]; u != nil && d > 0 {
				u.Bytes += d
				u.Updated = now
				m.dirty = true
			}
		}
		m.counters, m.haveCount = c, true
	}
	var notes []note
	for _, sim := range cfg.sims {
		u := p.Usage[sim.Slot]
		level := levelOf(u.Bytes, sim.MonthlyLimitMB)
		if level == u.Level {
			continue
		}
		if level < u.Level {
			// The limit was raised: a later crossing raises again.
			u.Level = level
			m.dirty = true
			continue
		}
		if u.Raised == nil {
			u.Raised = map[int]time.Time{}
		}
		for _, lv := range []int{UsageWarn, UsageExceeded} {
			if lv > u.Level && lv <= level {
				u.Raised[lv] = now
			}
		}
		u.Level = level
		m.dirty = true
		m.saveNow()
		a := UsageAlert{Slot: sim.Slot, Level: level, UsedMB: mb(u.Bytes), LimitMB: sim.MonthlyLimitMB, Month: month, Since: now}
		notes = append(notes, note{detail: "data usage: " + a.Message(), kind: noteUsage, level: slog.LevelWarn, usage: a})
	}
	return notes
}

// UsageAlerts returns the SIMs whose data usage this month is at or above
// 80 % of their monthly limit, by slot.
func (m *Manager) UsageAlerts() []UsageAlert {
	m.mu.Lock()
	defer m.mu.Unlock()
	month := monthOf(m.clk.Now(), m.cfg.loc)
	var out []UsageAlert
	for _, sim := range m.cfg.sims {
		u := m.persisted.Usage[sim.Slot]
		if u == nil || u.Month != month {
			continue
		}
		level := levelOf(u.Bytes, sim.MonthlyLimitMB)
		if level == 0 {
			continue
		}
		since := u.Raised[level]
		if since.IsZero() {
			since = u.Updated
		}
		out = append(out, UsageAlert{Slot: sim.Slot, Level: level, UsedMB: mb(u.Bytes), LimitMB: sim.MonthlyLimitMB, Month: month, Since: since})
	}
	return out
}

// Usage returns every configured SIM's data usage this month, by slot.
func (m *Manager) Usage() []SIMUsage {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clk.Now()
	month := monthOf(now, m.cfg.loc)
	var out []SIMUsage
	for _, sim := range m.cfg.sims {
		su := SIMUsage{Slot: sim.Slot, APN: sim.APN, Active: sim.Slot == m.persisted.SIM, LimitMB: sim.MonthlyLimitMB, Month: month, Usable: m.usable(m.cfg, sim.Slot, now)}
		if u := m.persisted.Usage[sim.Slot]; u != nil && u.Month == month {
			su.UsedMB = mb(u.Bytes)
		}
		out = append(out, su)
	}
	return out
}

// FillHealth fills the wan section of a health report: the active link
// ("offline" when none is up) and every link in priority order. It is a
// device.HealthSource.
func (m *Manager) FillHealth(h *device.Health) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h.WAN.Active = activeName(m.active)
	h.WAN.Links = make([]device.LinkHealth, 0, len(m.cfg.order))
	month := monthOf(m.clk.Now(), m.cfg.loc)
	for _, k := range m.cfg.order {
		l := m.links[k]
		lh := device.LinkHealth{Name: k.String(), State: l.state.String()}
		if l.state != StateDisabled {
			lh.Signal = l.status.Signal
		}
		var detail []string
		switch {
		case l.state == StateDisabled:
			detail = append(detail, l.why)
		case l.probes == 0:
			detail = append(detail, "not probed yet")
		case l.state == StateDown && l.good > 0:
			detail = append(detail, fmt.Sprintf("recovering: %d of %d good probes", l.good, m.cfg.upAfter))
		case l.state == StateDown:
			detail = append(detail, fmt.Sprintf("%d failed probes: %s", l.failed, l.lastErr))
		case l.failed > 0:
			detail = append(detail, fmt.Sprintf("%d of %d probes failed", l.failed, m.cfg.downAfter))
		}
		if k == device.LinkCellular && l.state != StateDisabled {
			slot := m.persisted.SIM
			lh.SIM = slot
			if sim, ok := m.cfg.sim(slot); ok {
				lh.LimitMB = sim.MonthlyLimitMB
			}
			if u := m.persisted.Usage[slot]; u != nil && u.Month == month {
				lh.UsageMB = mb(u.Bytes)
			}
			if m.simErr != "" {
				detail = append(detail, "SIM selection: "+m.simErr)
			}
		}
		if l.state != StateDisabled && l.status.Detail != "" {
			detail = append(detail, l.status.Detail)
		}
		if l.state != StateDisabled && m.configErr != "" && k != device.LinkEthernet {
			detail = append(detail, "configuration: "+m.configErr)
		}
		if k == m.active && m.routeErr != "" {
			detail = append(detail, "routes: "+m.routeErr)
		}
		lh.Detail = strings.Join(slices.DeleteFunc(detail, func(s string) bool { return s == "" }), "; ")
		h.WAN.Links = append(h.WAN.Links, lh)
	}
}

// saveNow marks the state for writing at the end of the round, whatever
// PersistEvery says. Caller holds m.mu.
func (m *Manager) saveNow() { m.lastSave = time.Time{} }

// maybePersist writes the state when it changed and either force is set,
// something important changed, or PersistEvery has passed.
func (m *Manager) maybePersist(now time.Time, force bool) {
	m.mu.Lock()
	if !m.dirty || (!force && !m.lastSave.IsZero() && now.Sub(m.lastSave) < m.opts.PersistEvery) {
		m.mu.Unlock()
		return
	}
	m.persisted.Month = monthOf(now, m.cfg.loc)
	b, err := json.Marshal(m.persisted)
	m.dirty = false
	m.lastSave = now
	m.mu.Unlock()
	if err == nil {
		err = m.gw.Store().PutMeta(metaKey, b)
	}
	if err != nil {
		m.log.Error("store WAN state", "err", err)
		m.mu.Lock()
		m.dirty = true
		m.mu.Unlock()
	}
}

// flush writes whatever state is not stored yet.
func (m *Manager) flush() { m.maybePersist(m.clk.Now(), true) }
