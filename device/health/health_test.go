package health_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/health"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	st    *store.Store
	gw    *device.Gateway
	clock *clockwork.Fake
}

func newFixture(t *testing.T, o store.Options) *fixture {
	t.Helper()
	c := clockwork.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	o.Now = c.Now
	st := storetest.New(t, o)
	gw, err := device.NewGateway(st, device.GatewayOptions{Now: c.Now, GatewayID: "gw-health"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, gw: gw, clock: c}
}

func (f *fixture) monitor(t *testing.T, o health.Options) *health.Monitor {
	t.Helper()
	o.Clock, o.Logger = f.clock, quiet
	m, err := health.New(f.gw, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func raised(m *health.Monitor, rule string) bool {
	for _, a := range m.Alerts() {
		if a.Rule == rule {
			return true
		}
	}
	return false
}

// alertStream returns the alerts records queued for the cloud.
func alertStream(t *testing.T, st *store.Store) []string {
	t.Helper()
	recs, err := st.Peek(0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Stream == "alerts" {
			var m struct{ Rule, State string }
			_ = json.Unmarshal(r.Payload, &m)
			out = append(out, m.Rule+":"+m.State)
		}
	}
	return out
}

func TestFrequentReboots(t *testing.T) {
	f := newFixture(t, store.Options{})
	var m *health.Monitor
	for i := 0; i < 4; i++ {
		m = f.monitor(t, health.Options{})
		f.clock.Advance(10 * time.Minute)
	}
	m.Evaluate()
	if !raised(m, health.RuleRebootsFrequent) {
		t.Fatalf("4 starts in 40 minutes: %+v", m.Alerts())
	}
	h := f.gw.Health()
	if h.System.StartsLastHour != 4 || h.System.Starts != 4 {
		t.Fatalf("system health %+v", h.System)
	}
	f.clock.Advance(time.Hour)
	m.Evaluate()
	if raised(m, health.RuleRebootsFrequent) {
		t.Fatal("still raised an hour later")
	}
	if got := strings.Join(alertStream(t, f.st), " "); got != "reboots.frequent:raised reboots.frequent:cleared" {
		t.Fatalf("alerts stream %q", got)
	}
}

func TestClockFirmwareAndCapacityRules(t *testing.T) {
	f := newFixture(t, store.Options{OutboxCapacity: 10, AuditCapacity: 5})
	unsynced := time.Duration(0)
	failed := false
	m := f.monitor(t, health.Options{
		ClockUnsyncedFor: func() time.Duration { return unsynced },
		FirmwareFailed:   func() (bool, string) { return failed, "slot b did not verify at boot" },
	})
	m.Evaluate()
	if len(m.Alerts()) != 0 {
		t.Fatalf("alerts on a healthy gateway: %+v", m.Alerts())
	}
	unsynced, failed = 61*time.Minute, true
	for i := 0; i < 5; i++ {
		_ = f.gw.Audit(device.SystemActor, "test.event", "", device.ResultOK)
	}
	for i := 0; i < 9; i++ {
		_, _ = f.st.Enqueue("telemetry", []byte(`{}`))
	}
	m.Evaluate()
	for _, rule := range []string{health.RuleClockUnsynced, health.RuleFirmwareFailed, health.RuleAuditCapacity, health.RuleOutboxHigh} {
		// (clock.unsynced is up from the first NTP round on: see
		// TestClockUnsyncedWhileUnsynchronised.)
		if !raised(m, rule) {
			t.Errorf("%s not raised: %+v", rule, m.Alerts())
		}
	}
	h := f.gw.Health()
	if len(h.Alerts) != 4 || h.Alerts[0].Since.IsZero() {
		t.Fatalf("health alerts %+v", h.Alerts)
	}
	unsynced, failed = 0, false
	m.Evaluate()
	if raised(m, health.RuleClockUnsynced) || raised(m, health.RuleFirmwareFailed) {
		t.Fatalf("not cleared: %+v", m.Alerts())
	}
}

func TestNetworkChangeAndModbusOffline(t *testing.T) {
	f := newFixture(t, store.Options{})
	m := f.monitor(t, health.Options{Every: time.Hour})
	devicetest.Run(t, m)
	f.gw.Publish(device.Event{Kind: device.EventNetwork, Detail: "active cellular -> ethernet"})
	waitFor(t, "network.changed", func() bool { return raised(m, health.RuleNetworkChanged) })
	f.clock.Advance(health.NetworkQuiet)
	m.Evaluate()
	if raised(m, health.RuleNetworkChanged) {
		t.Fatal("network.changed not cleared after a quiet period")
	}

	site := device.DefaultSite()
	site.Modbus.Buses = []device.Bus{{Name: "b", Kind: device.BusTCP, Address: "127.0.0.1:1502", Timeout: device.Duration(time.Second)}}
	site.Modbus.Devices = []device.Device{{Name: "meter", Bus: "b", UnitID: 1, Interval: device.Duration(10 * time.Second), Profile: "generic-energy-meter"}}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: f.gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	since := f.clock.Now()
	_ = f.gw.FieldSink().Record(field.Status{Device: "meter", Bus: "b", State: field.StateOffline, Since: since}, nil)
	f.clock.Advance(4 * time.Minute)
	m.Evaluate()
	if raised(m, health.RuleFieldOffline) {
		t.Fatal("raised before five minutes")
	}
	f.clock.Advance(2 * time.Minute)
	m.Evaluate()
	if !raised(m, health.RuleFieldOffline) {
		t.Fatalf("meter offline for 6 minutes: %+v", m.Alerts())
	}
	// A change of the network configuration in the site counts too.
	site, _ = f.gw.Site()
	site.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkCellular, device.LinkWiFi}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: f.gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "network.changed from a site change", func() bool { return raised(m, health.RuleNetworkChanged) })
}

func TestDataLimit(t *testing.T) {
	f := newFixture(t, store.Options{})
	usage := 1000.0
	f.gw.AddHealthSource(func(h *device.Health) {
		h.WAN.Links = []device.LinkHealth{{Name: "cellular", State: "up", SIM: 1, UsageMB: usage, LimitMB: 2048}}
	})
	m := f.monitor(t, health.Options{})
	m.Evaluate()
	if raised(m, health.RuleDataLimit) {
		t.Fatal("raised at 49%")
	}
	usage = 1700
	m.Evaluate()
	if !raised(m, health.RuleDataLimit) {
		t.Fatal("not raised at 83%")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	devicetest.Eventually(t, 10*time.Second, what, cond)
}

// clock.unsynced is raised as soon as the first NTP round after a start
// has passed without a valid answer, and stays up while the clock is not
// synchronised.
func TestClockUnsyncedWhileUnsynchronised(t *testing.T) {
	f := newFixture(t, store.Options{})
	unsynced := 10 * time.Second
	m := f.monitor(t, health.Options{ClockUnsyncedFor: func() time.Duration { return unsynced }})
	m.Evaluate()
	if raised(m, health.RuleClockUnsynced) {
		t.Fatal("raised during the first NTP round")
	}
	unsynced = health.ClockUnsyncedAfter
	m.Evaluate()
	if !raised(m, health.RuleClockUnsynced) {
		t.Fatalf("not raised %s after start without synchronisation: %+v", unsynced, m.Alerts())
	}
	unsynced = 0
	m.Evaluate()
	if raised(m, health.RuleClockUnsynced) {
		t.Fatal("not cleared once synchronised")
	}
}
