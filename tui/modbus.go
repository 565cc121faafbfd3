package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
)

// Notation returns the conventional 1-based reference of a Modbus address:
// 0xxxx coils, 1xxxx discrete inputs, 3xxxx input and 4xxxx holding
// registers (six digits above 9999), e.g. holding address 2 is 40003.
func Notation(t device.RegisterTable, addr int) string {
	prefix := map[device.RegisterTable]int{device.TableCoil: 0, device.TableDiscrete: 1, device.TableInput: 3, device.TableHolding: 4}[t]
	if addr < 9999 {
		return fmt.Sprintf("%d%04d", prefix, addr+1)
	}
	return fmt.Sprintf("%d%05d", prefix, addr+1)
}

type nodeKind int

const (
	nodeBus nodeKind = iota + 1
	nodeDevice
	nodePoint
)

// node is one line of the topology tree.
type node struct {
	kind  nodeKind
	bus   string
	dev   string
	point string
}

type modbusMode int

const (
	mbTree modbusMode = iota
	mbForm
	mbConfirm
	mbLab
	mbScan
)

// formKind says what a topology form edits.
type formKind int

const (
	formBus formKind = iota + 1
	formDevice
	formPoint
	formProfile
	formWrite
	formLab
)

// modbusScreen is the topology: a tree of bus → device → point with live
// values and statistics, forms to change it, a decode lab, writes and scans.
type modbusScreen struct {
	c    *shared
	w, h int
	mode modbusMode

	nodes  []node
	cursor int
	offset int

	form     form
	formKind formKind
	editing  string // name of what a form edits ("" when adding)
	confirm  string
	action   func() (string, error)

	lab      labState
	scanText string
	scanning bool
	scanCh   chan tea.Msg
	flash    string // what the last apply did

	keys modbusKeys
}

type modbusKeys struct {
	Up, Down, AddBus, Add, Edit, Delete, Profile, Lab, Write, Scan, Back key.Binding
}

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

// Messages of background work.
type (
	scanDoneMsg struct {
		text string
		err  error
	}
	scanProgressMsg struct{ text string }
	labReadMsg      struct {
		words []uint16
		err   error
	}
	writeDoneMsg struct {
		text string
		err  error
	}
)

func newModbusScreen(c *shared) *modbusScreen {
	m := &modbusScreen{c: c}
	b := func(keys, help string, k ...string) key.Binding {
		return key.NewBinding(key.WithKeys(append([]string{keys}, k...)...), key.WithHelp(keys, help))
	}
	m.keys = modbusKeys{
		Up: b("up", "up", "k"), Down: b("down", "down", "j"),
		AddBus: b("B", "add bus"), Add: b("a", "add"), Edit: b("e", "edit"), Delete: b("d", "delete"),
		Profile: b("p", "profile"), Lab: b("l", "decode lab"), Write: b("w", "write"), Scan: b("s", "scan"),
		Back: b("esc", "back"),
	}
	m.rebuild()
	return m
}

func (m *modbusScreen) Title() string    { return "Modbus" }
func (m *modbusScreen) SetSize(w, h int) { m.w, m.h = w, h }

// Capturing: while a form is open every key belongs to it (tab moves
// between its fields); esc leaves it.
func (m *modbusScreen) Capturing() bool {
	return m.mode == mbForm || m.mode == mbLab && m.formKind == formLab
}
func (m *modbusScreen) Restyle()       { m.form.SetStyles(m.c.st) }
func (m *modbusScreen) editable() bool { return m.c.can(access.PermConfigEdit) }
func (m *modbusScreen) fieldOps() bool { return m.c.can(access.PermFieldWrite) }

func (m *modbusScreen) Keys() []key.Binding {
	if m.mode != mbTree {
		return []key.Binding{m.keys.Back}
	}
	ks := []key.Binding{}
	n, ok := m.selected()
	if m.editable() {
		ks = append(ks, m.keys.AddBus)
		if ok {
			ks = append(ks, m.keys.Add, m.keys.Edit, m.keys.Delete)
			if n.kind == nodeDevice {
				ks = append(ks, m.keys.Profile)
			}
		}
	}
	if ok && m.fieldOps() {
		switch n.kind {
		case nodeBus:
			ks = append(ks, m.keys.Scan)
		case nodeDevice:
			ks = append(ks, m.keys.Lab)
		case nodePoint:
			ks = append(ks, m.keys.Lab, m.keys.Write)
		}
	}
	return ks
}

