package ui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// Bounds of the field screen's background work.
const (
	// writeTimeout bounds a confirmed write to a device.
	writeTimeout = 10 * time.Second
	// labReadTimeout bounds the decode lab's read.
	labReadTimeout = 10 * time.Second
)

// FieldSource is what the field screen reads and asks: the site (for the
// Modbus topology it edits), the field layer (topology, latest readings,
// statuses, discovery), the Modbus driver's raw reads and audited writes.
type FieldSource interface {
	Site() (*device.Site, uint64)
	Field() *field.Hub
	RawReader() device.RawReader
	WritePoint(ctx context.Context, actor device.Actor, w field.Write) error
	Audit(actor device.Actor, action device.Action, target string, result device.Result) error
	// SignedReport makes the signed commissioning report (audited).
	SignedReport(actor device.Actor, f device.ReportFormat) ([]byte, error)
}

type nodeKind int

const (
	nodeProtocol nodeKind = iota + 1
	nodeBus               // a bus, network or address devices are reached on
	nodeDevice
	nodePoint
)

// node is one line of the field tree.
type node struct {
	kind  nodeKind
	proto field.Protocol
	bus   string
	dev   string
	point string
}

func (n node) modbus() bool { return n.proto == field.Modbus }

type fieldMode int

const (
	fieldTree fieldMode = iota
	fieldForm
	fieldConfirm
	fieldLab
	fieldScan
	fieldReport
	fieldBACnet // discovery and objects (field_bacnet.go)
	fieldSNMP   // the walk browser (field_snmp.go)
)

// fieldScreen is the field tree — protocol → bus or network → device →
// point — with live values, device states and statistics, whatever the
// protocol. Modbus nodes add their own actions: forms for buses, devices
// and points, profiles, the decode lab and bus scans (field_modbus.go,
// field_lab.go). Writes to a point work for any protocol.
type fieldScreen struct {
	s    *common.Session
	src  FieldSource
	w, h int
	mode fieldMode

	// The site the screen shows; every change is based on its revision.
	base common.Base

	all    []node // every node of the topology
	nodes  []node // the nodes shown (field_tree.go)
	cursor int    // in nodes
	offset int
	// fold says which nodes are folded; a device not in it follows
	// foldDevices (large sites start folded).
	fold        map[string]bool
	foldDevices bool
	find        textinput.Model
	finding     bool // the find field has the keys
	// pending is a new device without a profile: it is saved with its
	// first point (the device form leads to the point form).
	pending *device.Device
	found   []field.Found // the units the add-from-scan form offers
	report  reportState

	form     common.Form
	formKind formKind
	editing  string // what a form edits ("" when adding)
	confirm  string
	action   func() tea.Cmd

	lab  labState
	scan scanState
	busy common.Busy

	bacnetLookup BACnetLookup
	bn           bacnetState
	snmpLookup   SNMPLookup
	sn           snmpState
}

// scanState is a running or finished bus scan.
type scanState struct {
	bus     string
	text    string
	running bool
	cancel  context.CancelFunc
	found   []field.Found
}

// Messages of background work.
type (
	scanDoneMsg struct {
		text  string
		found []field.Found
		err   error
	}
	scanProgressMsg struct {
		p  field.Progress
		ch <-chan field.Progress
	}
	writeDoneMsg struct {
		text string
		err  error
	}
)

func newFieldScreen(s *common.Session, src FieldSource, bacnetLookup BACnetLookup, snmpLookup SNMPLookup) *fieldScreen {
	m := &fieldScreen{s: s, src: src, fold: map[string]bool{}, bacnetLookup: bacnetLookup, snmpLookup: snmpLookup}
	m.find = textinput.New()
	m.find.Prompt = "/"
	m.find.Placeholder = "a device or point name"
	m.find.CharLimit = findLimit
	m.find.SetStyles(s.Styles.TextInput())
	m.report.vp = viewport.New()
	m.reload()
	return m
}

func (m *fieldScreen) Title() string { return "Field" }
func (m *fieldScreen) SetSize(w, h int) {
	m.w, m.h = w, h
	m.report.vp.SetWidth(w)
	m.report.vp.SetHeight(max(h-3, 1))
	m.scrollToCursor()
}

