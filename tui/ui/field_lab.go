package ui

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// The decode lab reads a register range now and shows it decoded as every
// numeric type in every byte order side by side, so an installer facing an
// undocumented device can pick the combination that gives a plausible
// value and save it to the point.

// labState is the decode lab: what it reads, what it read, and the
// type and byte order picked.
type labState struct {
	device  string
	point   string // set when the lab was opened from a point
	table   device.RegisterTable
	address int
	words   []uint16
	err     string
	row     int // type
	col     int // byte order
}

// labReadMsg is the decode lab's read.
type labReadMsg struct {
	words []uint16
	err   error
}

var (
	labTypes  = []device.DataType{device.TypeInt16, device.TypeUint16, device.TypeInt32, device.TypeUint32, device.TypeFloat32, device.TypeInt64, device.TypeUint64, device.TypeFloat64}
	labOrders = []device.ByteOrder{device.OrderABCD, device.OrderCDAB, device.OrderBADC, device.OrderDCBA}
)

func (m *fieldScreen) openLab(n node) {
	m.lab = labState{device: n.dev, table: device.TableHolding}
	if n.kind == nodePoint {
		if p, ok := m.modbusPoint(n); ok && !p.Table.IsBit() {
			m.lab.point, m.lab.table, m.lab.address = p.Name, p.Table, p.Address
			m.lab.row, m.lab.col = indexOf(labTypes, p.Type), indexOf(labOrders, p.Order)
		}
	}
	m.form = common.NewForm(m.s.Styles, "Read now",
		common.FieldSpec{Label: "Table", Value: m.lab.table.String(), Options: []string{"holding", "input"}},
		common.FieldSpec{Label: "Address (0-based)", Value: strconv.Itoa(m.lab.address), Limit: 5},
		common.FieldSpec{Label: "Registers", Value: "4", Placeholder: "1..16", Limit: 2})
	m.formKind, m.mode = formLab, fieldLab
}

func indexOf[T comparable](s []T, v T) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

// labRead reads the registers in the background, under the session's
// context.
func (m *fieldScreen) labRead() tea.Cmd {
	table, _ := device.ParseRegisterTable(m.form.Value(0))
	addr, err1 := strconv.Atoi(strings.TrimSpace(m.form.Value(1)))
	count, err2 := strconv.Atoi(strings.TrimSpace(m.form.Value(2)))
	if err1 != nil || err2 != nil || addr < 0 || addr > 65535 || count < 1 || count > 16 || addr+count > 65536 {
		m.form.SetError("give an address 0..65535 and 1..16 registers")
		return nil
	}
	if err := m.s.Authorize(access.PermFieldWrite); err != nil {
		m.form.SetError(err.Error())
		return nil
	}
	fb := m.src.RawReader()
	if fb == nil {
		m.form.SetError("no Modbus driver is running")
		return nil
	}
	m.lab.table, m.lab.address = table, addr
	m.formKind = 0 // the grid takes the keys now
	m.lab.words, m.lab.err = nil, ""
	req := device.RawRead{Device: m.lab.device, Table: table, Address: uint16(addr), Count: uint16(count)}
	ctx := m.s.Ctx
	read := func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, labReadTimeout)
		defer cancel()
		words, _, err := fb.ReadRaw(ctx, req)
		return labReadMsg{words: words, err: err}
	}
	return tea.Batch(m.busy.Start(m.s.Styles, fmt.Sprintf("reading %d registers of %s…", count, m.lab.device)), read)
}

func (m *fieldScreen) labUpdate(msg tea.Msg) tea.Cmd {
	if m.formKind == formLab {
		return m.form.Handle(msg, func() { m.mode = fieldTree }, m.labRead)
	}
	k, isKey := msg.(tea.KeyPressMsg)
	if !isKey {
		return nil
	}
	keys := m.s.Keys
	switch {
	case key.Matches(k, keys.Back):
		m.mode = fieldTree
	case key.Matches(k, keys.Up):
		m.lab.row = max(m.lab.row-1, 0)
	case key.Matches(k, keys.Down):
		m.lab.row = min(m.lab.row+1, len(labTypes)-1)
	case key.Matches(k, keys.Left):
		m.lab.col = max(m.lab.col-1, 0)
	case key.Matches(k, keys.Right):
		m.lab.col = min(m.lab.col+1, len(labOrders)-1)
	case key.Matches(k, keys.ReadAgain):
		m.formKind = formLab
	case key.Matches(k, keys.Save):
		return m.labSave()
	}
	return nil
}

