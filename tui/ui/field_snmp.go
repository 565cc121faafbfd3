package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// The SNMP walk browser of the field tab: on an SNMP device, o asks for
// the OID to walk under (mib-2 by default) and walks the agent with
// GETBULK, at most snmpBrowseRows varbinds; space picks OIDs with a value
// (a number or a text: snmp.Var.Readable), * picks all or none, a adds the
// picked ones as scalar points of the device in one revision-checked save.

// SNMPSource is what the walk browser asks of the SNMP driver;
// *snmp.Driver implements it.
type SNMPSource interface {
	Walk(ctx context.Context, name, oid string, maxRows int) ([]snmp.Var, bool, error)
}

var _ SNMPSource = (*snmp.Driver)(nil)

// SNMPLookup finds the SNMP driver running now; false when none runs.
type SNMPLookup func() (SNMPSource, bool)

// snmpLookup is d.SNMP, or the driver running for d.Gateway.
func (d Deps) snmpLookup() SNMPLookup {
	if d.SNMP != nil {
		return d.SNMP
	}
	return driverLookup[SNMPSource](d.Gateway, field.SNMP)
}

// Bounds of the walk browser.
const (
	// snmpBrowseRows bounds one walk: an agent's whole mib-2 can hold
	// tens of thousands of varbinds; a narrower OID shows the rest.
	snmpBrowseRows = 500
	// snmpWalkTimeout bounds one walk.
	snmpWalkTimeout = time.Minute
	// snmpDefaultRoot is where a walk starts unless the installer says.
	snmpDefaultRoot = "1.3.6.1.2.1"
)

// snmpState is the walk browser.
type snmpState struct {
	dev       string
	root      string
	loading   bool
	cancel    context.CancelFunc
	vars      []snmp.Var
	truncated bool
	picked    []bool
	cur       int
	offset    int
}

type snmpWalkMsg struct {
	vars      []snmp.Var
	truncated bool
	err       error
}

func (m *fieldScreen) snmp() (SNMPSource, bool) {
	if m.snmpLookup == nil {
		return nil, false
	}
	return m.snmpLookup()
}

// openWalkForm asks for the OID to walk under on device dev.
func (m *fieldScreen) openWalkForm(dev string) tea.Cmd {
	if !m.s.Can(access.PermFieldRead) {
		return common.ReadOnly(m.s, access.PermFieldRead)
	}
	m.sn = snmpState{dev: dev}
	m.form = common.NewForm(m.s.Styles, "Walk",
		common.FieldSpec{Label: "Under OID", Value: snmpDefaultRoot, Limit: 128,
			Note: fmt.Sprintf("GETBULK, at most %d varbinds; mib-2 is 1.3.6.1.2.1, enterprises 1.3.6.1.4.1", snmpBrowseRows)})
	m.formKind, m.mode = formSNMPWalk, fieldForm
	return nil
}

// startWalk walks the OID the form names, in the background.
func (m *fieldScreen) startWalk() tea.Cmd {
	root, err := device.ParseOID(strings.TrimSpace(m.form.Value(0)))
	if err != nil {
		m.form.SetError(err.Error())
		return nil
	}
	src, ok := m.snmp()
	if !ok {
		m.form.SetError("the SNMP driver is not running (the gateway is stopping?)")
		return nil
	}
	ctx, cancel := context.WithTimeout(m.s.Ctx, snmpWalkTimeout)
	m.sn.root, m.sn.loading, m.sn.cancel = root, true, cancel
	m.mode = fieldSNMP
	dev := m.sn.dev
	run := func() tea.Msg {
		defer cancel()
		vars, truncated, err := src.Walk(ctx, dev, root, snmpBrowseRows)
		return snmpWalkMsg{vars: vars, truncated: truncated, err: err}
	}
	return tea.Batch(m.busy.Start(m.s.Styles, "walking "+dev+" under "+root+"…"), run)
}

