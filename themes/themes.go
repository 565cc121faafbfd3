// Package themes holds the console's styles: one Styles value per theme
// (dark, light, high-contrast). It is the only place colours are written;
// screens take a *Styles and never pick colours themselves.
package themes

import (
	"image/color"
	"sort"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
)

// Theme names.
const (
	Dark         = "dark"
	Light        = "light"
	HighContrast = "high-contrast"
	// Auto follows the terminal's background (dark or light).
	Auto = "auto"
)

// Palette is a theme's colours.
type Palette struct {
	Fg, Dim, Bg, Accent, AccentFg, Border color.Color
	OK, Warn, Error, Info                 color.Color
	SelectedFg, SelectedBg                color.Color
}

// Styles is every style the console uses, grouped by where it appears.
type Styles struct {
	Name    string
	Palette Palette

	App lipgloss.Style

	Header struct {
		Bar, Title, Item, Dim lipgloss.Style
	}
	Tabs struct {
		Active, Inactive, Gap lipgloss.Style
	}
	Text struct {
		Normal, Dim, Strong, Accent, OK, Warn, Error lipgloss.Style
	}
	Box   lipgloss.Style // a bordered panel
	Title lipgloss.Style // a panel's title
	Table struct {
		Header, Row, Selected lipgloss.Style
	}
	Input struct {
		Label, Focused, Blurred, Prompt lipgloss.Style
	}
	Button struct {
		Active, Inactive lipgloss.Style
	}
	Status struct {
		Info, OK, Warn, Error lipgloss.Style
	}
	Help help.Styles
}

var palettes = map[string]Palette{
	Dark: {
		Fg: lipgloss.Color("#E4E4E7"), Dim: lipgloss.Color("#8B8B94"), Bg: lipgloss.Color("#1C1C22"),
		Accent: lipgloss.Color("#5EC4B6"), AccentFg: lipgloss.Color("#0E1A19"), Border: lipgloss.Color("#4A4A55"),
		OK: lipgloss.Color("#7BD88F"), Warn: lipgloss.Color("#E9C46A"), Error: lipgloss.Color("#F07178"), Info: lipgloss.Color("#82AAFF"),
		SelectedFg: lipgloss.Color("#0E1A19"), SelectedBg: lipgloss.Color("#5EC4B6"),
	},
	Light: {
		Fg: lipgloss.Color("#1F2328"), Dim: lipgloss.Color("#6A6F78"), Bg: lipgloss.Color("#FAFAF7"),
		Accent: lipgloss.Color("#0B7A6E"), AccentFg: lipgloss.Color("#FFFFFF"), Border: lipgloss.Color("#B8BCC4"),
		OK: lipgloss.Color("#1A7F37"), Warn: lipgloss.Color("#9A6700"), Error: lipgloss.Color("#CF222E"), Info: lipgloss.Color("#0550AE"),
		SelectedFg: lipgloss.Color("#FFFFFF"), SelectedBg: lipgloss.Color("#0B7A6E"),
	},
	// High contrast uses only black, white and the pure primaries that
	// survive 16-colour terminals, and underlines or reverses what other
	// themes show with colour alone.
	HighContrast: {
		Fg: lipgloss.Color("#FFFFFF"), Dim: lipgloss.Color("#FFFFFF"), Bg: lipgloss.Color("#000000"),
		Accent: lipgloss.Color("#FFFF00"), AccentFg: lipgloss.Color("#000000"), Border: lipgloss.Color("#FFFFFF"),
		OK: lipgloss.Color("#00FF00"), Warn: lipgloss.Color("#FFFF00"), Error: lipgloss.Color("#FF5555"), Info: lipgloss.Color("#00FFFF"),
		SelectedFg: lipgloss.Color("#000000"), SelectedBg: lipgloss.Color("#FFFF00"),
	},
}

