package ui

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// The installer's path from a Who-Is to a site device, in the console,
// against the real BACnet driver and simulated controllers on loopback:
// s on the BACnet node discovers both controllers, o lists the spare's
// objects with what can be read picked, a and enter add it with them as
// one revision; o on the site's controller shows how its points arrive
// and adds the objects it does not read yet; a point's detail says COV
// or polled.
func TestBACnetDiscoverAndAddFromTheFieldTab(t *testing.T) {
	f := newLiveFixture(t)
	gw := f.gw
	rig := tuitest.BACnet(t, gw)
	rig.Spare(t, 2002, "Spare VAV", "127.0.0.3")
	a := newTestApp(t, gw, f.acc, clockwork.System, access.Principal{Account: f.user(t, "ivan", device.RoleInstaller)}, 140, 40)
	m := fieldTab(t, a)

	// The BACnet node, then s: a Who-Is.
	m.cursor = slices.IndexFunc(m.nodes, func(n node) bool { return n.kind == nodeProtocol && n.proto == field.BACnet })
	if m.cursor < 0 {
		t.Fatalf("no BACnet node in the tree: %v", m.nodes)
	}
	await(t, a, "s", func(msg tea.Msg) bool { _, ok := msg.(bacnetFoundMsg); return ok })
	view := screenText(a)
	for _, want := range []string{"BACnet devices answering on BACnet/IP", "1001", "(site: " + tuitest.BACnetController + ")", "2002", "Spare VAV"} {
		if !strings.Contains(view, want) {
			t.Fatalf("the devices found lack %q:\n%s", want, view)
		}
	}
	// The spare (sorted by instance: second), its objects.
	press(a, "down")
	await(t, a, "o", func(msg tea.Msg) bool { _, ok := msg.(bacnetObjectsMsg); return ok })
	view = screenText(a)
	if !strings.Contains(view, "Objects of device 2002") || !strings.Contains(view, "[x] analog-input:1") || strings.Contains(view, "[x] device:2002") {
		t.Fatalf("the spare's objects:\n%s", view)
	}
	picked := len(m.bn.pickedObjects())
	// The Device object cannot be picked; the first input is unpicked;
	// then a and the name form.
	press(a, "space")
	if !strings.Contains(screenText(a), "device:2002 has no present value") {
		t.Errorf("picking the Device object:\n%s", screenText(a))
	}
	press(a, "down", "space", "a")
	if m.mode != fieldForm || !strings.Contains(screenText(a), "spare_vav") {
		t.Fatalf("no name form:\n%s", screenText(a))
	}
	press(a, "enter")
	site, _ := gw.Site()
	d, ok := site.BACnet.FindDevice("spare_vav")
	if !ok {
		t.Fatalf("the device was not added:\n%s", screenText(a))
	}
	if *d.Instance != 2002 || d.Address != "127.0.0.3:"+strconv.Itoa(int(rig.Port)) || len(d.Points) != picked-1 || len(d.Points) == 0 {
		t.Fatalf("added %+v (picked %d, one unpicked)", d, picked)
	}
	if !strings.Contains(screenText(a), "added BACnet device spare_vav (instance 2002)") {
		t.Errorf("no word of the revision:\n%s", screenText(a))
	}
	// The new device reads: the driver follows the site.
	devicetest.Eventually(t, tuitest.Wait, "spare_vav online", func() bool { st, _ := gw.Field().Status("spare_vav"); return st.State == field.StateOnline })

	// The site's controller: o shows its objects with how site points
	// arrive, and a adds what it does not read yet.
	m.reload()
	m.cursor = slices.IndexFunc(m.nodes, func(n node) bool { return n.kind == nodeDevice && n.dev == tuitest.BACnetController })
	await(t, a, "o", func(msg tea.Msg) bool { _, ok := msg.(bacnetObjectsMsg); return ok })
	view = screenText(a)
	if !strings.Contains(view, "Objects of "+tuitest.BACnetController) || !strings.Contains(view, "cov") || !strings.Contains(view, "polled") {
		t.Fatalf("the controller's objects:\n%s", view)
	}
	before, _ := gw.Site()
	n := len(m.bn.pickedObjects())
	press(a, "a")
	after, _ := gw.Site()
	dev, _ := after.BACnet.FindDevice(tuitest.BACnetController)
	old, _ := before.BACnet.FindDevice(tuitest.BACnetController)
	if n == 0 || len(dev.Points) != len(old.Points)+n {
		t.Fatalf("%d objects picked; points %d → %d\n%s", n, len(old.Points), len(dev.Points), screenText(a))
	}

	// A point's detail: COV or polled.
	// The changed device has its new points and subscribes again.
	devicetest.Eventually(t, tuitest.Wait, "supply on COV again", func() bool {
		pts, _ := rig.Driver.Points(tuitest.BACnetController)
		return len(pts) == len(dev.Points) && slices.ContainsFunc(pts, func(p bacnet.PointState) bool { return p.Point == "supply" && p.Mode == bacnet.ModeCOV })
	})
	m.reload()
	m.cursor = slices.IndexFunc(m.nodes, func(n node) bool {
		return n.kind == nodePoint && n.dev == tuitest.BACnetController && n.point == "cooling_valve"
	})
	if view := screenText(a); !strings.Contains(view, "arrives") || !strings.Contains(view, "polled") {
		t.Fatalf("cooling_valve's detail:\n%s", view)
	}
	m.cursor = slices.IndexFunc(m.nodes, func(n node) bool {
		return n.kind == nodePoint && n.dev == tuitest.BACnetController && n.point == "supply"
	})
	if view := screenText(a); !strings.Contains(view, "cov, ") {
		t.Fatalf("supply's detail:\n%s", view)
	}

	// Support watches but sends no Who-Is.
	b := newTestApp(t, gw, f.acc, clockwork.System, access.Principal{Account: f.user(t, "sam", device.RoleSupport)}, 140, 40)
	ms := fieldTab(t, b)
	ms.cursor = slices.IndexFunc(ms.nodes, func(n node) bool { return n.kind == nodeProtocol && n.proto == field.BACnet })
	// The refusal is the key's command (run here, not under press's
	// deadline: the machine may be slow).
	_, cmd := b.Update(tea.KeyPressMsg{Code: 's', Text: "s"})
	var flash common.FlashMsg
	if cmd != nil {
		flash, _ = cmd().(common.FlashMsg)
	}
	if ms.mode != fieldTree || !flash.IsErr || !strings.Contains(flash.Text, "read-only for you") {
		t.Fatalf("support's s: mode %v, %+v", ms.mode, flash)
	}
}

// fieldTab shows a's Field tab and returns it.
func fieldTab(t *testing.T, a *App) *fieldScreen {
	t.Helper()
	for i, s := range a.screens {
		if m, ok := s.(*fieldScreen); ok {
			press(a, strconv.Itoa(i+1))
			return m
		}
	}
	t.Fatal("no Field tab")
	return nil
}

// await presses k and waits for the background work it starts to deliver
// a message want accepts.
func await(t *testing.T, a *App, k string, want func(tea.Msg) bool) {
	t.Helper()
	_, cmd := a.Update(tea.KeyPressMsg{Code: []rune(k)[0], Text: k})
	awaitMsg(t, a, cmd, want)
}
