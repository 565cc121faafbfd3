package ui

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// securityState is the gateway's firewall health and support window
// frozen at a moment, so that the tab's goldens do not move: the values
// a gateway running with --net linux gives (TestSecurityTabWithTheRealGateway
// has the real one, whose firewall is off), at fixed times around the
// golden clock.
type securityState struct {
	fw      device.FirewallHealth
	support *device.SupportStatus // nil: no support window
}

func (s securityState) Health() device.Health { return device.Health{Firewall: s.fw} }

func (s securityState) Support() device.SupportWindow {
	if s.support == nil {
		return nil
	}
	return fixedWindow{*s.support}
}

// fixedWindow is a support window that only tells its status: the tab is
// read-only and must never open or close it.
type fixedWindow struct{ st device.SupportStatus }

var errReadOnly = errors.New("the Security tab is read-only")

func (w fixedWindow) Open(device.Actor, time.Duration) (device.SupportStatus, error) {
	return device.SupportStatus{}, errReadOnly
}
func (w fixedWindow) Close(device.Actor) error     { return errReadOnly }
func (w fixedWindow) Status() device.SupportStatus { return w.st }

func goldenSecurity(by string) securityState {
	at := func(d time.Duration) time.Time { return goldenTime.Add(d) }
	fw := device.FirewallHealth{Enabled: true, Active: true, Applied: at(-20 * time.Minute),
		Interfaces: []device.FirewallInterface{
			{Name: "eth0", Kind: "ethernet", OpenPorts: []string{"22/tcp", "47808/udp"},
				InDrops: device.DropCounter{Packets: 1204, Bytes: 90_112}, OutDrops: device.DropCounter{Packets: 3, Bytes: 180}},
			{Name: "wwan0", Kind: "cellular", OpenPorts: []string{},
				InDrops: device.DropCounter{Packets: 56_311, Bytes: 3_400_000}},
		},
		OtherDrops: device.DropCounter{Packets: 7, Bytes: 420},
		Endpoints: []device.EndpointHealth{
			{Host: "broker.example.com", Port: 8883, Proto: "tcp", Addresses: []string{"192.0.2.10", "2001:db8::10"}, Expires: at(4*time.Minute + 12*time.Second)},
			{Host: "time.example.com", Port: 123, Proto: "udp", Addresses: []string{},
				Error: "lookup time.example.com: no such host (retried every 30s)"},
		},
	}
	return securityState{fw: fw, support: &device.SupportStatus{Open: true, Until: at(2 * time.Hour), By: by, Since: at(-5 * time.Minute),
		State: "CONNECTED", LocalIP: "10.8.0.6", Remote: "203.0.113.5:1194", BytesIn: 48_213, BytesOut: 1_210_554}}
}

// securityApp is a console session of p whose Security tab reads src (and
// whose LoRa tab, with lora set, reads it: an administrator then has ten
// tabs).
func (f *screenFixture) securityApp(t *testing.T, p access.Principal, theme string, w, h int, src SecuritySource, lora LoRaSource) *App {
	t.Helper()
	p.Account.Theme = theme
	s := &common.Session{Ctx: t.Context(), Principal: p, Rules: f.acc, Clock: f.clock, GatewayID: f.gw.ID(), Version: "test"}
	a := New(s, Deps{Gateway: f.gw, Accounts: f.acc, Security: src, LoRa: func() (LoRaSource, bool) { return lora, lora != nil }}, w, h)
	t.Cleanup(a.Close)
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return a
}

// tabOf returns the key of a's tab called title.
func tabOf(t *testing.T, a *App, title string) string {
	t.Helper()
	for i, s := range a.screens {
		if s.Title() == title {
			return tabKey(i)
		}
	}
	t.Fatalf("no %s tab", title)
	return ""
}

// securityTick delivers a tick to a and waits for the Security tab's
// reading.
func securityTick(t *testing.T, a *App) {
	t.Helper()
	_, cmd := a.Update(common.TickMsg(a.s.Now()))
	awaitMsg(t, a, cmd, func(m tea.Msg) bool { _, ok := m.(securitySnapshotMsg); return ok })
}

