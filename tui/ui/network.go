package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// Bounds of the network screen.
const (
	// wifiScanTimeout bounds a Wi-Fi scan.
	wifiScanTimeout = 10 * time.Second
	// outcomeShown is how long the screen says how the last probation
	// ended.
	outcomeShown = 10 * time.Minute
)

// NetworkSource is what the network screen reads and asks: the site, the
// links' health, the network subsystems, and the change on probation (the
// gateway keeps it, so it survives the session that made it).
type NetworkSource interface {
	Site() (*device.Site, uint64)
	Health() device.Health
	Network() device.Network
	StartProbation(actor device.Actor, before, after *device.Site, what string) error
	ConfirmProbation(actor device.Actor) error
	RollbackProbation(actor device.Actor) error
	Probation() device.ProbationState
}

type netMode int

const (
	netView netMode = iota
	netForm
	netScan
	netConfirm
)

// wifiScanMsg is a finished Wi-Fi scan.
type wifiScanMsg struct {
	found []device.WiFiNetwork
	err   error
}

// networkScreen shows the WAN links, Wi-Fi, cellular and LoRa, and lets
// installers change them; changes that could cut off their own session
// run on probation.
type networkScreen struct {
	s        *common.Session
	src      NetworkSource
	w, h     int
	mode     netMode
	form     common.Form
	formKind string
	cursor   int // in the priority list
	scan     []device.WiFiNetwork
	confirm  string
	action   func() tea.Cmd
	busy     common.Busy
	// The site the screen shows; every change is based on its revision.
	base common.Base
	// seen is when the last probation this session told of ended.
	seen time.Time
}

func newNetworkScreen(s *common.Session, src NetworkSource) *networkScreen {
	n := &networkScreen{s: s, src: src, seen: src.Probation().Last.Ended}
	n.reload()
	return n
}

// outcomeFlash tells, whichever tab is shown, that a probation ended
// with a rollback, and why (once per probation).
func (n *networkScreen) outcomeFlash() tea.Cmd {
	last := n.src.Probation().Last
	if last.Ended.IsZero() || !last.Ended.After(n.seen) {
		return nil
	}
	n.seen = last.Ended
	if text, bad := outcomeText(last); bad {
		return common.FlashErr(errors.New(text))
	}
	return nil
}

// outcomeText says how a probation ended, with the reason; bad is true
// for a rollback or a failed one.
func outcomeText(last device.ProbationOutcome) (text string, bad bool) {
	switch {
	case last.Err != nil:
		return fmt.Sprintf("The rollback of %s failed, so the change stays: %v", last.What, last.Err), true
	case last.RolledBack && last.Expired:
		return fmt.Sprintf("Rolled back: %s was not confirmed within the probation time.", last.What), true
	case last.RolledBack:
		return fmt.Sprintf("Rolled back by hand (n): %s.", last.What), true
	case last.Confirmed:
		return fmt.Sprintf("Confirmed: %s.", last.What), false
	}
	return "", false
}

func (n *networkScreen) reload() { n.base.Load(n.src) }

func (n *networkScreen) Title() string    { return "Network" }
func (n *networkScreen) SetSize(w, h int) { n.w, n.h = w, h }
func (n *networkScreen) Capturing() bool  { return n.mode != netView }
func (n *networkScreen) Restyle()         { n.form.SetStyles(n.s.Styles) }
func (n *networkScreen) editable() bool   { return n.s.Can(access.PermConfigEdit) }

func (n *networkScreen) Keys() []key.Binding {
	k := n.s.Keys
	switch n.mode {
	case netForm:
		return k.FormKeys()
	case netScan:
		return []key.Binding{k.Up, k.Down, k.Pick, k.Back}
	case netConfirm:
		return []key.Binding{k.Yes, k.No}
	}
	var ks []key.Binding
	if n.base.Stale != nil {
		ks = append(ks, k.Reload)
	}
	if n.src.Probation().Active && n.editable() {
		ks = append(ks, k.Confirm, k.Rollback)
	}
	if n.editable() {
		ks = append(ks, k.MoveUp, k.MoveDown, k.Probes, k.WiFi, k.Cellular, k.LoRa, k.DisableRadio)
	}
	return ks
}

