package wan

import (
	"slices"
	"testing"

	"github.com/sitegate/sitegate/device"
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
