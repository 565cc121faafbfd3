package sshd

import (
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/cmd"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

func TestSimLinkFailoverOverSSH(t *testing.T) {
	e := newEnv(t)
	tuitest.Network(t, e.gw)
	clients := sessionsByRole(t, e)
	if r := run(t, clients[device.RoleInstaller], "sim link down ethernet", ""); r.code != cmd.ExitForbidden {
		t.Fatalf("installer cut a link: %+v", r)
	}
	if r := run(t, clients[device.RoleAdmin], "sim link down ethernet", ""); r.code != 0 {
		t.Fatalf("sim link down: %+v", r)
	}
	waitFor(t, "failover to cellular", func() bool { return e.gw.Health().WAN.Active == "cellular" })
	// The WAN manager audits the change after health shows it: wait for
	// the event rather than expect it at once.
	waitFor(t, "network.changed audited", func() bool { return strings.Contains(strings.Join(e.auditActions(), " "), "network.changed") })
	if got := strings.Join(e.auditActions(), " "); !strings.Contains(got, "sim.link:ok") {
		t.Fatalf("audit %s", got)
	}
	if r := run(t, clients[device.RoleAdmin], "sim link up ethernet", ""); r.code != 0 {
		t.Fatal(r)
	}
	waitFor(t, "failback to ethernet", func() bool { return e.gw.Health().WAN.Active == "ethernet" })
	if r := run(t, clients[device.RoleAdmin], "sim link sideways ethernet", ""); r.code != cmd.ExitUsage {
		t.Fatalf("bad verb: %+v", r)
	}
}

// A radio disabled for good cannot be re-enabled remotely, whatever the
// path and the role.
func TestRadioLockOutOnRemotePaths(t *testing.T) {
	e := newEnv(t)
	tuitest.Network(t, e.gw)
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
