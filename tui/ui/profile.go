package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// ProfileAccounts is what the profile screen asks of the access rules: the
// user's own settings. Password checks hash with argon2id and take a
// while, so the screen calls them in the background.
type ProfileAccounts interface {
	SetTheme(p access.Principal, theme string) error
	ChangePassword(ctx context.Context, p access.Principal, current, next string) error
	EnrolTOTP(ctx context.Context, p access.Principal, currentPassword, secret, code string) error
	WithdrawPrivacy(p access.Principal) error
}

// ProfileSource is what the profile screen reads of the gateway.
type ProfileSource interface {
	Site() (*device.Site, uint64)
}

type profileMode int

const (
	profileMenu profileMode = iota
	profilePassword
	profileTOTP
	profileWithdraw
)

var themeChoices = []string{themes.Auto, themes.Dark, themes.Light, themes.HighContrast}

// profileDoneMsg is the outcome of a password change or an enrolment.
type profileDoneMsg struct {
	mode profileMode
	err  error
}

// profileScreen is the user's own settings.
type profileScreen struct {
	s      *common.Session
	src    ProfileSource
	acc    ProfileAccounts
	w, h   int
	mode   profileMode
	form   common.Form
	secret string
	busy   common.Busy
}

func newProfileScreen(s *common.Session, src ProfileSource, acc ProfileAccounts) *profileScreen {
	return &profileScreen{s: s, src: src, acc: acc}
}

func (p *profileScreen) Title() string    { return "Profile" }
func (p *profileScreen) SetSize(w, h int) { p.w, p.h = w, h }
func (p *profileScreen) Capturing() bool {
	return p.mode == profilePassword || p.mode == profileTOTP
}
func (p *profileScreen) Restyle() { p.form.SetStyles(p.s.Styles) }

func (p *profileScreen) Keys() []key.Binding {
	k := p.s.Keys
	if p.Capturing() {
		return k.FormKeys()
	}
	if p.mode != profileMenu {
		return []key.Binding{k.Back}
	}
	return []key.Binding{k.Password, k.EnrolTOTP, k.Theme, k.Withdraw}
}

func (p *profileScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	keys := p.s.Keys
	switch msg := msg.(type) {
	case profileDoneMsg:
		return p, p.done(msg)
	case tea.KeyPressMsg, tea.PasteMsg:
		if p.busy.Active() {
			return p, nil // the form waits for the answer
		}
	default:
		return p, p.busy.Update(msg)
	}
	k, isKey := msg.(tea.KeyPressMsg)
	switch p.mode {
	case profileMenu:
		if isKey {
			return p, p.menuKey(k)
		}
		return p, nil
	case profileWithdraw:
		switch {
		case !isKey:
		case key.Matches(k, keys.Yes):
			if err := p.acc.WithdrawPrivacy(p.s.Principal); err != nil {
				p.mode = profileMenu
				return p, common.FlashErr(err)
			}
			return p, common.QuitWith("You withdrew your acceptance of the privacy notice. Log in again to accept it.")
		case key.Matches(k, keys.No):
			p.mode = profileMenu
		}
		return p, nil
	}
	return p, p.form.Handle(msg, func() { p.mode = profileMenu }, p.submit)
}

func (p *profileScreen) menuKey(k tea.KeyPressMsg) tea.Cmd {
	keys := p.s.Keys
	switch {
	case key.Matches(k, keys.Password):
		p.form = common.NewForm(p.s.Styles, "Change password",
			common.FieldSpec{Label: "Current password", Secret: true},
			common.FieldSpec{Label: "New password", Secret: true},
			common.FieldSpec{Label: "Repeat new password", Secret: true})
		p.mode = profilePassword
	case key.Matches(k, keys.EnrolTOTP):
		p.secret = access.NewTOTPSecret()
		p.form = common.NewForm(p.s.Styles, "Confirm",
			common.FieldSpec{Label: "Current password", Secret: true},
			common.FieldSpec{Label: "Code from the app", Placeholder: "6 digits", Limit: 6})
		p.mode = profileTOTP
	case key.Matches(k, keys.Theme):
		cur := p.s.Principal.Account.Theme
		next := themeChoices[0]
		for i, t := range themeChoices {
			if t == cur || (cur == "" && t == themes.Auto) {
				next = themeChoices[(i+1)%len(themeChoices)]
			}
		}
		if err := p.acc.SetTheme(p.s.Principal, next); err != nil {
			return common.FlashErr(err)
		}
		p.s.Principal.Account.Theme = next
		return tea.Batch(func() tea.Msg { return common.ThemeChangedMsg{Choice: next} }, common.Flash("Theme: "+next))
	case key.Matches(k, keys.Withdraw):
		p.mode = profileWithdraw
	}
	return nil
}

// submit checks the form and runs the password work in the background,
// under the session's context.
func (p *profileScreen) submit() tea.Cmd {
	ctx, who, mode := p.s.Ctx, p.s.Principal, p.mode
	var run func() error
	switch mode {
	case profilePassword:
		cur, next, again := p.form.Value(0), p.form.Value(1), p.form.Value(2)
		if next != again {
			p.form.SetError("the two new passwords differ")
			return p.form.ClearSecrets()
		}
		run = func() error { return p.acc.ChangePassword(ctx, who, cur, next) }
	case profileTOTP:
		pw, secret, code := p.form.Value(0), p.secret, strings.TrimSpace(p.form.Value(1))
		run = func() error { return p.acc.EnrolTOTP(ctx, who, pw, secret, code) }
	default:
		return nil
	}
	p.form.SetError("")
	return tea.Batch(p.busy.Start(p.s.Styles, "checking…"), func() tea.Msg { return profileDoneMsg{mode: mode, err: run()} })
}

// done shows the outcome of the background work.
func (p *profileScreen) done(msg profileDoneMsg) tea.Cmd {
	p.busy.Stop()
	if msg.mode != p.mode {
		return nil
	}
	if msg.err != nil {
		p.form.SetError(msg.err.Error())
		return p.form.ClearSecrets()
	}
	p.mode = profileMenu
	if msg.mode == profileTOTP {
		p.secret = ""
		return common.Flash("Authenticator enrolled; use its codes from now on.")
	}
	return common.Flash("Password changed.")
}

func (p *profileScreen) View() string {
	st := p.s.Styles
	a := p.s.Principal.Account
	busy := ""
	if p.busy.Active() {
		busy = "\n\n" + p.busy.View(st)
	}
	switch p.mode {
	case profilePassword:
		site, _ := p.src.Site()
		return st.Title.Render("Change password") + "\n\n" + st.Text.Dim.Render(passwordRules(site.Access.PasswordMaxLength)) + "\n\n" + p.form.View() + busy
	case profileTOTP:
		qr := common.RenderQR(access.TOTPURI(p.secret, a.Name+"@"+p.s.GatewayID))
		text := st.Title.Render("Enrol an authenticator") + "\n\n" + st.Text.Normal.Render("Scan the code, then enter the\n6-digit code the app shows.\nThe old authenticator stops\nworking once this is confirmed.") + "\n\n" +
			st.Text.Dim.Render("Secret") + "\n" + st.Text.Strong.Render(groupSecret(p.secret)) + "\n\n" + p.form.View() + busy
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
	kv := func(k, v string) string { return common.KV(st, 18, k, v) }
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
	site, _ := p.src.Site()
	return site.Clock.Location()
}
