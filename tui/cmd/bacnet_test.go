package cmd

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// bacnet discover, bacnet objects, bacnet devices and points read/write
// against the real driver and simulated controllers on loopback: one in
// the site, one spare that only a Who-Is finds.
func TestBACnetDiscoverObjectsAndWrite(t *testing.T) {
	f := newFixture(t)
	rig := tuitest.BACnet(t, f.gw)
	rig.Spare(t, 2002, "spare VAV", "127.0.0.3")
	ctx := t.Context()

	r := f.run(ctx, device.RoleInstaller, "bacnet discover --json", "")
	var found []map[string]any
	if err := json.Unmarshal([]byte(r.out), &found); err != nil || r.code != ExitOK {
		t.Fatalf("bacnet discover --json: %v %+v", err, r)
	}
	byInstance := map[float64]map[string]any{}
	for _, d := range found {
		byInstance[d["instance"].(float64)] = d
	}
	ctl, spare := byInstance[tuitest.BACnetControllerInstance], byInstance[2002]
	if ctl == nil || spare == nil {
		t.Fatalf("discovery did not find both devices: %v", found)
	}
	if ctl["site_device"] != tuitest.BACnetController || spare["site_device"] != nil {
		t.Errorf("site_device: controller %v, spare %v", ctl["site_device"], spare["site_device"])
	}
	if spare["name"] != "spare VAV" || spare["objects"].(float64) < 5 || spare["address"] == "" {
		t.Errorf("the spare is not described: %v", spare)
	}
	for _, key := range []string{"instance", "address", "vendor_id", "model", "objects"} {
		if _, ok := spare[key]; !ok {
			t.Errorf("discovered device lacks %s: %v", key, spare)
		}
	}
	// A viewer may not send Who-Is broadcasts onto the building's network.
	if r := f.run(ctx, device.RoleViewer, "bacnet discover", ""); r.code != ExitForbidden {
		t.Errorf("viewer's discover: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "bacnet discover --to not-an-address", ""); r.code != ExitUsage || !strings.Contains(r.err, "IPv4 address") {
		t.Errorf("discover --to garbage: %+v", r)
	}

	// The table names the spare, not in the site.
	r = f.run(ctx, device.RoleInstaller, "bacnet discover --to 127.0.0.3:"+strconv.Itoa(int(rig.Port)), "")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != ExitOK || len(lines) != 2 || !strings.HasPrefix(lines[1], "2002") || !strings.HasSuffix(strings.TrimSpace(lines[1]), "-") {
		t.Fatalf("directed discover: %+v", r)
	}

	// Objects of the site's controller, with how each site point arrives.
	r = f.run(ctx, device.RoleSupport, "bacnet objects "+tuitest.BACnetController+" --json", "")
	var objs []map[string]any
	if err := json.Unmarshal([]byte(r.out), &objs); err != nil || r.code != ExitOK {
		t.Fatalf("bacnet objects --json: %v %+v", err, r)
	}
	modes := map[string]any{}
	for _, o := range objs {
		modes[o["object"].(string)] = o["mode"]
	}
	if modes["analog-input:1"] != "cov" || modes["analog-output:1"] != "polled" {
		t.Errorf("modes: %v", modes)
	}
	// Objects of a device by instance, found by a directed Who-Is.
	r = f.run(ctx, device.RoleSupport, "bacnet objects 2002 --to 127.0.0.3:"+strconv.Itoa(int(rig.Port)), "")
	if r.code != ExitOK || !strings.Contains(r.out, "analog-input:1") || !strings.Contains(r.out, "OBJECT") {
		t.Fatalf("bacnet objects by instance: %+v", r)
	}
	if r := f.run(ctx, device.RoleSupport, "bacnet objects nosuch", ""); r.code != ExitFailure || !strings.Contains(r.err, "bacnet discover") {
		t.Errorf("objects of an unknown name: %+v", r)
	}

	r = f.run(ctx, device.RoleSupport, "bacnet devices", "")
	if r.code != ExitOK || !strings.Contains(r.out, tuitest.BACnetController) || !strings.Contains(r.out, "online") {
		t.Fatalf("bacnet devices: %+v", r)
	}

	// points write commands at a priority, points read shows it, and
	// --relinquish releases it: the simulated controller falls back to its
	// relinquish default.
	if r := f.run(ctx, device.RoleInstaller, "points write "+tuitest.BACnetController+" setpoint 23.5 --priority 8", ""); r.code != ExitOK {
		t.Fatalf("points write: %+v", r)
	}
	setpoint := func() field.Value {
		rs, err := rig.Driver.Read(ctx, tuitest.BACnetController, []string{"setpoint"})
		if err != nil || len(rs) != 1 {
			t.Fatalf("read setpoint: %v %v", err, rs)
		}
		return rs[0].Value
	}
	if v := setpoint(); v.String() != "23.5" {
		t.Fatalf("setpoint after write = %v", v)
	}
	r = f.run(ctx, device.RoleSupport, "points read "+tuitest.BACnetController+" setpoint --json", "")
	if r.code != ExitOK || !strings.Contains(r.out, "23.5") {
		t.Fatalf("points read: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "points write "+tuitest.BACnetController+" setpoint null", ""); r.code != ExitUsage || !strings.Contains(r.err, "--relinquish") {
		t.Errorf("write null: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "points write "+tuitest.BACnetController+" setpoint --relinquish --priority 8", ""); r.code != ExitOK || !strings.Contains(r.out, "relinquished") {
		t.Fatalf("relinquish: %+v", r)
	}
	devicetest.Eventually(t, tuitest.Wait, "the setpoint back at its default", func() bool { return setpoint().String() != "23.5" })
	if r := f.run(ctx, device.RoleSupport, "points write "+tuitest.BACnetController+" setpoint 20", ""); r.code != ExitForbidden {
		t.Errorf("support's write: %+v", r)
	}
	events, _ := f.gw.AuditLog().ListAudit(device.AuditFilter{})
	var writes []string
	for _, ev := range events {
		if ev.Action == string(device.ActionFieldWrite) {
			writes = append(writes, ev.Target+":"+ev.Result)
		}
	}
	if len(writes) < 2 || writes[0] != tuitest.BACnetController+".setpoint:ok" || writes[1] != writes[0] {
		t.Errorf("field.write audited %v, want the write and the relinquish", writes)
	}
}
