package semtech

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/lora/internal/loratest"
)

// remoteNS is a stand-in for a remote network server: it records what
// reaches it and, while answer is set, acknowledges PUSH_DATA and PULL_DATA.
type remoteNS struct {
	conn   net.PacketConn
	answer atomic.Bool

	mu   sync.Mutex
	got  [][]byte
	pull net.Addr // where the last PULL_DATA came from
}

func startRemote(t *testing.T) *remoteNS {
	r := &remoteNS{conn: listen(t)}
	r.answer.Store(true)
	go func() {
		buf := make([]byte, MaxDatagram)
		for {
			n, from, err := r.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			b := append([]byte(nil), buf[:n]...)
			p, err := DecodePacket(b)
			r.mu.Lock()
			r.got = append(r.got, b)
			if err == nil && p.Type == PullData {
				r.pull = from
			}
			r.mu.Unlock()
			if err == nil && r.answer.Load() && (p.Type == PushData || p.Type == PullData) {
				r.conn.WriteTo(ack(p), from)
			}
		}
	}()
	return r
}

func (r *remoteNS) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}

func startRelay(t *testing.T, cfg RelayConfig) (*Relay, net.Addr) {
	t.Helper()
	conn := listen(t)
	cfg.Conn = conn
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	loratest.Run(t, r.Run)
	return r, conn.LocalAddr()
}

func encode(t *testing.T, p Packet) []byte {
	b, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRelayUnchangedBothWays(t *testing.T) {
	remote := startRemote(t)
	r, addr := startRelay(t, RelayConfig{Remote: remote.conn.LocalAddr().String()})
	up, down := listen(t), listen(t)

	rx := RXPK{Tmst: 5, Freq: 868.3, Stat: CRCOK, Modu: "LORA", Datr: DataRate{LoRa: "SF9BW125"}, Size: 1, Data: []byte{7}}
	push := encode(t, Packet{Token: 0x0a0b, Type: PushData, GatewayEUI: testEUI, JSON: pushJSON(t, rx)})
	up.WriteTo(push, addr)
	if a := recv(t, up); a.Type != PushAck || a.Token != 0x0a0b {
		t.Fatalf("forwarder got %+v", a)
	}
	pull := encode(t, Packet{Token: 0x0c0d, Type: PullData, GatewayEUI: testEUI})
	down.WriteTo(pull, addr)
	if a := recv(t, down); a.Type != PullAck || a.Token != 0x0c0d {
		t.Fatalf("forwarder got %+v", a)
	}
	got := remote.received()
	if len(got) != 2 || !bytes.Equal(got[0], push) || !bytes.Equal(got[1], pull) {
		t.Fatalf("remote got %x", got)
	}

	// A downlink from the remote reaches the forwarder's PULL socket as is,
	// and its TX_ACK goes back.
	js, _ := EncodePullResp(TXPK{Imme: true, Freq: 869.525, Modu: "LORA", Datr: DataRate{LoRa: "SF12BW125"}, Data: []byte{1}})
	resp := encode(t, Packet{Token: 0x0e0f, Type: PullResp, JSON: js})
	remote.mu.Lock()
	to := remote.pull
	remote.mu.Unlock()
	remote.conn.WriteTo(resp, to)
	if p := recv(t, down); p.Type != PullResp || p.Token != 0x0e0f || !bytes.Equal(p.JSON, js) {
		t.Fatalf("forwarder got %+v", p)
	}
	txack := encode(t, Packet{Token: 0x0e0f, Type: TxAck, GatewayEUI: testEUI, JSON: EncodeTxAck(TxNone)})
	down.WriteTo(txack, addr)
	devicetest.Eventually(t, wait, "the TX_ACK at the remote", func() bool {
		g := remote.received()
		return len(g) == 3 && bytes.Equal(g[2], txack)
	})
	st := r.Stats()
	if st.Forwarded != 1 || st.Acked != 1 || st.PullRelayed != 2 || st.Downlinks != 1 || st.Buffered != 0 || !st.RemoteUp || st.RXPackets != 1 {
		t.Fatalf("stats %+v", st)
	}
	if f := r.Forwarders(); len(f) != 1 || f[0].LastPush.IsZero() || f[0].LastPull.IsZero() {
		t.Fatalf("forwarders %+v", f)
	}
}

// While the remote does not answer, uplinks wait in the buffer and are
// sent again; when it comes back, they reach it and the buffer empties.
func TestRelayBuffersAcrossOutage(t *testing.T) {
	remote := startRemote(t)
	remote.answer.Store(false)
	r, addr := startRelay(t, RelayConfig{Remote: remote.conn.LocalAddr().String(), AckTimeout: 40 * time.Millisecond})
	up := listen(t)
	for tok := range uint16(3) {
		up.WriteTo(encode(t, Packet{Token: tok, Type: PushData, GatewayEUI: testEUI, JSON: []byte(`{"stat":{"rxnb":1}}`)}), addr)
	}
	devicetest.Eventually(t, wait, "re-sent uplinks", func() bool { st := r.Stats(); return st.Buffered == 3 && st.Resent >= 3 })
	if st := r.Stats(); st.RemoteUp {
		t.Fatal("a silent remote is up")
	}
	remote.answer.Store(true)
	devicetest.Eventually(t, wait, "the buffer to empty", func() bool { st := r.Stats(); return st.Buffered == 0 && st.Acked == 3 })
	// The acknowledgements of re-sent uplinks are not passed on (the
	// forwarder gave up on them): the first thing it sees is the next one's.
	up.WriteTo(encode(t, Packet{Token: 99, Type: PushData, GatewayEUI: testEUI, JSON: []byte(`{}`)}), addr)
	if p := recv(t, up); p.Type != PushAck || p.Token != 99 {
		t.Fatalf("forwarder got %+v", p)
	}
	if st := r.Stats(); !st.RemoteUp || st.DroppedOverflow != 0 || st.DroppedExpired != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRelayBufferBounds(t *testing.T) {
	remote := startRemote(t)
	remote.answer.Store(false)
	r, addr := startRelay(t, RelayConfig{Remote: remote.conn.LocalAddr().String(), MaxBuffered: 2, MaxAge: 150 * time.Millisecond, AckTimeout: 20 * time.Millisecond})
	up := listen(t)
	for tok := range uint16(4) {
		up.WriteTo(encode(t, Packet{Token: tok, Type: PushData, GatewayEUI: testEUI, JSON: []byte(`{}`)}), addr)
	}
	devicetest.Eventually(t, wait, "overflow", func() bool { return r.Stats().DroppedOverflow == 2 })
	devicetest.Eventually(t, wait, "expiry", func() bool { st := r.Stats(); return st.DroppedExpired == 2 && st.Buffered == 0 })
}

func TestRelayRemoteUnreachable(t *testing.T) {
	gone := listen(t)
	to := gone.LocalAddr().String()
	gone.Close()
	r, addr := startRelay(t, RelayConfig{Remote: to, AckTimeout: 20 * time.Millisecond})
	up := listen(t)
	up.WriteTo(encode(t, Packet{Token: 1, Type: PushData, GatewayEUI: testEUI, JSON: []byte(`{}`)}), addr)
	devicetest.Eventually(t, wait, "remote errors", func() bool { st := r.Stats(); return st.RemoteErrors > 0 && st.Buffered == 1 })
	if _, err := NewRelay(RelayConfig{Conn: up, Remote: "no-port"}); err == nil {
		t.Fatal("a remote without a port")
	}
}
