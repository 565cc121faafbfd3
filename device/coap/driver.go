package coap

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
)

// Defaults of the driver.
const (
	// DefaultRetry is how long the driver waits before it opens the
	// socket again after a failure (the port is taken).
	DefaultRetry = 10 * time.Second
	// DefaultCheckEvery is how often sensors are checked for silence.
	DefaultCheckEvery = 5 * time.Second
	// DegradedAfter and OfflineAfter are the silences, in report
	// intervals, after which a sensor is degraded and offline.
	DegradedAfter = 2.5
	OfflineAfter  = 5.0
	// MaxAge is how old a reading's own time may be: a sensor that
	// buffered readings while the gateway was away sends them later, but
	// not from before this.
	MaxAge = 24 * time.Hour
	// MaxSkew is how far ahead of the gateway's clock a reading's time
	// may be.
	MaxSkew = 2 * time.Minute
	// MaxObservers bounds the observers of one sensor's configuration.
	MaxObservers = 4
)

// Options tune a Driver; the zero value is the production behaviour.
type Options struct {
	Logger *slog.Logger
	// Clock times silences, retries and readings (the system clock).
	Clock clockwork.Clock
	// Limits bound handshakes and sessions (the defaults of Limits).
	Limits Limits
	// Retry (DefaultRetry), CheckEvery (DefaultCheckEvery).
	Retry      time.Duration
	CheckEvery time.Duration
	// CipherSuites are the PSK suites offered (CipherSuites); the interop
	// test offers each alone to prove it.
	CipherSuites []dtls.CipherSuiteID
	// Bind returns the address to bind for the configured one (itself).
	// Tests bind 127.0.0.1:0 through it, which a site may not name.
	Bind func(configured string) string
}

// Driver is the CoAP driver of the field layer: the DTLS server of the
// site's coap section and its sensors (see the package doc). Its methods
// are safe for concurrent use.
type Driver struct {
	gw    *device.Gateway
	sink  field.Sink
	o     Options
	log   *slog.Logger
	dummy []byte // the key of unknown identities: their handshake fails like a wrong key
	stats counters
	logs  logLimiter

	applyMu sync.Mutex // serialises apply
	recMu   sync.Mutex // orders what is recorded per sensor: readings and silence verdicts

	mu         sync.Mutex
	ctx        context.Context // Run's; nil when not running
	started    time.Time
	listen     string // the applied coap.listen
	inst       *instance
	lastErr    error
	retryAt    time.Time
	sensors    map[string]*sensor // by identity
	byName     map[string]*sensor
	order      []string // sensor names in site order
	listenedOn string
}

// sensor is one sensor of the site and what the driver knows of it.
type sensor struct {
	conf   device.CoAPSensor
	key    []byte
	listed map[string]device.CoAPPoint // nil: the sensor names its points
	config []byte                      // its /v1/config document

	// Guarded by Driver.mu.
	lastSeen  time.Time
	readings  uint64
	bodies    uint64
	refusals  map[string]uint64
	last      map[string]time.Time // the newest time accepted per point (replays)
	state     field.State
	since     time.Time
	observers []*observer
}

var _ field.Driver = (*Driver)(nil)

// NewDriver returns a driver for gw; Run runs it.
func NewDriver(gw *device.Gateway, o Options) *Driver {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = DefaultCheckEvery
	}
	if len(o.CipherSuites) == 0 {
		o.CipherSuites = CipherSuites
	}
	if o.Bind == nil {
		o.Bind = func(a string) string { return a }
	}
	dummy := make([]byte, 32)
	_, _ = rand.Read(dummy) // crypto/rand.Read never fails (Go ≥ 1.24)
	return &Driver{gw: gw, sink: gw.FieldSink(), o: o, log: o.Logger, dummy: dummy,
		sensors: map[string]*sensor{}, byName: map[string]*sensor{}}
}

// From returns the CoAP driver running for gw, if any.
func From(gw interface{ Field() *field.Hub }) (*Driver, bool) {
	return field.DriverAs[*Driver](gw.Field(), field.CoAP)
}

// Protocol implements field.Driver.
func (d *Driver) Protocol() field.Protocol { return field.CoAP }

