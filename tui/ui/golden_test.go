package ui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
	"github.com/sitegate/sitegate/tui/ui/common"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata/golden")

// goldenTime is the fixed clock of screen tests.
var goldenTime = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// screenFixture is a gateway with a fixed clock and id and a few accounts,
// so screens render the same every time.
type screenFixture struct {
	gw    *device.Gateway
	acc   *access.Service
	clock *clockwork.Fake
	admin access.Account
	ids   []string // random account ids, masked in goldens
}

func newScreenFixture(t *testing.T) *screenFixture {
	t.Helper()
	clk := clockwork.NewFake(goldenTime)
	st := storetest.New(t, store.Options{Now: clk.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Clock: clk, GatewayID: "gw-golden"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.ImportYAML(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigImport}, device.DemoSiteYAML); err != nil {
		t.Fatal(err)
	}
	acc := access.New(gw, access.Options{Hasher: tuitest.Hasher, Clock: clk})
	f := &screenFixture{gw: gw, acc: acc, clock: clk}
	for _, u := range []struct {
		name string
		role device.Role
	}{{"ada", device.RoleAdmin}, {"ivan", device.RoleInstaller}, {"sam", device.RoleSupport}, {"vic", device.RoleViewer}} {
		c, err := acc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: u.name, Role: u.role, Password: tuitest.Password, AcceptPrivacy: true})
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, c.Account.ID)
		if u.role == device.RoleAdmin {
			f.admin = c.Account
		}
	}
	inv, err := acc.Invite(f.admin.Actor(), "newbie", device.RoleSupport)
	if err != nil {
		t.Fatal(err)
	}
	f.ids = append(f.ids, inv.Account.ID)
	if err := acc.Lock(f.admin.Actor(), f.ids[3]); err != nil {
		t.Fatal(err)
	}
	// An uplink without a broker, holding a configuration conflict that
	// arrived earlier (loaded from the store as after a restart).
	conflict := `{"rev":12,"base_rev":1,"local_rev":2,"received":"2026-11-27T09:00:00Z","site":{"site":{"name":"Plant room A (cloud copy)"}}}`
	if err := st.PutMeta("cloudsync.conflict", []byte(conflict)); err != nil {
		t.Fatal(err)
	}
	up, err := cloudsync.New(cloudsync.Config{Gateway: gw, Store: st, Logger: tuitest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetUplink(up)
	return f
}

func (f *screenFixture) app(t *testing.T, p access.Principal, theme string, w, h int) *App {
	t.Helper()
	p.Account.Theme = theme
	return newTestApp(t, f.gw, f.acc, f.clock, p, w, h)
}

// newTestApp is one console session of p on gw, as the SSH door builds
// it, with a context that ends with the test.
func newTestApp(t *testing.T, gw *device.Gateway, acc *access.Service, clk clockwork.Clock, p access.Principal, w, h int) *App {
	t.Helper()
	s := &common.Session{Ctx: t.Context(), Principal: p, Rules: acc, Clock: clk, GatewayID: gw.ID(), Version: "test"}
	a := New(s, Deps{Gateway: gw, Accounts: acc}, w, h)
	t.Cleanup(a.Close)
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return a
}

func press(a *App, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		case "ctrl+r":
			msg = tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl}
		case "space":
			msg = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
		default:
			r := []rune(k)
			msg = tea.KeyPressMsg{Code: r[0], Text: k}
		}
		_, cmd := a.Update(msg)
		drain(a, cmd)
	}
}

// drain runs the commands a key produced that finish at once (flash
// messages, theme changes), as the program would.
func drain(a *App, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch m := msg.(type) {
		case tea.BatchMsg:
			for _, c := range m {
				drain(a, c)
			}
		case common.FlashMsg, common.ThemeChangedMsg, common.WizardDoneMsg, common.QuitMsg:
			_, next := a.Update(m)
			drain(a, next)
		}
	case <-time.After(50 * time.Millisecond):
		// A command that waits (ticks, live events): not part of a key's
		// immediate effect.
	}
}

