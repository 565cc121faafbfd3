package ui

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
	"github.com/sitegate/sitegate/tui/ui/common"
)

// LogsSource is what the logs screen reads.
type LogsSource interface {
	AuditLog() device.AuditReader
	Logs() []device.LogRecord
	Site() (*device.Site, uint64)
}

// logsScreen holds the entries of the logs screen: the audit log or the
// system log, filtered, in a scrollable viewport.
type logsScreen struct {
	s      *common.Session
	src    LogsSource
	w, h   int
	audit  bool
	follow bool
	vp     viewport.Model
	filter textinput.Model
	typing bool
	lines  []string
}

// logsKept bounds the entries the screen holds.
const logsKept = 2000

func newLogsScreen(s *common.Session, src LogsSource) *logsScreen {
	l := &logsScreen{s: s, src: src, audit: true, follow: true}
	l.vp = viewport.New()
	l.filter = textinput.New()
	l.filter.Prompt = "/"
	l.filter.CharLimit = 64
	l.filter.SetStyles(s.Styles.TextInput())
	l.reload()
	return l
}

func (l *logsScreen) Title() string { return "Logs" }
func (l *logsScreen) Keys() []key.Binding {
	k := l.s.Keys
	return []key.Binding{k.AuditToggle, k.Follow, k.Filter, k.ClearFilter}
}
func (l *logsScreen) Capturing() bool { return l.typing }
func (l *logsScreen) Restyle()        { l.filter.SetStyles(l.s.Styles.TextInput()); l.render() }

func (l *logsScreen) SetSize(w, h int) {
	l.w, l.h = w, h
	l.vp.SetWidth(w)
	l.vp.SetHeight(max(h-2, 1))
	l.render()
}

func (l *logsScreen) auditLine(e device.AuditRecord, names map[string]string) string {
	return fmt.Sprintf("%6d %s %-12s %-9s %-18s %-14s %s", e.Seq, e.TS.In(l.loc()).Format("01-02 15:04:05"), common.Clip(common.NameOf(names, e.Actor), 12), e.Role, e.Action, common.Clip(e.Target, 14), e.Result)
}

func (l *logsScreen) loc() *time.Location {
	site, _ := l.src.Site()
	return site.Clock.Location()
}

func (l *logsScreen) reload() {
	l.lines = l.lines[:0]
	if l.audit {
		events, _ := l.src.AuditLog().ListAudit(device.AuditFilter{Limit: logsKept, Newest: true})
		names := l.s.Rules.Names()
		for _, e := range events {
			l.lines = append(l.lines, l.auditLine(e, names))
		}
	} else {
		for _, r := range l.src.Logs() {
			l.lines = append(l.lines, r.String())
		}
	}
	l.render()
}

// filterWords are what people type, and the words of the logs they mean:
// "sync" finds uplink.cut, "login" finds account.locked.
var filterWords = map[string][]string{
	"sync":     {"sync.", "uplink.", "cloudsync"},
	"uplink":   {"uplink.", "sync.", "broker"},
	"cloud":    {"sync.", "uplink.", "broker"},
	"login":    {"login.", "account.locked", "account.unlocked"},
	"logins":   {"login.", "account.locked", "account.unlocked"},
	"lock":     {"account.locked", "account.unlocked"},
	"user":     {"user.", "account.", "privacy."},
	"users":    {"user.", "account.", "privacy."},
	"config":   {"config.", "sync.applied"},
	"change":   {"config.", "sync.applied"},
	"changes":  {"config.", "sync.applied"},
	"site":     {"config.", "sync.applied"},
	"firmware": {"firmware."},
	"update":   {"firmware.", "config."},
	"network":  {"network.", "sim.link", "radio.", "wan"},
	"wan":      {"network.", "sim.link"},
	"radio":    {"radio."},
	"field":    {"field.", "modbus"},
	"modbus":   {"field.", "modbus"},
	"write":    {"field.write"},
	"writes":   {"field.write"},
	"scan":     {"field.scan"},
	"denied":   {"denied"},
	"refused":  {"denied", "refused"},
	"failed":   {"failed", "failure"},
	"errors":   {"failed", "failure", "error"},
	"error":    {"failed", "failure", "error"},
	"report":   {"report."},
	"clock":    {"clock.", "ntp"},
	"time":     {"clock.", "ntp"},
}

// matchesFilter reports whether line holds every word of needle, each as
// typed or as one of the log words it stands for (filterWords).
func matchesFilter(line, needle string) bool {
	line = strings.ToLower(line)
	for _, w := range strings.Fields(strings.ToLower(needle)) {
		if strings.Contains(line, w) {
			continue
		}
		found := false
		for _, alt := range filterWords[w] {
			if strings.Contains(line, alt) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (l *logsScreen) render() {
	needle := strings.TrimSpace(l.filter.Value())
	var shown []string
	for _, line := range l.lines {
		if needle == "" || matchesFilter(line, needle) {
			shown = append(shown, l.s.Styles.Text.Normal.Render(common.Clip(line, max(l.w, 10))))
		}
	}
	if len(shown) == 0 {
		shown = []string{l.s.Styles.Text.Dim.Render("no entries")}
	}
	l.vp.SetContentLines(shown)
	if l.follow {
		l.vp.GotoBottom()
	}
}

func (l *logsScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	keys := l.s.Keys
	switch msg := msg.(type) {
	case common.EventMsg:
		switch {
		case l.audit && msg.Event.Kind == device.EventAudit:
			l.lines = append(l.lines, l.auditLine(msg.Event.Audit, l.s.Rules.Names()))
		case !l.audit && msg.Event.Kind == device.EventLog:
			l.lines = append(l.lines, msg.Event.Log.String())
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
		case key.Matches(msg, keys.AuditToggle):
			l.audit = !l.audit
			l.reload()
			return l, nil
		case key.Matches(msg, keys.Follow):
			l.follow = !l.follow
			l.render()
			return l, nil
		case key.Matches(msg, keys.Filter):
			l.typing = true
			return l, l.filter.Focus()
		case key.Matches(msg, keys.ClearFilter):
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
	st := l.s.Styles
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
