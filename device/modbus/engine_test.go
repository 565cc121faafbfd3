package modbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/modbus/sim"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func dur(d time.Duration) device.Duration { return device.Duration(d) }

// fixture is a gateway polling simulated devices through a real engine.
type fixture struct {
	t      testing.TB
	st     *store.Store
	gw     *device.Gateway
	engine *modbus.Engine
	stop   func() // stops the engine and waits for it
}

func newFixture(t testing.TB, site *device.Site, o modbus.Options) *fixture {
	t.Helper()
	st := storetest.New(t)
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		t.Fatal(err)
	}
	site.Site.Name = "Engine test"
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	o.Logger = quiet
	e := modbus.New(gw, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	devicetest.Eventually(t, 5*time.Second, "the engine attached", func() bool { return gw.Field().Driver(field.Modbus) != nil })
	return &fixture{t: t, st: st, gw: gw, engine: e, stop: stop}
}

func tcpSite(addr string, devices ...device.Device) *device.Site {
	s := device.DefaultSite()
	s.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: addr, Timeout: dur(100 * time.Millisecond)}}
	s.Modbus.Devices = devices
	return s
}

func newSim(t testing.TB, models map[uint8]*sim.Model, def *sim.Model) (*sim.Server, string) {
	t.Helper()
	srv := sim.NewServer(models, def, sim.WithLogger(quiet))
	addr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, addr
}

// waitReadings waits until cond holds for the device's readings.
func (f *fixture) waitReadings(dev string, what string, cond func(rs []field.Reading, st field.Status) bool) []field.Reading {
	f.t.Helper()
	var rs []field.Reading
	var st field.Status
	devicetest.Eventually(f.t, 15*time.Second, func() string {
		b, _ := json.MarshalIndent(struct {
			R []field.Reading
			S field.Status
		}{rs, st}, "", " ")
		return fmt.Sprintf("%s: %s", what, b)
	}, func() bool {
		rs, _ = f.gw.Readings(dev)
		for _, s := range f.gw.DeviceStatuses() {
			if s.Device == dev {
				st = s
			}
		}
		return cond(rs, st)
	})
	return rs
}

func allGood(rs []field.Reading, _ field.Status) bool {
	for _, r := range rs {
		if r.Quality != field.QualityGood {
			return false
		}
	}
	return len(rs) > 0
}

func byName(rs []field.Reading) map[string]field.Reading {
	m := map[string]field.Reading{}
	for _, r := range rs {
		m[r.Point] = r
	}
	return m
}

