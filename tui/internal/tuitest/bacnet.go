package tuitest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// BACnet test rig: where things are on loopback.
const (
	// BACnetController is the site device the rig reads, instance
	// BACnetControllerInstance, served by a simulated AHU controller.
	BACnetController         = "ahu-ctl"
	BACnetControllerInstance = 1001
	// BACnetGatewayInstance is the gateway's own Device object.
	BACnetGatewayInstance = 4000001
	// bacnetSimStep is how often the simulated values move: quick, so
	// that tests see COV notifications arrive.
	bacnetSimStep = 20 * time.Millisecond
)

// BACnetRig is the BACnet side a test runs.
type BACnetRig struct {
	Driver *bacnet.Driver
	// Port is the BACnet/IP port of the gateway and of every simulated
	// device, each on its own loopback address: all of them hear the
	// broadcasts to 127.255.255.255 on it.
	Port uint16
	// Controller is the simulated device behind BACnetController, at
	// 127.0.0.2.
	Controller *bacnetsim.Device
}

// BACnet serves a simulated AHU controller (bacnetsim.Defaults) on
// 127.0.0.2 at a port of the system's choosing, puts a BACnet/IP section
// on 127.0.0.1 and that port into gw's site with the controller as
// BACnetController (cov: true; supply and filter on COV, cooling_valve
// polled, setpoint and fan writable at priority 8), runs the real BACnet
// driver, and waits until the controller is online. Everything stops
// when the test ends.
func BACnet(tb testing.TB, gw *device.Gateway) *BACnetRig {
	tb.Helper()
	rig := &BACnetRig{}
	var addr netip.AddrPort
	rig.Controller, addr = serveSim(tb, bacnetsim.Config{Instance: BACnetControllerInstance, Name: "AHU controller"}, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), 0))
	rig.Port = addr.Port()
	site, rev := gw.Site()
	inst, gwInst, retries := BACnetControllerInstance, BACnetGatewayInstance, 1
	no := false
	site.BACnet = device.BACnet{Address: "127.0.0.1", Port: int(rig.Port), DeviceInstance: &gwInst,
		APDUTimeout: device.Duration(500 * time.Millisecond), Retries: &retries,
		Devices: []device.BACnetDevice{{Name: BACnetController, Instance: &inst, Address: addr.String(), Interval: device.Duration(time.Second), COV: true,
			Points: []device.BACnetPoint{
				{Name: "supply", Object: "analog-input:1"},
				{Name: "filter", Object: "binary-input:1"},
				{Name: "setpoint", Object: "analog-value:1", Writable: true, Priority: 8},
				{Name: "fan", Object: "binary-output:1", Writable: true, Priority: 8},
				{Name: "cooling_valve", Object: "analog-output:1", COV: &no},
			}}}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		tb.Fatal(err)
	}
	rig.Driver = bacnet.NewDriver(gw, bacnet.Options{Logger: Quiet, DiscoverWait: 300 * time.Millisecond})
	devicetest.Run(tb, rig.Driver)
	devicetest.Eventually(tb, Wait, BACnetController+" online with good readings", func() bool {
		st, _ := gw.Field().Status(BACnetController)
		rs, _ := gw.Readings(BACnetController)
		if st.State != field.StateOnline || len(rs) != 5 {
			return false
		}
		for _, r := range rs {
			if r.Quality != field.QualityGood {
				return false
			}
		}
		return true
	})
	devicetest.Eventually(tb, Wait, BACnetController+"'s COV subscriptions", func() bool {
		devs := rig.Driver.Devices()
		return len(devs) == 1 && devs[0].COV == 4 && devs[0].Polled == 1
	})
	return rig
}

// Spare serves another simulated device (bacnetsim.Defaults), not in the
// site, at ip on the rig's port, where a Who-Is broadcast finds it.
func (r *BACnetRig) Spare(tb testing.TB, instance uint32, name, ip string) *bacnetsim.Device {
	tb.Helper()
	d, _ := serveSim(tb, bacnetsim.Config{Instance: instance, Name: name}, netip.AddrPortFrom(netip.MustParseAddr(ip), r.Port))
	return d
}

// serveSim serves a simulated device at local (port 0: the system's
// choice) and on the broadcast address of 127.0.0.0/8 at the same port,
// until the test ends; it returns where it is.
func serveSim(tb testing.TB, cfg bacnetsim.Config, local netip.AddrPort) (*bacnetsim.Device, netip.AddrPort) {
	tb.Helper()
	socks, err := bacnet.OpenSockets(context.Background(), bacnet.ListenUDP, bacnet.Binding{Local: local,
		Broadcast: netip.AddrPortFrom(netip.MustParseAddr("127.255.255.255"), local.Port())})
	if err != nil {
		tb.Fatal(err)
	}
	if socks.BroadcastErr != nil {
		socks.Close()
		tb.Fatalf("simulated device %d: %v", cfg.Instance, socks.BroadcastErr)
	}
	link, err := node.NewBIP(node.BIPConfig{Conn: socks.Unicast, BroadcastConn: socks.Broadcast, Broadcast: socks.BroadcastAddr, Logger: Quiet})
	if err != nil {
		socks.Close()
		tb.Fatal(err)
	}
	cfg.Link, cfg.Step = link, bacnetSimStep
	d, err := bacnetsim.New(cfg)
	if err != nil {
		socks.Close()
		tb.Fatal(err)
	}
	// Cleanups run last first: the device stops, then its sockets close.
	tb.Cleanup(func() { socks.Close() })
	devicetest.Run(tb, d)
	return d, socks.Local
}