// Run runs the site's coap section until ctx ends, following its changes;
// it returns nil then.
func (d *Driver) Run(ctx context.Context) error {
	d.mu.Lock()
	d.ctx, d.started = ctx, d.o.Clock.Now()
	d.mu.Unlock()
	detach := d.gw.Field().Attach(d)
	defer func() {
		detach()
		d.mu.Lock()
		old := d.inst
		d.inst, d.ctx, d.listen, d.listenedOn = nil, nil, "", ""
		d.mu.Unlock()
		if old != nil {
			old.stop()
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.tick(ctx)
	}()
	d.gw.FollowSite(ctx, d.apply)
	<-done
	return nil
}

// tick checks sensors for silence, and retries a socket that failed.
func (d *Driver) tick(ctx context.Context) {
	check := d.o.Clock.NewTicker(d.o.CheckEvery)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C():
			d.checkSilence()
			if d.due() {
				d.apply()
			}
		}
	}
}

func (d *Driver) due() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inst == nil && d.listen != "" && !d.o.Clock.Now().Before(d.retryAt)
}

// apply brings the sensors and the socket in line with the site: sessions
// of removed sensors or changed keys end, observers of changed settings
// are notified, and a changed address opens the socket afresh.
func (d *Driver) apply() {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	site, _ := d.gw.Site()
	c := site.CoAP

	d.mu.Lock()
	ctx := d.ctx
	if ctx == nil || ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	notify := d.setSensorsLocked(c)
	old := d.inst
	restart := c.Listen != d.listen || old == nil && c.Listen != "" && !d.o.Clock.Now().Before(d.retryAt)
	if !restart {
		d.mu.Unlock()
		if old != nil {
			if n := old.endSessions(); n > 0 {
				d.stats.add(CounterSessionsEnded, uint64(n))
			}
		}
		d.notifyAll(notify)
		return
	}
	d.inst, d.listen, d.listenedOn = nil, c.Listen, ""
	d.mu.Unlock()
	d.notifyAll(notify)
	if old != nil {
		old.stop()
		d.log.Info("coap: server stopped", "address", old.address)
	}
	if c.Listen == "" {
		d.mu.Lock()
		d.lastErr = nil
		d.mu.Unlock()
		return
	}
	in, err := d.start(ctx, c.Listen)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inst = in
	if err != nil {
		d.lastErr, d.retryAt = err, d.o.Clock.Now().Add(d.o.Retry)
		d.log.Error("coap: server not started; retrying", "address", c.Listen, "err", err, "retry_in", d.o.Retry)
		return
	}
	d.lastErr, d.listenedOn = nil, in.ln.Addr().String()
	d.log.Info("coap: server started", "address", d.listenedOn, "sensors", len(c.Sensors))
}

// setSensorsLocked replaces the sensors, keeping what is known of those
// that stay (by name), and returns the observers whose configuration
// changed, with the new document.
func (d *Driver) setSensorsLocked(c device.CoAP) []notification {
	now := d.o.Clock.Now()
	next := make(map[string]*sensor, len(c.Sensors))
	byName := make(map[string]*sensor, len(c.Sensors))
	order := make([]string, 0, len(c.Sensors))
	var notify []notification
	for _, conf := range c.Sensors {
		s := &sensor{conf: conf, key: []byte(conf.Key.Reveal()), config: configDoc(conf),
			refusals: map[string]uint64{}, last: map[string]time.Time{}, state: field.StateUnknown, since: now}
		if len(conf.Points) > 0 {
			s.listed = make(map[string]device.CoAPPoint, len(conf.Points))
			for _, p := range conf.Points {
				s.listed[p.Name] = p
			}
		}
		if prev := d.byName[conf.Name]; prev != nil {
			sameKey := prev.conf.Identity == conf.Identity && subtle.ConstantTimeCompare(prev.key, s.key) == 1
			s.lastSeen, s.readings, s.bodies, s.refusals, s.state, s.since = prev.lastSeen, prev.readings, prev.bodies, prev.refusals, prev.state, prev.since
			s.last = prev.last
			if sameKey {
				s.observers = prev.observers
				if string(prev.config) != string(s.config) {
					for _, o := range s.observers {
						notify = append(notify, notification{o, s.config})
					}
				}
			}
		}
		next[conf.Identity], byName[conf.Name] = s, s
		order = append(order, conf.Name)
	}
	d.sensors, d.byName, d.order = next, byName, order
	return notify
}

