package bacnet_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/internal/peertest"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// peerSite is a site reading the @bacnet-js/client peer and serving two
// of its points back.
func peerSite(p *peertest.Peer) *device.Site {
	no := false
	dev := device.BACnetDevice{Name: "node-peer", Instance: intp(1234), Address: p.AddrPort.String(), COV: true, Interval: device.Duration(time.Second),
		Points: []device.BACnetPoint{
			{Name: "supply", Object: "analog-input:1"},
			{Name: "setpoint", Object: "analog-value:2", Writable: true, Priority: 8, COV: &no},
			{Name: "fan", Object: "binary-value:3", Writable: true},
		}}
	s := ipSite(dev)
	s.BACnet.Serve = []device.BACnetServe{
		{Point: "node-peer.supply", Object: "analog-value:1"},
		{Point: "node-peer.setpoint", Object: "analog-value:2", Writable: true},
	}
	return s
}

// The gateway — the driver behind device.Gateway, on a real bbolt store —
// against a BACnet stack nobody here wrote: it reads, subscribes to and
// writes the peer's objects, and the peer reads, subscribes to and writes
// the gateway's served objects, which are the peer's own points.
func TestInteropGatewayAndPeer(t *testing.T) {
	p := peertest.Start(t, peertest.Options{Instance: 1234})
	f := startGateway(t, peerSite(p), bacnet.Options{COVInterval: 100 * time.Millisecond})
	ctx := context.Background()

	t.Run("reads and subscribes", func(t *testing.T) {
		f.reading("node-peer", "supply", "21.5 degC", func(r field.Reading) bool {
			return r.Quality == field.QualityGood && r.Value.Num == 21.5 && r.Unit == "degC"
		})
		f.reading("node-peer", "setpoint", "20", func(r field.Reading) bool { return r.Value.Num == 20 })
		f.reading("node-peer", "fan", "off", func(r field.Reading) bool { return r.Value.IsBool && !r.Value.Bool })
		if e := p.Await(t, map[string]any{"event": "subscribe", "object": "0:1"}); e["lifetime"] != float64(300) || e["confirmed"] != false {
			t.Fatalf("peer saw %v", e)
		}
		devicetest.Eventually(t, wait, "node-peer online", func() bool { return f.state("node-peer").State == field.StateOnline })
		if err := p.Set("0:1", 25.25, false); err != nil {
			t.Fatal(err)
		}
		f.reading("node-peer", "supply", "25.25 by COV", func(r field.Reading) bool { return r.Value.Num == 25.25 })
		pts, _ := f.drv.Points("node-peer")
		if pts[0].Mode != bacnet.ModeCOV || pts[0].Notifications == 0 || pts[1].Mode != bacnet.ModePolled || pts[2].Mode != bacnet.ModeCOV {
			t.Fatalf("modes %+v", pts)
		}
	})
	t.Run("quality", func(t *testing.T) {
		_ = p.Set("0:1", 25.25, true)
		f.reading("node-peer", "supply", "the peer's fault with its reliability", func(r field.Reading) bool {
			return r.Quality == field.QualityError && r.Error == "fault: unreliable-other"
		})
		_ = p.Set("0:1", 26, false)
		f.reading("node-peer", "supply", "good again", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Value.Num == 26 })
	})
	t.Run("writes", func(t *testing.T) {
		actor := device.Actor{ID: "u-1", Role: "installer"}
		if err := f.gw.WritePoint(ctx, actor, field.Write{Device: "node-peer", Point: "setpoint", Value: field.Number(23)}); err != nil {
			t.Fatal(err)
		}
		if e := p.Await(t, map[string]any{"event": "write", "object": "2:2", "priority": 8}); e["value"] != float64(23) {
			t.Fatalf("peer saw %v", e)
		}
		if err := f.gw.WritePoint(ctx, actor, field.Write{Device: "node-peer", Point: "setpoint", Value: field.Number(24), Priority: 5}); err != nil {
			t.Fatal(err)
		}
		p.Await(t, map[string]any{"event": "write", "object": "2:2", "priority": 5, "value": 24})
		if err := f.gw.WritePoint(ctx, actor, field.Write{Device: "node-peer", Point: "setpoint", Priority: 5}); err != nil {
			t.Fatal(err)
		}
		if e := p.Await(t, map[string]any{"event": "write", "object": "2:2", "priority": 5, "value": nil}); e["pv"] != float64(23) {
			t.Fatalf("after relinquishing 5: %v", e)
		}
		f.reading("node-peer", "setpoint", "23 read back", func(r field.Reading) bool { return r.Value.Num == 23 })
		if err := f.gw.WritePoint(ctx, actor, field.Write{Device: "node-peer", Point: "fan", Value: field.Boolean(true)}); err != nil {
			t.Fatal(err)
		}
		p.Await(t, map[string]any{"event": "write", "object": "5:3", "value": 1})
		f.reading("node-peer", "fan", "on", func(r field.Reading) bool { return r.Value.IsBool && r.Value.Bool })
	})

	gw := f.ipLocal().String()
	t.Run("the peer reads the gateway", func(t *testing.T) {
		var iams []map[string]any
		if err := p.Do(map[string]any{"cmd": "whoIs", "address": gw, "wait": 500}, &iams); err != nil || len(iams) != 1 || iams[0]["deviceId"] != float64(4000001) {
			t.Fatalf("who-is: %v %v", iams, err)
		}
		var vals []map[string]any
		if err := p.Do(map[string]any{"cmd": "readProperty", "address": gw, "object": map[string]any{"type": 2, "instance": 1}, "property": 77}, &vals); err != nil || vals[0]["value"] != "node-peer.supply" {
			t.Fatalf("object-name: %v %v", vals, err)
		}
		var objs []struct {
			Values []struct {
				Property int              `json:"property"`
				Value    []map[string]any `json:"value"`
			} `json:"values"`
		}
		specs := []map[string]any{{"objectId": map[string]any{"type": 2, "instance": 1}, "properties": []map[string]any{{"id": 85, "index": 0xFFFFFFFF}, {"id": 111, "index": 0xFFFFFFFF}}}}
		if err := p.Do(map[string]any{"cmd": "readPropertyMultiple", "address": gw, "specs": specs}, &objs); err != nil || objs[0].Values[0].Value[0]["value"] != float64(26) {
			t.Fatalf("rpm: %+v %v", objs, err)
		}
	})
	t.Run("the peer subscribes to the gateway", func(t *testing.T) {
		if err := p.Do(map[string]any{"cmd": "subscribeCov", "address": gw, "object": map[string]any{"type": 2, "instance": 1}, "pid": 77, "confirmed": true, "lifetime": 60}, nil); err != nil {
			t.Fatal(err)
		}
		p.Await(t, map[string]any{"event": "cov", "object": "2:1", "pid": 77})
		// The peer's own value goes round: its COV to the gateway, the
		// reading, the served object, its COV back to the peer.
		_ = p.Set("0:1", 27.5, false)
		devicetest.Eventually(t, wait, "the peer hears 27.5 from the gateway", func() bool {
			for _, e := range p.Events() {
				if e["event"] == "cov" && e["object"] == "2:1" && e["pid"] == float64(77) && strings.Contains(fmt.Sprint(e["values"]), "27.5") {
					return true
				}
			}
			return false
		})
	})
	t.Run("the peer writes the gateway", func(t *testing.T) {
		if err := p.Do(map[string]any{"cmd": "writeProperty", "address": gw, "object": map[string]any{"type": 2, "instance": 2}, "property": 85,
			"values": []map[string]any{{"type": 4, "value": 19.5}}, "priority": 9}, nil); err != nil {
			t.Fatal(err)
		}
		// The served object's write is a field write of the peer's point,
		// at the point's priority, audited with the peer as the actor.
		p.Await(t, map[string]any{"event": "write", "object": "2:2", "priority": 8, "value": 19.5})
		evs := f.audit(device.ActionFieldWrite)
		last := evs[len(evs)-1]
		if last.Actor != bacnet.ActorPrefix+p.AddrPort.String() || last.Role != "system" || last.Target != "node-peer.setpoint" || last.Detail != "value 19.5" {
			t.Fatalf("audit %+v", last)
		}
		if err := p.Do(map[string]any{"cmd": "writeProperty", "address": gw, "object": map[string]any{"type": 2, "instance": 1}, "property": 85,
			"values": []map[string]any{{"type": 4, "value": 1}}, "priority": 9}, nil); err == nil || !strings.Contains(err.Error(), "Code:40") {
			t.Fatalf("write to a read-only served object: %v", err)
		}
	})
}

// A peer without ReadPropertyMultiple is read property by property.
func TestInteropPeerWithoutRPM(t *testing.T) {
	p := peertest.Start(t, peertest.Options{Instance: 4321, NoRPM: true})
	s := peerSite(p)
	s.BACnet.Devices[0].Instance = intp(4321)
	s.BACnet.Devices[0].COV = false
	f := startGateway(t, s, bacnet.Options{})
	f.reading("node-peer", "supply", "21.5 by ReadProperty", func(r field.Reading) bool {
		return r.Quality == field.QualityGood && r.Value.Num == 21.5 && r.Unit == "degC"
	})
	f.reading("node-peer", "setpoint", "20", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Value.Num == 20 })
	devicetest.Eventually(t, wait, "online", func() bool { return f.state("node-peer").State == field.StateOnline })
}
