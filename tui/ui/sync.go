package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/textdiff"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// SyncSource is what the sync screen reads.
type SyncSource interface {
	Site() (*device.Site, uint64)
	Uplink() device.Uplink
	OutboxFigures() device.OutboxHealth
}

// syncScreen shows the uplink: connection, queue, publish rate, and a
// pending configuration conflict with its resolution.
type syncScreen struct {
	s       *common.Session
	src     SyncSource
	w, h    int
	confirm string // "cloud" or "local" while asking
	// The local site the conflict is shown against; taking the cloud's
	// configuration is based on its revision.
	base common.Base
}

func newSyncScreen(s *common.Session, src SyncSource) *syncScreen {
	sc := &syncScreen{s: s, src: src}
	sc.reload()
	return sc
}

func (s *syncScreen) reload() { s.base.Load(s.src) }

func (s *syncScreen) Title() string    { return "Sync" }
func (s *syncScreen) SetSize(w, h int) { s.w, s.h = w, h }
func (s *syncScreen) Capturing() bool  { return s.confirm != "" }

func (s *syncScreen) Keys() []key.Binding {
	k := s.s.Keys
	up := s.src.Uplink()
	if up == nil {
		return nil
	}
	var ks []key.Binding
	if s.base.Stale != nil {
		ks = append(ks, k.Reload)
	}
	if _, ok := up.Conflict(); ok && s.s.Can(access.PermConfigEdit) {
		ks = append(ks, k.TakeCloud, k.KeepLocal)
	}
	if s.s.Can(access.PermUsers) {
		if up.Status().Cut {
			ks = append(ks, k.Restore)
		} else {
			ks = append(ks, k.Cut)
		}
	}
	return ks
}

func (s *syncScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if ev, ok := msg.(common.EventMsg); ok && ev.Event.Kind == device.EventSite && s.confirm == "" && s.base.Stale == nil {
		s.reload()
	}
	k, ok := msg.(tea.KeyPressMsg)
	up := s.src.Uplink()
	if !ok || up == nil {
		return s, nil
	}
	keys := s.s.Keys
	if s.confirm != "" {
		choice := s.confirm
		s.confirm = ""
		if !key.Matches(k, keys.Yes) {
			return s, nil
		}
		return s, s.resolve(up, choice == "cloud")
	}
	_, conflict := up.Conflict()
	switch {
	case s.base.Stale != nil && key.Matches(k, keys.Reload):
		s.reload()
	case conflict && s.s.Can(access.PermConfigEdit) && key.Matches(k, keys.TakeCloud):
		s.confirm = "cloud"
	case conflict && s.s.Can(access.PermConfigEdit) && key.Matches(k, keys.KeepLocal):
		s.confirm = "local"
	case conflict && key.Matches(k, keys.TakeCloud, keys.KeepLocal):
		return s, common.ReadOnly(s.s, access.PermConfigEdit)
	case !s.s.Can(access.PermUsers) && key.Matches(k, keys.Cut, keys.Restore):
		return s, common.FlashErr(fmt.Errorf("not for you: cutting or restoring the uplink needs the %s role, you are %s", access.RoleFor(access.PermUsers), s.s.Principal.Account.Role))
	case key.Matches(k, keys.Cut) || key.Matches(k, keys.Restore):
		if err := s.s.Authorize(access.PermUsers); err != nil {
			return s, common.FlashErr(err)
		}
		if err := up.SetCut(s.s.Actor(), key.Matches(k, keys.Cut)); err != nil {
			return s, common.FlashErr(err)
		}
	}
	return s, nil
}

// resolve settles the conflict: the cloud's site is applied like any other
// change of this session, based on the local revision shown.
func (s *syncScreen) resolve(up device.Uplink, takeCloud bool) tea.Cmd {
	if err := s.s.Authorize(access.PermConfigEdit); err != nil {
		return common.FlashErr(err)
	}
	apply := func(cloud *device.Site) error {
		_, err := s.base.Apply(s.s, device.ActionSyncApplied, cloud)
		return err
	}
	err := up.ResolveConflict(s.s.Actor(), takeCloud, apply)
	if s.base.Stale != nil {
		return nil // the screen says why, and how to reload
	}
	if err != nil {
		return common.FlashErr(err)
	}
	s.reload()
	if takeCloud {
		return common.Flash("The cloud's configuration is now the site.")
	}
	return common.Flash("Kept the local configuration; it is reported to the cloud.")
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
	st := s.s.Styles
	kv := func(k, v string) string { return common.KV(st, 14, k, v) }
	up := s.src.Uplink()
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
		lines = append(lines, st.Text.Dim.Render(fmt.Sprintf("%-14s", "last error"))+st.Text.Error.Render(common.Clip(u.LastError, s.w-16)))
	}
	last := "never"
	if !u.LastPublish.IsZero() {
		last = s.s.Now().Sub(u.LastPublish).Round(time.Second).String() + " ago"
	}
	rate := 0.0
	if len(u.Rate) > 0 {
		rate = u.Rate[len(u.Rate)-1]
	}
	o := s.src.OutboxFigures()
	lines = append(lines,
		kv("last publish", last),
		kv("published", fmt.Sprintf("%d records since start", u.Published)),
		kv("rate", fmt.Sprintf("%.1f/s  %s", rate, st.Text.Accent.Render(sparkline(u.Rate, 30)))),
		"", st.Title.Render("Outbox"),
		kv("queued", fmt.Sprintf("%d of %d", o.Depth, o.Capacity)),
		kv("oldest", (time.Duration(o.OldestAgeS)*time.Second).String()),
		kv("evicted", fmt.Sprint(o.Evicted)),
	)
	if c, conflict := up.Conflict(); conflict {
		lines = append(lines, s.conflictView(c, len(lines))...)
	}
	return strings.Join(lines, "\n")
}

// conflictView shows the local site and the cloud's side by side as a
// diff, and the question being asked; used lines are taken already.
func (s *syncScreen) conflictView(c device.SyncConflict, used int) []string {
	st := s.s.Styles
	lines := []string{"", st.Text.Warn.Render(fmt.Sprintf("Conflict: the cloud sent revision %d based on %d, but the site is at %d (changed on site meanwhile).", c.DesiredRev, c.BaseRev, c.LocalRev))}
	before, _ := device.EncodeSiteYAML(s.base.Site)
	after, _ := device.EncodeSiteYAML(c.Site)
	d := textdiff.Unified("local (gateway)", "cloud", string(before), string(after), 1)
	room := max(s.h-used-len(lines)-3, 3)
	dl := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	if len(dl) > room {
		dl = append(dl[:room-1], fmt.Sprintf("… %d more lines", len(dl)-room+1))
	}
	for _, l := range dl {
		lines = append(lines, common.DiffStyle(st, l).Render(common.Clip(l, s.w)))
	}
	yesNo := st.Text.Normal.Render("  y yes · any other key no")
	switch {
	case s.base.Stale != nil:
		lines = append(lines, "", st.Text.Error.Render(s.base.StaleText(s.s)))
	case s.confirm == "cloud":
		lines = append(lines, "", st.Text.Warn.Render("Replace the site with the cloud's configuration?")+yesNo)
	case s.confirm == "local":
		lines = append(lines, "", st.Text.Warn.Render("Keep the local configuration and report it to the cloud?")+yesNo)
	}
	return lines
}