// keyFor returns the key of identity, or the dummy key and false for an
// identity that is no sensor.
func (d *Driver) keyFor(identity string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sensors[identity]; s != nil {
		return s.key, true
	}
	return d.dummy, false
}

// sensorRefused counts a refusal against a known sensor.
func (d *Driver) sensorRefused(identity string, c Counter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sensors[identity]; s != nil {
		s.refusals[c.String()]++
	}
}

// accept takes a decoded body of identity's sensor into the field layer.
// A time outside [now-MaxAge, now+MaxSkew] refuses the whole body;
// readings not newer than one accepted before for the same point, and
// readings of points the sensor does not list, are dropped and counted.
func (d *Driver) accept(identity string, samples []sample) (accepted int, err error) {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	now := d.o.Clock.Now()
	d.mu.Lock()
	s := d.sensors[identity]
	if s == nil {
		d.mu.Unlock()
		return 0, errNoSensor
	}
	for _, sm := range samples {
		if !sm.ts.IsZero() && (sm.ts.Before(now.Add(-MaxAge)) || sm.ts.After(now.Add(MaxSkew))) {
			s.refusals[CounterStale.String()]++
			d.mu.Unlock()
			return 0, fmt.Errorf("%w: %s at %s is outside %s before to %s after the gateway's clock", errStale, sm.point, sm.ts.Format(time.RFC3339), MaxAge, MaxSkew)
		}
	}
	readings := make([]field.Reading, 0, len(samples))
	var replayed, unknown uint64
	for _, sm := range samples {
		r := field.Reading{Device: s.conf.Name, Point: sm.point, Quality: field.QualityGood, TS: now}
		if s.listed != nil {
			p, ok := s.listed[sm.point]
			if !ok {
				unknown++
				continue
			}
			r.Unit = p.Unit
		}
		if !sm.ts.IsZero() {
			if last, ok := s.last[sm.point]; ok && !sm.ts.After(last) {
				replayed++
				continue
			}
			if _, ok := s.last[sm.point]; ok || len(s.last) < field.MaxPointsPerDevice {
				s.last[sm.point] = sm.ts
			}
			r.TS = sm.ts
		}
		r.Value = sm.value
		readings = append(readings, r)
	}
	s.lastSeen = now
	s.bodies++
	s.readings += uint64(len(readings))
	if replayed > 0 {
		s.refusals[CounterReplayed.String()] += replayed
	}
	if unknown > 0 {
		s.refusals[CounterUnknownPoint.String()] += unknown
	}
	if s.state != field.StateOnline {
		s.state, s.since = field.StateOnline, now
	}
	st := d.statusLocked(s, now)
	d.mu.Unlock()
	d.stats.add(CounterBodies, 1)
	d.stats.add(CounterReadings, uint64(len(readings)))
	d.stats.add(CounterReplayed, replayed)
	d.stats.add(CounterUnknownPoint, unknown)
	return len(readings), d.sink.Record(st, readings)
}

// bodyRefused counts a refused body against the sensor and records its
// status (the refusal shows in the sensor's errors).
func (d *Driver) bodyRefused(identity string, c Counter) {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	d.mu.Lock()
	s := d.sensors[identity]
	if s == nil {
		d.mu.Unlock()
		return
	}
	s.refusals[c.String()]++
	st := d.statusLocked(s, d.o.Clock.Now())
	d.mu.Unlock()
	_ = d.sink.Record(st, nil)
}

func (d *Driver) statusLocked(s *sensor, now time.Time) field.Status {
	errs := make(map[string]uint64, len(s.refusals))
	var failed uint64
	for k, v := range s.refusals {
		errs[k] = v
		failed += v
	}
	st := field.Status{Device: s.conf.Name, Protocol: field.CoAP, Bus: d.listen, State: s.state, Since: s.since,
		LastPoll: s.lastSeen, Requests: s.bodies + failed, Errors: errs}
	if st.Bus == "" {
		st.Bus = "coap"
	}
	if st.Requests > 0 {
		st.SuccessRate = float64(s.bodies) / float64(st.Requests)
	}
	if !s.lastSeen.IsZero() {
		st.NextPoll = s.lastSeen.Add(time.Duration(s.conf.EffectiveInterval()))
	}
	return st
}