// Capturing: while a form, a question or the find field is open every
// key belongs to it (tab moves between a form's fields); esc leaves it.
func (m *fieldScreen) Capturing() bool {
	return m.mode == fieldForm || m.mode == fieldLab && m.formKind == formLab || m.mode == fieldConfirm || m.finding
}
func (m *fieldScreen) Restyle() {
	m.form.SetStyles(m.s.Styles)
	m.find.SetStyles(m.s.Styles.TextInput())
}
func (m *fieldScreen) editable() bool { return m.s.Can(access.PermConfigEdit) }
func (m *fieldScreen) fieldOps() bool { return m.s.Can(access.PermFieldWrite) }

func (m *fieldScreen) Keys() []key.Binding {
	k := m.s.Keys
	switch {
	case m.finding:
		return []key.Binding{k.Pick, k.ClearFilter}
	case m.mode == fieldForm || m.mode == fieldLab && m.formKind == formLab:
		if m.base.Stale != nil {
			return append([]key.Binding{k.Reload}, k.FormKeys()...)
		}
		return k.FormKeys()
	case m.mode == fieldConfirm:
		return []key.Binding{k.Yes, k.No}
	case m.mode == fieldScan && !m.scan.running && len(m.scan.found) > 0 && m.editable():
		return []key.Binding{k.AddFound, k.Back}
	case m.mode == fieldReport:
		return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Back}
	case m.mode == fieldBACnet:
		return m.bacnetKeys()
	case m.mode == fieldSNMP:
		return m.snmpKeys()
	case m.mode != fieldTree:
		if m.base.Stale != nil {
			return []key.Binding{k.Reload, k.Back}
		}
		return []key.Binding{k.Back}
	}
	var ks []key.Binding
	if m.base.Stale != nil {
		ks = append(ks, k.Reload)
	}
	n, ok := m.selected()
	if m.editable() {
		if !ok || n.modbus() {
			ks = append(ks, k.AddBus)
		}
		if ok && n.modbus() && n.kind != nodeProtocol {
			ks = append(ks, k.Add, k.Edit, k.Delete)
			if n.kind == nodeDevice {
				ks = append(ks, k.Profile, k.Clone)
			}
		}
	}
	if ok && n.proto == field.BACnet {
		switch {
		case (n.kind == nodeProtocol || n.kind == nodeBus) && m.fieldOps():
			ks = append(ks, k.Discover)
		case n.kind == nodeDevice || n.kind == nodePoint:
			ks = append(ks, k.Objects)
		}
	}
	if ok && n.proto == field.SNMP && (n.kind == nodeDevice || n.kind == nodePoint) {
		ks = append(ks, k.Walk)
	}
	if ok && m.fieldOps() {
		switch {
		case n.modbus() && n.kind == nodeBus:
			ks = append(ks, k.Scan)
		case n.modbus() && n.kind == nodeDevice:
			ks = append(ks, k.Lab)
		case n.kind == nodePoint && n.modbus():
			ks = append(ks, k.Lab, k.Write)
		case n.kind == nodePoint:
			ks = append(ks, k.Write)
		}
	}
	ks = append(ks, k.Find)
	if m.s.Can(access.PermConfigView) {
		ks = append(ks, k.Report)
	}
	// Moving around last: the short help bar shows what fits.
	return append(ks, k.Fold, k.Unfold, k.CollapseAll, k.ExpandAll, k.PageUp, k.PageDown, k.Home, k.End)
}

// reload takes the site as it is now and flattens the field topology into
// the tree, keeping the cursor on the same node when it still exists.
func (m *fieldScreen) reload() {
	keep, _ := m.selected()
	m.base.Load(m.src)
	topo := m.src.Field().Topology()
	m.foldDevices = len(topo) > autoFoldDevices
	m.all = m.all[:0]
	for _, p := range field.Protocols() {
		var buses []string
		switch p {
		case field.Modbus:
			// Modbus buses belong to the site, with or without devices.
			for _, b := range m.base.Site.Modbus.Buses {
				buses = append(buses, b.Name)
			}
		case field.BACnet:
			// BACnet links are open before any device is in the site:
			// discovery starts from them.
			buses = m.bacnetLinks()
		}
		for _, d := range topo {
			if d.Protocol == p && !slices.Contains(buses, d.Bus) {
				buses = append(buses, d.Bus)
			}
		}
		if len(buses) == 0 {
			continue
		}
		m.all = append(m.all, node{kind: nodeProtocol, proto: p})
		for _, b := range buses {
			m.all = append(m.all, node{kind: nodeBus, proto: p, bus: b})
			for _, d := range topo {
				if d.Protocol != p || d.Bus != b {
					continue
				}
				m.all = append(m.all, node{kind: nodeDevice, proto: p, bus: b, dev: d.Name})
				for _, pt := range d.Points {
					m.all = append(m.all, node{kind: nodePoint, proto: p, bus: b, dev: d.Name, point: pt.Name})
				}
			}
		}
	}
	m.rebuild(keep)
}

