package ui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// The field screen's Modbus nodes: forms for buses, devices and points,
// profiles, deletes, and what the detail pane shows of them. The topology
// rules (a renamed bus carries its devices, a profile's point cannot be
// deleted) are device.Site's.

// Notation returns the conventional 1-based reference of a Modbus address:
// 0xxxx coils, 1xxxx discrete inputs, 3xxxx input and 4xxxx holding
// registers (six digits above 9999), e.g. holding address 2 is 40003.
func Notation(t device.RegisterTable, addr int) string { return device.Notation(t, addr) }

// formKind says what a field screen form edits.
type formKind int

const (
	formBus formKind = iota + 1
	formDevice
	formPoint
	formProfile
	formWrite
	formLab
	formClone
	formAddFound
	formBACnetDevice // field_bacnet.go
	formSNMPWalk     // field_snmp.go
)

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

// noProfile is the device form's choice of no profile; for a new device
// the form leads to the point form, so that it is never saved without
// points (and never a dead end).
const (
	noProfile    = "none"
	noProfileNew = "none: enter its points next"
)

// profileChoices are the profiles a device of the site may use (built-in
// and the site's own), none first.
func (m *fieldScreen) profileChoices(none string) []string {
	return append([]string{none}, m.base.Site.ProfileNames()...)
}

// modbusKey handles the editing keys of a Modbus bus, device or point;
// it reports whether k was one of them.
func (m *fieldScreen) modbusKey(k tea.KeyPressMsg, n node) bool {
	keys := m.s.Keys
	switch {
	case key.Matches(k, keys.Add) && n.kind == nodeBus:
		unit := 1
		if b, ok := m.base.Site.Modbus.FindBus(n.bus); ok {
			unit = max(m.base.Site.FreeUnit(b, 1), 1)
		}
		m.openDeviceForm(device.Device{Bus: n.bus, UnitID: unit, Interval: device.DefaultPollInterval}, "")
	case key.Matches(k, keys.Clone) && n.kind == nodeDevice:
		m.openCloneForm(n.dev)
	case key.Matches(k, keys.Add):
		m.openPointForm(n.dev, device.Point{Table: device.TableHolding, Type: device.TypeUint16}, "")
	case key.Matches(k, keys.Edit) && n.kind == nodeBus:
		b, _ := m.base.Site.Modbus.FindBus(n.bus)
		m.openBusForm(b, b.Name)
	case key.Matches(k, keys.Edit) && n.kind == nodeDevice:
		d, _ := m.base.Site.Modbus.FindDevice(n.dev)
		m.openDeviceForm(d, d.Name)
	case key.Matches(k, keys.Edit):
		if p, ok := m.modbusPoint(n); ok {
			m.openPointForm(n.dev, p, p.Name)
		}
	case key.Matches(k, keys.Delete):
		m.askDelete(n)
	case key.Matches(k, keys.Profile) && n.kind == nodeDevice:
		d, _ := m.base.Site.Modbus.FindDevice(n.dev)
		m.form = common.NewForm(m.s.Styles, "Apply profile", common.FieldSpec{Label: "Profile of " + d.Name, Value: orNone(d.Profile), Options: m.profileChoices(noProfile)})
		m.formKind, m.editing, m.mode = formProfile, d.Name, fieldForm
	default:
		return false
	}
	return true
}

func orNone(profile string) string {
	if profile == "" {
		return noProfile
	}
	return profile
}

// openCloneForm asks for the name and unit id of a copy of device src.
func (m *fieldScreen) openCloneForm(src string) {
	d, _ := m.base.Site.Modbus.FindDevice(src)
	unit := d.UnitID + 1
	if b, ok := m.base.Site.Modbus.FindBus(d.Bus); ok {
		unit = max(m.base.Site.FreeUnit(b, d.UnitID), 1)
	}
	m.form = common.NewForm(m.s.Styles, "Save copy",
		common.FieldSpec{Label: "Name of the copy", Value: m.freeName(src + "-copy"), Limit: device.MaxNameLength},
		common.FieldSpec{Label: "Unit id", Value: strconv.Itoa(unit), Placeholder: "1..247", Limit: 3, Note: "bus " + d.Bus + ", profile " + format.Dash(d.Profile)})
	m.formKind, m.editing, m.mode = formClone, src, fieldForm
}