// Names lists the selectable themes (without Auto).
func Names() []string {
	names := make([]string, 0, len(palettes))
	for n := range palettes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Valid reports whether name is a theme or Auto.
func Valid(name string) bool {
	_, ok := palettes[name]
	return ok || name == Auto
}

// Resolve turns a user's choice into a theme name: Auto (or empty, or an
// unknown name) follows the terminal background.
func Resolve(choice string, darkBackground bool) string {
	if _, ok := palettes[choice]; ok {
		return choice
	}
	if darkBackground {
		return Dark
	}
	return Light
}

// Get returns the styles of a theme; an unknown name gives Dark.
func Get(name string) *Styles {
	p, ok := palettes[name]
	if !ok {
		name, p = Dark, palettes[Dark]
	}
	hc := name == HighContrast
	s := &Styles{Name: name, Palette: p}
	base := lipgloss.NewStyle().Foreground(p.Fg)
	s.App = base

	s.Header.Bar = lipgloss.NewStyle().Foreground(p.AccentFg).Background(p.Accent).Padding(0, 1)
	s.Header.Title = lipgloss.NewStyle().Foreground(p.AccentFg).Background(p.Accent).Bold(true)
	s.Header.Item = lipgloss.NewStyle().Foreground(p.AccentFg).Background(p.Accent)
	s.Header.Dim = lipgloss.NewStyle().Foreground(p.AccentFg).Background(p.Accent).Faint(!hc)

	s.Tabs.Active = lipgloss.NewStyle().Foreground(p.Accent).Bold(true).Underline(true).Padding(0, 1)
	s.Tabs.Inactive = lipgloss.NewStyle().Foreground(p.Dim).Padding(0, 1)
	s.Tabs.Gap = lipgloss.NewStyle().Foreground(p.Border)

	s.Text.Normal = base
	s.Text.Dim = lipgloss.NewStyle().Foreground(p.Dim).Faint(hc)
	s.Text.Strong = base.Bold(true)
	s.Text.Accent = lipgloss.NewStyle().Foreground(p.Accent).Bold(hc)
	s.Text.OK = lipgloss.NewStyle().Foreground(p.OK)
	s.Text.Warn = lipgloss.NewStyle().Foreground(p.Warn).Bold(hc)
	s.Text.Error = lipgloss.NewStyle().Foreground(p.Error).Bold(true)

	border := lipgloss.RoundedBorder()
	if hc {
		border = lipgloss.ThickBorder()
	}
	s.Box = lipgloss.NewStyle().Border(border).BorderForeground(p.Border).Padding(0, 1)
	s.Title = lipgloss.NewStyle().Foreground(p.Accent).Bold(true)

	s.Table.Header = lipgloss.NewStyle().Foreground(p.Dim).Bold(true).Underline(hc)
	s.Table.Row = base
	s.Table.Selected = lipgloss.NewStyle().Foreground(p.SelectedFg).Background(p.SelectedBg).Bold(hc)

	s.Input.Label = lipgloss.NewStyle().Foreground(p.Fg).Bold(true)
	s.Input.Focused = lipgloss.NewStyle().Foreground(p.Accent)
	s.Input.Blurred = lipgloss.NewStyle().Foreground(p.Dim)
	s.Input.Prompt = lipgloss.NewStyle().Foreground(p.Accent).Bold(true)

	s.Button.Active = lipgloss.NewStyle().Foreground(p.SelectedFg).Background(p.SelectedBg).Padding(0, 2).Bold(true)
	s.Button.Inactive = lipgloss.NewStyle().Foreground(p.Fg).Padding(0, 2).Underline(hc)

	s.Status.Info = lipgloss.NewStyle().Foreground(p.Info)
	s.Status.OK = lipgloss.NewStyle().Foreground(p.OK).Bold(true)
	s.Status.Warn = lipgloss.NewStyle().Foreground(p.Warn).Bold(true)
	s.Status.Error = lipgloss.NewStyle().Foreground(p.Error).Bold(true)

	s.Help = help.Styles{
		Ellipsis:       lipgloss.NewStyle().Foreground(p.Dim),
		ShortKey:       lipgloss.NewStyle().Foreground(p.Accent),
		ShortDesc:      lipgloss.NewStyle().Foreground(p.Dim),
		ShortSeparator: lipgloss.NewStyle().Foreground(p.Border),
		FullKey:        lipgloss.NewStyle().Foreground(p.Accent),
		FullDesc:       lipgloss.NewStyle().Foreground(p.Dim),
		FullSeparator:  lipgloss.NewStyle().Foreground(p.Border),
	}
	return s
}

// QR returns the style for QR codes: always black on white, whatever the
// theme, because phone scanners expect dark modules on a light ground.
func QR() lipgloss.Style {
	return lipgloss.NewStyle().Foreground(lipgloss.Color("#000000")).Background(lipgloss.Color("#FFFFFF"))
}

// TextInput returns bubbles text-input styles for the theme.
func (s *Styles) TextInput() textinput.Styles {
	st := textinput.DefaultDarkStyles()
	st.Focused.Prompt = s.Input.Prompt
	st.Focused.Text = s.Text.Normal
	st.Focused.Placeholder = s.Text.Dim
	st.Blurred.Prompt = s.Input.Blurred
	st.Blurred.Text = s.Text.Dim
	st.Blurred.Placeholder = s.Text.Dim
	st.Cursor.Color = s.Palette.Accent
	return st
}