// rebuild flattens the site's topology into the tree, keeping the cursor
// on the same node when it still exists.
func (m *modbusScreen) rebuild() {
	var keep node
	if n, ok := m.selected(); ok {
		keep = n
	}
	site, _ := m.c.gw.Site()
	m.nodes = m.nodes[:0]
	for _, b := range site.Modbus.Buses {
		m.nodes = append(m.nodes, node{kind: nodeBus, bus: b.Name})
		for _, d := range site.Modbus.Devices {
			if d.Bus != b.Name {
				continue
			}
			m.nodes = append(m.nodes, node{kind: nodeDevice, bus: b.Name, dev: d.Name})
			for _, p := range d.EffectivePoints() {
				m.nodes = append(m.nodes, node{kind: nodePoint, bus: b.Name, dev: d.Name, point: p.Name})
			}
		}
	}
	for i, n := range m.nodes {
		if n == keep {
			m.cursor = i
			return
		}
	}
	m.cursor = min(m.cursor, max(len(m.nodes)-1, 0))
}

func (m *modbusScreen) selected() (node, bool) {
	if m.cursor < len(m.nodes) {
		return m.nodes[m.cursor], true
	}
	return node{}, false
}

// apply validates a changed site and stores it as a revision through the
// server's role check.
func (m *modbusScreen) apply(next *device.Site, what string) error {
	current, _ := m.c.gw.Site()
	if err := device.CheckSite(next, current); err != nil {
		return err
	}
	ch, err := m.c.applySite(m.c.p, next)
	if err != nil {
		return err
	}
	m.rebuild()
	m.flash = fmt.Sprintf("%s: site revision %d", what, ch.Rev)
	return nil
}

func (m *modbusScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case eventMsg:
		if msg.ev.Kind == device.EventSite {
			m.rebuild()
		}
		return m, nil
	case scanProgressMsg:
		m.scanText = msg.text
		return m, waitScan(m.scanCh)
	case scanDoneMsg:
		m.scanning = false
		if msg.err != nil {
			m.scanText = "scan failed: " + msg.err.Error()
		} else {
			m.scanText = msg.text
		}
		return m, nil
	case labReadMsg:
		m.lab.words, m.lab.err = msg.words, ""
		if msg.err != nil {
			m.lab.err = msg.err.Error()
		}
		return m, nil
	case writeDoneMsg:
		if msg.err != nil {
			return m, flashErr(msg.err)
		}
		return m, flash(msg.text)
	}
	k, isKey := msg.(tea.KeyPressMsg)
	_, isPaste := msg.(tea.PasteMsg)
	switch m.mode {
	case mbTree:
		if isKey {
			return m, m.treeKey(k)
		}
	case mbConfirm:
		if !isKey {
			return m, nil
		}
		switch k.String() {
		case "y":
			m.mode = mbTree
			text, err := m.action()
			if err != nil {
				return m, flashErr(err)
			}
			return m, flash(text)
		case "n", "esc":
			m.mode = mbTree
		}
	case mbScan:
		if isKey && k.String() == "esc" && !m.scanning {
			m.mode = mbTree
		}
	case mbLab:
		return m, m.labUpdate(msg)
	case mbForm:
		if isKey && k.String() == "esc" {
			m.mode = mbTree
			return m, nil
		}
		if !isKey && !isPaste {
			return m, nil
		}
		f, cmd, submitted := m.form.Update(msg)
		m.form = f
		if submitted {
			return m, tea.Batch(cmd, m.submit())
		}
		return m, cmd
	}
	return m, nil
}