func TestSecurityScreens(t *testing.T) {
	f := newScreenFixture(t)
	admin := access.Principal{Account: f.admin}
	support, _ := f.acc.AccountByName("sam")
	closed := goldenSecurity("")
	closed.support = &device.SupportStatus{State: "stopped"}
	pending := goldenSecurity(f.admin.ID)
	pending.fw = device.FirewallHealth{Enabled: true, Error: "replace table inet sitegate: netlink: operation not permitted"}
	pending.support = nil
	screens := []struct {
		name string
		p    access.Principal
		src  securityState
		lora LoRaSource
		keys []string
	}{
		{"security", admin, goldenSecurity(f.admin.ID), nil, nil},
		{"security-closed", access.Principal{Account: support}, closed, nil, nil},
		{"security-not-applied", admin, pending, nil, nil},
	}
	for _, sc := range screens {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			for _, theme := range []string{themes.Dark, themes.HighContrast} {
				name := fmt.Sprintf("%s-%dx%d-%s", sc.name, size[0], size[1], theme)
				t.Run(name, func(t *testing.T) {
					a := f.securityApp(t, sc.p, theme, size[0], size[1], sc.src, sc.lora)
					securityTick(t, a)
					press(a, tabOf(t, a, "Security"))
					press(a, sc.keys...)
					got := f.mask(a.View().Content)
					fits(t, got, size[0], size[1])
					checkGolden(t, name, got)
				})
			}
		}
	}
	// With the network subsystem and LoRa an administrator has ten tabs:
	// they fit, the tenth is 0, and the full help says so.
	ten := newScreenFixture(t)
	site, rev := ten.gw.Site()
	site.Cellular.Rotate = device.RotateOff // the demo's weekly rotation needs a second SIM tuitest.Network does not give
	if _, err := ten.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	tuitest.Network(t, ten.gw)
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		name := fmt.Sprintf("security-ten-tabs-help-%dx%d-%s", size[0], size[1], themes.Dark)
		t.Run(name, func(t *testing.T) {
			a := ten.securityApp(t, access.Principal{Account: ten.admin}, themes.Dark, size[0], size[1], goldenSecurity(ten.admin.ID), goldenLoRa())
			securityTick(t, a)
			press(a, tabOf(t, a, "Security"), "?")
			got := ten.mask(a.View().Content)
			fits(t, got, size[0], size[1])
			if v := stripANSI(got); !strings.Contains(v, "0 Profile") || !strings.Contains(v, "8 Security") {
				t.Errorf("ten tabs: no 0 Profile or 8 Security:\n%s", v)
			}
			checkGolden(t, name, got)
		})
	}
}

// The tab shows every part of the snapshot: who opened the window by
// name, the failing name's error, both directions' counters.
func TestSecurityTabContent(t *testing.T) {
	f := newScreenFixture(t)
	a := f.securityApp(t, access.Principal{Account: f.admin}, themes.Dark, 120, 40, goldenSecurity(f.admin.ID), nil)
	securityTick(t, a)
	press(a, tabOf(t, a, "Security"))
	view := stripANSI(a.View().Content)
	for _, want := range []string{"Firewall  on · table inet sitegate applied 2026-11-27 09:10 UTC (20m0s ago)",
		"eth0", "22/tcp, 47808/udp", "1204 pkts / 88.0 KiB", "3 pkts / 180 B", "wwan0", "cellular", "56311 pkts / 3.2 MiB", "(other)", "7 pkts / 420 B",
		"Endpoints  2, 1 not resolved", "broker.example.com  8883  tcp", "in 4m12s", "192.0.2.10, 2001:db8::10",
		"time.example.com", "↳ lookup time.example.com: no such host",
		"Support window  open until 2026-11-27 11:30 UTC (in 2h0m)", "opened   by ada, 2026-11-27 09:25 UTC (5m0s ago)",
		"CONNECTED · 10.8.0.6, server 203.0.113.5:1194", "47.1 KiB in · 1.2 MiB out"} {
		if !strings.Contains(view, want) {
			t.Errorf("the Security tab lacks %q:\n%s", want, view)
		}
	}
}

