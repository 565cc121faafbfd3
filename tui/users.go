package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

type usersMode int

const (
	usersList usersMode = iota
	usersInvite
	usersShowCode
	usersRole
	usersConfirm
)

var roleNames = []string{"admin", "installer", "support", "viewer"}

// usersScreen is the administrators' account management.
type usersScreen struct {
	c        *shared
	w, h     int
	accounts []access.Account
	cursor   int
	mode     usersMode
	form     form
	code     string // a new user's enrolment code, shown once
	codeFor  string
	confirm  string // the question being confirmed
	action   func() error
	keys     struct{ Up, Down, Invite, Role, Lock, Delete, Reset2FA, Back key.Binding }
}

func newUsersScreen(c *shared) *usersScreen {
	u := &usersScreen{c: c}
	u.keys.Up = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up"))
	u.keys.Down = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down"))
	u.keys.Invite = key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "invite"))
	u.keys.Role = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "role"))
	u.keys.Lock = key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "lock/unlock"))
	u.keys.Delete = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete"))
	u.keys.Reset2FA = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "reset 2FA"))
	u.keys.Back = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	u.reload()
	return u
}

func (u *usersScreen) reload() {
	accts, err := u.c.acc.Accounts(u.c.p.Actor())
	if err == nil {
		u.accounts = accts
	}
	if u.cursor >= len(u.accounts) {
		u.cursor = max(len(u.accounts)-1, 0)
	}
}

func (u *usersScreen) Title() string    { return "Users" }
func (u *usersScreen) SetSize(w, h int) { u.w, u.h = w, h }
func (u *usersScreen) Capturing() bool  { return u.mode == usersInvite || u.mode == usersRole }
func (u *usersScreen) Restyle()         { u.form.SetStyles(u.c.st) }

func (u *usersScreen) Keys() []key.Binding {
	if u.mode != usersList {
		return []key.Binding{u.keys.Back}
	}
	return []key.Binding{u.keys.Invite, u.keys.Role, u.keys.Lock, u.keys.Delete, u.keys.Reset2FA}
}

func (u *usersScreen) selected() (access.Account, bool) {
	if u.cursor < len(u.accounts) {
		return u.accounts[u.cursor], true
	}
	return access.Account{}, false
}

func (u *usersScreen) ask(question string, action func() error) {
	u.confirm, u.action, u.mode = question, action, usersConfirm
}