func (m *modbusScreen) treeKey(k tea.KeyPressMsg) tea.Cmd {
	n, ok := m.selected()
	switch {
	case key.Matches(k, m.keys.Up):
		m.cursor = max(m.cursor-1, 0)
	case key.Matches(k, m.keys.Down):
		m.cursor = min(m.cursor+1, max(len(m.nodes)-1, 0))
	case key.Matches(k, m.keys.AddBus) && m.editable():
		m.openBusForm(device.Bus{Kind: device.BusTCP, Timeout: device.Duration(time.Second)}, "")
	case !ok:
	case key.Matches(k, m.keys.Add) && m.editable():
		switch n.kind {
		case nodeBus:
			m.openDeviceForm(device.Device{Bus: n.bus, UnitID: 1, Interval: device.Duration(10 * time.Second)}, "")
		default:
			m.openPointForm(n.dev, device.Point{Table: device.TableHolding, Type: device.TypeUint16}, "")
		}
	case key.Matches(k, m.keys.Edit) && m.editable():
		site, _ := m.c.gw.Site()
		switch n.kind {
		case nodeBus:
			b, _ := site.Modbus.FindBus(n.bus)
			m.openBusForm(b, b.Name)
		case nodeDevice:
			d, _ := site.Modbus.FindDevice(n.dev)
			m.openDeviceForm(d, d.Name)
		case nodePoint:
			if p, ok := m.point(n); ok {
				m.openPointForm(n.dev, p, p.Name)
			}
		}
	case key.Matches(k, m.keys.Delete) && m.editable():
		m.askDelete(n)
	case key.Matches(k, m.keys.Profile) && m.editable() && n.kind == nodeDevice:
		site, _ := m.c.gw.Site()
		d, _ := site.Modbus.FindDevice(n.dev)
		opts := append([]string{"none"}, device.ProfileNames()...)
		cur := d.Profile
		if cur == "" {
			cur = "none"
		}
		m.form = newForm(m.c.st, "Apply profile", fieldSpec{Label: "Profile of " + d.Name, Value: cur, Options: opts})
		m.formKind, m.editing, m.mode = formProfile, d.Name, mbForm
	case key.Matches(k, m.keys.Scan) && m.fieldOps() && n.kind == nodeBus:
		return m.startScan(n.bus)
	case key.Matches(k, m.keys.Lab) && m.fieldOps() && n.kind != nodeBus:
		m.openLab(n)
	case key.Matches(k, m.keys.Write) && m.fieldOps() && n.kind == nodePoint:
		p, ok := m.point(n)
		if !ok || !p.Writable {
			return flash(n.point + " is read-only")
		}
		hint := "number"
		if p.Table.IsBit() {
			hint = "true or false"
		}
		m.form = newForm(m.c.st, "Write", fieldSpec{Label: "New value of " + p.Name, Placeholder: hint, Limit: 32})
		m.formKind, m.editing, m.mode = formWrite, n.dev+"\x00"+n.point, mbForm
	}
	// Keep the cursor visible.
	visible := max(m.h-2, 1)
	if m.cursor < m.offset {
		m.offset = m.cursor
	} else if m.cursor >= m.offset+visible {
		m.offset = m.cursor - visible + 1
	}
	return nil
}

func (m *modbusScreen) point(n node) (device.Point, bool) {
	site, _ := m.c.gw.Site()
	d, ok := site.Modbus.FindDevice(n.dev)
	if !ok {
		return device.Point{}, false
	}
	for _, p := range d.EffectivePoints() {
		if p.Name == n.point {
			return p, true
		}
	}
	return device.Point{}, false
}

func enumNames[T fmt.Stringer](vals ...T) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.String()
	}
	return out
}

var (
	tableNames = enumNames(device.TableHolding, device.TableInput, device.TableCoil, device.TableDiscrete)
	typeNames  = enumNames(device.TypeUint16, device.TypeInt16, device.TypeUint32, device.TypeInt32, device.TypeFloat32,
		device.TypeUint64, device.TypeInt64, device.TypeFloat64, device.TypeBool)
	orderNames  = enumNames(device.OrderABCD, device.OrderCDAB, device.OrderBADC, device.OrderDCBA)
	parityNames = enumNames(device.ParityEven, device.ParityNone, device.ParityOdd)
	baudNames   = []string{"9600", "19200", "38400", "57600", "115200", "4800", "2400", "1200"}
)

