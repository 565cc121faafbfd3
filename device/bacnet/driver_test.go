package bacnet_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/store"
)

func ahuPoints() []device.BACnetPoint {
	no := false
	return []device.BACnetPoint{
		{Name: "supply", Object: "analog-input:1"},
		{Name: "outside", Object: "0:3", Unit: "C"},
		{Name: "filter", Object: "binary-input:1"},
		{Name: "setpoint", Object: "analog-value:1", Writable: true, Priority: 8, COV: &no},
		{Name: "fan", Object: "binary-output:1", Writable: true, Priority: 10},
		{Name: "mode", Object: "multi-state-value:1", Writable: true},
		{Name: "setpoint_default", Object: "analog-value:1", Property: "relinquish-default"},
	}
}

// A device is polled by RPM and subscribed to by COV point by point; the
// units come from the device; a change on the device reaches the
// readings by COV.
func TestPollsAndSubscribes(t *testing.T) {
	s := loopbackSim(t, bacnetsim.Config{Instance: 1001})
	dev := simDevice("ahu", s, 1001, ahuPoints()...)
	dev.COV = true
	f := startGateway(t, ipSite(dev), bacnet.Options{})

	r := f.reading("ahu", "supply", "a good supply temperature in degC", func(r field.Reading) bool {
		return r.Quality == field.QualityGood && r.Unit == "degC" && r.Value.Valid
	})
	if r.Value.Num < 13 || r.Value.Num > 19 {
		t.Fatalf("supply %v", r.Value)
	}
	f.reading("ahu", "outside", "the site's unit wins", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Unit == "C" })
	f.reading("ahu", "filter", "a boolean", func(r field.Reading) bool { return r.Value.IsBool && r.Quality == field.QualityGood })
	f.reading("ahu", "mode", "state 4", func(r field.Reading) bool { return r.Value.Num == 4 && !r.Value.IsBool })
	f.reading("ahu", "setpoint_default", "relinquish default 18", func(r field.Reading) bool { return r.Value.Num == 18 })
	devicetest.Eventually(t, wait, "ahu online", func() bool { return f.state("ahu").State == field.StateOnline })

	pts, ok := f.drv.Points("ahu")
	if !ok {
		t.Fatal("no points")
	}
	want := map[string]bacnet.Mode{"supply": bacnet.ModeCOV, "outside": bacnet.ModeCOV, "filter": bacnet.ModeCOV,
		"setpoint": bacnet.ModePolled, "fan": bacnet.ModeCOV, "mode": bacnet.ModeCOV, "setpoint_default": bacnet.ModePolled}
	for _, p := range pts {
		if p.Mode != want[p.Point] {
			t.Errorf("%s: %s, want %s (%s)", p.Point, p.Mode, want[p.Point], p.Why)
		}
	}
	if err := s.Set(oid("analog-input:1"), 42.5, false); err != nil {
		t.Fatal(err)
	}
	f.reading("ahu", "supply", "42.5 by COV", func(r field.Reading) bool { return r.Value.Num == 42.5 })
	devs := f.drv.Devices()
	if len(devs) != 1 || devs[0].COV != 5 || devs[0].Polled != 2 || !devs[0].Found || !devs[0].Static {
		t.Fatalf("devices %+v", devs)
	}
	pts, _ = f.drv.Points("ahu")
	if pts[0].Notifications == 0 || pts[0].LastCOV.IsZero() {
		t.Fatalf("supply %+v", pts[0])
	}
}

// Status flags: a fault is an error reading that names the reliability,
// out of service is stale; both by polling and by COV.
func TestQualityFromStatusFlags(t *testing.T) {
	s := loopbackSim(t, bacnetsim.Config{Instance: 1002})
	no := false
	dev := simDevice("ahu", s, 1002, device.BACnetPoint{Name: "polled", Object: "analog-input:2", COV: &no}, device.BACnetPoint{Name: "cov", Object: "analog-input:1"})
	dev.COV = true
	f := startGateway(t, ipSite(dev), bacnet.Options{})
	f.reading("ahu", "polled", "good", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	f.reading("ahu", "cov", "good", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	_ = s.Set(oid("analog-input:2"), 1, true)
	_ = s.Set(oid("analog-input:1"), 1, true)
	r := f.reading("ahu", "polled", "a fault", func(r field.Reading) bool { return r.Quality == field.QualityError })
	if r.Error != "fault: unreliable-other" || r.Value.Num != 1 {
		t.Fatalf("polled fault: %+v", r)
	}
	f.reading("ahu", "cov", "a fault by COV", func(r field.Reading) bool {
		return r.Quality == field.QualityError && strings.HasPrefix(r.Error, "fault")
	})
	devicetest.Eventually(t, wait, "degraded", func() bool {
		return f.state("ahu").State == field.StateOffline || f.state("ahu").State == field.StateDegraded
	})
	_ = s.Set(oid("analog-input:2"), 2, false)
	_ = s.Set(oid("analog-input:1"), 2, false)
	f.reading("ahu", "polled", "good again", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Value.Num == 2 })
	f.reading("ahu", "cov", "good again", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Value.Num == 2 })
}