// apply stores next, based on the revision the screen shows; a change
// that could cut off this session goes on probation.
func (n *networkScreen) apply(next *device.Site, what string) error {
	var risky []string
	if nw := n.src.Network(); nw != nil {
		risky = nw.RiskyChanges(n.base.Site, next)
	}
	before := n.base.Site
	if _, err := n.base.Apply(n.s, device.ActionConfigChange, next); err != nil {
		return err
	}
	n.reload()
	if len(risky) > 0 {
		return n.src.StartProbation(n.s.Actor(), before, n.base.Site, what+": "+strings.Join(risky, ", "))
	}
	return nil
}

func (n *networkScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	keys := n.s.Keys
	switch msg := msg.(type) {
	case common.TickMsg:
		return n, n.outcomeFlash()
	case common.EventMsg:
		if msg.Event.Kind == device.EventSite && n.mode == netView && n.base.Stale == nil {
			n.reload()
		}
		return n, n.outcomeFlash()
	case wifiScanMsg:
		n.busy.Stop()
		if msg.err != nil {
			return n, common.FlashErr(msg.err)
		}
		n.scan, n.cursor, n.mode = msg.found, 0, netScan
		return n, nil
	case tea.KeyPressMsg, tea.PasteMsg:
	default:
		return n, n.busy.Update(msg)
	}
	k, isKey := msg.(tea.KeyPressMsg)
	switch n.mode {
	case netConfirm:
		if isKey {
			n.mode = netView
			if key.Matches(k, keys.Yes) {
				return n, n.action()
			}
		}
		return n, nil
	case netScan:
		if isKey {
			n.scanKey(k)
		}
		return n, nil
	case netForm:
		return n, n.form.Handle(msg, func() { n.mode = netView }, n.submit)
	}
	if !isKey || n.busy.Active() {
		return n, nil
	}
	return n, n.viewKey(k)
}

func (n *networkScreen) scanKey(k tea.KeyPressMsg) {
	keys := n.s.Keys
	switch {
	case key.Matches(k, keys.Back):
		n.mode = netView
	case key.Matches(k, keys.Up):
		n.cursor = max(n.cursor-1, 0)
	case key.Matches(k, keys.Down):
		n.cursor = min(n.cursor+1, max(len(n.scan)-1, 0))
	case k.String() == "enter":
		if n.cursor < len(n.scan) {
			n.openWiFiForm(n.scan[n.cursor].SSID, n.scan[n.cursor].Security)
		}
	}
}