func (m *fieldScreen) selected() (node, bool) {
	if m.cursor < len(m.nodes) {
		return m.nodes[m.cursor], true
	}
	return node{}, false
}

// apply stores a changed site based on the revision the screen shows. A
// stale change is kept in m.base.Stale for the screen to explain.
func (m *fieldScreen) apply(next *device.Site, what string) (string, error) {
	ch, err := m.base.Apply(m.s, device.ActionConfigChange, next)
	if err != nil {
		return "", err
	}
	m.reload()
	return fmt.Sprintf("%s: site revision %d", what, ch.Rev), nil
}

func (m *fieldScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case common.EventMsg:
		// The tree follows the site while nothing is being edited; an
		// open form keeps the revision it was opened at.
		if msg.Event.Kind == device.EventSite && m.mode == fieldTree && m.base.Stale == nil {
			m.reload()
		}
		return m, nil
	case scanProgressMsg:
		if !m.scan.running {
			// The scan's result came first: a late progress must not
			// overwrite it.
			return m, waitProgress(msg.ch)
		}
		p := msg.p
		m.scan.text = fmt.Sprintf("scanning %s: unit %d, %d/%d probed, %d found", m.scan.bus, p.Current, p.Done, p.Total, p.Found)
		m.busy.SetLabel(m.scan.text)
		return m, waitProgress(msg.ch)
	case scanDoneMsg:
		m.scan.running = false
		m.busy.Stop()
		m.scan.text, m.scan.found = msg.text, msg.found
		if msg.err != nil {
			m.scan.text = "scan failed: " + msg.err.Error()
		}
		return m, nil
	case reportMsg:
		m.busy.Stop()
		m.report.err = ""
		if msg.err != nil {
			m.report.err = msg.err.Error()
		}
		m.report.vp.SetContent(string(msg.doc))
		m.report.vp.GotoTop()
		return m, nil
	case labReadMsg:
		m.busy.Stop()
		m.lab.words, m.lab.err = msg.words, ""
		if msg.err != nil {
			m.lab.err = msg.err.Error()
		}
		return m, nil
	case bacnetFoundMsg, bacnetProgressMsg, bacnetObjectsMsg:
		return m, m.bacnetUpdate(msg)
	case snmpWalkMsg:
		return m, m.snmpUpdate(msg)
	case writeDoneMsg:
		m.busy.Stop()
		if msg.err != nil {
			return m, common.FlashErr(msg.err)
		}
		return m, common.Flash(msg.text)
	case tea.KeyPressMsg:
		if m.base.Stale != nil && key.Matches(msg, m.s.Keys.Reload) {
			m.mode = fieldTree
			m.reload()
			return m, common.Flash("Reloaded the site; make your change again.")
		}
	case tea.PasteMsg:
	default:
		return m, m.busy.Update(msg)
	}
	k, isKey := msg.(tea.KeyPressMsg)
	switch m.mode {
	case fieldTree:
		if m.finding {
			return m, m.findKey(msg)
		}
		if isKey {
			return m, m.treeKey(k)
		}
	case fieldConfirm:
		if !isKey {
			return m, nil
		}
		switch {
		case key.Matches(k, m.s.Keys.Yes):
			m.mode = fieldTree
			return m, m.action()
		case key.Matches(k, m.s.Keys.No):
			m.mode = fieldTree
		}
	case fieldScan:
		switch {
		case !isKey:
		case key.Matches(k, m.s.Keys.Back):
			if m.scan.running {
				m.scan.cancel() // the scan ends; its result still arrives
				return m, nil
			}
			m.mode = fieldTree
		case key.Matches(k, m.s.Keys.AddFound) && !m.scan.running && len(m.scan.found) > 0:
			if !m.editable() {
				return m, common.ReadOnly(m.s, access.PermConfigEdit)
			}
			return m, m.openAddFound()
		}
	case fieldReport:
		if isKey && key.Matches(k, m.s.Keys.Back) {
			m.mode = fieldTree
			return m, nil
		}
		var cmd tea.Cmd
		m.report.vp, cmd = m.report.vp.Update(msg)
		return m, cmd
	case fieldLab:
		return m, m.labUpdate(msg)
	case fieldBACnet:
		return m, m.bacnetUpdate(msg)
	case fieldSNMP:
		return m, m.snmpUpdate(msg)
	case fieldForm:
		return m, m.form.Handle(msg, m.closeForm, m.submit)
	}
	return m, nil
}

