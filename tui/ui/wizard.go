package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// WizardAccounts is what the wizards ask of the access rules. Completing
// one hashes the password (argon2id), so it runs in the background.
type WizardAccounts interface {
	CompleteSetup(ctx context.Context, p access.Principal, req access.FirstAdmin) (access.Account, error)
	CompleteSteps(ctx context.Context, p access.Principal, e access.Enrolment) (access.Account, error)
	CheckTOTP(secret, code string) bool
	PolicyFor(password, name string) error
}

// WizardSource is what the wizards read of the gateway.
type WizardSource interface {
	Site() (*device.Site, uint64)
}

// wizardCommitMsg is the outcome of completing a wizard.
type wizardCommitMsg struct {
	created string
	err     error
}

// page is one step of a wizard.
type page int

const (
	pageAccount  page = iota + 1 // setup: name and password of the first admin
	pagePassword                 // invited user: own password
	pagePrivacy                  // read and accept the privacy notice
	pageTOTP                     // enrol an authenticator app
	pageDone                     // setup finished
)

// wizard walks a user through setup or their first login. Everything is
// collected first and committed in one call at the end, so an abandoned
// wizard changes nothing.
type wizard struct {
	s     *common.Session
	src   WizardSource
	acc   WizardAccounts
	busy  common.Busy
	setup bool
	pages []page
	at    int
	w, h  int

	form     common.Form
	err      string
	name     string
	password string
	secret   string
	code     string
	accepted bool
	created  string
}

func newSetupWizard(s *common.Session, src WizardSource, acc WizardAccounts) *wizard {
	w := &wizard{s: s, src: src, acc: acc, setup: true, pages: []page{pageAccount, pagePrivacy, pageTOTP, pageDone}}
	w.enter()
	return w
}

func newStepsWizard(s *common.Session, src WizardSource, acc WizardAccounts, steps []access.Step) *wizard {
	w := &wizard{s: s, src: src, acc: acc, name: s.Principal.Account.Name}
	for _, s := range steps {
		switch s {
		case access.StepSetPassword:
			w.pages = append(w.pages, pagePassword)
		case access.StepAcceptPrivacy:
			w.pages = append(w.pages, pagePrivacy)
		}
	}
	for _, s := range steps {
		if s == access.StepEnrolTOTP {
			// Last, so the code is fresh when everything is committed.
			w.pages = append(w.pages, pageTOTP)
		}
	}
	w.enter()
	return w
}

func (w *wizard) SetSize(width, height int) { w.w, w.h = width, height }
func (w *wizard) Restyle()                  { w.form.SetStyles(w.s.Styles) }

// enter prepares the current page.
func (w *wizard) enter() {
	w.err = ""
	maxLen := fmt.Sprintf("%d", w.policyMax())
	switch w.pages[w.at] {
	case pageAccount:
		w.form = common.NewForm(w.s.Styles, "Next",
			common.FieldSpec{Label: "Administrator name", Placeholder: "lower-case, e.g. alice", Limit: 32},
			common.FieldSpec{Label: "Password", Placeholder: "8-" + maxLen + " characters", Secret: true},
			common.FieldSpec{Label: "Repeat password", Secret: true})
	case pagePassword:
		w.form = common.NewForm(w.s.Styles, "Next",
			common.FieldSpec{Label: "New password", Placeholder: "8-" + maxLen + " characters", Secret: true},
			common.FieldSpec{Label: "Repeat password", Secret: true})
	case pageTOTP:
		if w.secret == "" {
			w.secret = access.NewTOTPSecret()
		}
		w.form = common.NewForm(w.s.Styles, "Confirm", common.FieldSpec{Label: "Code from the app", Placeholder: "6 digits", Limit: 6})
	}
}

func (w *wizard) policyMax() int {
	site, _ := w.src.Site()
	return site.Access.PasswordMaxLength
}

func (w *wizard) next() tea.Cmd {
	if w.at+1 < len(w.pages) && w.pages[w.at+1] != pageDone {
		w.at++
		w.enter()
		return nil
	}
	return w.commit()
}

// commit stores what the wizard collected, in the background under the
// session's context.
func (w *wizard) commit() tea.Cmd {
	ctx, p, acc := w.s.Ctx, w.s.Principal, w.acc
	var run func() (string, error)
	if w.setup {
		req := access.FirstAdmin{Name: w.name, Password: w.password, TOTPSecret: w.secret, TOTPCode: w.code, AcceptPrivacy: w.accepted}
		run = func() (string, error) { a, err := acc.CompleteSetup(ctx, p, req); return a.Name, err }
	} else {
		req := access.Enrolment{Password: w.password, TOTPSecret: w.secret, TOTPCode: w.code, AcceptPrivacy: w.accepted}
		run = func() (string, error) { _, err := acc.CompleteSteps(ctx, p, req); return "", err }
	}
	w.err = ""
	return tea.Batch(w.busy.Start(w.s.Styles, "saving…"), func() tea.Msg {
		created, err := run()
		return wizardCommitMsg{created: created, err: err}
	})
}

