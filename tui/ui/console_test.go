package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
	"github.com/sitegate/sitegate/tui/ui/common"
)

func screenText(a *App) string { return stripANSI(a.View().Content) }

func typeText(a *App, s string) {
	for _, r := range s {
		_, cmd := a.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
		drain(a, cmd)
	}
}

func TestSiteEditPreviewAndConfirm(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	_, before := f.gw.Site()
	press(a, "3", "e")
	// Replace the site name: clear the field, type, then go to the end.
	for i := 0; i < 40; i++ {
		press(a, "\b")
	}
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "Boiler house")
	press(a, "enter", "enter", "enter", "enter")
	got := screenText(a)
	if !strings.Contains(got, "Review the change") || !strings.Contains(got, "+  name: Boiler house") {
		t.Fatalf("no diff preview:\n%s", got)
	}
	if _, rev := f.gw.Site(); rev != before {
		t.Fatal("the change was stored before confirmation")
	}
	press(a, "y")
	site, rev := f.gw.Site()
	if rev == before || site.Site.Name != "Boiler house" {
		t.Fatalf("after confirming: rev %d name %q", rev, site.Site.Name)
	}
	if !strings.Contains(screenText(a), "Stored as site revision") {
		t.Fatalf("no confirmation shown:\n%s", screenText(a))
	}
	hist, _ := f.gw.SiteHistory(1)
	if hist[0].Author != f.admin.ID {
		t.Fatalf("revision authored by %q, want the admin's id", hist[0].Author)
	}
}

func TestSiteInvalidEditShowsProblems(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	press(a, "3", "e", "tab")
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "99")
	press(a, "enter", "enter", "enter")
	if got := screenText(a); !strings.Contains(got, "access.password_max_length") {
		t.Fatalf("invalid value not reported:\n%s", got)
	}
}

// Read-only roles are not offered edits, and the server refuses one even
// if a screen were to send it.
func TestReadOnlyRolesCannotEdit(t *testing.T) {
	f := newScreenFixture(t)
	sam, _ := f.acc.AccountByName("sam")
	a := f.app(t, access.Principal{Account: sam}, themes.Dark, 100, 30)
	press(a, "3", "e")
	if strings.Contains(screenText(a), "Edit site") {
		t.Fatal("support was offered the edit form")
	}
	// Users tab does not exist for support: "7" (after Security) is
	// Profile.
	press(a, "7")
	if !strings.Contains(screenText(a), "Account id") {
		t.Fatalf("tab 7 for support should be Profile:\n%s", screenText(a))
	}
	site, rev := f.gw.Site()
	site.Site.Name = "Hijacked"
	if _, err := f.acc.ApplySite(access.Principal{Account: sam}, device.Edit{Action: device.ActionConfigChange, Base: rev}, site); err == nil {
		t.Fatal("the server applied a change from a support user")
	}
	viewer, _ := f.acc.AccountByName("ivan")
	viewer.Role = device.RoleViewer
	v := f.app(t, access.Principal{Account: viewer}, themes.Dark, 100, 30)
	if got := screenText(v); strings.Contains(got, "Logs") || strings.Contains(got, "Site") {
		t.Fatalf("viewer sees more than the dashboard:\n%s", got)
	}
}

func TestUsersInviteShowsCodeOnce(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	press(a, "7", "i")
	typeText(a, "olga")
	press(a, "tab", "right", "enter")
	got := screenText(a)
	if !strings.Contains(got, "Invitation for olga") {
		t.Fatalf("no invitation shown:\n%s", got)
	}
	o, err := f.acc.AccountByName("olga")
	if err != nil || !o.Invited() || o.Role != device.RoleSupport {
		t.Fatalf("invited account: %+v %v", o, err)
	}
	press(a, "enter")
	if strings.Contains(screenText(a), "Invitation for olga") {
		t.Fatal("the code is still shown after closing")
	}
}

func TestUsersLockAndRole(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	// Rows: ada, ivan, newbie, sam, vic. Select sam and lock.
	press(a, "7", "down", "down", "down", "l", "y")
	sam, _ := f.acc.AccountByName("sam")
	if !sam.Disabled {
		t.Fatal("sam not locked")
	}
	press(a, "r", "right", "enter")
	sam, _ = f.acc.AccountByName("sam")
	if sam.Role != device.RoleViewer {
		t.Fatalf("role after change: %s", sam.Role)
	}
	// The last admin cannot demote themself.
	press(a, "up", "up", "up", "r", "right", "enter")
	if got := screenText(a); !strings.Contains(got, "last administrator") {
		t.Fatalf("demoting the last admin:\n%s", got)
	}
}

func TestProfileThemeAndWithdraw(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	press(a, "8", "t")
	if a.s.Styles.Name != themes.Light {
		t.Fatalf("theme after t from dark: %s", a.s.Styles.Name)
	}
	acct, _ := f.acc.Account(f.admin.ID)
	if acct.Theme != themes.Light {
		t.Fatalf("theme not remembered: %q", acct.Theme)
	}
	press(a, "w", "y")
	if a.quitText == "" || !strings.Contains(a.quitText, "withdrew") {
		t.Fatalf("withdrawal did not end the session: %q", a.quitText)
	}
	acct, _ = f.acc.Account(f.admin.ID)
	if acct.AcceptedPrivacy() {
		t.Fatal("privacy still accepted")
	}
}

