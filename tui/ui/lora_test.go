package ui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/semtech"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// loraState is a LoRa driver's answers frozen at a moment, so that the
// tab's goldens do not move with the radio: the values a running driver
// gives (see TestLoRaTabWithTheRealDriver for the real one), at fixed
// times before the golden clock.
type loraState struct {
	c    lora.Concentrator
	devs []lora.DeviceState
}

func (s loraState) Concentrator() lora.Concentrator { return s.c }
func (s loraState) Devices() []lora.DeviceState     { return s.devs }
func (s loraState) Plan() (band.Plan, error)        { return band.EU868() }

func goldenLoRa() loraState {
	ago := func(d time.Duration) time.Time { return goldenTime.Add(-d) }
	eui := func(n byte) lorawan.EUI64 { return lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0x01, 0x00, n} }
	battery, margin := uint8(203), int8(8)
	c := lora.Concentrator{State: lora.ServerListening, Mode: "embedded", Address: "127.0.0.1:1700", Listening: "127.0.0.1:1700",
		Since: ago(2 * time.Hour), GatewayEUI: "0016c001ff10a235",
		Forwarders:   []semtech.ForwarderStatus{{PushAddr: "127.0.0.1:41234", PullAddr: "127.0.0.1:41235", LastPush: ago(3 * time.Second), LastPull: ago(time.Second)}},
		LastPushData: ago(3 * time.Second), LastPullData: ago(time.Second),
		Received: 130, Forwarded: 127, Duplicates: 3, CRCErrors: 2,
		Server:        semtech.Stats{Datagrams: 610, Malformed: 1, BadJSON: 1, UnknownGateway: 2, RXPackets: 130, CRCErrors: 2},
		NetworkServer: &ns.Stats{Received: 127, Duplicates: 3, Joins: 3, Uplinks: 120, Downlinks: 5, Acks: 2, MICFailures: 1, Replays: 1},
	}
	tenS := device.Duration(10 * time.Second)
	devs := []lora.DeviceState{
		{DeviceStatus: ns.DeviceStatus{Name: "lora-1", DevEUI: eui(1), Activation: "otaa", Joined: true, DevAddr: "01a019b4", FCntUp: 42, FCntDown: 1,
			LastJoin: ago(20 * time.Minute), LastUplink: ago(4 * time.Second), LastFCnt: 41, RSSI: -57, SNR: 9.5, DataRate: "SF7BW125",
			Frequency: 868100000, Gateways: 1, Uplinks: 42, Downlinks: 1, Battery: &battery, Margin: &margin},
			JoinState: "joined", Class: "A", Codec: "cayenne-lpp", Interval: tenS, State: field.StateOnline, Errors: map[string]uint64{}},
		{DeviceStatus: ns.DeviceStatus{Name: "lora-2", DevEUI: eui(2), Activation: "otaa", Joined: true, DevAddr: "0065202c", FCntUp: 18,
			LastJoin: ago(20 * time.Minute), LastUplink: ago(31 * time.Second), LastFCnt: 17, RSSI: -104, SNR: -7.2, DataRate: "SF9BW125",
			Frequency: 868300000, Gateways: 2, Uplinks: 18},
			JoinState: "joined", Class: "A", Codec: "cayenne-lpp", Interval: tenS, State: field.StateDegraded,
			Errors: map[string]uint64{"decode": 2}, LastError: "cayenne lpp: channel 3: truncated value"},
		{DeviceStatus: ns.DeviceStatus{Name: "meter-7", DevEUI: eui(7), Activation: "abp", DevAddr: "26011bda", FCntUp: 1024,
			LastUplink: ago(5*time.Minute + 12*time.Second), LastFCnt: 1023, RSSI: -88, SNR: 2, DataRate: "SF8BW125", Frequency: 868500000, Gateways: 1, Uplinks: 1024},
			JoinState: "abp", Class: "A", Codec: "pulse-meter", Interval: device.Duration(5 * time.Minute), State: field.StateOnline},
		{DeviceStatus: ns.DeviceStatus{Name: "boiler-room-north-wall-sensor", DevEUI: eui(9), Activation: "otaa"},
			JoinState: "not joined", Class: "A", Codec: "cayenne-lpp", Interval: tenS, State: field.StateUnknown},
	}
	return loraState{c: c, devs: devs}
}