// viewKey handles the keys of the overview.
func (n *networkScreen) viewKey(k tea.KeyPressMsg) tea.Cmd {
	keys := n.s.Keys
	site := n.base.Site
	if p := n.src.Probation(); p.Active && n.editable() {
		switch {
		case key.Matches(k, keys.Confirm):
			if err := n.src.ConfirmProbation(n.s.Actor()); err != nil {
				return common.FlashErr(err)
			}
			return common.Flash("Change confirmed.")
		case key.Matches(k, keys.Rollback):
			err := n.src.RollbackProbation(n.s.Actor())
			n.reload()
			if err != nil {
				return common.FlashErr(fmt.Errorf("the rollback failed: %w", err))
			}
			return common.Flash("Change rolled back.")
		}
	}
	switch {
	case n.base.Stale != nil && key.Matches(k, keys.Reload):
		n.reload()
	case key.Matches(k, keys.Up):
		n.cursor = max(n.cursor-1, 0)
	case key.Matches(k, keys.Down):
		n.cursor = min(n.cursor+1, len(site.WAN.Priority)-1)
	case !n.editable():
		if key.Matches(k, keys.MoveUp, keys.MoveDown, keys.Probes, keys.WiFi, keys.Cellular, keys.LoRa, keys.DisableRadio) {
			return common.ReadOnly(n.s, access.PermConfigEdit)
		}
	case key.Matches(k, keys.MoveUp), key.Matches(k, keys.MoveDown):
		return n.movePriority(key.Matches(k, keys.MoveDown))
	case key.Matches(k, keys.Probes):
		p := site.WAN.Probe
		n.form = common.NewForm(n.s.Styles, "Save probes",
			common.FieldSpec{Label: "Targets (host:port, …)", Value: strings.Join(p.Targets, ", "), Limit: 200},
			common.FieldSpec{Label: "Interval", Value: p.Interval.String(), Limit: 10},
			common.FieldSpec{Label: "Down after (failures)", Value: strconv.Itoa(p.DownAfter), Limit: 3},
			common.FieldSpec{Label: "Up after (successes)", Value: strconv.Itoa(p.UpAfter), Limit: 3})
		n.formKind, n.mode = "probe", netForm
	case key.Matches(k, keys.WiFi):
		return n.scanWiFi()
	case key.Matches(k, keys.Cellular):
		n.openCellForm(site)
	case key.Matches(k, keys.LoRa):
		l := site.LoRa
		n.form = common.NewForm(n.s.Styles, "Save LoRa",
			common.FieldSpec{Label: "Enabled", Value: format.YesNo(l.Enabled), Options: []string{"no", "yes"}},
			common.FieldSpec{Label: "Region", Value: l.Region.String(), Options: loraRegions()},
			common.FieldSpec{Label: "Gateway EUI", Value: l.GatewayEUI, Placeholder: "16 hex digits", Limit: 16},
			common.FieldSpec{Label: "Network server", Value: l.NetworkServer, Placeholder: "host:port", Limit: 100})
		n.formKind, n.mode = "lora", netForm
	case key.Matches(k, keys.DisableRadio):
		n.form = common.NewForm(n.s.Styles, "Disable for good", common.FieldSpec{Label: "Radio", Value: "wifi", Options: []string{"wifi", "lora"}})
		n.formKind, n.mode = "disable", netForm
	}
	return nil
}

// movePriority swaps the selected link with its neighbour.
func (n *networkScreen) movePriority(down bool) tea.Cmd {
	i, j := n.cursor, n.cursor-1
	if down {
		j = n.cursor + 1
	}
	if j < 0 || j >= len(n.base.Site.WAN.Priority) {
		return nil
	}
	next := n.base.Site.Clone()
	next.WAN.Priority[i], next.WAN.Priority[j] = next.WAN.Priority[j], next.WAN.Priority[i]
	if err := n.apply(next, "WAN priority "+joinLinks(next.WAN.Priority)); err != nil {
		return common.FlashErr(err)
	}
	n.cursor = j
	return common.Flash("Priority is now " + joinLinks(next.WAN.Priority) + ".")
}

// scanWiFi lists the networks in range in the background (a scan takes
// seconds); without a network subsystem the form opens at once.
func (n *networkScreen) scanWiFi() tea.Cmd {
	nw := n.src.Network()
	if nw == nil {
		n.openWiFiForm(n.base.Site.WiFi.SSID, n.base.Site.WiFi.Security.String())
		return nil
	}
	ctx := n.s.Ctx
	scan := func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, wifiScanTimeout)
		defer cancel()
		found, err := nw.ScanWiFi(ctx)
		return wifiScanMsg{found: found, err: err}
	}
	return tea.Batch(n.busy.Start(n.s.Styles, "scanning for Wi-Fi networks…"), scan)
}

func loraRegions() []string {
	return enumNames(device.RegionEU868, device.RegionUS915, device.RegionAU915, device.RegionAS923, device.RegionKR920,
		device.RegionIN865, device.RegionRU864, device.RegionCN470, device.RegionEU433, device.RegionCN779)
}

func (n *networkScreen) openWiFiForm(ssid, security string) {
	if security == "" || security == "open" {
		security = "wpa2-psk"
	}
	pass := ""
	if n.base.Site.WiFi.Passphrase.IsSet() && ssid == n.base.Site.WiFi.SSID {
		pass = device.SecretPlaceholder
	}
	n.form = common.NewForm(n.s.Styles, "Save Wi-Fi",
		common.FieldSpec{Label: "Enabled", Value: format.YesNo(n.base.Site.WiFi.Enabled), Options: []string{"no", "yes"}},
		common.FieldSpec{Label: "SSID", Value: ssid, Limit: 32},
		common.FieldSpec{Label: "Security", Value: security, Options: []string{"wpa2-psk", "wpa3-sae"}},
		common.FieldSpec{Label: "Passphrase", Value: pass, Secret: true, Placeholder: "8-63 characters", Limit: 64})
	n.formKind, n.mode = "wifi", netForm
}