func (m *modbusScreen) openBusForm(b device.Bus, editing string) {
	baud := strconv.Itoa(b.Baud)
	if b.Baud == 0 {
		baud = "9600"
	}
	m.form = newForm(m.c.st, "Save bus",
		fieldSpec{Label: "Name", Value: b.Name, Placeholder: "e.g. rs485-1"},
		fieldSpec{Label: "Kind", Value: b.Kind.String(), Options: []string{"tcp", "rtu"}},
		fieldSpec{Label: "TCP address", Value: b.Address, Placeholder: "host:port (tcp)"},
		fieldSpec{Label: "Serial device", Value: b.Device, Placeholder: "/dev/ttyS1 (rtu)"},
		fieldSpec{Label: "Baud", Value: baud, Options: baudNames},
		fieldSpec{Label: "Parity", Value: b.Parity.String(), Options: parityNames},
		fieldSpec{Label: "Timeout", Value: b.Timeout.String(), Placeholder: "e.g. 500ms"},
	)
	m.formKind, m.editing, m.mode = formBus, editing, mbForm
}

func (m *modbusScreen) openDeviceForm(d device.Device, editing string) {
	site, _ := m.c.gw.Site()
	var buses []string
	for _, b := range site.Modbus.Buses {
		buses = append(buses, b.Name)
	}
	profile := d.Profile
	if profile == "" {
		profile = "none"
	}
	m.form = newForm(m.c.st, "Save device",
		fieldSpec{Label: "Name", Value: d.Name, Placeholder: "e.g. ahu-1"},
		fieldSpec{Label: "Bus", Value: d.Bus, Options: buses},
		fieldSpec{Label: "Unit id", Value: strconv.Itoa(d.UnitID), Placeholder: "1..247", Limit: 3},
		fieldSpec{Label: "Interval", Value: d.Interval.String(), Placeholder: "e.g. 10s"},
		fieldSpec{Label: "Profile", Value: profile, Options: append([]string{"none"}, device.ProfileNames()...)},
		fieldSpec{Label: "Max gap", Value: strconv.Itoa(d.EffectiveMaxGap()), Placeholder: "0..125", Limit: 3},
	)
	m.formKind, m.editing, m.mode = formDevice, editing, mbForm
}

func (m *modbusScreen) openPointForm(dev string, p device.Point, editing string) {
	writable := "no"
	if p.Writable {
		writable = "yes"
	}
	m.form = newForm(m.c.st, "Save point",
		fieldSpec{Label: "Name", Value: p.Name, Placeholder: "e.g. supply_temp"},
		fieldSpec{Label: "Table", Value: p.Table.String(), Options: tableNames},
		fieldSpec{Label: "Address (0-based)", Value: strconv.Itoa(p.Address), Limit: 5},
		fieldSpec{Label: "Type", Value: p.Type.String(), Options: typeNames},
		fieldSpec{Label: "Byte order", Value: p.Order.String(), Options: orderNames},
		fieldSpec{Label: "Scale", Value: strconv.FormatFloat(p.Scale(), 'g', -1, 64), Limit: 24},
		fieldSpec{Label: "Offset", Value: strconv.FormatFloat(p.Offset, 'g', -1, 64), Limit: 24},
		fieldSpec{Label: "Unit", Value: p.Unit, Limit: 16},
		fieldSpec{Label: "Writable", Value: writable, Options: []string{"no", "yes"}},
	)
	m.formKind, m.editing, m.mode = formPoint, dev+"\x00"+editing, mbForm
}

// parse helpers collect every problem of a form at once.
type formProblems []string

func (p *formProblems) int(label, s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		*p = append(*p, label+": give a whole number")
	}
	return n
}

func (p *formProblems) float(label, s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		*p = append(*p, label+": give a number")
	}
	return f
}

func (p *formProblems) duration(label, s string) device.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		*p = append(*p, label+": give a duration such as 500ms or 10s")
	}
	return device.Duration(d)
}

