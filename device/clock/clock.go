package clock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/beevik/ntp"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
)

// Defaults of Options.
const (
	DefaultPeriod          = 5 * time.Minute
	DefaultTimeout         = 3 * time.Second
	DefaultRetryMin        = 15 * time.Second
	DefaultMaxDisagreement = time.Second
	DefaultMaxRootDistance = 3 * time.Second
	DefaultStepThreshold   = 128 * time.Millisecond
)

// SyncedBound is the largest |offset| at which the clock counts as
// synchronised.
const SyncedBound = time.Second

// QueryFunc asks one NTP server (host or host:port) for the time. It must
// give up when ctx ends. NetQuery is the real one.
type QueryFunc func(ctx context.Context, server string) (*ntp.Response, error)

// Options configure a Clock. The zero value of each field means its
// default.
type Options struct {
	// Gateway supplies the servers (its site's clock.ntp_servers) when
	// Servers is nil, and its site-change events start an early round.
	Gateway *device.Gateway
	// Servers returns the servers to ask; it is called every round, so a
	// changed site takes effect on the next one.
	Servers func() []string
	// Period between rounds after a round that got an accepted answer
	// (default 5 min).
	Period time.Duration
	// RetryMin is the delay after the first failed round; it doubles with
	// each further failure up to Period (default 15 s).
	RetryMin time.Duration
	// Timeout bounds each query (default 3 s).
	Timeout time.Duration
	// MaxDisagreement: valid answers further than this from the majority
	// are outliers (default 1 s).
	MaxDisagreement time.Duration
	// MaxRootDistance refuses answers whose root distance (half the round
	// trip and root delay plus root dispersion) is larger (default 3 s).
	MaxRootDistance time.Duration
	// SetClock lets the service step the system clock (sitegate run
	// --set-clock; root only). Without it the service only reports.
	SetClock bool
	// StepThreshold: with SetClock, offsets above it are stepped
	// (default 128 ms).
	StepThreshold time.Duration
	// SetTime sets the system clock (default settimeofday(2)).
	SetTime func(time.Time) error
	// OnStep, when set, is called after each step of the system clock with
	// the correction and the server it came from; the caller audits it.
	// It runs on the service's goroutine and must not block.
	OnStep func(by time.Duration, source string)
	// Query asks one server (default NetQuery).
	Query QueryFunc
	// Clock is the time of the service's bookkeeping and of the waits
	// between rounds (default the system clock); tests drive the loop with
	// a clockwork.Fake.
	Clock clockwork.Clock
	// Logger receives state changes (default slog.Default()).
	Logger *slog.Logger
}

// ServerStatus is one server's part of the latest round.
type ServerStatus struct {
	Server  string
	Offset  time.Duration // server time minus ours, when it answered
	RTT     time.Duration
	Stratum int
	Used    bool   // it belongs to the majority that was believed
	Error   string // why its answer was not used
}

// Status is what the service knows about the clock.
type Status struct {
	// Synced: an accepted answer at most two periods old says |offset| < 1 s.
	Synced bool
	// Offset is the server's time minus ours from the latest accepted
	// answer, less any step made since.
	Offset time.Duration
	// Source is the server of the latest accepted answer ("" before one).
	Source  string
	Stratum int
	// LastAnswer is when the latest accepted answer came.
	LastAnswer time.Time
	// LastSync is when an accepted answer last said |offset| < 1 s.
	LastSync time.Time
	// LastRound is when the latest round ended.
	LastRound time.Time
	// LastStep is when the system clock was last stepped, and by how much.
	LastStep   time.Time
	LastStepBy time.Duration
	// Error says why the latest round did not confirm the clock ("" when it
	// did).
	Error string
	// Servers are the latest round's answers, in the configured order.
	Servers []ServerStatus
}

// Clock is the time-keeping service. It is safe for concurrent use.
type Clock struct {
	o     Options
	log   *slog.Logger
	start time.Time

	roundMu sync.Mutex // one round at a time

	mu       sync.Mutex
	st       Status
	asked    []string             // the servers of the latest round
	kissed   map[string]time.Time // server → suspended until
	failures int                  // consecutive rounds without an accepted answer
	inSync   bool                 // the latest accepted answer said |offset| < SyncedBound
}

