package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

type siteMode int

const (
	siteView siteMode = iota
	siteEdit
	sitePreview
)

// siteScreen shows the site and access settings; installers and admins
// edit them as a staged change: edit → diff preview → confirm → revision.
type siteScreen struct {
	c        *shared
	w, h     int
	mode     siteMode
	form     form
	proposed *device.Site
	diff     string
	keys     struct{ Edit, Apply, Back key.Binding }
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

func newSiteScreen(c *shared) *siteScreen {
	s := &siteScreen{c: c}
	s.keys.Edit = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit"))
	s.keys.Apply = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "apply"))
	s.keys.Back = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	return s
}

func (s *siteScreen) Title() string    { return "Site" }
func (s *siteScreen) SetSize(w, h int) { s.w, s.h = w, h }
func (s *siteScreen) Capturing() bool  { return s.mode == siteEdit }
func (s *siteScreen) Restyle()         { s.form.SetStyles(s.c.st) }
func (s *siteScreen) editable() bool   { return s.c.can(access.PermConfigEdit) }

func (s *siteScreen) Keys() []key.Binding {
	switch s.mode {
	case siteEdit:
		return []key.Binding{s.keys.Back}
	case sitePreview:
		return []key.Binding{s.keys.Apply, s.keys.Back}
	}
	if s.editable() {
		return []key.Binding{s.keys.Edit}
	}
	return nil
}

func (s *siteScreen) startEdit() tea.Cmd {
	site, _ := s.c.gw.Site()
	s.form = newForm(s.c.st, "Preview change",
		fieldSpec{Label: "Site name", Value: site.Site.Name, Limit: 128},
		fieldSpec{Label: "Password max length", Value: strconv.Itoa(site.Access.PasswordMaxLength), Placeholder: "8..64", Limit: 2},
		fieldSpec{Label: "Require 2FA for", Value: twoFAChoice(site.Access.Require2FA), Options: twoFAChoices},
		fieldSpec{Label: "Idle timeout", Value: site.Access.IdleTimeout.String(), Placeholder: "e.g. 15m", Limit: 10},
	)
	s.mode = siteEdit
	return nil
}

// stage builds the proposed site from the form and checks it; a valid one
// moves to the diff preview.
func (s *siteScreen) stage() {
	current, _ := s.c.gw.Site()
	next := current.Clone()
	var problems []string
	next.Site.Name = strings.TrimSpace(s.form.Value(0))
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
	if err := device.CheckSite(next, current); err != nil {
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	if len(problems) > 0 {
		s.form.SetError(strings.Join(problems, "\n"))
		return
	}
	before, _ := device.EncodeSiteYAML(current)
	after, _ := device.EncodeSiteYAML(next)
	s.diff = UnifiedDiff("current", "proposed", string(before), string(after), 2)
	if s.diff == "" {
		s.form.SetError("nothing changed")
		return
	}
	s.proposed = next
	s.mode = sitePreview
}

func (s *siteScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	switch s.mode {
	case siteView:
		if isKey && key.Matches(k, s.keys.Edit) && s.editable() {
			return s, s.startEdit()
		}
	case siteEdit:
		if isKey && k.String() == "esc" {
			s.mode = siteView
			return s, nil
		}
		if !isKey {
			if _, paste := msg.(tea.PasteMsg); !paste {
				return s, nil
			}
		}
		f, cmd, submitted := s.form.Update(msg)
		s.form = f
		if submitted {
			s.stage()
		}
		return s, cmd
	case sitePreview:
		if !isKey {
			return s, nil
		}
		switch {
		case key.Matches(k, s.keys.Apply):
			ch, err := s.c.applySite(s.c.p, s.proposed)
			s.mode = siteView
			if err != nil {
				return s, flashErr(err)
			}
			return s, flash(fmt.Sprintf("Stored as site revision %d.", ch.Rev))
		case k.String() == "esc" || k.String() == "n":
			s.mode = siteEdit
			return s, nil
		}
	}
	return s, nil
}

func (s *siteScreen) View() string {
	st := s.c.st
	switch s.mode {
	case siteEdit:
		return st.Title.Render("Edit site and access settings") + "\n\n" + s.form.View()
	case sitePreview:
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(s.diff, "\n"), "\n") {
			style := st.Text.Normal
			switch {
			case strings.HasPrefix(l, "+"):
				style = st.Text.OK
			case strings.HasPrefix(l, "-"):
				style = st.Text.Error
			case strings.HasPrefix(l, "@@"):
				style = st.Text.Dim
			}
			lines = append(lines, style.Render(clip(l, s.w)))
		}
		if room := s.h - 4; len(lines) > room && room > 0 {
			lines = append(lines[:room-1], st.Text.Dim.Render(fmt.Sprintf("… %d more lines", len(lines)-room+1)))
		}
		return st.Title.Render("Review the change") + "\n\n" + strings.Join(lines, "\n") + "\n\n" +
			st.Text.Accent.Render("y") + st.Text.Normal.Render(" store as a new revision   ") + st.Text.Accent.Render("esc") + st.Text.Normal.Render(" back to editing")
	}
	site, rev := s.c.gw.Site()
	kv := func(k, v string) string {
		return st.Text.Dim.Render(fmt.Sprintf("%-22s", k)) + st.Text.Normal.Render(v)
	}
	lines := []string{
		st.Title.Render("Site"),
		kv("Name", site.Site.Name),
		kv("Revision", fmt.Sprint(rev)),
	}
	if hist, _ := s.c.gw.Store().ConfigHistory(device.SiteDoc, 1); len(hist) == 1 {
		lines = append(lines, kv("Last change", fmt.Sprintf("%s by %s", hist[0].Time.In(site.Clock.Location()).Format(time.DateTime), actorName(s.c.acc.Names(), hist[0].Author))))
	}
	lines = append(lines, "", st.Title.Render("Access"),
		kv("Password length", fmt.Sprintf("8 to %d characters", site.Access.PasswordMaxLength)),
		kv("2FA required for", twoFAChoice(site.Access.Require2FA)),
		kv("Idle timeout", site.Access.IdleTimeout.String()),
		"", st.Title.Render("Field and uplink"),
		kv("Modbus", fmt.Sprintf("%d buses, %d devices", len(site.Modbus.Buses), len(site.Modbus.Devices))),
		kv("WAN priority", joinLinks(site.WAN.Priority)),
	)
	if s.editable() {
		lines = append(lines, "", st.Text.Dim.Render("e edits the site name and access settings; other sections come with their screens."))
	} else {
		lines = append(lines, "", st.Text.Dim.Render("Read-only for your role."))
	}
	return strings.Join(lines, "\n")
}

func joinLinks(ls []device.LinkKind) string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, l.String())
	}
	return strings.Join(names, " > ")
}
