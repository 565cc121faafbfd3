package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/devicetest"
)

var (
	av1  = stack.ObjectID{Type: stack.ObjectAnalogValue, Instance: 1}
	bv2  = stack.ObjectID{Type: stack.ObjectBinaryValue, Instance: 2}
	msv3 = stack.ObjectID{Type: stack.ObjectMultiStateValue, Instance: 3}
	gwID = stack.ObjectID{Type: stack.ObjectDevice, Instance: 4000001}
)

type served3 struct {
	av, bv, msv *fakeSource
	srv         *Server
}

func newServer(t *testing.T, extra int) served3 {
	t.Helper()
	s := served3{av: &fakeSource{r: Reading{Value: 21.5}}, bv: &fakeSource{r: Reading{Value: 1}}, msv: &fakeSource{r: Reading{Value: 2}}}
	objs := []Object{
		{ID: av1, Name: "supply-setpoint", Units: 62, Commandable: true, RelinquishDefault: 20, COVIncrement: 0.5, Source: s.av},
		{ID: bv2, Name: "fan-enable", Writable: true, Source: s.bv},
		{ID: msv3, Name: "mode", States: []string{"off", "heat", "cool"}, Source: s.msv},
	}
	for i := 0; i < extra; i++ {
		objs = append(objs, Object{ID: stack.ObjectID{Type: stack.ObjectAnalogValue, Instance: uint32(100 + i)}, Name: fmt.Sprintf("extra-%d", i), Source: &fakeSource{}})
	}
	srv, err := NewServer(ServerConfig{Instance: gwID.Instance, Name: "sitegate-gw", VendorID: 0, ModelName: "sitegate", Objects: objs, COVInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	return s
}

// A client node and a server node talk over loopback: discovery, reads,
// object lists (whole and by index), writes with priority and relinquish,
// and COV both confirmed and unconfirmed.
func TestClientAgainstServer(t *testing.T) {
	s := newServer(t, 400) // 400 extra objects: the object-list no longer fits 1476 octets
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	var covMu sync.Mutex
	var covs []COV
	c, _ := start(t, Config{OnCOV: func(cv COV) { covMu.Lock(); covs = append(covs, cv); covMu.Unlock() }}, BIPConfig{})
	ctx := context.Background()
	to := IP(slink.LocalAddr())

	devs, err := c.Discover(ctx, DiscoverOptions{To: &to, Wait: 200 * time.Millisecond})
	if err != nil || len(devs) != 1 || devs[0].Instance != gwID.Instance || devs[0].Address != to || devs[0].MaxAPDU != 1476 {
		t.Fatalf("discover: %+v %v", devs, err)
	}
	if info, err := c.Resolve(ctx, gwID.Instance, nil); err != nil || info.Address != to {
		t.Fatalf("resolve: %+v %v", info, err)
	}

	vs, err := c.ReadProperty(ctx, to, stack.Ref(gwID, stack.PropObjectName))
	if err != nil || len(vs) != 1 || vs[0].String != "sitegate-gw" {
		t.Fatalf("object-name: %+v %v", vs, err)
	}
	// Every required property of the Device object reads.
	var refs []stack.PropertyRef
	for _, p := range deviceProps {
		refs = append(refs, stack.Ref(gwID, p))
	}
	refs = append(refs, stack.Ref(av1, stack.PropPresentValue), stack.Ref(av1, stack.PropUnits), stack.Ref(av1, stack.PropStatusFlags),
		stack.Ref(bv2, stack.PropPresentValue), stack.Ref(msv3, stack.PropPresentValue), stack.Ref(msv3, stack.PropNumberOfStates),
		stack.Ref(msv3, stack.PropPriorityArray), stack.Ref(stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 9}, stack.PropPresentValue))
	res, err := c.ReadProperties(ctx, to, refs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res[:len(deviceProps)] {
		if r.Err != nil && r.Property != stack.PropObjectList {
			t.Errorf("device %s: %v", r.Property, r.Err)
		}
	}
	tail := res[len(deviceProps):]
	if tail[0].Values[0].Real != 21.5 || tail[1].Values[0].Unsigned != 62 || tail[3].Values[0].Unsigned != 1 || tail[4].Values[0].Unsigned != 2 || tail[5].Values[0].Unsigned != 3 {
		t.Errorf("object values: %+v", tail)
	}
	if tail[6].Err == nil || tail[6].Err.Code != stack.ErrorCodeUnknownProperty {
		t.Errorf("priority-array of a non-commandable object: %+v", tail[6])
	}
	if tail[7].Err == nil || tail[7].Err.Code != stack.ErrorCodeUnknownObject {
		t.Errorf("unknown object: %+v", tail[7])
	}

	// The object list does not fit one APDU: the server aborts, the client
	// reads it by index.
	list, err := c.ReadObjectList(ctx, to, gwID)
	if err != nil || len(list) != 404 || list[0] != gwID || list[1] != av1 || list[403].Instance != 499 {
		t.Fatalf("object-list: %d entries, %v", len(list), err)
	}
	if c.Stats().Received == 0 {
		t.Fatal("no stats")
	}
	names, err := c.ObjectNames(ctx, to, list[1:4])
	if err != nil || names[0] != "supply-setpoint" || names[2] != "mode" {
		t.Fatalf("names %q %v", names, err)
	}

	// Commanding at 8, then at 5, relinquishing 5: the source always gets
	// the value that wins.
	if err := c.Write(ctx, to, av1, stack.Real(23), 8); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.av.lastWrite(); w.Priority != 8 || w.Effective != 23 || w.Relinquish {
		t.Fatalf("write at 8: %+v", w)
	}
	if err := c.Write(ctx, to, av1, stack.Real(25), 5); err != nil {
		t.Fatal(err)
	}
	if err := c.Relinquish(ctx, to, av1, 5); err != nil {
		t.Fatal(err)
	}
	if w, n := s.av.lastWrite(); n != 3 || !w.Relinquish || w.Priority != 5 || w.Effective != 23 {
		t.Fatalf("relinquish 5: %+v (%d writes)", w, n)
	}
	pa, err := c.ReadProperty(ctx, to, stack.Ref(av1, stack.PropPriorityArray))
	if err != nil || len(pa) != 16 || pa[7].Real != 23 || pa[4].Type != stack.TypeNull {
		t.Fatalf("priority-array: %+v %v", pa, err)
	}
	if err := c.Relinquish(ctx, to, av1, 8); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.av.lastWrite(); w.Effective != 20 {
		t.Fatalf("all relinquished: effective %v, want the relinquish default 20", w.Effective)
	}
	// Refusals come back as BACnet errors.
	if err := c.Write(ctx, to, msv3, stack.Unsigned(2), 0); !IsError(err, stack.ErrorCodeWriteAccessDenied) {
		t.Fatalf("write read-only: %v", err)
	}
	if err := c.Write(ctx, to, bv2, stack.Real(1), 0); !IsError(err, stack.ErrorCodeInvalidDataType) {
		t.Fatalf("write real to binary: %v", err)
	}
	if err := c.Write(ctx, to, bv2, stack.Enumerated(0), 0); err != nil {
		t.Fatal(err)
	}
	s.av.mu.Lock()
	s.av.werr = &stack.PropertyError{Class: stack.ErrorClassDevice, Code: stack.ErrorCodeDeviceBusy}
	s.av.mu.Unlock()
	if err := c.Write(ctx, to, av1, stack.Real(30), 8); !IsError(err, stack.ErrorCodeDeviceBusy) {
		t.Fatalf("refused field write: %v", err)
	}
	if pa, _ := c.ReadProperty(ctx, to, stack.PropertyRef{Object: av1, Property: stack.PropPriorityArray, Index: 8}); pa[0].Type != stack.TypeNull {
		t.Fatalf("a refused write changed the priority array: %+v", pa)
	}

	// COV: unconfirmed on the analog value, confirmed on the binary one.
	sub, err := c.Subscribe(ctx, to, av1, SubscribeOptions{Lifetime: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, to, bv2, SubscribeOptions{Confirmed: true, Lifetime: 60 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got := func(obj stack.ObjectID, v float64, confirmed bool) func() bool {
		return func() bool {
			covMu.Lock()
			defer covMu.Unlock()
			for _, cv := range covs {
				if cv.Notification.Object == obj && cv.Confirmed == confirmed && len(cv.Notification.Values) > 0 {
					if f, _ := cv.Notification.Values[0].Values[0].Float(); f == v {
						return true
					}
				}
			}
			return false
		}
	}
	devicetest.Eventually(t, wait, "initial notification of analog-value:1", got(av1, 20, false))
	devicetest.Eventually(t, wait, "initial confirmed notification of binary-value:2", got(bv2, 0, true))
	s.av.set(20.2) // below the COV increment of 0.5: no notification
	s.av.set(27)
	s.srv.Changed(av1)
	devicetest.Eventually(t, wait, "notification of 27", got(av1, 27, false))
	covMu.Lock()
	for _, cv := range covs {
		if f, _ := cv.Notification.Values[0].Values[0].Float(); f > 20.1 && f < 20.3 {
			t.Errorf("notified a change below the cov increment: %v", f)
		}
	}
	covMu.Unlock()
	if err := c.Unsubscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if c.Stats().COVReceived < 3 || s.srv.n.Stats().COVSent < 3 {
		t.Fatalf("cov stats: client %+v", c.Stats())
	}
}

// A device that rejects ReadPropertyMultiple is read property by property.
func TestRPMFallbackToReadProperty(t *testing.T) {
	c, link := start(t, Config{APDUTimeout: time.Second}, BIPConfig{})
	dev := newRaw(t)
	ai := stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}
	go func() {
		for {
			f, ok := dev.recv(wait)
			if !ok {
				return
			}
			a := f.apdu
			switch stack.ConfirmedService(a.Service) {
			case stack.ServiceReadPropertyMultiple:
				dev.send(f.from, stack.NPDU{}, stack.APDU{Type: stack.PDUReject, InvokeID: a.InvokeID, Reason: uint8(stack.RejectUnrecognizedService)})
			case stack.ServiceReadProperty:
				ref, _ := stack.DecodeReadProperty(a.Payload)
				body, _ := stack.AppendReadPropertyAck(nil, stack.PropertyValue{PropertyRef: ref, Values: []stack.Value{stack.Real(float32(ref.Property))}})
				dev.send(f.from, stack.NPDU{}, stack.APDU{Type: stack.PDUComplexAck, InvokeID: a.InvokeID, Service: a.Service, Payload: body})
			}
		}
	}()
	_ = link
	refs := []stack.PropertyRef{stack.Ref(ai, stack.PropPresentValue), stack.Ref(ai, stack.PropStatusFlags)}
	for range 2 {
		res, err := c.ReadProperties(context.Background(), dev.addr(), refs)
		if err != nil || res[0].Values[0].Real != 85 || res[1].Values[0].Real != 111 {
			t.Fatalf("fallback read: %+v %v", res, err)
		}
	}
	// The refusal is remembered: one reject, then four ReadProperty acks.
	if st := c.Stats(); st.Received != 5 {
		t.Fatalf("received %d answers, want 5 (RPM tried once)", st.Received)
	}
}

// Segmented ComplexACKs are reassembled with Segment-ACKs at each window;
// an out-of-order segment is NAKed; a reply that stops arriving times out.
func TestSegmentedAnswer(t *testing.T) {
	c, _ := start(t, Config{APDUTimeout: 300 * time.Millisecond, Retries: 1}, BIPConfig{})
	dev := newRaw(t)
	ai := stack.ObjectID{Type: stack.ObjectDevice, Instance: 9}
	var vals []stack.Value
	for i := 0; i < 200; i++ {
		vals = append(vals, stack.ObjectValue(stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: uint32(i)}))
	}
	body, _ := stack.AppendReadPropertyAck(nil, stack.PropertyValue{PropertyRef: stack.Ref(ai, stack.PropObjectList), Values: vals})
	const segSize = 300
	var segs [][]byte
	for off := 0; off < len(body); off += segSize {
		segs = append(segs, body[off:min(off+segSize, len(body))])
	}
	if len(segs) < 3 {
		t.Fatalf("only %d segments", len(segs))
	}
	type result struct {
		ids []stack.ObjectID
		err error
	}
	read := func() chan result {
		ch := make(chan result, 1)
		go func() {
			vs, err := c.ReadProperty(context.Background(), dev.addr(), stack.Ref(ai, stack.PropObjectList))
			ids, _ := objectIDs(vs)
			ch <- result{ids, err}
		}()
		return ch
	}
	seg := func(to frame, i int, more bool) {
		dev.send(to.from, stack.NPDU{}, stack.APDU{Type: stack.PDUComplexAck, Segmented: true, MoreFollows: more,
			InvokeID: to.apdu.InvokeID, SequenceNum: uint8(i), WindowSize: 2, Service: uint8(stack.ServiceReadProperty), Payload: segs[i]})
	}
	isReq := func(f frame) bool { return f.apdu.Type == stack.PDUConfirmedRequest }
	segAck := func(f frame) bool { return f.apdu.Type == stack.PDUSegmentAck }

	t.Run("complete", func(t *testing.T) {
		ch := read()
		req := dev.expect("request", isReq)
		if !req.apdu.SegmentedAccepted || stack.DecodeMaxSegments(req.apdu.MaxSegments) != 64 {
			t.Fatalf("request does not accept a segmented answer: %+v", req.apdu)
		}
		for i := range segs {
			seg(req, i, i < len(segs)-1)
			if i%2 == 1 || i == len(segs)-1 {
				ack := dev.expect("segment-ack", segAck)
				if ack.apdu.NAK || ack.apdu.SequenceNum != uint8(i) || ack.apdu.WindowSize != 2 {
					t.Fatalf("segment-ack after %d: %+v", i, ack.apdu)
				}
			}
		}
		r := <-ch
		if r.err != nil || len(r.ids) != 200 || r.ids[199].Instance != 199 {
			t.Fatalf("reassembled %d ids, %v", len(r.ids), r.err)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		ch := read()
		req := dev.expect("request", isReq)
		seg(req, 0, true)
		seg(req, 2, true) // segment 1 lost
		nak := dev.expect("segment-nak", segAck)
		if !nak.apdu.NAK || nak.apdu.SequenceNum != 0 {
			t.Fatalf("nak %+v", nak.apdu)
		}
		for i := 1; i < len(segs); i++ {
			seg(req, i, i < len(segs)-1)
		}
		if r := <-ch; r.err != nil || len(r.ids) != 200 {
			t.Fatalf("after a resend: %d ids, %v", len(r.ids), r.err)
		}
	})
	t.Run("never completes", func(t *testing.T) {
		before := c.Stats().SegmentTimeouts
		ch := read()
		req := dev.expect("request", isReq)
		seg(req, 0, true)
		r := <-ch
		if !errors.Is(r.err, ErrSegmentTimeout) || c.Stats().SegmentTimeouts != before+1 {
			t.Fatalf("stalled answer: %v", r.err)
		}
		// Its late segments are for a transaction no longer there.
		u := c.Stats().UnknownInvoke
		seg(req, 1, true)
		devicetest.Eventually(t, wait, "late segment counted", func() bool { return c.Stats().UnknownInvoke == u+1 })
	})
}

// Timeouts retry, answers to invoke ids never sent are counted, malformed
// frames are counted, and none of it disturbs another device.
func TestBadInputIsCountedAndIsolated(t *testing.T) {
	s := newServer(t, 0)
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	c, clink := start(t, Config{APDUTimeout: 150 * time.Millisecond, Retries: 2}, BIPConfig{})
	ctx := context.Background()
	good := IP(slink.LocalAddr())
	mute := newRaw(t)

	_, err := c.ReadProperty(ctx, mute.addr(), stack.Ref(gwID, stack.PropObjectName))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("mute device: %v", err)
	}
	if st := c.Stats(); st.Timeouts != 1 || st.Retries != 2 {
		t.Fatalf("timeout stats %+v", st)
	}
	bad := newRaw(t)
	to := clink.LocalAddr()
	before := c.Stats()
	for _, h := range []string{
		"81 0A 0009 01 04 00",                  // bvlc length lies
		"82 0A 0007 01 04 00",                  // not bacnet/ip
		"81 0A 0006 02 00",                     // npdu version 2
		"81 0A 0008 01 00 0C 00",               // apdu type 12 does not exist
		"81 0A 000A 01 00 30 07 0C 0C",         // complex-ack for invoke 7, never sent
		"81 0A 000A 01 00 10 00 C4 02",         // i-am cut short
		"81 0A 000A 01 80 01 0005 00",          // i-am-router-to-network: skipped
		"81 0A 000D 01 20 0009 01 0A FF 10 08", // for network 9: not ours
	} {
		bad.sendBytes(to, unhexT(t, h))
	}
	devicetest.Eventually(t, wait, func() string { return fmt.Sprintf("bad frames counted: %+v", c.Stats()) }, func() bool {
		st := c.Stats()
		return st.Link.Malformed == before.Link.Malformed+2 && st.Malformed == before.Malformed+3 &&
			st.UnknownInvoke == before.UnknownInvoke+1 && st.NetworkMessages == 1 && st.NotForUs == 1
	})
	// A BBMD request to a node that is not one is refused.
	bad.sendBytes(to, unhexT(t, "81 02 0004"))
	f := bad.expect("read-bdt nak", func(f frame) bool { return f.bvlc.Function == stack.BVLCResult })
	if f.bvlc.Result != stack.ResultReadBDTNAK {
		t.Fatalf("read-bdt answered %s", f.bvlc.Result)
	}
	if vs, err := c.ReadProperty(ctx, good, stack.Ref(gwID, stack.PropObjectName)); err != nil || vs[0].String != "sitegate-gw" {
		t.Fatalf("good device after the noise: %v", err)
	}
}

// A flood of I-Am from thousands of instances stays within MaxDevices and
// does not evict a device in use.
func TestIAmFloodIsBounded(t *testing.T) {
	s := newServer(t, 0)
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	c, clink := start(t, Config{MaxDevices: 100}, BIPConfig{})
	ctx := context.Background()
	if _, err := c.Resolve(ctx, gwID.Instance, &Address{MAC: IP(slink.LocalAddr()).MAC}); err != nil {
		t.Fatal(err)
	}
	flood := newRaw(t)
	for i := uint32(0); i < 5000; i++ {
		flood.iam(clink.LocalAddr(), 10000+i, 1476, stack.NoSegmentation)
		if i%100 == 99 {
			// Pace the flood to what the socket buffer holds, so that the
			// table, not the kernel, is what drops.
			want := uint64(i) * 9 / 10
			devicetest.Eventually(t, wait, "flood received", func() bool { return c.Stats().IAmReceived >= want })
		}
	}
	if n := len(c.Devices()); n > 100 {
		t.Fatalf("i-am table grew to %d", n)
	}
	if _, ok := c.Device(gwID.Instance); !ok {
		t.Fatal("the device in use was evicted by the flood")
	}
}

// A request never exceeds the device's max-APDU: ReadProperties splits.
func TestRequestsFitPeerMaxAPDU(t *testing.T) {
	c, clink := start(t, Config{}, BIPConfig{})
	dev := newRaw(t)
	dev.iam(clink.LocalAddr(), 77, 128, stack.NoSegmentation)
	devicetest.Eventually(t, wait, "i-am", func() bool { _, ok := c.Device(77); return ok })
	var mu sync.Mutex
	maxSeen := 0
	go func() {
		for {
			f, ok := dev.recv(wait)
			if !ok {
				return
			}
			mu.Lock()
			maxSeen = max(maxSeen, len(f.npdu.Payload))
			mu.Unlock()
			specs, err := stack.DecodeRPM(f.apdu.Payload)
			if err != nil {
				continue
			}
			var res []stack.ReadResult
			for _, sp := range specs {
				for _, p := range sp.Properties {
					res = append(res, stack.ReadResult{PropertyRef: p, Values: []stack.Value{stack.Real(1)}})
				}
			}
			body, _ := stack.AppendRPMAck(nil, res)
			dev.send(f.from, stack.NPDU{}, stack.APDU{Type: stack.PDUComplexAck, InvokeID: f.apdu.InvokeID, Service: f.apdu.Service, Payload: body})
		}
	}()
	var refs []stack.PropertyRef
	for i := 0; i < 40; i++ {
		refs = append(refs, stack.Ref(stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: uint32(i)}, stack.PropPresentValue))
	}
	res, err := c.ReadProperties(context.Background(), dev.addr(), refs)
	if err != nil || len(res) != 40 || res[39].Values[0].Real != 1 {
		t.Fatalf("read %+v %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if maxSeen > 128 || maxSeen == 0 {
		t.Fatalf("largest request %d octets, device takes 128", maxSeen)
	}
}

// A device behind a router: the request carries DNET/DADR to the router,
// the answer comes back with SNET/SADR.
func TestRoutedDevice(t *testing.T) {
	c, _ := start(t, Config{}, BIPConfig{})
	router := newRaw(t)
	dev := Routed(router.addr(), 5, []byte{0x0A})
	go func() {
		f := router.expect("routed request", func(f frame) bool { return f.npdu.HasDest })
		if f.npdu.DNET != 5 || string(f.npdu.DADR) != "\x0a" || f.npdu.HopCount != 255 || !f.npdu.ExpectingReply {
			t.Errorf("routed npdu %+v", f.npdu)
		}
		ref, _ := stack.DecodeReadProperty(f.apdu.Payload)
		body, _ := stack.AppendReadPropertyAck(nil, stack.PropertyValue{PropertyRef: ref, Values: []stack.Value{stack.Real(4.5)}})
		router.send(f.from, stack.NPDU{HasSource: true, SNET: 5, SADR: []byte{0x0A}},
			stack.APDU{Type: stack.PDUComplexAck, InvokeID: f.apdu.InvokeID, Service: f.apdu.Service, Payload: body})
	}()
	vs, err := c.ReadProperty(context.Background(), dev, stack.Ref(stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}, stack.PropPresentValue))
	if err != nil || vs[0].Real != 4.5 {
		t.Fatalf("routed read: %v %v", vs, err)
	}
	if dev.String() != "5:10 via "+router.addr().String() {
		t.Fatalf("address %s", dev)
	}
}

// As a foreign device the node registers with the BBMD, re-registers
// before the TTL ends, and sends Who-Is as Distribute-Broadcast-To-Network;
// I-Ams forwarded by the BBMD are taken from their original source.
func TestForeignDevice(t *testing.T) {
	bbmd := newRaw(t)
	conn := udp(t)
	link, err := NewBIP(BIPConfig{Conn: conn, BBMD: addrOf(bbmd.conn)})
	if err != nil {
		t.Fatal(err)
	}
	link.cfg.TTL = 2 * time.Second // below MinFDTTL, so that the test sees a renewal
	c, err := New(Config{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	isReg := func(f frame) bool { return f.bvlc.Function == stack.BVLCRegisterForeignDevice }
	reg := bbmd.expect("registration", isReg)
	if reg.bvlc.TTL != 2 {
		t.Fatalf("ttl %d", reg.bvlc.TTL)
	}
	ok, _ := stack.AppendBVLC(nil, stack.BVLC{Function: stack.BVLCResult, Result: stack.ResultSuccessful})
	bbmd.sendBytes(reg.from, ok)
	devicetest.Eventually(t, wait, "registered", link.Registered)
	bbmd.expect("re-registration", isReg)
	if r := reregisterAfter(DefaultFDTTL); r >= DefaultFDTTL {
		t.Fatalf("re-registration after %s, not before the %s ttl", r, DefaultFDTTL)
	}
	bbmd.sendBytes(reg.from, ok)

	found := make(chan []DeviceInfo, 1)
	go func() {
		d, _ := c.Discover(ctx, DiscoverOptions{Wait: time.Second})
		found <- d
	}()
	who := bbmd.expect("distribute-broadcast who-is", func(f frame) bool { return f.bvlc.Function == stack.BVLCDistributeBroadcast })
	if stack.UnconfirmedService(who.apdu.Service) != stack.ServiceWhoIs {
		t.Fatalf("distributed %+v", who.apdu)
	}
	origin := addrOf(udp(t))
	body, _ := stack.AppendIAm(nil, stack.IAm{Device: stack.ObjectID{Type: stack.ObjectDevice, Instance: 31}, MaxAPDU: 480, Segmentation: stack.NoSegmentation, VendorID: 5})
	ab, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUUnconfirmedRequest, Service: 0, Payload: body})
	nb, _ := stack.AppendNPDU(nil, stack.NPDU{Payload: ab})
	fwd, _ := stack.AppendBVLC(nil, stack.BVLC{Function: stack.BVLCForwardedNPDU, Origin: origin, NPDU: nb})
	bbmd.sendBytes(reg.from, fwd)
	d := <-found
	if len(d) != 1 || d[0].Instance != 31 || d[0].Address != IP(origin) {
		t.Fatalf("forwarded i-am: %+v", d)
	}
}

// Who-Is goes out as an Original-Broadcast-NPDU to the configured
// broadcast address; subscriptions are renewed before their lifetime ends;
// the server rejects services it does not have and aborts segmented
// requests.
func TestBroadcastRenewalAndRefusals(t *testing.T) {
	dev := newRaw(t)
	c, clink := start(t, Config{}, BIPConfig{Broadcast: addrOf(dev.conn)})
	ctx := context.Background()
	found := make(chan []DeviceInfo, 1)
	go func() { d, _ := c.Discover(ctx, DiscoverOptions{Wait: time.Second}); found <- d }()
	who := dev.expect("broadcast who-is", func(f frame) bool { return f.bvlc.Function == stack.BVLCOriginalBroadcastNPDU })
	if stack.UnconfirmedService(who.apdu.Service) != stack.ServiceWhoIs || who.npdu.HasDest {
		t.Fatalf("broadcast %+v", who)
	}
	dev.iam(who.from, 55, 1476, stack.SegmentedBoth)
	if d := <-found; len(d) != 1 || d[0].Instance != 55 || !d[0].Segmentation.CanTransmit() {
		t.Fatalf("found %+v", d)
	}

	// Renewal: a 2 s lifetime is renewed after about 1 s.
	var mu sync.Mutex
	subscribes := 0
	go func() {
		for {
			f, ok := dev.recv(wait)
			if !ok {
				return
			}
			if f.apdu.Type == stack.PDUConfirmedRequest && stack.ConfirmedService(f.apdu.Service) == stack.ServiceSubscribeCOV {
				mu.Lock()
				subscribes++
				mu.Unlock()
				dev.send(f.from, stack.NPDU{}, stack.APDU{Type: stack.PDUSimpleAck, InvokeID: f.apdu.InvokeID, Service: f.apdu.Service})
			}
		}
	}()
	sub, err := c.Subscribe(ctx, dev.addr(), av1, SubscribeOptions{Lifetime: MinLifetime})
	if err != nil || sub.Err() != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, wait, "subscription renewed", func() bool { mu.Lock(); defer mu.Unlock(); return subscribes >= 2 })

	// The gateway's server: unknown services are rejected, segmented
	// requests aborted.
	s := newServer(t, 0)
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	asker := newRaw(t)
	asker.send(slink.LocalAddr(), stack.NPDU{ExpectingReply: true}, stack.APDU{Type: stack.PDUConfirmedRequest, MaxAPDU: 5, InvokeID: 4, Service: 26, Payload: []byte{0x0C, 0, 0, 0, 1}})
	f := asker.expect("reject", func(f frame) bool { return f.apdu.Type == stack.PDUReject })
	if f.apdu.InvokeID != 4 || stack.RejectReason(f.apdu.Reason) != stack.RejectUnrecognizedService {
		t.Fatalf("read-range answered %+v", f.apdu)
	}
	asker.send(slink.LocalAddr(), stack.NPDU{ExpectingReply: true}, stack.APDU{Type: stack.PDUConfirmedRequest, Segmented: true, MoreFollows: true, MaxAPDU: 5, InvokeID: 5, Service: 12, Payload: []byte{0x0C}})
	f = asker.expect("abort", func(f frame) bool { return f.apdu.Type == stack.PDUAbort })
	if f.apdu.InvokeID != 5 || !f.apdu.Server || stack.AbortReason(f.apdu.Reason) != stack.AbortSegmentationNotSupported {
		t.Fatalf("segmented request answered %+v", f.apdu)
	}
	asker.send(slink.LocalAddr(), stack.NPDU{ExpectingReply: true}, stack.APDU{Type: stack.PDUConfirmedRequest, MaxAPDU: 5, InvokeID: 6, Service: 12, Payload: []byte{0x0C, 0x02}})
	f = asker.expect("reject of a truncated request", func(f frame) bool { return f.apdu.Type == stack.PDUReject })
	if f.apdu.InvokeID != 6 {
		t.Fatalf("truncated request answered %+v", f.apdu)
	}
	_ = clink
}

// A request served on its own goroutine keeps its own copy of the
// request: the frames that arrive meanwhile reuse the link's buffer.
// Writes race a flood of other frames here, and every write must arrive
// as it was sent.
func TestServedRequestsOutliveTheReceiveBuffer(t *testing.T) {
	s := newServer(t, 0)
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	c, _ := start(t, Config{}, BIPConfig{})
	to := slink.LocalAddr()
	flood := newRaw(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		junk := unhexT(t, "810a0013010030ff0c0c0080000119551e2c")
		// Paced (about 20,000 frames a second): an unpaced loop on a
		// loaded machine overflows the socket's buffer and drops the
		// writes themselves, which is not what this tests.
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for range 4 {
					flood.sendBytes(to, junk)
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	ctx := context.Background()
	for i := range 100 {
		v := float32(i) + 0.25
		if err := c.Write(ctx, IP(to), av1, stack.Real(v), 8); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if w, _ := s.av.lastWrite(); float32(w.Value) != v {
			t.Fatalf("write %d arrived as %v", i, w.Value)
		}
	}
}

// SetObjects replaces the served objects while the server runs: a kept
// object keeps its priority array, a removed one is unknown, the
// database-revision counts the change, and inputs are served read-only.
func TestSetObjectsWhileRunning(t *testing.T) {
	s := newServer(t, 0)
	_, slink := start(t, Config{Server: s.srv}, BIPConfig{})
	c, _ := start(t, Config{}, BIPConfig{})
	ctx := context.Background()
	to := IP(slink.LocalAddr())
	if err := c.Write(ctx, to, av1, stack.Real(22), 8); err != nil {
		t.Fatal(err)
	}
	ai := stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 7}
	if err := s.srv.SetObjects([]Object{
		{ID: av1, Name: "supply-setpoint", Commandable: true, RelinquishDefault: 20, Source: s.av},
		{ID: ai, Name: "outside", Units: 62, Source: &fakeSource{r: Reading{Value: 4.5}}},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := c.ReadProperties(ctx, to, []stack.PropertyRef{
		{Object: av1, Property: stack.PropPriorityArray, Index: 8}, stack.Ref(gwID, stack.PropDatabaseRevision),
		{Object: gwID, Property: stack.PropObjectList, Index: 0}, stack.Ref(ai, stack.PropPresentValue), stack.Ref(bv2, stack.PropPresentValue),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Values[0].Real != 22 || res[1].Values[0].Unsigned != 2 || res[2].Values[0].Unsigned != 3 || res[3].Values[0].Real != 4.5 || res[4].Err == nil || res[4].Err.Code != stack.ErrorCodeUnknownObject {
		t.Fatalf("after SetObjects: %+v", res)
	}
	if err := c.Write(ctx, to, ai, stack.Real(1), 0); !IsError(err, stack.ErrorCodeWriteAccessDenied) {
		t.Fatalf("write to an input: %v", err)
	}
	if err := s.srv.SetObjects([]Object{{ID: ai, Name: "outside", Writable: true, Source: &fakeSource{}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("a writable input: %v", err)
	}
}