// awaitMsg runs cmd (a batch or one command) until a message want accepts
// arrives, feeds it to the app, and drains what that produces.
func awaitMsg(t *testing.T, a *App, cmd tea.Cmd, want func(tea.Msg) bool) {
	t.Helper()
	found := make(chan tea.Msg, 16)
	var walk func(c tea.Cmd)
	walk = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if b, ok := msg.(tea.BatchMsg); ok {
				for _, x := range b {
					walk(x)
				}
				return
			}
			if want(msg) {
				found <- msg
			}
		}()
	}
	walk(cmd)
	select {
	case msg := <-found:
		_, next := a.Update(msg)
		drain(a, next)
	case <-time.After(10 * time.Second):
		t.Fatal("the expected message never came")
	}
}

func (f *screenFixture) mask(s string) string {
	for i, id := range f.ids {
		s = strings.ReplaceAll(s, id, fmt.Sprintf("u-ID%d", i)+strings.Repeat("x", len(id)-len(fmt.Sprintf("u-ID%d", i))))
	}
	return s
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui/ui -run TestScreens -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("screen %s differs from %s (rerun with -update after checking the change):\n%s", name, path, stripANSI(got))
	}
}

// stripANSI removes escape sequences, for readable failure output.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			j := i + 1
			if j < len(s) && s[j] == '[' {
				j++
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestScreens(t *testing.T) {
	f := newScreenFixture(t)
	setupP := access.Principal{Setup: true}
	invited, _ := f.acc.AccountByName("newbie")
	support, _ := f.acc.AccountByName("sam")
	screens := []struct {
		name string
		p    access.Principal
		keys []string
	}{
		{"dashboard", access.Principal{Account: f.admin}, nil},
		{"logs", access.Principal{Account: f.admin}, []string{"2"}},
		{"site", access.Principal{Account: f.admin}, []string{"3"}},
		{"site-edit", access.Principal{Account: f.admin}, []string{"3", "e"}},
		{"site-readonly", access.Principal{Account: support}, []string{"3"}},
		{"field", access.Principal{Account: f.admin}, []string{"4"}},
		{"field-point", access.Principal{Account: f.admin}, []string{"4", "down", "down", "down", "down"}},
		{"field-point-form", access.Principal{Account: f.admin}, []string{"4", "down", "down", "down", "down", "e"}},
		{"sync", access.Principal{Account: f.admin}, []string{"5"}},
		{"users", access.Principal{Account: f.admin}, []string{"7"}},
		{"profile", access.Principal{Account: f.admin}, []string{"8"}},
		{"setup-wizard", setupP, nil},
		{"first-login", access.Principal{Account: invited}, nil},
	}
	for _, sc := range screens {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			for _, theme := range []string{themes.Dark, themes.HighContrast} {
				name := fmt.Sprintf("%s-%dx%d-%s", sc.name, size[0], size[1], theme)
				t.Run(name, func(t *testing.T) {
					a := f.app(t, sc.p, theme, size[0], size[1])
					press(a, sc.keys...)
					got := f.mask(a.View().Content)
					for i, line := range strings.Split(stripANSI(got), "\n") {
						if w := len([]rune(line)); w > size[0] {
							t.Errorf("line %d is %d cells wide, more than %d", i, w, size[0])
						}
					}
					if n := strings.Count(got, "\n") + 1; n > size[1] {
						t.Errorf("%d lines, more than %d", n, size[1])
					}
					checkGolden(t, name, got)
				})
			}
		}
	}
}

func TestTooSmallTerminal(t *testing.T) {
	f := newScreenFixture(t)
	a := f.app(t, access.Principal{Account: f.admin}, themes.Dark, 60, 20)
	got := stripANSI(a.View().Content)
	if !strings.Contains(got, "at least 80×24") || !strings.Contains(got, "60×20") {
		t.Fatalf("small terminal view: %q", got)
	}
	// Resize storms: the last size wins and nothing panics.
	for i := 0; i < 500; i++ {
		a.Update(tea.WindowSizeMsg{Width: 1 + i%200, Height: 1 + i%60})
		_ = a.View()
	}
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	if got := stripANSI(a.View().Content); !strings.Contains(got, "Dashboard") {
		t.Fatalf("after the storm: %q", got)
	}
}
