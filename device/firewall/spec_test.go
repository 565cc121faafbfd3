package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/endpoints"
)

func bacnetSite() *device.Site {
	s := device.DefaultSite()
	s.Firewall.Enabled = true
	inst, one := 4000001, 1
	s.BACnet = device.BACnet{Interface: "eth0", DeviceInstance: &inst,
		Devices: []device.BACnetDevice{{Name: "ctl", Instance: &one, Address: "192.168.10.30"}}}
	return s
}

func TestBuild(t *testing.T) {
	for _, c := range []struct {
		name string
		site func(*device.Site)
		ssh  string
		in   string // every In port, one per line
		out  string
	}{
		{name: "loopback ssh opens nothing", ssh: "127.0.0.1:2222", site: func(s *device.Site) { s.BACnet = device.BACnet{} }},
		{name: "ssh everywhere", ssh: ":2222", site: func(s *device.Site) { s.BACnet = device.BACnet{} }, in: "*:2222/tcp (ssh)"},
		{name: "ssh on one address", ssh: "[::ffff:192.0.2.5]:22", site: func(s *device.Site) { s.BACnet = device.BACnet{} }, in: "*:192.0.2.5:22/tcp (ssh)"},
		{name: "bacnet on ethernet and wifi", ssh: ":2222",
			in:  "*:2222/tcp (ssh)\neth0:47808/udp (bacnet)\nwlan0:47808/udp (bacnet)",
			out: "eth0:47808/udp (bacnet)\nwlan0:47808/udp (bacnet)\n*:192.168.10.30:47808/udp (bacnet ctl)"},
		{name: "bacnet never on cellular", ssh: "127.0.0.1:2222", site: func(s *device.Site) {
			s.BACnet.Interface = "wwan0"
			s.WiFi.PermanentlyDisabled = true
			s.Firewall.LAN = []string{"br0", "wwan0"}
		}, in: "eth0:47808/udp (bacnet)\nbr0:47808/udp (bacnet)",
			out: "eth0:47808/udp (bacnet)\nbr0:47808/udp (bacnet)\n*:192.168.10.30:47808/udp (bacnet ctl)"},
		{name: "bacnet port and lora forwarder", ssh: "127.0.0.1:2222", site: func(s *device.Site) {
			s.BACnet.Port = 47809
			s.BACnet.Devices = nil
			s.BACnet.Serve = []device.BACnetServe{{Point: "x.y", Object: "analog-value:1"}}
			s.WiFi.PermanentlyDisabled = true
			s.LoRa.Enabled, s.LoRa.PacketForwarder = true, "0.0.0.0:1700"
			s.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "192.168.10.20:502"}, {Name: "rtu", Kind: device.BusRTU}}
		}, in: "eth0:47809/udp (bacnet)\neth0:1700/udp (lora packet forwarder)",
			out: "eth0:47809/udp (bacnet)\n*:192.168.10.20:502/tcp (modbus plant)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := bacnetSite()
			if c.site != nil {
				c.site(s)
			}
			sp, err := Build(s, BuildOptions{SSHAddr: c.ssh})
			if err != nil {
				t.Fatal(err)
			}
			if got := ports(sp.In); got != c.in {
				t.Errorf("in:\n%s\nwant:\n%s", got, c.in)
			}
			if got := ports(sp.Out); got != c.out {
				t.Errorf("out:\n%s\nwant:\n%s", got, c.out)
			}
		})
	}
}

func ports(ps []Port) string {
	var b []string
	for _, p := range ps {
		i := p.Iface
		if i == "" {
			i = "*"
		}
		b = append(b, i+":"+p.String())
	}
	return strings.Join(b, "\n")
}

func TestBuildRefuses(t *testing.T) {
	s := device.DefaultSite()
	for _, ssh := range []string{"2222", ":0", ":x", "host.example:22"} {
		if _, err := Build(s, BuildOptions{SSHAddr: ssh}); err == nil || !strings.Contains(err.Error(), "ssh address") {
			t.Errorf("ssh %q: %v", ssh, err)
		}
	}
	many := make([]endpoints.Address, MaxAllowed+1)
	for i := range many {
		many[i].Addr = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	if _, err := Build(s, BuildOptions{Allow: many}); err == nil || !strings.Contains(err.Error(), fmt.Sprint(MaxAllowed)) {
		t.Errorf("too many addresses: %v", err)
	}
}

func TestRiskyChanges(t *testing.T) {
	off, on := device.DefaultSite(), device.DefaultSite()
	on.Firewall.Enabled = true
	if r := RiskyChanges(off, on); len(r) != 1 || r[0] != "firewall.enabled" {
		t.Errorf("turning on: %v", r)
	}
	// Turning it off (what a rollback does) cuts nobody off.
	if r := RiskyChanges(on, off); r != nil {
		t.Errorf("turning off: %v", r)
	}
}
