package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/modbus/sim"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

func sendKey(a *App, codes ...rune) {
	for _, c := range codes {
		_, cmd := a.Update(tea.KeyPressMsg{Code: c})
		drain(a, cmd)
	}
}

// bigSite puts n devices of the SDM630 profile on bus plant (nothing
// answers: the tree is the subject) and returns the fixture.
func bigSite(t *testing.T, n int) *liveFixture {
	t.Helper()
	f := newLiveFixture(t)
	site, rev := f.gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:9"}, {Name: "roof", Kind: device.BusTCP, Address: "127.0.0.1:10"}}
	for i := 1; i <= n; i++ {
		bus := "plant"
		if i > n-2 {
			bus = "roof"
		}
		if err := site.AddDevice(device.Device{Name: fmt.Sprintf("meter-%02d", i), Bus: bus, UnitID: i, Profile: "eastron-sdm630"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	return f
}

// A tree of 60 devices starts folded; find narrows it and jumps; fold,
// unfold, collapse and expand all, page and end keys move through it.
func TestFieldTreeAtScale(t *testing.T) {
	f := bigSite(t, 60)
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "4")
	got := screenText(a)
	if !strings.Contains(got, "▸ meter-01 [unknown]") || strings.Contains(got, "voltage_l1") || !strings.Contains(got, "more (pgdn, end)") {
		t.Fatalf("a large site should start folded:\n%s", got)
	}
	// Find: meter-59 is on bus roof, 62 lines down.
	press(a, "/")
	typeText(a, "meter-59")
	got = screenText(a)
	if !strings.Contains(got, "▾ roof") || !strings.Contains(got, "meter-59") || strings.Contains(got, "meter-01") || !strings.Contains(got, "/meter-59") {
		t.Fatalf("find meter-59:\n%s", got)
	}
	press(a, "enter")
	if d := detailOf(a); !strings.Contains(d, "Device meter-59") {
		t.Fatalf("enter should go to the device found:\n%s", d)
	}
	press(a, "esc") // esc outside the find field does nothing to it
	press(a, "/")
	sendKey(a, tea.KeyEscape) // clears
	if got := screenText(a); strings.Contains(got, "/meter-59") || !strings.Contains(got, "meter-58") || !strings.Contains(detailOf(a), "Device meter-59") {
		t.Fatalf("esc should clear the find:\n%s", got)
	}
	// A point name finds the point under every device.
	press(a, "/")
	typeText(a, "frequency")
	press(a, "enter")
	if got := screenText(a); strings.Count(got, "frequency") < 10 || !strings.Contains(detailOf(a), "Device meter-01") {
		t.Fatalf("find a point:\n%s", got)
	}
	press(a, "/")
	sendKey(a, tea.KeyEscape)

	// Unfold the device under the cursor, fold it again from a point.
	sendKey(a, tea.KeyRight)
	if got := screenText(a); !strings.Contains(got, "▾ meter-01") || !strings.Contains(got, "voltage_l1") {
		t.Fatalf("→ should unfold:\n%s", got)
	}
	press(a, "down")
	sendKey(a, tea.KeyLeft)
	if got := screenText(a); !strings.Contains(got, "▸ meter-01") || !strings.Contains(detailOf(a), "Device meter-01") {
		t.Fatalf("← on a point should fold its device and go to it:\n%s", got)
	}
	press(a, "+")
	if got := screenText(a); strings.Count(got, "voltage_l1") < 1 || strings.Contains(got, "▸") {
		t.Fatalf("+ should expand all:\n%s", got)
	}
	press(a, "-")
	if got := screenText(a); strings.Contains(got, "voltage_l1") || !strings.Contains(got, "▸ meter-01") {
		t.Fatalf("- should fold the devices:\n%s", got)
	}
	press(a, "-")
	if got := screenText(a); !strings.Contains(got, "▸ plant") || !strings.Contains(got, "▸ roof") {
		t.Fatalf("a second - should fold the buses:\n%s", got)
	}
	press(a, "+", "G")
	if d := detailOf(a); !strings.Contains(d, "Point reactive_energy_export") {
		t.Fatalf("G should go to the last line:\n%s", d)
	}
	press(a, "g")
	sendKey(a, tea.KeyPgDown)
	if d := detailOf(a); !strings.Contains(d, "Device meter-02") {
		t.Fatalf("pgdn should move a page (36 lines, past meter-01's 30 points):\n%s", d)
	}
	sendKey(a, tea.KeyHome)
	if d := detailOf(a); !strings.Contains(d, "Modbus") {
		t.Fatalf("home should go to the top:\n%s", d)
	}
}

// detailOf is the right half of the field screen.
func detailOf(a *App) string {
	var out []string
	for _, l := range strings.Split(screenText(a), "\n") {
		if r := []rune(l); len(r) > 50 {
			out = append(out, string(r[48:]))
		}
	}
	return strings.Join(out, "\n")
}

// Values are rounded to the point's precision (4 digits by default) in
// the tree, with the reason next to a point in error; JSON keeps full
// precision (tested in device); devices show their success rate.
func TestFieldTreeValuesAndReasons(t *testing.T) {
	f := newLiveFixture(t)
	site, rev := f.gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:9"}}
	site.Modbus.Devices = []device.Device{{Name: "m", Bus: "plant", UnitID: 1, Points: []device.Point{
		{Name: "volts", Table: device.TableInput, Address: 0, Type: device.TypeFloat32, Unit: "V"},
		{Name: "amps", Table: device.TableInput, Address: 2, Type: device.TypeFloat32, Unit: "A", Precision: 2},
		{Name: "broken", Table: device.TableInput, Address: 4, Type: device.TypeFloat32},
	}}}
	site.ApplyDefaults()
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err := f.gw.FieldSink().Record(field.Status{Device: "m", State: field.StateDegraded, Requests: 8, SuccessRate: 0.875, Errors: map[string]uint64{}}, []field.Reading{
		{Device: "m", Point: "volts", Value: field.Number(230.123456), Unit: "V", Quality: field.QualityGood, TS: now},
		{Device: "m", Point: "amps", Value: field.Number(12.3456), Unit: "A", Quality: field.QualityGood, TS: now},
		{Device: "m", Point: "broken", Quality: field.QualityError, Error: "exception 2: illegal data address", TS: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := f.app(t, f.user(t, "sue", device.RoleSupport))
	press(a, "4")
	got := screenText(a)
	for _, want := range []string{"m [degraded 88%]", "volts 230.1 V", "amps 12 A", "broken — exception 2: illegal data"} {
		if !strings.Contains(got, want) {
			t.Errorf("tree lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "230.123") {
		t.Errorf("full precision in the tree:\n%s", got)
	}
	press(a, "down", "down", "down")
	if d := detailOf(a); !strings.Contains(d, "230.123456") {
		t.Errorf("the point's detail should show the full value:\n%s", d)
	}
	// Support is told the tree is read-only when pressing an edit key.
	press(a, "a")
	if got := screenText(a); !strings.Contains(got, "read-only for you: the permission to change the configuration needs the installer role, you are support") {
		t.Fatalf("no read-only message:\n%s", got)
	}
}

// A new device without a profile leads to its first point (saved together,
// one revision); with a profile it is saved at once; clone copies it.
func TestFieldDeviceFormNeverDeadEnds(t *testing.T) {
	f := newLiveFixture(t)
	site, rev := f.gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:9"}}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "4", "down", "a") // on the bus: a device
	typeText(a, "ahu-7")
	press(a, "enter", "enter", "enter", "enter") // name, bus, unit (1, free), interval
	if got := screenText(a); !strings.Contains(got, "none: enter its points next") {
		t.Fatalf("device form:\n%s", got)
	}
	press(a, "enter", "enter") // profile: none; max gap → submit
	if got := screenText(a); !strings.Contains(got, "First point of the new device ahu-7") {
		t.Fatalf("no point form after a device without profile:\n%s", got)
	}
	_, revBefore := f.gw.Site()
	typeText(a, "supply_temp")
	press(a, "tab", "tab")
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "40003")
	press(a, "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter")
	site, revAfter := f.gw.Site()
	d, ok := site.Modbus.FindDevice("ahu-7")
	if !ok || len(d.Points) != 1 || d.Points[0].Address != 2 || d.Points[0].Table != device.TableHolding || revAfter != revBefore+1 {
		t.Fatalf("device with its first point: %+v (revisions %d → %d)\n%s", d, revBefore, revAfter, screenText(a))
	}
	if got := screenText(a); !strings.Contains(got, "a adds more points") || !strings.Contains(got, "▾ ahu-7") {
		t.Fatalf("after saving:\n%s", got)
	}

	// Clone it: the copy gets the next free unit.
	press(a, "c") // the cursor is on the new device
	if got := screenText(a); !strings.Contains(got, "ahu-7-copy") {
		t.Fatalf("clone form:\n%s", got)
	}
	press(a, "enter", "enter")
	site, _ = f.gw.Site()
	if c, ok := site.Modbus.FindDevice("ahu-7-copy"); !ok || c.UnitID != 2 || len(c.Points) != 1 {
		t.Fatalf("clone: %+v\n%s", c, screenText(a))
	}
	// A clone onto a used unit is refused in words, nothing stored.
	_, rev = f.gw.Site()
	press(a, "c")
	press(a, "tab")
	a.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	typeText(a, "1")
	press(a, "enter")
	if got := screenText(a); !strings.Contains(got, "the unit id is already used on this line by ahu-7") {
		t.Fatalf("clone onto unit 1:\n%s", got)
	}
	if _, now := f.gw.Site(); now != rev {
		t.Fatal("a refused clone was stored")
	}
}

// Add from scan: the units found, with profiles guessed from their
// identification, are added as one revision.
func TestFieldAddFromScan(t *testing.T) {
	f := newLiveFixture(t)
	models := map[uint8]*sim.Model{}
	for u, p := range map[uint8]string{1: "eastron-sdm630", 2: "eastron-sdm630", 5: "carlo-gavazzi-em24", 7: "generic-vsd"} {
		m, err := sim.ProfileModel(p)
		if err != nil {
			t.Fatal(err)
		}
		models[u] = m
	}
	srv := sim.NewServer(models, nil, sim.WithLogger(tuitest.Quiet))
	addr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	site, rev := f.gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: addr, Timeout: device.Duration(200 * time.Millisecond)}}
	// Unit 7 is a device already.
	site.Modbus.Devices = []device.Device{{Name: "vsd", Bus: "plant", UnitID: 7, Profile: "generic-vsd"}}
	site.ApplyDefaults()
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, modbus.New(f.gw, modbus.Options{Logger: tuitest.Quiet}))
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "4", "down")
	_, cmd := a.Update(tea.KeyPressMsg{Code: 's', Text: "s"})
	awaitMsg(t, a, cmd, func(m tea.Msg) bool { _, ok := m.(scanDoneMsg); return ok })
	if got := screenText(a); !strings.Contains(got, "4 unit(s) answered") || !strings.Contains(got, "a adds the units found") {
		t.Fatalf("scan result:\n%s", got)
	}
	press(a, "a")
	got := screenText(a)
	for _, want := range []string{"Unit 1 name", "eastron-sdm630-1", "sitegate eastron-sdm630", "Unit 5 profile", "carlo-gavazzi-em24", "units 7 (vsd)"} {
		if !strings.Contains(got, want) {
			t.Errorf("add form lacks %q:\n%s", want, got)
		}
	}
	_, before := f.gw.Site()
	// Skip unit 2 (its profile back to skip), keep the guesses of 1 and 5.
	press(a, "tab", "tab", "tab")
	sendKey(a, tea.KeyLeft, tea.KeyLeft) // unit 2: eastron-sdm630, carlo-gavazzi-em24, skip
	for range 3 {
		press(a, "tab")
	}
	press(a, "enter")
	site, after := f.gw.Site()
	if after != before+1 {
		t.Fatalf("the units were not added as one revision (%d → %d)\n%s", before, after, screenText(a))
	}
	for name, unit := range map[string]int{"eastron-sdm630-1": 1, "carlo-gavazzi-em24-5": 5} {
		if d, ok := site.Modbus.FindDevice(name); !ok || d.UnitID != unit {
			t.Errorf("device %s: %+v", name, d)
		}
	}
	if _, ok := site.Modbus.FindDevice("eastron-sdm630-2"); ok {
		t.Error("a skipped unit was added")
	}
	if got := screenText(a); !strings.Contains(got, "added 2 devices") {
		t.Fatalf("after adding:\n%s", got)
	}
}

// The report action shows the signed report.
func TestFieldReport(t *testing.T) {
	f := bigSite(t, 3)
	key, err := device.LoadReportKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.gw.SetReportKey(key)
	a := f.app(t, f.user(t, "sue", device.RoleSupport))
	press(a, "4")
	_, cmd := a.Update(tea.KeyPressMsg{Code: 'R', Text: "R"})
	awaitMsg(t, a, cmd, func(m tea.Msg) bool { _, ok := m.(reportMsg); return ok })
	got := screenText(a)
	if !strings.Contains(got, "Commissioning report") || !strings.Contains(got, "gw-test") || !strings.Contains(got, "meter-01") {
		t.Fatalf("report:\n%s", got)
	}
	press(a, "esc")
	if !strings.Contains(screenText(a), "▾ modbus") {
		t.Fatal("esc should leave the report")
	}
}

// A progress message that arrives after the scan's result does not
// overwrite it.
func TestScanProgressAfterResult(t *testing.T) {
	f := bigSite(t, 1)
	a := f.app(t, f.user(t, "ivy", device.RoleInstaller))
	press(a, "4")
	m := a.screens[a.active].(*fieldScreen)
	m.mode, m.scan = fieldScan, scanState{bus: "plant", running: true, cancel: func() {}}
	ch := make(chan field.Progress)
	close(ch)
	a.Update(scanDoneMsg{text: "2 unit(s) answered on plant", found: []field.Found{{ID: 1}, {ID: 2}}})
	a.Update(scanProgressMsg{p: field.Progress{Current: 247, Done: 247, Total: 247, Found: 2}, ch: ch})
	if got := screenText(a); !strings.Contains(got, "2 unit(s) answered on plant") || strings.Contains(got, "scanning plant") {
		t.Fatalf("the result was overwritten:\n%s", got)
	}
}
