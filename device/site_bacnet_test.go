package device

import (
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

func intp(n int) *int { return &n }

// The issue's own example of a bacnet section decodes and validates, with
// its binding field names.
func TestBACnetIssueExample(t *testing.T) {
	const doc = `
site: {name: BACnet example}
modbus:
  buses: [{name: rs485-1, kind: rtu, device: /dev/ttyS1}]
  devices: [{name: main-meter, bus: rs485-1, unit_id: 1, profile: generic-energy-meter}]
bacnet:
  address: 192.168.10.5        # bind address (or interface: eth0); port 47808 by default
  port: 47808
  device_instance: 4000001     # the gateway's own Device object
  devices:
    - name: ahu-ctl
      instance: 1234
      address: "192.168.10.30:47808"   # optional
      interval: 60s
      cov: true
      points:
        - {name: supply, object: analog-input:1}
        - {name: setpoint, object: analog-value:2, writable: true, priority: 8}
  serve:
    - {point: main-meter.active_power_total, object: analog-value:1}
`
	s, err := ParseSite([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	b := s.BACnet
	if b.Address != "192.168.10.5" || b.EffectivePort() != 47808 || *b.DeviceInstance != 4000001 || len(b.Devices) != 1 || len(b.Serve) != 1 {
		t.Fatalf("%+v", b)
	}
	d := b.Devices[0]
	if *d.Instance != 1234 || d.Interval != sec(time.Minute) || !d.COV || d.Points[1].Priority != 8 || !d.Points[1].Writable {
		t.Fatalf("%+v", d)
	}
	if o, ok := d.Points[0].ObjectID(); !ok || o.String() != "analog-input:1" {
		t.Fatalf("object %v", o)
	}
	if p, ok := d.Points[0].PropertyID(); !ok || p.String() != "present-value" || !d.UsesCOV(d.Points[0]) {
		t.Fatalf("property %v", p)
	}
	fd := s.FieldDevices()
	if len(fd) != 2 || fd[1].Protocol != field.BACnet || fd[1].Bus != BACnetIPBus || fd[1].Name != "ahu-ctl" || !fd[1].Points[1].Writable {
		t.Fatalf("field devices %+v", fd)
	}
	if dev, pt, ok := s.ResolvePoint("main-meter.active_power_total"); !ok || dev != "main-meter" || pt != "active_power_total" {
		t.Fatalf("resolve: %s %s %v", dev, pt, ok)
	}
}

// A site without a bacnet section exports none, so that existing site
// files and their goldens stay as they were.
func TestBACnetSectionOmittedWhenUnused(t *testing.T) {
	out, err := EncodeSiteYAML(DefaultSite())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "bacnet") {
		t.Fatalf("export of the default site mentions bacnet:\n%s", out)
	}
	if (BACnet{}).UsesIP() {
		t.Fatal("an empty section uses BACnet/IP")
	}
}

// Device and point names hold dots, so DEVICE.POINT is resolved against
// the site, and an ambiguous one is refused.
func TestResolvePointWithDots(t *testing.T) {
	s := DefaultSite()
	s.BACnet.Devices = []BACnetDevice{
		{Name: "a", Instance: intp(1), Points: []BACnetPoint{{Name: "b.c", Object: "analog-input:1"}}},
		{Name: "x.y", Instance: intp(2), Points: []BACnetPoint{{Name: "z", Object: "analog-input:1"}}},
	}
	if d, p, ok := s.ResolvePoint("a.b.c"); !ok || d != "a" || p != "b.c" {
		t.Fatalf("a.b.c: %s %s %v", d, p, ok)
	}
	if d, p, ok := s.ResolvePoint("x.y.z"); !ok || d != "x.y" || p != "z" {
		t.Fatalf("x.y.z: %s %s %v", d, p, ok)
	}
	s.BACnet.Devices = append(s.BACnet.Devices, BACnetDevice{Name: "a.b", Instance: intp(3), Points: []BACnetPoint{{Name: "c", Object: "analog-input:1"}}})
	if _, _, ok := s.ResolvePoint("a.b.c"); ok {
		t.Fatal("ambiguous reference resolved")
	}
	for _, bad := range []string{"", "a", "a.", ".b.c", "nope.z"} {
		if _, _, ok := s.ResolvePoint(bad); ok {
			t.Errorf("%q resolved", bad)
		}
	}
}

// Each rule of the bacnet section on the full example: exactly one
// problem at the path, with the fragment in its message.
func TestBACnetValidateRules(t *testing.T) {
	dev := func(s *Site, i int) *BACnetDevice { return &s.BACnet.Devices[i] }
	pt := func(s *Site, d, p int) *BACnetPoint { return &s.BACnet.Devices[d].Points[p] }
	srv := func(s *Site, i int) *BACnetServe { return &s.BACnet.Serve[i] }
	mstp := func(s *Site) *MSTPBus { return &s.BACnet.MSTP[0] }
	tests := []struct {
		name   string
		mutate func(s *Site)
		path   string
		frag   string
	}{
		{"full example", func(s *Site) {}, "", ""},
		{"interface instead of address", func(s *Site) { s.BACnet.Address, s.BACnet.Interface = "", "eth1" }, "", ""},
		{"address and interface", func(s *Site) { s.BACnet.Interface = "eth1" }, "bacnet.address", "give one of them"},
		{"no address", func(s *Site) { s.BACnet.Address = "" }, "bacnet.address", "is required once BACnet/IP is used"},
		{"MS/TP only needs no address", func(s *Site) {
			s.BACnet.Address, s.BACnet.DeviceInstance, s.BACnet.Serve = "", nil, nil
			s.BACnet.Devices = s.BACnet.Devices[1:2]
		}, "", ""},
		{"address any", func(s *Site) { s.BACnet.Address = "0.0.0.0" }, "bacnet.address", "every interface"},
		{"address ipv6", func(s *Site) { s.BACnet.Address = "fe80::1" }, "bacnet.address", "is not an IPv4 address"},
		{"address with port", func(s *Site) { s.BACnet.Address = "192.168.10.5:47808" }, "bacnet.address", "the port is set with port:"},
		{"address broadcast", func(s *Site) { s.BACnet.Address = "255.255.255.255" }, "bacnet.address", "not a unicast address"},
		{"interface bad", func(s *Site) { s.BACnet.Address, s.BACnet.Interface = "", "eth 0" }, "bacnet.interface", "not a network interface name"},
		{"port", func(s *Site) { s.BACnet.Port = 70000 }, "bacnet.port", "outside 1..65535"},
		{"broadcast", func(s *Site) { s.BACnet.Broadcast = "everyone" }, "bacnet.broadcast", "not an IPv4 address"},
		{"no device_instance", func(s *Site) { s.BACnet.DeviceInstance = nil }, "bacnet.device_instance", "is required with BACnet/IP"},
		{"device_instance wildcard", func(s *Site) { s.BACnet.DeviceInstance = intp(4194303) }, "bacnet.device_instance", "outside 0..4194302"},
		{"device_instance of a device", func(s *Site) { s.BACnet.DeviceInstance = intp(1200) }, "bacnet.devices[0].instance", "the gateway's own device_instance"},
		{"bbmd", func(s *Site) { s.BACnet.BBMD = "bbmd.example.com" }, "bacnet.bbmd", "is not IPv4 or IPv4:PORT"},
		{"bbmd port 0", func(s *Site) { s.BACnet.BBMD = "192.168.20.1:0" }, "bacnet.bbmd", "has port 0"},
		{"bbmd_ttl alone", func(s *Site) { s.BACnet.BBMD = "" }, "bacnet.bbmd_ttl", "applies only with bbmd"},
		{"bbmd_ttl short", func(s *Site) { s.BACnet.BBMDTTL = sec(10 * time.Second) }, "bacnet.bbmd_ttl", "outside 30s.."},
		{"apdu_timeout", func(s *Site) { s.BACnet.APDUTimeout = sec(time.Minute) }, "bacnet.apdu_timeout", "outside 100ms..30s"},
		{"retries", func(s *Site) { s.BACnet.Retries = intp(11) }, "bacnet.retries", "outside 0..10"},
		{"mstp name", func(s *Site) { mstp(s).Name = "ip"; dev(s, 1).Bus = "ip" }, "bacnet.mstp[0].name", "names the gateway's BACnet/IP network"},
		{"mstp device", func(s *Site) { mstp(s).Device = "ttyS2" }, "bacnet.mstp[0].device", "not an absolute device path"},
		{"mstp device of a modbus bus", func(s *Site) { mstp(s).Device = "/dev/ttyS1" }, "bacnet.mstp[0].device", "already the serial line of modbus.buses[0]"},
		{"mstp baud", func(s *Site) { mstp(s).Baud = 4800 }, "bacnet.mstp[0].baud", "not an MS/TP rate"},
		{"mstp mac missing", func(s *Site) { mstp(s).MAC = nil }, "bacnet.mstp[0].mac", "is required"},
		{"mstp mac slave", func(s *Site) { mstp(s).MAC = intp(200) }, "bacnet.mstp[0].mac", "outside 0..127"},
		{"mstp max_master below mac", func(s *Site) { mstp(s).MAC = intp(70) }, "bacnet.mstp[0].max_master", "below the gateway's own mac 70"},
		{"mstp max_info_frames", func(s *Site) { mstp(s).MaxInfoFrames = 101 }, "bacnet.mstp[0].max_info_frames", "outside 1..100"},
		{"device name", func(s *Site) { dev(s, 1).Name = "vav 3" }, "bacnet.devices[1].name", "contains ' '"},
		{"device name duplicate", func(s *Site) { dev(s, 1).Name = "ahu-ctl" }, "bacnet.devices[1].name", "already defined at devices[0]"},
		{"device name of a modbus device", func(s *Site) { dev(s, 2).Name = "pump-vsd" }, "bacnet.devices[2].name", "unique across the site"},
		{"instance missing", func(s *Site) { dev(s, 0).Instance = nil }, "bacnet.devices[0].instance", "is required"},
		{"instance range", func(s *Site) { dev(s, 0).Instance = intp(-1) }, "bacnet.devices[0].instance", "outside 0..4194302"},
		{"instance duplicate", func(s *Site) { dev(s, 1).Instance = intp(1200) }, "bacnet.devices[1].instance", "already the instance of devices[0]"},
		{"address", func(s *Site) { dev(s, 0).Address = "192.168.10.300" }, "bacnet.devices[0].address", "is not IPv4 or IPv4:PORT"},
		{"bus unknown", func(s *Site) { dev(s, 1).Bus = "mstp-2" }, "bacnet.devices[1].bus", `unknown MS/TP bus "mstp-2" (known: mstp-1); did you mean "mstp-1"?`},
		{"mstp device with address", func(s *Site) { dev(s, 1).Address = "192.168.10.31" }, "bacnet.devices[1].address", "applies to BACnet/IP devices only"},
		{"mstp device mac", func(s *Site) { dev(s, 1).MAC = intp(128) }, "bacnet.devices[1].mac", "outside 0..127"},
		{"ip device with mac", func(s *Site) { dev(s, 0).MAC = intp(3) }, "bacnet.devices[0].mac", "a BACnet/IP device has an address"},
		{"routed without router", func(s *Site) { dev(s, 2).Address = "" }, "bacnet.devices[2].address", "the address of the BACnet router"},
		{"routed without mac", func(s *Site) { dev(s, 2).MAC = nil }, "bacnet.devices[2].mac", "is required with network"},
		{"routed network", func(s *Site) { dev(s, 2).Network = 65535 }, "bacnet.devices[2].network", "outside 1..65534"},
		{"interval", func(s *Site) { dev(s, 0).Interval = sec(100 * time.Millisecond) }, "bacnet.devices[0].interval", "outside 1s..24h"},
		{"cov_lifetime", func(s *Site) { dev(s, 0).COVLifetime = sec(time.Second) }, "bacnet.devices[0].cov_lifetime", "outside 30s..24h"},
		{"no points", func(s *Site) { dev(s, 2).Points = nil }, "bacnet.devices[2].points", "bacnet objects chiller lists"},
		{"point name duplicate", func(s *Site) { pt(s, 0, 1).Name = "supply" }, "bacnet.devices[0].points[1].name", "already defined at points[0]"},
		{"object missing", func(s *Site) { pt(s, 0, 0).Object = "" }, "bacnet.devices[0].points[0].object", "is required (TYPE:INSTANCE"},
		{"object type unknown", func(s *Site) { pt(s, 0, 0).Object = "analog-inptu:1" }, "bacnet.devices[0].points[0].object", `unknown object type "analog-inptu"`},
		{"object without instance", func(s *Site) { pt(s, 0, 0).Object = "analog-input" }, "bacnet.devices[0].points[0].object", "is not TYPE:INSTANCE"},
		{"object instance wildcard", func(s *Site) { pt(s, 0, 0).Object = "analog-input:4194303" }, "bacnet.devices[0].points[0].object", "is the wildcard"},
		{"object type by number", func(s *Site) { pt(s, 0, 0).Object = "3:7" }, "", ""},
		{"property unknown", func(s *Site) { pt(s, 0, 4).Property = "max-value" }, "bacnet.devices[0].points[4].property", `unknown property "max-value"`},
		{"property by number", func(s *Site) { pt(s, 0, 4).Property = "65" }, "", ""},
		{"property all", func(s *Site) { pt(s, 0, 4).Property = "all" }, "bacnet.devices[0].points[4].property", "stands for many properties"},
		{"priority range", func(s *Site) { pt(s, 0, 2).Priority = 17 }, "bacnet.devices[0].points[2].priority", "outside 1..16"},
		{"priority 6", func(s *Site) { pt(s, 0, 2).Priority = 6 }, "bacnet.devices[0].points[2].priority", "reserved for the minimum on/off"},
		{"priority read-only", func(s *Site) { pt(s, 0, 0).Priority = 8 }, "bacnet.devices[0].points[0].priority", "applies to writable points only"},
		{"priority other property", func(s *Site) { pt(s, 0, 4).Writable, pt(s, 0, 4).Priority = true, 8 }, "bacnet.devices[0].points[4].priority", "has no priority array"},
		{"cov other property", func(s *Site) { pt(s, 0, 4).COV = new(bool); *pt(s, 0, 4).COV = true }, "bacnet.devices[0].points[4].cov", "COV reports present-value"},
		{"unit", func(s *Site) { pt(s, 0, 1).Unit = strings.Repeat("x", 33) }, "bacnet.devices[0].points[1].unit", "at most 32"},
		{"precision", func(s *Site) { pt(s, 0, 5).Precision = 18 }, "bacnet.devices[0].points[5].precision", "outside 1..17"},
		{"serve point unknown", func(s *Site) { srv(s, 0).Point = "main-meter.nope" }, "bacnet.serve[0].point", "names no point of the site"},
		{"serve point missing", func(s *Site) { srv(s, 0).Point = "" }, "bacnet.serve[0].point", "is required"},
		{"serve analog-input", func(s *Site) { srv(s, 0).Object = "analog-input:1"; srv(s, 0).Units = "" }, "bacnet.serve[0].object", "serves analog-value, binary-value and multi-state-value"},
		{"serve object twice", func(s *Site) { srv(s, 3).Object = "analog-value:1" }, "bacnet.serve[3].object", "already served at serve[0]"},
		{"serve name twice", func(s *Site) { srv(s, 3).Name = "burner" }, "bacnet.serve[3].name", "already used by serve[1]"},
		{"serve name of the device", func(s *Site) { srv(s, 3).Name = "boiler-house-gw" }, "bacnet.serve[3].name", "the gateway's Device object's name"},
		{"serve writable read-only point", func(s *Site) { srv(s, 2).Writable = true }, "bacnet.serve[2].writable", "read-only in the site"},
		{"serve writable modbus without default", func(s *Site) { srv(s, 1).RelinquishDefault = nil }, "bacnet.serve[1].relinquish_default", "modbus has no relinquish"},
		{"serve default without writable", func(s *Site) { srv(s, 0).RelinquishDefault = new(float64) }, "bacnet.serve[0].relinquish_default", "writable objects only"},
		{"serve units unknown", func(s *Site) { srv(s, 0).Units = "kilowats" }, "bacnet.serve[0].units", `unknown BACnet units "kilowats"`},
		{"serve units on binary", func(s *Site) { srv(s, 1).Units = "kilowatts" }, "bacnet.serve[1].units", "analog-value objects only"},
		{"serve cov_increment", func(s *Site) { srv(s, 0).COVIncrement = -1 }, "bacnet.serve[0].cov_increment", "0 or more"},
		{"serve states missing", func(s *Site) { srv(s, 2).States = nil }, "bacnet.serve[2].states", "is required for a multi-state-value"},
		{"serve states on analog", func(s *Site) { srv(s, 0).States = []string{"a"} }, "bacnet.serve[0].states", "multi-state-value objects only"},
		{"serve state empty", func(s *Site) { srv(s, 2).States[1] = "" }, "bacnet.serve[2].states[1]", "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := siteFromFile(t, "full.yaml")
			tt.mutate(s)
			ps := validationProblems(t, s.Validate())
			if tt.path == "" {
				if len(ps) > 0 {
					t.Fatalf("want no problem, got:\n%v", &ValidationError{ps})
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("want 1 problem at %s; got %d:\n%v", tt.path, len(ps), &ValidationError{ps})
			}
			if ps[0].Path != tt.path || !strings.Contains(ps[0].Message, tt.frag) {
				t.Errorf("got  %s\nwant %s: ...%s...", ps[0], tt.path, tt.frag)
			}
		})
	}
}

// A site file's mistakes are reported with their lines, as every section's.
func TestBACnetProblemsHaveLines(t *testing.T) {
	const doc = `site: {name: x}
bacnet:
  address: 192.168.10.5
  device_instance: 7
  devices:
    - name: ahu
      instance: 1
      points:
        - {name: supply, object: analog-inptu:1}
`
	_, err := ParseSite([]byte(doc))
	ps := validationProblems(t, err)
	if len(ps) != 1 || ps[0].Path != "bacnet.devices[0].points[0].object" || ps[0].Line != 9 {
		t.Fatalf("%+v", ps)
	}
}