// snmpUpdate is Update in the walk browser.
func (m *fieldScreen) snmpUpdate(msg tea.Msg) tea.Cmd {
	sn := &m.sn
	if w, ok := msg.(snmpWalkMsg); ok {
		m.busy.Stop()
		sn.loading = false
		if w.err != nil {
			m.mode = fieldTree
			return common.FlashErr(fmt.Errorf("walk of %s under %s: %w", sn.dev, sn.root, w.err))
		}
		sn.vars, sn.truncated, sn.cur, sn.offset = w.vars, w.truncated, 0, 0
		sn.picked = make([]bool, len(w.vars))
		return nil
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	keys := m.s.Keys
	switch {
	case sn.loading:
		if key.Matches(k, keys.Back) && sn.cancel != nil {
			sn.cancel()
		}
	case key.Matches(k, keys.Back):
		m.mode = fieldTree
	case key.Matches(k, keys.Up):
		sn.cur = max(sn.cur-1, 0)
	case key.Matches(k, keys.Down):
		sn.cur = min(sn.cur+1, max(len(sn.vars)-1, 0))
	case key.Matches(k, keys.PageDown):
		sn.cur = min(sn.cur+m.objectRows(), max(len(sn.vars)-1, 0))
	case key.Matches(k, keys.PageUp):
		sn.cur = max(sn.cur-m.objectRows(), 0)
	case key.Matches(k, keys.PickObject) && len(sn.vars) > 0:
		if v := sn.vars[sn.cur]; !v.Readable() {
			return common.Flash(fmt.Sprintf("%s is %s: it has no value to read as a point.", v.OID, v.Type))
		}
		sn.picked[sn.cur] = !sn.picked[sn.cur]
	case key.Matches(k, keys.PickAll):
		all := true
		for i, v := range sn.vars {
			all = all && (sn.picked[i] || !v.Readable())
		}
		for i, v := range sn.vars {
			sn.picked[i] = !all && v.Readable()
		}
	case key.Matches(k, keys.AddPicked):
		if !m.editable() {
			return common.ReadOnly(m.s, access.PermConfigEdit)
		}
		return m.addWalked()
	}
	rows := m.objectRows()
	if sn.cur < sn.offset {
		sn.offset = sn.cur
	}
	if sn.cur >= sn.offset+rows {
		sn.offset = sn.cur - rows + 1
	}
	return nil
}

// addWalked adds the picked OIDs as scalar points of the device.
func (m *fieldScreen) addWalked() tea.Cmd {
	sn := &m.sn
	var oids []string
	for i, v := range sn.vars {
		if sn.picked[i] {
			oids = append(oids, v.OID)
		}
	}
	if len(oids) == 0 {
		return common.Flash("Nothing picked: space picks an OID.")
	}
	m.base.Load(m.src)
	next := m.base.Site.Clone()
	added, err := next.AddSNMPPoints(sn.dev, oids)
	switch {
	case err != nil:
		return common.FlashErr(err)
	case len(added) == 0:
		return common.Flash("The device reads every OID picked already.")
	}
	text, err := m.apply(next, fmt.Sprintf("added %s to %s (%s)", format.Count(len(added), "point"), sn.dev, strings.Join(added, ", ")))
	if err != nil {
		if m.base.Stale != nil {
			return common.FlashErr(fmt.Errorf("%s", m.base.StaleText(m.s)))
		}
		return common.FlashErr(fmt.Errorf("%s", common.ProblemLines(err)))
	}
	m.mode = fieldTree
	m.show(sn.dev)
	return common.Flash(common.Clip(text, 200))
}

func (m *fieldScreen) snmpKeys() []key.Binding {
	k := m.s.Keys
	if m.sn.loading {
		return []key.Binding{k.Back}
	}
	ks := []key.Binding{k.Up, k.Down, k.PickObject, k.PickAll}
	if m.editable() {
		ks = append(ks, k.AddPicked)
	}
	return append(ks, k.PageUp, k.PageDown, k.Back)
}

func (m *fieldScreen) snmpView() string {
	st := m.s.Styles
	sn := &m.sn
	title := st.Title.Render("Walk of " + sn.dev + " under " + sn.root)
	if sn.loading {
		return title + "\n\n" + m.busy.View(st) + "\n" + st.Text.Dim.Render("esc stops")
	}
	n := 0
	for _, p := range sn.picked {
		if p {
			n++
		}
	}
	head := fmt.Sprintf("  %d varbinds, %d picked", len(sn.vars), n)
	if sn.truncated {
		head += fmt.Sprintf(" — stopped at %d: walk a narrower OID for the rest", snmpBrowseRows)
	}
	lines := []string{title + st.Text.Dim.Render(head), "",
		st.Table.Header.Render(common.Clip(fmt.Sprintf("    %-36s %-12s %s", "OID", "TYPE", "VALUE"), m.w))}
	if len(sn.vars) == 0 {
		lines = append(lines, st.Text.Dim.Render("Nothing under this OID. esc to go back"))
	}
	for i := sn.offset; i < len(sn.vars) && i < sn.offset+m.objectRows(); i++ {
		v := sn.vars[i]
		mark := "[ ]"
		if sn.picked[i] {
			mark = "[x]"
		}
		style := st.Text.Normal
		if i == sn.cur {
			style = st.Table.Selected
		}
		lines = append(lines, style.Render(common.Clip(fmt.Sprintf("%s %-36s %-12s %s", mark, common.Clip(v.OID, 36), common.Clip(v.Type, 12), oneLineText(v.Text)), m.w)))
	}
	if more := len(sn.vars) - sn.offset - m.objectRows(); more > 0 {
		lines = append(lines, st.Text.Dim.Render(fmt.Sprintf("  ↓ %d more (pgdn)", more)))
	}
	lines = append(lines, "", st.Text.Dim.Render(common.Clip("space picks · * all/none · a adds the picked OIDs as points of "+sn.dev, m.w)))
	return strings.Join(lines, "\n")
}

// oneLineText keeps an agent's text on one line of the table.
func oneLineText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// snmpTreeKey reports whether k on n opens the walk browser.
func (m *fieldScreen) snmpTreeKey(k tea.KeyPressMsg, n node) bool {
	return n.proto == field.SNMP && (n.kind == nodeDevice || n.kind == nodePoint) && key.Matches(k, m.s.Keys.Walk)
}
