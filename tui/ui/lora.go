package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/semtech"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// LoRaSource is what the LoRa tab reads; *lora.Driver implements it.
type LoRaSource interface {
	Concentrator() lora.Concentrator
	Devices() []lora.DeviceState
	Plan() (band.Plan, error)
}

var _ LoRaSource = (*lora.Driver)(nil)

// LoRaLookup finds the LoRa driver running now; false when none runs.
type LoRaLookup func() (LoRaSource, bool)

// loraLookup is d.LoRa, or the driver running for d.Gateway.
func (d Deps) loraLookup() LoRaLookup {
	if d.LoRa != nil {
		return d.LoRa
	}
	return driverLookup[LoRaSource](d.Gateway, field.LoRa)
}

// Layout bounds of the LoRa tab.
const (
	// loraNameCells bounds the device name column; longer names are cut.
	loraNameCells = 20
	// loraMinRows is how many device rows the tab keeps before it drops
	// the plan summary and the device detail to make room.
	loraMinRows = 3
)

// loraSnapshot is one reading of the driver, taken off the Update path.
type loraSnapshot struct {
	running bool // a driver runs
	conc    lora.Concentrator
	devs    []lora.DeviceState
	plan    band.Plan
	planErr error
}

// loraSnapshotMsg delivers a snapshot to the screen that asked for it.
type loraSnapshotMsg struct{ snap loraSnapshot }

func readLoRa(lookup LoRaLookup) loraSnapshot {
	src, ok := lookup()
	if !ok {
		return loraSnapshot{}
	}
	snap := loraSnapshot{running: true, conc: src.Concentrator(), devs: src.Devices()}
	snap.plan, snap.planErr = src.Plan()
	return snap
}

// loraScreen shows the LoRa side: the concentrator's packet forwarder
// server, the embedded network server's devices and the channel plan. It
// reads the driver on a command, never in Update: on every tick, when a
// LoRa device's readings arrive and when the site changes.
type loraScreen struct {
	s        *common.Session
	lookup   LoRaLookup
	w, h     int
	snap     loraSnapshot
	have     bool // snap holds a reading
	fetching bool
	cursor   int // the selected device
	offset   int // the first device row shown
	showPlan bool
}

// newLoRaScreen returns the LoRa tab when a LoRa driver runs.
func newLoRaScreen(s *common.Session, lookup LoRaLookup) (*loraScreen, bool) {
	if _, ok := lookup(); !ok {
		return nil, false
	}
	return &loraScreen{s: s, lookup: lookup}, true
}

func (m *loraScreen) Title() string    { return "LoRa" }
func (m *loraScreen) SetSize(w, h int) { m.w, m.h = w, h }
func (m *loraScreen) Capturing() bool  { return false }

func (m *loraScreen) Keys() []key.Binding {
	k := m.s.Keys
	if !m.showPlan && m.devicesShown() && len(m.snap.devs) > 1 {
		return []key.Binding{k.Up, k.Down, k.LoRaPlan}
	}
	return []key.Binding{k.LoRaPlan}
}

// devicesShown reports whether the tab lists devices: the embedded
// network server runs, or should.
func (m *loraScreen) devicesShown() bool {
	c := m.snap.conc
	return m.snap.running && c.State != lora.ServerOff && c.Mode != "forward"
}

// fetch reads the driver on a command; at most one read is under way.
func (m *loraScreen) fetch() tea.Cmd {
	if m.fetching {
		return nil
	}
	m.fetching = true
	lookup := m.lookup
	return func() tea.Msg { return loraSnapshotMsg{readLoRa(lookup)} }
}

func (m *loraScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case loraSnapshotMsg:
		m.fetching, m.have, m.snap = false, true, msg.snap
		m.cursor = min(m.cursor, max(len(m.snap.devs)-1, 0))
		return m, nil
	case common.TickMsg:
		return m, m.fetch()
	case common.EventMsg:
		if msg.Event.Kind == device.EventSite || msg.Event.Kind == device.EventReadings && m.isLoRa(msg.Event.Device) {
			return m, m.fetch()
		}
		return m, nil
	case tea.KeyPressMsg:
		k := m.s.Keys
		switch {
		case key.Matches(msg, k.LoRaPlan):
			m.showPlan = !m.showPlan
		case !m.showPlan && key.Matches(msg, k.Up):
			m.cursor = max(m.cursor-1, 0)
		case !m.showPlan && key.Matches(msg, k.Down):
			m.cursor = min(m.cursor+1, max(len(m.snap.devs)-1, 0))
		}
		return m, nil
	}
	if !m.have {
		// The first message of any kind (the program's start) reads the
		// driver, so the tab has data before the first tick.
		return m, m.fetch()
	}
	return m, nil
}