// New returns a Clock; Run runs it.
func New(o Options) *Clock {
	if o.Period <= 0 {
		o.Period = DefaultPeriod
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMin > o.Period {
		o.RetryMin = o.Period
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxDisagreement <= 0 {
		o.MaxDisagreement = DefaultMaxDisagreement
	}
	if o.MaxRootDistance <= 0 {
		o.MaxRootDistance = DefaultMaxRootDistance
	}
	if o.StepThreshold <= 0 {
		o.StepThreshold = DefaultStepThreshold
	}
	if o.SetTime == nil {
		o.SetTime = setSystemTime
	}
	if o.Query == nil {
		o.Query = NetQuery
	}
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Servers == nil {
		gw := o.Gateway
		o.Servers = func() []string {
			if gw == nil {
				return nil
			}
			s, _ := gw.Site()
			return s.Clock.NTPServers
		}
	}
	return &Clock{o: o, log: o.Logger, start: o.Clock.Now(), kissed: map[string]time.Time{}}
}

// Run runs a round now and then one per period, and at once when the
// site's servers change, until ctx ends (a query in flight is abandoned).
func (c *Clock) Run(ctx context.Context) error {
	var sub *device.Subscription
	if c.o.Gateway != nil {
		sub = c.o.Gateway.SubscribeTo(8, device.EventSite)
		defer sub.Close()
	}
	c.loop(ctx, sub)
	return nil
}

func (c *Clock) loop(ctx context.Context, sub *device.Subscription) {
	var events <-chan device.Event
	if sub != nil {
		events = sub.C()
	}
	for {
		c.Sync(ctx)
		wait := c.nextDelay()
		timer := c.o.Clock.NewTimer(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C():
				break waiting
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				if (ev.Kind == device.EventSite || sub.Missed() > 0) && c.serversChanged() {
					break waiting
				}
			}
		}
		timer.Stop()
	}
}

// nextDelay is Period after a good round, else a doubling retry.
func (c *Clock) nextDelay() time.Duration {
	c.mu.Lock()
	n := c.failures
	c.mu.Unlock()
	if n == 0 {
		return c.o.Period
	}
	d := c.o.RetryMin
	for i := 1; i < n && d < c.o.Period; i++ {
		d *= 2
	}
	return min(d, c.o.Period)
}

func (c *Clock) serversChanged() bool {
	now := cleanServers(c.o.Servers())
	c.mu.Lock()
	defer c.mu.Unlock()
	return !slices.Equal(now, c.asked)
}

// cleanServers trims, drops empty entries and duplicates, keeping order.
func cleanServers(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Sync runs one round now: asks every server, chooses an answer, steps the
// clock when allowed and needed, and returns the new status.
func (c *Clock) Sync(ctx context.Context) Status {
	c.roundMu.Lock()
	defer c.roundMu.Unlock()

	servers := cleanServers(c.o.Servers())
	now := c.o.Clock.Now()
	c.mu.Lock()
	c.asked = servers
	kissed := make(map[string]time.Time, len(c.kissed))
	for k, v := range c.kissed {
		if now.Before(v) {
			kissed[k] = v
		}
	}
	c.kissed = kissed
	c.mu.Unlock()

	if len(servers) == 0 {
		return c.finish(nil, nil, errors.New("no NTP servers are configured: set clock.ntp_servers in the site"))
	}

	answers := make([]answer, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		answers[i].server = srv
		if until, ok := kissed[srv]; ok {
			answers[i].err = fmt.Errorf("suspended until %s after a kiss-of-death", until.UTC().Format(time.RFC3339))
			continue
		}
		wg.Add(1)
		go func(a *answer) {
			defer wg.Done()
			qctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
			defer cancel()
			a.resp, a.err = c.o.Query(qctx, a.server)
			a.err = c.judge(a.resp, a.err)
		}(&answers[i])
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Stopping: the answers are incomplete, do not draw conclusions.
		return c.Status()
	}
	c.noteKisses(answers, now)

	best, err := choose(answers, c.o.MaxDisagreement)
	if err != nil {
		return c.finish(answers, nil, err)
	}
	return c.finish(answers, &answers[best], nil)
}

// finish records a round: chosen is the believed answer (nil when none),
// err why there is none.
func (c *Clock) finish(answers []answer, chosen *answer, err error) Status {
	servers := make([]ServerStatus, len(answers))
	for i, a := range answers {
		servers[i] = a.status()
	}
	var stepBy time.Duration
	var stepErr error
	offset := time.Duration(0)
	if chosen != nil {
		offset = chosen.resp.ClockOffset
		if c.o.SetClock && offset.Abs() > c.o.StepThreshold {
			if stepErr = c.o.SetTime(c.o.Clock.Now().Add(offset)); stepErr == nil {
				stepBy, offset = offset, 0
			}
		}
	}
	now := c.o.Clock.Now() // after a step: the corrected time

	c.mu.Lock()
	prev := c.st
	st := prev
	st.LastRound = now
	st.Servers = servers
	st.Error = ""
	if chosen == nil {
		c.failures++
		st.Error = err.Error()
	} else {
		c.failures = 0
		st.Offset, st.Source, st.Stratum, st.LastAnswer = offset, chosen.server, int(chosen.resp.Stratum), now
		c.inSync = offset.Abs() < SyncedBound
		if c.inSync {
			st.LastSync = now
		}
		switch {
		case stepErr != nil:
			st.Error = fmt.Sprintf("the system clock is off by %s and could not be set: %v", fmtOffset(offset), stepErr)
		case offset.Abs() >= SyncedBound:
			st.Error = fmt.Sprintf("the system clock is off by %s (per %s); sitegate only reports it: run with --set-clock as root, or fix the host's time service", fmtOffset(offset), chosen.server)
		}
		if stepBy != 0 {
			st.LastStep, st.LastStepBy = now, stepBy
		}
	}
	c.st = st
	c.mu.Unlock()

	out := c.Status()
	c.logChange(prev, out, stepBy)
	if stepBy != 0 && c.o.OnStep != nil {
		c.o.OnStep(stepBy, out.Source)
	}
	return out
}

func (c *Clock) logChange(prev, st Status, stepBy time.Duration) {
	if stepBy != 0 {
		c.log.Warn("system clock stepped", "by", fmtOffset(stepBy), "source", st.Source)
	}
	switch {
	case st.Error != "" && st.Error != prev.Error:
		c.log.Warn("clock not confirmed", "err", st.Error, "synced", st.Synced)
	case st.Error == "" && (prev.Error != "" || prev.LastSync.IsZero()):
		c.log.Info("clock synchronised", "source", st.Source, "offset", fmtOffset(st.Offset), "stratum", st.Stratum)
	}
}

// noteKisses suspends the servers that sent a kiss-of-death.
func (c *Clock) noteKisses(answers []answer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range answers {
		if a.resp == nil || !a.resp.IsKissOfDeath() {
			continue
		}
		switch a.resp.KissCode {
		case "DENY", "RSTR":
			c.kissed[a.server] = now.Add(24 * time.Hour)
		default: // RATE and codes we do not know: back off
			c.kissed[a.server] = now.Add(4 * c.o.Period)
		}
	}
}

// Status returns what the service knows now.
func (c *Clock) Status() Status {
	now := c.o.Clock.Now()
	c.mu.Lock()
	st := c.st
	st.Servers = slices.Clone(st.Servers)
	st.Synced = c.inSync && now.Sub(st.LastAnswer) <= 2*c.o.Period
	c.mu.Unlock()
	if !st.Synced && st.Error == "" && !st.LastAnswer.IsZero() {
		st.Error = fmt.Sprintf("no accepted NTP answer since %s", st.LastAnswer.UTC().Format(time.RFC3339))
	}
	return st
}

// UnsyncedFor returns how long the clock has not been synchronised: 0 while
// it is, else the time since the last sync (or since the service was
// created, when it never was).
func (c *Clock) UnsyncedFor() time.Duration {
	st := c.Status()
	if st.Synced {
		return 0
	}
	since := c.start
	if !st.LastSync.IsZero() {
		since = st.LastSync
	}
	return max(c.o.Clock.Now().Sub(since), 0)
}

// FillHealth fills the clock section of a health report; it is a
// device.HealthSource.
func (c *Clock) FillHealth(h *device.Health) {
	st := c.Status()
	src := st.Source
	if src == "" {
		src = "none"
	}
	h.Clock = device.ClockHealth{
		Synced:   st.Synced,
		OffsetMS: math.Round(float64(st.Offset)/float64(time.Microsecond)) / 1000,
		Source:   src,
		Stratum:  st.Stratum,
		LastSync: st.LastSync.UTC(),
		Error:    st.Error,
	}
}

// fmtOffset writes an offset with its sign and a readable precision.
func fmtOffset(d time.Duration) string {
	r := d.Abs().Round(time.Microsecond)
	if r >= time.Second {
		r = r.Round(time.Millisecond)
	}
	if d < 0 {
		return "-" + r.String()
	}
	return "+" + r.String()
}
