package clock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store/storetest"
)

func newFakeNow() *clockwork.Fake {
	return clockwork.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// stepRecorder stands in for settimeofday.
type stepRecorder struct {
	mu    sync.Mutex
	steps []time.Time
	err   error
}

func (r *stepRecorder) set(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.steps = append(r.steps, t)
	return nil
}

func (r *stepRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.steps)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestClock returns a Clock on a fake bookkeeping clock that asks the
// given servers and steps nothing real.
func newTestClock(t *testing.T, o Options, servers ...string) (*Clock, *clockwork.Fake, *stepRecorder) {
	t.Helper()
	now := newFakeNow()
	rec := &stepRecorder{}
	if o.Servers == nil && o.Gateway == nil {
		o.Servers = func() []string { return servers }
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Clock == nil {
		o.Clock = now
	}
	o.SetTime, o.Logger = rec.set, quiet()
	return New(o), now, rec
}

func within(d, want, tol time.Duration) bool { return (d - want).Abs() <= tol }

func TestClockSyncsWithLocalServer(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c, now, rec := newTestClock(t, Options{SetClock: true}, srv.Addr)
	st := c.Sync(context.Background())
	if !st.Synced || st.Error != "" {
		t.Fatalf("not synced against a good server: %+v", st)
	}
	if st.Source != srv.Addr || st.Stratum != 2 || !within(st.Offset, 0, 100*time.Millisecond) {
		t.Errorf("status %+v", st)
	}
	if !st.LastSync.Equal(now.Now()) || len(st.Servers) != 1 || !st.Servers[0].Used {
		t.Errorf("bookkeeping: %+v", st)
	}
	if rec.count() != 0 {
		t.Error("the clock was stepped for an offset below the threshold")
	}
	if c.UnsyncedFor() != 0 {
		t.Errorf("UnsyncedFor while synced = %v", c.UnsyncedFor())
	}
	var h device.Health
	c.FillHealth(&h)
	if !h.Clock.Synced || h.Clock.Source != srv.Addr || h.Clock.Stratum != 2 || h.Clock.Error != "" || h.Clock.LastSync.IsZero() {
		t.Errorf("health %+v", h.Clock)
	}
}

func TestClockReportsOffsetWithoutSetClock(t *testing.T) {
	srv := startServer(t, serverConfig{offset: 3 * time.Second})
	c, _, rec := newTestClock(t, Options{}, srv.Addr)
	st := c.Sync(context.Background())
	if st.Synced || !within(st.Offset, 3*time.Second, 100*time.Millisecond) || st.Source != srv.Addr {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(st.Error, "off by +3") || !strings.Contains(st.Error, "--set-clock") {
		t.Errorf("error %q does not say what is wrong and what to do", st.Error)
	}
	if rec.count() != 0 {
		t.Error("the clock was set without SetClock")
	}
	var h device.Health
	c.FillHealth(&h)
	if h.Clock.Synced || h.Clock.OffsetMS < 2900 || h.Clock.OffsetMS > 3100 || !h.Clock.LastSync.IsZero() {
		t.Errorf("health %+v", h.Clock)
	}
}

func TestClockSetClockSteps(t *testing.T) {
	srv := startServer(t, serverConfig{offset: -2 * time.Second})
	var stepped []time.Duration
	c, now, rec := newTestClock(t, Options{SetClock: true, OnStep: func(by time.Duration, source string) {
		if source != srv.Addr {
			t.Errorf("step source %q", source)
		}
		stepped = append(stepped, by)
	}}, srv.Addr)
	before := now.Now()
	st := c.Sync(context.Background())
	if rec.count() != 1 || !within(rec.steps[0].Sub(before), -2*time.Second, 100*time.Millisecond) {
		t.Fatalf("steps %v, want one to about %v", rec.steps, before.Add(-2*time.Second))
	}
	if !st.Synced || st.Offset != 0 || !within(st.LastStepBy, -2*time.Second, 100*time.Millisecond) || st.LastStep.IsZero() {
		t.Errorf("after the step: %+v", st)
	}
	if len(stepped) != 1 || stepped[0] != st.LastStepBy {
		t.Errorf("OnStep saw %v, status says %v", stepped, st.LastStepBy)
	}

	// A refused step (not root) is reported, and the clock is not synced.
	rec.err = errors.New("set the system clock: operation not permitted (only root may)")
	st = c.Sync(context.Background())
	if st.Synced || !strings.Contains(st.Error, "could not be set") || !strings.Contains(st.Error, "only root") {
		t.Errorf("refused step: %+v", st)
	}
	if len(stepped) != 1 {
		t.Errorf("OnStep called for a refused step: %v", stepped)
	}
}

func TestClockSmallOffsetIsNotStepped(t *testing.T) {
	srv := startServer(t, serverConfig{offset: 40 * time.Millisecond})
	c, _, rec := newTestClock(t, Options{SetClock: true}, srv.Addr)
	st := c.Sync(context.Background())
	if !st.Synced || rec.count() != 0 || !within(st.Offset, 40*time.Millisecond, 30*time.Millisecond) {
		t.Fatalf("status %+v, steps %d", st, rec.count())
	}
}

// Two honest servers outvote a lying one; the liar is named an outlier.
func TestClockIgnoresLyingServer(t *testing.T) {
	good1 := startServer(t, serverConfig{})
	liar := startServer(t, serverConfig{offset: time.Hour})
	good2 := startServer(t, serverConfig{offset: 5 * time.Millisecond})
	c, _, rec := newTestClock(t, Options{SetClock: true}, good1.Addr, liar.Addr, good2.Addr)
	st := c.Sync(context.Background())
	if !st.Synced || st.Source == liar.Addr || !within(st.Offset, 0, 100*time.Millisecond) {
		t.Fatalf("status %+v", st)
	}
	if rec.count() != 0 {
		t.Fatalf("the liar moved the clock: %v", rec.steps)
	}
	for _, s := range st.Servers {
		switch s.Server {
		case liar.Addr:
			if s.Used || !strings.Contains(s.Error, "outlier") {
				t.Errorf("liar: %+v", s)
			}
		default:
			if !s.Used || s.Error != "" {
				t.Errorf("honest server: %+v", s)
			}
		}
	}
}

// One good and one lying server: there is no telling which lies, so
// nothing is believed and nothing is set.
func TestClockGoodAndLiarWithoutMajority(t *testing.T) {
	good := startServer(t, serverConfig{})
	liar := startServer(t, serverConfig{offset: -90 * time.Minute})
	c, _, rec := newTestClock(t, Options{SetClock: true}, good.Addr, liar.Addr)
	st := c.Sync(context.Background())
	if st.Synced || rec.count() != 0 {
		t.Fatalf("believed one of two disagreeing servers: %+v, steps %v", st, rec.steps)
	}
	if !strings.Contains(st.Error, "disagree") || !strings.Contains(st.Error, liar.Addr) || !strings.Contains(st.Error, good.Addr) {
		t.Errorf("error %q", st.Error)
	}
	if st.Source != "" {
		t.Errorf("source %q before any accepted answer", st.Source)
	}
	var h device.Health
	c.FillHealth(&h)
	if h.Clock.Source != "none" || h.Clock.Synced || h.Clock.Error == "" {
		t.Errorf("health %+v", h.Clock)
	}
}

func TestClockUnreachableServer(t *testing.T) {
	addr := closedAddr(t)
	c, _, _ := newTestClock(t, Options{Timeout: 5 * time.Second}, addr)
	start := time.Now()
	st := c.Sync(context.Background())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a closed port took %v to report", took)
	}
	if st.Synced || !strings.Contains(st.Error, addr) || !strings.Contains(st.Error, "unreachable") {
		t.Fatalf("status %+v", st)
	}
}

func TestClockSilentServerTimesOut(t *testing.T) {
	srv := startServer(t, serverConfig{silent: true})
	c, _, _ := newTestClock(t, Options{Timeout: 300 * time.Millisecond}, srv.Addr)
	start := time.Now()
	st := c.Sync(context.Background())
	took := time.Since(start)
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("round took %v with a 300ms timeout", took)
	}
	if st.Synced || !strings.Contains(st.Error, "no answer within 300ms") {
		t.Fatalf("status %+v", st)
	}
}

func TestClockRefusesUnsynchronisedServers(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  serverConfig
		want string
	}{
		{"stratum 16", serverConfig{stratum: 16}, "stratum 16"},
		{"leap 3", serverConfig{leap: 3}, "leap indicator 3"},
		{"kiss of death", serverConfig{kiss: "DENY"}, `kiss-of-death "DENY"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.cfg)
			c, _, rec := newTestClock(t, Options{SetClock: true}, srv.Addr)
			st := c.Sync(context.Background())
			if st.Synced || rec.count() != 0 || !strings.Contains(st.Error, tc.want) {
				t.Fatalf("status %+v", st)
			}
			if len(st.Servers) != 1 || st.Servers[0].Used || !strings.Contains(st.Servers[0].Error, tc.want) {
				t.Errorf("server status %+v", st.Servers)
			}
		})
	}
}

// A kiss-of-death RATE suspends the server for four periods; a good server
// next to it keeps the clock synced.
func TestClockKissOfDeathSuspendsServer(t *testing.T) {
	kisser := startServer(t, serverConfig{kiss: "RATE"})
	good := startServer(t, serverConfig{})
	c, now, _ := newTestClock(t, Options{Period: time.Minute}, kisser.Addr, good.Addr)
	st := c.Sync(context.Background())
	if !st.Synced || st.Source != good.Addr || !strings.Contains(st.Servers[0].Error, `kiss-of-death "RATE"`) {
		t.Fatalf("status %+v", st)
	}
	hits := kisser.hits.Load()
	now.Add(3 * time.Minute)
	st = c.Sync(context.Background())
	if kisser.hits.Load() != hits || !strings.Contains(st.Servers[0].Error, "suspended until") {
		t.Fatalf("a kissing server was asked again within its back-off: %+v", st.Servers[0])
	}
	now.Add(2 * time.Minute)
	kisser.set(serverConfig{})
	st = c.Sync(context.Background())
	if kisser.hits.Load() == hits || !st.Servers[0].Used {
		t.Fatalf("the server was not asked again after its back-off: %+v", st.Servers[0])
	}
}

func TestClockSyncExpiresAfterTwoPeriods(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c, now, _ := newTestClock(t, Options{Period: time.Minute}, srv.Addr)
	now.Add(10 * time.Minute)
	if got := c.UnsyncedFor(); got != 10*time.Minute {
		t.Errorf("never synced: UnsyncedFor = %v, want the time since start", got)
	}
	if st := c.Status(); st.Synced || st.Source != "" {
		t.Errorf("before any round: %+v", st)
	}
	c.Sync(context.Background())
	now.Add(2 * time.Minute)
	if st := c.Status(); !st.Synced {
		t.Fatalf("not synced two periods after an answer: %+v", st)
	}
	now.Add(time.Second)
	st := c.Status()
	if st.Synced || !strings.Contains(st.Error, "no accepted NTP answer since") {
		t.Fatalf("still synced after two periods: %+v", st)
	}
	if got := c.UnsyncedFor(); got != 2*time.Minute+time.Second {
		t.Errorf("UnsyncedFor = %v", got)
	}
	// A failed round keeps the last good answer and says why.
	srv.set(serverConfig{stratum: 16})
	st = c.Sync(context.Background())
	if st.Synced || st.Source != srv.Addr || !strings.Contains(st.Error, "stratum 16") {
		t.Errorf("after a failed round: %+v", st)
	}
}

func TestClockFollowsServerList(t *testing.T) {
	a := startServer(t, serverConfig{})
	b := startServer(t, serverConfig{})
	var mu sync.Mutex
	servers := []string{a.Addr}
	c, _, _ := newTestClock(t, Options{Servers: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return servers
	}})
	if st := c.Sync(context.Background()); st.Source != a.Addr {
		t.Fatalf("first round: %+v", st)
	}
	mu.Lock()
	servers = []string{" " + b.Addr + " ", "", b.Addr}
	mu.Unlock()
	st := c.Sync(context.Background())
	if st.Source != b.Addr || len(st.Servers) != 1 {
		t.Fatalf("after the change: %+v", st)
	}
	mu.Lock()
	servers = nil
	mu.Unlock()
	if st := c.Sync(context.Background()); !strings.Contains(st.Error, "no NTP servers are configured") {
		t.Fatalf("without servers: %+v", st)
	}
}

// goodResponse is an answer that ntp.Response.Validate accepts, for the
// tests that drive the service through an injected query function.
func goodResponse(offset time.Duration) *ntp.Response {
	now := time.Now()
	return &ntp.Response{
		ClockOffset: offset, Version: 4, Stratum: 3, Leap: ntp.LeapNoWarning,
		Time: now, ReferenceTime: now.Add(-time.Minute),
		RootDelay: time.Millisecond, RootDispersion: time.Millisecond, RootDistance: 2 * time.Millisecond,
	}
}

// The loop runs a round at start and then waits Period after a good round
// and a doubling retry after failed ones; Stop ends it.
func TestClockLoopSchedulesRounds(t *testing.T) {
	var mu sync.Mutex
	fail := false
	rounds := 0
	query := func(ctx context.Context, server string) (*ntp.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		rounds++
		if fail {
			return nil, errors.New("network down")
		}
		return goodResponse(time.Millisecond), nil
	}
	clk := newFakeNow()
	c, _, _ := newTestClock(t, Options{Query: query, Clock: clk, Period: time.Minute, RetryMin: 10 * time.Second}, "ntp.invalid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	defer stop()

	// next waits for the loop to arm its timer after round n and says how
	// long it waits.
	round := 1
	next := func() time.Duration {
		t.Helper()
		var d time.Duration
		devicetest.Eventually(t, 10*time.Second, "the loop to schedule a round", func() bool {
			mu.Lock()
			n := rounds
			mu.Unlock()
			var ok bool
			d, ok = clk.Next()
			return ok && n == round
		})
		return d
	}
	tick := func() {
		d, _ := clk.Next()
		round++
		clk.Advance(d)
	}
	if d := next(); d != time.Minute || !c.Status().Synced {
		t.Fatalf("after the first good round: wait %v, status %+v", d, c.Status())
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute} {
		tick()
		if d := next(); d != want {
			t.Fatalf("retry wait %v, want %v", d, want)
		}
	}
	if st := c.Status(); !strings.Contains(st.Error, "network down") {
		t.Errorf("status %+v", st)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	tick()
	if d := next(); d != time.Minute {
		t.Fatalf("after recovering: wait %v", d)
	}
	stop()
	mu.Lock()
	n := rounds
	mu.Unlock()
	if n != 7 {
		t.Errorf("%d rounds, want 7", n)
	}
}

// Stop does not wait for a silent server's timeout.
func TestClockStopInterruptsQuery(t *testing.T) {
	srv := startServer(t, serverConfig{silent: true})
	c, _, _ := newTestClock(t, Options{Timeout: 30 * time.Second}, srv.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	devicetest.Eventually(t, 10*time.Second, "the silent server to be asked", func() bool { return srv.hits.Load() > 0 })
	start := time.Now()
	cancel()
	<-done
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Stop took %v", took)
	}
}

// With a gateway, the servers come from the site, a site change is
// followed at once, and FillHealth is the gateway's clock section.
func TestClockFollowsGatewaySite(t *testing.T) {
	a := startServer(t, serverConfig{})
	b := startServer(t, serverConfig{stratum: 4})
	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setServers := func(servers ...string) {
		t.Helper()
		s, _ := gw.Site()
		s.Clock.NTPServers = servers
		if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: gw.Rev()}, s); err != nil {
			t.Fatal(err)
		}
	}
	setServers(a.Addr)
	// A fake clock that nobody advances: rounds come from site changes only.
	c, _, _ := newTestClock(t, Options{Gateway: gw})
	gw.AddHealthSource(c.FillHealth)
	devicetest.Run(t, c)

	waitFor := func(what string, ok func(device.ClockHealth) bool) {
		t.Helper()
		var h device.ClockHealth
		devicetest.Eventually(t, 10*time.Second, func() string { return fmt.Sprintf("%s: health clock %+v", what, h) },
			func() bool { h = gw.Health().Clock; return ok(h) })
	}
	waitFor("first server", func(h device.ClockHealth) bool { return h.Synced && h.Source == a.Addr })
	setServers(b.Addr)
	waitFor("after the site change", func(h device.ClockHealth) bool { return h.Synced && h.Source == b.Addr && h.Stratum == 4 })
}

func TestClockChoosesMedianOfMajority(t *testing.T) {
	mk := func(offsets ...time.Duration) []answer {
		var as []answer
		for i, o := range offsets {
			as = append(as, answer{server: fmt.Sprintf("s%d", i), resp: goodResponse(o)})
		}
		return as
	}
	for _, tc := range []struct {
		name    string
		offsets []time.Duration
		want    int // index of the chosen answer, -1 for none
		used    int
	}{
		{"one", []time.Duration{5 * time.Second}, 0, 1},
		{"four and a liar", []time.Duration{10 * time.Millisecond, -5 * time.Millisecond, 0, 2 * time.Hour, 3 * time.Millisecond}, 2, 4},
		{"two against two", []time.Duration{0, time.Millisecond, time.Hour, time.Hour + time.Millisecond}, -1, 0},
		{"two liars agreeing outvote one", []time.Duration{0, time.Hour, time.Hour}, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := mk(tc.offsets...)
			got, err := choose(as, time.Second)
			if got != tc.want || (err == nil) != (tc.want >= 0) {
				t.Fatalf("choose = %d, %v; want %d", got, err, tc.want)
			}
			used := 0
			for _, a := range as {
				if a.used {
					used++
				}
			}
			if used != tc.used {
				t.Errorf("%d answers used, want %d", used, tc.used)
			}
		})
	}
}
