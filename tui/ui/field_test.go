package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
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

// liveFixture is a gateway on the real clock, for screens that talk to
// running subsystems (a simulated Modbus device, the network on the sim
// backend).
type liveFixture struct {
	gw  *device.Gateway
	acc *access.Service
}

func newLiveFixture(t *testing.T) *liveFixture {
	t.Helper()
	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		t.Fatal(err)
	}
	return &liveFixture{gw: gw, acc: access.New(gw, access.Options{Hasher: tuitest.Hasher})}
}

// user adds an account that logs in with a key.
func (f *liveFixture) user(t *testing.T, name string, role device.Role) access.Account {
	t.Helper()
	key := string(gossh.MarshalAuthorizedKey(tuitest.NewSigner(t).PublicKey()))
	c, err := f.acc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: name, Role: role, PublicKeys: []string{key}, AcceptPrivacy: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.Account
}

func (f *liveFixture) app(t *testing.T, a access.Account) *App {
	t.Helper()
	return newTestApp(t, f.gw, f.acc, clockwork.System, access.Principal{Account: a}, 120, 40)
}

// The console's topology: live values, adding a point through the form
// (a new revision), the decode lab saving a type to a point, and a write
// after confirmation, audited.
func TestFieldScreenModbus(t *testing.T) {
	f := newLiveFixture(t)
	srv := tuitest.FieldDevice(t, f.gw)
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "4")
	if got := screenText(a); !strings.Contains(got, "▾ modbus") || !strings.Contains(got, "ahu-1 [online 100%]") || !strings.Contains(got, "supply_temp") {
		t.Fatalf("field tree:\n%s", got)
	}
	// Add a point to the device (cursor on the device line).
	press(a, "down", "down", "a")
	typeText(a, "return_temp")
	press(a, "tab", "tab")
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "7")
	for i := 0; i < 7; i++ {
		press(a, "tab")
	}
	press(a, "enter")
	site, _ := f.gw.Site()
	d, _ := site.Modbus.FindDevice("ahu-1")
	if len(d.Points) != 4 || d.Points[3].Name != "return_temp" || d.Points[3].Address != 7 {
		t.Fatalf("point not added: %+v\n%s", d.Points, screenText(a))
	}
	// An invalid point is refused with its path, nothing stored.
	_, rev := f.gw.Site()
	press(a, "a")
	typeText(a, "bad")
	press(a, "tab", "right", "right") // table: coil
	press(a, "tab", "tab", "right")   // type: int16 on a coil
	for i := 0; i < 6; i++ {
		press(a, "tab")
	}
	press(a, "enter")
	if got := screenText(a); !strings.Contains(got, "modbus.devices[0].points[4]") {
		t.Fatalf("invalid point accepted or not explained:\n%s", got)
	}
	if _, now := f.gw.Site(); now != rev {
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
	site, _ = f.gw.Site()
	d, _ = site.Modbus.FindDevice("ahu-1")
	if d.Points[0].Type != device.TypeInt16 || d.Points[0].Order != device.OrderABCD {
		t.Fatalf("lab choice not saved: %+v", d.Points[0])
	}

	// Write the setpoint, with confirmation; the write runs in the
	// background and the simulator holds it.
	press(a, "down", "w")
	typeText(a, "321")
	press(a, "enter")
	_, cmd = a.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	awaitMsg(t, a, cmd, func(m tea.Msg) bool { _, ok := m.(writeDoneMsg); return ok })
	if v, _ := srv.Model(3).Value("hr5"); v != 321 {
		t.Fatalf("simulator holds %v after writing 321\n%s", v, screenText(a))
	}
	if !strings.Contains(screenText(a), "Wrote 321 to ahu-1.setpoint") {
		t.Fatalf("write result not shown:\n%s", screenText(a))
	}
	if got := auditTrail(t, f.gw); !strings.Contains(got, "field.write:ok") {
		t.Fatalf("write not audited: %s", got)
	}
}

// auditTrail is the audit log's actions and results, in order.
func auditTrail(t *testing.T, gw *device.Gateway) string {
	t.Helper()
	events, err := gw.AuditLog().ListAudit(device.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Action+":"+e.Result)
	}
	return strings.Join(out, " ")
}

func TestFieldScreenReadOnlyForSupport(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.FieldDevice(t, f.gw)
	a := f.app(t, f.user(t, "sue", device.RoleSupport))
	press(a, "4", "down", "down", "a", "e", "d", "l", "w", "B")
	got := screenText(a)
	if strings.Contains(got, "Save") || strings.Contains(got, "Decode lab") || strings.Contains(got, "add bus") {
		t.Fatalf("support was offered an edit:\n%s", got)
	}
}

// Editing a bus in the console keeps what the form does not show: a TCP
// bus's max_in_flight.
func TestBusFormKeepsMaxInFlight(t *testing.T) {
	f := newLiveFixture(t)
	tuitest.FieldDevice(t, f.gw)
	site, rev := f.gw.Site()
	site.Modbus.Buses[0].MaxInFlight = 8
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "4")
	m := fieldTab(t, a)
	m.reload()
	b, _ := site.Modbus.FindBus("plant")
	m.openBusForm(b, "plant")
	for range 6 {
		press(a, "tab")
	}
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "250ms")
	press(a, "tab", "enter")
	after, _ := f.gw.Site()
	got, _ := after.Modbus.FindBus("plant")
	if got.Timeout != device.Duration(250*time.Millisecond) || got.MaxInFlight != 8 {
		t.Fatalf("bus after the edit: %+v\n%s", got, screenText(a))
	}
}