func (n *networkScreen) openCellForm(site *device.Site) {
	c := site.Cellular
	sim := func(slot int) device.SIM {
		for _, s := range c.SIMs {
			if s.Slot == slot {
				return s
			}
		}
		return device.SIM{Slot: slot}
	}
	s1, s2 := sim(1), sim(2)
	pin := func(s device.SIM) string {
		if s.PIN.IsSet() {
			return device.SecretPlaceholder
		}
		return ""
	}
	n.form = common.NewForm(n.s.Styles, "Save cellular",
		common.FieldSpec{Label: "Enabled", Value: format.YesNo(c.Enabled), Options: []string{"no", "yes"}},
		common.FieldSpec{Label: "Switch SIM after", Value: c.FailoverAfter.String(), Limit: 10},
		common.FieldSpec{Label: "Rotate", Value: c.Rotate.String(), Options: []string{"off", "weekly"}},
		common.FieldSpec{Label: "SIM 1 APN", Value: s1.APN, Limit: 63},
		common.FieldSpec{Label: "SIM 1 PIN", Value: pin(s1), Secret: true, Limit: 8},
		common.FieldSpec{Label: "SIM 1 limit (MB)", Value: strconv.Itoa(s1.MonthlyLimitMB), Limit: 7},
		common.FieldSpec{Label: "SIM 2 APN", Value: s2.APN, Placeholder: "empty: no second SIM", Limit: 63},
		common.FieldSpec{Label: "SIM 2 PIN", Value: pin(s2), Secret: true, Limit: 8},
		common.FieldSpec{Label: "SIM 2 limit (MB)", Value: strconv.Itoa(s2.MonthlyLimitMB), Limit: 7})
	n.formKind, n.mode = "cellular", netForm
}

// submit applies a form; problems stay under it.
func (n *networkScreen) submit() tea.Cmd {
	next := n.base.Site.Clone()
	var probs common.Problems
	f := n.form
	what := n.formKind
	switch n.formKind {
	case "probe":
		var targets []string
		for _, t := range strings.Split(f.Value(0), ",") {
			if t = strings.TrimSpace(t); t != "" {
				targets = append(targets, t)
			}
		}
		next.WAN.Probe.Targets = targets
		next.WAN.Probe.Interval = probs.Duration("Interval", f.Value(1))
		next.WAN.Probe.DownAfter = probs.Int("Down after", f.Value(2))
		next.WAN.Probe.UpAfter = probs.Int("Up after", f.Value(3))
		what = "probe settings"
	case "wifi":
		sec, _ := device.ParseWiFiSecurity(f.Value(2))
		next.WiFi.Enabled = f.Value(0) == "yes"
		next.WiFi.SSID = f.Value(1)
		next.WiFi.Security = sec
		next.WiFi.Passphrase = device.Secret(f.Value(3))
		what = "Wi-Fi " + f.Value(1)
	case "cellular":
		rot, _ := device.ParseRotate(f.Value(2))
		next.Cellular.Enabled = f.Value(0) == "yes"
		next.Cellular.FailoverAfter = probs.Duration("Switch SIM after", f.Value(1))
		next.Cellular.Rotate = rot
		next.Cellular.SIMs = nil
		for i, slot := range []int{1, 2} {
			apn := strings.TrimSpace(f.Value(3 + 3*i))
			if apn == "" && slot == 2 {
				continue
			}
			next.Cellular.SIMs = append(next.Cellular.SIMs, device.SIM{Slot: slot, APN: apn, PIN: device.Secret(f.Value(4 + 3*i)),
				MonthlyLimitMB: probs.Int(fmt.Sprintf("SIM %d limit", slot), f.Value(5+3*i))})
		}
	case "lora":
		region, _ := device.ParseLoRaRegion(f.Value(1))
		next.LoRa.Enabled = f.Value(0) == "yes"
		next.LoRa.Region = region
		next.LoRa.GatewayEUI = strings.TrimSpace(f.Value(2))
		next.LoRa.NetworkServer = strings.TrimSpace(f.Value(3))
	case "disable":
		n.askDisable(f.Value(0))
		return nil
	}
	if len(probs) > 0 {
		n.form.SetError(probs.Text())
		return nil
	}
	if err := n.apply(next, what); err != nil {
		if n.base.Stale != nil {
			n.form.SetError(n.base.StaleText(n.s))
			return nil
		}
		n.form.SetError(common.ProblemLines(err))
		return nil
	}
	n.mode = netView
	if n.src.Probation().Active {
		return common.Flash("Applied on probation: confirm with y within 2 minutes, or it rolls back.")
	}
	return common.Flash("Saved.")
}