func (u *usersScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if ev, ok := msg.(eventMsg); ok {
		if ev.ev.Kind == device.EventAudit && strings.HasPrefix(ev.ev.Audit.Action, "user.") || strings.HasPrefix(ev.ev.Audit.Action, "account.") {
			u.reload()
		}
		return u, nil
	}
	k, isKey := msg.(tea.KeyPressMsg)
	actor := u.c.p.Actor()
	switch u.mode {
	case usersList:
		if !isKey {
			return u, nil
		}
		sel, ok := u.selected()
		switch {
		case key.Matches(k, u.keys.Up):
			u.cursor = max(u.cursor-1, 0)
		case key.Matches(k, u.keys.Down):
			u.cursor = min(u.cursor+1, max(len(u.accounts)-1, 0))
		case key.Matches(k, u.keys.Invite):
			u.form = newForm(u.c.st, "Create invitation",
				fieldSpec{Label: "User name", Placeholder: "lower-case, e.g. ivan", Limit: 32},
				fieldSpec{Label: "Role", Value: "installer", Options: roleNames})
			u.mode = usersInvite
		case !ok:
		case key.Matches(k, u.keys.Role):
			u.form = newForm(u.c.st, "Change role", fieldSpec{Label: "Role of " + sel.Name, Value: sel.Role.String(), Options: roleNames})
			u.mode = usersRole
		case key.Matches(k, u.keys.Lock):
			if locked, _ := sel.LockedAt(u.c.now()); locked {
				u.ask("Unlock "+sel.Name+"?", func() error { return u.c.acc.Unlock(actor, sel.ID) })
			} else {
				u.ask("Lock "+sel.Name+"? Their open sessions end now.", func() error { return u.c.acc.Lock(actor, sel.ID) })
			}
		case key.Matches(k, u.keys.Delete):
			u.ask("Delete "+sel.Name+"? This cannot be undone.", func() error { return u.c.acc.Delete(actor, sel.ID) })
		case key.Matches(k, u.keys.Reset2FA):
			u.ask("Reset the authenticator of "+sel.Name+"? They enrol again at their next login.", func() error { return u.c.acc.ResetTOTP(actor, sel.ID) })
		}
		return u, nil
	case usersShowCode:
		if isKey && (k.String() == "esc" || k.String() == "enter") {
			u.code, u.codeFor, u.mode = "", "", usersList
		}
		return u, nil
	case usersConfirm:
		if !isKey {
			return u, nil
		}
		switch k.String() {
		case "y":
			err := u.action()
			u.mode = usersList
			u.reload()
			if err != nil {
				return u, flashErr(err)
			}
			return u, flash("Done.")
		case "n", "esc":
			u.mode = usersList
		}
		return u, nil
	}
	// invite or role form
	if isKey && k.String() == "esc" {
		u.mode = usersList
		return u, nil
	}
	if !isKey {
		if _, paste := msg.(tea.PasteMsg); !paste {
			return u, nil
		}
	}
	f, cmd, submitted := u.form.Update(msg)
	u.form = f
	if !submitted {
		return u, cmd
	}
	switch u.mode {
	case usersInvite:
		role, _ := device.ParseRole(u.form.Value(1))
		created, err := u.c.acc.Invite(actor, strings.TrimSpace(u.form.Value(0)), role)
		if err != nil {
			u.form.SetError(err.Error())
			return u, nil
		}
		u.code, u.codeFor, u.mode = created.EnrolCode, created.Account.Name, usersShowCode
		u.reload()
	case usersRole:
		sel, ok := u.selected()
		role, _ := device.ParseRole(u.form.Value(0))
		if !ok {
			u.mode = usersList
			return u, nil
		}
		if err := u.c.acc.SetRole(actor, sel.ID, role); err != nil {
			u.form.SetError(err.Error())
			return u, nil
		}
		u.mode = usersList
		u.reload()
		return u, flash(sel.Name + " is now " + role.String() + ".")
	}
	return u, nil
}

func (u *usersScreen) state(a access.Account) string {
	if locked, why := a.LockedAt(u.c.now()); locked {
		if a.Disabled {
			return "locked"
		}
		_ = why
		return "locked out"
	}
	if a.Invited() {
		if u.c.now().After(a.EnrolExpires) {
			return "invite expired"
		}
		return "invited"
	}
	if !a.AcceptedPrivacy() {
		return "privacy pending"
	}
	return "active"
}

func (u *usersScreen) View() string {
	st := u.c.st
	switch u.mode {
	case usersInvite:
		return st.Title.Render("Invite a user") + "\n\n" + st.Text.Normal.Render("The user sets their own password at first login with a one-time code.") + "\n\n" + u.form.View()
	case usersRole:
		return st.Title.Render("Change role") + "\n\n" + u.form.View()
	case usersShowCode:
		return st.Title.Render("Invitation for "+u.codeFor) + "\n\n" +
			st.Text.Normal.Render("Give this one-time enrolment code to "+u.codeFor+". It is shown only now and\nworks for 24 hours: they log in with it as their password and then set their own.") + "\n\n    " +
			st.Text.Strong.Render(u.code) + "\n\n" + st.Text.Dim.Render("enter or esc to close")
	}
	header := fmt.Sprintf("  %-20s %-10s %-16s %-4s", "NAME", "ROLE", "STATE", "2FA")
	lines := []string{st.Title.Render("Users"), st.Table.Header.Render(header)}
	for i, a := range u.accounts {
		tfa := "-"
		if a.TOTPSecret != "" {
			tfa = "yes"
		}
		row := fmt.Sprintf("  %-20s %-10s %-16s %-4s", clip(a.Name, 20), a.Role, u.state(a), tfa)
		if i == u.cursor {
			lines = append(lines, st.Table.Selected.Render(row))
		} else {
			lines = append(lines, st.Table.Row.Render(row))
		}
	}
	if u.mode == usersConfirm {
		lines = append(lines, "", st.Text.Warn.Render(u.confirm)+st.Text.Normal.Render("  y yes · n no"))
	}
	return strings.Join(lines, "\n")
}
