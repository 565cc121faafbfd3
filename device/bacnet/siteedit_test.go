package bacnet

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// A device a Who-Is found becomes a valid site device: at the address it
// answered from, its objects with a present value as read-only points
// named after their object-names, unique, and nothing else.
func TestDiscoveredBecomesASiteDevice(t *testing.T) {
	f := Discovered{Instance: 2002, Link: IPLink, Addr: node.IP(netip.MustParseAddrPort("192.168.10.31:47808"))}
	objs := []ObjectInfo{
		{Object: "device:2002", ID: stack.ObjectID{Type: stack.ObjectDevice, Instance: 2002}, Name: "VAV 2", PresentValue: false},
		{Object: "analog-input:1", ID: stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}, Name: "Zone Temp (°C)", PresentValue: true},
		{Object: "analog-input:2", ID: stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 2}, Name: "zone temp °c", PresentValue: true},
		{Object: "binary-output:3", ID: stack.ObjectID{Type: stack.ObjectBinaryOutput, Instance: 3}, Name: "", PresentValue: true, Commandable: true},
		{Object: "analog-value:4", ID: stack.ObjectID{Type: stack.ObjectAnalogValue, Instance: 4}, Name: strings.Repeat("x", 100), PresentValue: true},
		{Object: "10:1", ID: stack.ObjectID{Type: 10, Instance: 1}, Name: "log", PresentValue: false},
	}
	pts := SitePoints(objs)
	var names []string
	for _, p := range pts {
		names = append(names, p.Name+"="+p.Object)
		if p.Writable {
			t.Errorf("%s is writable: points are read-only until the installer says otherwise", p.Name)
		}
	}
	want := "zone_temp_c=analog-input:1 zone_temp_c-2=analog-input:2 binary-output-3=binary-output:3 " + strings.Repeat("x", device.MaxNameLength) + "=analog-value:4"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("points\n got %s\nwant %s", got, want)
	}
	d := f.SiteDevice("vav-2", pts)
	if d.Address != "192.168.10.31:47808" || d.Instance == nil || *d.Instance != 2002 || !d.COV {
		t.Fatalf("site device %+v", d)
	}
	site := device.DefaultSite()
	gwInst := 4000001
	site.BACnet.Address, site.BACnet.DeviceInstance = "192.168.10.5", &gwInst
	if err := site.AddBACnetDevice(d); err != nil {
		t.Fatal(err)
	}
	if err := site.Validate(); err != nil {
		t.Fatalf("the added device does not validate: %v", err)
	}
	if err := site.AddBACnetDevice(d); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("adding it twice: %v", err)
	}
	// Adding objects again adds only what is not read yet.
	added, err := site.AddBACnetPoints("vav-2", SitePoints(append(objs, ObjectInfo{Object: "analog-input:9", ID: stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 9}, Name: "Zone Temp (°C)", PresentValue: true})))
	if err != nil || strings.Join(added, " ") != "zone_temp_c-3" {
		t.Fatalf("added %v, %v", added, err)
	}
	if err := site.Validate(); err != nil {
		t.Fatalf("after adding points: %v", err)
	}
	// A device on an MS/TP bus keeps its station address.
	m := Discovered{Instance: 7, Link: "trunk-1", Addr: node.Address{MAC: string([]byte{12})}}.SiteDevice("fcu-7", nil)
	if m.Bus != "trunk-1" || m.MAC == nil || *m.MAC != 12 || m.Address != "" {
		t.Fatalf("MS/TP device %+v", m)
	}
}