// closeForm leaves a form without saving; after a refused stale save the
// tree shows the site as it is now.
func (m *fieldScreen) closeForm() {
	m.mode, m.pending = fieldTree, nil
	if m.base.Stale != nil {
		m.reload()
	}
}

func (m *fieldScreen) treeKey(k tea.KeyPressMsg) tea.Cmd {
	keys := m.s.Keys
	if m.navKey(k) {
		return nil
	}
	n, ok := m.selected()
	editKeys := []key.Binding{keys.AddBus, keys.Add, keys.Edit, keys.Delete, keys.Profile, keys.Clone}
	fieldKeys := []key.Binding{keys.Scan, keys.Lab, keys.Write}
	switch {
	case key.Matches(k, keys.Find):
		return m.openFind()
	case key.Matches(k, keys.Report) && m.s.Can(access.PermConfigView):
		return m.openReport()
	case key.Matches(k, editKeys...) && !m.editable():
		return common.ReadOnly(m.s, access.PermConfigEdit)
	case key.Matches(k, fieldKeys...) && !m.fieldOps():
		return common.ReadOnly(m.s, access.PermFieldWrite)
	case key.Matches(k, keys.AddBus) && (!ok || n.modbus()):
		m.openBusForm(device.Bus{Kind: device.BusTCP, Timeout: device.Duration(time.Second)}, "")
	case !ok:
	case n.proto == field.BACnet && m.bacnetTreeKeys(k, n):
		return m.bacnetTreeKey(k, n)
	case m.snmpTreeKey(k, n):
		return m.openWalkForm(n.dev)
	case n.modbus() && n.kind != nodeProtocol && m.modbusKey(k, n):
	case key.Matches(k, keys.Scan) && n.modbus() && n.kind == nodeBus:
		return m.startScan(n.bus)
	case key.Matches(k, keys.Lab) && n.modbus() && (n.kind == nodeDevice || n.kind == nodePoint):
		m.openLab(n)
	case key.Matches(k, keys.Write) && n.kind == nodePoint:
		return m.openWrite(n)
	}
	return nil
}

// pointInfo returns a point as the field layer knows it.
func (m *fieldScreen) pointInfo(n node) (field.PointInfo, bool) {
	d, ok := m.src.Field().Device(n.dev)
	if !ok {
		return field.PointInfo{}, false
	}
	i := slices.IndexFunc(d.Points, func(p field.PointInfo) bool { return p.Name == n.point })
	if i < 0 {
		return field.PointInfo{}, false
	}
	return d.Points[i], true
}

// reading returns the latest reading of a point.
func (m *fieldScreen) reading(n node) field.Reading {
	rs, _ := m.src.Field().Latest(n.dev)
	for _, r := range rs {
		if r.Point == n.point {
			return r
		}
	}
	return field.Reading{}
}

// openWrite asks for the value to write to a writable point.
func (m *fieldScreen) openWrite(n node) tea.Cmd {
	p, ok := m.pointInfo(n)
	if !ok || !p.Writable {
		return common.Flash(n.point + " is read-only")
	}
	hint := "number, or true/false"
	if mp, ok := m.modbusPoint(n); ok {
		hint = "number"
		if mp.Table.IsBit() {
			hint = "true or false"
		}
	}
	m.form = common.NewForm(m.s.Styles, "Write", common.FieldSpec{Label: "New value of " + p.Name, Placeholder: hint, Limit: 32})
	m.formKind, m.editing, m.mode = formWrite, n.dev+"\x00"+n.point, fieldForm
	return nil
}

