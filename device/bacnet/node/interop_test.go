package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/internal/peertest"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/devicetest"
)

// peer is the @bacnet-js/client process (package peertest) and where
// its device is.
type peer struct {
	*peertest.Peer
	addr Address
	ap   netip.AddrPort
}

func startPeer(t testing.TB, instance uint32, extraInputs ...int) *peer {
	t.Helper()
	o := peertest.Options{Instance: instance, NoRPM: os.Getenv("PEER_NO_RPM") == "1"}
	if len(extraInputs) > 0 {
		o.ExtraInputs = extraInputs[0]
	}
	p := peertest.Start(t, o)
	return &peer{Peer: p, addr: IP(p.AddrPort), ap: p.AddrPort}
}

// recorder keeps the first datagram of each kind the peer sends, so that
// BACNET_RECORD=1 can refresh testdata/peer-frames.txt.
type recorder struct {
	net.PacketConn
	mu    sync.Mutex
	first map[string]string
}

func (r *recorder) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := r.PacketConn.ReadFrom(b)
	if err == nil {
		if name := frameName(b[:n]); name != "" {
			r.mu.Lock()
			if _, seen := r.first[name]; !seen {
				r.first[name] = hex.EncodeToString(b[:n])
			}
			r.mu.Unlock()
		}
	}
	return n, a, err
}

// frameName classifies a B/IP datagram for the golden file.
func frameName(b []byte) string {
	v, err := stack.DecodeBVLC(b)
	if err != nil || v.NPDU == nil {
		return ""
	}
	np, err := stack.DecodeNPDU(v.NPDU)
	if err != nil || np.IsNetworkMessage {
		return ""
	}
	a, err := stack.DecodeAPDU(np.Payload)
	if err != nil {
		return ""
	}
	switch a.Type {
	case stack.PDUUnconfirmedRequest:
		return "unconfirmed-" + stack.UnconfirmedService(a.Service).String()
	case stack.PDUConfirmedRequest:
		return "confirmed-" + stack.ConfirmedService(a.Service).String()
	default:
		return a.Type.String() + "-" + stack.ConfirmedService(a.Service).String()
	}
}

