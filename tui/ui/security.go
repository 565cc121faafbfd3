package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// SecuritySource is what the Security tab reads: the firewall and the
// endpoints in the health, and the support window; *device.Gateway
// implements it.
type SecuritySource interface {
	Health() device.Health
	// Support is the support window, nil when the gateway runs none.
	Support() device.SupportWindow
}

// accountNames finds who opened the support window; *access.Service
// implements it.
type accountNames interface {
	Account(id string) (access.Account, error)
}

// securitySource is d.Security, or the gateway.
func (d Deps) securitySource() SecuritySource {
	if d.Security != nil {
		return d.Security
	}
	return d.Gateway
}

// Layout bounds of the Security tab.
const (
	// secErrorLines bounds how many lines an error (a failed apply, a
	// name that does not resolve, the VPN's) takes.
	secErrorLines = 2
	// secTimeLayout is how the tab writes the firewall's and the support
	// window's times, in UTC like the exec commands.
	secTimeLayout = "2006-01-02 15:04 UTC"
)

// securitySnapshot is one reading of the firewall, the endpoints and the
// support window, taken off the Update path.
type securitySnapshot struct {
	fw         device.FirewallHealth
	support    device.SupportStatus
	hasSupport bool   // the gateway runs a support window
	by         string // who opened it: the account's name, else the id
}

// securitySnapshotMsg delivers a snapshot to the Security tab.
type securitySnapshotMsg struct{ snap securitySnapshot }

func readSecurity(src SecuritySource, names accountNames) securitySnapshot {
	snap := securitySnapshot{fw: src.Health().Firewall}
	if w := src.Support(); w != nil {
		snap.hasSupport, snap.support = true, w.Status()
		snap.by = snap.support.By
		if names != nil && snap.by != "" {
			if a, err := names.Account(snap.by); err == nil {
				snap.by = a.Name
			}
		}
	}
	return snap
}

// securityScreen shows, read-only, the firewall (per interface the open
// ports and the drop counters), the outbound endpoints and what they
// resolve to, and the support window with its VPN (issue 17). It reads
// them on a command, never in Update: on every tick and when the site
// changes. Changing any of it is the site's and the exec commands' job.
type securityScreen struct {
	s        *common.Session
	src      SecuritySource
	names    accountNames
	w, h     int
	snap     securitySnapshot
	have     bool // snap holds a reading
	fetching bool
	offset   int // the first line shown when the tab is taller than the screen
	lines    int // how many lines the last View had
}

func newSecurityScreen(s *common.Session, src SecuritySource, names accountNames) *securityScreen {
	return &securityScreen{s: s, src: src, names: names}
}

func (m *securityScreen) Title() string    { return "Security" }
func (m *securityScreen) SetSize(w, h int) { m.w, m.h = w, h }
func (m *securityScreen) Capturing() bool  { return false }

func (m *securityScreen) Keys() []key.Binding {
	if m.lines > m.h {
		return []key.Binding{m.s.Keys.Up, m.s.Keys.Down}
	}
	return nil
}

// fetch reads the gateway on a command; at most one read is under way.
func (m *securityScreen) fetch() tea.Cmd {
	if m.fetching {
		return nil
	}
	m.fetching = true
	src, names := m.src, m.names
	return func() tea.Msg { return securitySnapshotMsg{readSecurity(src, names)} }
}

func (m *securityScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case securitySnapshotMsg:
		m.fetching, m.have, m.snap = false, true, msg.snap
		return m, nil
	case common.TickMsg:
		return m, m.fetch()
	case common.EventMsg:
		if msg.Event.Kind == device.EventSite {
			return m, m.fetch()
		}
		return m, nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, m.s.Keys.Up):
			m.offset = max(m.offset-1, 0)
		case key.Matches(msg, m.s.Keys.Down):
			m.offset = min(m.offset+1, max(m.lines-m.h, 0))
		}
		return m, nil
	}
	if !m.have {
		// The first message of any kind (the program's start) reads the
		// gateway, so the tab has data before the first tick.
		return m, m.fetch()
	}
	return m, nil
}

func (m *securityScreen) View() string {
	st := m.s.Styles
	if !m.have {
		return st.Title.Render("Firewall") + "\n" + st.Text.Dim.Render("Reading the firewall and the support window…")
	}
	lines := m.firewallView()
	lines = append(lines, "")
	lines = append(lines, m.endpointsView()...)
	lines = append(lines, "")
	lines = append(lines, m.supportView()...)
	// Taller than the screen (many interfaces or endpoints): ↑/↓ scroll.
	m.lines = len(lines)
	m.offset = min(m.offset, max(len(lines)-m.h, 0))
	if m.h > 0 && len(lines) > m.h {
		lines = lines[m.offset : m.offset+m.h]
	}
	return strings.Join(lines, "\n")
}

