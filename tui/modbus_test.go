package tui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/modbus/sim"
	"github.com/sitegate/sitegate/tui/access"
)

func TestNotation(t *testing.T) {
	cases := []struct {
		table device.RegisterTable
		addr  int
		want  string
	}{
		{device.TableHolding, 0, "40001"}, {device.TableHolding, 2, "40003"}, {device.TableInput, 9, "30010"},
		{device.TableCoil, 0, "00001"}, {device.TableDiscrete, 41, "10042"}, {device.TableHolding, 9998, "49999"},
		{device.TableHolding, 9999, "410000"}, {device.TableHolding, 65535, "465536"},
	}
	for _, c := range cases {
		if got := Notation(c.table, c.addr); got != c.want {
			t.Errorf("Notation(%s, %d) = %s, want %s", c.table, c.addr, got, c.want)
		}
	}
}

// fieldEnv is an SSH test environment whose gateway polls a simulated
// device through a real engine.
func fieldEnv(t *testing.T) (*env, *sim.Server) {
	t.Helper()
	e := newEnv(t)
	srv := sim.NewServer(nil, sim.DefaultModel(), sim.WithLogger(quietLog))
	addr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	site, _ := e.gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: addr, Timeout: device.Duration(200 * time.Millisecond)}}
	site.Modbus.Devices = []device.Device{{Name: "ahu-1", Bus: "plant", UnitID: 3, Interval: device.Duration(300 * time.Millisecond),
		Points: []device.Point{
			{Name: "supply_temp", Table: device.TableHolding, Address: 2, Type: device.TypeUint16, Unit: "degC"},
			{Name: "setpoint", Table: device.TableHolding, Address: 5, Type: device.TypeUint16, Writable: true},
			{Name: "running", Table: device.TableCoil, Address: 0, Type: device.TypeBool, Writable: true},
		}}}
	if _, err := e.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: e.gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	eng := modbus.New(e.gw, modbus.Options{Logger: quietLog})
	devicetest.Run(t, eng)
	waitFor(t, "first readings", func() bool {
		rs, _ := e.gw.Readings("ahu-1")
		return len(rs) == 3 && rs[0].Quality == field.QualityGood
	})
	return e, srv
}