// loraApp is a console session of p whose LoRa tab reads src.
func (f *screenFixture) loraApp(t *testing.T, p access.Principal, theme string, w, h int, src LoRaSource) *App {
	t.Helper()
	p.Account.Theme = theme
	s := &common.Session{Ctx: t.Context(), Principal: p, Rules: f.acc, Clock: f.clock, GatewayID: f.gw.ID(), Version: "test"}
	a := New(s, Deps{Gateway: f.gw, Accounts: f.acc, LoRa: func() (LoRaSource, bool) { return src, src != nil }}, w, h)
	t.Cleanup(a.Close)
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return a
}

// loraTab returns the key of a's LoRa tab.
func loraTab(t *testing.T, a *App) string {
	t.Helper()
	return tabOf(t, a, "LoRa")
}

// tick delivers a tick to a, as the program does every second, and waits
// for the LoRa tab's reading of the driver.
func tick(t *testing.T, a *App) {
	t.Helper()
	_, cmd := a.Update(common.TickMsg(a.s.Now()))
	awaitMsg(t, a, cmd, func(m tea.Msg) bool { _, ok := m.(loraSnapshotMsg); return ok })
}

// fits fails when a screen overflows w×h.
func fits(t *testing.T, screen string, w, h int) {
	t.Helper()
	for i, line := range strings.Split(stripANSI(screen), "\n") {
		if n := len([]rune(line)); n > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i, n, w, line)
		}
	}
	if n := strings.Count(screen, "\n") + 1; n > h {
		t.Errorf("%d lines, more than %d", n, h)
	}
}

func TestLoRaScreens(t *testing.T) {
	f := newScreenFixture(t)
	admin := access.Principal{Account: f.admin}
	support, _ := f.acc.AccountByName("sam")
	off := goldenLoRa()
	off.c = lora.Concentrator{State: lora.ServerOff, Address: "127.0.0.1:1700"}
	failed := goldenLoRa()
	failed.c = lora.Concentrator{State: lora.ServerFailed, Mode: "embedded", Address: "127.0.0.1:1700", GatewayEUI: "0016c001ff10a235",
		Error: "listen for the packet forwarder on 127.0.0.1:1700: listen udp 127.0.0.1:1700: bind: address already in use"}
	for i := range failed.devs {
		failed.devs[i].State = field.StateOffline
	}
	screens := []struct {
		name string
		p    access.Principal
		src  loraState
		keys []string
	}{
		{"lora", admin, goldenLoRa(), nil},
		{"lora-selected", admin, goldenLoRa(), []string{"down", "down"}},
		{"lora-plan", admin, goldenLoRa(), []string{"p"}},
		{"lora-help", access.Principal{Account: support}, goldenLoRa(), []string{"?"}},
		{"lora-failed", admin, failed, nil},
		{"lora-off", admin, off, nil},
	}
	for _, sc := range screens {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			for _, theme := range []string{themes.Dark, themes.HighContrast} {
				name := fmt.Sprintf("%s-%dx%d-%s", sc.name, size[0], size[1], theme)
				t.Run(name, func(t *testing.T) {
					a := f.loraApp(t, sc.p, theme, size[0], size[1], sc.src)
					tick(t, a)
					press(a, loraTab(t, a))
					press(a, sc.keys...)
					got := f.mask(a.View().Content)
					fits(t, got, size[0], size[1])
					checkGolden(t, name, got)
				})
			}
		}
	}
}

