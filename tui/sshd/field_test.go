package sshd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/cmd"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// The field commands over a real connection, against a simulated device.
func TestExecPointsReadAndModbusScan(t *testing.T) {
	e := newEnv(t)
	tuitest.FieldDevice(t, e.gw)
	clients := sessionsByRole(t, e)
	r := run(t, clients[device.RoleSupport], "modbus read ahu-1 --json", "")
	var rs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rs); err != nil || len(rs) != 3 {
		t.Fatalf("modbus read --json: %v %+v", err, r)
	}
	for _, k := range []string{"device", "point", "value", "unit", "quality", "ts"} {
		if _, ok := rs[0][k]; !ok {
			t.Errorf("reading lacks %q: %v", k, rs[0])
		}
	}
	if rs[0]["quality"] != "good" || rs[2]["value"] == nil {
		t.Errorf("readings %v", rs)
	}
	if r := run(t, clients[device.RoleSupport], "points read ahu-1 running", ""); r.code != 0 || !strings.Contains(r.stdout, "running") || strings.Contains(r.stdout, "setpoint") {
		t.Fatalf("one point: %+v", r)
	}
	if r := run(t, clients[device.RoleSupport], "modbus read nope", ""); r.code != 1 || !strings.Contains(r.stderr, "no device") {
		t.Fatalf("unknown device: %+v", r)
	}
	if r := run(t, clients[device.RoleViewer], "points read ahu-1", ""); r.code != cmd.ExitForbidden {
		t.Fatalf("viewer read: %+v", r)
	}
	if r := run(t, clients[device.RoleSupport], "modbus scan plant --to 5", ""); r.code != cmd.ExitForbidden {
		t.Fatalf("support scan: %+v", r)
	}
	r = run(t, clients[device.RoleInstaller], "modbus scan plant --from 1 --to 5 --json", "")
	var found []struct {
		UnitID int `json:"unit_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &found); err != nil || len(found) != 5 || !strings.Contains(r.stderr, "5/5 units probed") {
		t.Fatalf("scan: %v %+v", err, r)
	}
	if r := run(t, clients[device.RoleInstaller], "modbus scan plant --from 0", ""); r.code != cmd.ExitUsage {
		t.Fatalf("scan from 0: %+v", r)
	}
	if r := run(t, clients[device.RoleInstaller], "modbus write ahu-1 setpoint 1", ""); r.code != cmd.ExitUnknown {
		t.Fatalf("modbus write: %+v", r)
	}
	if r := run(t, clients[device.RoleInstaller], "points write ahu-1 setpoint 42", ""); r.code != 0 {
		t.Fatalf("points write: %+v", r)
	}
	if r := run(t, clients[device.RoleAdmin], "help", ""); r.code != 0 || !strings.Contains(r.stdout, "points write") {
		t.Fatalf("help: %+v", r)
	}
}