// askDisable asks before disabling a radio for good.
func (n *networkScreen) askDisable(radio string) {
	n.mode = netConfirm
	n.confirm = "Disable " + radio + " permanently? Re-enabling it will need physical access to the gateway (sitegate radio enable)."
	n.action = func() tea.Cmd {
		next := n.base.Site.Clone()
		if radio == "wifi" {
			next.WiFi.PermanentlyDisabled, next.WiFi.Enabled = true, false
		} else {
			next.LoRa.PermanentlyDisabled, next.LoRa.Enabled = true, false
		}
		if _, err := n.base.Apply(n.s, device.ActionConfigChange, next); err != nil {
			return common.FlashErr(err)
		}
		n.reload()
		return common.Flash(radio + " is disabled for good.")
	}
}

// usageBar draws used/limit as a bar.
func usageBar(used float64, limit, width int) string {
	if limit <= 0 {
		return fmt.Sprintf("%.0f MB (no limit)", used)
	}
	filled := min(int(used/float64(limit)*float64(width)), width)
	return strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + fmt.Sprintf(" %.0f/%d MB", used, limit)
}

func (n *networkScreen) View() string {
	st := n.s.Styles
	switch n.mode {
	case netForm:
		return st.Title.Render(map[string]string{"probe": "Probes", "wifi": "Wi-Fi", "cellular": "Cellular", "lora": "LoRa", "disable": "Disable a radio for good"}[n.formKind]) + "\n\n" + n.form.View()
	case netScan:
		return n.scanView()
	case netConfirm:
		return st.Text.Warn.Render(n.confirm) + st.Text.Normal.Render("  y yes · any other key no")
	}
	lines := append(n.linksView(), n.probationView()...)
	if n.busy.Active() {
		lines = append(lines, "", n.busy.View(st))
	}
	if n.base.Stale != nil {
		lines = append(lines, "", st.Text.Error.Render(n.base.StaleText(n.s)))
	}
	return strings.Join(append(lines, n.radiosView()...), "\n")
}

func (n *networkScreen) scanView() string {
	st := n.s.Styles
	lines := []string{st.Title.Render("Wi-Fi networks in range"), st.Text.Dim.Render("enter picks one, esc goes back"), ""}
	for i, w := range n.scan {
		row := fmt.Sprintf("  %-32s %4d dBm  %s", common.Clip(w.SSID, 32), w.Signal, w.Security)
		if i == n.cursor {
			lines = append(lines, st.Table.Selected.Render(row))
		} else {
			lines = append(lines, st.Text.Normal.Render(row))
		}
	}
	if len(n.scan) == 0 {
		lines = append(lines, st.Text.Dim.Render("no networks found"))
	}
	return strings.Join(lines, "\n")
}