// write checks the form's value and asks for a confirmation; the write
// itself runs in the background.
func (m *fieldScreen) write() tea.Cmd {
	devName, pointName, _ := strings.Cut(m.editing, "\x00")
	n := node{kind: nodePoint, dev: devName, point: pointName}
	if _, ok := m.pointInfo(n); !ok {
		m.form.SetError("the point no longer exists")
		return nil
	}
	v, err := field.ParseValue(m.form.Value(0))
	if mp, ok := m.modbusPoint(n); ok && err == nil {
		switch {
		case mp.Table.IsBit() && !v.IsBool:
			err = fmt.Errorf("give true or false")
		case !mp.Table.IsBit() && v.IsBool:
			err = fmt.Errorf("give a number")
		}
	}
	if err != nil {
		m.form.SetError(err.Error())
		return nil
	}
	m.ask(fmt.Sprintf("Write %s to %s.%s on the device now?", v, devName, pointName), func() tea.Cmd {
		if err := m.s.Authorize(access.PermFieldWrite); err != nil {
			_ = m.src.Audit(m.s.Actor(), device.ActionFieldWrite, devName+"."+pointName, device.ResultDenied)
			return common.FlashErr(err)
		}
		ctx, actor, w := m.s.Ctx, m.s.Actor(), field.Write{Device: devName, Point: pointName, Value: v}
		run := func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, writeTimeout)
			defer cancel()
			if err := m.src.WritePoint(ctx, actor, w); err != nil {
				return writeDoneMsg{err: err}
			}
			return writeDoneMsg{text: fmt.Sprintf("Wrote %s to %s.%s", v, devName, pointName)}
		}
		return tea.Batch(m.busy.Start(m.s.Styles, fmt.Sprintf("writing %s to %s.%s…", v, devName, pointName)), run)
	})
	return nil
}

// ask asks a yes/no question; with a nil action it only informs (any
// answer closes it).
func (m *fieldScreen) ask(q string, action func() tea.Cmd) {
	if action == nil {
		action = func() tea.Cmd { return nil }
	}
	m.confirm, m.action, m.mode = q, action, fieldConfirm
}

// startScan scans a Modbus bus in the background, under the session's
// context: closing the session ends the scan.
func (m *fieldScreen) startScan(bus string) tea.Cmd {
	if err := m.s.Authorize(access.PermFieldWrite); err != nil {
		return common.FlashErr(err)
	}
	ctx, cancel := context.WithCancel(m.s.Ctx)
	m.mode = fieldScan
	m.scan = scanState{bus: bus, text: "scanning " + bus + "…", running: true, cancel: cancel}
	hub, actor, audit := m.src.Field(), m.s.Actor(), m.src.Audit
	progress := make(chan field.Progress, 1)
	run := func() tea.Msg {
		defer cancel()
		defer close(progress)
		found, err := hub.Discover(ctx, field.Modbus, field.Query{Target: bus}, func(p field.Progress) {
			// Only the newest progress matters: replace what was not read.
			select {
			case <-progress:
			default:
			}
			progress <- p
		})
		_ = audit(actor, device.ActionFieldScan, bus, resultOf(err))
		if err != nil {
			return scanDoneMsg{err: err}
		}
		return scanDoneMsg{text: scanReport(bus, found), found: found}
	}
	return tea.Batch(m.busy.Start(m.s.Styles, m.scan.text), run, waitProgress(progress))
}

// waitProgress delivers a scan's next progress until the scan ends.
func waitProgress(ch <-chan field.Progress) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		if !ok {
			return nil
		}
		return scanProgressMsg{p: p, ch: ch}
	}
}

func scanReport(bus string, found []field.Found) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d unit(s) answered on %s:\n\n", len(found), bus)
	for _, f := range found {
		fmt.Fprintf(&b, "  unit %-3d  %-16s %-20s %-8s (%s)\n", f.ID, format.Dash(f.Vendor), format.Dash(f.Model), format.Dash(f.Revision), f.How)
	}
	return b.String()
}