// The tab is there for support and up while a driver runs; viewers and
// gateways without one have none.
func TestLoRaTabRoles(t *testing.T) {
	f := newScreenFixture(t)
	viewer, _ := f.acc.AccountByName("vic")
	support, _ := f.acc.AccountByName("sam")
	has := func(a *App) bool {
		for _, s := range a.screens {
			if s.Title() == "LoRa" {
				return true
			}
		}
		return false
	}
	if !has(f.loraApp(t, access.Principal{Account: support}, themes.Dark, 80, 24, goldenLoRa())) {
		t.Error("support has no LoRa tab")
	}
	if has(f.loraApp(t, access.Principal{Account: viewer}, themes.Dark, 80, 24, goldenLoRa())) {
		t.Error("a viewer has a LoRa tab")
	}
	if has(f.loraApp(t, access.Principal{Account: f.admin}, themes.Dark, 80, 24, nil)) {
		t.Error("a LoRa tab without a LoRa driver")
	}
	if has(f.app(t, access.Principal{Account: f.admin}, themes.Dark, 80, 24)) {
		t.Error("a LoRa tab on a gateway that runs no LoRa driver")
	}
}

// gatedLoRa counts the calls to a LoRa source and holds them until it is
// opened: Update must never wait for the driver.
type gatedLoRa struct {
	src  LoRaSource
	open chan struct{}

	mu    sync.Mutex
	calls int
}

func (g *gatedLoRa) enter() {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	<-g.open
}

func (g *gatedLoRa) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

func (g *gatedLoRa) Concentrator() lora.Concentrator { g.enter(); return g.src.Concentrator() }
func (g *gatedLoRa) Devices() []lora.DeviceState     { g.enter(); return g.src.Devices() }
func (g *gatedLoRa) Plan() (band.Plan, error)        { g.enter(); return g.src.Plan() }

// The tab on a real gateway (bbolt in a temporary directory) with the
// real LoRa driver, and lorasim playing the packet forwarder over UDP:
// the sensors' joins and uplinks show, refreshed on ticks and on their
// readings, without Update ever calling the driver.
func TestLoRaTabWithTheRealDriver(t *testing.T) {
	clk := clockwork.System
	st := storetest.New(t, store.Options{})
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-lora"})
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(gw, access.Options{Hasher: tuitest.Hasher})
	created, err := acc.AddUser(t.Context(), device.LocalActor, access.NewUser{Name: "sam", Role: device.RoleSupport, Password: tuitest.Password, AcceptPrivacy: true})
	if err != nil {
		t.Fatal(err)
	}
	rig := tuitest.LoRa(t, gw, 2)

	// The console as the SSH door builds it: the driver found through the
	// gateway.
	a := newTestApp(t, gw, acc, clk, access.Principal{Account: created.Account}, 120, 40)
	tick(t, a)
	press(a, loraTab(t, a))
	view := stripANSI(a.View().Content)
	for _, want := range []string{"Concentrator  listening · embedded", "gateway EUI    " + tuitest.LoRaGatewayEUI, "lora-1", "lora-2",
		"online", "joined", "cayenne-lpp", "Channel plan  EU868 · 868.100, 868.300, 868.500 MHz", "869.525 MHz DR0 (SF12BW125)"} {
		if !strings.Contains(view, want) {
			t.Errorf("the LoRa tab lacks %q:\n%s", want, view)
		}
	}
	fits(t, a.View().Content, 120, 40)
	if strings.Contains(view, "last PUSH_DATA never") || strings.Contains(view, "received 0 ") {
		t.Errorf("nothing heard from the packet forwarder:\n%s", view)
	}

	// Update hands the reading to a command and returns: with the driver
	// held, ticks and a LoRa device's readings are answered at once, and
	// no second reading starts while one is under way.
	gate := &gatedLoRa{src: rig.Driver, open: make(chan struct{})}
	s := &common.Session{Ctx: t.Context(), Principal: access.Principal{Account: created.Account}, Rules: acc, Clock: clk,
		Styles: themes.Get(themes.Dark), Keys: common.DefaultKeyMap()}
	sc, ok := newLoRaScreen(s, func() (LoRaSource, bool) { return gate, true })
	if !ok {
		t.Fatal("no LoRa tab")
	}
	sc.SetSize(120, 40)
	_, cmd := sc.Update(common.TickMsg(clk.Now()))
	if cmd == nil || gate.count() != 0 {
		t.Fatalf("a tick: command %v, %d calls to the driver in Update", cmd != nil, gate.count())
	}
	got := make(chan tea.Msg, 1)
	go func() { got <- cmd() }()
	for _, msg := range []tea.Msg{common.TickMsg(clk.Now()), common.EventMsg{Event: device.Event{Kind: device.EventReadings, Device: "lora-1"}}} {
		if _, again := sc.Update(msg); again != nil {
			t.Fatalf("%T started a second reading while one is under way", msg)
		}
	}
	close(gate.open)
	select {
	case m := <-got:
		sc.Update(m)
	case <-time.After(tuitest.Wait):
		t.Fatal("the reading never came")
	}
	if v := stripANSI(sc.View()); !strings.Contains(v, "lora-2") || !strings.Contains(v, "joined") {
		t.Fatalf("after the reading:\n%s", v)
	}
	// Readings of a Modbus device leave the tab alone; a LoRa device's
	// read the driver again.
	if _, cmd := sc.Update(common.EventMsg{Event: device.Event{Kind: device.EventReadings, Device: "ahu-1"}}); cmd != nil {
		t.Error("a Modbus device's readings read the LoRa driver")
	}
	if _, cmd := sc.Update(common.EventMsg{Event: device.Event{Kind: device.EventReadings, Device: "lora-2"}}); cmd == nil {
		t.Error("lora-2's readings did not refresh the tab")
	} else if _, ok := cmd().(loraSnapshotMsg); !ok {
		t.Error("lora-2's readings gave no reading of the driver")
	}
}