func TestProfilePasswordChange(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	press(a, "8", "p")
	typeText(a, "Wrong#Pass1")
	press(a, "tab")
	typeText(a, "N3w#Secretx")
	press(a, "tab")
	typeText(a, "N3w#Secretx")
	// The check hashes (argon2id): it runs in the background.
	done := func(m tea.Msg) bool { _, ok := m.(profileDoneMsg); return ok }
	_, cmd := a.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	awaitMsg(t, a, cmd, done)
	if !strings.Contains(screenText(a), "current password is not right") {
		t.Fatalf("wrong current password:\n%s", screenText(a))
	}
	typeText(a, tuitest.Password)
	press(a, "tab")
	typeText(a, "N3w#Secretx")
	press(a, "tab")
	typeText(a, "N3w#Secretx")
	_, cmd = a.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	awaitMsg(t, a, cmd, done)
	if !strings.Contains(screenText(a), "Password changed") {
		t.Fatalf("password change:\n%s", screenText(a))
	}
}

func TestPasteIsBoundedInEveryField(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Setup: true}, themes.Dark, 100, 30)
	huge := strings.Repeat("A\x1b[2J", 1<<20/5)
	start := time.Now()
	a.Update(tea.PasteMsg{Content: huge})
	if v := a.wizard.form.Value(0); len(v) > 64 || strings.Contains(v, "\x1b") {
		t.Fatalf("paste kept %d bytes (escape: %v)", len(v), strings.Contains(v, "\x1b"))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a 1 MiB paste took %v", d)
	}
	_ = a.View()
}

func TestLiveUpdatesAndMissedCount(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	// Nobody reads the subscription: the gateway must not block, and the
	// session learns how many it missed.
	for i := 0; i < 200; i++ {
		f.gw.Publish(device.Event{Kind: device.EventLog, Log: device.LogRecord{Message: "x"}})
	}
	msg := waitEvent(a.sub)()
	a.Update(msg)
	if !strings.Contains(screenText(a), "missed") {
		t.Fatalf("no missed count shown:\n%s", screenText(a))
	}
	// A new audit event reaches the dashboard.
	if err := f.gw.Audit(device.Actor{ID: "u-zz", Role: "admin"}, device.ActionUserCreate, "u-new", device.ResultOK); err != nil {
		t.Fatal(err)
	}
	a.Update(common.EventMsg{Event: device.Event{Kind: device.EventAudit, Audit: device.AuditRecord{Action: string(device.ActionUserCreate)}}})
	if !strings.Contains(screenText(a), "u-zz") {
		t.Fatalf("new audit event not on the dashboard:\n%s", screenText(a))
	}
}

func TestIdleTimeoutEndsSession(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	f.clock.Advance(16 * time.Minute)
	_, cmd := a.Update(common.TickMsg(f.clock.Now()))
	drain(a, cmd)
	if !strings.Contains(a.quitText, "without input") {
		t.Fatalf("idle session not closed: %q", a.quitText)
	}
}

func TestSyncConflictTakeCloud(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 40)
	press(a, "5")
	got := screenText(a)
	if !strings.Contains(got, "Conflict: the cloud sent revision 12") || !strings.Contains(got, "+  name: Plant room A (cloud copy)") {
		t.Fatalf("conflict view:\n%s", got)
	}
	press(a, "c", "n")
	if _, ok := f.gw.Uplink().Conflict(); !ok {
		t.Fatal("declining resolved the conflict")
	}
	press(a, "c", "y")
	if site, _ := f.gw.Site(); site.Site.Name != "Plant room A (cloud copy)" {
		t.Fatalf("site after taking the cloud's: %q\n%s", site.Site.Name, screenText(a))
	}
	if _, ok := f.gw.Uplink().Conflict(); ok {
		t.Fatal("conflict still pending")
	}
}

// stageRename opens the site form, types a new name and reaches the
// preview.
func stageRename(a *App, name string) {
	press(a, "3", "e")
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, name)
	press(a, "enter", "enter", "enter", "enter")
}

// Two sessions edit the site from the same revision: the second save is
// refused, saying who changed what, and reloading lets it try again.
func TestSecondOfTwoEditsIsRefusedAndReloads(t *testing.T) {
	f := newScreenFixture(t)
	ivan, _ := f.acc.AccountByName("ivan")
	first := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 100, 30)
	second := f.app(t, access.Principal{Account: ivan}, themes.Dark, 100, 30)
	stageRename(first, "North wing")
	stageRename(second, "South wing")
	press(first, "y")
	if site, _ := f.gw.Site(); site.Site.Name != "North wing" {
		t.Fatalf("first save: %q\n%s", site.Site.Name, screenText(first))
	}
	press(second, "y")
	got := screenText(second)
	for _, want := range []string{"Not saved", "by ada", "site.name", "ctrl+r reloads"} {
		if !strings.Contains(got, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, got)
		}
	}
	if site, _ := f.gw.Site(); site.Site.Name != "North wing" {
		t.Fatalf("the stale save was stored: %q", site.Site.Name)
	}
	// Reload: the form shows the site as it is now; saving works.
	press(second, "ctrl+r")
	if got := screenText(second); !strings.Contains(got, "North wing") || !strings.Contains(got, "Edit the site") {
		t.Fatalf("after reload:\n%s", got)
	}
	second.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(second, "South wing")
	press(second, "enter", "enter", "enter", "enter", "y")
	if site, _ := f.gw.Site(); site.Site.Name != "South wing" {
		t.Fatalf("save after reload: %q\n%s", site.Site.Name, screenText(second))
	}
}
