package bacnet_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// recorder remembers every socket the driver asked for.
type recorder struct {
	mu    sync.Mutex
	asked []string
}

func (r *recorder) listen(ctx context.Context, addr string, reuse bool) (net.PacketConn, error) {
	r.mu.Lock()
	r.asked = append(r.asked, addr)
	r.mu.Unlock()
	return ephemeral(ctx, addr, reuse)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.asked...)
}

// README requirement 13: the BACnet/IP port opens only when the site
// configures BACnet/IP, on the configured address only, and closes when
// the section is gone.
func TestPortOpensOnlyWhenUsed(t *testing.T) {
	rec := &recorder{}
	s := loopbackSim(t, bacnetsim.Config{Instance: 1201})
	f := startGateway(t, device.DefaultSite(), bacnet.Options{Listen: rec.listen})
	if got := rec.all(); len(got) != 0 || len(f.drv.State().Links) != 0 {
		t.Fatalf("a site without bacnet opened %v", got)
	}
	// The address opens the port, so that an installer can discover the
	// devices before any is in the site.
	f.edit(func(site *device.Site) { site.BACnet.Address, site.BACnet.DeviceInstance = "127.0.0.1", intp(4000001) })
	local := f.ipLocal()
	got := rec.all()
	if len(got) != 2 || got[0] != "127.0.0.1:47808" || !strings.HasPrefix(got[1], "127.255.255.255:") || local.Addr().String() != "127.0.0.1" {
		t.Fatalf("opened %v, bound %s", got, local)
	}
	f.edit(func(site *device.Site) {
		site.BACnet.Devices = []device.BACnetDevice{simDevice("ahu", s, 1201, device.BACnetPoint{Name: "supply", Object: "analog-input:1"})}
	})
	f.reading("ahu", "supply", "read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	// Removing the section closes the port.
	f.edit(func(site *device.Site) { site.BACnet = device.BACnet{} })
	devicetest.Eventually(t, wait, "the port closed", func() bool { return len(f.drv.State().Links) == 0 })
	if c, err := net.ListenPacket("udp4", local.String()); err != nil {
		t.Fatalf("the port is still taken: %v", err)
	} else {
		c.Close()
	}
}

// Site changes apply without a restart: a device's points change, a
// device is added and one removed, the port moves; unchanged devices
// keep their poller (and their subscriptions).
func TestFollowsSiteChanges(t *testing.T) {
	a := loopbackSim(t, bacnetsim.Config{Instance: 1301})
	b := loopbackSim(t, bacnetsim.Config{Instance: 1302})
	devA := simDevice("a", a, 1301, device.BACnetPoint{Name: "supply", Object: "analog-input:1"})
	devA.COV = true
	f := startGateway(t, ipSite(devA), bacnet.Options{})
	f.reading("a", "supply", "a read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	devicetest.Eventually(t, wait, "a on COV", func() bool { p, _ := f.drv.Points("a"); return p[0].Mode == bacnet.ModeCOV })
	first := f.ipLocal()

	f.edit(func(s *device.Site) {
		s.BACnet.Devices = append(s.BACnet.Devices, simDevice("b", b, 1302, device.BACnetPoint{Name: "outside", Object: "analog-input:3"}))
	})
	f.reading("b", "outside", "b read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	if p, _ := f.drv.Points("a"); p[0].Mode != bacnet.ModeCOV || p[0].Notifications == 0 {
		t.Fatalf("a's subscription was not kept: %+v", p[0])
	}
	f.edit(func(s *device.Site) {
		s.BACnet.Devices[1].Points = append(s.BACnet.Devices[1].Points, device.BACnetPoint{Name: "mode", Object: "multi-state-value:1"})
	})
	f.reading("b", "mode", "b's new point", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Value.Num == 4 })
	f.edit(func(s *device.Site) { s.BACnet.Devices = s.BACnet.Devices[1:] })
	devicetest.Eventually(t, wait, "a gone", func() bool { _, ok := f.drv.Points("a"); return !ok })
	if _, ok := f.gw.Readings("a"); ok {
		t.Fatal("a still has readings")
	}
	// A new port: the link is opened afresh and b found again.
	f.edit(func(s *device.Site) { s.BACnet.Port = 47809 })
	devicetest.Eventually(t, wait, "the port reopened", func() bool {
		st := f.drv.State()
		return len(st.Links) == 1 && st.Links[0].Running && st.Links[0].Local != first.String()
	})
	_ = b.Set(oid("analog-input:3"), 77, false)
	f.reading("b", "outside", "b read on the new port", func(r field.Reading) bool { return r.Value.Num == 77 })
}

// A device that refuses SubscribeCOV is polled, and says why.
func TestCOVRefusedFallsBackToPolling(t *testing.T) {
	s := loopbackSim(t, bacnetsim.Config{Instance: 1401, NoCOV: true})
	dev := simDevice("old", s, 1401, device.BACnetPoint{Name: "supply", Object: "analog-input:1"})
	dev.COV = true
	f := startGateway(t, ipSite(dev), bacnet.Options{})
	f.reading("old", "supply", "read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	p, _ := f.drv.Points("old")
	if p[0].Mode != bacnet.ModePolled || !p[0].WantsCOV || !strings.Contains(p[0].Why, "cov refused: ") || !strings.Contains(p[0].Why, "unrecognized-service") {
		t.Fatalf("%+v", p[0])
	}
	_ = s.Set(oid("analog-input:1"), 55, false)
	f.reading("old", "supply", "polled change", func(r field.Reading) bool { return r.Value.Num == 55 })
}

// A device that stops answering goes degraded, then offline, its
// readings stale with why; when it answers again it is online, and its
// COV points are read at once.
func TestOfflineAndBack(t *testing.T) {
	s := loopbackSim(t, bacnetsim.Config{Instance: 1501})
	dev := simDevice("ahu", s, 1501, device.BACnetPoint{Name: "supply", Object: "analog-input:1"}, device.BACnetPoint{Name: "setpoint", Object: "analog-value:1", COV: new(bool)})
	dev.COV = true
	f := startGateway(t, ipSite(dev), bacnet.Options{MaxBackoff: time.Second})
	f.reading("ahu", "supply", "read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	f.reading("ahu", "setpoint", "read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	// Pause the device: a second simulated device takes over its address
	// later; meanwhile nothing answers there.
	addr := s.addr
	stopSim(t, s)
	r := f.reading("ahu", "setpoint", "stale", func(r field.Reading) bool { return r.Quality == field.QualityStale })
	if !strings.Contains(r.Error, "no answer from the device") || r.Value.Num != 18 {
		t.Fatalf("stale reading %+v", r)
	}
	devicetest.Eventually(t, 3*wait, "offline", func() bool { return f.state("ahu").State == field.StateOffline })
	if st := f.state("ahu"); st.Errors["timeout"] == 0 || st.SuccessRate == 1 {
		t.Fatalf("status %+v", st)
	}
	f.reading("ahu", "supply", "a COV point stale too", func(r field.Reading) bool { return r.Quality == field.QualityStale })
	back := startSim(t, bacnetsim.Config{Instance: 1501}, bacnet.Binding{Local: addr})
	_ = back.Set(oid("analog-input:1"), 12.25, false)
	devicetest.Eventually(t, 3*wait, "online again", func() bool { return f.state("ahu").State == field.StateOnline })
	f.reading("ahu", "supply", "the COV point read again", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Value.Num == 12.25 })
	// The restarted device forgot the subscription: the gateway made it
	// again, so a change arrives by COV.
	devicetest.Eventually(t, wait, "subscribed again", func() bool { p, _ := f.drv.Points("ahu"); return p[0].Mode == bacnet.ModeCOV })
	_ = back.Set(oid("analog-input:1"), 13.5, false)
	f.reading("ahu", "supply", "a COV change after the outage", func(r field.Reading) bool { return r.Value.Num == 13.5 })
}
