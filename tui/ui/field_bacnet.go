package ui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// BACnet in the field tab: on the BACnet node or one of its links, s sends
// a Who-Is and lists the devices that answer; o lists a device's objects
// with their live values, those the site reads marked with how (COV or
// polled); space picks objects and a adds them — as points of a site
// device, or with a new device for one the site does not have yet, saved
// as one revision. A BACnet point's detail says whether it arrives by COV
// or is polled, and why.

// BACnetSource is what the field tab asks of the BACnet driver;
// *bacnet.Driver implements it.
type BACnetSource interface {
	State() bacnet.State
	Points(device string) ([]bacnet.PointState, bool)
	DiscoverDevices(ctx context.Context, q bacnet.DiscoverQuery, progress func(field.Progress)) ([]bacnet.Discovered, error)
	Objects(ctx context.Context, q bacnet.ObjectsQuery) ([]bacnet.ObjectInfo, error)
}

var _ BACnetSource = (*bacnet.Driver)(nil)

// BACnetLookup finds the BACnet driver running now; false when none runs.
type BACnetLookup func() (BACnetSource, bool)

// bacnetLookup is d.BACnet, or the driver running for d.Gateway.
func (d Deps) bacnetLookup() BACnetLookup {
	if d.BACnet != nil {
		return d.BACnet
	}
	return driverLookup[BACnetSource](d.Gateway, field.BACnet)
}

// driverLookup finds the driver of protocol p running for g, through the
// narrow interface S a screen reads it by.
func driverLookup[S any](g interface{ Field() *field.Hub }, p field.Protocol) func() (S, bool) {
	return func() (S, bool) { return field.DriverAs[S](g.Field(), p) }
}

type bacnetStage int

const (
	bnDiscovering bacnetStage = iota // a Who-Is runs
	bnFound                          // the devices that answered
	bnLoading                        // a device's objects are being read
	bnObjects                        // a device's objects, to pick from
)

// bacnetState is the BACnet view of the field tab.
type bacnetState struct {
	stage  bacnetStage
	target string // where the Who-Is went: "" (BACnet/IP) or an MS/TP bus
	cancel context.CancelFunc
	err    string // why the last discovery or read failed
	found  []bacnet.Discovered
	fcur   int // in found

	// fromTree: the objects were opened from the tree (esc goes back
	// there), else from the devices found.
	fromTree bool
	dev      bacnet.Discovered // whose objects are shown
	siteDev  string            // its name in the site ("" when not in it)
	objs     []bacnet.ObjectInfo
	picked   []bool
	ocur     int // in objs
	offset   int // the first object row shown
}

// Messages of BACnet work.
type (
	bacnetFoundMsg struct {
		found []bacnet.Discovered
		err   error
	}
	bacnetProgressMsg struct {
		p  field.Progress
		ch <-chan field.Progress
	}
	bacnetObjectsMsg struct {
		objs []bacnet.ObjectInfo
		err  error
	}
)

// bacnetLinks are the BACnet links the driver has open or tried, named
// as the tree's buses.
func (m *fieldScreen) bacnetLinks() []string {
	src, ok := m.bacnet()
	if !ok {
		return nil
	}
	var out []string
	for _, l := range src.State().Links {
		out = append(out, l.Name)
	}
	return out
}

// bacnet returns the BACnet driver, if one runs.
func (m *fieldScreen) bacnet() (BACnetSource, bool) {
	if m.bacnetLookup == nil {
		return nil, false
	}
	return m.bacnetLookup()
}

// bacnetTreeKeys reports whether k is one of the tree's BACnet keys on n.
func (m *fieldScreen) bacnetTreeKeys(k tea.KeyPressMsg, n node) bool {
	keys := m.s.Keys
	return key.Matches(k, keys.Discover) && (n.kind == nodeProtocol || n.kind == nodeBus) ||
		key.Matches(k, keys.Objects) && (n.kind == nodeDevice || n.kind == nodePoint)
}

