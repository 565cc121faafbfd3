package cmd

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// snmp get, snmp walk and points read against Debian's snmpd through the
// real SNMP driver; the community never shows.
func TestSNMPGetWalkAndPoints(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	f := newFixture(t)
	site, rev := f.gw.Site()
	site.SNMP.Devices = []device.SNMPDevice{{Name: "agent", Address: addr, Version: device.SNMPv2c, Community: snmptest.Community,
		Interval: device.Duration(time.Second), Points: []device.SNMPPoint{
			{Name: "uptime", OID: snmptest.SysUpTimeOID},
			{Name: "oper", Walk: snmptest.IfOperStatusOID, Index: "ifDescr"},
		}}}
	site.SNMP.TrapListen = "127.0.0.1:162" // port 0 through Listen below
	site.SNMP.TrapRules = []device.SNMPTrapRule{{Trap: "1.3.6.1.6.3.1.1.5.3"}}
	site.ApplyDefaults()
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	drv := snmp.NewDriver(f.gw, snmp.Options{Logger: tuitest.Quiet, Listen: func(ctx context.Context, _ string) (net.PacketConn, error) {
		return snmp.ListenUDP(ctx, "127.0.0.1:0")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = drv.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	devicetest.Eventually(t, snmptest.Wait, "agent online", func() bool {
		st, _ := f.gw.Field().Status("agent")
		return st.State == field.StateOnline
	})

	r := f.run(t.Context(), device.RoleSupport, "snmp get agent "+snmptest.SysNameOID+" .1.3.6.1.2.1.1.6.0 --json", "")
	var vars []map[string]any
	if err := json.Unmarshal([]byte(r.out), &vars); err != nil || r.code != ExitOK || len(vars) != 2 {
		t.Fatalf("snmp get --json: %v %+v", err, r)
	}
	if vars[0]["oid"] != snmptest.SysNameOID || vars[0]["type"] != "OctetString" || vars[0]["value"] != snmptest.AgentName || vars[1]["value"] != snmptest.AgentPlace {
		t.Fatalf("snmp get: %v", vars)
	}
	r = f.run(t.Context(), device.RoleSupport, "snmp get agent "+snmptest.SysUpTimeOID, "")
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); r.code != ExitOK || len(lines) != 2 || !strings.HasPrefix(lines[1], snmptest.SysUpTimeOID+"  TimeTicks") {
		t.Fatalf("snmp get: %+v", r)
	}

	r = f.run(t.Context(), device.RoleSupport, "snmp walk agent 1.3.6.1.2.1 --max 3 --json", "")
	var walk struct {
		Vars      []map[string]any `json:"vars"`
		Truncated bool             `json:"truncated"`
		Max       int              `json:"max"`
	}
	if err := json.Unmarshal([]byte(r.out), &walk); err != nil || r.code != ExitOK || len(walk.Vars) != 3 || !walk.Truncated || walk.Max != 3 {
		t.Fatalf("snmp walk --json: %v %+v", err, r)
	}
	if !strings.Contains(r.err, "stopped at 3 varbinds") {
		t.Errorf("the bound is not told: %q", r.err)
	}
	r = f.run(t.Context(), device.RoleSupport, "snmp walk agent "+snmptest.IfDescrOID, "")
	if r.code != ExitOK || !strings.Contains(r.out, snmptest.IfDescrOID+".1  OctetString  lo") || r.err != "" {
		t.Fatalf("snmp walk: %+v", r)
	}

	r = f.run(t.Context(), device.RoleSupport, "points read agent --now --json", "")
	var rs []field.Reading
	if err := json.Unmarshal([]byte(r.out), &rs); err != nil || r.code != ExitOK {
		t.Fatalf("points read --now: %v %+v", err, r)
	}
	got := map[string]field.Reading{}
	for _, x := range rs {
		got[x.Point] = x
	}
	if got["uptime"].Quality != field.QualityGood || got["oper.lo"].Value.Num != 1 {
		t.Fatalf("points read: %+v", rs)
	}
	r = f.run(t.Context(), device.RoleSupport, "points read agent oper.lo", "")
	if r.code != ExitOK || !strings.Contains(r.out, "oper.lo") {
		t.Fatalf("points read agent oper.lo: %+v", r)
	}

	for line, frag := range map[string]string{
		"snmp get nope 1.3.6.1.2.1.1.5.0":    `no SNMP device "nope"`,
		"snmp get agent sysName.0":           "names such as sysUpTime are not resolved",
		"snmp walk agent 1.3.6.1 --max 5000": "--max 5000: give 1..1000",
	} {
		r := f.run(t.Context(), device.RoleSupport, line, "")
		if r.code == ExitOK || !strings.Contains(r.err, frag) {
			t.Errorf("%s: %+v; want %q", line, r, frag)
		}
	}
	// snmp traps: the receiver's figures and the alert a linkDown raised.
	var traps struct {
		Receiver *snmp.TrapStats `json:"receiver"`
		Alerts   []device.Alert  `json:"alerts"`
	}
	r = f.run(t.Context(), device.RoleSupport, "snmp traps --json", "")
	if err := json.Unmarshal([]byte(r.out), &traps); err != nil || traps.Receiver == nil || traps.Receiver.Listening == "" {
		t.Fatalf("snmp traps --json: %v %+v", err, r)
	}
	snmptest.Need(t, "snmptrap")
	trap := exec.Command("snmptrap", "-v2c", "-c", snmptest.Community, traps.Receiver.Listening, "", "1.3.6.1.6.3.1.1.5.3")
	trap.Env = snmptest.Env()
	if out, err := trap.CombinedOutput(); err != nil {
		t.Fatalf("snmptrap: %v %s", err, out)
	}
	devicetest.Eventually(t, snmptest.Wait, "the trap alert", func() bool { return len(drv.Alerts()) == 1 })
	r = f.run(t.Context(), device.RoleSupport, "snmp traps", "")
	if r.code != ExitOK || !strings.Contains(r.out, "taken 1") || !strings.Contains(r.out, "snmp.trap.1.3.6.1.6.3.1.1.5.3") || !strings.Contains(r.out, "agent: trap") {
		t.Fatalf("snmp traps: %+v", r)
	}

	r = f.run(t.Context(), device.RoleSupport, "config export", "")
	if strings.Contains(r.out, snmptest.Community) {
		t.Fatal("config export shows the community")
	}
}
