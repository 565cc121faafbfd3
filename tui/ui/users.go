package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// UsersAdmin is what the users screen asks of the access rules; every call
// checks that the actor may manage users.
type UsersAdmin interface {
	Accounts(actor device.Actor) ([]access.Account, error)
	Invite(actor device.Actor, name string, role device.Role) (access.Created, error)
	SetRole(actor device.Actor, id string, role device.Role) error
	Lock(actor device.Actor, id string) error
	Unlock(actor device.Actor, id string) error
	Delete(actor device.Actor, id string) error
	ResetTOTP(actor device.Actor, id string) error
}

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
	s        *common.Session
	acc      UsersAdmin
	w, h     int
	accounts []access.Account
	cursor   int
	mode     usersMode
	form     common.Form
	code     string // a new user's enrolment code, shown once
	codeFor  string
	confirm  string // the question being confirmed
	action   func() error
}

func newUsersScreen(s *common.Session, acc UsersAdmin) *usersScreen {
	u := &usersScreen{s: s, acc: acc}
	u.reload()
	return u
}

func (u *usersScreen) reload() {
	accts, err := u.acc.Accounts(u.s.Actor())
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
func (u *usersScreen) Restyle()         { u.form.SetStyles(u.s.Styles) }

func (u *usersScreen) Keys() []key.Binding {
	k := u.s.Keys
	if u.Capturing() {
		return k.FormKeys()
	}
	if u.mode != usersList {
		return []key.Binding{k.Back}
	}
	return []key.Binding{k.Invite, k.Role, k.Lock, k.Delete, k.Reset2FA}
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

func (u *usersScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if ev, ok := msg.(common.EventMsg); ok {
		action := string(ev.Event.Audit.Action)
		if ev.Event.Kind == device.EventAudit && (strings.HasPrefix(action, "user.") || strings.HasPrefix(action, "account.")) {
			u.reload()
		}
		return u, nil
	}
	k, isKey := msg.(tea.KeyPressMsg)
	keys := u.s.Keys
	switch u.mode {
	case usersList:
		if isKey {
			u.listKey(k)
		}
		return u, nil
	case usersShowCode:
		if isKey && (key.Matches(k, keys.Back) || k.String() == "enter") {
			u.code, u.codeFor, u.mode = "", "", usersList
		}
		return u, nil
	case usersConfirm:
		switch {
		case !isKey:
		case key.Matches(k, keys.Yes):
			err := u.action()
			u.mode = usersList
			u.reload()
			if err != nil {
				return u, common.FlashErr(err)
			}
			return u, common.Flash("Done.")
		case key.Matches(k, keys.No):
			u.mode = usersList
		}
		return u, nil
	}
	// The invite or role form.
	return u, u.form.Handle(msg, func() { u.mode = usersList }, u.submit)
}

func (u *usersScreen) listKey(k tea.KeyPressMsg) {
	keys, actor := u.s.Keys, u.s.Actor()
	sel, ok := u.selected()
	switch {
	case key.Matches(k, keys.Up):
		u.cursor = max(u.cursor-1, 0)
	case key.Matches(k, keys.Down):
		u.cursor = min(u.cursor+1, max(len(u.accounts)-1, 0))
	case key.Matches(k, keys.Invite):
		u.form = common.NewForm(u.s.Styles, "Create invitation",
			common.FieldSpec{Label: "User name", Placeholder: "lower-case, e.g. ivan", Limit: 32},
			common.FieldSpec{Label: "Role", Value: "installer", Options: roleNames})
		u.mode = usersInvite
	case !ok:
	case key.Matches(k, keys.Role):
		u.form = common.NewForm(u.s.Styles, "Change role", common.FieldSpec{Label: "Role of " + sel.Name, Value: sel.Role.String(), Options: roleNames})
		u.mode = usersRole
	case key.Matches(k, keys.Lock):
		if locked, _ := sel.LockedAt(u.s.Now()); locked {
			u.ask("Unlock "+sel.Name+"?", func() error { return u.acc.Unlock(actor, sel.ID) })
		} else {
			u.ask("Lock "+sel.Name+"? Their open sessions end now.", func() error { return u.acc.Lock(actor, sel.ID) })
		}
	case key.Matches(k, keys.Delete):
		u.ask("Delete "+sel.Name+"? This cannot be undone.", func() error { return u.acc.Delete(actor, sel.ID) })
	case key.Matches(k, keys.Reset2FA):
		u.ask("Reset the authenticator of "+sel.Name+"? They enrol again at their next login.", func() error { return u.acc.ResetTOTP(actor, sel.ID) })
	}
}

// submit creates the invitation or changes the role.
func (u *usersScreen) submit() tea.Cmd {
	actor := u.s.Actor()
	switch u.mode {
	case usersInvite:
		role, _ := device.ParseRole(u.form.Value(1))
		created, err := u.acc.Invite(actor, strings.TrimSpace(u.form.Value(0)), role)
		if err != nil {
			u.form.SetError(err.Error())
			return nil
		}
		u.code, u.codeFor, u.mode = created.EnrolCode, created.Account.Name, usersShowCode
		u.reload()
	case usersRole:
		sel, ok := u.selected()
		role, _ := device.ParseRole(u.form.Value(0))
		if !ok {
			u.mode = usersList
			return nil
		}
		if err := u.acc.SetRole(actor, sel.ID, role); err != nil {
			u.form.SetError(err.Error())
			return nil
		}
		u.mode = usersList
		u.reload()
		return common.Flash(sel.Name + " is now " + role.String() + ".")
	}
	return nil
}

func (u *usersScreen) state(a access.Account) string {
	if locked, _ := a.LockedAt(u.s.Now()); locked {
		if a.Disabled {
			return "locked"
		}
		return "locked out"
	}
	if a.Invited() {
		if u.s.Now().After(a.EnrolExpires) {
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
	st := u.s.Styles
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
		row := fmt.Sprintf("  %-20s %-10s %-16s %-4s", common.Clip(a.Name, 20), a.Role, u.state(a), tfa)
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