// freeName returns name, or name with a number, that no device has.
func (m *fieldScreen) freeName(name string) string {
	taken := m.base.Site.SiteNames()
	for _, d := range m.src.Field().Topology() {
		taken[d.Name] = true
	}
	return device.UniqueName(name, taken)
}

// modbusPoint returns a Modbus point as the site defines it (its own, or
// its profile's).
func (m *fieldScreen) modbusPoint(n node) (device.Point, bool) {
	d, ok := m.base.Site.Modbus.FindDevice(n.dev)
	if !ok {
		return device.Point{}, false
	}
	for _, p := range m.base.Site.EffectivePoints(d) {
		if p.Name == n.point {
			return p, true
		}
	}
	return device.Point{}, false
}

func (m *fieldScreen) openBusForm(b device.Bus, editing string) {
	baud := strconv.Itoa(b.Baud)
	if b.Baud == 0 {
		baud = "9600"
	}
	m.form = common.NewForm(m.s.Styles, "Save bus",
		common.FieldSpec{Label: "Name", Value: b.Name, Placeholder: "e.g. rs485-1"},
		common.FieldSpec{Label: "Kind", Value: b.Kind.String(), Options: []string{"tcp", "rtu"}},
		common.FieldSpec{Label: "TCP address", Value: b.Address, Placeholder: "host:port (tcp)"},
		common.FieldSpec{Label: "Serial device", Value: b.Device, Placeholder: "/dev/ttyS1 (rtu)"},
		common.FieldSpec{Label: "Baud", Value: baud, Options: baudNames},
		common.FieldSpec{Label: "Parity", Value: b.Parity.String(), Options: parityNames},
		common.FieldSpec{Label: "Timeout", Value: b.Timeout.String(), Placeholder: "e.g. 500ms"},
	)
	m.formKind, m.editing, m.mode = formBus, editing, fieldForm
}

func (m *fieldScreen) openDeviceForm(d device.Device, editing string) {
	none := noProfile
	if editing == "" {
		none = noProfileNew
	}
	var buses []string
	for _, b := range m.base.Site.Modbus.Buses {
		buses = append(buses, b.Name)
	}
	m.form = common.NewForm(m.s.Styles, "Save device",
		common.FieldSpec{Label: "Name", Value: d.Name, Placeholder: "e.g. ahu-1"},
		common.FieldSpec{Label: "Bus", Value: d.Bus, Options: buses},
		common.FieldSpec{Label: "Unit id", Value: strconv.Itoa(d.UnitID), Placeholder: "1..247", Limit: 3},
		common.FieldSpec{Label: "Interval", Value: d.Interval.String(), Placeholder: "e.g. 10s"},
		common.FieldSpec{Label: "Profile", Value: orNone(d.Profile), Options: m.profileChoices(none)},
		common.FieldSpec{Label: "Max gap", Value: strconv.Itoa(d.EffectiveMaxGap()), Placeholder: "0..125", Limit: 3},
	)
	m.formKind, m.editing, m.mode = formDevice, editing, fieldForm
}

func (m *fieldScreen) openPointForm(dev string, p device.Point, editing string) {
	m.form = common.NewForm(m.s.Styles, "Save point",
		common.FieldSpec{Label: "Name", Value: p.Name, Placeholder: "e.g. supply_temp"},
		common.FieldSpec{Label: "Table", Value: p.Table.String(), Options: tableNames},
		common.FieldSpec{Label: "Address", Value: strconv.Itoa(p.Address), Limit: 8, Note: "or 0x02, 40003"},
		common.FieldSpec{Label: "Type", Value: p.Type.String(), Options: typeNames},
		common.FieldSpec{Label: "Byte order", Value: p.Order.String(), Options: orderNames},
		common.FieldSpec{Label: "Scale", Value: strconv.FormatFloat(p.Scale(), 'g', -1, 64), Limit: 24},
		common.FieldSpec{Label: "Offset", Value: strconv.FormatFloat(p.Offset, 'g', -1, 64), Limit: 24},
		common.FieldSpec{Label: "Unit", Value: p.Unit, Limit: 16},
		common.FieldSpec{Label: "Writable", Value: format.YesNo(p.Writable), Options: []string{"no", "yes"}},
		common.FieldSpec{Label: "Precision (digits)", Value: precisionText(p.Precision), Placeholder: "default 4", Limit: 2},
	)
	m.formKind, m.editing, m.mode = formPoint, dev+"\x00"+editing, fieldForm
}