// labSave stores the chosen type and byte order on the point the lab was
// opened from (or on a new point at the lab's address).
func (m *fieldScreen) labSave() tea.Cmd {
	if !m.editable() {
		return common.Flash("Saving to a point needs the installer role.")
	}
	t, o := labTypes[m.lab.row], labOrders[m.lab.col]
	name := m.lab.point
	if name == "" {
		name = fmt.Sprintf("reg_%d", m.lab.address)
	}
	// The point may come from a profile: the saved one overrides it by
	// name.
	p, ok := m.modbusPoint(node{kind: nodePoint, dev: m.lab.device, point: name})
	if !ok {
		p = device.Point{Name: name}
	}
	p.Table, p.Address, p.Type, p.Order = m.lab.table, m.lab.address, t, o
	next := m.base.Site.Clone()
	if err := next.PutPoint(m.lab.device, name, p); err != nil {
		m.lab.err = err.Error()
		return nil
	}
	text, err := m.apply(next, fmt.Sprintf("point %s as %s %s", name, t, o))
	switch {
	case m.base.Stale != nil:
		m.lab.err = m.base.StaleText(m.s)
		return nil
	case err != nil:
		m.lab.err = common.ProblemLines(err)
		return nil
	}
	m.mode = fieldTree
	return common.Flash(text)
}

func (m *fieldScreen) labView() string {
	st := m.s.Styles
	head := st.Title.Render("Decode lab · "+m.lab.device) + "\n\n"
	if m.formKind == formLab {
		return head + st.Text.Normal.Render("Read registers now and see them as every type and byte order.") + "\n\n" + m.form.View()
	}
	if m.lab.err != "" {
		return head + st.Text.Error.Render(m.lab.err) + "\n\n" + st.Text.Dim.Render("r read again · esc back")
	}
	if m.lab.words == nil {
		return head + m.busy.View(st)
	}
	var raw []string
	for i, w := range m.lab.words {
		raw = append(raw, fmt.Sprintf("%s %04X", Notation(m.lab.table, m.lab.address+i), w))
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(st.Text.Dim.Render("raw  ") + st.Text.Normal.Render(strings.Join(raw, "  ")) + "\n\n")
	fmt.Fprintf(&b, "%s", st.Table.Header.Render(fmt.Sprintf("%-9s", "")))
	for _, o := range labOrders {
		b.WriteString(st.Table.Header.Render(fmt.Sprintf("%22s", o)))
	}
	b.WriteString("\n")
	for r, t := range labTypes {
		b.WriteString(st.Text.Dim.Render(fmt.Sprintf("%-9s", t)))
		for c, o := range labOrders {
			cell := "-"
			if n := t.Registers(); n <= len(m.lab.words) {
				if v, err := modbus.DecodeRegisters(m.lab.words[:n], t, o); err == nil {
					cell = strconv.FormatFloat(v, 'g', 10, 64)
				}
			}
			text := fmt.Sprintf("%22s", common.Clip(cell, 21))
			if r == m.lab.row && c == m.lab.col {
				b.WriteString(st.Table.Selected.Render(text))
			} else {
				b.WriteString(st.Text.Normal.Render(text))
			}
		}
		b.WriteString("\n")
	}
	target := "a new point reg_" + strconv.Itoa(m.lab.address)
	if m.lab.point != "" {
		target = "point " + m.lab.point
	}
	b.WriteString("\n" + st.Text.Dim.Render("arrows pick · enter saves the type and order to "+target+" · r read again · esc back"))
	return b.String()
}
