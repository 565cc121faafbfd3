package wan

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

	"github.com/sitegate/sitegate/device/clockwork"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// harness is a manager with the sim backend on a real gateway and store,
// driven by a fake clock.
type harness struct {
	t   *testing.T
	st  *store.Store
	gw  *device.Gateway
	clk *clockwork.Fake
	sim *Sim
	m   *Manager
	sub *device.Subscription

	mu      sync.Mutex
	reports []RoundReport
	alerts  []UsageAlert
}

// testSite is a site with all three links enabled, two SIMs, interval
// 10s, down_after 3, up_after 5 and failover_after 3m.
func testSite() *device.Site {
	s := device.DefaultSite()
	s.Clock.Timezone = "Europe/Paris"
	s.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkWiFi, device.LinkCellular}
	s.WAN.Probe = device.Probe{Targets: []string{"telemetry.example.com:443"}, Interval: device.Duration(10 * time.Second), DownAfter: 3, UpAfter: 5}
	s.WiFi = device.WiFi{Enabled: true, SSID: "SiteNet", Security: device.SecurityWPA2PSK, Passphrase: "correct horse", Interface: "wlan0"}
	s.Cellular = device.Cellular{Enabled: true, Interface: "wwan0", FailoverAfter: device.Duration(3 * time.Minute), SIMs: []device.SIM{
		{Slot: 1, APN: "internet", MonthlyLimitMB: 10},
		{Slot: 2, APN: "m2m.example"},
	}}
	return s
}