func TestExecModbusReadAndScan(t *testing.T) {
	e, _ := fieldEnv(t)
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
	if r := run(t, clients[device.RoleSupport], "modbus read ahu-1 running", ""); r.code != 0 || !strings.Contains(r.stdout, "running") || strings.Contains(r.stdout, "setpoint") {
		t.Fatalf("one point: %+v", r)
	}
	if r := run(t, clients[device.RoleSupport], "modbus read nope", ""); r.code != 1 || !strings.Contains(r.stderr, "no device") {
		t.Fatalf("unknown device: %+v", r)
	}
	if r := run(t, clients[device.RoleViewer], "modbus read ahu-1", ""); r.code != exitForbidden {
		t.Fatalf("viewer read: %+v", r)
	}
	if r := run(t, clients[device.RoleSupport], "modbus scan plant --to 5", ""); r.code != exitForbidden {
		t.Fatalf("support scan: %+v", r)
	}
	r = run(t, clients[device.RoleInstaller], "modbus scan plant --from 1 --to 5 --json", "")
	var found []struct {
		UnitID int `json:"unit_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &found); err != nil || len(found) != 5 || !strings.Contains(r.stderr, "5/5 units probed") {
		t.Fatalf("scan: %v %+v", err, r)
	}
	if r := run(t, clients[device.RoleInstaller], "modbus scan plant --from 0", ""); r.code != exitUsage {
		t.Fatalf("scan from 0: %+v", r)
	}
}

// The console's topology: live values, adding a point through the form
// (a new revision), the decode lab saving a type to a point, and a write
// after confirmation, audited.
func TestModbusScreen(t *testing.T) {
	e, srv := fieldEnv(t)
	key := newSigner(t)
	inst := e.addUser("ivy", device.RoleInstaller, userOpt{key: key, keyOnly: true}).Account
	c := &shared{gw: e.gw, acc: e.acc, p: access.Principal{Account: inst}, now: e.clock.Now, applySite: e.srv.applySite}
	a := newApp(c, 120, 40)
	t.Cleanup(a.close)
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	press(a, "4")
	if got := screenText(a); !strings.Contains(got, "ahu-1 [online]") || !strings.Contains(got, "supply_temp") {
		t.Fatalf("topology:\n%s", got)
	}
	// Add a point to the device (cursor on the device line).
	press(a, "down", "a")
	typeText(a, "return_temp")
	press(a, "tab", "tab")
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "7")
	for i := 0; i < 7; i++ {
		press(a, "tab")
	}
	press(a, "enter")
	site, _ := e.gw.Site()
	d, _ := site.Modbus.FindDevice("ahu-1")
	if len(d.Points) != 4 || d.Points[3].Name != "return_temp" || d.Points[3].Address != 7 {
		t.Fatalf("point not added: %+v\n%s", d.Points, screenText(a))
	}
	// An invalid point is refused with its path, nothing stored.
	_, rev := e.gw.Site()
	press(a, "a")
	typeText(a, "bad")
	press(a, "tab", "right", "right") // table: coil
	press(a, "tab", "tab", "right")   // type: int16 on a coil
	for i := 0; i < 5; i++ {
		press(a, "tab")
	}
	press(a, "enter")
	if got := screenText(a); !strings.Contains(got, "modbus.devices[0].points[4]") {
		t.Fatalf("invalid point accepted or not explained:\n%s", got)
	}
	if _, now := e.gw.Site(); now != rev {
		t.Fatal("an invalid point was stored")
	}
	press(a, "esc")

	// Decode lab from supply_temp: read 4 registers, pick int16 ABCD, save.
	press(a, "down", "l", "enter", "enter")
	_, cmd := a.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	awaitMsg(t, a, cmd, func(m tea.Msg) bool { _, ok := m.(labReadMsg); return ok })
	if got := screenText(a); !strings.Contains(got, "40003") || !strings.Contains(got, "float32") {
		t.Fatalf("decode lab:\n%s", got)
	}
	press(a, "up", "enter") // from the point's uint16 to int16, ABCD
	site, _ = e.gw.Site()
	d, _ = site.Modbus.FindDevice("ahu-1")
	if d.Points[0].Type != device.TypeInt16 || d.Points[0].Order != device.OrderABCD {
		t.Fatalf("lab choice not saved: %+v", d.Points[0])
	}

	// Write the setpoint, with confirmation; the simulator holds it.
	press(a, "down", "w")
	typeText(a, "321")
	press(a, "enter", "y")
	if v, _ := srv.Model(3).Value("hr5"); v != 321 {
		t.Fatalf("simulator holds %v after writing 321\n%s", v, screenText(a))
	}
	if got := strings.Join(e.auditActions(), " "); !strings.Contains(got, "field.write:ok") {
		t.Fatalf("write not audited: %s", got)
	}
}

func TestModbusScreenReadOnlyForSupport(t *testing.T) {
	e, _ := fieldEnv(t)
	sup := e.addUser("sue", device.RoleSupport, userOpt{key: newSigner(t), keyOnly: true}).Account
	c := &shared{gw: e.gw, acc: e.acc, p: access.Principal{Account: sup}, now: e.clock.Now, applySite: e.srv.applySite}
	a := newApp(c, 120, 40)
	t.Cleanup(a.close)
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	press(a, "4", "down", "a", "e", "d", "l", "w", "B")
	got := screenText(a)
	if strings.Contains(got, "Save") || strings.Contains(got, "Decode lab") || strings.Contains(got, "add bus") {
		t.Fatalf("support was offered an edit:\n%s", got)
	}
}