// submit turns the form into a site change (or a write) and applies it;
// problems are shown under the form and nothing is stored.
func (m *modbusScreen) submit() tea.Cmd {
	site, _ := m.c.gw.Site()
	next := site.Clone()
	var probs formProblems
	var what string
	f := m.form
	switch m.formKind {
	case formBus:
		kind, _ := device.ParseBusKind(f.Value(1))
		parity, _ := device.ParseParity(f.Value(5))
		b := device.Bus{Name: strings.TrimSpace(f.Value(0)), Kind: kind, Timeout: probs.duration("Timeout", f.Value(6))}
		if kind == device.BusTCP {
			b.Address = strings.TrimSpace(f.Value(2))
		} else {
			b.Device = strings.TrimSpace(f.Value(3))
			b.Baud = probs.int("Baud", f.Value(4))
			b.Parity = parity
		}
		replaced := false
		for i := range next.Modbus.Buses {
			if next.Modbus.Buses[i].Name == m.editing {
				old := next.Modbus.Buses[i].Name
				next.Modbus.Buses[i] = b
				// Renaming a bus carries its devices along.
				for j := range next.Modbus.Devices {
					if next.Modbus.Devices[j].Bus == old {
						next.Modbus.Devices[j].Bus = b.Name
					}
				}
				replaced = true
			}
		}
		if !replaced {
			next.Modbus.Buses = append(next.Modbus.Buses, b)
		}
		what = "bus " + b.Name
	case formDevice:
		d := device.Device{Name: strings.TrimSpace(f.Value(0)), Bus: f.Value(1), UnitID: probs.int("Unit id", f.Value(2)),
			Interval: probs.duration("Interval", f.Value(3))}
		if p := f.Value(4); p != "none" {
			d.Profile = p
		}
		d.SetMaxGap(probs.int("Max gap", f.Value(5)))
		replaced := false
		for i := range next.Modbus.Devices {
			if next.Modbus.Devices[i].Name == m.editing {
				d.Points, d.Timeout, d.MaxRegisters = next.Modbus.Devices[i].Points, next.Modbus.Devices[i].Timeout, next.Modbus.Devices[i].MaxRegisters
				next.Modbus.Devices[i] = d
				replaced = true
			}
		}
		if !replaced {
			next.Modbus.Devices = append(next.Modbus.Devices, d)
		}
		what = "device " + d.Name
	case formProfile:
		for i := range next.Modbus.Devices {
			if next.Modbus.Devices[i].Name == m.editing {
				next.Modbus.Devices[i].Profile = ""
				if p := f.Value(0); p != "none" {
					next.Modbus.Devices[i].Profile = p
				}
			}
		}
		what = "profile of " + m.editing
	case formPoint:
		devName, old, _ := strings.Cut(m.editing, "\x00")
		table, _ := device.ParseRegisterTable(f.Value(1))
		typ, _ := device.ParseDataType(f.Value(3))
		order, _ := device.ParseByteOrder(f.Value(4))
		p := device.Point{Name: strings.TrimSpace(f.Value(0)), Table: table, Address: probs.int("Address", f.Value(2)), Type: typ, Order: order,
			Offset: probs.float("Offset", f.Value(6)), Unit: strings.TrimSpace(f.Value(7)), Writable: f.Value(8) == "yes"}
		if s := probs.float("Scale", f.Value(5)); s != 1 {
			p.SetScale(s)
		}
		for i := range next.Modbus.Devices {
			d := &next.Modbus.Devices[i]
			if d.Name != devName {
				continue
			}
			replaced := false
			for j := range d.Points {
				if d.Points[j].Name == old && old != "" {
					d.Points[j] = p
					replaced = true
				}
			}
			if !replaced {
				// Adding, or overriding a profile's point by name.
				d.Points = append(d.Points, p)
			}
		}
		what = "point " + p.Name
	case formWrite:
		return m.write()
	}
	if len(probs) > 0 {
		m.form.SetError(strings.Join(probs, "\n"))
		return nil
	}
	if err := m.apply(next, what); err != nil {
		m.form.SetError(problemLines(err))
		return nil
	}
	m.mode = mbTree
	return flash(m.flash)
}

