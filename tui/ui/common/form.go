package common

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/themes"
)

// FieldSpec describes one form field.
type FieldSpec struct {
	Label       string
	Placeholder string
	Value       string
	Secret      bool     // masked input
	Limit       int      // characters; default 64
	Options     []string // a choice field: left/right cycles
	Note        string   // dim text after the value (what a scan found)
}

type formField struct {
	spec   FieldSpec
	input  textinput.Model
	choice int
}

// Form is a vertical list of labelled fields and a submit button. Its
// parent decides what submitting means and shows errors through SetError.
type Form struct {
	fields []formField
	focus  int // len(fields) is the submit button
	submit string
	err    string
	st     *themes.Styles
	height int // lines View may use; 0: as many as it needs
	width  int // cells a line may use; 0: no bound
}

// SetWidth bounds the cells of a line: a note past it is cut.
func (f *Form) SetWidth(w int) { f.width = w }

// SetHeight bounds the lines View uses: a form with more fields than fit
// shows a window around the focused one, with how many are above and
// below.
func (f *Form) SetHeight(h int) { f.height = h }

// Len returns the number of fields.
func (f Form) Len() int { return len(f.fields) }

// NewForm returns a form with the given fields and submit button label.
func NewForm(st *themes.Styles, submit string, specs ...FieldSpec) Form {
	f := Form{submit: submit, st: st}
	for _, sp := range specs {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = sp.Placeholder
		in.CharLimit = sp.Limit
		if in.CharLimit <= 0 {
			// Bounds a 1 MiB paste: the rest is dropped by the input.
			in.CharLimit = 64
		}
		if sp.Secret {
			in.EchoMode = textinput.EchoPassword
			in.EchoCharacter = '•'
		}
		in.SetValue(sp.Value)
		in.SetStyles(st.TextInput())
		in.SetWidth(40)
		fl := formField{spec: sp, input: in}
		for i, o := range sp.Options {
			if o == sp.Value {
				fl.choice = i
			}
		}
		f.fields = append(f.fields, fl)
	}
	f.setFocus(0)
	return f
}

func (f *Form) setFocus(i int) tea.Cmd {
	if i < 0 {
		i = 0
	}
	if i > len(f.fields) {
		i = len(f.fields)
	}
	f.focus = i
	var cmd tea.Cmd
	for j := range f.fields {
		if j == i && f.fields[j].spec.Options == nil {
			cmd = f.fields[j].input.Focus()
		} else {
			f.fields[j].input.Blur()
		}
	}
	return cmd
}

// SetStyles switches the theme.
func (f *Form) SetStyles(st *themes.Styles) {
	f.st = st
	for i := range f.fields {
		f.fields[i].input.SetStyles(st.TextInput())
	}
}

// SetError shows err under the form ("" clears it).
func (f *Form) SetError(err string) { f.err = err }

// Value returns field i's value (the chosen option for a choice field).
func (f Form) Value(i int) string {
	fl := f.fields[i]
	if fl.spec.Options != nil {
		return fl.spec.Options[fl.choice]
	}
	return fl.input.Value()
}

// ClearSecrets empties the secret fields after a failed attempt and puts
// the focus on the first of them, ready for the next try.
func (f *Form) ClearSecrets() tea.Cmd {
	first := -1
	for i := range f.fields {
		if f.fields[i].spec.Secret {
			f.fields[i].input.SetValue("")
			if first < 0 {
				first = i
			}
		}
	}
	if first >= 0 {
		return f.setFocus(first)
	}
	return nil
}

// Update handles a message; submitted is true when the user pressed enter
// on the submit button or on the last field.
func (f Form) Update(msg tea.Msg) (Form, tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "tab", "down":
			return f, f.setFocus((f.focus + 1) % (len(f.fields) + 1)), false
		case "shift+tab", "up":
			return f, f.setFocus((f.focus + len(f.fields)) % (len(f.fields) + 1)), false
		case "enter":
			if f.focus >= len(f.fields)-1 {
				return f, f.setFocus(len(f.fields)), true
			}
			return f, f.setFocus(f.focus + 1), false
		case "ctrl+s":
			// Save from any field: a long form (fifty units of a scan)
			// needs no walk to its button.
			return f, f.setFocus(len(f.fields)), true
		}
		if f.focus < len(f.fields) && f.fields[f.focus].spec.Options != nil {
			fl := &f.fields[f.focus]
			switch k.String() {
			case "left", "h":
				fl.choice = (fl.choice + len(fl.spec.Options) - 1) % len(fl.spec.Options)
			case "right", "l", "space":
				fl.choice = (fl.choice + 1) % len(fl.spec.Options)
			}
			return f, nil, false
		}
	}
	if f.focus < len(f.fields) {
		var cmd tea.Cmd
		f.fields[f.focus].input, cmd = f.fields[f.focus].input.Update(msg)
		return f, cmd, false
	}
	return f, nil, false
}

