package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// syncScreen shows the uplink: connection, queue, publish rate, and a
// pending configuration conflict with its resolution.
type syncScreen struct {
	c       *shared
	w, h    int
	confirm string // "cloud" or "local" while asking
	keys    struct{ TakeCloud, KeepLocal, Cut, Restore key.Binding }
}

func newSyncScreen(c *shared) *syncScreen {
	s := &syncScreen{c: c}
	s.keys.TakeCloud = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "take cloud's"))
	s.keys.KeepLocal = key.NewBinding(key.WithKeys("k"), key.WithHelp("k", "keep local"))
	s.keys.Cut = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cut demo uplink"))
	s.keys.Restore = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restore uplink"))
	return s
}

func (s *syncScreen) Title() string    { return "Sync" }
func (s *syncScreen) SetSize(w, h int) { s.w, s.h = w, h }
func (s *syncScreen) Capturing() bool  { return s.confirm != "" }

func (s *syncScreen) Keys() []key.Binding {
	var ks []key.Binding
	up := s.c.gw.Uplink()
	if up == nil {
		return nil
	}
	if _, ok := up.Conflict(); ok && s.c.can(access.PermConfigEdit) {
		ks = append(ks, s.keys.TakeCloud, s.keys.KeepLocal)
	}
	if s.c.can(access.PermUsers) {
		if up.Status().Cut {
			ks = append(ks, s.keys.Restore)
		} else {
			ks = append(ks, s.keys.Cut)
		}
	}
	return ks
}

func (s *syncScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return s, nil
	}
	up := s.c.gw.Uplink()
	if up == nil {
		return s, nil
	}
	if s.confirm != "" {
		choice := s.confirm
		s.confirm = ""
		if k.String() != "y" {
			return s, nil
		}
		if err := s.c.acc.Authorize(s.c.p, access.PermConfigEdit); err != nil {
			return s, flashErr(err)
		}
		apply := func(cloud *device.Site) error {
			_, err := s.c.applySiteAs(s.c.p, cloud, "sync.applied")
			return err
		}
		if err := up.ResolveConflict(s.c.p.Actor(), choice == "cloud", apply); err != nil {
			return s, flashErr(err)
		}
		if choice == "cloud" {
			return s, flash("The cloud's configuration is now the site.")
		}
		return s, flash("Kept the local configuration; it is reported to the cloud.")
	}
	_, conflict := up.Conflict()
	switch {
	case conflict && s.c.can(access.PermConfigEdit) && key.Matches(k, s.keys.TakeCloud):
		s.confirm = "cloud"
	case conflict && s.c.can(access.PermConfigEdit) && key.Matches(k, s.keys.KeepLocal):
		s.confirm = "local"
	case s.c.can(access.PermUsers) && (key.Matches(k, s.keys.Cut) || key.Matches(k, s.keys.Restore)):
		if err := s.c.acc.Authorize(s.c.p, access.PermUsers); err != nil {
			return s, flashErr(err)
		}
		if err := up.SetCut(s.c.p.Actor(), key.Matches(k, s.keys.Cut)); err != nil {
			return s, flashErr(err)
		}
	}
	return s, nil
}

// sparkline draws values as block characters scaled to the largest.
func sparkline(vals []float64, width int) string {
	const bars = "▁▂▃▄▅▆▇█"
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	top := 0.0
	for _, v := range vals {
		top = max(top, v)
	}
	var b strings.Builder
	runes := []rune(bars)
	for _, v := range vals {
		i := 0
		if top > 0 {
			i = int(v / top * float64(len(runes)-1))
		}
		b.WriteRune(runes[i])
	}
	return b.String()
}

func (s *syncScreen) View() string {
	st := s.c.st
	kv := func(k, v string) string {
		return st.Text.Dim.Render(fmt.Sprintf("%-14s", k)) + st.Text.Normal.Render(v)
	}
	h := s.c.gw.Health()
	up := s.c.gw.Uplink()
	lines := []string{st.Title.Render("Uplink")}
	if up == nil {
		lines = append(lines, st.Text.Dim.Render("The uplink is not running."))
		return strings.Join(lines, "\n")
	}
	u := up.Status()
	state := st.Text.Warn.Render("offline: no broker configured (the outbox keeps everything)")
	switch {
	case u.Cut:
		state = st.Text.Warn.Render("cut by an administrator (demo)")
	case u.Connected:
		state = st.Text.OK.Render("connected")
	case u.Configured:
		state = st.Text.Error.Render("disconnected, retrying")
	}
	lines = append(lines, st.Text.Dim.Render(fmt.Sprintf("%-14s", "state"))+state)
	if u.Broker != "" {
		lines = append(lines, kv("broker", u.Broker))
	}
	if u.LastError != "" {
		lines = append(lines, st.Text.Dim.Render(fmt.Sprintf("%-14s", "last error"))+st.Text.Error.Render(clip(u.LastError, s.w-16)))
	}
	last := "never"
	if !u.LastPublish.IsZero() {
		last = s.c.now().Sub(u.LastPublish).Round(time.Second).String() + " ago"
	}
	rate := 0.0
	if len(u.Rate) > 0 {
		rate = u.Rate[len(u.Rate)-1]
	}
	lines = append(lines,
		kv("last publish", last),
		kv("published", fmt.Sprintf("%d records since start", u.Published)),
		kv("rate", fmt.Sprintf("%.1f/s  %s", rate, st.Text.Accent.Render(sparkline(u.Rate, 30)))),
		"", st.Title.Render("Outbox"),
		kv("queued", fmt.Sprintf("%d of %d", h.Outbox.Depth, h.Outbox.Capacity)),
		kv("oldest", (time.Duration(h.Outbox.OldestAgeS)*time.Second).String()),
		kv("evicted", fmt.Sprint(h.Outbox.Evicted)),
	)
	c, conflict := up.Conflict()
	if !conflict {
		return strings.Join(lines, "\n")
	}
	lines = append(lines, "", st.Text.Warn.Render(fmt.Sprintf("Conflict: the cloud sent revision %d based on %d, but the site is at %d (changed on site meanwhile).", c.DesiredRev, c.BaseRev, c.LocalRev)))
	local, _ := s.c.gw.Site()
	before, _ := device.EncodeSiteYAML(local)
	after, _ := device.EncodeSiteYAML(c.Site)
	d := UnifiedDiff("local (gateway)", "cloud", string(before), string(after), 1)
	room := max(s.h-len(lines)-3, 3)
	dl := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	if len(dl) > room {
		dl = append(dl[:room-1], fmt.Sprintf("… %d more lines", len(dl)-room+1))
	}
	for _, l := range dl {
		style := st.Text.Normal
		switch {
		case strings.HasPrefix(l, "+"):
			style = st.Text.OK
		case strings.HasPrefix(l, "-"):
			style = st.Text.Error
		}
		lines = append(lines, style.Render(clip(l, s.w)))
	}
	switch s.confirm {
	case "cloud":
		lines = append(lines, "", st.Text.Warn.Render("Replace the site with the cloud's configuration?")+st.Text.Normal.Render("  y yes · any other key no"))
	case "local":
		lines = append(lines, "", st.Text.Warn.Render("Keep the local configuration and report it to the cloud?")+st.Text.Normal.Render("  y yes · any other key no"))
	}
	return strings.Join(lines, "\n")
}
