package common

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/themes"
)

// Clip cuts s to n display cells with an ellipsis.
func Clip(s string, n int) string {
	if lipgloss.Width(s) <= n {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r))+1 > n {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// Fit pads or cuts s to exactly w×h cells so the layout never jumps.
func Fit(s string, w, h int) string {
	return lipgloss.NewStyle().Width(w).Height(h).MaxWidth(w).MaxHeight(h).Render(s)
}

// KV renders a key (dim, padded to width) and a value.
func KV(st *themes.Styles, width int, k, v string) string {
	return st.Text.Dim.Render(fmt.Sprintf("%-*s", width, k)) + st.Text.Normal.Render(v)
}

// QualityStyle colours a reading by its quality.
func QualityStyle(st *themes.Styles, q field.Quality) lipgloss.Style {
	switch q {
	case field.QualityGood:
		return st.Text.OK
	case field.QualityStale:
		return st.Text.Warn
	}
	return st.Text.Error
}

// StateStyle colours a device by its state: online, degraded, offline,
// not polled yet.
func StateStyle(st *themes.Styles, s field.State) lipgloss.Style {
	switch s {
	case field.StateOnline:
		return st.Text.OK
	case field.StateDegraded:
		return st.Text.Warn
	case field.StateOffline:
		return st.Text.Error
	}
	return st.Text.Dim
}

// DiffStyle colours a line of a unified diff.
func DiffStyle(st *themes.Styles, line string) lipgloss.Style {
	switch {
	case strings.HasPrefix(line, "+"):
		return st.Text.OK
	case strings.HasPrefix(line, "-"):
		return st.Text.Error
	case strings.HasPrefix(line, "@@"):
		return st.Text.Dim
	}
	return st.Text.Normal
}
