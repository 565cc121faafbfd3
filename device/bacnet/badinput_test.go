package bacnet_test

import (
	"fmt"
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
)

// rawPeer is a hand-driven BACnet/IP socket: the test decides every frame.
type rawPeer struct {
	t    testing.TB
	conn net.PacketConn
}

func newRawPeer(t testing.TB) *rawPeer {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, conn: c}
}

func (r *rawPeer) addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (r *rawPeer) sendBytes(to netip.AddrPort, b []byte) {
	_, _ = r.conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
}

// sendAPDU wraps an APDU in an NPDU and a unicast BVLC.
func (r *rawPeer) sendAPDU(to netip.AddrPort, a stack.APDU) {
	r.t.Helper()
	ab, err := stack.AppendAPDU(nil, a)
	if err != nil {
		r.t.Fatal(err)
	}
	nb, _ := stack.AppendNPDU(nil, stack.NPDU{Payload: ab})
	b, _ := stack.AppendBVLC(nil, stack.BVLC{Function: stack.BVLCOriginalUnicastNPDU, NPDU: nb})
	r.sendBytes(to, b)
}

// segmentsForever answers every confirmed request with the first segment
// of a segmented ComplexACK and never the rest.
func (r *rawPeer) segmentsForever() {
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := r.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			v, err := stack.DecodeBVLC(buf[:n])
			if err != nil || v.NPDU == nil {
				continue
			}
			np, err := stack.DecodeNPDU(v.NPDU)
			if err != nil || np.IsNetworkMessage {
				continue
			}
			a, err := stack.DecodeAPDU(np.Payload)
			if err != nil || a.Type != stack.PDUConfirmedRequest {
				continue
			}
			ab, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUComplexAck, Segmented: true, MoreFollows: true, SequenceNum: 0,
				WindowSize: 1, InvokeID: a.InvokeID, Service: a.Service, Payload: make([]byte, 400)})
			nb, _ := stack.AppendNPDU(nil, stack.NPDU{Payload: ab})
			b, _ := stack.AppendBVLC(nil, stack.BVLC{Function: stack.BVLCOriginalUnicastNPDU, NPDU: nb})
			_, _ = r.conn.WriteTo(b, from)
		}
	}()
}

// Malformed frames, answers to invoke ids never sent, a device whose
// segmented answers never complete and an I-Am flood from thousands of
// instances: each is dropped and counted, the device concerned goes
// offline with why, and every other device is read as before.
func TestBadInputCostsOnlyTheDeviceConcerned(t *testing.T) {
	good := loopbackSim(t, bacnetsim.Config{Instance: 2001})
	stuck := newRawPeer(t)
	stuck.segmentsForever()
	site := ipSite(
		simDevice("good", good, 2001, device.BACnetPoint{Name: "supply", Object: "analog-input:1"}),
		device.BACnetDevice{Name: "stuck", Instance: intp(2002), Address: stuck.addr().String(), Interval: device.Duration(time.Second),
			Points: []device.BACnetPoint{{Name: "supply", Object: "analog-input:1"}}},
	)
	f := startGateway(t, site, bacnet.Options{})
	gw := f.ipLocal()
	f.reading("good", "supply", "read", func(r field.Reading) bool { return r.Quality == field.QualityGood })

	bad := newRawPeer(t)
	// Malformed: not BVLC, a BVLC with a bad NPDU, an NPDU with a bad APDU,
	// wrong lengths, an unknown BVLC function, an unknown tag in an I-Am.
	for _, b := range [][]byte{
		{0x00, 0x01, 0x02},
		{0x81, 0x0a, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00},
		{0x81, 0x0a, 0x00, 0x06, 0x01, 0x00},
		{0x81, 0x0a, 0x00, 0x40, 0x01, 0x00, 0x10, 0x00},
		{0x81, 0x7f, 0x00, 0x04},
		{0x81, 0x0a, 0x00, 0x0b, 0x01, 0x00, 0x10, 0x00, 0xfe, 0xff, 0xff},
	} {
		bad.sendBytes(gw, b)
	}
	// Answers to invoke ids never sent.
	for id := range 50 {
		bad.sendAPDU(gw, stack.APDU{Type: stack.PDUComplexAck, InvokeID: uint8(id), Service: uint8(stack.ServiceReadPropertyMultiple), Payload: []byte{0x0c}})
		bad.sendAPDU(gw, stack.APDU{Type: stack.PDUSimpleAck, InvokeID: uint8(id), Service: uint8(stack.ServiceWriteProperty)})
	}
	// An I-Am flood: 5,000 instances from one socket, in bursts the
	// socket's buffer holds (so that the count below is exact enough).
	const flood, burst = 5000, 100
	for i := 0; i < flood; i += burst {
		before := f.drv.State().Links[0].Stats.IAmReceived
		for j := i; j < i+burst; j++ {
			body, _ := stack.AppendIAm(nil, stack.IAm{Device: stack.ObjectID{Type: stack.ObjectDevice, Instance: uint32(100000 + j)}, MaxAPDU: 1476, VendorID: 7})
			bad.sendAPDU(gw, stack.APDU{Type: stack.PDUUnconfirmedRequest, Service: uint8(stack.ServiceIAm), Payload: body})
		}
		devicetest.Eventually(t, wait, "a burst of I-Am taken", func() bool { return f.drv.State().Links[0].Stats.IAmReceived >= before+burst*9/10 })
	}

	devicetest.Eventually(t, 3*wait, "stuck offline", func() bool { return f.state("stuck").State == field.StateOffline })
	f.reading("stuck", "supply", "stale for segments that never came", func(r field.Reading) bool {
		return r.Quality == field.QualityStale && strings.Contains(r.Error, "segmented answer never completed")
	})
	if st := f.state("stuck"); st.Errors["segments"] == 0 {
		t.Fatalf("stuck status %+v", st)
	}
	_ = good.Set(oid("analog-input:1"), 99, false)
	f.reading("good", "supply", "the good device still read", func(r field.Reading) bool { return r.Value.Num == 99 && r.Quality == field.QualityGood })
	if f.state("good").State != field.StateOnline {
		t.Fatalf("good: %+v", f.state("good"))
	}
	var st bacnet.LinkState
	devicetest.Eventually(t, wait, func() string { return "every drop counted: " + fmt.Sprintf("%+v", f.drv.State().Links[0].Stats) }, func() bool {
		st = f.drv.State().Links[0]
		s := st.Stats
		return s.Link.Malformed+s.Malformed >= 4 && s.UnknownInvoke >= 100 && s.IAmReceived >= flood*9/10 && s.IAmEvicted >= flood*9/10-node.DefaultMaxDevices && s.SegmentTimeouts > 0
	})
	t.Logf("counters: %+v", st.Stats)
}