// problemLines shows validation problems one per line.
func problemLines(err error) string {
	var ve *device.ValidationError
	if errors.As(err, &ve) {
		return ve.Error() // one problem per line, without a wrapper's prefix
	}
	return err.Error()
}

func (m *modbusScreen) askDelete(n node) {
	site, _ := m.c.gw.Site()
	next := site.Clone()
	switch n.kind {
	case nodeBus:
		for _, d := range site.Modbus.Devices {
			if d.Bus == n.bus {
				m.confirmText("Bus "+n.bus+" still has devices: delete them or move them to another bus first.", nil)
				return
			}
		}
		m.confirmText("Delete bus "+n.bus+"?", func() (string, error) {
			next.Modbus.Buses = deleteWhere(next.Modbus.Buses, func(b device.Bus) bool { return b.Name == n.bus })
			return "Deleted bus " + n.bus, m.apply(next, "bus deleted")
		})
	case nodeDevice:
		m.confirmText("Delete device "+n.dev+" and its points?", func() (string, error) {
			next.Modbus.Devices = deleteWhere(next.Modbus.Devices, func(d device.Device) bool { return d.Name == n.dev })
			return "Deleted device " + n.dev, m.apply(next, "device deleted")
		})
	case nodePoint:
		d, _ := site.Modbus.FindDevice(n.dev)
		own := false
		for _, p := range d.Points {
			own = own || p.Name == n.point
		}
		if !own {
			m.confirmText(n.point+" comes from profile "+d.Profile+": remove the profile, or edit the point to override it.", nil)
			return
		}
		m.confirmText("Delete point "+n.point+"?", func() (string, error) {
			for i := range next.Modbus.Devices {
				if next.Modbus.Devices[i].Name == n.dev {
					next.Modbus.Devices[i].Points = deleteWhere(next.Modbus.Devices[i].Points, func(p device.Point) bool { return p.Name == n.point })
				}
			}
			return "Deleted point " + n.point, m.apply(next, "point deleted")
		})
	}
}

func deleteWhere[T any](s []T, drop func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if !drop(v) {
			out = append(out, v)
		}
	}
	return out
}

// confirmText asks a yes/no question; with a nil action it only informs
// (any answer closes it).
func (m *modbusScreen) confirmText(q string, action func() (string, error)) {
	if action == nil {
		action = func() (string, error) { return "", nil }
	}
	m.confirm, m.action, m.mode = q, action, mbConfirm
}

func (m *modbusScreen) startScan(bus string) tea.Cmd {
	if err := m.c.acc.Authorize(m.c.p, access.PermFieldWrite); err != nil {
		return flashErr(err)
	}
	hub := m.c.gw.Field()
	m.mode, m.scanning, m.scanText = mbScan, true, "scanning "+bus+"…"
	actor := m.c.p.Actor()
	gw := m.c.gw
	ch := make(chan tea.Msg, 4)
	m.scanCh = ch
	go func() {
		defer close(ch)
		found, err := hub.Discover(context.Background(), field.Modbus, field.Query{Target: bus}, func(p field.Progress) {
			select { // progress may be dropped; the result never is
			case ch <- scanProgressMsg{fmt.Sprintf("scanning %s: unit %d, %d/%d probed, %d found", bus, p.Current, p.Done, p.Total, p.Found)}:
			default:
			}
		})
		_ = gw.Audit(actor, device.ActionFieldScan, bus, resultOf(err))
		if err != nil {
			ch <- scanDoneMsg{err: err}
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d unit(s) answered on %s:\n\n", len(found), bus)
		for _, f := range found {
			fmt.Fprintf(&b, "  unit %-3d  %-16s %-20s %-8s (%s)\n", f.ID, dash(f.Vendor), dash(f.Model), dash(f.Revision), f.How)
		}
		ch <- scanDoneMsg{text: b.String()}
	}()
	return waitScan(ch)
}

// waitScan delivers the scan's next message.
func waitScan(ch chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		return msg
	}
}