// Every point of a profile device is read and decoded to the simulator's
// value (the simulator's clock is frozen so the values are known).
func TestPollsAndDecodesProfileDevice(t *testing.T) {
	clock := sim.NewManualClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	meter, err := sim.ProfileModel("generic-energy-meter", sim.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	vsd, err := sim.ProfileModel("generic-vsd", sim.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	_, addr := newSim(t, map[uint8]*sim.Model{1: meter, 2: vsd}, nil)
	f := newFixture(t, tcpSite(addr,
		device.Device{Name: "meter", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Profile: "generic-energy-meter"},
		device.Device{Name: "drive", Bus: "plant", UnitID: 2, Interval: dur(200 * time.Millisecond), Profile: "generic-vsd"},
	), modbus.Options{})
	for dev, model := range map[string]*sim.Model{"meter": meter, "drive": vsd} {
		rs := f.waitReadings(dev, dev+" all good", allGood)
		for _, r := range rs {
			want, ok := model.Value(r.Point)
			if !ok {
				t.Fatalf("%s.%s not in the model", dev, r.Point)
			}
			if r.Value.IsBool {
				if r.Value.Bool != (want != 0) {
					t.Errorf("%s.%s = %v, want %v", dev, r.Point, r.Value.Bool, want)
				}
				continue
			}
			if math.Abs(r.Value.Num-want) > 1e-3*math.Max(1, math.Abs(want)) {
				t.Errorf("%s.%s = %v, want %v", dev, r.Point, r.Value.Num, want)
			}
		}
	}
	h := f.gw.Health()
	if h.Modbus.DevicesOnline != 2 || h.Modbus.DevicesTotal != 2 {
		t.Fatalf("health modbus = %+v", h.Modbus)
	}
	// Telemetry: the group commit queues every device's cycles as frames.
	if err := f.gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	recs, _ := f.st.Peek(0, 100, 0)
	fr := device.NewFrameReader(f.st)
	devices := map[string]int{}
	for _, r := range recs {
		if device.IsFrame(r) {
			rs, err := fr.Readings(r)
			if err != nil {
				t.Fatalf("telemetry record: %v", err)
			}
			for _, x := range rs {
				devices[x.Device]++
			}
		}
	}
	if devices["meter"] < 3 || devices["drive"] < 3 {
		t.Fatalf("telemetry queued per device: %v", devices)
	}
}

// An exception 2 on a merged read isolates the refused point; the rest is
// still read merged, in as few requests as before.
func TestExceptionIsolatesRefusedPoint(t *testing.T) {
	m := sim.DefaultModel()
	srv, addr := newSim(t, nil, m)
	points := []device.Point{}
	for a := 0; a < 10; a++ {
		points = append(points, device.Point{Name: "hr" + string(rune('0'+a)), Table: device.TableHolding, Address: a, Type: device.TypeUint16})
	}
	srv.SetFaults(1, sim.Faults{Illegal: []sim.Address{{Table: device.TableHolding, Address: 6}}})
	f := newFixture(t, tcpSite(addr, device.Device{Name: "ahu", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Points: points}), modbus.Options{})
	rs := f.waitReadings("ahu", "hr6 isolated", func(rs []field.Reading, _ field.Status) bool {
		good := 0
		for _, r := range rs {
			if r.Quality == field.QualityGood {
				good++
			}
		}
		return good == 9
	})
	bad := byName(rs)["hr6"]
	if bad.Quality != field.QualityError || bad.Error != "exception 2: illegal data address" {
		t.Fatalf("hr6 = %+v", bad)
	}
	// Steady state: two merged reads per cycle (0..5 and 7..9), no more.
	before := status(f, "ahu").Requests
	time.Sleep(1100 * time.Millisecond)
	after := status(f, "ahu")
	if n := after.Requests - before; n < 4 || n > 2*7 || n%2 != 0 && n > 2*6 {
		t.Fatalf("%d requests in ~5 cycles after isolation: not two merged reads per cycle", after.Requests-before)
	}
	// One point refused: the device answers, but not for everything.
	if after.State != field.StateDegraded {
		t.Fatalf("device state %s, want degraded", after.State)
	}
}

func status(f *fixture, dev string) field.Status {
	for _, s := range f.gw.DeviceStatuses() {
		if s.Device == dev {
			return s
		}
	}
	return field.Status{}
}

// A device that stops answering goes offline after three cycles, its
// points go stale with the reason, and it comes back when it answers.
func TestOfflineAndRecovery(t *testing.T) {
	srv, addr := newSim(t, nil, sim.DefaultModel())
	f := newFixture(t, tcpSite(addr, device.Device{Name: "ahu", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Timeout: dur(80 * time.Millisecond),
		Points: []device.Point{{Name: "t", Table: device.TableHolding, Address: 1, Type: device.TypeUint16}}}), modbus.Options{MaxBackoff: 400 * time.Millisecond})
	f.waitReadings("ahu", "online", func(rs []field.Reading, st field.Status) bool { return st.State == field.StateOnline })
	srv.SetFaults(1, sim.Faults{Silent: true})
	rs := f.waitReadings("ahu", "offline", func(rs []field.Reading, st field.Status) bool { return st.State == field.StateOffline })
	if rs[0].Quality != field.QualityStale || !strings.Contains(rs[0].Error, "no answer") || !rs[0].Value.Valid {
		t.Fatalf("offline reading %+v: want the last value, stale, with the reason", rs[0])
	}
	if st := status(f, "ahu"); st.Errors[modbus.KindTimeout] < 3 {
		t.Fatalf("timeouts not counted: %+v", st.Errors)
	}
	srv.SetFaults(1, sim.Faults{})
	f.waitReadings("ahu", "back online", func(rs []field.Reading, st field.Status) bool {
		return st.State == field.StateOnline && rs[0].Quality == field.QualityGood
	})
}

// After a timeout the late reply sits in the socket; goburrow would take
// it as the next answer. The engine drops the connection instead, so the
// next cycles are good.
func TestStaleReplyAfterTimeoutIsNotTakenAsAnswer(t *testing.T) {
	srv, addr := newSim(t, nil, sim.DefaultModel())
	f := newFixture(t, tcpSite(addr, device.Device{Name: "ahu", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Timeout: dur(100 * time.Millisecond),
		Points: []device.Point{{Name: "a", Table: device.TableHolding, Address: 1, Type: device.TypeUint16}, {Name: "b", Table: device.TableInput, Address: 2, Type: device.TypeUint16}}}), modbus.Options{})
	f.waitReadings("ahu", "good", allGood)
	srv.SetFaults(1, sim.Faults{Late: 250 * time.Millisecond, Times: 1})
	f.waitReadings("ahu", "the timeout", func(rs []field.Reading, st field.Status) bool { return st.Errors[modbus.KindTimeout] > 0 })
	before := status(f, "ahu")
	f.waitReadings("ahu", "good again", func(rs []field.Reading, st field.Status) bool {
		return st.Requests > before.Requests+6 && allGood(rs, st)
	})
	if st := status(f, "ahu"); st.Errors[modbus.KindFraming] > 0 {
		t.Fatalf("a stale reply was read as an answer: %+v", st.Errors)
	}
}

// A hung device costs its own bus, never another bus.
func TestHungDeviceDoesNotDelayOtherBuses(t *testing.T) {
	srvA, addrA := newSim(t, nil, sim.DefaultModel())
	_, addrB := newSim(t, nil, sim.DefaultModel())
	site := tcpSite(addrA)
	site.Modbus.Buses = append(site.Modbus.Buses, device.Bus{Name: "other", Kind: device.BusTCP, Address: addrB, Timeout: dur(100 * time.Millisecond)})
	pt := []device.Point{{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeUint16}}
	site.Modbus.Devices = []device.Device{
		{Name: "hung", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Timeout: dur(150 * time.Millisecond), Points: pt},
		{Name: "fine", Bus: "other", UnitID: 1, Interval: dur(200 * time.Millisecond), Points: pt},
	}
	srvA.SetFaults(1, sim.Faults{Silent: true})
	f := newFixture(t, site, modbus.Options{})
	start := status(f, "fine").Requests
	time.Sleep(1500 * time.Millisecond)
	got := status(f, "fine").Requests - start
	// ~7 cycles in 1.5 s; sharing the hung bus's queue would cut this to
	// about two.
	if got < 5 {
		t.Fatalf("the device on the other bus made %d requests in 1.5 s", got)
	}
}

// A site change takes effect without a restart.
func TestLiveReconfiguration(t *testing.T) {
	_, addr := newSim(t, nil, sim.DefaultModel())
	pt := []device.Point{{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeUint16}}
	site := tcpSite(addr, device.Device{Name: "one", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Points: pt})
	f := newFixture(t, site, modbus.Options{})
	f.waitReadings("one", "first device", allGood)
	next, _ := f.gw.Site()
	next.Modbus.Devices = append(next.Modbus.Devices, device.Device{Name: "two", Bus: "plant", UnitID: 2, Interval: dur(200 * time.Millisecond), Points: pt})
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: f.gw.Rev()}, next); err != nil {
		t.Fatal(err)
	}
	f.waitReadings("two", "added device", allGood)
}