func (r *recorder) save(t testing.TB) {
	if os.Getenv("BACNET_RECORD") != "1" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.first))
	for n := range r.first {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString("# Frames sent by @bacnet-js/client in TestInteropNodePeer (BACNET_RECORD=1 refreshes them).\n")
	for _, n := range names {
		fmt.Fprintf(&sb, "%s %s\n", n, r.first[n])
	}
	if err := os.WriteFile("../testdata/peer-frames.txt", []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The gateway's client against a device nobody here wrote, and that
// peer's client against the gateway's server.
func TestInteropNodePeer(t *testing.T) {
	p := startPeer(t, 1234)
	s := newServer(t, 0)
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	var covMu sync.Mutex
	var covs []COV
	rec := &recorder{PacketConn: udp(t), first: map[string]string{}}
	c, _ := start(t, Config{OnCOV: func(cv COV) { covMu.Lock(); covs = append(covs, cv); covMu.Unlock() }}, BIPConfig{Conn: rec})
	ctx := context.Background()
	dev := stack.ObjectID{Type: stack.ObjectDevice, Instance: 1234}
	ai1 := stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}
	av2 := stack.ObjectID{Type: stack.ObjectAnalogValue, Instance: 2}
	bv3 := stack.ObjectID{Type: stack.ObjectBinaryValue, Instance: 3}

	t.Run("discover", func(t *testing.T) {
		found, err := c.Discover(ctx, DiscoverOptions{To: &p.addr, Wait: time.Second})
		if err != nil || len(found) != 1 || found[0].Instance != 1234 || found[0].Address != p.addr || found[0].VendorID != 999 {
			t.Fatalf("directed who-is: %+v %v", found, err)
		}
		list, err := c.ReadObjectList(ctx, p.addr, dev)
		if err != nil || len(list) != 4 || list[1] != ai1 || list[2] != av2 || list[3] != bv3 {
			t.Fatalf("object-list: %v %v", list, err)
		}
		names, err := c.ObjectNames(ctx, p.addr, list)
		if err != nil || strings.Join(names, ",") != "node-peer,supply-temp,setpoint,fan" {
			t.Fatalf("names %q %v", names, err)
		}
	})
	t.Run("read", func(t *testing.T) {
		vs, err := c.ReadProperty(ctx, p.addr, stack.Ref(ai1, stack.PropPresentValue))
		if err != nil || vs[0].Real != 21.5 {
			t.Fatalf("read-property: %v %v", vs, err)
		}
		res, err := c.ReadProperties(ctx, p.addr, []stack.PropertyRef{
			stack.Ref(ai1, stack.PropPresentValue), stack.Ref(ai1, stack.PropStatusFlags), stack.Ref(ai1, stack.PropReliability),
			stack.Ref(ai1, stack.PropUnits), stack.Ref(av2, stack.PropPresentValue), stack.Ref(av2, stack.PropPriorityArray),
			stack.Ref(bv3, stack.PropPresentValue), stack.Ref(ai1, stack.PropPriorityArray),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Values[0].Real != 21.5 || stack.DecodeStatusFlags(res[1].Values[0].Bits).Fault ||
			res[2].Values[0].Unsigned != 0 || res[3].Values[0].Unsigned != 62 || res[4].Values[0].Real != 20 ||
			len(res[5].Values) != 16 || res[6].Values[0].Unsigned != 0 {
			t.Fatalf("read-property-multiple: %+v", res)
		}
		if res[7].Err == nil || res[7].Err.Code != stack.ErrorCodeUnknownProperty {
			t.Fatalf("per-property error: %+v", res[7])
		}
		if _, err := p.Do(map[string]any{"cmd": "set", "object": "0:1", "value": 21.5, "fault": true}, nil), error(nil); err != nil {
			t.Fatal(err)
		}
		res, err = c.ReadProperties(ctx, p.addr, []stack.PropertyRef{stack.Ref(ai1, stack.PropStatusFlags), stack.Ref(ai1, stack.PropReliability)})
		if err != nil || !stack.DecodeStatusFlags(res[0].Values[0].Bits).Fault || stack.Reliability(res[1].Values[0].Unsigned) != stack.UnreliableOther {
			t.Fatalf("fault: %+v %v", res, err)
		}
		_ = p.Do(map[string]any{"cmd": "set", "object": "0:1", "value": 21.5, "fault": false}, nil)
	})
	lastCOV := func(obj stack.ObjectID, confirmed bool) (float64, bool) {
		covMu.Lock()
		defer covMu.Unlock()
		for i := len(covs) - 1; i >= 0; i-- {
			cv := covs[i]
			if cv.Notification.Object == obj && cv.Confirmed == confirmed {
				for _, v := range cv.Notification.Values {
					if v.Property == stack.PropPresentValue {
						f, _ := v.Values[0].Float()
						return f, true
					}
				}
			}
		}
		return 0, false
	}
	covIs := func(obj stack.ObjectID, confirmed bool, want float64) func() bool {
		return func() bool { f, ok := lastCOV(obj, confirmed); return ok && f == want }
	}
	t.Run("cov", func(t *testing.T) {
		if _, err := c.Subscribe(ctx, p.addr, ai1, SubscribeOptions{Lifetime: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Subscribe(ctx, p.addr, av2, SubscribeOptions{Confirmed: true, Lifetime: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if e := p.Await(t, map[string]any{"event": "subscribe", "object": "2:2"}); e == nil || e["confirmed"] != true || e["lifetime"] != float64(60) {
			t.Fatalf("peer saw subscription %v", e)
		}
		devicetest.Eventually(t, wait, "initial unconfirmed notification", covIs(ai1, false, 21.5))
		devicetest.Eventually(t, wait, "initial confirmed notification", covIs(av2, true, 20))
		_ = p.Do(map[string]any{"cmd": "set", "object": "0:1", "value": 25.25}, nil)
		devicetest.Eventually(t, wait, "notification of 25.25", covIs(ai1, false, 25.25))
		devicetest.Eventually(t, wait, "peer got our ack", func() bool {
			return p.Event(map[string]any{"event": "covSent", "object": "2:2", "confirmed": true}) != nil
		})
	})
	t.Run("write", func(t *testing.T) {
		if err := c.Write(ctx, p.addr, av2, stack.Real(23), 8); err != nil {
			t.Fatal(err)
		}
		if e := p.Await(t, map[string]any{"event": "write", "object": "2:2", "priority": 8}); e == nil || e["value"] != float64(23) {
			t.Fatalf("peer saw write %v", e)
		}
		pa, err := c.ReadProperty(ctx, p.addr, stack.PropertyRef{Object: av2, Property: stack.PropPriorityArray, Index: 8})
		if err != nil || pa[0].Real != 23 {
			t.Fatalf("priority-array[8]: %v %v", pa, err)
		}
		devicetest.Eventually(t, wait, "cov after the write", covIs(av2, true, 23))
		if err := c.Relinquish(ctx, p.addr, av2, 8); err != nil {
			t.Fatal(err)
		}
		if e := p.Await(t, map[string]any{"event": "write", "object": "2:2", "priority": 8, "value": nil}); e == nil || e["pv"] != float64(20) {
			t.Fatalf("peer saw relinquish %v", e)
		}
		if err := c.Write(ctx, p.addr, bv3, stack.Enumerated(1), 0); err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, p.addr, ai1, stack.Real(1), 0); !IsError(err, stack.ErrorCodeWriteAccessDenied) {
			t.Fatalf("write to an input: %v", err)
		}
	})

	// The peer as a client of the gateway's server.
	srvAt := slink.LocalAddr().String()
	t.Run("peer reads the gateway", func(t *testing.T) {
		var iams []map[string]any
		if err := p.Do(map[string]any{"cmd": "whoIs", "address": srvAt, "wait": 500}, &iams); err != nil || len(iams) != 1 || iams[0]["deviceId"] != float64(gwID.Instance) {
			t.Fatalf("peer who-is: %v %v", iams, err)
		}
		var vals []map[string]any
		if err := p.Do(map[string]any{"cmd": "readProperty", "address": srvAt, "object": map[string]any{"type": 8, "instance": gwID.Instance}, "property": 77}, &vals); err != nil || vals[0]["value"] != "sitegate-gw" {
			t.Fatalf("peer read object-name: %v %v", vals, err)
		}
		if err := p.Do(map[string]any{"cmd": "readProperty", "address": srvAt, "object": map[string]any{"type": 8, "instance": gwID.Instance}, "property": 76}, &vals); err != nil || len(vals) != 4 {
			t.Fatalf("peer read object-list: %v %v", vals, err)
		}
		var objs []struct {
			Object string `json:"object"`
			Values []struct {
				Property int              `json:"property"`
				Value    []map[string]any `json:"value"`
			} `json:"values"`
		}
		specs := []map[string]any{
			{"objectId": map[string]any{"type": 2, "instance": 1}, "properties": []map[string]any{{"id": 85, "index": 0xFFFFFFFF}, {"id": 111, "index": 0xFFFFFFFF}, {"id": 117, "index": 0xFFFFFFFF}}},
			{"objectId": map[string]any{"type": 5, "instance": 2}, "properties": []map[string]any{{"id": 8, "index": 0xFFFFFFFF}}},
		}
		if err := p.Do(map[string]any{"cmd": "readPropertyMultiple", "address": srvAt, "specs": specs}, &objs); err != nil || len(objs) != 2 {
			t.Fatalf("peer rpm: %+v %v", objs, err)
		}
		if objs[0].Values[0].Value[0]["value"] != 21.5 || objs[0].Values[2].Value[0]["value"] != float64(62) || len(objs[1].Values) < 8 {
			t.Fatalf("peer rpm values: %+v", objs)
		}
	})
	t.Run("peer subscribes to the gateway", func(t *testing.T) {
		if err := p.Do(map[string]any{"cmd": "subscribeCov", "address": srvAt, "object": map[string]any{"type": 2, "instance": 1}, "pid": 9, "confirmed": true, "lifetime": 60}, nil); err != nil {
			t.Fatal(err)
		}
		devicetest.Eventually(t, wait, "peer got the initial notification", func() bool {
			return p.Event(map[string]any{"event": "cov", "object": "2:1", "pid": 9, "confirmed": true}) != nil
		})
		s.av.set(30.5)
		s.srv.Changed(av1)
		devicetest.Eventually(t, wait, "peer got 30.5", func() bool {
			for _, e := range p.Events() {
				if e["event"] == "cov" && e["object"] == "2:1" && strings.Contains(fmt.Sprint(e["values"]), "30.5") {
					return true
				}
			}
			return false
		})
		if st := s.srv.n.Stats(); st.COVFailed != 0 {
			t.Fatalf("confirmed notifications to the peer failed: %+v", st)
		}
	})
	rec.save(t)
}

// A peer device without ReadPropertyMultiple (the library's own answer to
// an unhandled service: an Error with reject-unrecognized-service) is read
// property by property, and the refusal is remembered.
func TestInteropRPMRefused(t *testing.T) {
	t.Setenv("PEER_NO_RPM", "1")
	p := startPeer(t, 4321)
	c, _ := start(t, Config{}, BIPConfig{})
	ctx := context.Background()
	ai1 := stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}
	refs := []stack.PropertyRef{stack.Ref(ai1, stack.PropPresentValue), stack.Ref(ai1, stack.PropUnits), stack.Ref(ai1, stack.PropStatusFlags)}
	for range 2 {
		res, err := c.ReadProperties(ctx, p.addr, refs)
		if err != nil || res[0].Values[0].Real != 21.5 || res[1].Values[0].Unsigned != 62 || res[2].Values[0].Bits.Length != 4 {
			t.Fatalf("fallback: %+v %v", res, err)
		}
	}
	if st := c.Stats(); st.Sent != 1+2*3 {
		t.Fatalf("sent %d requests, want one refused RPM and six ReadProperty", st.Sent)
	}
}