func resultOf(err error) device.Result {
	if err != nil {
		return device.ResultFailed
	}
	return device.ResultOK
}

// write sends the form's value to the point, after the role check.
func (m *modbusScreen) write() tea.Cmd {
	devName, pointName, _ := strings.Cut(m.editing, "\x00")
	p, ok := m.point(node{kind: nodePoint, dev: devName, point: pointName})
	if !ok {
		m.form.SetError("the point no longer exists")
		return nil
	}
	raw := strings.TrimSpace(m.form.Value(0))
	var v field.Value
	if p.Table.IsBit() {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			m.form.SetError("give true or false")
			return nil
		}
		v = field.Boolean(b)
	} else {
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			m.form.SetError("give a number")
			return nil
		}
		v = field.Number(f)
	}
	m.confirmText(fmt.Sprintf("Write %s to %s.%s on the device now?", v, devName, pointName), func() (string, error) {
		if err := m.c.acc.Authorize(m.c.p, access.PermFieldWrite); err != nil {
			_ = m.c.gw.Audit(m.c.p.Actor(), device.ActionFieldWrite, devName+"."+pointName, device.ResultDenied)
			return "", err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := m.c.gw.WritePoint(ctx, m.c.p.Actor(), field.Write{Device: devName, Point: pointName, Value: v})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Wrote %s to %s.%s", v, devName, pointName), nil
	})
	return nil
}

func (m *modbusScreen) View() string {
	st := m.c.st
	switch m.mode {
	case mbForm:
		title := map[formKind]string{formBus: "Bus", formDevice: "Device", formPoint: "Point", formProfile: "Profile", formWrite: "Write to device"}[m.formKind]
		return st.Title.Render(title) + "\n\n" + m.form.View()
	case mbScan:
		tail := ""
		if !m.scanning {
			tail = "\n" + st.Text.Dim.Render("esc to go back")
		}
		return st.Title.Render("Bus scan") + "\n\n" + st.Text.Normal.Render(m.scanText) + tail
	case mbLab:
		return m.labView()
	}
	left := m.treeView()
	right := m.detailView()
	if m.mode == mbConfirm {
		right += "\n\n" + st.Text.Warn.Render(m.confirm) + st.Text.Normal.Render("  y yes · n no")
	}
	lw := min(max(m.w*2/5, 30), 60)
	return lipgloss.JoinHorizontal(lipgloss.Top,
		lipgloss.NewStyle().Width(lw).MaxWidth(lw).Render(left),
		lipgloss.NewStyle().Width(m.w-lw).MaxWidth(m.w-lw).PaddingLeft(1).Render(right))
}

func qualityStyle(st *themes.Styles, q field.Quality) lipgloss.Style {
	switch q {
	case field.QualityGood:
		return st.Text.OK
	case field.QualityStale:
		return st.Text.Warn
	}
	return st.Text.Error
}

func (m *modbusScreen) treeView() string {
	st := m.c.st
	if len(m.nodes) == 0 {
		msg := "No Modbus buses yet."
		if m.editable() {
			msg += "\nB adds one."
		}
		return st.Title.Render("Topology") + "\n\n" + st.Text.Dim.Render(msg)
	}
	values := map[string]field.Reading{}
	states := map[string]field.Status{}
	for _, s := range m.c.gw.DeviceStatuses() {
		states[s.Device] = s
	}
	lines := []string{st.Title.Render("Topology")}
	visible := max(m.h-2, 1)
	for i := m.offset; i < len(m.nodes) && i < m.offset+visible; i++ {
		n := m.nodes[i]
		var text string
		switch n.kind {
		case nodeBus:
			text = "▾ " + n.bus
		case nodeDevice:
			state := states[n.dev].State
			text = "  ▾ " + n.dev + " [" + string(state) + "]"
			if rs, ok := m.c.gw.Readings(n.dev); ok {
				for _, r := range rs {
					values[n.dev+"\x00"+r.Point] = r
				}
			}
		case nodePoint:
			r := values[n.dev+"\x00"+n.point]
			text = "      " + n.point + " " + r.Value.String() + " " + r.Unit
		}
		text = clip(text, max(m.w*2/5, 30)-1)
		switch {
		case i == m.cursor:
			lines = append(lines, st.Table.Selected.Render(text))
		case n.kind == nodePoint:
			lines = append(lines, qualityStyle(m.c.st, values[n.dev+"\x00"+n.point].Quality).Render(text))
		case n.kind == nodeDevice && states[n.dev].State == field.StateOffline:
			lines = append(lines, st.Text.Error.Render(text))
		default:
			lines = append(lines, st.Text.Normal.Render(text))
		}
	}
	return strings.Join(lines, "\n")
}