func TestWriteReadRawAndScan(t *testing.T) {
	meter, _ := sim.ProfileModel("generic-vsd")
	_, addr := newSim(t, map[uint8]*sim.Model{7: meter}, nil)
	f := newFixture(t, tcpSite(addr, device.Device{Name: "drive", Bus: "plant", UnitID: 7, Interval: dur(time.Hour), Profile: "generic-vsd"}), modbus.Options{})
	ctx := context.Background()
	var setpoint string
	var spAddr int
	for _, p := range meter.Points() {
		if p.Writable && !p.Table.IsBit() {
			setpoint, spAddr = p.Name, p.Address
		}
	}
	if err := f.engine.Write(ctx, field.Write{Device: "drive", Point: setpoint, Value: field.Number(42.5)}); err != nil {
		t.Fatalf("write %s: %v", setpoint, err)
	}
	if v, _ := meter.Value(setpoint); math.Abs(v-42.5) > 0.01 {
		t.Fatalf("device holds %v after writing 42.5", v)
	}
	if err := f.engine.Write(ctx, field.Write{Device: "drive", Point: "nope", Value: field.Number(1)}); err == nil {
		t.Fatal("write to an unknown point")
	}
	words, _, err := f.engine.ReadRaw(ctx, device.RawRead{Device: "drive", Table: device.TableHolding, Address: uint16(spAddr), Count: 1})
	if err != nil || len(words) != 1 {
		t.Fatalf("raw read: %v %v", words, err)
	}
	var progress int
	found, err := f.engine.Discover(ctx, field.Query{Target: "plant", From: 1, To: 10}, func(field.Progress) { progress++ })
	if err != nil || len(found) != 1 || found[0].ID != 7 || progress != 10 {
		t.Fatalf("scan: %+v %v (progress %d)", found, err, progress)
	}
}