// With the network, LoRa and Security tabs an administrator has ten: at
// 80 columns they close up rather than lose the last ones, the tenth is
// reached with 0, and the full help says so.
func TestTenTabsFitEightyColumns(t *testing.T) {
	f := newScreenFixture(t)
	a := f.loraApp(t, access.Principal{Account: f.admin}, themes.Dark, 80, 24, goldenLoRa())
	if len(a.screens) != 9 {
		t.Fatalf("%d tabs without the network tab, want 9", len(a.screens))
	}
	a.screens = append(a.screens, a.screens[len(a.screens)-1]) // a tenth, as the network tab makes
	a.buildTabKeys()
	line := stripANSI(a.tabs())
	if w := len([]rune(line)); w > 80 || !strings.Contains(line, "0Profile") || !strings.Contains(line, "5LoRa") || !strings.Contains(line, "7Security") {
		t.Fatalf("tabs at 80 columns (%d cells): %q", w, line)
	}
	press(a, "0")
	if a.active != 9 {
		t.Fatalf("0 shows tab %d, want the tenth", a.active+1)
	}
	press(a, "?")
	if help := screenText(a); !strings.Contains(help, "0 Profile") || !strings.Contains(help, "9 Profile") {
		t.Fatalf("the full help lacks the tenth tab's key:\n%s", help)
	}
}

// BenchmarkLoRaTabView renders the tab for 1,000 devices at 120×40: the
// work of one refresh of one session.
func BenchmarkLoRaTabView(b *testing.B) {
	src := goldenLoRa()
	base := src.devs[0]
	src.devs = nil
	for i := range 1000 {
		d := base
		d.Name = fmt.Sprintf("sensor-%04d", i)
		src.devs = append(src.devs, d)
	}
	s := &common.Session{Principal: access.Principal{Account: access.Account{Role: device.RoleSupport}}, Clock: clockwork.NewFake(goldenTime),
		Styles: themes.Get(themes.Dark), Keys: common.DefaultKeyMap()}
	sc, _ := newLoRaScreen(s, func() (LoRaSource, bool) { return src, true })
	sc.SetSize(120, 36)
	sc.Update(loraSnapshotMsg{readLoRa(sc.lookup)})
	b.ReportAllocs()
	for b.Loop() {
		_ = sc.View()
	}
}
