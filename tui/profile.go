package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
)

type profileMode int

const (
	profileMenu profileMode = iota
	profilePassword
	profileTOTP
	profileWithdraw
)

// themeChangedMsg tells the root to switch theme.
type themeChangedMsg struct{ choice string }

var themeChoices = []string{themes.Auto, themes.Dark, themes.Light, themes.HighContrast}

// profileScreen is the user's own settings.
type profileScreen struct {
	c      *shared
	w, h   int
	mode   profileMode
	form   form
	secret string
	keys   struct{ Password, TOTP, Theme, Withdraw, Back key.Binding }
}

func newProfileScreen(c *shared) *profileScreen {
	p := &profileScreen{c: c}
	p.keys.Password = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "password"))
	p.keys.TOTP = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "enrol 2FA"))
	p.keys.Theme = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "theme"))
	p.keys.Withdraw = key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "withdraw privacy"))
	p.keys.Back = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	return p
}

func (p *profileScreen) Title() string    { return "Profile" }
func (p *profileScreen) SetSize(w, h int) { p.w, p.h = w, h }
func (p *profileScreen) Capturing() bool {
	return p.mode == profilePassword || p.mode == profileTOTP
}
func (p *profileScreen) Restyle() { p.form.SetStyles(p.c.st) }

func (p *profileScreen) Keys() []key.Binding {
	if p.mode != profileMenu {
		return []key.Binding{p.keys.Back}
	}
	return []key.Binding{p.keys.Password, p.keys.TOTP, p.keys.Theme, p.keys.Withdraw}
}

func (p *profileScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	switch p.mode {
	case profileMenu:
		if !isKey {
			return p, nil
		}
		switch {
		case key.Matches(k, p.keys.Password):
			p.form = newForm(p.c.st, "Change password",
				fieldSpec{Label: "Current password", Secret: true},
				fieldSpec{Label: "New password", Secret: true},
				fieldSpec{Label: "Repeat new password", Secret: true})
			p.mode = profilePassword
		case key.Matches(k, p.keys.TOTP):
			p.secret = access.NewTOTPSecret()
			p.form = newForm(p.c.st, "Confirm",
				fieldSpec{Label: "Current password", Secret: true},
				fieldSpec{Label: "Code from the app", Placeholder: "6 digits", Limit: 6})
			p.mode = profileTOTP
		case key.Matches(k, p.keys.Theme):
			cur := p.c.p.Account.Theme
			next := themeChoices[0]
			for i, t := range themeChoices {
				if t == cur || (cur == "" && t == themes.Auto) {
					next = themeChoices[(i+1)%len(themeChoices)]
				}
			}
			if err := p.c.acc.SetTheme(p.c.p, next); err != nil {
				return p, flashErr(err)
			}
			p.c.p.Account.Theme = next
			return p, tea.Batch(func() tea.Msg { return themeChangedMsg{next} }, flash("Theme: "+next))
		case key.Matches(k, p.keys.Withdraw):
			p.mode = profileWithdraw
		}
		return p, nil
	case profileWithdraw:
		if !isKey {
			return p, nil
		}
		switch k.String() {
		case "y":
			if err := p.c.acc.WithdrawPrivacy(p.c.p); err != nil {
				p.mode = profileMenu
				return p, flashErr(err)
			}
			return p, quitWith("You withdrew your acceptance of the privacy notice. Log in again to accept it.")
		case "n", "esc":
			p.mode = profileMenu
		}
		return p, nil
	}
	if isKey && k.String() == "esc" {
		p.mode = profileMenu
		return p, nil
	}
	if !isKey {
		if _, paste := msg.(tea.PasteMsg); !paste {
			return p, nil
		}
	}
	f, cmd, submitted := p.form.Update(msg)
	p.form = f
	if !submitted {
		return p, cmd
	}
	switch p.mode {
	case profilePassword:
		cur, next, again := p.form.Value(0), p.form.Value(1), p.form.Value(2)
		if next != again {
			p.form.SetError("the two new passwords differ")
			return p, p.form.ClearSecrets()
		}
		if err := p.c.acc.ChangePassword(context.Background(), p.c.p, cur, next); err != nil {
			p.form.SetError(err.Error())
			return p, p.form.ClearSecrets()
		}
		p.mode = profileMenu
		return p, flash("Password changed.")
	case profileTOTP:
		if err := p.c.acc.EnrolTOTP(context.Background(), p.c.p, p.form.Value(0), p.secret, strings.TrimSpace(p.form.Value(1))); err != nil {
			p.form.SetError(err.Error())
			return p, p.form.ClearSecrets()
		}
		p.secret = ""
		p.mode = profileMenu
		return p, flash("Authenticator enrolled; use its codes from now on.")
	}
	return p, nil
}

func (p *profileScreen) View() string {
	st := p.c.st
	a := p.c.p.Account
	switch p.mode {
	case profilePassword:
		site, _ := p.c.gw.Site()
		return st.Title.Render("Change password") + "\n\n" + st.Text.Dim.Render(passwordRules(site.Access.PasswordMaxLength)) + "\n\n" + p.form.View()
	case profileTOTP:
		qr := renderQR(access.TOTPURI(p.secret, a.Name+"@"+p.c.gw.ID()))
		text := st.Title.Render("Enrol an authenticator") + "\n\n" + st.Text.Normal.Render("Scan the code, then enter the\n6-digit code the app shows.\nThe old authenticator stops\nworking once this is confirmed.") + "\n\n" +
			st.Text.Dim.Render("Secret") + "\n" + st.Text.Strong.Render(groupSecret(p.secret)) + "\n\n" + p.form.View()
		return lipgloss.JoinHorizontal(lipgloss.Top, qr, "  ", text)
	case profileWithdraw:
		return st.Title.Render("Withdraw privacy acceptance") + "\n\n" + st.Text.Normal.Render("Withdrawing ends this and your other sessions now. You cannot use the\ngateway until you log in again and accept the privacy notice.") + "\n\n" + st.Text.Warn.Render("Withdraw?") + st.Text.Normal.Render("  y yes · n no")
	}
	theme := a.Theme
	if theme == "" {
		theme = themes.Auto
	}
	tfa := "not enrolled"
	if a.TOTPSecret != "" {
		tfa = "enrolled"
	}
	kv := func(k, v string) string {
		return st.Text.Dim.Render(fmt.Sprintf("%-18s", k)) + st.Text.Normal.Render(v)
	}
	lines := []string{
		st.Title.Render("Profile"),
		kv("Name", a.Name),
		kv("Role", a.Role.String()),
		kv("Account id", a.ID),
		kv("Authenticator", tfa),
		kv("Public keys", fmt.Sprint(len(a.PublicKeys))),
		kv("Theme", theme),
		kv("Privacy notice", "accepted "+a.Privacy.In(p.loc()).Format("2006-01-02 15:04")),
	}
	return strings.Join(lines, "\n")
}

func (p *profileScreen) loc() *time.Location {
	site, _ := p.c.gw.Site()
	return site.Clock.Location()
}