// A serial device that does not exist is an error on that bus only, with
// the path in the message.
func TestMissingSerialDeviceIsAnErrorOnItsBusOnly(t *testing.T) {
	_, addr := newSim(t, nil, sim.DefaultModel())
	site := tcpSite(addr)
	site.Modbus.Buses = append(site.Modbus.Buses, device.Bus{Name: "rs485", Kind: device.BusRTU, Device: "/dev/ttyNOPE9", Baud: 19200, Timeout: dur(50 * time.Millisecond)})
	pt := []device.Point{{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeUint16}}
	site.Modbus.Devices = []device.Device{
		{Name: "serial", Bus: "rs485", UnitID: 1, Interval: dur(200 * time.Millisecond), Points: pt},
		{Name: "tcp", Bus: "plant", UnitID: 1, Interval: dur(200 * time.Millisecond), Points: pt},
	}
	f := newFixture(t, site, modbus.Options{})
	f.waitReadings("tcp", "tcp device good", allGood)
	rs := f.waitReadings("serial", "serial error", func(rs []field.Reading, st field.Status) bool { return st.Errors[modbus.KindConnection] > 0 })
	if !strings.Contains(rs[0].Error, "/dev/ttyNOPE9") {
		t.Fatalf("serial error does not name the device: %+v", rs[0])
	}
}

// A device that answers every request with an exception reads nothing: it
// is never shown online, but degraded and then offline, in health too.
func TestDeviceWhoseEveryReadFailsIsNeverOnline(t *testing.T) {
	srv, addr := newSim(t, nil, sim.DefaultModel())
	points := []device.Point{
		{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeUint16},
		{Name: "b", Table: device.TableHolding, Address: 1, Type: device.TypeUint16},
	}
	srv.SetFaults(1, sim.Faults{Illegal: []sim.Address{{Table: device.TableHolding, Address: 0}, {Table: device.TableHolding, Address: 1}}})
	f := newFixture(t, tcpSite(addr, device.Device{Name: "dead", Bus: "plant", UnitID: 1, Interval: dur(150 * time.Millisecond), Points: points}), modbus.Options{})
	var seen []field.State
	f.waitReadings("dead", "offline", func(rs []field.Reading, st field.Status) bool {
		if len(seen) == 0 || seen[len(seen)-1] != st.State {
			seen = append(seen, st.State)
		}
		return st.State == field.StateOffline
	})
	for _, s := range seen {
		if s == field.StateOnline {
			t.Fatalf("states seen %v: a device reading nothing was online", seen)
		}
	}
	if h := f.gw.Health(); h.Field.DevicesOnline != 0 || h.Field.DevicesTotal != 1 || h.Modbus.DevicesTotal != 1 {
		t.Fatalf("health field %+v modbus %+v", h.Field, h.Modbus)
	}
}

