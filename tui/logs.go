package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// logsView holds the entries of the logs screen: the audit log or the
// system log, filtered, in a scrollable viewport.
type logsScreen struct {
	c      *shared
	w, h   int
	audit  bool
	follow bool
	vp     viewport.Model
	filter textinput.Model
	typing bool
	lines  []string
	keys   struct{ Audit, Follow, Filter, Clear key.Binding }
}

const logsKept = 2000

func newLogsScreen(c *shared) *logsScreen {
	l := &logsScreen{c: c, audit: true, follow: true}
	l.vp = viewport.New()
	l.filter = textinput.New()
	l.filter.Prompt = "/"
	l.filter.CharLimit = 64
	l.filter.SetStyles(c.st.TextInput())
	l.keys.Audit = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "audit/system"))
	l.keys.Follow = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow"))
	l.keys.Filter = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter"))
	l.keys.Clear = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter"))
	l.reload()
	return l
}

func (l *logsScreen) Title() string { return "Logs" }
func (l *logsScreen) Keys() []key.Binding {
	return []key.Binding{l.keys.Audit, l.keys.Follow, l.keys.Filter, l.keys.Clear}
}
func (l *logsScreen) Capturing() bool { return l.typing }
func (l *logsScreen) Restyle()        { l.filter.SetStyles(l.c.st.TextInput()); l.render() }

func (l *logsScreen) SetSize(w, h int) {
	l.w, l.h = w, h
	l.vp.SetWidth(w)
	l.vp.SetHeight(max(h-2, 1))
	l.render()
}

func (l *logsScreen) auditLine(e store.AuditEvent, names map[string]string) string {
	return fmt.Sprintf("%6d %s %-12s %-9s %-18s %-14s %s", e.Seq, e.TS.In(l.loc()).Format("01-02 15:04:05"), clip(actorName(names, e.Actor), 12), e.Role, e.Action, clip(e.Target, 14), e.Result)
}

func (l *logsScreen) loc() *time.Location {
	site, _ := l.c.gw.Site()
	return site.Clock.Location()
}

func (l *logsScreen) reload() {
	l.lines = l.lines[:0]
	if l.audit {
		events, _ := l.c.gw.Store().ListAudit(store.AuditFilter{Limit: logsKept, Newest: true})
		names := l.c.acc.Names()
		for _, e := range events {
			l.lines = append(l.lines, l.auditLine(e, names))
		}
	} else {
		for _, r := range l.c.gw.Logs() {
			l.lines = append(l.lines, r.String())
		}
	}
	l.render()
}

func (l *logsScreen) render() {
	needle := strings.ToLower(l.filter.Value())
	var shown []string
	for _, line := range l.lines {
		if needle == "" || strings.Contains(strings.ToLower(line), needle) {
			shown = append(shown, l.c.st.Text.Normal.Render(clip(line, max(l.w, 10))))
		}
	}
	if len(shown) == 0 {
		shown = []string{l.c.st.Text.Dim.Render("no entries")}
	}
	l.vp.SetContentLines(shown)
	if l.follow {
		l.vp.GotoBottom()
	}
}

func (l *logsScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case eventMsg:
		switch {
		case l.audit && msg.ev.Kind == device.EventAudit:
			l.lines = append(l.lines, l.auditLine(msg.ev.Audit, l.c.acc.Names()))
		case !l.audit && msg.ev.Kind == device.EventLog:
			l.lines = append(l.lines, msg.ev.Log.String())
		default:
			return l, nil
		}
		if len(l.lines) > logsKept {
			l.lines = l.lines[len(l.lines)-logsKept:]
		}
		l.render()
		return l, nil
	case tea.KeyPressMsg:
		if l.typing {
			switch msg.String() {
			case "enter":
				l.typing = false
				l.filter.Blur()
				return l, nil
			case "esc":
				l.typing = false
				l.filter.Blur()
				l.filter.SetValue("")
				l.render()
				return l, nil
			}
			var cmd tea.Cmd
			l.filter, cmd = l.filter.Update(msg)
			l.render()
			return l, cmd
		}
		switch {
		case key.Matches(msg, l.keys.Audit):
			l.audit = !l.audit
			l.reload()
			return l, nil
		case key.Matches(msg, l.keys.Follow):
			l.follow = !l.follow
			l.render()
			return l, nil
		case key.Matches(msg, l.keys.Filter):
			l.typing = true
			return l, l.filter.Focus()
		case key.Matches(msg, l.keys.Clear):
			l.filter.SetValue("")
			l.render()
			return l, nil
		}
		var cmd tea.Cmd
		l.vp, cmd = l.vp.Update(msg)
		// Scrolling up leaves follow mode; reaching the end resumes it.
		l.follow = l.vp.AtBottom()
		return l, cmd
	case tea.PasteMsg:
		if l.typing {
			var cmd tea.Cmd
			l.filter, cmd = l.filter.Update(msg)
			l.render()
			return l, cmd
		}
	}
	return l, nil
}

func (l *logsScreen) View() string {
	st := l.c.st
	which := "System log"
	if l.audit {
		which = "Audit log"
	}
	state := "paused"
	if l.follow {
		state = "following"
	}
	head := st.Title.Render(which) + st.Text.Dim.Render(fmt.Sprintf("  %d entries · %s", len(l.lines), state))
	filter := st.Text.Dim.Render("/ to filter")
	if l.typing || l.filter.Value() != "" {
		filter = l.filter.View()
	}
	return lipgloss.JoinVertical(lipgloss.Left, head, filter, l.vp.View())
}