func precisionText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// submit turns the form into a site change (or a write) and applies it;
// problems are shown under the form and nothing is stored.
func (m *fieldScreen) submit() tea.Cmd {
	switch m.formKind {
	case formWrite:
		return m.write()
	case formAddFound:
		return m.submitAddFound()
	case formBACnetDevice:
		return m.submitBACnetDevice()
	case formSNMPWalk:
		return m.startWalk()
	}
	next := m.base.Site.Clone()
	var probs common.Problems
	var what string
	shown := "" // a new device to show after saving
	f := m.form
	switch m.formKind {
	case formBus:
		kind, _ := device.ParseBusKind(f.Value(1))
		// Settings the form does not show (max_in_flight) stay as they were.
		old, _ := m.base.Site.Modbus.FindBus(m.editing)
		b := device.Bus{Name: strings.TrimSpace(f.Value(0)), Kind: kind, Timeout: probs.Duration("Timeout", f.Value(6))}
		if kind == device.BusTCP {
			b.Address = strings.TrimSpace(f.Value(2))
			if old.Kind == device.BusTCP {
				b.MaxInFlight = old.MaxInFlight
			}
		} else {
			b.Device = strings.TrimSpace(f.Value(3))
			b.Baud = probs.Int("Baud", f.Value(4))
			b.Parity, _ = device.ParseParity(f.Value(5))
		}
		next.PutBus(m.editing, b)
		what = "bus " + b.Name
	case formDevice:
		d := device.Device{Name: strings.TrimSpace(f.Value(0)), Bus: f.Value(1), UnitID: probs.Int("Unit id", f.Value(2)),
			Interval: probs.Duration("Interval", f.Value(3))}
		if p := f.Value(4); p != noProfile && p != noProfileNew {
			d.Profile = p
		}
		d.SetMaxGap(probs.Int("Max gap", f.Value(5)))
		if old, ok := m.base.Site.Modbus.FindDevice(m.editing); ok && m.editing != "" {
			// The form does not show these: an edit keeps them.
			d.Points, d.Timeout, d.MaxRegisters = old.Points, old.Timeout, old.MaxRegisters
		}
		if m.editing == "" {
			if len(probs) == 0 {
				if err := next.AddDevice(d); err != nil {
					probs = append(probs, err.Error())
				}
			}
			if len(probs) == 0 && d.Profile == "" {
				// No profile: the device is saved with its first point.
				m.pending = &d
				m.openPointForm(d.Name, device.Point{Table: device.TableHolding, Type: device.TypeUint16}, "")
				return nil
			}
			shown = d.Name
		} else {
			next.PutDevice(m.editing, d)
		}
		what = "device " + d.Name
	case formProfile:
		profile := f.Value(0)
		if profile == "none" {
			profile = ""
		}
		if err := next.SetProfile(m.editing, profile); err != nil {
			probs = append(probs, err.Error())
		}
		what = "profile of " + m.editing
	case formPoint:
		devName, old, _ := strings.Cut(m.editing, "\x00")
		table, _ := device.ParseRegisterTable(f.Value(1))
		typ, _ := device.ParseDataType(f.Value(3))
		order, _ := device.ParseByteOrder(f.Value(4))
		p := device.Point{Name: strings.TrimSpace(f.Value(0)), Table: table, Type: typ, Order: order,
			Offset: probs.Float("Offset", f.Value(6)), Unit: strings.TrimSpace(f.Value(7)), Writable: f.Value(8) == "yes"}
		// The address as register maps write it: 2, 0x0002 or 40003.
		if t, addr, err := device.ParseAddress(f.Value(2), table); err != nil {
			probs = append(probs, "Address: "+err.Error())
		} else {
			p.Table, p.Address = t, addr
		}
		if s := probs.Float("Scale", f.Value(5)); s != 1 {
			p.SetScale(s)
		}
		if v := strings.TrimSpace(f.Value(9)); v != "" {
			p.Precision = probs.Int("Precision", v)
		}
		switch {
		case m.pending != nil && m.pending.Name == devName:
			d := *m.pending
			d.Points = []device.Point{p}
			if err := next.AddDevice(d); err != nil {
				probs = append(probs, err.Error())
			}
			what, shown = "device "+d.Name+" with point "+p.Name, d.Name
		default:
			if err := next.PutPoint(devName, old, p); err != nil {
				probs = append(probs, err.Error())
			}
			what = "point " + p.Name
		}
	case formClone:
		c, err := next.CloneDevice(m.editing, strings.TrimSpace(f.Value(0)), probs.Int("Unit id", f.Value(1)))
		if err != nil && len(probs) == 0 {
			probs = append(probs, err.Error())
		}
		what, shown = "device "+c.Name+", a copy of "+m.editing, c.Name
	}
	if len(probs) > 0 {
		m.form.SetError(probs.Text())
		return nil
	}
	text, ok := m.applyForm(next, what)
	if !ok {
		return nil
	}
	if shown != "" {
		m.show(shown)
	}
	if m.pending != nil {
		text += " (a adds more points)"
	}
	m.mode, m.pending = fieldTree, nil
	return common.Flash(text)
}