// bacnetTreeKey handles a key bacnetTreeKeys accepts: a discovery from
// the BACnet node or a link, the objects of a device.
func (m *fieldScreen) bacnetTreeKey(k tea.KeyPressMsg, n node) tea.Cmd {
	if key.Matches(k, m.s.Keys.Discover) {
		if !m.fieldOps() {
			return common.ReadOnly(m.s, access.PermFieldWrite)
		}
		target := ""
		if n.kind == nodeBus && n.bus != bacnet.IPLink {
			target = n.bus
		}
		return m.startDiscover(target)
	}
	m.bn = bacnetState{fromTree: true, siteDev: n.dev}
	if site, ok := m.base.Site.BACnet.FindDevice(n.dev); ok && site.Instance != nil {
		m.bn.dev = bacnet.Discovered{Instance: *site.Instance, Link: site.FieldBus(), Site: n.dev}
	}
	return m.loadObjects()
}

// startDiscover sends a Who-Is to target under the session's context and
// collects the answers in the background; closing the session ends it.
func (m *fieldScreen) startDiscover(target string) tea.Cmd {
	src, ok := m.bacnet()
	if !ok {
		return common.Flash("The BACnet driver is not running (the gateway is stopping?).")
	}
	where := "BACnet/IP"
	if target != "" {
		where = "MS/TP bus " + target
	}
	ctx, cancel := context.WithTimeout(m.s.Ctx, bacnet.DiscoverTimeout)
	m.mode = fieldBACnet
	m.bn = bacnetState{stage: bnDiscovering, target: target, cancel: cancel}
	actor, audit := m.s.Actor(), m.src.Audit
	progress := make(chan field.Progress, 1)
	run := func() tea.Msg {
		defer cancel()
		defer close(progress)
		found, err := src.DiscoverDevices(ctx, bacnet.DiscoverQuery{To: target}, func(p field.Progress) {
			select { // only the newest progress matters
			case <-progress:
			default:
			}
			progress <- p
		})
		_ = audit(actor, device.ActionFieldScan, "bacnet "+where, resultOf(err))
		slices.SortFunc(found, func(a, b bacnet.Discovered) int { return a.Instance - b.Instance })
		return bacnetFoundMsg{found: found, err: err}
	}
	return tea.Batch(m.busy.Start(m.s.Styles, "who-is on "+where+": waiting for I-Am answers…"), run, waitBACnetProgress(progress))
}

func waitBACnetProgress(ch <-chan field.Progress) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		if !ok {
			return nil
		}
		return bacnetProgressMsg{p: p, ch: ch}
	}
}

// loadObjects reads the objects of m.bn.dev (a site device by name, else
// by instance at the address it answered from).
func (m *fieldScreen) loadObjects() tea.Cmd {
	src, ok := m.bacnet()
	if !ok {
		return common.Flash("The BACnet driver is not running (the gateway is stopping?).")
	}
	q := bacnet.ObjectsQuery{Device: m.bn.siteDev}
	label := m.bn.siteDev
	if q.Device == "" {
		q.Device, q.To = strconv.Itoa(m.bn.dev.Instance), m.bn.dev.Address
		if m.bn.dev.Link != bacnet.IPLink {
			q.To = m.bn.dev.Link
		}
		label = "device " + q.Device
	}
	m.mode, m.bn.stage, m.bn.err = fieldBACnet, bnLoading, ""
	ctx := m.s.Ctx
	run := func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, bacnet.ObjectsTimeout)
		defer cancel()
		objs, err := src.Objects(ctx, q)
		return bacnetObjectsMsg{objs: objs, err: err}
	}
	return tea.Batch(m.busy.Start(m.s.Styles, "reading the objects of "+label+"…"), run)
}

