package node

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/devicetest"
)

const wait = 5 * time.Second

func udp(t testing.TB) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c net.PacketConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// start runs a node on a fresh loopback socket until the test ends, and
// checks that Run returns cleanly.
func start(t testing.TB, cfg Config, bip BIPConfig) (*Node, *BIP) {
	t.Helper()
	if bip.Conn == nil {
		bip.Conn = udp(t)
	}
	link, err := NewBIP(bip)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Link = link
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node run: %v", err)
			}
		case <-time.After(wait):
			t.Errorf("node did not stop within %s", wait)
		}
	})
	devicetest.Eventually(t, wait, "node running", n.running.Load)
	return n, link
}

type fakeSource struct {
	mu     sync.Mutex
	r      Reading
	err    error
	werr   error
	writes []WriteRequest
}

func (f *fakeSource) Read(context.Context) (Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r, f.err
}

func (f *fakeSource) Write(_ context.Context, w WriteRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.werr != nil {
		return f.werr
	}
	f.writes = append(f.writes, w)
	f.r.Value = w.Effective
	return nil
}

func (f *fakeSource) set(v float64) {
	f.mu.Lock()
	f.r.Value = v
	f.mu.Unlock()
}

func (f *fakeSource) lastWrite() (WriteRequest, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.writes) == 0 {
		return WriteRequest{}, 0
	}
	return f.writes[len(f.writes)-1], len(f.writes)
}

// raw is a hand-driven BACnet/IP peer: the test decides every frame.
type raw struct {
	t    testing.TB
	conn net.PacketConn
}

func newRaw(t testing.TB) *raw { return &raw{t: t, conn: udp(t)} }

func (r *raw) addr() Address { return IP(addrOf(r.conn)) }

type frame struct {
	from netip.AddrPort
	bvlc stack.BVLC
	npdu stack.NPDU
	apdu stack.APDU
}

// recv reads the next frame; ok false after timeout.
func (r *raw) recv(timeout time.Duration) (frame, bool) {
	buf := make([]byte, 2048)
	_ = r.conn.SetReadDeadline(time.Now().Add(timeout))
	n, from, err := r.conn.ReadFrom(buf)
	if err != nil {
		// Timeouts, and the socket closed at the end of the test.
		return frame{}, false
	}
	b := append([]byte(nil), buf[:n]...)
	f := frame{from: from.(*net.UDPAddr).AddrPort()}
	// Errorf, not Fatalf: recv also runs on the fake devices' goroutines.
	if f.bvlc, err = stack.DecodeBVLC(b); err != nil {
		r.t.Errorf("peer sent a bad bvlc: %v", err)
		return frame{}, false
	}
	if f.bvlc.NPDU == nil {
		return f, true
	}
	if f.npdu, err = stack.DecodeNPDU(f.bvlc.NPDU); err != nil {
		r.t.Errorf("peer sent a bad npdu: %v", err)
		return frame{}, false
	}
	if !f.npdu.IsNetworkMessage {
		if f.apdu, err = stack.DecodeAPDU(f.npdu.Payload); err != nil {
			r.t.Errorf("peer sent a bad apdu: %v", err)
			return frame{}, false
		}
	}
	return f, true
}

// expect reads frames until one satisfies ok.
func (r *raw) expect(what string, ok func(frame) bool) frame {
	r.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		f, got := r.recv(time.Until(deadline))
		if got && ok(f) {
			return f
		}
	}
	r.t.Fatalf("no %s within %s", what, wait)
	return frame{}
}

func (r *raw) sendBytes(to netip.AddrPort, b []byte) {
	r.t.Helper()
	if _, err := r.conn.WriteTo(b, net.UDPAddrFromAddrPort(to)); err != nil {
		r.t.Fatal(err)
	}
}

// send wraps apdu in np (its Payload replaced) and a unicast BVLC.
func (r *raw) send(to netip.AddrPort, np stack.NPDU, a stack.APDU) {
	r.t.Helper()
	ab, err := stack.AppendAPDU(nil, a)
	if err != nil {
		r.t.Fatal(err)
	}
	np.Payload = ab
	nb, err := stack.AppendNPDU(nil, np)
	if err != nil {
		r.t.Fatal(err)
	}
	b, _ := stack.AppendBVLC(nil, stack.BVLC{Function: stack.BVLCOriginalUnicastNPDU, NPDU: nb})
	r.sendBytes(to, b)
}

func (r *raw) iam(to netip.AddrPort, instance uint32, maxAPDU uint32, seg stack.Segmentation) {
	r.t.Helper()
	body, _ := stack.AppendIAm(nil, stack.IAm{Device: stack.ObjectID{Type: stack.ObjectDevice, Instance: instance}, MaxAPDU: maxAPDU, Segmentation: seg, VendorID: 7})
	r.send(to, stack.NPDU{}, stack.APDU{Type: stack.PDUUnconfirmedRequest, Service: uint8(stack.ServiceIAm), Payload: body})
}

func unhexT(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hexDecode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