// applyForm stores a change made in the open form; a refusal is shown
// under the form, which stays open.
func (m *fieldScreen) applyForm(next *device.Site, what string) (string, bool) {
	text, err := m.apply(next, what)
	switch {
	case m.base.Stale != nil:
		m.form.SetError(m.base.StaleText(m.s))
		return "", false
	case err != nil:
		m.form.SetError(common.ProblemLines(err))
		return "", false
	}
	return text, true
}

// show puts the cursor on device name, unfolding it.
func (m *fieldScreen) show(name string) {
	n := node{kind: nodeDevice, dev: name}
	for _, x := range m.all {
		if x.kind == nodeDevice && x.dev == name {
			n = x
		}
	}
	m.fold[m.parent(n).key()] = false
	m.fold[n.key()] = false
	m.rebuild(n)
}

// askDelete asks before deleting a bus, device or point; what the
// topology does not allow is said at once.
func (m *fieldScreen) askDelete(n node) {
	next := m.base.Site.Clone()
	var err error
	var q, done string
	switch n.kind {
	case nodeBus:
		err = next.DeleteBus(n.bus)
		q, done = "Delete bus "+n.bus+"?", "Deleted bus "+n.bus
	case nodeDevice:
		next.DeleteDevice(n.dev)
		q, done = "Delete device "+n.dev+" and its points?", "Deleted device "+n.dev
	case nodePoint:
		err = next.DeletePoint(n.dev, n.point)
		q, done = "Delete point "+n.point+"?", "Deleted point "+n.point
	}
	if err != nil {
		m.ask(common.ProblemLines(err)+".", nil)
		return
	}
	m.ask(q, func() tea.Cmd {
		if _, err := m.apply(next, done); err != nil {
			if m.base.Stale != nil {
				return nil // the tree says why, and how to reload
			}
			return common.FlashErr(err)
		}
		return common.Flash(done)
	})
}

func (m *fieldScreen) modbusBusDetail(name string) []string {
	st := m.s.Styles
	kv := func(k, v string) string { return common.KV(st, 13, k, v) }
	b, _ := m.base.Site.Modbus.FindBus(name)
	lines := []string{st.Title.Render("Bus " + b.Name), kv("kind", b.Kind.String())}
	if b.Kind == device.BusTCP {
		lines = append(lines, kv("address", b.Address))
	} else {
		lines = append(lines, kv("device", b.Device), kv("line", fmt.Sprintf("%d baud, %d%s%d", b.Baud, b.DataBits, strings.ToUpper(b.Parity.String()[:1]), b.StopBits)))
	}
	return append(lines, kv("timeout", b.Timeout.String()))
}

func (m *fieldScreen) modbusDeviceDetail(name string) []string {
	kv := func(k, v string) string { return common.KV(m.s.Styles, 13, k, v) }
	d, _ := m.base.Site.Modbus.FindDevice(name)
	return []string{kv("unit id", strconv.Itoa(d.UnitID)), kv("interval", d.Interval.String()), kv("profile", format.Dash(d.Profile)),
		kv("points", strconv.Itoa(len(d.EffectivePoints())))}
}

func (m *fieldScreen) modbusPointDetail(n node) []string {
	kv := func(k, v string) string { return common.KV(m.s.Styles, 13, k, v) }
	p, _ := m.modbusPoint(n)
	return []string{kv("table", p.Table.String()),
		kv("address", fmt.Sprintf("%d (%s)", p.Address, Notation(p.Table, p.Address))),
		kv("type", fmt.Sprintf("%s %s", p.Type, p.Order)),
		kv("scaling", fmt.Sprintf("raw × %g + %g", p.Scale(), p.Offset))}
}
