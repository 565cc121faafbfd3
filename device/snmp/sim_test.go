package snmp_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/snmp/snmpsim"
)

// The ups-mib and if-mib profiles read the simulator's UPS completely
// (snmpd has no UPS-MIB; this is what the demo's UPS shows).
func TestProfilesOnTheSimulator(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := snmpsim.New(conn, snmpsim.Config{Community: "demo", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	ups := v2c("ups", a.Addr())
	ups.Community, ups.Profile = "demo", "ups-mib"
	sw := v2c("ups-net", a.Addr())
	sw.Community, sw.Profile = "demo", "if-mib"
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{ups, sw}
	f := startGateway(t, site, snmp.Options{})
	devicetest.Eventually(t, wait, "both online with a rate", func() bool {
		r, _ := reading(f.gw, "ups-net", "if_in.eth0")
		return status(f.gw, "ups").State == field.StateOnline && status(f.gw, "ups-net").State == field.StateOnline && r.Value.Valid
	})
	for point, want := range map[string]float64{"battery_status": 2, "output_source": 3, "output_frequency": 50, "input_voltage.1": 0, "output_load.1": 0} {
		r, ok := reading(f.gw, "ups", point)
		if !ok || r.Quality != field.QualityGood || want != 0 && r.Value.Num != want {
			t.Errorf("ups %s = %+v", point, r)
		}
	}
	if r, _ := reading(f.gw, "ups-net", "if_in.eth0"); r.Value.Num < 1e6 || r.Value.Num > 3e6 || r.Unit != "bit/s" {
		t.Errorf("if_in.eth0 = %+v (the simulator sends 2 Mbit/s)", r)
	}
}