func resultOf(err error) device.Result {
	if err != nil {
		return device.ResultFailed
	}
	return device.ResultOK
}

func (m *fieldScreen) View() string {
	st := m.s.Styles
	switch m.mode {
	case fieldForm:
		// Forms made anywhere fit the screen (idempotent).
		m.form.SetHeight(m.h - 3)
		m.form.SetWidth(m.w)
		title := map[formKind]string{formBus: "Bus", formDevice: "Device", formPoint: "Point", formProfile: "Profile", formWrite: "Write to device",
			formClone: "Clone device", formAddFound: "Add the units found on " + m.scan.bus,
			formBACnetDevice: "Add BACnet device " + strconv.Itoa(m.bn.dev.Instance), formSNMPWalk: "Walk " + m.sn.dev}[m.formKind]
		if m.formKind == formPoint && m.pending != nil {
			title = "First point of the new device " + m.pending.Name + " (saved with it)"
		}
		return st.Title.Render(title) + "\n\n" + m.form.View()
	case fieldScan:
		tail := "\n" + st.Text.Dim.Render("esc stops the scan")
		body := m.busy.View(st)
		if !m.scan.running {
			tail = "\n" + st.Text.Dim.Render("esc to go back")
			if len(m.scan.found) > 0 && m.editable() {
				tail = "\n" + st.Text.Dim.Render("a adds the units found as devices (one revision) · esc to go back")
			}
			body = st.Text.Normal.Render(m.scan.text)
		}
		return st.Title.Render("Bus scan") + "\n\n" + body + tail
	case fieldLab:
		return m.labView()
	case fieldReport:
		return m.reportView()
	case fieldBACnet:
		return m.bacnetView()
	case fieldSNMP:
		return m.snmpView()
	}
	right := m.detailView()
	switch {
	case m.mode == fieldConfirm:
		right += "\n\n" + st.Text.Warn.Render(m.confirm) + st.Text.Normal.Render("  y yes · n no")
	case m.busy.Active():
		right += "\n\n" + m.busy.View(st)
	case m.base.Stale != nil:
		right += "\n\n" + st.Text.Error.Render(m.base.StaleText(m.s))
	}
	lw := min(max(m.w*2/5, 30), 60)
	return lipgloss.JoinHorizontal(lipgloss.Top,
		lipgloss.NewStyle().Width(lw).MaxWidth(lw).Render(m.treeView()),
		lipgloss.NewStyle().Width(m.w-lw).MaxWidth(m.w-lw).PaddingLeft(1).Render(right))
}

func (m *fieldScreen) treeView() string {
	st := m.s.Styles
	lines := []string{st.Title.Render("Field")}
	if m.finding || m.find.Value() != "" {
		lines = append(lines, m.find.View())
	}
	if len(m.nodes) == 0 {
		msg := "No field devices yet."
		switch {
		case m.find.Value() != "":
			msg = "Nothing is called like that: esc clears the find."
		case m.editable():
			msg += "\nB adds a Modbus bus."
		}
		return strings.Join(append(lines, "", st.Text.Dim.Render(msg)), "\n")
	}
	hub := m.src.Field()
	statuses := map[string]field.Status{}
	for _, s := range hub.Statuses() {
		statuses[s.Device] = s
	}
	values := map[string]field.Reading{}
	precision := map[string]int{}
	width := min(max(m.w*2/5, 30), 60) - 1
	for i := m.offset; i < len(m.nodes) && i < m.offset+m.treeRows(); i++ {
		n := m.nodes[i]
		style := st.Text.Normal
		var text string
		fold := "▾ "
		if m.find.Value() == "" && m.folded(n) {
			fold = "▸ "
		}
		switch n.kind {
		case nodeProtocol:
			text = fold + n.proto.String()
		case nodeBus:
			text = "  " + fold + n.bus
		case nodeDevice:
			s := statuses[n.dev]
			text = "    " + fold + n.dev + " [" + deviceState(s) + "]"
			style = common.StateStyle(st, s.State)
		case nodePoint:
			if _, ok := values[n.dev+"\x00"]; !ok {
				values[n.dev+"\x00"] = field.Reading{}
				if rs, ok := hub.Latest(n.dev); ok {
					for _, r := range rs {
						values[n.dev+"\x00"+r.Point] = r
					}
				}
				if d, ok := hub.Device(n.dev); ok {
					for _, p := range d.Points {
						precision[n.dev+"\x00"+p.Name] = p.Precision
					}
				}
			}
			r := values[n.dev+"\x00"+n.point]
			text = "        " + n.point
			if r.Value.Valid {
				text += " " + strings.TrimSpace(device.FormatValue(r.Value, precision[n.dev+"\x00"+n.point])+" "+r.Unit)
			}
			if r.Quality != field.QualityGood && r.Error != "" {
				// Why, next to the point: the device says it, or it was
				// not read yet.
				text += " — " + r.Error
			}
			style = common.QualityStyle(st, r.Quality)
		}
		text = common.Clip(text, width)
		if i == m.cursor {
			style = st.Table.Selected
		}
		lines = append(lines, style.Render(text))
	}
	if more := len(m.nodes) - m.offset - m.treeRows(); more > 0 {
		lines = append(lines, st.Text.Dim.Render(common.Clip(fmt.Sprintf("  ↓ %d more (pgdn, end)", more), width)))
	}
	return strings.Join(lines, "\n")
}

