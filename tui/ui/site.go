package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/textdiff"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// SiteSource is what the site screen reads.
type SiteSource interface {
	Site() (*device.Site, uint64)
	SiteHistory(limit int) ([]device.SiteRevision, error)
}

type siteMode int

const (
	siteView siteMode = iota
	siteEdit
	sitePreview
)

// siteScreen shows the site and access settings; installers and admins
// edit them as a staged change: edit → diff preview → confirm → revision.
// The change is based on the revision the edit started from: if someone
// saves in between, it is refused, saying who changed what.
type siteScreen struct {
	s        *common.Session
	src      SiteSource
	w, h     int
	mode     siteMode
	form     common.Form
	base     common.Base // the site the edit started from
	proposed *device.Site
	diff     string
}

// twoFAChoices are the require_2fa settings offered in the console.
var twoFAChoices = []string{"admin, installer", "admin", "admin, installer, support", "all roles", "none"}

func twoFAChoice(roles []device.Role) string {
	var names []string
	for _, r := range roles {
		names = append(names, r.String())
	}
	switch s := strings.Join(names, ", "); s {
	case "":
		return "none"
	case "admin, installer, support, viewer":
		return "all roles"
	default:
		return s
	}
}

func twoFARoles(choice string) []device.Role {
	switch choice {
	case "none":
		return []device.Role{}
	case "all roles":
		return []device.Role{device.RoleAdmin, device.RoleInstaller, device.RoleSupport, device.RoleViewer}
	}
	var out []device.Role
	for _, n := range strings.Split(choice, ", ") {
		if r, err := device.ParseRole(n); err == nil {
			out = append(out, r)
		}
	}
	return out
}

func newSiteScreen(s *common.Session, src SiteSource) *siteScreen {
	return &siteScreen{s: s, src: src}
}

func (s *siteScreen) Title() string    { return "Site" }
func (s *siteScreen) SetSize(w, h int) { s.w, s.h = w, h }
func (s *siteScreen) Capturing() bool  { return s.mode == siteEdit }
func (s *siteScreen) Restyle()         { s.form.SetStyles(s.s.Styles) }
func (s *siteScreen) editable() bool   { return s.s.Can(access.PermConfigEdit) }

func (s *siteScreen) Keys() []key.Binding {
	k := s.s.Keys
	switch {
	case s.base.Stale != nil:
		return []key.Binding{k.Reload, k.Cancel}
	case s.mode == siteEdit:
		return k.FormKeys()
	case s.mode == sitePreview:
		return []key.Binding{k.Apply, k.Cancel}
	case s.editable():
		return []key.Binding{k.Edit}
	}
	return nil
}

// accessEditable reports whether the user may change the access settings:
// they protect every account, so only user managers (admins) may, and
// others are not offered fields they could not save.
func (s *siteScreen) accessEditable() bool { return s.s.Can(access.PermUsers) }

func (s *siteScreen) startEdit() {
	s.base.Load(s.src)
	site := s.base.Site
	fields := []common.FieldSpec{{Label: "Site name", Value: site.Site.Name, Limit: 128}}
	if s.accessEditable() {
		fields = append(fields,
			common.FieldSpec{Label: "Password max length", Value: strconv.Itoa(site.Access.PasswordMaxLength), Placeholder: "8..64", Limit: 2},
			common.FieldSpec{Label: "Require 2FA for", Value: twoFAChoice(site.Access.Require2FA), Options: twoFAChoices},
			common.FieldSpec{Label: "Idle timeout", Value: site.Access.IdleTimeout.String(), Placeholder: "e.g. 15m", Limit: 10})
	}
	s.form = common.NewForm(s.s.Styles, "Preview change", fields...)
	s.mode = siteEdit
}

