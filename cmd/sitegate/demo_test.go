package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/store/storetest"
)

// The demo site names nothing off this machine: its time server and its
// buses are on loopback (the uplink is the demo's own broker, the network
// the sim backend).
func TestDemoSiteStaysOnTheMachine(t *testing.T) {
	for _, src := range [][]byte{device.DemoSiteYAML, mustRead(t, repoFile(t, "testdata/sites/demo.yaml"))} {
		site, err := device.ParseSite(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range site.Clock.NTPServers {
			host, _, err := net.SplitHostPort(s)
			if err != nil || !net.ParseIP(host).IsLoopback() {
				t.Errorf("time server %q is not on this machine", s)
			}
		}
		for _, b := range site.Modbus.Buses {
			if !loopbackTCP(b) {
				t.Errorf("bus %s at %q is not on this machine", b.Name, b.Address)
			}
		}
		if ap, err := netip.ParseAddrPort(site.CoAP.Listen); err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("the CoAP server %q is not on loopback", site.CoAP.Listen)
		}
		if site.LoRa.Running() {
			host, _, err := net.SplitHostPort(site.LoRa.EffectivePacketForwarder())
			if err != nil || !net.ParseIP(host).IsLoopback() || site.LoRa.EffectiveMode() != device.LoRaEmbedded {
				t.Errorf("LoRa is not the embedded network server on loopback: %+v", site.LoRa)
			}
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The demo's time server answers a real NTP client (beevik/ntp), with a
// response that client validates.
func TestDemoNTPAnswersAClient(t *testing.T) {
	srv := listenDemoNTP(quietLog(), "127.0.0.1:0")
	if srv == nil {
		t.Fatal("no listener")
	}
	devicetest.Run(t, runnerFunc(srv.Run))
	r, err := ntp.QueryWithOptions(srv.Addr(), ntp.QueryOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("response does not validate: %v (%+v)", err, r)
	}
	if r.ClockOffset.Abs() > time.Second || r.Stratum != 3 {
		t.Fatalf("offset %v, stratum %d", r.ClockOffset, r.Stratum)
	}
}

// runnerFunc makes a Run function a devicetest.Runner.
type runnerFunc func(ctx context.Context) error

func (f runnerFunc) Run(ctx context.Context) error { return f(ctx) }

func TestNTPReplyFields(t *testing.T) {
	req := make([]byte, ntpPacket)
	req[0] = 4<<3 | 3 // version 4, client
	req[2] = 6
	copy(req[40:], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	at := time.Date(2026, 12, 1, 9, 0, 0, 500_000_000, time.UTC)
	out, ok := ntpReply(req, at, at)
	if !ok || out[0] != 4<<3|4 || out[1] != 3 || out[2] != 6 || !bytes.Equal(out[24:32], req[40:48]) {
		t.Fatalf("reply % x", out)
	}
	if secs := binary.BigEndian.Uint32(out[40:]); int64(secs)-ntpEpochOffset != at.Unix() {
		t.Fatalf("transmit seconds %d", secs)
	}
	if frac := binary.BigEndian.Uint32(out[44:]); frac != 1<<31 {
		t.Fatalf("transmit fraction %#x, want half a second", frac)
	}
	for _, bad := range [][]byte{req[:47], append([]byte{4<<3 | 4}, req[1:]...), append([]byte{0<<3 | 3}, req[1:]...)} {
		if _, ok := ntpReply(bad, at, at); ok {
			t.Errorf("answered % x", bad[:1])
		}
	}
}

func FuzzNTPReply(f *testing.F) {
	req := make([]byte, ntpPacket)
	req[0] = 4<<3 | 3
	f.Add(req)
	f.Add([]byte{0x23})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, ok := ntpReply(b, time.Now(), time.Now())
		if ok && (len(out) != ntpPacket || out[0]&7 != 4) {
			t.Fatalf("bad reply % x", out)
		}
	})
}

// demoGateway is a gateway on a temporary store with a loopback bus at a
// free port and one meter, polled by a real engine.
func demoGateway(t *testing.T) (*device.Gateway, string) {
	t.Helper()
	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{GatewayID: "gw-demo"})
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	site, rev := gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: addr, Timeout: device.Duration(300 * time.Millisecond)}}
	site.Modbus.Devices = []device.Device{{Name: "meter", Bus: "plant", UnitID: 1, Interval: device.Duration(400 * time.Millisecond), Profile: "generic-energy-meter"}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	return gw, addr
}

func allGood(gw *device.Gateway, dev string) bool {
	rs, ok := gw.Readings(dev)
	if !ok || len(rs) == 0 {
		return false
	}
	for _, r := range rs {
		if r.Quality != field.QualityGood {
			return false
		}
	}
	return true
}

// The demo's simulator answers every device of the site, also one added
// while it runs, and spare units a scan finds with their profile's name.
func TestDemoSimFollowsTheSite(t *testing.T) {
	gw, _ := demoGateway(t)
	devices, err := newDemoSim(gw, quietLog(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	devices.sync()
	devicetest.Run(t, runnerFunc(devices.Run))
	devicetest.Run(t, modbus.New(gw, modbus.Options{Logger: quietLog()}))
	devicetest.Eventually(t, 10*time.Second, "meter read good", func() bool { return allGood(gw, "meter") })

	site, rev := gw.Site()
	if err := site.AddDevice(device.Device{Name: "ahu", Bus: "plant", UnitID: 5, Interval: device.Duration(400 * time.Millisecond),
		Points: []device.Point{{Name: "supply_temp", Table: device.TableHolding, Address: 2, Type: device.TypeFloat32, Unit: "degC"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, 10*time.Second, "a device added while the demo runs is read good", func() bool { return allGood(gw, "ahu") })

	found, err := gw.Field().Discover(t.Context(), field.Modbus, field.Query{Target: "plant", From: 1, To: 15}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.Model)
	}
	if strings.Join(got, " ") != "generic-energy-meter ahu eastron-sdm630 eastron-sdm630 carlo-gavazzi-em24 eastron-sdm72d-m" {
		t.Fatalf("scan found %v", found)
	}
}

// A restart of the demo does not change what a device reads: counters
// go on from where they were (one epoch, kept in the data directory).
func TestDemoRestartKeepsReadings(t *testing.T) {
	gw, _ := demoGateway(t)
	dir := t.TempDir()
	first, err := newDemoSim(gw, quietLog(), dir)
	if err != nil {
		t.Fatal(err)
	}
	first.sync()
	devicetest.Run(t, modbus.New(gw, modbus.Options{Logger: quietLog()}))
	energy := func() float64 {
		rs, _ := gw.Readings("meter")
		for _, r := range rs {
			if r.Point == "energy_import" && r.Quality == field.QualityGood {
				return r.Value.Num
			}
		}
		return -1
	}
	var before float64
	devicetest.Eventually(t, 10*time.Second, "a first energy reading", func() bool { before = energy(); return before > 0 })
	first.close()
	second, err := newDemoSim(gw, quietLog(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !second.epoch.Equal(first.epoch) {
		t.Fatalf("the epoch changed: %v then %v", first.epoch, second.epoch)
	}
	second.sync()
	t.Cleanup(second.close)
	devicetest.Eventually(t, 10*time.Second, "an energy reading after the restart", func() bool {
		v := energy()
		return v >= before && v < before+10
	})
	b, _ := os.ReadFile(filepath.Join(dir, demoEpochFile))
	if _, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b))); err != nil {
		t.Fatalf("epoch file %q: %v", b, err)
	}
}
