package bacnet_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

const wait = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ephemeral stands in for the driver's ListenUDP: the site's port (47808)
// becomes port 0, so tests never use a fixed port; a broadcast socket is
// opened as asked (on the port the unicast one got).
func ephemeral(ctx context.Context, addr string, reuse bool) (net.PacketConn, error) {
	if !reuse {
		ap := netip.MustParseAddrPort(addr)
		addr = netip.AddrPortFrom(ap.Addr(), 0).String()
	}
	return bacnet.ListenUDP(ctx, addr, reuse)
}

// fixture is a real gateway on a real bbolt file with the BACnet driver.
type fixture struct {
	t    testing.TB
	gw   *device.Gateway
	drv  *bacnet.Driver
	stop func()
}

// startGateway stores site and runs the driver until the test ends.
func startGateway(t testing.TB, site *device.Site, o bacnet.Options) *fixture {
	t.Helper()
	site.Site.Name = "BACnet test"
	gw := devicetest.Gateway(t, site)
	if o.Logger == nil {
		o.Logger = quiet
	}
	if o.Listen == nil {
		o.Listen = ephemeral
	}
	if o.DiscoverWait == 0 {
		o.DiscoverWait = 500 * time.Millisecond
	}
	drv := bacnet.NewDriver(gw, o)
	stop := devicetest.Start(t, drv)
	devicetest.Eventually(t, wait, "the driver attached", func() bool { return gw.Field().Driver(field.BACnet) != nil })
	return &fixture{t: t, gw: gw, drv: drv, stop: stop}
}

// edit changes the site as an installer would.
func (f *fixture) edit(fn func(s *device.Site)) {
	f.t.Helper()
	if _, err := f.gw.EditSite(device.LocalActor, "config.change", func(s *device.Site) error { fn(s); return nil }); err != nil {
		f.t.Fatal(err)
	}
}

// ipLocal is where the gateway's BACnet/IP port is open.
func (f *fixture) ipLocal() netip.AddrPort {
	f.t.Helper()
	var local string
	devicetest.Eventually(f.t, wait, "the BACnet/IP port open", func() bool {
		for _, l := range f.drv.State().Links {
			if l.Name == bacnet.IPLink && l.Running {
				local = l.Local
				return true
			}
		}
		return false
	})
	return netip.MustParseAddrPort(local)
}

// reading waits for a reading of device.point that satisfies ok.
func (f *fixture) reading(dev, point string, what string, ok func(field.Reading) bool) field.Reading {
	f.t.Helper()
	var got field.Reading
	devicetest.Eventually(f.t, wait, func() string { return what + "; last " + dev + "." + point + ": " + describe(got) }, func() bool {
		rs, _ := f.gw.Readings(dev)
		for _, r := range rs {
			if r.Point == point {
				got = r
				return ok(r)
			}
		}
		return false
	})
	return got
}

func describe(r field.Reading) string {
	return r.Value.String() + " " + r.Unit + " " + string(r.Quality) + " " + r.Error
}

func (f *fixture) state(dev string) field.Status {
	st, _ := f.gw.Field().Status(dev)
	return st
}

// sim is a simulated device on loopback.
type sim struct {
	*bacnetsim.Device
	addr netip.AddrPort
	stop func()
}

// stopSim stops a simulated device and frees its address.
func stopSim(t testing.TB, s *sim) { t.Helper(); s.stop() }

// startSim serves a simulated device at bind (its broadcast socket too,
// when bind has one) until the test ends.
func startSim(t testing.TB, cfg bacnetsim.Config, bind bacnet.Binding) *sim {
	t.Helper()
	socks, err := bacnet.OpenSockets(context.Background(), bacnet.ListenUDP, bind)
	if err != nil {
		t.Fatal(err)
	}
	link, err := node.NewBIP(node.BIPConfig{Conn: socks.Unicast, BroadcastConn: socks.Broadcast, Broadcast: socks.BroadcastAddr})
	if err != nil {
		socks.Close()
		t.Fatal(err)
	}
	cfg.Link = link
	if cfg.Step == 0 {
		cfg.Step = 20 * time.Millisecond
	}
	d, err := bacnetsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulated device: %v", err)
		}
		socks.Close()
	})
	t.Cleanup(stop)
	return &sim{Device: d, addr: socks.Local, stop: stop}
}

// loopbackSim is a simulated device on 127.0.0.1 and a port of its own.
func loopbackSim(t testing.TB, cfg bacnetsim.Config) *sim {
	return startSim(t, cfg, bacnet.Binding{Local: netip.MustParseAddrPort("127.0.0.1:0")})
}

func oid(s string) stack.ObjectID {
	o, err := stack.ParseObjectID(s)
	if err != nil {
		panic(err)
	}
	return o
}

func intp(n int) *int { return &n }

// ipSite is a site whose BACnet/IP port opens on loopback, with the given
// devices.
func ipSite(devs ...device.BACnetDevice) *device.Site {
	s := device.DefaultSite()
	s.BACnet = device.BACnet{Address: "127.0.0.1", DeviceInstance: intp(4000001), Devices: devs, APDUTimeout: device.Duration(500 * time.Millisecond), Retries: intp(1)}
	return s
}

func simDevice(name string, s *sim, instance int, points ...device.BACnetPoint) device.BACnetDevice {
	return device.BACnetDevice{Name: name, Instance: intp(instance), Address: s.addr.String(), Interval: device.Duration(time.Second), Points: points}
}
