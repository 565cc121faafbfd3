package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/wan"
	"github.com/sitegate/sitegate/tui/access"
)

// ProbationWindow is how long a change that could cut off the installer's
// own session waits for a confirmation before it rolls back by itself.
const ProbationWindow = 2 * time.Minute

// probation is a change on probation. It belongs to the server, not to a
// session: the session that made the change may be the one it cut off.
type probation struct {
	mu   sync.Mutex
	cur  *wan.Probation
	desc string
	by   string
}

// startProbation puts the change that replaced previous on probation:
// unless confirmed within ProbationWindow, previous is applied again.
func (s *Server) startProbation(p access.Principal, previous *device.Site, desc string) {
	s.prob.mu.Lock()
	defer s.prob.mu.Unlock()
	if s.prob.cur != nil {
		s.prob.cur.Confirm() // a newer change supersedes the older probation
	}
	after, _ := s.gw.Site()
	rollback := func() error {
		// Only what the probationary change changed goes back; what others
		// changed meanwhile stays (or the rollback is refused, saying why).
		_, err := s.gw.RevertChange(device.SystemActor, device.ActionConfigRollback, previous, after)
		if err != nil {
			s.log.Error("probation rollback failed", "err", err)
		} else {
			s.log.Warn("network change rolled back: not confirmed in time", "change", desc)
		}
		return err
	}
	s.prob.cur = wan.StartProbation(nil, ProbationWindow, rollback)
	s.prob.desc, s.prob.by = desc, p.Account.Name
	_ = s.gw.AuditDetail(p.Actor(), "config.probation", "site", device.ResultOK, desc)
}

// probationState returns the running probation, if any.
func (s *Server) probationState() (*wan.Probation, string, string) {
	s.prob.mu.Lock()
	defer s.prob.mu.Unlock()
	if s.prob.cur == nil {
		return nil, "", ""
	}
	select {
	case <-s.prob.cur.Done():
		return nil, "", ""
	default:
	}
	return s.prob.cur, s.prob.desc, s.prob.by
}

type netMode int

const (
	netView netMode = iota
	netForm
	netScan
	netConfirm
)

// networkScreen shows the WAN links, Wi-Fi, cellular and LoRa, and lets
// installers change them; changes that could cut off their own session
// run on probation.
type networkScreen struct {
	c        *shared
	srv      *Server
	w, h     int
	mode     netMode
	form     form
	formKind string
	cursor   int // in the priority list
	scan     []device.WiFiNetwork
	confirm  string
	action   func() tea.Cmd
	keys     struct{ Up, Down, MoveUp, MoveDown, Probe, WiFi, Cell, LoRa, Disable, Yes, No key.Binding }
}

func newNetworkScreen(c *shared, srv *Server) *networkScreen {
	n := &networkScreen{c: c, srv: srv}
	b := func(k, h string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, h)) }
	n.keys.Up, n.keys.Down = b("up", "select"), b("down", "select")
	n.keys.MoveUp, n.keys.MoveDown = b("U", "raise priority"), b("D", "lower priority")
	n.keys.Probe, n.keys.WiFi, n.keys.Cell, n.keys.LoRa = b("p", "probes"), b("w", "Wi-Fi"), b("c", "cellular"), b("l", "LoRa")
	n.keys.Disable = b("X", "disable a radio for good")
	n.keys.Yes, n.keys.No = b("y", "confirm change"), b("n", "roll back now")
	return n
}

func (n *networkScreen) Title() string    { return "Network" }
func (n *networkScreen) SetSize(w, h int) { n.w, n.h = w, h }
func (n *networkScreen) Capturing() bool  { return n.mode != netView }
func (n *networkScreen) Restyle()         { n.form.SetStyles(n.c.st) }
func (n *networkScreen) editable() bool   { return n.c.can(access.PermConfigEdit) }

func (n *networkScreen) Keys() []key.Binding {
	if n.mode != netView {
		return nil
	}
	var ks []key.Binding
	if p, _, _ := n.srv.probationState(); p != nil && n.editable() {
		ks = append(ks, n.keys.Yes, n.keys.No)
	}
	if n.editable() {
		ks = append(ks, n.keys.MoveUp, n.keys.MoveDown, n.keys.Probe, n.keys.WiFi, n.keys.Cell, n.keys.LoRa, n.keys.Disable)
	}
	return ks
}

// apply stores next; a change that could cut off this session goes on
// probation.
func (n *networkScreen) apply(next *device.Site, what string) error {
	current, _ := n.c.gw.Site()
	var risky []string
	if nw := n.c.gw.Network(); nw != nil {
		risky = nw.RiskyChanges(current, next)
	}
	if _, err := n.c.applySite(n.c.p, next); err != nil {
		return err
	}
	if len(risky) > 0 {
		n.srv.startProbation(n.c.p, current, what+": "+strings.Join(risky, ", "))
	}
	return nil
}

