package ui

import (
	"errors"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

func TestNetworkScreenProbation(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.Network(t, f.gw)
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	// Dashboard, Logs, Site, Modbus, Sync, Network, Profile.
	press(a, "6")
	if got := screenText(a); !strings.Contains(got, "▶ 1 ethernet") || !strings.Contains(got, "SIM 1") {
		t.Fatalf("network screen:\n%s", got)
	}
	// Lowering ethernet's priority could cut this session: probation.
	press(a, "D")
	site, _ := f.gw.Site()
	if site.WAN.Priority[0] != device.LinkCellular {
		t.Fatalf("priority %v", site.WAN.Priority)
	}
	if got := screenText(a); !strings.Contains(got, "On probation") {
		t.Fatalf("no probation shown:\n%s", got)
	}
	press(a, "n")
	site, _ = f.gw.Site()
	if site.WAN.Priority[0] != device.LinkEthernet {
		t.Fatalf("not rolled back: %v", site.WAN.Priority)
	}
	press(a, "up", "D", "y")
	if f.gw.Probation().Active {
		t.Fatal("probation still running after confirmation")
	}
	if site, _ := f.gw.Site(); site.WAN.Priority[0] != device.LinkCellular {
		t.Fatal("confirmed change lost")
	}
	got := auditTrail(t, f.gw)
	for _, want := range []string{"config.probation:ok", "config.rollback:ok", "config.confirm:ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s not audited: %s", want, got)
		}
	}
	// Disabling LoRa for good is allowed remotely and audited radio.disable.
	press(a, "X", "right", "enter", "y")
	if site, _ := f.gw.Site(); !site.LoRa.PermanentlyDisabled {
		t.Fatalf("LoRa not disabled:\n%s", screenText(a))
	}
}

// A probation rollback that a later change makes impossible says so on the
// screen, with the reason.
func TestNetworkScreenShowsAFailedRollback(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.Network(t, f.gw)
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "6", "D")
	if !f.gw.Probation().Active {
		t.Fatalf("no probation:\n%s", screenText(a))
	}
	// Someone else changes the priority again meanwhile.
	site, rev := f.gw.Site()
	site.WAN.Priority = []device.LinkKind{device.LinkWiFi, device.LinkEthernet, device.LinkCellular}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	err := f.gw.RollbackProbation(device.SystemActor)
	var conflict *device.RevertConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("rollback over a later change: %v", err)
	}
	got := screenText(a)
	if !strings.Contains(got, "rollback of WAN priority") || !strings.Contains(got, "failed") || !strings.Contains(got, "wan.priority") {
		t.Fatalf("the failed rollback is not shown with its reason:\n%s", got)
	}
}
