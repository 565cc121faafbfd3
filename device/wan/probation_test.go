package wan

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store/storetest"
)

func TestRiskyChanges(t *testing.T) {
	old := testSite()
	if r := RiskyChanges(old, old.Clone()); len(r) != 0 {
		t.Fatalf("no change: %v", r)
	}
	next := old.Clone()
	next.Site.Name = "Renamed"
	next.Modbus.Buses = append(next.Modbus.Buses, device.Bus{Name: "x"})
	next.WiFi.Passphrase = device.SecretPlaceholder // "<set>" keeps the stored one
	if r := RiskyChanges(old, next); len(r) != 0 {
		t.Fatalf("harmless change: %v", r)
	}
	next.WAN.Priority = []device.LinkKind{device.LinkWiFi, device.LinkEthernet, device.LinkCellular}
	next.WAN.Ethernet.DHCP = false
	next.WAN.Ethernet.Address = "192.168.1.10/24"
	next.WiFi.SSID = "Other"
	next.Cellular.SIMs[1].APN = "other.apn"
	want := []string{"wan.priority", "wan.ethernet", "wifi", "cellular"}
	if r := RiskyChanges(old, next); !slices.Equal(r, want) {
		t.Fatalf("got %v, want %v", r, want)
	}
}

func TestProbationRollsBackUnlessConfirmed(t *testing.T) {
	clk := clockwork.NewFake(t0)
	st := storetest.New(t)
	gw, err := device.NewGateway(st, device.GatewayOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import", Base: gw.Rev()}, testSite()); err != nil {
		t.Fatal(err)
	}
	installer := device.Actor{ID: "u-1", Role: "installer"}
	apply := func(p []device.LinkKind) *device.Site {
		prev, _ := gw.Site()
		next := prev.Clone()
		next.WAN.Priority = p
		if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: "config.change", Base: gw.Rev()}, next); err != nil {
			t.Fatal(err)
		}
		return prev
	}

	// Not confirmed: rolled back after the window.
	prev := apply([]device.LinkKind{device.LinkWiFi})
	p := StartProbation(clk, ProbationWindow, func() error {
		_, err := gw.ApplySite(device.Edit{Actor: device.SystemActor, Action: "config.rollback", Base: gw.Rev()}, prev)
		return err
	})
	waitFor(t, "probation ticker", func() bool { return clk.Waiters() == 1 })
	clk.Advance(ProbationWindow - time.Second)
	if p.Remaining() != time.Second {
		t.Fatalf("remaining %s", p.Remaining())
	}
	clk.Advance(time.Second)
	<-p.Done()
	if rolled, err := p.Result(); !rolled || err != nil {
		t.Fatalf("result %v %v", rolled, err)
	}
	if s, _ := gw.Site(); !slices.Equal(s.WAN.Priority, prev.WAN.Priority) {
		t.Fatalf("not rolled back: %v", s.WAN.Priority)
	}
	if p.Confirm() {
		t.Fatal("confirmed after the rollback")
	}

	// Confirmed in time: kept, and the rollback never runs.
	var calls atomic.Int32
	apply([]device.LinkKind{device.LinkEthernet})
	p = StartProbation(clk, ProbationWindow, func() error { calls.Add(1); return nil })
	clk.Advance(time.Minute)
	if !p.Confirm() {
		t.Fatal("confirm refused")
	}
	clk.Advance(time.Hour)
	if rolled, _ := p.Result(); rolled || calls.Load() != 0 || p.Remaining() != 0 {
		t.Fatal("rolled back after a confirmation")
	}
	waitFor(t, "tickers stopped", func() bool { return clk.Waiters() == 0 })

	// Cancel rolls back at once and reports the rollback's error.
	p = StartProbation(clk, ProbationWindow, func() error { return errors.New("store full") })
	if err := p.Cancel(); err == nil || err.Error() != "store full" {
		t.Fatalf("cancel: %v", err)
	}
}