func (n *networkScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	_, isPaste := msg.(tea.PasteMsg)
	switch n.mode {
	case netConfirm:
		if isKey {
			n.mode = netView
			if k.String() == "y" {
				return n, n.action()
			}
		}
		return n, nil
	case netScan:
		if !isKey {
			return n, nil
		}
		switch k.String() {
		case "esc":
			n.mode = netView
		case "up":
			n.cursor = max(n.cursor-1, 0)
		case "down":
			n.cursor = min(n.cursor+1, max(len(n.scan)-1, 0))
		case "enter":
			if n.cursor < len(n.scan) {
				n.openWiFiForm(n.scan[n.cursor].SSID, n.scan[n.cursor].Security)
			}
		}
		return n, nil
	case netForm:
		if isKey && k.String() == "esc" {
			n.mode = netView
			return n, nil
		}
		if !isKey && !isPaste {
			return n, nil
		}
		f, cmd, submitted := n.form.Update(msg)
		n.form = f
		if submitted {
			return n, tea.Batch(cmd, n.submit())
		}
		return n, cmd
	}
	if !isKey {
		return n, nil
	}
	site, _ := n.c.gw.Site()
	if p, desc, _ := n.srv.probationState(); p != nil && n.editable() {
		switch k.String() {
		case "y":
			p.Confirm()
			_ = n.c.gw.AuditDetail(n.c.p.Actor(), "config.confirm", "site", device.ResultOK, desc)
			return n, flash("Change confirmed.")
		case "n":
			if err := p.Cancel(); err != nil {
				return n, flashErr(err)
			}
			return n, flash("Change rolled back.")
		}
	}
	switch {
	case key.Matches(k, n.keys.Up):
		n.cursor = max(n.cursor-1, 0)
	case key.Matches(k, n.keys.Down):
		n.cursor = min(n.cursor+1, len(site.WAN.Priority)-1)
	case !n.editable():
	case key.Matches(k, n.keys.MoveUp), key.Matches(k, n.keys.MoveDown):
		i, j := n.cursor, n.cursor-1
		if key.Matches(k, n.keys.MoveDown) {
			j = n.cursor + 1
		}
		if j < 0 || j >= len(site.WAN.Priority) {
			return n, nil
		}
		next := site.Clone()
		next.WAN.Priority[i], next.WAN.Priority[j] = next.WAN.Priority[j], next.WAN.Priority[i]
		if err := n.apply(next, "WAN priority "+joinLinks(next.WAN.Priority)); err != nil {
			return n, flashErr(err)
		}
		n.cursor = j
		return n, flash("Priority is now " + joinLinks(next.WAN.Priority) + ".")
	case key.Matches(k, n.keys.Probe):
		p := site.WAN.Probe
		n.form = newForm(n.c.st, "Save probes",
			fieldSpec{Label: "Targets (host:port, …)", Value: strings.Join(p.Targets, ", "), Limit: 200},
			fieldSpec{Label: "Interval", Value: p.Interval.String(), Limit: 10},
			fieldSpec{Label: "Down after (failures)", Value: strconv.Itoa(p.DownAfter), Limit: 3},
			fieldSpec{Label: "Up after (successes)", Value: strconv.Itoa(p.UpAfter), Limit: 3})
		n.formKind, n.mode = "probe", netForm
	case key.Matches(k, n.keys.WiFi):
		nw := n.c.gw.Network()
		if nw == nil {
			n.openWiFiForm(site.WiFi.SSID, site.WiFi.Security.String())
			return n, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.scan, _ = nw.ScanWiFi(ctx)
		n.cursor, n.mode = 0, netScan
	case key.Matches(k, n.keys.Cell):
		n.openCellForm(site)
	case key.Matches(k, n.keys.LoRa):
		l := site.LoRa
		n.form = newForm(n.c.st, "Save LoRa",
			fieldSpec{Label: "Enabled", Value: yesNo(l.Enabled), Options: []string{"no", "yes"}},
			fieldSpec{Label: "Region", Value: l.Region.String(), Options: loraRegions()},
			fieldSpec{Label: "Gateway EUI", Value: l.GatewayEUI, Placeholder: "16 hex digits", Limit: 16},
			fieldSpec{Label: "Network server", Value: l.NetworkServer, Placeholder: "host:port", Limit: 100})
		n.formKind, n.mode = "lora", netForm
	case key.Matches(k, n.keys.Disable):
		n.form = newForm(n.c.st, "Disable for good", fieldSpec{Label: "Radio", Value: "wifi", Options: []string{"wifi", "lora"}})
		n.formKind, n.mode = "disable", netForm
	}
	return n, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func loraRegions() []string {
	var out []string
	for _, r := range []device.LoRaRegion{device.RegionEU868, device.RegionUS915, device.RegionAU915, device.RegionAS923, device.RegionKR920, device.RegionIN865, device.RegionRU864, device.RegionCN470, device.RegionEU433, device.RegionCN779} {
		out = append(out, r.String())
	}
	return out
}

func (n *networkScreen) openWiFiForm(ssid, security string) {
	site, _ := n.c.gw.Site()
	if security == "" || security == "open" {
		security = "wpa2-psk"
	}
	pass := ""
	if site.WiFi.Passphrase.IsSet() && ssid == site.WiFi.SSID {
		pass = device.SecretPlaceholder
	}
	n.form = newForm(n.c.st, "Save Wi-Fi",
		fieldSpec{Label: "Enabled", Value: yesNo(site.WiFi.Enabled), Options: []string{"no", "yes"}},
		fieldSpec{Label: "SSID", Value: ssid, Limit: 32},
		fieldSpec{Label: "Security", Value: security, Options: []string{"wpa2-psk", "wpa3-sae"}},
		fieldSpec{Label: "Passphrase", Value: pass, Secret: true, Placeholder: "8-63 characters", Limit: 64})
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
	n.form = newForm(n.c.st, "Save cellular",
		fieldSpec{Label: "Enabled", Value: yesNo(c.Enabled), Options: []string{"no", "yes"}},
		fieldSpec{Label: "Switch SIM after", Value: c.FailoverAfter.String(), Limit: 10},
		fieldSpec{Label: "Rotate", Value: c.Rotate.String(), Options: []string{"off", "weekly"}},
		fieldSpec{Label: "SIM 1 APN", Value: s1.APN, Limit: 63},
		fieldSpec{Label: "SIM 1 PIN", Value: pin(s1), Secret: true, Limit: 8},
		fieldSpec{Label: "SIM 1 limit (MB)", Value: strconv.Itoa(s1.MonthlyLimitMB), Limit: 7},
		fieldSpec{Label: "SIM 2 APN", Value: s2.APN, Placeholder: "empty: no second SIM", Limit: 63},
		fieldSpec{Label: "SIM 2 PIN", Value: pin(s2), Secret: true, Limit: 8},
		fieldSpec{Label: "SIM 2 limit (MB)", Value: strconv.Itoa(s2.MonthlyLimitMB), Limit: 7})
	n.formKind, n.mode = "cellular", netForm
}

// submit applies a form; problems stay under it.
func (n *networkScreen) submit() tea.Cmd {
	site, _ := n.c.gw.Site()
	next := site.Clone()
	var probs formProblems
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
		next.WAN.Probe.Interval = probs.duration("Interval", f.Value(1))
		next.WAN.Probe.DownAfter = probs.int("Down after", f.Value(2))
		next.WAN.Probe.UpAfter = probs.int("Up after", f.Value(3))
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
		next.Cellular.FailoverAfter = probs.duration("Switch SIM after", f.Value(1))
		next.Cellular.Rotate = rot
		next.Cellular.SIMs = nil
		for i, slot := range []int{1, 2} {
			apn := strings.TrimSpace(f.Value(3 + 3*i))
			if apn == "" && slot == 2 {
				continue
			}
			next.Cellular.SIMs = append(next.Cellular.SIMs, device.SIM{Slot: slot, APN: apn, PIN: device.Secret(f.Value(4 + 3*i)),
				MonthlyLimitMB: probs.int(fmt.Sprintf("SIM %d limit", slot), f.Value(5+3*i))})
		}
	case "lora":
		region, _ := device.ParseLoRaRegion(f.Value(1))
		next.LoRa.Enabled = f.Value(0) == "yes"
		next.LoRa.Region = region
		next.LoRa.GatewayEUI = strings.TrimSpace(f.Value(2))
		next.LoRa.NetworkServer = strings.TrimSpace(f.Value(3))
	case "disable":
		radio := f.Value(0)
		n.mode = netConfirm
		n.confirm = "Disable " + radio + " permanently? Re-enabling it will need physical access to the gateway (sitegate radio enable)."
		n.action = func() tea.Cmd {
			s, _ := n.c.gw.Site()
			nx := s.Clone()
			if radio == "wifi" {
				nx.WiFi.PermanentlyDisabled, nx.WiFi.Enabled = true, false
			} else {
				nx.LoRa.PermanentlyDisabled, nx.LoRa.Enabled = true, false
			}
			if _, err := n.c.applySite(n.c.p, nx); err != nil {
				return flashErr(err)
			}
			return flash(radio + " is disabled for good.")
		}
		return nil
	}
	if len(probs) > 0 {
		n.form.SetError(strings.Join(probs, "\n"))
		return nil
	}
	if err := n.apply(next, what); err != nil {
		n.form.SetError(problemLines(err))
		return nil
	}
	n.mode = netView
	if p, _, _ := n.srv.probationState(); p != nil {
		return flash("Applied on probation: confirm with y within 2 minutes, or it rolls back.")
	}
	return flash("Saved.")
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
	st := n.c.st
	site, _ := n.c.gw.Site()
	switch n.mode {
	case netForm:
		return st.Title.Render(map[string]string{"probe": "Probes", "wifi": "Wi-Fi", "cellular": "Cellular", "lora": "LoRa", "disable": "Disable a radio for good"}[n.formKind]) + "\n\n" + n.form.View()
	case netScan:
		lines := []string{st.Title.Render("Wi-Fi networks in range"), st.Text.Dim.Render("enter picks one, esc goes back"), ""}
		for i, w := range n.scan {
			row := fmt.Sprintf("  %-32s %4d dBm  %s", clip(w.SSID, 32), w.Signal, w.Security)
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
	case netConfirm:
		return st.Text.Warn.Render(n.confirm) + st.Text.Normal.Render("  y yes · any other key no")
	}
	h := n.c.gw.Health()
	state := map[string]device.LinkHealth{}
	for _, l := range h.WAN.Links {
		state[l.Name] = l
	}
	lines := []string{st.Title.Render("Uplinks") + st.Text.Dim.Render("  in priority order; active: "+h.WAN.Active)}
	for i, k := range site.WAN.Priority {
		l := state[k.String()]
		marker := "  "
		if h.WAN.Active == k.String() {
			marker = "▶ "
		}
		detail := l.Detail
		if l.Signal != nil {
			detail = fmt.Sprintf("%d dBm %s", *l.Signal, detail)
		}
		row := fmt.Sprintf("%s%d %-9s %-9s %s", marker, i+1, k, dash(l.State), detail)
		style := st.Text.Normal
		switch {
		case i == n.cursor:
			style = st.Table.Selected
		case l.State == "up":
			style = st.Text.OK
		case l.State == "down":
			style = st.Text.Error
		}
		lines = append(lines, style.Render(clip(row, n.w)))
	}
	p := site.WAN.Probe
	lines = append(lines, st.Text.Dim.Render(fmt.Sprintf("probes: %s every %s, down after %d, up after %d", strings.Join(p.Targets, ", "), p.Interval, p.DownAfter, p.UpAfter)))
	if pr, desc, by := n.srv.probationState(); pr != nil {
		lines = append(lines, "", st.Text.Warn.Render(fmt.Sprintf("On probation (%s, by %s): confirm with y within %s or it rolls back; n rolls back now.", desc, by, pr.Remaining().Round(time.Second))))
	}
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
	lines = append(lines, "", st.Title.Render("Wi-Fi")+"  "+st.Text.Normal.Render(wifi))
	cell := "disabled"
	if site.Cellular.Enabled {
		cell = fmt.Sprintf("switch SIM after %s, rotate %s", site.Cellular.FailoverAfter, site.Cellular.Rotate)
	}
	lines = append(lines, st.Title.Render("Cellular")+"  "+st.Text.Normal.Render(cell))
	if nw := n.c.gw.Network(); nw != nil && site.Cellular.Enabled {
		for _, s := range nw.SIMs() {
			active := " "
			if s.Active {
				active = "▶"
			}
			lines = append(lines, st.Text.Normal.Render(fmt.Sprintf("  %s SIM %d %-14s %s", active, s.Slot, clip(s.APN, 14), usageBar(s.UsedMB, s.LimitMB, 20))))
		}
	}
	lora := "disabled"
	switch {
	case site.LoRa.PermanentlyDisabled:
		lora = "disabled for good (physical access needed to re-enable)"
	case site.LoRa.Enabled:
		lora = fmt.Sprintf("%s, EUI %s, %s", site.LoRa.Region, site.LoRa.GatewayEUI, site.LoRa.NetworkServer)
	}
	if nw := n.c.gw.Network(); nw != nil {
		lora += " — " + nw.LoRa()
	}
	lines = append(lines, st.Title.Render("LoRa")+"  "+st.Text.Normal.Render(clip(lora, n.w-8)))
	return strings.Join(lines, "\n")
}