// firewallView is the firewall's state and, per interface, what is open
// and what was dropped in and out.
func (m *securityScreen) firewallView() []string {
	st := m.s.Styles
	f := m.snap.fw
	var state, note string
	switch {
	case f.Active:
		state = st.Text.OK.Render("on")
		note = " · table inet sitegate"
		if !f.Applied.IsZero() {
			note += " applied " + f.Applied.UTC().Format(secTimeLayout) + " (" + format.Ago(m.s.Now(), f.Applied) + ")"
		}
	case f.Enabled:
		state = st.Text.Warn.Render("not applied")
		note = " · needs sitegate run --net linux (as root)"
	default:
		state = st.Text.Dim.Render("off")
	}
	lines := []string{st.Title.Render("Firewall") + "  " + state + st.Text.Normal.Render(common.Clip(note, max(m.w-lipgloss.Width("Firewall  ")-lipgloss.Width(state), 3)))}
	if f.Error != "" {
		for _, l := range wrapWords(f.Error, m.w, secErrorLines) {
			lines = append(lines, st.Text.Error.Render(l))
		}
	}
	if !f.Enabled && !f.Active {
		return append(lines,
			st.Text.Dim.Render(common.Clip("Nothing is filtered: set firewall.enabled: true in the site", m.w)),
			st.Text.Dim.Render(common.Clip("and run the gateway as root with sitegate run --net linux.", m.w)))
	}
	switch {
	case len(f.Interfaces) == 0 && !f.Active:
		return append(lines, st.Text.Dim.Render(common.Clip("Nothing is filtered until the table is in place.", m.w)))
	case len(f.Interfaces) == 0:
		return append(lines, st.Text.Dim.Render(common.Clip("No interfaces known yet: everything that arrives is counted as other.", m.w)))
	}
	rows := make([][]string, 0, len(f.Interfaces)+1)
	for _, i := range f.Interfaces {
		rows = append(rows, []string{i.Name, i.Kind, format.Dash(strings.Join(i.OpenPorts, ", ")), dropText(i.InDrops), dropText(i.OutDrops)})
	}
	rows = append(rows, []string{"(other)", "", "", dropText(f.OtherDrops), ""})
	return append(lines, secTable(m.s, []string{"INTERFACE", "KIND", "OPEN", "DROPPED IN", "DROPPED OUT"}, rows, 2, m.w)...)
}

// dimLines is a hint in at most secErrorLines lines of w cells.
func dimLines(s *common.Session, text string, w int) []string {
	lines := wrapWords(text, w, secErrorLines)
	for i, l := range lines {
		lines[i] = s.Styles.Text.Dim.Render(l)
	}
	return lines
}

// dropText is a drop counter: packets and bytes.
func dropText(c device.DropCounter) string {
	if c.Packets == 0 {
		return "0"
	}
	return format.Count(int(c.Packets), "pkt") + " / " + format.Bytes(int64(min(c.Bytes, 1<<62)))
}

// endpointsView is the outbound allow-list: each name, its port, what it
// resolves to until when, and why a name does not resolve.
func (m *securityScreen) endpointsView() []string {
	st := m.s.Styles
	eps := m.snap.fw.Endpoints
	if len(eps) == 0 {
		return append([]string{st.Title.Render("Endpoints") + st.Text.Dim.Render("  none")},
			dimLines(m.s, "The gateway may contact any destination: list the ones it needs in the site's endpoints: (host, port, proto).", m.w)...)
	}
	failing := 0
	for _, ep := range eps {
		if ep.Error != "" {
			failing++
		}
	}
	summary := fmt.Sprintf("  %d", len(eps))
	if failing > 0 {
		summary += fmt.Sprintf(", %d not resolved", failing)
	}
	lines := []string{st.Title.Render("Endpoints") + st.Text.Dim.Render(summary)}
	rows := make([][]string, 0, len(eps))
	for _, ep := range eps {
		expires := "-"
		if !ep.Expires.IsZero() && len(ep.Addresses) > 0 {
			expires = inText(m.s.Now(), ep.Expires)
		}
		rows = append(rows, []string{ep.Host, strconv.Itoa(ep.Port), ep.Proto, expires, format.Dash(strings.Join(ep.Addresses, ", "))})
	}
	table := secTable(m.s, []string{"HOST", "PORT", "PROTO", "REFRESH", "ADDRESSES"}, rows, 4, m.w)
	lines = append(lines, table[0])
	for i, ep := range eps {
		lines = append(lines, table[i+1])
		if ep.Error != "" {
			for _, l := range wrapWords("↳ "+ep.Error, m.w-2, secErrorLines) {
				lines = append(lines, "  "+st.Text.Error.Render(l))
			}
		}
		if ep.Truncated {
			lines = append(lines, "  "+st.Text.Warn.Render(common.Clip("↳ more addresses than allowed: the first are used", m.w-2)))
		}
	}
	return lines
}