// Writes command at the write's priority, else the point's; a write of
// no value relinquishes; every write is audited as field.write.
func TestWritesWithPriorityAndRelinquish(t *testing.T) {
	s := loopbackSim(t, bacnetsim.Config{Instance: 1003})
	f := startGateway(t, ipSite(simDevice("ahu", s, 1003, ahuPoints()...)), bacnet.Options{})
	f.reading("ahu", "setpoint", "the setpoint", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	ctx := context.Background()
	actor := device.Actor{ID: "u-1", Role: "installer"}
	write := func(point string, v field.Value, prio int) error {
		return f.gw.WritePoint(ctx, actor, field.Write{Device: "ahu", Point: point, Value: v, Priority: prio})
	}
	if err := write("setpoint", field.Number(23.5), 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Value(oid("analog-value:1")); v != 23.5 {
		t.Fatalf("setpoint on the device %v", v)
	}
	// The write is read back at once.
	if rs, _ := f.gw.Readings("ahu"); rs[3].Value.Num != 23.5 {
		t.Fatalf("readback %+v", rs[3])
	}
	// A higher priority wins; relinquishing it falls back to priority 8.
	if err := write("setpoint", field.Number(30), 4); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Value(oid("analog-value:1")); v != 30 {
		t.Fatalf("setpoint at 4: %v", v)
	}
	if err := write("setpoint", field.Value{}, 4); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Value(oid("analog-value:1")); v != 23.5 {
		t.Fatalf("after relinquishing 4: %v", v)
	}
	if err := write("setpoint", field.Value{}, 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Value(oid("analog-value:1")); v != 18 {
		t.Fatalf("all relinquished: %v, want the relinquish default 18", v)
	}
	if err := write("fan", field.Boolean(true), 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Value(oid("binary-output:1")); v != 1 {
		t.Fatalf("fan %v", v)
	}
	if err := write("mode", field.Number(2), 0); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		point string
		v     field.Value
		want  string
	}{
		{"fan", field.Number(3), "binary: write true or false"},
		{"mode", field.Number(0), "state number"},
		{"setpoint", field.Boolean(true), "analog: write a number"},
		{"supply", field.Number(1), "read-only"},
	} {
		if err := write(bad.point, bad.v, 0); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("write %v to %s: %v, want %q", bad.v, bad.point, err, bad.want)
		}
	}
	evs := f.audit(device.ActionFieldWrite)
	if len(evs) != 10 || evs[0].Target != "ahu.setpoint" || evs[0].Actor != "u-1" || evs[2].Detail != "relinquish priority 4" || evs[9].Result != string(device.ResultFailed) {
		t.Fatalf("audit: %+v", evs)
	}
}

// A device without an address is found by a Who-Is broadcast: here a
// simulated device on another loopback address and the gateway's own
// port, both hearing 127.255.255.255 through their broadcast sockets.
func TestFindsDeviceByWhoIs(t *testing.T) {
	dev := device.BACnetDevice{Name: "ahu", Instance: intp(1004), Interval: device.Duration(time.Second),
		Points: []device.BACnetPoint{{Name: "supply", Object: "analog-input:1"}}}
	f := startGateway(t, ipSite(dev), bacnet.Options{})
	port := f.ipLocal().Port()
	st := f.drv.State().Links[0]
	if st.Broadcast != netip.AddrPortFrom(netip.MustParseAddr("127.255.255.255"), port).String() || st.BroadcastError != "" {
		t.Fatalf("broadcast socket: %+v", st)
	}
	startSim(t, bacnetsim.Config{Instance: 1004}, bacnet.Binding{
		Local:     netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port),
		Broadcast: netip.AddrPortFrom(netip.MustParseAddr("127.255.255.255"), port)})
	f.reading("ahu", "supply", "found by who-is", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	devs := f.drv.Devices()
	if !devs[0].Found || devs[0].Static || devs[0].Address != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port).String() {
		t.Fatalf("device %+v", devs[0])
	}
	found, err := f.drv.DiscoverDevices(context.Background(), bacnet.DiscoverQuery{}, nil)
	if err != nil || len(found) != 1 || found[0].Instance != 1004 || found[0].Vendor != "sitegate simulator" || found[0].Objects != 9 || found[0].Site != "ahu" {
		t.Fatalf("discover: %+v %v", found, err)
	}
}

// audit returns the audit events of one action.
func (f *fixture) audit(action device.Action) []store.AuditEvent {
	f.t.Helper()
	all, err := f.gw.AuditLog().ListAudit(store.AuditFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range all {
		if e.Action == string(action) {
			out = append(out, e)
		}
	}
	return out
}

var _ = errors.Is
