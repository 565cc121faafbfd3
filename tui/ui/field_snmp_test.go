package ui

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/snmp/snmpsim"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// The walk browser against the real SNMP driver and the simulated UPS
// agent on loopback: o on the device, the OID to walk under, the
// varbinds listed; space picks upsBatteryStatus.0, a adds it as a point
// of the device in one revision, and the driver reads it.
func TestSNMPWalkBrowserAddsPickedOIDs(t *testing.T) {
	f := newLiveFixture(t)
	gw := f.gw
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := snmpsim.New(conn, snmpsim.Config{Community: "demo", Name: "ups-lab", Logger: tuitest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, agent)
	site, rev := gw.Site()
	site.SNMP.Devices = []device.SNMPDevice{{Name: "ups-1", Address: agent.Addr(), Version: device.SNMPv2c, Community: "demo",
		Interval: device.Duration(time.Second), Points: []device.SNMPPoint{{Name: "uptime", OID: "1.3.6.1.2.1.1.3.0"}}}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, snmp.NewDriver(gw, snmp.Options{Logger: tuitest.Quiet}))
	devicetest.Eventually(t, tuitest.Wait, "ups-1 online", func() bool { st, _ := gw.Field().Status("ups-1"); return st.State == field.StateOnline })

	a := newTestApp(t, gw, f.acc, clockwork.System, access.Principal{Account: f.user(t, "ivan", device.RoleInstaller)}, 140, 40)
	m := fieldTab(t, a)
	m.reload()
	m.cursor = slices.IndexFunc(m.nodes, func(n node) bool { return n.kind == nodeDevice && n.dev == "ups-1" })
	if m.cursor < 0 {
		t.Fatalf("no ups-1 in the tree: %v", m.nodes)
	}
	if !strings.Contains(screenText(a), "o walk (pick OIDs)") {
		t.Errorf("the help bar does not offer the walk:\n%s", screenText(a))
	}
	press(a, "o")
	if m.mode != fieldForm || !strings.Contains(screenText(a), "1.3.6.1.2.1") {
		t.Fatalf("no walk form:\n%s", screenText(a))
	}
	_, cmd := a.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	awaitMsg(t, a, cmd, func(msg tea.Msg) bool { _, ok := msg.(snmpWalkMsg); return ok })
	view := screenText(a)
	if !strings.Contains(view, "Walk of ups-1 under 1.3.6.1.2.1") || !strings.Contains(view, "1.3.6.1.2.1.1.5.0") || !strings.Contains(view, "ups-lab") {
		t.Fatalf("the walk:\n%s", view)
	}
	// sysDescr.0, the first row, is a text; upsBatteryStatus.0, under
	// mib-2, a number: both are picked and added in one revision.
	press(a, "space")
	if !m.sn.picked[0] {
		t.Fatalf("sysDescr.0 (%+v) was not picked:\n%s", m.sn.vars[0], screenText(a))
	}
	i := slices.IndexFunc(m.sn.vars, func(v snmp.Var) bool { return v.OID == "1.3.6.1.2.1.33.1.2.1.0" })
	if i < 0 {
		t.Fatalf("no upsBatteryStatus.0 in the walk: %+v", m.sn.vars)
	}
	for range i {
		press(a, "down")
	}
	press(a, "space", "a")
	after, _ := gw.Site()
	d := after.SNMP.Devices[0]
	if len(d.Points) != 3 || d.Points[1].OID != "1.3.6.1.2.1.1.1.0" || d.Points[2].Name != "mib2-33.1.2.1.0" || d.Points[2].OID != "1.3.6.1.2.1.33.1.2.1.0" {
		t.Fatalf("points after the add: %+v\n%s", d.Points, screenText(a))
	}
	descr := d.Points[1].Name
	devicetest.Eventually(t, tuitest.Wait, func() string { rs, _ := gw.Readings("ups-1"); return fmt.Sprintf("the new points read: %+v", rs) }, func() bool {
		rs, _ := gw.Readings("ups-1")
		return slices.ContainsFunc(rs, func(r field.Reading) bool { return r.Point == "mib2-33.1.2.1.0" && r.Quality == field.QualityGood }) &&
			slices.ContainsFunc(rs, func(r field.Reading) bool {
				return r.Point == descr && r.Quality == field.QualityGood && r.Value.IsText && r.Value.Text == m.sn.vars[0].Text
			})
	})

	// Support may walk but not add.
	b := newTestApp(t, gw, f.acc, clockwork.System, access.Principal{Account: f.user(t, "sam", device.RoleSupport)}, 140, 40)
	ms := fieldTab(t, b)
	ms.reload()
	ms.cursor = slices.IndexFunc(ms.nodes, func(n node) bool { return n.kind == nodeDevice && n.dev == "ups-1" })
	press(b, "o")
	if ms.mode != fieldForm {
		t.Fatalf("support cannot walk:\n%s", screenText(b))
	}
}