// linksView is the uplinks in priority order and the probes.
func (n *networkScreen) linksView() []string {
	st := n.s.Styles
	h := n.src.Health()
	state := map[string]device.LinkHealth{}
	for _, l := range h.WAN.Links {
		state[l.Name] = l
	}
	lines := []string{st.Title.Render("Uplinks") + st.Text.Dim.Render("  in priority order; active: "+h.WAN.Active)}
	for i, k := range n.base.Site.WAN.Priority {
		l := state[k.String()]
		marker := "  "
		if h.WAN.Active == k.String() {
			marker = "▶ "
		}
		detail := l.Detail
		if l.Signal != nil {
			detail = fmt.Sprintf("%d dBm %s", *l.Signal, detail)
		}
		row := fmt.Sprintf("%s%d %-9s %-9s %s", marker, i+1, k, format.Dash(l.State), detail)
		style := st.Text.Normal
		switch {
		case i == n.cursor:
			style = st.Table.Selected
		case l.State == "up":
			style = st.Text.OK
		case l.State == "down":
			style = st.Text.Error
		}
		lines = append(lines, style.Render(common.Clip(row, n.w)))
	}
	p := n.base.Site.WAN.Probe
	return append(lines, st.Text.Dim.Render(fmt.Sprintf("probes: %s every %s, down after %d, up after %d", strings.Join(p.Targets, ", "), p.Interval, p.DownAfter, p.UpAfter)))
}

// probationView is the change on probation, or how the last one ended
// (a rollback that failed says why: the change is still in force).
func (n *networkScreen) probationView() []string {
	st := n.s.Styles
	p := n.src.Probation()
	last := p.Last
	switch {
	case p.Active:
		return []string{"", st.Text.Warn.Render(fmt.Sprintf("On probation (%s, by %s): confirm with y within %s or it rolls back; n rolls back now.", p.What, n.s.Name(p.By.ID), p.Remaining.Round(time.Second)))}
	case last.Ended.IsZero() || n.s.Now().Sub(last.Ended) > outcomeShown:
		return nil
	}
	text, bad := outcomeText(last)
	at := last.Ended.In(n.base.Site.Clock.Location()).Format("15:04:05")
	switch {
	case text == "":
		return nil
	case last.Err != nil:
		return []string{"", st.Text.Error.Render(at + " " + text)}
	case bad:
		return []string{"", st.Text.Warn.Render(at + " " + text)}
	}
	return []string{"", st.Text.Dim.Render(at + " " + text)}
}

// radiosView is Wi-Fi, cellular and LoRa.
func (n *networkScreen) radiosView() []string {
	st := n.s.Styles
	site := n.base.Site
	wifi := "disabled"
	switch {
	case site.WiFi.PermanentlyDisabled:
		wifi = "disabled for good (physical access needed to re-enable)"
	case site.WiFi.Enabled:
		pass := "no passphrase"
		if site.WiFi.Passphrase.IsSet() {
			pass = "passphrase ••••••••"
		}
		wifi = fmt.Sprintf("%s, %s, %s", site.WiFi.SSID, site.WiFi.Security, pass)
	}
	lines := []string{"", st.Title.Render("Wi-Fi") + "  " + st.Text.Normal.Render(wifi)}
	cell := "disabled"
	if site.Cellular.Enabled {
		cell = fmt.Sprintf("switch SIM after %s, rotate %s", site.Cellular.FailoverAfter, site.Cellular.Rotate)
	}
	lines = append(lines, st.Title.Render("Cellular")+"  "+st.Text.Normal.Render(cell))
	nw := n.src.Network()
	if nw != nil && site.Cellular.Enabled {
		for _, s := range nw.SIMs() {
			active := " "
			if s.Active {
				active = "▶"
			}
			lines = append(lines, st.Text.Normal.Render(fmt.Sprintf("  %s SIM %d %-14s %s", active, s.Slot, common.Clip(s.APN, 14), usageBar(s.UsedMB, s.LimitMB, 20))))
		}
	}
	lora := "disabled"
	switch {
	case site.LoRa.PermanentlyDisabled:
		lora = "disabled for good (physical access needed to re-enable)"
	case site.LoRa.Enabled:
		lora = fmt.Sprintf("%s, EUI %s, %s", site.LoRa.Region, site.LoRa.GatewayEUI, site.LoRa.NetworkServer)
	}
	if nw != nil {
		lora += " — " + nw.LoRa()
	}
	return append(lines, st.Title.Render("LoRa")+"  "+st.Text.Normal.Render(common.Clip(lora, n.w-8)))
}