func newHarness(t *testing.T, mutate func(*device.Site)) *harness {
	t.Helper()
	h := &harness{t: t, st: storetest.New(t), clk: clockwork.NewFake(t0)}
	gw, err := device.NewGateway(h.st, device.GatewayOptions{Now: h.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	s := testSite()
	if mutate != nil {
		mutate(s)
	}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import", Base: gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.sub = gw.Subscribe(1000)
	t.Cleanup(h.sub.Close)
	h.sim = NewSim(SimOptions{Clock: h.clk, ActiveRate: -1, IdleRate: -1})
	h.m = h.newManager()
	return h
}

func (h *harness) newManager() *Manager {
	h.t.Helper()
	m, err := New(h.gw, h.sim, Options{
		Clock:        h.clk,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRound:      func(r RoundReport) { h.mu.Lock(); h.reports = append(h.reports, r); h.mu.Unlock() },
		OnUsageAlert: func(a UsageAlert) { h.mu.Lock(); h.alerts = append(h.alerts, a); h.mu.Unlock() },
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// round advances the clock by the interval (except for the very first
// round) and runs one round.
func (h *harness) round() RoundReport {
	h.t.Helper()
	if h.m.Rounds() > 0 {
		h.clk.Advance(10 * time.Second)
	}
	h.m.Round(context.Background())
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reports[len(h.reports)-1]
}

func (h *harness) rounds(n int) {
	h.t.Helper()
	for range n {
		h.round()
	}
}

func (h *harness) down(name string) {
	h.t.Helper()
	if err := h.sim.SetReachable(name, false); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) up(name string) {
	h.t.Helper()
	if err := h.sim.SetReachable(name, true); err != nil {
		h.t.Fatal(err)
	}
}

// changes returns the details of the network.changed audit events.
func (h *harness) changes() []string {
	h.t.Helper()
	events, err := h.st.ListAudit(store.AuditFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Action == string(ActionNetworkChanged) {
			if e.Actor != device.SystemActor.ID || e.Target != AuditTarget || device.Result(e.Result) != device.ResultOK {
				h.t.Errorf("network change audited as %+v", e)
			}
			out = append(out, e.Detail)
		}
	}
	return out
}

// usageAlerts returns the alerts handed to OnUsageAlert since the last
// call.
func (h *harness) usageAlerts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, a := range h.alerts {
		out = append(out, a.Message())
	}
	h.alerts = nil
	return out
}

// events drains the network events published so far.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case ev := <-h.sub.C():
			if ev.Kind == device.EventNetwork {
				out = append(out, ev.Detail)
			}
		default:
			return out
		}
	}
}

func (h *harness) health() device.WANHealth {
	var hl device.Health
	h.m.FillHealth(&hl)
	return hl.WAN
}

func (h *harness) wantActive(k device.LinkKind) {
	h.t.Helper()
	if got := h.m.Active(); got != k {
		h.t.Fatalf("active %s, want %s (round %d)", activeName(got), activeName(k), h.m.Rounds())
	}
	if k != 0 && h.sim.Routed() != k {
		h.t.Fatalf("routes prefer %s, want %s", activeName(h.sim.Routed()), activeName(k))
	}
}

func TestStartPicksHighestPriorityLinkUp(t *testing.T) {
	h := newHarness(t, nil)
	if hl := h.health(); hl.Active != "offline" || len(hl.Links) != 3 || hl.Links[0].Detail != "not probed yet" {
		t.Fatalf("before the first round: %+v", hl)
	}
	h.round()
	h.wantActive(device.LinkEthernet)
	// The first selection after a start is not a network change.
	if c := h.changes(); len(c) != 0 {
		t.Fatalf("changes %q", c)
	}
	if ev := h.events(); len(ev) != 0 {
		t.Fatalf("events %q", ev)
	}
	hl := h.health()
	if hl.Active != "ethernet" {
		t.Fatalf("%+v", hl)
	}
	for i, want := range []string{"ethernet", "wifi", "cellular"} {
		if hl.Links[i].Name != want || hl.Links[i].State != "up" {
			t.Errorf("link %d: %+v", i, hl.Links[i])
		}
	}
	cell := hl.Links[2]
	if cell.SIM != 1 || cell.LimitMB != 10 || cell.Signal == nil || *cell.Signal != -83 || hl.Links[1].Signal == nil {
		t.Errorf("cellular %+v", cell)
	}
	if h.sim.SelectedSIM() != 1 {
		t.Errorf("SIM 1 was not selected on the modem")
	}
}

func TestFailoverAndFailback(t *testing.T) {
	h := newHarness(t, nil)
	h.round()
	h.events()
	h.down("ethernet")
	for i := 1; i < 3; i++ {
		r := h.round()
		h.wantActive(device.LinkEthernet)
		if r.Links[0].Failed != i || r.Links[0].State != StateUp {
			t.Fatalf("after %d failures: %+v", i, r.Links[0])
		}
	}
	h.round()
	h.wantActive(device.LinkWiFi)
	const failover = "active ethernet -> wifi: ethernet down after 3 failed probes"
	if c := h.changes(); c[len(c)-1] != failover {
		t.Fatalf("changes %q", c)
	}
	if ev := h.events(); len(ev) != 1 || ev[0] != failover {
		t.Fatalf("events %q", ev)
	}
	hl := h.health()
	if hl.Active != "wifi" || hl.Links[0].State != "down" || !strings.Contains(hl.Links[0].Detail, "3 failed probes") {
		t.Fatalf("%+v", hl)
	}

	h.up("ethernet")
	for i := 1; i < 5; i++ {
		h.round()
		h.wantActive(device.LinkWiFi)
		if d := h.health().Links[0].Detail; d != fmt.Sprintf("recovering: %d of 5 good probes", i) {
			t.Fatalf("detail %q", d)
		}
	}
	h.round()
	h.wantActive(device.LinkEthernet)
	const failback = "active wifi -> ethernet: ethernet up after 5 good probes"
	if c := h.changes(); len(c) != 2 || c[1] != failback {
		t.Fatalf("changes %q", c)
	}
	if ev := h.events(); len(ev) != 1 || ev[0] != failback {
		t.Fatalf("events %q", ev)
	}
}

// A link that fails every other probe never reaches down_after failures
// in a row while up, nor up_after successes in a row while down: the
// active link does not move.
func TestFlappingLinkDoesNotMoveTheActiveLink(t *testing.T) {
	h := newHarness(t, nil)
	h.round()
	for i := range 40 {
		if i%2 == 0 {
			h.down("ethernet")
		} else {
			h.up("ethernet")
		}
		h.round()
		h.wantActive(device.LinkEthernet)
	}
	// Fail twice, succeed once, forever: still never three in a row.
	for i := range 30 {
		if i%3 == 2 {
			h.up("ethernet")
		} else {
			h.down("ethernet")
		}
		h.round()
		h.wantActive(device.LinkEthernet)
	}
	// Down for good, then flapping with up to four successes in a row.
	h.down("ethernet")
	h.rounds(3)
	h.wantActive(device.LinkWiFi)
	for i := range 50 {
		if i%5 == 4 {
			h.down("ethernet")
		} else {
			h.up("ethernet")
		}
		h.round()
		h.wantActive(device.LinkWiFi)
	}
	if c := h.changes(); len(c) != 1 {
		t.Fatalf("the active link changed %d times: %q", len(c), c)
	}
}

func TestAllLinksDown(t *testing.T) {
	h := newHarness(t, nil)
	h.round()
	for _, n := range []string{"ethernet", "wifi", "cellular"} {
		h.down(n)
	}
	h.rounds(3)
	h.wantActive(0)
	hl := h.health()
	if hl.Active != "offline" {
		t.Fatalf("%+v", hl)
	}
	for _, l := range hl.Links {
		if l.State != "down" || !strings.Contains(l.Detail, "unreachable") {
			t.Errorf("%+v", l)
		}
	}
	c := h.changes()
	if last := c[len(c)-1]; last != "active ethernet -> offline: ethernet down after 3 failed probes" {
		t.Fatalf("changes %q", c)
	}
	// Rounds go on; the SIM rules keep trying the other SIM; nothing
	// breaks, and the first link back becomes active after up_after.
	h.rounds(30)
	h.wantActive(0)
	h.up("wifi")
	h.rounds(4)
	h.wantActive(0)
	h.round()
	h.wantActive(device.LinkWiFi)
	if c := h.changes(); c[len(c)-1] != "active offline -> wifi: wifi up after 5 good probes" {
		t.Fatalf("changes %q", c)
	}
}

func TestAllLinksDownFromTheStart(t *testing.T) {
	h := newHarness(t, nil)
	for _, n := range []string{"ethernet", "wifi", "cellular"} {
		h.down(n)
	}
	h.round()
	h.wantActive(0)
	if c := h.changes(); len(c) != 0 {
		t.Fatalf("changes %q", c)
	}
	// A link that was down from the start comes up after up_after, like
	// any other.
	h.up("cellular")
	h.rounds(4)
	h.wantActive(0)
	h.round()
	h.wantActive(device.LinkCellular)
}

func TestSIMSwitchAfterFailoverAfter(t *testing.T) {
	h := newHarness(t, func(s *device.Site) {
		s.WAN.Priority = []device.LinkKind{device.LinkCellular, device.LinkEthernet, device.LinkWiFi}
	})
	h.round()
	h.wantActive(device.LinkCellular)
	h.down("cellular.sim1")
	// 3m at 10s: the 18th failed round is the first 3m after the last good
	// probe.
	for i := 1; i < 18; i++ {
		h.round()
		if h.m.SIM() != 1 {
			t.Fatalf("switched SIM after %d rounds", i)
		}
	}
	h.wantActive(device.LinkEthernet)
	r := h.round()
	if h.m.SIM() != 2 || h.sim.SelectedSIM() != 2 {
		t.Fatalf("SIM %d (modem %d) after failover_after", h.m.SIM(), h.sim.SelectedSIM())
	}
	if len(r.Notes) != 1 || r.Notes[0] != "cellular SIM 1 -> SIM 2: no internet on SIM 1 for 3m0s" {
		t.Fatalf("notes %q", r.Notes)
	}
	if c := h.changes(); c[len(c)-1] != r.Notes[0] {
		t.Fatalf("changes %q", c)
	}
	// SIM 2 works: the cellular link comes back after up_after probes and
	// takes over again.
	h.rounds(4)
	h.wantActive(device.LinkEthernet)
	h.round()
	h.wantActive(device.LinkCellular)
	if hl := h.health(); hl.Links[0].SIM != 2 {
		t.Fatalf("%+v", hl.Links[0])
	}
	// The choice survives a restart.
	h.m.flush()
	if m := h.newManager(); m.SIM() != 2 {
		t.Fatalf("restarted on SIM %d", m.SIM())
	}
	// SIM 2 failing too: back to SIM 1 after failover_after.
	h.down("cellular.sim2")
	h.rounds(18)
	if h.m.SIM() != 1 {
		t.Fatalf("SIM %d", h.m.SIM())
	}
}

func TestSIMSettingsChangeReconnects(t *testing.T) {
	h := newHarness(t, nil)
	h.round()
	s, _ := h.gw.Site()
	s.Cellular.SIMs[0].APN = "internet.v2"
	if _, err := h.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: h.gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.round()
	h.sim.mu.Lock()
	apn := h.sim.simCfg.APN
	h.sim.mu.Unlock()
	if apn != "internet.v2" || h.sim.SelectedSIM() != 1 {
		t.Fatalf("modem has SIM %d with APN %q", h.sim.SelectedSIM(), apn)
	}
}

func TestNoSIMSwitchWithOneSIM(t *testing.T) {
	h := newHarness(t, func(s *device.Site) { s.Cellular.SIMs = s.Cellular.SIMs[:1] })
	h.round()
	h.down("cellular")
	h.rounds(40)
	if h.m.SIM() != 1 {
		t.Fatal("switched to a SIM that is not configured")
	}
}

func TestWeeklyRotation(t *testing.T) {
	h := newHarness(t, func(s *device.Site) { s.Cellular.Rotate = device.RotateWeekly })
	h.round()
	day := func(n int) {
		for range n {
			h.clk.Advance(24 * time.Hour)
			h.m.Round(context.Background())
		}
	}
	day(6)
	if h.m.SIM() != 1 {
		t.Fatal("rotated before a week")
	}
	// Restart mid-week: the rotation time was stored.
	h.m.flush()
	h.m = h.newManager()
	h.m.Round(context.Background())
	h.clk.Advance(23 * time.Hour)
	h.m.Round(context.Background())
	if h.m.SIM() != 1 {
		t.Fatal("rotated before a week")
	}
	h.clk.Advance(time.Hour)
	h.m.Round(context.Background())
	if h.m.SIM() != 2 || h.sim.SelectedSIM() != 2 {
		t.Fatalf("no rotation after a week: SIM %d", h.m.SIM())
	}
	if c := h.changes(); c[len(c)-1] != "cellular SIM 1 -> SIM 2: weekly rotation" {
		t.Fatalf("changes %q", c)
	}
	day(7)
	if h.m.SIM() != 1 {
		t.Fatalf("no rotation back after another week: SIM %d", h.m.SIM())
	}
}

func TestWeeklyRotationSkipsUnusableSIM(t *testing.T) {
	h := newHarness(t, func(s *device.Site) {
		s.Cellular.Rotate = device.RotateWeekly
		s.WAN.Priority = []device.LinkKind{device.LinkCellular, device.LinkEthernet, device.LinkWiFi}
	})
	h.round()
	// SIM 1 loses internet: failover to SIM 2 marks SIM 1 as failed.
	h.down("cellular.sim1")
	h.rounds(18)
	if h.m.SIM() != 2 {
		t.Fatal("no failover")
	}
	h.up("cellular.sim1")
	h.rounds(5)
	// A week later SIM 2 is used up: no rotation to it once we are on SIM 1.
	h.clk.Advance(Week)
	h.m.Round(context.Background())
	if h.m.SIM() != 1 {
		t.Fatalf("no rotation to SIM 1 a week after it failed: SIM %d", h.m.SIM())
	}
	if u := h.m.Usage(); len(u) != 2 || !u[0].Active || !u[1].Usable {
		t.Fatalf("usage %+v", u)
	}
	// SIM 1 has a 10 MB limit: used up, the rotation back to it is skipped.
	h.clk.Advance(Week)
	h.m.Round(context.Background()) // SIM 1 -> SIM 2 (SIM 1 was fine)
	if h.m.SIM() != 2 {
		t.Fatalf("SIM %d", h.m.SIM())
	}
	h.m.mu.Lock()
	h.m.persisted.Usage[1].Bytes = 11 * BytesPerMB
	h.m.mu.Unlock()
	h.clk.Advance(Week)
	h.m.Round(context.Background())
	if h.m.SIM() != 2 {
		t.Fatal("rotated to a SIM over its monthly limit")
	}
}

func TestUsageAlertsAndMonthRollover(t *testing.T) {
	h := newHarness(t, nil)
	h.round()
	h.sim.AddTraffic(7 * BytesPerMB)
	h.round()
	if a := h.m.UsageAlerts(); len(a) != 0 {
		t.Fatalf("alerts at 70%%: %+v", a)
	}
	if u := h.m.Usage(); u[0].UsedMB != 7 || !u[0].Active || u[0].Month != "2026-11" {
		t.Fatalf("usage %+v", u)
	}
	h.events()
	h.sim.AddTraffic(1536 * 1024) // 8.5 MB
	r := h.round()
	a := h.m.UsageAlerts()
	if len(a) != 1 || a[0].Slot != 1 || a[0].Level != UsageWarn || a[0].Severity() != "warning" || !a[0].Since.Equal(r.Time) {
		t.Fatalf("alerts at 85%%: %+v", a)
	}
	if al := h.usageAlerts(); len(al) != 1 || al[0] != "SIM 1 has used 8.5 of its 10 MB this month (85%)" {
		t.Fatalf("usage alerts %q", al)
	}
	if ev := h.events(); len(ev) != 0 {
		t.Fatalf("a usage alert was published as a network event: %q", ev)
	}
	h.round()
	if al := h.usageAlerts(); len(al) != 0 {
		t.Fatalf("the alert was raised again: %q", al)
	}
	// A modem reset: the counters restart from a lower value.
	h.sim.SetCounters(Counters{RxBytes: 2 * BytesPerMB})
	h.round()
	a = h.m.UsageAlerts()
	if len(a) != 1 || a[0].Level != UsageExceeded || a[0].Alert().Severity != "critical" || a[0].Alert().Rule != "data.limit" {
		t.Fatalf("alerts at 105%%: %+v", a)
	}
	if hl := h.health(); hl.Links[2].UsageMB != 10.5 || hl.Links[2].LimitMB != 10 {
		t.Fatalf("%+v", hl.Links[2])
	}
	if c := h.changes(); len(c) != 0 {
		t.Errorf("usage alerts were audited as network changes: %q", c)
	}
	if al := h.usageAlerts(); len(al) != 1 || al[0] != "SIM 1 has used 10.5 of its 10 MB this month (105%)" {
		t.Fatalf("usage alerts %q", al)
	}
	// Stored: a restart keeps the month's usage and does not alert again.
	h.m.flush()
	h.m = h.newManager()
	h.round()
	if a := h.m.UsageAlerts(); len(a) != 1 || a[0].UsedMB != 10.5 {
		t.Fatalf("after restart: %+v", a)
	}
	if al := h.usageAlerts(); len(al) != 0 {
		t.Fatalf("alerts raised again after a restart: %q", al)
	}
	// The month ends at midnight in the site's time zone (Paris, UTC+1).
	paris, _ := time.LoadLocation("Europe/Paris")
	h.clk.Set(time.Date(2026, 11, 30, 23, 59, 0, 0, paris))
	h.m.Round(context.Background())
	if len(h.m.UsageAlerts()) != 1 {
		t.Fatal("alerts cleared before the month ended")
	}
	h.clk.Set(time.Date(2026, 12, 1, 0, 0, 30, 0, paris))
	h.m.Round(context.Background())
	if a := h.m.UsageAlerts(); len(a) != 0 {
		t.Fatalf("alerts in a new month: %+v", a)
	}
	if u := h.m.Usage(); u[0].UsedMB != 0 || u[0].Month != "2026-12" {
		t.Fatalf("usage %+v", u)
	}
	h.sim.AddTraffic(9 * BytesPerMB)
	h.m.Round(context.Background())
	if a := h.m.UsageAlerts(); len(a) != 1 || a[0].Level != UsageWarn || a[0].Month != "2026-12" {
		t.Fatalf("alerts in December: %+v", a)
	}
	if al := h.usageAlerts(); len(al) != 1 {
		t.Fatalf("December's alert: %q", al)
	}
}

func TestUsageGoesToTheSIMThatCarriedIt(t *testing.T) {
	h := newHarness(t, func(s *device.Site) {
		s.WAN.Priority = []device.LinkKind{device.LinkCellular, device.LinkEthernet, device.LinkWiFi}
	})
	h.round()
	h.sim.AddTraffic(3 * BytesPerMB)
	h.down("cellular.sim1")
	h.rounds(17)
	h.sim.AddTraffic(1 * BytesPerMB)
	h.round() // counted, then switched
	if h.m.SIM() != 2 {
		t.Fatal("no switch")
	}
	h.sim.AddTraffic(2 * BytesPerMB)
	h.round()
	u := h.m.Usage()
	if u[0].UsedMB != 4 || u[1].UsedMB != 2 {
		t.Fatalf("usage %+v", u)
	}
}

func TestCounterDelta(t *testing.T) {
	for _, c := range []struct{ prev, cur, want uint64 }{
		{100, 150, 50},
		{1<<32 - 100, 50, 150},            // a 32-bit counter wrapped
		{1 << 40, 500, 500},               // a 64-bit counter restarted
		{5000, 20, 20},                    // restarted, small
		{1<<32 - 1<<20, 1 << 31, 1 << 31}, // too far for a wrap: a restart
	} {
		if got := counterDelta(c.prev, c.cur); got != c.want {
			t.Errorf("counterDelta(%d, %d) = %d, want %d", c.prev, c.cur, got, c.want)
		}
	}
}

func TestDisabledLinksAndSiteChanges(t *testing.T) {
	h := newHarness(t, func(s *device.Site) {
		s.WiFi.Enabled = false
		s.WAN.Priority = []device.LinkKind{device.LinkCellular, device.LinkEthernet}
	})
	h.round()
	h.wantActive(device.LinkCellular)
	hl := h.health()
	want := map[string]string{"cellular": "up", "ethernet": "up", "wifi": "disabled"}
	for _, l := range hl.Links {
		if l.State != want[l.Name] {
			t.Errorf("%+v", l)
		}
	}
	if hl.Links[2].Name != "wifi" || hl.Links[2].Detail != "not enabled in the site" || hl.Links[2].Signal != nil {
		t.Errorf("%+v", hl.Links[2])
	}
	// The installer reorders the priority: the next round follows it.
	s, _ := h.gw.Site()
	s.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkCellular}
	if _, err := h.gw.ApplySite(device.Edit{Actor: device.Actor{ID: "u-1", Role: "installer"}, Action: "config.change", Base: h.gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.round()
	h.wantActive(device.LinkEthernet)
	if c := h.changes(); c[len(c)-1] != "active cellular -> ethernet: priority changed" {
		t.Fatalf("changes %q", c)
	}
	// Dropping the active link from the priority disables it.
	s.WAN.Priority = []device.LinkKind{device.LinkCellular}
	if _, err := h.gw.ApplySite(device.Edit{Actor: device.Actor{ID: "u-1", Role: "installer"}, Action: "config.change", Base: h.gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.round()
	h.wantActive(device.LinkCellular)
	if c := h.changes(); c[len(c)-1] != "active ethernet -> cellular: ethernet disabled: not in wan.priority" {
		t.Fatalf("changes %q", c)
	}
	// Disabling cellular too leaves the gateway offline, and routes still
	// list every link.
	s.Cellular.Enabled = false
	if _, err := h.gw.ApplySite(device.Edit{Actor: device.Actor{ID: "u-1", Role: "installer"}, Action: "config.change", Base: h.gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.round()
	h.wantActive(0)
	if got := h.health(); got.Active != "offline" || got.Links[0].State != "disabled" {
		t.Fatalf("%+v", got)
	}
	// Re-enabled, a link starts afresh: its first probe decides.
	s.Cellular.Enabled = true
	s.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkCellular}
	if _, err := h.gw.ApplySite(device.Edit{Actor: device.Actor{ID: "u-1", Role: "installer"}, Action: "config.change", Base: h.gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.round()
	h.wantActive(device.LinkEthernet)
	if h.sim.configured < 2 {
		t.Errorf("the backend was configured %d times", h.sim.configured)
	}
}

func TestRunFollowsTheClockAndIntervalChanges(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.m.Run(ctx) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	defer stop()
	waitFor(t, "first round and ticker", func() bool { return h.m.Rounds() == 1 && h.clk.Waiters() == 1 })
	h.down("ethernet")
	for i := 2; i <= 4; i++ {
		h.clk.Advance(10 * time.Second)
		waitFor(t, fmt.Sprintf("round %d", i), func() bool { return h.m.Rounds() == uint64(i) })
	}
	h.wantActive(device.LinkWiFi)
	// A longer interval: a tick of the old one runs no round once the
	// ticker is reset.
	s, _ := h.gw.Site()
	s.WAN.Probe.Interval = device.Duration(time.Minute)
	if _, err := h.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: h.gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	h.m.Reconfigure()
	waitFor(t, "kicked round", func() bool { return h.m.Rounds() == 5 })
	fired := h.clk.Fired()
	h.clk.Advance(30 * time.Second)
	h.clk.Advance(29 * time.Second)
	if h.clk.Fired() != fired {
		t.Fatal("the old interval still ticks")
	}
	h.clk.Advance(time.Second)
	waitFor(t, "round at the new interval", func() bool { return h.m.Rounds() == 6 })
	stop()
	if h.clk.Waiters() != 0 {
		t.Error("ticker left running")
	}
	raw, err := h.st.Meta(metaKey)
	if err != nil || len(raw) == 0 {
		t.Fatalf("state not stored on Stop: %q %v", raw, err)
	}
}

func TestUnreadableStoredStateStartsAfresh(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.st.PutMeta(metaKey, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	m := h.newManager()
	m.Round(context.Background())
	if m.SIM() != 1 || m.Active() != device.LinkEthernet {
		t.Fatalf("SIM %d active %v", m.SIM(), m.Active())
	}
}

func TestSimSetReachableNames(t *testing.T) {
	s := NewSim(SimOptions{})
	for _, n := range LinkNames() {
		if err := s.SetReachable(n, false); err != nil {
			t.Fatal(err)
		}
		if s.Reachable(n) {
			t.Fatal(n)
		}
	}
	if err := s.SetReachable("cellular.sim3", false); err == nil || !strings.Contains(err.Error(), "cellular.sim2") {
		t.Fatalf("unknown name: %v", err)
	}
	err := s.Probe(context.Background(), Link{Kind: device.LinkEthernet}, nil)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatal(err)
	}
}

func TestSimCountersGrowWithTheClock(t *testing.T) {
	clk := clockwork.NewFake(t0)
	s := NewSim(SimOptions{Clock: clk})
	cell := Link{Kind: device.LinkCellular, SIM: 1}
	c0, _ := s.Counters(context.Background(), cell)
	clk.Advance(10 * time.Second)
	c1, _ := s.Counters(context.Background(), cell)
	if got := c1.RxBytes + c1.TxBytes - c0.RxBytes - c0.TxBytes; got != 1000 {
		t.Fatalf("idle growth %d", got)
	}
	_ = s.Route(context.Background(), []Link{cell})
	clk.Advance(10 * time.Second)
	c2, _ := s.Counters(context.Background(), cell)
	if got := c2.RxBytes + c2.TxBytes - c1.RxBytes - c1.TxBytes; got != 40000 {
		t.Fatalf("active growth %d", got)
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	devicetest.Eventually(t, 5*time.Second, what, cond)
}

func TestNewBackend(t *testing.T) {
	b, err := NewBackend("", nil, nil)
	if err != nil || b.Name() != "sim" {
		t.Fatal(b, err)
	}
	if _, err := NewBackend("bogus", nil, nil); err == nil || !strings.Contains(err.Error(), "sim, linux") {
		t.Fatal(err)
	}
}