func (m *modbusScreen) detailView() string {
	st := m.c.st
	n, ok := m.selected()
	if !ok {
		return ""
	}
	site, _ := m.c.gw.Site()
	kv := func(k, v string) string {
		return st.Text.Dim.Render(fmt.Sprintf("%-13s", k)) + st.Text.Normal.Render(v)
	}
	var lines []string
	switch n.kind {
	case nodeBus:
		b, _ := site.Modbus.FindBus(n.bus)
		lines = append(lines, st.Title.Render("Bus "+b.Name), kv("kind", b.Kind.String()))
		if b.Kind == device.BusTCP {
			lines = append(lines, kv("address", b.Address))
		} else {
			lines = append(lines, kv("device", b.Device), kv("line", fmt.Sprintf("%d baud, %d%s%d", b.Baud, b.DataBits, strings.ToUpper(b.Parity.String()[:1]), b.StopBits)))
		}
		lines = append(lines, kv("timeout", b.Timeout.String()))
	case nodeDevice:
		d, _ := site.Modbus.FindDevice(n.dev)
		var s field.Status
		for _, x := range m.c.gw.DeviceStatuses() {
			if x.Device == d.Name {
				s = x
			}
		}
		profile := d.Profile
		if profile == "" {
			profile = "-"
		}
		lines = append(lines, st.Title.Render("Device "+d.Name),
			kv("unit id", strconv.Itoa(d.UnitID)), kv("interval", d.Interval.String()), kv("profile", profile),
			kv("points", strconv.Itoa(len(d.EffectivePoints()))), "",
			kv("state", string(s.State)), kv("requests", strconv.FormatUint(s.Requests, 10)),
			kv("success", fmt.Sprintf("%.1f%%", 100*s.SuccessRate)), kv("latency", s.LastLatency.Round(time.Microsecond*100).String()))
		var errs []string
		for _, kind := range []string{"timeout", "exception", "crc", "framing", "connection"} {
			if c := s.Errors[kind]; c > 0 {
				errs = append(errs, fmt.Sprintf("%s %d", kind, c))
			}
		}
		if len(errs) > 0 {
			lines = append(lines, kv("errors", strings.Join(errs, ", ")))
		}
		if s.LastError != "" {
			lines = append(lines, kv("last error", s.LastError))
		}
	case nodePoint:
		p, _ := m.point(n)
		var r field.Reading
		if rs, ok := m.c.gw.Readings(n.dev); ok {
			for _, x := range rs {
				if x.Point == p.Name {
					r = x
				}
			}
		}
		rw := "read-only"
		if p.Writable {
			rw = "writable"
		}
		lines = append(lines, st.Title.Render("Point "+p.Name),
			kv("table", p.Table.String()),
			kv("address", fmt.Sprintf("%d (%s)", p.Address, Notation(p.Table, p.Address))),
			kv("type", fmt.Sprintf("%s %s", p.Type, p.Order)),
			kv("scaling", fmt.Sprintf("raw × %g + %g", p.Scale(), p.Offset)),
			kv("access", rw), "",
			kv("value", qualityStyle(m.c.st, r.Quality).Render(strings.TrimSpace(r.Value.String()+" "+r.Unit))),
			kv("quality", string(r.Quality)))
		if r.Error != "" {
			lines = append(lines, kv("error", r.Error))
		}
	}
	return strings.Join(lines, "\n")
}