// pipelinedSite is n devices behind one TCP server, each with one holding
// register, on a bus with max_in_flight set.
func pipelinedSite(t *testing.T, n, inFlight int, faults map[uint8]sim.Faults) (*fixture, *sim.Server) {
	t.Helper()
	models := map[uint8]*sim.Model{}
	var devices []device.Device
	for u := 1; u <= n; u++ {
		m := sim.DefaultModel()
		if err := m.WriteRegisters(0, []uint16{uint16(100 * u)}); err != nil {
			t.Fatal(err)
		}
		models[uint8(u)] = m
		devices = append(devices, device.Device{Name: fmt.Sprintf("d%d", u), Bus: "plant", UnitID: u, Interval: dur(200 * time.Millisecond),
			Points: []device.Point{{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeUint16}}})
	}
	srv, addr := newSim(t, models, nil)
	for u, f := range faults {
		srv.SetFaults(u, f)
	}
	site := tcpSite(addr, devices...)
	site.Modbus.Buses[0].MaxInFlight = inFlight
	return newFixture(t, site, modbus.Options{}), srv
}

// The devices due together on one connection are read one request at a
// time (max_in_flight 1) or in batches (max_in_flight 5); every answer
// reaches the device it was asked for.
func TestPipelinedDevicesGetTheirOwnAnswers(t *testing.T) {
	for _, inFlight := range []int{1, 5} {
		t.Run(fmt.Sprintf("max_in_flight=%d", inFlight), func(t *testing.T) {
			f, _ := pipelinedSite(t, 12, inFlight, nil)
			for u := 1; u <= 12; u++ {
				rs := f.waitReadings(fmt.Sprintf("d%d", u), "its value", allGood)
				if got := rs[0].Value.Num; got != float64(100*u) {
					t.Errorf("d%d read %v, want %d", u, got, 100*u)
				}
			}
			for _, st := range f.gw.DeviceStatuses() {
				if st.Errors[modbus.KindFraming]+st.Errors[modbus.KindTimeout] > 0 {
					t.Errorf("%s: errors %v", st.Device, st.Errors)
				}
			}
		})
	}
}

// A silent device among them costs its own cycle a timeout; the devices
// after it are asked again and stay online.
func TestPipelinedSilentDeviceOnlyFailsItself(t *testing.T) {
	for _, inFlight := range []int{1, 8} {
		t.Run(fmt.Sprintf("max_in_flight=%d", inFlight), func(t *testing.T) {
			f, _ := pipelinedSite(t, 8, inFlight, map[uint8]sim.Faults{3: {Silent: true}})
			f.waitReadings("d3", "offline", func(rs []field.Reading, st field.Status) bool { return st.State == field.StateOffline })
			for u := 1; u <= 8; u++ {
				if u == 3 {
					continue
				}
				name := fmt.Sprintf("d%d", u)
				rs := f.waitReadings(name, "online with its value", func(rs []field.Reading, st field.Status) bool {
					return st.State == field.StateOnline && allGood(rs, st)
				})
				if got := rs[0].Value.Num; got != float64(100*u) {
					t.Errorf("%s read %v, want %d", name, got, 100*u)
				}
			}
		})
	}
}

// A reply that comes after its timeout is never taken as the answer to
// the next device's read: the connection is dropped, and every device
// reads its own values again.
func TestLateReplyAmongDevicesIsNotTakenAsAnswer(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		t.Run(fmt.Sprintf("max_in_flight=%d", inFlight), func(t *testing.T) { lateReplyAmongDevices(t, inFlight) })
	}
}

func lateReplyAmongDevices(t *testing.T, inFlight int) {
	f, srv := pipelinedSite(t, 4, inFlight, nil)
	for u := 1; u <= 4; u++ {
		f.waitReadings(fmt.Sprintf("d%d", u), "good", allGood)
	}
	srv.SetFaults(2, sim.Faults{Late: 250 * time.Millisecond, Times: 1})
	f.waitReadings("d2", "the timeout", func(rs []field.Reading, st field.Status) bool { return st.Errors[modbus.KindTimeout] > 0 })
	for u := 1; u <= 4; u++ {
		name := fmt.Sprintf("d%d", u)
		before := status(f, name).Requests
		rs := f.waitReadings(name, "good again", func(rs []field.Reading, st field.Status) bool {
			return st.Requests > before+3 && allGood(rs, st)
		})
		if got := rs[0].Value.Num; got != float64(100*u) {
			t.Errorf("%s read %v, want %d", name, got, 100*u)
		}
		if st := status(f, name); st.Errors[modbus.KindFraming] > 0 {
			t.Errorf("%s: a stale reply was read as an answer: %v", name, st.Errors)
		}
	}
}
