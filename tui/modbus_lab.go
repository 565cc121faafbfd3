package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/tui/access"
)

// The decode lab reads a register range now and shows it decoded as every
// numeric type in every byte order side by side, so an installer facing an
// undocumented device can pick the combination that gives a plausible
// value and save it to the point.

var (
	labTypes  = []device.DataType{device.TypeInt16, device.TypeUint16, device.TypeInt32, device.TypeUint32, device.TypeFloat32, device.TypeInt64, device.TypeUint64, device.TypeFloat64}
	labOrders = []device.ByteOrder{device.OrderABCD, device.OrderCDAB, device.OrderBADC, device.OrderDCBA}
)

func (m *modbusScreen) openLab(n node) {
	m.lab = labState{device: n.dev, table: device.TableHolding}
	if n.kind == nodePoint {
		if p, ok := m.point(n); ok && !p.Table.IsBit() {
			m.lab.point, m.lab.table, m.lab.address = p.Name, p.Table, p.Address
			m.lab.row, m.lab.col = indexOf(labTypes, p.Type), indexOf(labOrders, p.Order)
		}
	}
	m.form = newForm(m.c.st, "Read now",
		fieldSpec{Label: "Table", Value: m.lab.table.String(), Options: []string{"holding", "input"}},
		fieldSpec{Label: "Address (0-based)", Value: strconv.Itoa(m.lab.address), Limit: 5},
		fieldSpec{Label: "Registers", Value: "4", Placeholder: "1..16", Limit: 2})
	m.formKind, m.mode = formLab, mbLab
}

func indexOf[T comparable](s []T, v T) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

func (m *modbusScreen) labRead() tea.Cmd {
	table, _ := device.ParseRegisterTable(m.form.Value(0))
	addr, err1 := strconv.Atoi(strings.TrimSpace(m.form.Value(1)))
	count, err2 := strconv.Atoi(strings.TrimSpace(m.form.Value(2)))
	if err1 != nil || err2 != nil || addr < 0 || addr > 65535 || count < 1 || count > 16 || addr+count > 65536 {
		m.form.SetError("give an address 0..65535 and 1..16 registers")
		return nil
	}
	if err := m.c.acc.Authorize(m.c.p, access.PermFieldWrite); err != nil {
		m.form.SetError(err.Error())
		return nil
	}
	fb := m.c.gw.RawReader()
	if fb == nil {
		m.form.SetError("no Modbus driver is running")
		return nil
	}
	m.lab.table, m.lab.address = table, addr
	m.formKind = 0 // the grid takes the keys now
	req := device.RawRead{Device: m.lab.device, Table: table, Address: uint16(addr), Count: uint16(count)}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		words, _, err := fb.ReadRaw(ctx, req)
		return labReadMsg{words: words, err: err}
	}
}

func (m *modbusScreen) labUpdate(msg tea.Msg) tea.Cmd {
	k, isKey := msg.(tea.KeyPressMsg)
	if m.formKind == formLab {
		if isKey && k.String() == "esc" {
			m.mode = mbTree
			return nil
		}
		if _, paste := msg.(tea.PasteMsg); !isKey && !paste {
			return nil
		}
		f, cmd, submitted := m.form.Update(msg)
		m.form = f
		if submitted {
			return tea.Batch(cmd, m.labRead())
		}
		return cmd
	}
	if !isKey {
		return nil
	}
	switch k.String() {
	case "esc":
		m.mode = mbTree
	case "up", "k":
		m.lab.row = max(m.lab.row-1, 0)
	case "down", "j":
		m.lab.row = min(m.lab.row+1, len(labTypes)-1)
	case "left", "h":
		m.lab.col = max(m.lab.col-1, 0)
	case "right", "l":
		m.lab.col = min(m.lab.col+1, len(labOrders)-1)
	case "r":
		m.formKind = formLab
	case "enter":
		return m.labSave()
	}
	return nil
}

// labSave stores the chosen type and byte order on the point the lab was
// opened from (or on a new point at the lab's address).
func (m *modbusScreen) labSave() tea.Cmd {
	if !m.editable() {
		return flash("Saving to a point needs the installer role.")
	}
	t, o := labTypes[m.lab.row], labOrders[m.lab.col]
	site, _ := m.c.gw.Site()
	next := site.Clone()
	name := m.lab.point
	if name == "" {
		name = fmt.Sprintf("reg_%d", m.lab.address)
	}
	for i := range next.Modbus.Devices {
		d := &next.Modbus.Devices[i]
		if d.Name != m.lab.device {
			continue
		}
		// The point may come from a profile: override it by name.
		var base device.Point
		for _, p := range d.EffectivePoints() {
			if p.Name == name {
				base = p
			}
		}
		if base.Name == "" {
			base = device.Point{Name: name}
		}
		base.Table, base.Address, base.Type, base.Order = m.lab.table, m.lab.address, t, o
		replaced := false
		for j := range d.Points {
			if d.Points[j].Name == name {
				d.Points[j] = base
				replaced = true
			}
		}
		if !replaced {
			d.Points = append(d.Points, base)
		}
	}
	if err := m.apply(next, fmt.Sprintf("point %s as %s %s", name, t, o)); err != nil {
		m.lab.err = problemLines(err)
		return nil
	}
	m.mode = mbTree
	return flash(m.flash)
}

func (m *modbusScreen) labView() string {
	st := m.c.st
	head := st.Title.Render("Decode lab · "+m.lab.device) + "\n\n"
	if m.formKind == formLab {
		return head + st.Text.Normal.Render("Read registers now and see them as every type and byte order.") + "\n\n" + m.form.View()
	}
	if m.lab.err != "" {
		return head + st.Text.Error.Render(m.lab.err) + "\n\n" + st.Text.Dim.Render("r read again · esc back")
	}
	if m.lab.words == nil {
		return head + st.Text.Dim.Render("reading…")
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
			text := fmt.Sprintf("%22s", clip(cell, 21))
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
