package ui

import (
	"strings"
	"testing"

	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
)

// The dashboard shows each role only what it may read: a viewer, who may
// not read the audit log (`logs --audit` refuses), sees no audit events,
// no account names and no store figures (issue 11 item 6).
func TestDashboardShowsEachRoleWhatItMayRead(t *testing.T) {
	f := newScreenFixture(t)
	for _, c := range []struct {
		name       string
		audit, fig bool
	}{{"vic", false, false}, {"sam", true, true}, {"ada", true, true}} {
		a, err := f.acc.AccountByName(c.name)
		if err != nil {
			t.Fatal(err)
		}
		got := screenText(f.app(t, access.Principal{Account: a}, themes.Dark, 120, 40))
		if has := strings.Contains(got, "Recent audit events") || strings.Contains(got, "user.create"); has != c.audit {
			t.Errorf("%s (%s): audit events shown %v, want %v:\n%s", c.name, a.Role, has, c.audit, got)
		}
		if has := strings.Contains(got, "Store") || strings.Contains(got, "outbox") || strings.Contains(got, "sessions"); has != c.fig {
			t.Errorf("%s (%s): store figures shown %v, want %v:\n%s", c.name, a.Role, has, c.fig, got)
		}
		if !strings.Contains(got, "devices") || !strings.Contains(got, "uplink") || !strings.Contains(got, "clock") {
			t.Errorf("%s (%s): the overview is missing:\n%s", c.name, a.Role, got)
		}
	}
}