// stage builds the proposed site from the form and checks it; a valid one
// moves to the diff preview.
func (s *siteScreen) stage() {
	next := s.base.Site.Clone()
	var problems []string
	next.Site.Name = strings.TrimSpace(s.form.Value(0))
	if s.form.Len() > 1 {
		if n, err := strconv.Atoi(strings.TrimSpace(s.form.Value(1))); err != nil {
			problems = append(problems, "access.password_max_length: give a whole number from 8 to 64")
		} else {
			next.Access.PasswordMaxLength = n
		}
		next.Access.Require2FA = twoFARoles(s.form.Value(2))
		if d, err := time.ParseDuration(strings.TrimSpace(s.form.Value(3))); err != nil {
			problems = append(problems, "access.idle_timeout: give a duration such as 15m or 1h")
		} else {
			next.Access.IdleTimeout = device.Duration(d)
		}
	}
	if err := device.CheckSite(next, s.base.Site); err != nil {
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	if len(problems) > 0 {
		s.form.SetError(strings.Join(problems, "\n"))
		return
	}
	before, _ := device.EncodeSiteYAML(s.base.Site)
	after, _ := device.EncodeSiteYAML(next)
	s.diff = textdiff.Unified("current", "proposed", string(before), string(after), 2)
	if s.diff == "" {
		s.form.SetError("nothing changed")
		return
	}
	s.proposed = next
	s.mode = sitePreview
}

// store saves the previewed change, based on the revision the edit
// started from.
func (s *siteScreen) store() tea.Cmd {
	ch, err := s.base.Apply(s.s, device.ActionConfigChange, s.proposed)
	if s.base.Stale != nil {
		return nil // the preview says why, and how to reload
	}
	s.mode = siteView
	if err != nil {
		return common.FlashErr(err)
	}
	return common.Flash(fmt.Sprintf("Stored as site revision %d.", ch.Rev))
}

func (s *siteScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	keys := s.s.Keys
	switch s.mode {
	case siteView:
		if isKey && key.Matches(k, keys.Edit) {
			if !s.editable() {
				return s, common.ReadOnly(s.s, access.PermConfigEdit)
			}
			s.startEdit()
		}
	case siteEdit:
		cmd, out := s.form.Step(msg)
		switch out {
		case common.Cancelled:
			s.mode = siteView
		case common.Submitted:
			s.stage()
		}
		return s, cmd
	case sitePreview:
		switch {
		case !isKey:
		case s.base.Stale != nil && key.Matches(k, keys.Reload):
			// Start again from the site as it is now.
			s.startEdit()
			return s, common.Flash("Reloaded the site; make your change again.")
		case s.base.Stale == nil && key.Matches(k, keys.Apply):
			return s, s.store()
		case key.Matches(k, keys.Cancel) || k.String() == "n":
			s.mode, s.base.Stale = siteEdit, nil
		}
	}
	return s, nil
}

func (s *siteScreen) View() string {
	st := s.s.Styles
	switch s.mode {
	case siteEdit:
		if !s.accessEditable() {
			return st.Title.Render("Edit the site") + "\n\n" + s.form.View() + "\n\n" +
				st.Text.Dim.Render("The access settings (password length, 2FA, idle timeout) protect every account: only an admin may change them.")
		}
		return st.Title.Render("Edit site and access settings") + "\n\n" + s.form.View()
	case sitePreview:
		return s.previewView()
	}
	site, rev := s.src.Site()
	kv := func(k, v string) string { return common.KV(st, 22, k, v) }
	lines := []string{
		st.Title.Render("Site"),
		kv("Name", site.Site.Name),
		kv("Revision", fmt.Sprint(rev)),
	}
	if hist, _ := s.src.SiteHistory(1); len(hist) == 1 {
		lines = append(lines, kv("Last change", fmt.Sprintf("%s by %s", hist[0].Time.In(site.Clock.Location()).Format(time.DateTime), s.s.Name(hist[0].Author))))
	}
	lines = append(lines, "", st.Title.Render("Access"),
		kv("Password length", fmt.Sprintf("8 to %d characters", site.Access.PasswordMaxLength)),
		kv("2FA required for", twoFAChoice(site.Access.Require2FA)),
		kv("Idle timeout", site.Access.IdleTimeout.String()),
		"", st.Title.Render("Field and uplink"),
		kv("Modbus", fmt.Sprintf("%d buses, %d devices", len(site.Modbus.Buses), len(site.Modbus.Devices))),
		kv("WAN priority", joinLinks(site.WAN.Priority)),
	)
	switch {
	case s.accessEditable():
		lines = append(lines, "", st.Text.Dim.Render("e edits the site name and access settings; other sections come with their screens."))
	case s.editable():
		lines = append(lines, "", st.Text.Dim.Render("e edits the site name (the access settings are an admin's); other sections come with their screens."))
	default:
		lines = append(lines, "", st.Text.Dim.Render("Read-only for your role."))
	}
	return strings.Join(lines, "\n")
}

func (s *siteScreen) previewView() string {
	st := s.s.Styles
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(s.diff, "\n"), "\n") {
		lines = append(lines, common.DiffStyle(st, l).Render(common.Clip(l, s.w)))
	}
	foot := st.Text.Accent.Render("y") + st.Text.Normal.Render(" store as a new revision   ") + st.Text.Accent.Render("esc") + st.Text.Normal.Render(" back to editing")
	if s.base.Stale != nil {
		foot = st.Text.Error.Render(s.base.StaleText(s.s))
	}
	room := s.h - 4 - strings.Count(foot, "\n")
	if len(lines) > room && room > 0 {
		lines = append(lines[:room-1], st.Text.Dim.Render(fmt.Sprintf("… %d more lines", len(lines)-room+1)))
	}
	return st.Title.Render("Review the change") + "\n\n" + strings.Join(lines, "\n") + "\n\n" + foot
}

func joinLinks(ls []device.LinkKind) string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, l.String())
	}
	return strings.Join(names, " > ")
}