func (m *loraScreen) isLoRa(name string) bool {
	for _, d := range m.snap.devs {
		if d.Name == name {
			return true
		}
	}
	return false
}

func (m *loraScreen) View() string {
	st := m.s.Styles
	switch {
	case !m.have:
		return st.Title.Render("LoRa") + "\n" + st.Text.Dim.Render("Reading the LoRa state…")
	case !m.snap.running:
		return st.Title.Render("LoRa") + "\n" + st.Text.Warn.Render(common.Clip("The LoRa driver is not running (the gateway is stopping?): see the Dashboard.", m.w))
	case m.showPlan:
		return strings.Join(m.planView(), "\n")
	}
	conc := m.concentratorView()
	c := m.snap.conc
	switch {
	case c.State == lora.ServerOff:
		hint := "LoRa is off: set lora.enabled: true and mode: embedded (the Network tab shows the radio)."
		return strings.Join(append(conc, "", st.Text.Dim.Render(common.Clip(hint, m.w))), "\n")
	case c.Mode == "forward":
		return strings.Join(append(conc, "", st.Text.Dim.Render(common.Clip(
			"Forward mode: the remote network server has the devices and frames; mode: embedded keeps them on the gateway.", m.w))), "\n")
	}
	detail := m.detailView()
	plan := m.planSummary()
	// The device rows get what is left. The plan summary gives way when
	// not every device fits (p shows the plan), the detail below a few
	// rows.
	room := func() int { return m.h - len(conc) - 1 - 3 - len(detail) - len(plan) }
	if room() < len(m.snap.devs) {
		plan = nil
	}
	if room() < min(len(m.snap.devs), loraMinRows) {
		detail = nil
	}
	lines := append(conc, "")
	lines = append(lines, m.devicesView(max(room(), 1))...)
	lines = append(lines, detail...)
	lines = append(lines, plan...)
	return strings.Join(lines, "\n")
}

// concentratorView is the packet forwarder side: state, last PUSH_DATA
// and PULL_DATA, the counters, and what was refused.
func (m *loraScreen) concentratorView() []string {
	st := m.s.Styles
	c := m.snap.conc
	now := m.s.Now()
	state := st.Text.Dim.Render("off")
	switch c.State {
	case lora.ServerListening:
		state = st.Text.OK.Render("listening")
	case lora.ServerFailed:
		state = st.Text.Error.Render("failed")
	}
	where := c.Listening
	if where == "" {
		where = c.Address
	}
	head := st.Title.Render("Concentrator") + "  " + state + st.Text.Normal.Render(common.Clip(dotted(c.Mode, where), max(m.w-24, 3)))
	lines := []string{head}
	if c.Error != "" {
		for _, l := range wrapWords(c.Error, m.w, 2) {
			lines = append(lines, st.Text.Error.Render(l))
		}
	}
	if c.State == lora.ServerOff {
		return lines
	}
	kv := func(k, v string) string { return common.KV(st, 15, k, v) }
	forwarders := "none heard yet"
	if n := len(c.Forwarders); n > 0 {
		forwarders = c.Forwarders[0].PushAddr
		if n > 1 {
			forwarders += fmt.Sprintf(" and %d more", n-1)
		}
	}
	lines = append(lines,
		kv("gateway EUI", c.GatewayEUI)+st.Text.Dim.Render("   forwarder ")+st.Text.Normal.Render(common.Clip(format.Dash(forwarders), max(m.w-49, 3))),
		kv("last PUSH_DATA", fmt.Sprintf("%-11s", format.Ago(now, c.LastPushData)))+st.Text.Dim.Render("   last PULL_DATA ")+st.Text.Normal.Render(format.Ago(now, c.LastPullData)),
	)
	refused := refusals(c.Server)
	counts := fmt.Sprintf("received %d · forwarded %d · duplicates %d · CRC errors %d · ", c.Received, c.Forwarded, c.Duplicates, c.CRCErrors)
	total := fmt.Sprintf("refused %d", refused.total)
	switch {
	case len(counts)+len(total) > m.w:
		lines = append(lines, st.Text.Normal.Render(common.Clip(counts+total, m.w)))
	case refused.total > 0:
		lines = append(lines, st.Text.Normal.Render(counts)+st.Text.Warn.Render(total))
	default:
		lines = append(lines, st.Text.Normal.Render(counts+total))
	}
	for _, l := range wrapParts("refused: ", refused.parts, m.w, 2) {
		lines = append(lines, st.Text.Warn.Render(l))
	}
	switch {
	case c.NetworkServer != nil:
		for _, l := range wrapParts("network server: ", nsParts(*c.NetworkServer), m.w, 2) {
			lines = append(lines, st.Text.Dim.Render(l))
		}
	case c.Relay != nil:
		for _, l := range wrapParts("relay: ", relayParts(*c.Relay), m.w, 2) {
			lines = append(lines, st.Text.Dim.Render(l))
		}
	}
	return lines
}

