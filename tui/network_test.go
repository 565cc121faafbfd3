package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/wan"
	"github.com/sitegate/sitegate/device/wifi"
	"github.com/sitegate/sitegate/tui/access"
)

// netEnv is an SSH test environment with the network subsystems on the
// sim backend, fast probes, and the radio lock-out guard.
func netEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	site, _ := e.gw.Site()
	site.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkCellular, device.LinkWiFi}
	site.WAN.Probe = device.Probe{Targets: []string{"telemetry.example.com:443"}, Interval: device.Duration(time.Second), DownAfter: 1, UpAfter: 1}
	site.Cellular.Enabled = true
	site.Cellular.SIMs = []device.SIM{{Slot: 1, APN: "internet", MonthlyLimitMB: 1024}}
	site.WiFi = device.WiFi{Enabled: false, PermanentlyDisabled: true, Interface: "wlan0", SSID: "SiteNet", Security: device.SecurityWPA2PSK}
	if _, err := e.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: e.gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	e.gw.AddSiteGuard(wifi.CheckRadioChange)
	be, err := wan.NewBackend("sim", clockwork.System, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wan.New(e.gw, be, wan.Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	e.gw.AddHealthSource(m.FillHealth)
	e.gw.SetNetwork(wan.NewControl(m, wifi.SimScanner{}, lora.New(func() *device.Site { s, _ := e.gw.Site(); return s }, &lora.Sim{})))
	devicetest.Run(t, m)
	waitFor(t, "ethernet active", func() bool { return e.gw.Health().WAN.Active == "ethernet" })
	return e
}

func TestSimLinkFailoverOverSSH(t *testing.T) {
	e := netEnv(t)
	clients := sessionsByRole(t, e)
	if r := run(t, clients[device.RoleInstaller], "sim link down ethernet", ""); r.code != exitForbidden {
		t.Fatalf("installer cut a link: %+v", r)
	}
	if r := run(t, clients[device.RoleAdmin], "sim link down ethernet", ""); r.code != 0 {
		t.Fatalf("sim link down: %+v", r)
	}
	waitFor(t, "failover to cellular", func() bool { return e.gw.Health().WAN.Active == "cellular" })
	if got := strings.Join(e.auditActions(), " "); !strings.Contains(got, "network.changed") || !strings.Contains(got, "sim.link:ok") {
		t.Fatalf("audit %s", got)
	}
	if r := run(t, clients[device.RoleAdmin], "sim link up ethernet", ""); r.code != 0 {
		t.Fatal(r)
	}
	waitFor(t, "failback to ethernet", func() bool { return e.gw.Health().WAN.Active == "ethernet" })
	if r := run(t, clients[device.RoleAdmin], "sim link sideways ethernet", ""); r.code != exitUsage {
		t.Fatalf("bad verb: %+v", r)
	}
}

// A radio disabled for good cannot be re-enabled remotely, whatever the
// path and the role.
func TestRadioLockOutOnRemotePaths(t *testing.T) {
	e := netEnv(t)
	clients := sessionsByRole(t, e)
	export := run(t, clients[device.RoleAdmin], "config export", "").stdout
	reenabled := strings.Replace(export, "permanently_disabled: true", "permanently_disabled: false", 1)
	if reenabled == export {
		t.Fatal("export has no permanently_disabled: true")
	}
	for _, role := range []device.Role{device.RoleAdmin, device.RoleInstaller} {
		r := run(t, clients[role], "config import", reenabled)
		if r.code == 0 || !strings.Contains(r.stderr, "physical access") {
			t.Fatalf("%s re-enabled Wi-Fi over SSH: %+v", role, r)
		}
	}
	if site, _ := e.gw.Site(); !site.WiFi.PermanentlyDisabled {
		t.Fatal("Wi-Fi was re-enabled")
	}
	if !strings.Contains(strings.Join(e.auditActions(), " "), "config.import:denied") {
		t.Fatal("refusal not audited")
	}
}

func TestNetworkScreenProbation(t *testing.T) {
	e := netEnv(t)
	inst := e.addUser("ivy", device.RoleInstaller, userOpt{key: newSigner(t), keyOnly: true}).Account
	c := &shared{gw: e.gw, acc: e.acc, p: access.Principal{Account: inst}, now: e.clock.Now,
		applySite: e.srv.applySite, applySiteAs: e.srv.applySiteAs, srv: e.srv}
	a := newApp(c, 120, 40)
	t.Cleanup(a.close)
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	// Dashboard, Logs, Site, Modbus, Sync, Network, Profile.
	press(a, "6")
	if got := screenText(a); !strings.Contains(got, "▶ 1 ethernet") || !strings.Contains(got, "SIM 1") {
		t.Fatalf("network screen:\n%s", got)
	}
	// Lowering ethernet's priority could cut this session: probation.
	press(a, "D")
	site, _ := e.gw.Site()
	if site.WAN.Priority[0] != device.LinkCellular {
		t.Fatalf("priority %v", site.WAN.Priority)
	}
	if got := screenText(a); !strings.Contains(got, "On probation") {
		t.Fatalf("no probation shown:\n%s", got)
	}
	press(a, "n")
	site, _ = e.gw.Site()
	if site.WAN.Priority[0] != device.LinkEthernet {
		t.Fatalf("not rolled back: %v", site.WAN.Priority)
	}
	press(a, "up", "D", "y")
	if p, _, _ := e.srv.probationState(); p != nil {
		t.Fatal("probation still running after confirmation")
	}
	if site, _ := e.gw.Site(); site.WAN.Priority[0] != device.LinkCellular {
		t.Fatal("confirmed change lost")
	}
	got := strings.Join(e.auditActions(), " ")
	for _, want := range []string{"config.probation:ok", "config.rollback:ok", "config.confirm:ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s not audited: %s", want, got)
		}
	}
	// Disabling LoRa for good is allowed remotely and audited radio.disable.
	press(a, "X", "right", "enter", "y")
	if site, _ := e.gw.Site(); !site.LoRa.PermanentlyDisabled {
		t.Fatalf("LoRa not disabled:\n%s", screenText(a))
	}
}
