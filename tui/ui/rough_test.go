package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// ? shows every key of the screen, the eight tabs and the global keys,
// even at 80×24 (the Network tab used to lose l and X, and tabs 6-8).
func TestFullHelpShowsEveryKey(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.Network(t, f.gw)
	admin := f.user(t, "ada", device.RoleAdmin)
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		a := newTestApp(t, f.gw, f.acc, clockwork.System, access.Principal{Account: admin}, size[0], size[1])
		press(a, "6", "?")
		got := screenText(a)
		for _, want := range []string{"U raise priority", "D lower priority", "p probes", "w Wi-Fi", "c cellular", "l LoRa", "X disable a radio for good",
			"1 Dashboard", "6 Network", "7 Security", "8 Users", "9 Profile", "shift+tab previous", "? help", "q quit"} {
			if !strings.Contains(got, want) {
				t.Errorf("%dx%d: full help lacks %q:\n%s", size[0], size[1], want, got)
			}
		}
		if lines := strings.Count(got, "\n") + 1; lines != size[1] {
			t.Errorf("%dx%d: the screen has %d lines", size[0], size[1], lines)
		}
	}
}

// A form's help bar shows the form's keys, not ? and q (typed into it).
func TestFormHelpBarShowsFormKeys(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 120, 40)
	press(a, "3", "e")
	got := screenText(a)
	last := got[strings.LastIndex(strings.TrimRight(got, "\n "), "\n")+1:]
	if !strings.Contains(last, "tab/↓ next field") || !strings.Contains(last, "ctrl+s save") || !strings.Contains(last, "esc cancel") || strings.Contains(last, "? help") || strings.Contains(last, "q quit") {
		t.Fatalf("form help bar: %q", last)
	}
	typeText(a, "?q")
	if got := screenText(a); !strings.Contains(got, "?q") {
		t.Fatalf("? and q should be typed into the field:\n%s", got)
	}
}

// While the terminal is too small, keys do nothing but quit.
func TestTooSmallIgnoresKeys(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 60, 20)
	if !strings.Contains(screenText(a), "needs a terminal of at least 80×24") {
		t.Fatal(screenText(a))
	}
	press(a, "3", "e", "tab")
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	if got := screenText(a); !strings.Contains(got, "Recent audit events") || strings.Contains(got, "Edit site") {
		t.Fatalf("keys pressed while too small acted:\n%s", got)
	}
	a.Update(tea.WindowSizeMsg{Width: 60, Height: 20})
	_, cmd := a.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil || cmd() != tea.Quit() {
		t.Fatal("q does not quit while too small")
	}
}

// When the gateway stops, the console quits saying why (the door leaves
// the alternate screen first: tui/sshd's lifecycle test).
func TestEndMsgQuitsWithTheReason(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	_, cmd := a.Update(EndMsg{Reason: "the gateway is stopping"})
	if cmd == nil || cmd() != tea.Quit() || a.QuitText() != "Session ended: the gateway is stopping" {
		t.Fatalf("end: %q", a.QuitText())
	}
}

// The logs filter matches the words people type.
func TestLogsFilterWords(t *testing.T) {
	for _, c := range []struct {
		line, filter string
		want         bool
	}{
		{"12 01-02 09:00:00 ada admin uplink.cut site ok", "sync", true},
		{"12 01-02 09:00:00 ada admin uplink.cut site ok", "cloud", true},
		{"13 01-02 09:00:00 bob installer account.locked u-1 ok", "login", true},
		{"13 01-02 09:00:00 bob installer account.locked u-1 ok", "bob login", true},
		{"13 01-02 09:00:00 bob installer account.locked u-1 ok", "ada login", false},
		{"14 01-02 09:00:00 ivy installer config.change site@3 ok", "changes", true},
		{"14 01-02 09:00:00 ivy installer config.change site@3 ok", "firmware", false},
		{"15 01-02 09:00:00 ivy installer field.write m.x failed", "errors", true},
		{"15 01-02 09:00:00 ivy installer field.write m.x failed", "ivy", true},
	} {
		if got := matchesFilter(c.line, c.filter); got != c.want {
			t.Errorf("%q ~ %q = %v", c.line, c.filter, got)
		}
	}
	f := newScreenFixture(t)
	if err := f.gw.Audit(f.admin.Actor(), device.ActionUplinkCut, "uplink", device.ResultOK); err != nil {
		t.Fatal(err)
	}
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 120, 40)
	press(a, "2", "/")
	typeText(a, "sync")
	press(a, "enter")
	if got := screenText(a); !strings.Contains(got, "uplink.cut") || strings.Contains(got, "user.create") {
		t.Fatalf("sync should find uplink.cut only:\n%s", got)
	}
}

