package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// dashboard is the live overview every role sees.
type dashboard struct {
	c        *shared
	w, h     int
	health   device.Health
	recent   []store.AuditEvent
	names    map[string]string
	firmware string // the latest firmware progress, while an apply runs
}

func newDashboard(c *shared) *dashboard {
	d := &dashboard{c: c}
	d.refresh()
	return d
}

func (d *dashboard) refresh() {
	d.health = d.c.gw.Health()
	d.recent, _ = d.c.gw.Store().ListAudit(store.AuditFilter{Limit: 12, Newest: true})
	d.names = d.c.acc.Names()
}

func (d *dashboard) Title() string       { return "Dashboard" }
func (d *dashboard) SetSize(w, h int)    { d.w, d.h = w, h }
func (d *dashboard) Keys() []key.Binding { return nil }
func (d *dashboard) Capturing() bool     { return false }
func (d *dashboard) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tickMsg:
		d.refresh()
	case eventMsg:
		if msg.ev.Kind == device.EventFirmware {
			d.firmware = msg.ev.Detail
		}
		d.refresh()
	}
	return d, nil
}

// actorName shows an audit actor id as a name for people.
func actorName(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

func (d *dashboard) View() string {
	st := d.c.st
	h := d.health
	half := (d.w - 1) / 2
	kv := func(k, v string) string {
		return st.Text.Dim.Render(fmt.Sprintf("%-10s", k)) + st.Text.Normal.Render(v)
	}
	gw := []string{
		st.Title.Render("Gateway"),
		kv("id", h.GatewayID),
		kv("site", clip(fmt.Sprintf("%s (rev %d)", h.Site, h.SiteRev), half-14)),
		kv("uptime", (time.Duration(h.UptimeS) * time.Second).String()),
		kv("sessions", fmt.Sprint(h.Sessions)),
		kv("firmware", clip(strings.TrimSpace(h.Firmware.Version+" "+h.Firmware.Slot), half-14)),
		kv("clock", clip(clockText(h.Clock), half-14)),
	}
	if d.firmware != "" {
		gw = append(gw, st.Text.Accent.Render(clip(d.firmware, half-4)))
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
	storeBox := []string{
		st.Title.Render("Store"),
		kv("size", formatBytes(h.Store.SizeBytes)),
		st.Text.Dim.Render(fmt.Sprintf("%-10s", "audit")) + audit,
		st.Text.Dim.Render(fmt.Sprintf("%-10s", "outbox")) + out,
		kv("evicted", fmt.Sprintf("%d outbox, %d audit", h.Outbox.Evicted, h.Store.AuditEvicted)),
		kv("devices", fmt.Sprintf("%d of %d online", h.Modbus.DevicesOnline, h.Modbus.DevicesTotal)),
		kv("uplink", clip(uplinkText(h), half-14)),
	}
	box := st.Box.Width(half)
	top := lipgloss.JoinHorizontal(lipgloss.Top, box.Render(strings.Join(gw, "\n")), " ", box.Render(strings.Join(storeBox, "\n")))

	var alerts string
	if len(h.Alerts) > 0 {
		lines := []string{st.Title.Render("Alerts")}
		for _, a := range h.Alerts {
			style := st.Text.Warn
			if a.Severity == "critical" {
				style = st.Text.Error
			}
			lines = append(lines, style.Render(clip(fmt.Sprintf("%-17s %s  %s", a.Rule, a.Since.In(d.loc()).Format("15:04"), a.Detail), d.w-6)))
		}
		alerts = st.Box.Width(d.w - 2).Render(strings.Join(lines, "\n"))
		top = lipgloss.JoinVertical(lipgloss.Left, top, alerts)
	}
	rows := []string{st.Title.Render("Recent audit events")}
	room := d.h - lipgloss.Height(top) - 3
	events := d.recent
	if room < 0 {
		room = 0
	}
	if len(events) > room {
		events = events[len(events)-room:]
	}
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		res := st.Text.OK
		if device.Result(e.Result) != device.ResultOK {
			res = st.Text.Warn
		}
		line := fmt.Sprintf("%s  %-12s %-18s ", e.TS.In(d.loc()).Format("15:04:05"), clip(actorName(d.names, e.Actor), 12), e.Action)
		rows = append(rows, st.Text.Normal.Render(clip(line, d.w-14))+res.Render(e.Result))
	}
	if len(events) == 0 {
		rows = append(rows, st.Text.Dim.Render("no events yet"))
	}
	recent := st.Box.Width(d.w - 2).Render(strings.Join(rows, "\n"))
	return lipgloss.JoinVertical(lipgloss.Left, top, recent)
}

func (d *dashboard) loc() *time.Location {
	site, _ := d.c.gw.Site()
	return site.Clock.Location()
}

func clockText(c device.ClockHealth) string {
	if c.Synced {
		return fmt.Sprintf("synced, %+.0f ms (%s)", c.OffsetMS, c.Source)
	}
	return "not synchronised"
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
