package ui

import (
	"fmt"
	"sort"
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

// recentEvents is how many audit events the dashboard keeps.
const recentEvents = 12

// DashboardSource is what the dashboard reads.
type DashboardSource interface {
	Health() device.Health
	AuditLog() device.AuditReader
	Site() (*device.Site, uint64)
}

// dashboard is the live overview every role sees.
type dashboard struct {
	s        *common.Session
	src      DashboardSource
	w, h     int
	health   device.Health
	recent   []device.AuditRecord
	names    map[string]string
	firmware string // the latest firmware progress, while an apply runs
}

func newDashboard(s *common.Session, src DashboardSource) *dashboard {
	d := &dashboard{s: s, src: src}
	d.refresh()
	return d
}

// refresh reads what the dashboard shows, and only what the session's role
// may read: the audit events and account names need the logs permission
// (as `logs --audit` does), the store and outbox figures and the open
// sessions the health permission. A viewer sees the gateway, the field
// devices, the uplink and the alerts.
func (d *dashboard) refresh() {
	d.health = d.src.Health()
	d.recent, d.names = nil, nil
	if d.s.Can(access.PermLogs) {
		d.recent, _ = d.src.AuditLog().ListAudit(device.AuditFilter{Limit: recentEvents, Newest: true})
		d.names = d.s.Rules.Names()
	}
}

func (d *dashboard) Title() string       { return "Dashboard" }
func (d *dashboard) SetSize(w, h int)    { d.w, d.h = w, h }
func (d *dashboard) Keys() []key.Binding { return nil }
func (d *dashboard) Capturing() bool     { return false }

func (d *dashboard) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case common.TickMsg:
		d.refresh()
	case common.EventMsg:
		if msg.Event.Kind == device.EventFirmware {
			d.firmware = msg.Event.Detail
		}
		d.refresh()
	}
	return d, nil
}

func (d *dashboard) View() string {
	st := d.s.Styles
	h := d.health
	health := d.s.Can(access.PermHealth)
	half := (d.w - 1) / 2
	kv := func(k, v string) string { return common.KV(st, 10, k, v) }
	gw := []string{
		st.Title.Render("Gateway"),
		kv("id", h.GatewayID),
		kv("site", common.Clip(fmt.Sprintf("%s (rev %d)", h.Site, h.SiteRev), half-14)),
		kv("uptime", (time.Duration(h.UptimeS) * time.Second).String()),
	}
	if health {
		gw = append(gw, kv("sessions", fmt.Sprint(h.Sessions)))
	}
	gw = append(gw,
		kv("firmware", common.Clip(strings.TrimSpace(h.Firmware.Version+" "+h.Firmware.Slot), half-14)),
		kv("clock", common.Clip(clockText(h.Clock), half-14)),
	)
	if d.firmware != "" {
		gw = append(gw, st.Text.Accent.Render(common.Clip(d.firmware, half-4)))
	}
	auditLine := fmt.Sprintf("%d / %d", h.Store.AuditEvents, h.Store.AuditCapacity)
	audit := st.Text.Normal.Render(auditLine)
	if h.Store.AuditNearFull {
		audit = st.Text.Warn.Render(auditLine + " nearly full")
	}
	outLine := fmt.Sprintf("%d queued, oldest %ds", h.Outbox.Depth, h.Outbox.OldestAgeS)
	out := st.Text.Normal.Render(outLine)
	if h.Outbox.NearFull || h.Outbox.Evicted > 0 {
		out = st.Text.Warn.Render(outLine)
	}
	storeBox := []string{st.Title.Render("Field and uplink")}
	if health {
		storeBox = []string{
			st.Title.Render("Store"),
			kv("size", format.Bytes(h.Store.SizeBytes)),
			st.Text.Dim.Render(fmt.Sprintf("%-10s", "audit")) + audit,
			st.Text.Dim.Render(fmt.Sprintf("%-10s", "outbox")) + out,
			kv("evicted", fmt.Sprintf("%d outbox, %d audit", h.Outbox.Evicted, h.Store.AuditEvicted)),
		}
	}
	storeBox = append(storeBox,
		kv("devices", common.Clip(fieldText(h.Field), half-14)),
		kv("uplink", common.Clip(uplinkText(h), half-14)),
	)
	box := st.Box.Width(half)
	top := lipgloss.JoinHorizontal(lipgloss.Top, box.Render(strings.Join(gw, "\n")), " ", box.Render(strings.Join(storeBox, "\n")))
	if len(h.Alerts) > 0 {
		lines := []string{st.Title.Render("Alerts")}
		for _, a := range h.Alerts {
			style := st.Text.Warn
			if a.Severity == "critical" {
				style = st.Text.Error
			}
			lines = append(lines, style.Render(common.Clip(fmt.Sprintf("%-17s %s  %s", a.Rule, a.Since.In(d.loc()).Format("15:04"), a.Detail), d.w-6)))
		}
		top = lipgloss.JoinVertical(lipgloss.Left, top, st.Box.Width(d.w-2).Render(strings.Join(lines, "\n")))
	}
	if !d.s.Can(access.PermLogs) {
		return top
	}
	return lipgloss.JoinVertical(lipgloss.Left, top, d.recentBox(max(d.h-lipgloss.Height(top)-3, 0)))
}

// recentBox lists the newest audit events that fit in room lines.
func (d *dashboard) recentBox(room int) string {
	st := d.s.Styles
	rows := []string{st.Title.Render("Recent audit events")}
	events := d.recent
	if len(events) > room {
		events = events[len(events)-room:]
	}
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		res := st.Text.OK
		if device.Result(e.Result) != device.ResultOK {
			res = st.Text.Warn
		}
		line := fmt.Sprintf("%s  %-12s %-18s ", e.TS.In(d.loc()).Format("15:04:05"), common.Clip(common.NameOf(d.names, e.Actor), 12), e.Action)
		rows = append(rows, st.Text.Normal.Render(common.Clip(line, d.w-14))+res.Render(e.Result))
	}
	if len(events) == 0 {
		rows = append(rows, st.Text.Dim.Render("no events yet"))
	}
	return st.Box.Width(d.w - 2).Render(strings.Join(rows, "\n"))
}

func (d *dashboard) loc() *time.Location {
	site, _ := d.src.Site()
	return site.Clock.Location()
}

func clockText(c device.ClockHealth) string {
	if c.Synced {
		return fmt.Sprintf("synced, %+.0f ms (%s)", c.OffsetMS, c.Source)
	}
	return "not synchronised"
}

// fieldText is the field devices online, in all and per protocol.
func fieldText(f device.FieldHealth) string {
	text := fmt.Sprintf("%d of %d online", f.DevicesOnline, f.DevicesTotal)
	protos := make([]string, 0, len(f.Protocols))
	for p := range f.Protocols {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	var parts []string
	for _, p := range protos {
		c := f.Protocols[p]
		parts = append(parts, fmt.Sprintf("%s %d/%d", p, c.DevicesOnline, c.DevicesTotal))
	}
	if len(parts) > 0 {
		text += " · " + strings.Join(parts, ", ")
	}
	return text
}

func uplinkText(h device.Health) string {
	switch {
	case h.Uplink.Connected:
		return "connected"
	case h.Uplink.Broker == "":
		return "offline (no broker)"
	}
	return "disconnected"
}