// The tab is there for every role with the health permission; viewers
// have none.
func TestSecurityTabRoles(t *testing.T) {
	f := newScreenFixture(t)
	has := func(a *App) bool {
		for _, s := range a.screens {
			if s.Title() == "Security" {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"ada", "ivan", "sam", "vic"} {
		acct, _ := f.acc.AccountByName(name)
		want := access.Can(acct.Role, access.PermHealth)
		if got := has(f.app(t, access.Principal{Account: acct}, themes.Dark, 80, 24)); got != want {
			t.Errorf("%s (%s): Security tab %v, want %v", name, acct.Role, got, want)
		}
	}
}

// gatedSecurity counts the calls to a security source and holds them
// until it is opened: Update must never wait for the gateway.
type gatedSecurity struct {
	src  SecuritySource
	open chan struct{}

	mu    sync.Mutex
	calls int
}

func (g *gatedSecurity) enter() {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	<-g.open
}

func (g *gatedSecurity) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

func (g *gatedSecurity) Health() device.Health         { g.enter(); return g.src.Health() }
func (g *gatedSecurity) Support() device.SupportWindow { g.enter(); return g.src.Support() }

// The tab on a real gateway (bbolt in a temporary directory) as the SSH
// door builds it: the firewall is off and no support window is set up, and
// the tab says how to turn them on. Update hands the reading to a
// command: with the gateway held, ticks and site changes are answered at
// once and no second reading starts while one is under way.
func TestSecurityTabWithTheRealGateway(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 80, 24)
	securityTick(t, a)
	press(a, tabOf(t, a, "Security"))
	view := stripANSI(a.View().Content)
	for _, want := range []string{"Firewall  off", "set firewall.enabled: true", "as root with sitegate run --net linux",
		"Endpoints  none", "The gateway may contact any destination", "Support window  not set up", "no support/client.ovpn"} {
		if !strings.Contains(view, want) {
			t.Errorf("the Security tab lacks %q:\n%s", want, view)
		}
	}
	fits(t, a.View().Content, 80, 24)

	gate := &gatedSecurity{src: f.gw, open: make(chan struct{})}
	s := &common.Session{Ctx: t.Context(), Principal: access.Principal{Account: f.admin}, Rules: f.acc, Clock: f.clock,
		Styles: themes.Get(themes.Dark), Keys: common.DefaultKeyMap()}
	sc := newSecurityScreen(s, gate, f.acc)
	sc.SetSize(80, 20)
	_, cmd := sc.Update(common.TickMsg(f.clock.Now()))
	if cmd == nil || gate.count() != 0 {
		t.Fatalf("a tick: command %v, %d calls to the gateway in Update", cmd != nil, gate.count())
	}
	got := make(chan tea.Msg, 1)
	go func() { got <- cmd() }()
	for _, msg := range []tea.Msg{common.TickMsg(f.clock.Now()), common.EventMsg{Event: device.Event{Kind: device.EventSite}}} {
		if _, again := sc.Update(msg); again != nil {
			t.Fatalf("%T started a second reading while one is under way", msg)
		}
	}
	close(gate.open)
	select {
	case m := <-got:
		sc.Update(m)
	case <-time.After(tuitest.Wait):
		t.Fatal("the reading never came")
	}
	if v := stripANSI(sc.View()); !strings.Contains(v, "Firewall  off") {
		t.Fatalf("after the reading:\n%s", v)
	}
	// A site change reads again (the firewall and endpoints come from
	// the site); readings of a device do not.
	if _, cmd := sc.Update(common.EventMsg{Event: device.Event{Kind: device.EventReadings, Device: "ahu-1"}}); cmd != nil {
		t.Error("a device's readings read the firewall")
	}
	if _, cmd := sc.Update(common.EventMsg{Event: device.Event{Kind: device.EventSite}}); cmd == nil {
		t.Error("a site change did not refresh the tab")
	}
}

// The allow-list may hold 64 endpoints: at 80×24 the tab keeps to the
// screen and ↑/↓ scroll it to the support window at the end.
func TestSecurityTabScrolls(t *testing.T) {
	f := newScreenFixture(t)
	src := goldenSecurity(f.admin.ID)
	base := src.fw.Endpoints[0]
	src.fw.Endpoints = nil
	for i := range 64 {
		ep := base
		ep.Host = fmt.Sprintf("host-%02d.example.com", i)
		src.fw.Endpoints = append(src.fw.Endpoints, ep)
	}
	a := f.securityApp(t, access.Principal{Account: f.admin}, themes.Dark, 80, 24, src, nil)
	securityTick(t, a)
	press(a, tabOf(t, a, "Security"))
	fits(t, a.View().Content, 80, 24)
	if v := stripANSI(a.View().Content); strings.Contains(v, "Support window") || !strings.Contains(v, "↑/k up") {
		t.Fatalf("a tab taller than the screen, before scrolling:\n%s", v)
	}
	for range 80 {
		press(a, "down")
	}
	v := stripANSI(a.View().Content)
	if !strings.Contains(v, "host-63.example.com") || !strings.Contains(v, "Support window") {
		t.Fatalf("scrolled to the end:\n%s", v)
	}
	fits(t, a.View().Content, 80, 24)
}
