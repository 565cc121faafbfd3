package common

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Component is one screen (tab) of the console: a model with its keys and
// its size. Children return strings; only the root returns a tea.View.
type Component interface {
	Title() string
	Update(msg tea.Msg) (Component, tea.Cmd)
	View() string
	SetSize(w, h int)
	// Keys are the keys the screen offers now (the help bar shows them).
	Keys() []key.Binding
	// Capturing reports that a text field or a question has the keys, so
	// the global single-letter keys must go to the screen.
	Capturing() bool
}

// Restyler is a component that must redo its styles when the theme
// changes.
type Restyler interface{ Restyle() }