// View renders the form.
func (f Form) View() string {
	var b strings.Builder
	width := 0
	for _, fl := range f.fields {
		if len(fl.spec.Label) > width {
			width = len(fl.spec.Label)
		}
	}
	first, last := 0, len(f.fields)
	if room := f.height - 4 - strings.Count(f.err, "\n"); f.height > 0 && len(f.fields) > room && room >= 3 {
		// A window of room-2 fields around the focus (two lines say
		// what is above and below).
		n := room - 2
		first = min(max(f.focus-n/2, 0), len(f.fields)-n)
		last = first + n
	}
	if first > 0 {
		b.WriteString(f.st.Text.Dim.Render(fmt.Sprintf("  ↑ %d more", first)) + "\n")
	}
	for i := first; i < last; i++ {
		fl := f.fields[i]
		marker := "  "
		if i == f.focus {
			marker = f.st.Input.Prompt.Render("> ")
		}
		label := f.st.Input.Label.Render(fl.spec.Label + strings.Repeat(" ", width-len(fl.spec.Label)))
		var value string
		if fl.spec.Options != nil {
			opt := fl.spec.Options[fl.choice]
			if i == f.focus {
				value = f.st.Input.Focused.Render("◀ " + opt + " ▶")
			} else {
				value = f.st.Text.Normal.Render(opt)
			}
		} else {
			value = fl.input.View()
		}
		if fl.spec.Note != "" {
			value += "  " + f.st.Text.Dim.Render(fl.spec.Note)
		}
		line := marker + label + "  " + value
		if f.width > 0 {
			line = lipgloss.NewStyle().MaxWidth(f.width).Render(line)
		}
		b.WriteString(line + "\n")
	}
	if last < len(f.fields) {
		b.WriteString(f.st.Text.Dim.Render(fmt.Sprintf("  ↓ %d more", len(f.fields)-last)) + "\n")
	}
	btn := f.st.Button.Inactive.Render(f.submit)
	if f.focus == len(f.fields) {
		btn = f.st.Button.Active.Render(f.submit)
	}
	b.WriteString("\n  " + btn)
	if f.err != "" {
		b.WriteString("\n\n" + f.st.Text.Error.Render(f.err))
	}
	return b.String()
}

// Problems collects every problem of a form at once, so that one submit
// shows all of them.
type Problems []string

// Int reads a whole number.
func (p *Problems) Int(label, s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		*p = append(*p, label+": give a whole number")
	}
	return n
}

// Float reads a number.
func (p *Problems) Float(label, s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		*p = append(*p, label+": give a number")
	}
	return f
}

// Duration reads a duration.
func (p *Problems) Duration(label, s string) device.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		*p = append(*p, label+": give a duration such as 500ms or 10s")
	}
	return device.Duration(d)
}

// Text is every problem, one per line.
func (p Problems) Text() string { return strings.Join(p, "\n") }

// ProblemLines shows the problems of a refused change one per line.
func ProblemLines(err error) string {
	var ve *device.ValidationError
	if errors.As(err, &ve) {
		return ve.Error() // one problem per line, without a wrapper's prefix
	}
	return err.Error()
}

// Outcome is what a form did with a message.
type Outcome int

// Outcomes of Form.Step.
const (
	Editing   Outcome = iota // the form stays open
	Submitted                // enter on the submit button or the last field
	Cancelled                // esc: the parent closes the form
)

// Step passes an input message (a key or a paste) to the form and says
// what came of it; any other message is ignored.
func (f *Form) Step(msg tea.Msg) (tea.Cmd, Outcome) {
	switch m := msg.(type) {
	case tea.KeyPressMsg:
		if m.String() == "esc" {
			return nil, Cancelled
		}
	case tea.PasteMsg:
	default:
		return nil, Editing
	}
	next, cmd, submitted := f.Update(msg)
	*f = next
	if submitted {
		return cmd, Submitted
	}
	return cmd, Editing
}

// Handle passes msg to the form: esc calls cancel, a submit calls submit;
// it returns the commands to run.
func (f *Form) Handle(msg tea.Msg, cancel func(), submit func() tea.Cmd) tea.Cmd {
	cmd, out := f.Step(msg)
	switch out {
	case Cancelled:
		cancel()
	case Submitted:
		return tea.Batch(cmd, submit())
	}
	return cmd
}
