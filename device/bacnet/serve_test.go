package bacnet_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus"
	mbsim "github.com/sitegate/sitegate/device/modbus/sim"
)

// client is a BACnet client on loopback, our own node, reading the
// gateway's server; COV notifications it receives go to covs when given.
func client(t testing.TB, covs chan node.COV) (*node.Node, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	link, err := node.NewBIP(node.BIPConfig{Conn: c})
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Link: link, APDUTimeout: time.Second, Retries: -1}
	if covs != nil {
		cfg.OnCOV = func(cv node.COV) {
			select {
			case covs <- cv:
			default:
			}
		}
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, n)
	return n, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// The gateway serves points of any protocol: a Modbus meter's power and a
// writable coil, a BACnet controller's setpoint. Reads show the latest
// readings (quality as the fault flag), writes are audited field writes
// whose actor is the BACnet peer, and site changes replace the objects
// without closing the port.
func TestServesPointsOfAnyProtocol(t *testing.T) {
	ms := mbsim.NewServer(nil, mbsim.DefaultModel(), mbsim.WithLogger(quiet))
	mbAddr, err := ms.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs := loopbackSim(t, bacnetsim.Config{Instance: 1101})
	site := ipSite(simDevice("ahu", bs, 1101, ahuPoints()...))
	site.Modbus = device.Modbus{
		Buses: []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: mbAddr, Timeout: device.Duration(300 * time.Millisecond)}},
		Devices: []device.Device{{Name: "meter", Bus: "plant", UnitID: 1, Interval: device.Duration(time.Second), Points: []device.Point{
			{Name: "power", Table: device.TableInput, Address: 0, Type: device.TypeUint16, Unit: "kW"},
			{Name: "relay", Table: device.TableCoil, Address: 0, Type: device.TypeBool, Writable: true},
		}}},
	}
	zero := 0.0
	site.BACnet.Serve = []device.BACnetServe{
		{Point: "meter.power", Object: "analog-value:1", COVIncrement: 0.5},
		{Point: "meter.relay", Object: "binary-value:1", Name: "relay", Writable: true, RelinquishDefault: &zero},
		{Point: "ahu.setpoint", Object: "analog-value:2", Writable: true},
		{Point: "ahu.mode", Object: "multi-state-value:1", States: []string{"off", "heat", "cool", "auto"}},
	}
	f := startGateway(t, site, bacnet.Options{COVInterval: 50 * time.Millisecond})
	engine := modbus.New(f.gw, modbus.Options{Logger: quiet})
	devicetest.Run(t, engine)
	gwAddr := node.IP(f.ipLocal())
	c, cAddr := client(t, nil)
	ctx := context.Background()
	f.reading("meter", "power", "power read", func(r field.Reading) bool { return r.Quality == field.QualityGood })
	f.reading("ahu", "setpoint", "setpoint read", func(r field.Reading) bool { return r.Quality == field.QualityGood })

	gwDev := stack.ObjectID{Type: stack.ObjectDevice, Instance: 4000001}
	list, err := c.ReadObjectList(ctx, gwAddr, gwDev)
	if err != nil || len(list) != 5 || list[1] != oid("analog-value:1") || list[4] != oid("multi-state-value:1") {
		t.Fatalf("object-list %v %v", list, err)
	}
	names, err := c.ObjectNames(ctx, gwAddr, list)
	if err != nil || strings.Join(names, ",") != "sitegate-4000001,meter.power,relay,ahu.setpoint,ahu.mode" {
		t.Fatalf("names %q %v", names, err)
	}
	res, err := c.ReadProperties(ctx, gwAddr, []stack.PropertyRef{
		stack.Ref(oid("analog-value:1"), stack.PropPresentValue), stack.Ref(oid("analog-value:1"), stack.PropUnits),
		stack.Ref(oid("analog-value:1"), stack.PropStatusFlags), stack.Ref(oid("analog-value:2"), stack.PropPresentValue),
		stack.Ref(oid("multi-state-value:1"), stack.PropPresentValue),
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := f.gw.Readings("meter")
	if v, _ := res[0].Values[0].Float(); float32(v) != float32(rs[0].Value.Num) || res[1].Values[0].Unsigned != uint64(stack.Units(48)) ||
		stack.DecodeStatusFlags(res[2].Values[0].Bits).Fault || res[3].Values[0].Real != 18 || res[4].Values[0].Unsigned != 4 {
		t.Fatalf("served values %+v (meter %v)", res, rs[0])
	}

	// A BACnet client writes the relay: the coil is written through the
	// Modbus driver, audited with the peer as actor.
	if err := c.Write(ctx, gwAddr, oid("binary-value:1"), stack.Enumerated(1), 8); err != nil {
		t.Fatal(err)
	}
	f.reading("meter", "relay", "the coil on", func(r field.Reading) bool { return r.Value.IsBool && r.Value.Bool })
	if err := c.Relinquish(ctx, gwAddr, oid("binary-value:1"), 8); err != nil {
		t.Fatal(err)
	}
	f.reading("meter", "relay", "the coil back to the relinquish default", func(r field.Reading) bool { return r.Value.IsBool && !r.Value.Bool })
	// A served BACnet point: the controller's setpoint is commanded, then
	// relinquished at the controller itself.
	if err := c.Write(ctx, gwAddr, oid("analog-value:2"), stack.Real(21), 9); err != nil {
		t.Fatal(err)
	}
	if v, _ := bs.Value(oid("analog-value:1")); v != 21 {
		t.Fatalf("controller setpoint %v", v)
	}
	if err := c.Relinquish(ctx, gwAddr, oid("analog-value:2"), 9); err != nil {
		t.Fatal(err)
	}
	if v, _ := bs.Value(oid("analog-value:1")); v != 18 {
		t.Fatalf("controller setpoint after relinquish %v", v)
	}
	// A read-only served object refuses writes.
	if err := c.Write(ctx, gwAddr, oid("analog-value:1"), stack.Real(1), 8); !node.IsError(err, stack.ErrorCodeWriteAccessDenied) {
		t.Fatalf("write to a read-only served object: %v", err)
	}
	evs := f.audit(device.ActionFieldWrite)
	peer := bacnet.ActorPrefix + cAddr.String()
	if len(evs) != 4 || evs[0].Target != "meter.relay" || evs[0].Actor != peer || evs[0].Role != "system" || evs[1].Detail != "value false" || evs[3].Detail != "relinquish" {
		t.Fatalf("audit (peer %s): %+v", peer, evs)
	}

	// COV: a subscriber hears the setpoint change when the controller's
	// reading changes.
	covs := make(chan node.COV, 16)
	sc, _ := client(t, covs)
	if _, err := sc.Subscribe(ctx, gwAddr, oid("analog-value:2"), node.SubscribeOptions{Lifetime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	_ = bs.Set(oid("analog-value:1"), 19.5, false)
	// ahu.setpoint is polled (cov: false), so the change arrives within a cycle.
	devicetest.Eventually(t, wait, "cov of 19.5 from the gateway", func() bool {
		for {
			select {
			case cv := <-covs:
				for _, v := range cv.Notification.Values {
					if v.Property == stack.PropPresentValue && v.Values[0].Real == 19.5 {
						return true
					}
				}
			default:
				return false
			}
		}
	})

	// A site change replaces the objects in place; the port stays.
	before := f.ipLocal()
	f.edit(func(s *device.Site) { s.BACnet.Serve = s.BACnet.Serve[:1] })
	devicetest.Eventually(t, wait, "two objects served", func() bool {
		list, err := c.ReadObjectList(ctx, gwAddr, gwDev)
		return err == nil && len(list) == 2
	})
	if f.ipLocal() != before {
		t.Fatal("the port was reopened for a change of bacnet.serve")
	}
	// A stale reading is served with the fault flag: stop the meter.
	ms.Close()
	devicetest.Eventually(t, 3*wait, "the meter's power served as faulty", func() bool {
		res, err := c.ReadProperties(ctx, gwAddr, []stack.PropertyRef{stack.Ref(oid("analog-value:1"), stack.PropStatusFlags), stack.Ref(oid("analog-value:1"), stack.PropReliability)})
		return err == nil && stack.DecodeStatusFlags(res[0].Values[0].Bits).Fault && res[1].Values[0].Unsigned == uint64(stack.CommunicationFailure)
	})
}

// A text reading (SNMP's sysName) has no place in an analog object: it
// is served with the fault flag and reliability configuration-error, and
// a value again once the point reads a number.
func TestServedTextIsAFault(t *testing.T) {
	site := ipSite()
	site.Modbus = device.Modbus{
		Buses: []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:1", Timeout: device.Duration(300 * time.Millisecond)}},
		Devices: []device.Device{{Name: "tag", Bus: "plant", UnitID: 1, Interval: device.Duration(time.Hour), Points: []device.Point{
			{Name: "name", Table: device.TableInput, Address: 0, Type: device.TypeUint16},
		}}},
	}
	site.BACnet.Serve = []device.BACnetServe{{Point: "tag.name", Object: "analog-value:1"}}
	f := startGateway(t, site, bacnet.Options{})
	gwAddr := node.IP(f.ipLocal())
	c, _ := client(t, nil)
	ctx := context.Background()
	record := func(v field.Value) {
		rs := []field.Reading{{Device: "tag", Point: "name", Value: v, Quality: field.QualityGood, TS: time.Now()}}
		if err := f.gw.FieldSink().Record(field.Status{Device: "tag", State: field.StateOnline}, rs); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (fault bool, reliability uint64, value float64) {
		res, err := c.ReadProperties(ctx, gwAddr, []stack.PropertyRef{
			stack.Ref(oid("analog-value:1"), stack.PropStatusFlags), stack.Ref(oid("analog-value:1"), stack.PropReliability),
			stack.Ref(oid("analog-value:1"), stack.PropPresentValue),
		})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := res[2].Values[0].Float()
		return stack.DecodeStatusFlags(res[0].Values[0].Bits).Fault, res[1].Values[0].Unsigned, v
	}
	record(field.Text("ups-1"))
	if fault, rel, _ := read(); !fault || rel != uint64(stack.ConfigurationError) {
		t.Fatalf("a text served: fault %v reliability %d", fault, rel)
	}
	record(field.Number(7))
	if fault, rel, v := read(); fault || rel != 0 || v != 7 {
		t.Fatalf("a number served: fault %v reliability %d value %v", fault, rel, v)
	}
}
