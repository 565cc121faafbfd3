package common

import (
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/themes"
)

// Busy shows that background work runs: a spinner and what it does. The
// zero Busy is idle.
type Busy struct {
	spin  spinner.Model
	label string
	on    bool
}

// Start shows label with a spinner and returns the command that turns it.
func (b *Busy) Start(st *themes.Styles, label string) tea.Cmd {
	b.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(st.Text.Accent))
	b.label, b.on = label, true
	return b.spin.Tick
}

// SetLabel changes what the indicator says (progress).
func (b *Busy) SetLabel(label string) { b.label = label }

// Stop hides the indicator.
func (b *Busy) Stop() { b.on = false }

// Active reports whether work runs.
func (b *Busy) Active() bool { return b.on }

// Update turns the spinner; other messages are ignored.
func (b *Busy) Update(msg tea.Msg) tea.Cmd {
	if !b.on {
		return nil
	}
	if _, ok := msg.(spinner.TickMsg); !ok {
		return nil
	}
	var cmd tea.Cmd
	b.spin, cmd = b.spin.Update(msg)
	return cmd
}

// View renders the spinner and label ("" when idle).
func (b *Busy) View(st *themes.Styles) string {
	if !b.on {
		return ""
	}
	return b.spin.View() + " " + st.Text.Normal.Render(b.label)
}