// inText says how long until t, for the next lookup of a name: "in
// 4m12s", or "due" once it has passed.
func inText(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d < time.Second:
		return "due"
	case d < time.Minute:
		return fmt.Sprintf("in %ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("in %dm%ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("in %dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// supportView is the support window: open or closed, by whom, until
// when, and its VPN's state and traffic.
func (m *securityScreen) supportView() []string {
	st := m.s.Styles
	if !m.snap.hasSupport {
		return append([]string{st.Title.Render("Support window") + "  " + st.Text.Dim.Render("not set up")},
			dimLines(m.s, strings.ToUpper(device.ErrNoSupport.Error()[:1])+device.ErrNoSupport.Error()[1:]+".", m.w)...)
	}
	s := m.snap.support
	kv := func(k, v string) string { return common.KV(st, 9, k, common.Clip(v, max(m.w-9, 3))) }
	var lines []string
	if s.Open {
		note := fmt.Sprintf(" until %s (%s)", s.Until.UTC().Format(secTimeLayout), inText(m.s.Now(), s.Until))
		lines = append(lines, st.Title.Render("Support window")+"  "+st.Text.Warn.Render("open")+
			st.Text.Normal.Render(common.Clip(note, max(m.w-lipgloss.Width("Support window  open"), 3))),
			kv("opened", fmt.Sprintf("by %s, %s (%s)", format.Dash(m.snap.by), s.Since.UTC().Format(secTimeLayout), format.Ago(m.s.Now(), s.Since))))
	} else {
		lines = append(lines, st.Title.Render("Support window")+"  "+st.Text.Dim.Render("closed"),
			st.Text.Dim.Render(common.Clip("An administrator opens one with ssh gw support open --for 2h.", m.w)))
	}
	vpn := format.Dash(s.State)
	if s.LocalIP != "" {
		vpn += fmt.Sprintf(" · %s, server %s", s.LocalIP, format.Dash(s.Remote))
	}
	lines = append(lines, kv("vpn", vpn),
		kv("traffic", format.Bytes(int64(min(s.BytesIn, 1<<62)))+" in · "+format.Bytes(int64(min(s.BytesOut, 1<<62)))+" out"))
	if s.Error != "" {
		for _, l := range wrapWords(s.Error, m.w, secErrorLines) {
			lines = append(lines, st.Text.Error.Render(l))
		}
	}
	return lines
}

// secTable lays out a table in w cells: each column as wide as its widest
// cell, two cells apart; the flex column gets what is left, and its cells
// are cut to it.
func secTable(s *common.Session, head []string, rows [][]string, flex, w int) []string {
	st := s.Styles
	widths := make([]int, len(head))
	for j, h := range head {
		widths[j] = lipgloss.Width(h)
		for _, r := range rows {
			widths[j] = max(widths[j], lipgloss.Width(r[j]))
		}
	}
	fixed := 2 * (len(head) - 1)
	for j, cw := range widths {
		if j != flex {
			fixed += cw
		}
	}
	widths[flex] = max(min(widths[flex], w-fixed), 3)
	line := func(cells []string) string {
		out := make([]string, len(cells))
		for j, c := range cells {
			out[j] = fmt.Sprintf("%-*s", widths[j], common.Clip(c, widths[j]))
			if j == len(cells)-1 {
				out[j] = common.Clip(c, widths[j])
			}
		}
		return common.Clip(strings.TrimRight(strings.Join(out, "  "), " "), w)
	}
	lines := []string{st.Table.Header.Render(line(head))}
	for _, r := range rows {
		lines = append(lines, st.Table.Row.Render(line(r)))
	}
	return lines
}