// deviceState is a device's state and, once polled, its success rate.
func deviceState(s field.Status) string {
	state := string(s.State)
	if state == "" {
		state = string(field.StateUnknown)
	}
	if s.Requests > 0 {
		state += fmt.Sprintf(" %.0f%%", 100*s.SuccessRate)
	}
	return state
}

func (m *fieldScreen) detailView() string {
	st := m.s.Styles
	n, ok := m.selected()
	if !ok {
		return ""
	}
	kv := func(k, v string) string { return common.KV(st, 13, k, v) }
	hub := m.src.Field()
	var lines []string
	switch n.kind {
	case nodeProtocol:
		total, online := 0, 0
		for _, s := range hub.Statuses() {
			if s.Protocol == n.proto {
				total++
				if s.State == field.StateOnline {
					online++
				}
			}
		}
		lines = append(lines, st.Title.Render(strings.ToUpper(n.proto.String()[:1])+n.proto.String()[1:]), kv("devices", fmt.Sprintf("%d, %d online", total, online)))
	case nodeBus:
		if n.modbus() {
			lines = append(lines, m.modbusBusDetail(n.bus)...)
		} else {
			lines = append(lines, st.Title.Render("Network "+n.bus))
		}
	case nodeDevice:
		s, _ := hub.Status(n.dev)
		lines = append(lines, st.Title.Render("Device "+n.dev))
		if n.modbus() {
			lines = append(lines, m.modbusDeviceDetail(n.dev)...)
		}
		lines = append(lines, "",
			kv("state", common.StateStyle(st, s.State).Render(string(s.State))), kv("requests", strconv.FormatUint(s.Requests, 10)),
			kv("success", fmt.Sprintf("%.1f%%", 100*s.SuccessRate)), kv("latency", s.LastLatency.Round(time.Microsecond*100).String()),
			// Push devices (CoAP, LoRa) are known by when they last spoke.
			kv("last seen", format.Ago(m.s.Now(), s.LastPoll)))
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
		p, _ := m.pointInfo(n)
		r := m.reading(n)
		lines = append(lines, st.Title.Render("Point "+p.Name))
		if n.modbus() {
			lines = append(lines, m.modbusPointDetail(n)...)
		}
		if n.proto == field.BACnet {
			lines = append(lines, m.bacnetPointDetail(n)...)
		}
		rw := "read-only"
		if p.Writable {
			rw = "writable"
		}
		lines = append(lines, kv("access", rw), "",
			kv("value", common.QualityStyle(st, r.Quality).Render(strings.TrimSpace(device.FormatValue(r.Value, p.Precision)+" "+r.Unit))))
		if !r.Value.IsText { // a text is shown whole already
			lines = append(lines, kv("full value", r.Value.Format(0)))
		}
		lines = append(lines, kv("quality", string(r.Quality)))
		if r.Error != "" {
			lines = append(lines, kv("error", r.Error))
		}
	}
	return strings.Join(lines, "\n")
}