// checkSilence makes sensors silent for too long degraded, then offline.
func (d *Driver) checkSilence() {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	now := d.o.Clock.Now()
	var changed []field.Status
	d.mu.Lock()
	for _, name := range d.order {
		s := d.byName[name]
		from := s.lastSeen
		if from.IsZero() {
			from = d.started
		}
		iv := float64(s.conf.EffectiveInterval())
		silent := float64(now.Sub(from))
		next := s.state
		switch {
		case silent >= OfflineAfter*iv:
			next = field.StateOffline
		case silent >= DegradedAfter*iv && s.state == field.StateOnline:
			next = field.StateDegraded
		}
		if next != s.state {
			s.state, s.since = next, now
			st := d.statusLocked(s, now)
			st.LastError = fmt.Sprintf("silent for %s", now.Sub(from).Round(time.Second))
			changed = append(changed, st)
		}
	}
	d.mu.Unlock()
	for _, st := range changed {
		_ = d.sink.Record(st, nil)
	}
}

// Read implements field.Driver: a sensor pushes its readings, so a read
// gives the latest ones.
func (d *Driver) Read(_ context.Context, name string, points []string) ([]field.Reading, error) {
	latest, ok := d.gw.Field().Latest(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", field.ErrNoDevice, name)
	}
	if len(points) == 0 {
		return latest, nil
	}
	out := make([]field.Reading, 0, len(points))
	for _, p := range points {
		i := slices.IndexFunc(latest, func(r field.Reading) bool { return r.Point == p })
		if i < 0 {
			return nil, fmt.Errorf("device %s: %w %q", name, field.ErrNoPoint, p)
		}
		out = append(out, latest[i])
	}
	return out, nil
}

// Write implements field.Driver: the gateway never writes to a sensor.
func (d *Driver) Write(context.Context, field.Write) error {
	return fmt.Errorf("coap sensors: %w (they report; settings reach them through /v1/config)", field.ErrNotSupported)
}

// SensorInfo is a sensor as `coap sensors` shows it: never its key.
type SensorInfo struct {
	Name     string            `json:"name"`
	Identity string            `json:"identity"`
	State    field.State       `json:"state"`
	LastSeen time.Time         `json:"last_seen,omitzero"`
	Readings uint64            `json:"readings"`
	Bodies   uint64            `json:"bodies"`
	Refusals map[string]uint64 `json:"refusals"`
	Session  bool              `json:"session"` // a DTLS session is established now
}

// Sensors returns the sensors in site order.
func (d *Driver) Sensors() []SensorInfo {
	d.mu.Lock()
	inst := d.inst
	out := make([]SensorInfo, 0, len(d.order))
	for _, name := range d.order {
		s := d.byName[name]
		ref := make(map[string]uint64, len(s.refusals))
		for k, v := range s.refusals {
			ref[k] = v
		}
		out = append(out, SensorInfo{Name: name, Identity: s.conf.Identity, State: s.state, LastSeen: s.lastSeen,
			Readings: s.readings, Bodies: s.bodies, Refusals: ref})
	}
	d.mu.Unlock()
	if inst != nil {
		inst.mu.Lock()
		for i := range out {
			_, out[i].Session = inst.byIdentity[out[i].Identity]
		}
		inst.mu.Unlock()
	}
	return out
}

// Health returns the server's part of health.
func (d *Driver) Health() device.CoAPHealth {
	d.mu.Lock()
	h := device.CoAPHealth{Listening: d.listenedOn, Sensors: len(d.order), Counters: d.stats.snapshot()}
	if d.lastErr != nil {
		h.Error = d.lastErr.Error()
	}
	inst := d.inst
	d.mu.Unlock()
	if inst != nil {
		h.Handshakes, h.Sessions = inst.counts()
	}
	return h
}

// FillHealth is the driver's device.HealthSource.
func (d *Driver) FillHealth(h *device.Health) {
	c := d.Health()
	h.CoAP = &c
}

// Addr returns the address the server listens on, or "" (tests bind
// port 0 and ask).
func (d *Driver) Addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.listenedOn
}