// The dashboard shows each alert's own time, the WAN links and the field
// devices with their success rate.
func TestDashboardUsesItsSpace(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.Network(t, f.gw)
	tuitest.FieldDevice(t, f.gw)
	a := f.app(t, f.user(t, "ada", device.RoleAdmin))
	got := screenText(a)
	for _, want := range []string{"WAN  active: ethernet", "▶ ethernet", "Devices", "ahu-1", "online", "100.0%", "rate"} {
		if !strings.Contains(got, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, got)
		}
	}
	d := newDashboard(&common.Session{Ctx: t.Context(), Rules: f.acc, Clock: clockwork.System, Styles: themes.Get(themes.Dark), Keys: common.DefaultKeyMap()}, f.gw)
	d.SetSize(120, 40)
	now := time.Now()
	d.health.Alerts = []device.Alert{
		{Rule: "clock.unsynced", Severity: "warning", Since: now.Add(-2 * time.Hour)},
		{Rule: "field.offline", Severity: "warning", Since: now.Add(-5 * time.Minute), Detail: "offline: x"},
	}
	view := stripANSI(d.View())
	for _, a := range d.health.Alerts {
		if want := d.when(a.Since); !strings.Contains(view, a.Rule+" ") || !strings.Contains(view, "since "+want) {
			t.Errorf("alert %s without its own time %s:\n%s", a.Rule, want, view)
		}
	}
}

// A probation that runs out rolls back and the console says so, with the
// reason, whichever tab is shown.
func TestProbationRollbackIsShown(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.Network(t, f.gw)
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "6", "D")
	if !f.gw.Probation().Active {
		t.Fatal("no probation")
	}
	press(a, "1") // the dashboard
	if err := f.gw.RollbackProbation(device.SystemActor); err != nil {
		t.Fatal(err)
	}
	_, cmd := a.Update(common.TickMsg(time.Now()))
	drain(a, cmd)
	if got := screenText(a); !strings.Contains(got, "Rolled back by hand (n): WAN priority") {
		t.Fatalf("no rollback message on the dashboard:\n%s", got)
	}
	press(a, "6")
	if got := screenText(a); !strings.Contains(got, "Rolled back by hand") {
		t.Fatalf("the network tab does not say how the probation ended:\n%s", got)
	}
	devicetest.Eventually(t, time.Second, "no probation", func() bool { return !f.gw.Probation().Active })
}

// The text of a probation that ran out names the reason.
func TestProbationOutcomeTexts(t *testing.T) {
	for _, c := range []struct {
		o    device.ProbationOutcome
		want string
		bad  bool
	}{
		{device.ProbationOutcome{What: "WAN priority", Expired: true, RolledBack: true}, "Rolled back: WAN priority was not confirmed within the probation time.", true},
		{device.ProbationOutcome{What: "WAN priority", RolledBack: true}, "Rolled back by hand (n): WAN priority.", true},
		{device.ProbationOutcome{What: "WAN priority", Confirmed: true}, "Confirmed: WAN priority.", false},
	} {
		if got, bad := outcomeText(c.o); got != c.want || bad != c.bad {
			t.Errorf("%+v: %q %v", c.o, got, bad)
		}
	}
}