// committed shows the outcome of commit.
func (w *wizard) committed(msg wizardCommitMsg) tea.Cmd {
	w.busy.Stop()
	switch {
	case msg.err != nil:
		w.err = msg.err.Error()
		return nil
	case w.setup:
		w.created = msg.created
		w.at = len(w.pages) - 1
		return nil
	}
	return func() tea.Msg { return common.WizardDoneMsg{} }
}

func (w *wizard) Update(msg tea.Msg) (*wizard, tea.Cmd) {
	switch msg := msg.(type) {
	case wizardCommitMsg:
		return w, w.committed(msg)
	case tea.KeyPressMsg, tea.PasteMsg:
		if w.busy.Active() {
			return w, nil
		}
	default:
		return w, w.busy.Update(msg)
	}
	k, isKey := msg.(tea.KeyPressMsg)
	switch w.pages[w.at] {
	case pageDone:
		if isKey && (k.String() == "enter" || k.String() == "q") {
			return w, common.QuitWith(fmt.Sprintf("Administrator %q created. Log in again: ssh %s@<gateway>", w.created, w.created))
		}
		return w, nil
	case pagePrivacy:
		if isKey {
			switch k.String() {
			case "a", "enter":
				w.accepted = true
				return w, w.next()
			case "d", "esc":
				return w, common.QuitWith("You did not accept the privacy notice, so the gateway cannot be used. Log in again to accept it.")
			}
		}
		return w, nil
	}
	cmd, out := w.form.Step(msg)
	if out != common.Submitted {
		// esc does not leave a wizard: there is nowhere to go back to.
		return w, cmd
	}
	switch w.pages[w.at] {
	case pageAccount:
		name := strings.TrimSpace(w.form.Value(0))
		if err := access.ValidateName(name); err != nil {
			w.form.SetError(err.Error())
			return w, nil
		}
		if err := w.checkPasswords(name, w.form.Value(1), w.form.Value(2)); err != nil {
			w.form.SetError(err.Error())
			return w, w.form.ClearSecrets()
		}
		w.name, w.password = name, w.form.Value(1)
	case pagePassword:
		if err := w.checkPasswords(w.name, w.form.Value(0), w.form.Value(1)); err != nil {
			w.form.SetError(err.Error())
			return w, w.form.ClearSecrets()
		}
		w.password = w.form.Value(0)
	case pageTOTP:
		code := strings.TrimSpace(w.form.Value(0))
		if !w.acc.CheckTOTP(w.secret, code) {
			w.form.SetError(access.ErrBadCode.Error())
			return w, nil
		}
		w.code = code
	}
	return w, w.next()
}

func (w *wizard) checkPasswords(name, pw, repeat string) error {
	if err := w.acc.PolicyFor(pw, name); err != nil {
		return err
	}
	if pw != repeat {
		return errors.New("the two passwords differ")
	}
	return nil
}

func (w *wizard) View() string {
	st := w.s.Styles
	title := "First login"
	if w.setup {
		title = "Gateway setup"
	}
	steps := len(w.pages)
	if w.setup {
		steps-- // the done page is not a step
	}
	var body string
	heading := st.Title.Render(title) + st.Text.Dim.Render(fmt.Sprintf("  step %d of %d", min(w.at+1, steps), steps))
	switch w.pages[w.at] {
	case pageAccount:
		body = st.Text.Normal.Render("Create the first administrator. The setup token stops working\nonce this is done, and this is the only way into a new gateway.") + "\n\n" + w.form.View()
	case pagePassword:
		body = st.Text.Normal.Render("Welcome, "+w.name+". Choose your own password: nobody else will know it.") + "\n\n" +
			st.Text.Dim.Render(passwordRules(w.policyMax())) + "\n\n" + w.form.View()
	case pagePrivacy:
		body = st.Text.Normal.Render(privacyNotice) + "\n\n" + st.Text.Accent.Render("a / enter") + st.Text.Normal.Render(" accept   ") + st.Text.Accent.Render("d / esc") + st.Text.Normal.Render(" decline and log out")
	case pageTOTP:
		label := w.name + "@" + w.s.GatewayID
		qr := common.RenderQR(access.TOTPURI(w.secret, label))
		text := st.Text.Normal.Render("Scan the code with an authenticator app\n(or type the secret), then enter the\n6-digit code it shows.") + "\n\n" +
			st.Text.Dim.Render("Secret") + "\n" + st.Text.Strong.Render(groupSecret(w.secret)) + "\n\n" + w.form.View()
		body = lipgloss.JoinHorizontal(lipgloss.Top, qr, "  ", text)
	case pageDone:
		body = st.Text.OK.Render(fmt.Sprintf("Administrator %q created.", w.created)) + "\n\n" + st.Text.Normal.Render("The setup token has been destroyed. Log in again as "+w.created+"\nwith your password and a code from your app.\n\nPress enter to close this session.")
	}
	if w.busy.Active() {
		body += "\n\n" + w.busy.View(st)
	}
	if w.err != "" {
		body += "\n\n" + st.Text.Error.Render(w.err)
	}
	return heading + "\n\n" + body
}

func passwordRules(maxLen int) string {
	return fmt.Sprintf("8 to %d characters, with an upper-case letter, a lower-case letter, a digit\nand one of %s; no spaces, not a common password, not your name.", maxLen, access.Special)
}

// groupSecret splits a base32 secret into groups of four for reading.
func groupSecret(s string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), " ")
}
