package cmd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/endpoints"
)

// firewall status and endpoints print what the firewall and the
// allow-list put in health; support may read them, a viewer may not.
func TestFirewallAndEndpoints(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	l := endpoints.New(endpoints.Options{})
	l.Set([]device.Endpoint{{Host: "192.0.2.10", Port: 8883}, {Host: "192.0.2.11", Port: 123, Proto: device.ProtoUDP}})
	f.gw.AddHealthSource(func(h *device.Health) {
		h.Firewall = device.FirewallHealth{Enabled: true, Active: true, Applied: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			Interfaces: []device.FirewallInterface{
				{Name: "eth0", Kind: "ethernet", OpenPorts: []string{"2222/tcp (ssh)", "47808/udp (bacnet)"}, InDrops: device.DropCounter{Packets: 3, Bytes: 180}},
				{Name: "wwan0", Kind: "cellular", OpenPorts: []string{"2222/tcp (ssh)"}},
			},
			Endpoints: l.Health()}
	})

	r := f.run(ctx, device.RoleSupport, "firewall status", "")
	if r.code != ExitOK || !strings.Contains(r.out, "on since 2026-12-01 09:00:00 UTC") ||
		!strings.Contains(r.out, "eth0       ethernet  2222/tcp (ssh), 47808/udp (bacnet)  3 pkts / 180 B") {
		t.Errorf("firewall status: %+v", r)
	}
	r = f.run(ctx, device.RoleSupport, "firewall status --json", "")
	var fh map[string]any
	if err := json.Unmarshal([]byte(r.out), &fh); err != nil || fh["active"] != true || fh["endpoints"] != nil {
		t.Errorf("firewall status --json: %v %s", err, r.out)
	}
	if ifs, _ := fh["interfaces"].([]any); len(ifs) != 2 || ifs[0].(map[string]any)["in_drops"].(map[string]any)["packets"] != 3.0 {
		t.Errorf("interfaces: %v", fh["interfaces"])
	}

	r = f.run(ctx, device.RoleSupport, "endpoints --json", "")
	var eps []device.EndpointHealth
	if err := json.Unmarshal([]byte(r.out), &eps); err != nil || len(eps) != 2 || eps[1].Proto != "udp" || eps[0].Addresses[0] != "192.0.2.10" {
		t.Errorf("endpoints --json: %v %s", err, r.out)
	}
	r = f.run(ctx, device.RoleSupport, "endpoints", "")
	if !strings.Contains(r.out, "192.0.2.11  123   udp    192.0.2.11") {
		t.Errorf("endpoints: %q", r.out)
	}
	if r := f.run(ctx, device.RoleViewer, "firewall status", ""); r.code != ExitForbidden {
		t.Errorf("viewer: %+v", r)
	}
}
