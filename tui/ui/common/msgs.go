package common

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// Messages the root hands every screen, and the ones screens send it.
type (
	// TickMsg arrives every second.
	TickMsg time.Time
	// EventMsg is a live event of the gateway; Missed counts the events
	// the session was too slow for.
	EventMsg struct {
		Event  device.Event
		Missed uint64
	}
	// FlashMsg shows a one-line status message.
	FlashMsg struct {
		Text  string
		IsErr bool
	}
	// QuitMsg ends the session with a message shown after the console.
	QuitMsg struct{ Text string }
	// ThemeChangedMsg switches the theme.
	ThemeChangedMsg struct{ Choice string }
	// WizardDoneMsg leaves a first-login wizard for the console.
	WizardDoneMsg struct{}
)

// Flash shows text on the status line.
func Flash(text string) tea.Cmd { return func() tea.Msg { return FlashMsg{Text: text} } }

// FlashErr shows err on the status line.
func FlashErr(err error) tea.Cmd {
	return func() tea.Msg { return FlashMsg{Text: err.Error(), IsErr: true} }
}

// QuitWith ends the session with text.
func QuitWith(text string) tea.Cmd { return func() tea.Msg { return QuitMsg{text} } }

// Tick delivers a TickMsg in a second.
func Tick() tea.Cmd { return tea.Tick(time.Second, func(t time.Time) tea.Msg { return TickMsg(t) }) }

// ReadOnly tells a user who pressed a key their role may not use that the
// screen is read-only for them, naming the permission and who has it.
func ReadOnly(s *Session, perm access.Perm) tea.Cmd {
	return FlashErr(fmt.Errorf("read-only for you: the permission to %s needs the %s role, you are %s", perm, access.RoleFor(perm), s.Principal.Account.Role))
}