// bacnetUpdate is Update in the BACnet view.
func (m *fieldScreen) bacnetUpdate(msg tea.Msg) tea.Cmd {
	bn := &m.bn
	switch msg := msg.(type) {
	case bacnetProgressMsg:
		if bn.stage == bnDiscovering {
			m.busy.SetLabel(fmt.Sprintf("described %d/%d devices that answered (last: instance %d)", msg.p.Done, msg.p.Total, msg.p.Current))
		}
		return waitBACnetProgress(msg.ch)
	case bacnetFoundMsg:
		m.busy.Stop()
		bn.stage, bn.found, bn.fcur, bn.err = bnFound, msg.found, 0, ""
		if msg.err != nil {
			bn.err = "discovery failed: " + msg.err.Error()
		}
		return nil
	case bacnetObjectsMsg:
		m.busy.Stop()
		if msg.err != nil {
			bn.err = "reading the objects failed: " + msg.err.Error()
			if bn.fromTree {
				m.mode = fieldTree
				return common.FlashErr(fmt.Errorf("%s", bn.err))
			}
			bn.stage = bnFound
			return nil
		}
		bn.stage, bn.objs, bn.ocur, bn.offset = bnObjects, msg.objs, 0, 0
		// What the site does not read yet and can be read is picked: the
		// usual case is "all of them", and space unpicks.
		bn.picked = make([]bool, len(msg.objs))
		for i, o := range msg.objs {
			bn.picked[i] = pickable(o) && len(o.Points) == 0
		}
		return nil
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	keys := m.s.Keys
	switch bn.stage {
	case bnDiscovering, bnLoading:
		if key.Matches(k, keys.Back) && bn.cancel != nil {
			bn.cancel() // the result still arrives, with what was found
		}
	case bnFound:
		switch {
		case key.Matches(k, keys.Back):
			m.mode = fieldTree
		case key.Matches(k, keys.Up):
			bn.fcur = max(bn.fcur-1, 0)
		case key.Matches(k, keys.Down):
			bn.fcur = min(bn.fcur+1, max(len(bn.found)-1, 0))
		case key.Matches(k, keys.Objects, keys.Pick) && len(bn.found) > 0:
			bn.dev, bn.siteDev, bn.fromTree = bn.found[bn.fcur], bn.found[bn.fcur].Site, false
			return m.loadObjects()
		}
	case bnObjects:
		switch {
		case key.Matches(k, keys.Back):
			if bn.fromTree {
				m.mode = fieldTree
			} else {
				bn.stage = bnFound
			}
		case key.Matches(k, keys.Up):
			bn.ocur = max(bn.ocur-1, 0)
		case key.Matches(k, keys.Down):
			bn.ocur = min(bn.ocur+1, max(len(bn.objs)-1, 0))
		case key.Matches(k, keys.PickObject) && len(bn.objs) > 0:
			if o := bn.objs[bn.ocur]; !pickable(o) {
				return common.Flash(o.Object + " has no present value a point could read.")
			}
			bn.picked[bn.ocur] = !bn.picked[bn.ocur]
		case key.Matches(k, keys.PickAll):
			all := true
			for i, o := range bn.objs {
				all = all && (bn.picked[i] || !pickable(o))
			}
			for i, o := range bn.objs {
				bn.picked[i] = !all && pickable(o)
			}
		case key.Matches(k, keys.AddPicked):
			if !m.editable() {
				return common.ReadOnly(m.s, access.PermConfigEdit)
			}
			return m.addPicked()
		}
		m.scrollObjects()
	}
	return nil
}

// pickable reports whether a point could read o: it has a present value
// and is not the Device object.
func pickable(o bacnet.ObjectInfo) bool {
	return o.PresentValue && o.ID.Type != stack.ObjectDevice
}

// pickedObjects are the objects picked.
func (bn *bacnetState) pickedObjects() []bacnet.ObjectInfo {
	var out []bacnet.ObjectInfo
	for i, o := range bn.objs {
		if bn.picked[i] {
			out = append(out, o)
		}
	}
	return out
}

// addPicked adds the picked objects as points: to the site device at
// once, or, for a device the site does not have, through a form that
// names the new device.
func (m *fieldScreen) addPicked() tea.Cmd {
	bn := &m.bn
	pts := bacnet.SitePoints(bn.pickedObjects())
	if len(pts) == 0 {
		return common.Flash("Nothing picked has a present value to read: space picks an object.")
	}
	m.base.Load(m.src)
	if bn.siteDev != "" {
		next := m.base.Site.Clone()
		added, err := next.AddBACnetPoints(bn.siteDev, pts)
		switch {
		case err != nil:
			return common.FlashErr(err)
		case len(added) == 0:
			return common.Flash("The site reads every object picked already.")
		}
		text, err := m.apply(next, fmt.Sprintf("added %s to %s (%s)", format.Count(len(added), "point"), bn.siteDev, strings.Join(added, ", ")))
		if err != nil {
			if m.base.Stale != nil {
				return common.FlashErr(fmt.Errorf("%s", m.base.StaleText(m.s)))
			}
			return common.FlashErr(fmt.Errorf("%s", common.ProblemLines(err)))
		}
		m.mode = fieldTree
		m.show(bn.siteDev)
		return common.Flash(common.Clip(text, 200))
	}
	name := device.UniqueName(device.NameFrom(bn.dev.Name, "bacnet-"+strconv.Itoa(bn.dev.Instance)), m.base.Site.SiteNames())
	note := fmt.Sprintf("instance %d at %s; %d points picked", bn.dev.Instance, bn.dev.Address, len(pts))
	m.form = common.NewForm(m.s.Styles, "Add the device (one revision)",
		common.FieldSpec{Label: "Device name", Value: name, Limit: device.MaxNameLength, Note: note})
	m.formKind, m.mode = formBACnetDevice, fieldForm
	return nil
}

// submitBACnetDevice adds the device the form names, with the points
// picked, as one revision.
func (m *fieldScreen) submitBACnetDevice() tea.Cmd {
	bn := &m.bn
	name := strings.TrimSpace(m.form.Value(0))
	d := bn.dev.SiteDevice(name, bacnet.SitePoints(bn.pickedObjects()))
	next := m.base.Site.Clone()
	if err := next.AddBACnetDevice(d); err != nil {
		m.form.SetError(err.Error())
		return nil
	}
	text, ok := m.applyForm(next, fmt.Sprintf("added BACnet device %s (instance %d) with %d points", name, bn.dev.Instance, len(d.Points)))
	if !ok {
		return nil
	}
	m.mode = fieldTree
	m.show(name)
	return common.Flash(common.Clip(text, 200))
}

// objectRows is how many object rows fit.
func (m *fieldScreen) objectRows() int { return max(m.h-7, 3) }

func (m *fieldScreen) scrollObjects() {
	bn := &m.bn
	rows := m.objectRows()
	if bn.ocur < bn.offset {
		bn.offset = bn.ocur
	}
	if bn.ocur >= bn.offset+rows {
		bn.offset = bn.ocur - rows + 1
	}
}

// bacnetKeys are the keys the BACnet view offers.
func (m *fieldScreen) bacnetKeys() []key.Binding {
	k := m.s.Keys
	switch m.bn.stage {
	case bnFound:
		if len(m.bn.found) > 0 {
			return []key.Binding{k.Up, k.Down, k.Objects, k.Back}
		}
	case bnObjects:
		ks := []key.Binding{k.Up, k.Down, k.PickObject, k.PickAll}
		if m.editable() {
			ks = append(ks, k.AddPicked)
		}
		return append(ks, k.Back)
	}
	return []key.Binding{k.Back}
}

func (m *fieldScreen) bacnetView() string {
	st := m.s.Styles
	bn := &m.bn
	var lines []string
	switch bn.stage {
	case bnDiscovering, bnLoading:
		title := "BACnet discovery"
		if bn.stage == bnLoading {
			title = "BACnet objects"
		}
		return st.Title.Render(title) + "\n\n" + m.busy.View(st) + "\n" + st.Text.Dim.Render("esc stops")
	case bnFound:
		where := "BACnet/IP"
		if bn.target != "" {
			where = "MS/TP bus " + bn.target
		}
		lines = append(lines, st.Title.Render("BACnet devices answering on "+where))
		if bn.err != "" {
			lines = append(lines, st.Text.Error.Render(common.Clip(bn.err, m.w)))
		}
		if len(bn.found) == 0 {
			return strings.Join(append(lines, "", st.Text.Dim.Render("No device answered the Who-Is. esc to go back")), "\n")
		}
		lines = append(lines, "", st.Table.Header.Render(common.Clip(fmt.Sprintf("%-9s %-22s %-18s %-18s %7s  %s", "INSTANCE", "ADDRESS", "VENDOR", "MODEL", "OBJECTS", "NAME / SITE DEVICE"), m.w)))
		for i, f := range bn.found {
			vendor := f.Vendor
			if vendor == "" {
				vendor = "vendor " + strconv.Itoa(int(f.VendorID))
			}
			name := format.Dash(f.Name)
			if f.Site != "" {
				name += " (site: " + f.Site + ")"
			}
			row := fmt.Sprintf("%-9d %-22s %-18s %-18s %7d  %s", f.Instance, common.Clip(f.Address, 22), common.Clip(vendor, 18), common.Clip(format.Dash(f.Model), 18), f.Objects, name)
			style := st.Text.Normal
			if f.Error != "" {
				row += " — " + f.Error
				style = st.Text.Warn
			}
			if i == bn.fcur {
				style = st.Table.Selected
			}
			lines = append(lines, style.Render(common.Clip(row, m.w)))
		}
		lines = append(lines, "", st.Text.Dim.Render("o lists the selected device's objects, to add them to the site"))
	case bnObjects:
		title := fmt.Sprintf("Objects of device %d", bn.dev.Instance)
		if bn.siteDev != "" {
			title = "Objects of " + bn.siteDev
		}
		n := 0
		for _, p := range bn.picked {
			if p {
				n++
			}
		}
		lines = append(lines, st.Title.Render(title)+st.Text.Dim.Render(fmt.Sprintf("  %d of %d picked", n, len(bn.objs))), "",
			st.Table.Header.Render(common.Clip(fmt.Sprintf("    %-20s %-24s %-16s %-8s %-7s %s", "OBJECT", "NAME", "VALUE", "QUALITY", "MODE", "SITE POINTS"), m.w)))
		modes := m.objectModes()
		for i := bn.offset; i < len(bn.objs) && i < bn.offset+m.objectRows(); i++ {
			o := bn.objs[i]
			mark := "[ ]"
			if bn.picked[i] {
				mark = "[x]"
			}
			value := strings.TrimSpace(device.FormatValue(o.Value, 0) + " " + o.Unit)
			if !o.PresentValue {
				value = "—"
			}
			row := fmt.Sprintf("%s %-20s %-24s %-16s %-8s %-7s %s", mark, common.Clip(o.Object, 20), common.Clip(format.Dash(o.Name), 24), common.Clip(value, 16),
				o.Quality, format.Dash(modes[o.Object]), format.Dash(strings.Join(o.Points, ",")))
			style := common.QualityStyle(st, o.Quality)
			if i == bn.ocur {
				style = st.Table.Selected
			}
			lines = append(lines, style.Render(common.Clip(row, m.w)))
		}
		if more := len(bn.objs) - bn.offset - m.objectRows(); more > 0 {
			lines = append(lines, st.Text.Dim.Render(fmt.Sprintf("  ↓ %d more", more)))
		}
		hint := "space picks · * all/none · a adds the picked objects as read-only points"
		if bn.siteDev == "" {
			hint = "space picks · * all/none · a adds the device with the picked objects as read-only points"
		}
		lines = append(lines, "", st.Text.Dim.Render(common.Clip(hint, m.w)))
	}
	return strings.Join(lines, "\n")
}

// objectModes says, per object the site reads, how its points arrive.
func (m *fieldScreen) objectModes() map[string]string {
	out := map[string]string{}
	src, ok := m.bacnet()
	if !ok || m.bn.siteDev == "" {
		return out
	}
	pts, _ := src.Points(m.bn.siteDev)
	for _, p := range pts {
		if p.Property == "present-value" {
			out[p.Object] = p.Mode.String()
		}
	}
	return out
}

// bacnetPointDetail is what the detail pane says of a BACnet point: what
// it reads and whether it arrives by COV or is polled, and why.
func (m *fieldScreen) bacnetPointDetail(n node) []string {
	src, ok := m.bacnet()
	if !ok {
		return nil
	}
	pts, _ := src.Points(n.dev)
	i := slices.IndexFunc(pts, func(p bacnet.PointState) bool { return p.Point == n.point })
	if i < 0 {
		return nil
	}
	p := pts[i]
	kv := func(k, v string) string { return common.KV(m.s.Styles, 13, k, v) }
	arrives := p.Mode.String()
	if p.Mode == bacnet.ModeCOV {
		arrives = fmt.Sprintf("cov, %d notifications", p.Notifications)
		if !p.LastCOV.IsZero() {
			arrives += ", last " + format.Ago(m.s.Now(), p.LastCOV)
		}
	}
	lines := []string{kv("object", p.Object+" "+p.Property), kv("arrives", arrives)}
	if p.Why != "" {
		lines = append(lines, kv("why", p.Why))
	}
	return lines
}