// wrapParts writes prefix and parts joined by " · " in lines of at most w
// cells, at most maxLines of them (the last one cut); nothing for no
// parts.
func wrapParts(prefix string, parts []string, w, maxLines int) []string {
	if len(parts) == 0 {
		return nil
	}
	var lines []string
	line := prefix + parts[0]
	for _, p := range parts[1:] {
		if len(lines) < maxLines-1 && lipgloss.Width(line+" · "+p) > w {
			lines = append(lines, line)
			line = strings.Repeat(" ", len(prefix)) + p
			continue
		}
		line += " · " + p
	}
	return append(lines, common.Clip(line, w))
}

// wrapWords wraps text at spaces into lines of at most w cells, at most
// maxLines of them (the last one cut).
func wrapWords(text string, w, maxLines int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(lines) < maxLines-1 && lipgloss.Width(line+" "+word) > w:
			lines = append(lines, common.Clip(line, w))
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, common.Clip(line, w))
}

// count writes n things, in the plural unless n is 1.
func dotted(parts ...string) string {
	var out string
	for _, p := range parts {
		if p != "" {
			out += " · " + p
		}
	}
	return out
}

type refused struct {
	total uint64
	parts []string // what, for each kind that happened
}

// refusals sums what the packet forwarder server refused, and says what.
func refusals(s semtech.Stats) refused {
	var r refused
	for _, c := range []struct {
		n    uint64
		what string
	}{
		{s.Malformed, "malformed"}, {s.BadJSON, "broken JSON"}, {s.BadRXPK, "bad rxpk"},
		{s.UnknownGateway, "unknown gateway"}, {s.TooManyForwarders, "too many forwarders"}, {s.RateLimited, "rate limited"},
	} {
		if c.n > 0 {
			r.total += c.n
			r.parts = append(r.parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return r
}

// nsParts is the embedded network server's counters: what it did, then
// what it refused (only what happened).
func nsParts(s ns.Stats) []string {
	parts := []string{format.Count(int(s.Joins), "join"), format.Count(int(s.Uplinks), "uplink"), format.Count(int(s.Downlinks), "downlink")}
	for _, c := range []struct {
		n    uint64
		what string
	}{
		{s.Acks, "ack"}, {s.MICFailures, "MIC failure"}, {s.Replays, "replay"}, {s.DevNonceReplays, "DevNonce replay"},
		{s.UnknownDevice, "unknown device"}, {s.Malformed, "malformed frame"}, {s.Retransmissions, "retransmission"},
		{s.Dropped, "queue-full drop"}, {s.TooLate, "late answer"}, {s.TxErrors, "TX error"}, {s.StoreErrors, "store error"},
	} {
		if c.n > 0 {
			parts = append(parts, format.Count(int(c.n), c.what))
		}
	}
	return parts
}

// relayParts is forward mode's counters.
func relayParts(r semtech.RelayStats) []string {
	remote := "remote down"
	if r.RemoteUp {
		remote = "remote up"
	}
	return []string{remote, fmt.Sprintf("%d relayed", r.Forwarded), fmt.Sprintf("%d acked", r.Acked), fmt.Sprintf("%d resent", r.Resent),
		fmt.Sprintf("%d buffered", r.Buffered), fmt.Sprintf("%d dropped", r.DroppedOverflow+r.DroppedExpired)}
}

// loraColumn is one column of the device table.
type loraColumn struct {
	head  string
	width int
	right bool
	// drop is the order in which columns give way on narrow terminals
	// (0: never); the detail below the table shows them too.
	drop int
	cell func(d lora.DeviceState, now time.Time) string
}

func loraColumns() []loraColumn {
	heard := func(d lora.DeviceState) bool { return d.Uplinks > 0 || !d.LastUplink.IsZero() }
	return []loraColumn{
		{head: "NAME", width: loraNameCells, cell: func(d lora.DeviceState, _ time.Time) string { return d.Name }},
		{head: "STATE", width: 8, cell: func(d lora.DeviceState, _ time.Time) string { return string(d.State) }},
		{head: "JOIN", width: 10, cell: func(d lora.DeviceState, _ time.Time) string { return d.JoinState }},
		{head: "DEVADDR", width: 8, drop: 2, cell: func(d lora.DeviceState, _ time.Time) string { return format.Dash(d.DevAddr) }},
		{head: "LAST UPLINK", width: 11, cell: func(d lora.DeviceState, now time.Time) string { return format.Ago(now, d.LastUplink) }},
		{head: "RSSI", width: 4, right: true, cell: func(d lora.DeviceState, _ time.Time) string {
			if !heard(d) {
				return "-"
			}
			return strconv.Itoa(d.RSSI)
		}},
		{head: "SNR", width: 5, right: true, cell: func(d lora.DeviceState, _ time.Time) string {
			if !heard(d) {
				return "-"
			}
			return strconv.FormatFloat(d.SNR, 'f', 1, 64)
		}},
		{head: "FCNT", width: 6, right: true, cell: func(d lora.DeviceState, _ time.Time) string {
			if !heard(d) {
				return "-"
			}
			return strconv.FormatUint(uint64(d.LastFCnt), 10)
		}},
		{head: "CODEC", width: 12, drop: 1, cell: func(d lora.DeviceState, _ time.Time) string { return format.Dash(d.Codec) }},
	}
}

// layoutColumns fits the columns into w cells: each as wide as its
// widest cell (the name at most loraNameCells), two cells apart where
// they fit, else one; then columns are dropped in their order and the
// names cut.
func layoutColumns(cols []loraColumn, devs []lora.DeviceState, now time.Time, w int) ([]loraColumn, string) {
	for i := range cols {
		limit := cols[i].width
		cols[i].width = len([]rune(cols[i].head))
		for _, d := range devs {
			cols[i].width = max(cols[i].width, len([]rune(cols[i].cell(d, now))))
		}
		if i == 0 {
			cols[i].width = min(cols[i].width, limit)
		}
	}
	total := func(gap int) int {
		n := -gap
		for _, c := range cols {
			n += c.width + gap
		}
		return n
	}
	for drop := 1; ; drop++ {
		if total(2) <= w {
			return cols, "  "
		}
		if total(1) <= w {
			return cols, " "
		}
		i := slices.IndexFunc(cols, func(c loraColumn) bool { return c.drop == drop })
		if i < 0 {
			break
		}
		cols = slices.Delete(cols, i, i+1)
	}
	cols[0].width = max(cols[0].width-(total(1)-w), 4)
	return cols, " "
}

// devicesView is the device table with rows lines of devices at most,
// scrolled to keep the selection in view.
func (m *loraScreen) devicesView(rows int) []string {
	st := m.s.Styles
	devs := m.snap.devs
	online := 0
	for _, d := range devs {
		if d.State == field.StateOnline {
			online++
		}
	}
	title := st.Title.Render("Devices") + st.Text.Dim.Render(fmt.Sprintf("  %d, %d online", len(devs), online))
	if len(devs) == 0 {
		return []string{title, st.Text.Dim.Render(common.Clip("No LoRa devices in the site: add them under lora.devices (config import).", m.w)), ""}
	}
	rows = min(rows, len(devs))
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+rows {
		m.offset = m.cursor - rows + 1
	}
	m.offset = min(m.offset, len(devs)-rows)
	if rows < len(devs) {
		title += st.Text.Dim.Render(fmt.Sprintf(" · %d–%d shown", m.offset+1, m.offset+rows))
	}
	now := m.s.Now()
	cols, gap := layoutColumns(loraColumns(), devs, now, m.w)
	pad := func(c loraColumn, s string) string {
		s = common.Clip(s, c.width)
		if c.right {
			return fmt.Sprintf("%*s", c.width, s)
		}
		return fmt.Sprintf("%-*s", c.width, s)
	}
	var head []string
	for _, c := range cols {
		head = append(head, pad(c, c.head))
	}
	lines := []string{title, st.Table.Header.Render(strings.Join(head, gap))}
	for i := m.offset; i < m.offset+rows; i++ {
		d := devs[i]
		cells := make([]string, len(cols))
		selected := i == m.cursor && len(devs) > 1
		for j, c := range cols {
			cells[j] = pad(c, c.cell(d, now))
			if selected {
				continue
			}
			style := st.Table.Row
			switch c.head {
			case "NAME":
				style = st.Text.Strong
			case "STATE":
				style = common.StateStyle(st, d.State)
			case "JOIN":
				style = joinStyle(st, d.JoinState)
			}
			cells[j] = style.Render(cells[j])
		}
		line := strings.Join(cells, gap)
		if selected {
			line = st.Table.Selected.Render(line)
		}
		lines = append(lines, line)
	}
	return append(lines, "")
}

// joinStyle colours a join state: joined and abp devices have a session.
func joinStyle(st *themes.Styles, join string) lipgloss.Style {
	if join == "not joined" {
		return st.Text.Warn
	}
	return st.Table.Row
}

// detailView is the selected device beyond its row: identity, radio,
// counters and errors.
func (m *loraScreen) detailView() []string {
	if len(m.snap.devs) == 0 {
		return nil
	}
	st := m.s.Styles
	d := m.snap.devs[m.cursor]
	now := m.s.Now()
	parts := []string{d.DevEUI.String(), d.Activation, "class " + d.Class, format.Dash(d.Codec)}
	if d.Interval > 0 {
		parts = append(parts, "every "+d.Interval.Std().String())
	}
	if !d.LastJoin.IsZero() {
		parts = append(parts, "joined "+format.Ago(now, d.LastJoin))
	}
	parts = append(parts, format.Count(int(d.Uplinks), "uplink"), format.Count(int(d.Downlinks), "downlink"), fmt.Sprintf("next FCnt up %d, down %d", d.FCntUp, d.FCntDown))
	if d.DataRate != "" {
		parts = append(parts, fmt.Sprintf("%s on %s", d.DataRate, format.MHz(d.Frequency)))
	}
	if d.Gateways > 0 {
		parts = append(parts, fmt.Sprintf("heard by %d", d.Gateways))
	}
	if d.QueueLength > 0 {
		parts = append(parts, fmt.Sprintf("%d queued", d.QueueLength))
	}
	if d.Battery != nil {
		parts = append(parts, "battery "+batteryText(*d.Battery))
	}
	if d.Margin != nil {
		parts = append(parts, fmt.Sprintf("margin %d dB", *d.Margin))
	}
	name := common.Clip(d.Name, loraNameCells)
	var lines []string
	for i, l := range wrapParts(name+"  ", parts, m.w, 2) {
		if i == 0 {
			l = st.Text.Strong.Render(name) + st.Text.Normal.Render(strings.TrimPrefix(l, name))
		} else {
			l = st.Text.Normal.Render(l)
		}
		lines = append(lines, l)
	}
	if d.LastError != "" || len(d.Errors) > 0 {
		var errs []string
		for _, k := range sortedKeys(d.Errors) {
			errs = append(errs, fmt.Sprintf("%d %s", d.Errors[k], k))
		}
		text := "errors: " + format.Dash(strings.Join(errs, ", "))
		if d.LastError != "" {
			text += " · last: " + d.LastError
		}
		lines = append(lines, st.Text.Warn.Render(common.Clip(text, m.w)))
	}
	return append(lines, "")
}

// batteryText reads DevStatusAns's battery byte (LoRaWAN 1.0.x 5.5):
// 0 external power, 1..254 the level, 255 unknown.
func batteryText(b uint8) string {
	switch b {
	case 0:
		return "external power"
	case 255:
		return "unknown"
	}
	return fmt.Sprintf("%d%%", int(b)*100/254)
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// planSummary is the effective channel plan in three lines.
func (m *loraScreen) planSummary() []string {
	st := m.s.Styles
	if m.snap.planErr != nil {
		return []string{st.Title.Render("Channel plan"), st.Text.Error.Render(common.Clip(m.snap.planErr.Error(), m.w))}
	}
	p := m.snap.plan
	var freqs []string
	for _, c := range p.Channels {
		freqs = append(freqs, strings.TrimSuffix(format.MHz(c.Frequency), " MHz"))
	}
	rx2 := fmt.Sprintf("DR%d", p.RX2DataRate)
	if dr, err := p.DataRate(p.RX2DataRate); err == nil {
		rx2 = dr.String()
	}
	return []string{
		st.Title.Render("Channel plan") + st.Text.Normal.Render(common.Clip(fmt.Sprintf("  %s · %s MHz", p.Region, strings.Join(freqs, ", ")), max(m.w-26, 3))) +
			st.Text.Dim.Render(" · p: all"),
		st.Text.Normal.Render(common.Clip(fmt.Sprintf("RX1 +%s (join +%s) · RX2 +%s (join +%s) %s %s · %d dBm",
			p.ReceiveDelay1, p.JoinAcceptDelay1, p.ReceiveDelay2, p.JoinAcceptDelay2, format.MHz(p.RX2Frequency), rx2, p.DownlinkPower), m.w)),
	}
}

// planView is the whole effective channel plan: channels, data rates and
// the receive windows.
func (m *loraScreen) planView() []string {
	st := m.s.Styles
	if m.snap.planErr != nil {
		return []string{st.Title.Render("Channel plan"), st.Text.Error.Render(common.Clip(m.snap.planErr.Error(), m.w))}
	}
	p := m.snap.plan
	lines := []string{st.Title.Render("Channel plan") + st.Text.Dim.Render(fmt.Sprintf("  %s · %s–%s · max EIRP %d dBm", p.Region,
		strings.TrimSuffix(format.MHz(p.MinFrequency), " MHz"), format.MHz(p.MaxFrequency), p.MaxEIRP))}
	lines = append(lines, st.Table.Header.Render("CH  FREQUENCY    DATA RATES  KNOWN BY"))
	for _, c := range p.Channels {
		known := "CFList of the join accept"
		if c.Default {
			known = "every device (default)"
		}
		lines = append(lines, st.Table.Row.Render(common.Clip(fmt.Sprintf("%-3d %-12s DR%d–DR%d     %s", c.Index, format.MHz(c.Frequency), c.MinDR, c.MaxDR, known), m.w)))
	}
	lines = append(lines, "", st.Table.Header.Render("DR  MODULATION       MAX PAYLOAD  SNR FLOOR"))
	for _, d := range p.DataRates {
		mod := d.Name()
		if d.Modulation == band.FSK {
			mod = "FSK " + mod + " bit/s"
		}
		snr := "-"
		if d.Modulation == band.LoRa {
			snr = strconv.FormatFloat(d.RequiredSNR, 'f', 1, 64) + " dB"
		}
		lines = append(lines, st.Table.Row.Render(common.Clip(fmt.Sprintf("%-3d %-16s %4d B       %s", d.Index, mod, d.MaxPayload, snr), m.w)))
	}
	rx2 := fmt.Sprintf("DR%d", p.RX2DataRate)
	if dr, err := p.DataRate(p.RX2DataRate); err == nil {
		rx2 = dr.String()
	}
	lines = append(lines, "",
		common.KV(st, 10, "RX1", fmt.Sprintf("%s after an uplink (%s after a join request), on its channel,", p.ReceiveDelay1, p.JoinAcceptDelay1)),
		common.KV(st, 10, "", fmt.Sprintf("at its data rate less RX1DROffset (0..%d)", p.MaxRX1DROffset)),
		common.KV(st, 10, "RX2", fmt.Sprintf("%s after an uplink (%s after a join request),", p.ReceiveDelay2, p.JoinAcceptDelay2)),
		common.KV(st, 10, "", fmt.Sprintf("on %s at %s", format.MHz(p.RX2Frequency), rx2)),
		common.KV(st, 10, "downlink", fmt.Sprintf("%d dBm", p.DownlinkPower)),
	)
	for i, l := range lines {
		lines[i] = lipgloss.NewStyle().MaxWidth(m.w).Render(l)
	}
	return lines
}
