package semtech

import (
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/lora/internal/loratest"
	"github.com/sitegate/sitegate/device/lora/lorawan"
)

const wait = 5 * time.Second

func listen(t *testing.T) net.PacketConn { return loratest.ListenUDP(t) }

func send(t *testing.T, from net.PacketConn, to net.Addr, p Packet) {
	t.Helper()
	b, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := from.WriteTo(b, to); err != nil {
		t.Fatal(err)
	}
}

// recv reads one datagram, or fails the test after wait.
func recv(t *testing.T, c net.PacketConn) Packet {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, MaxDatagram)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	p, err := DecodePacket(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pushJSON(t *testing.T, rx ...RXPK) []byte {
	b, err := json.Marshal(map[string]any{"rxpk": rx})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clock is a settable clock for rate tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func startServer(t *testing.T, cfg Config) (*Server, net.Addr) {
	t.Helper()
	conn := listen(t)
	cfg.Conn = conn
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	loratest.Run(t, s.Run)
	return s, conn.LocalAddr()
}

func TestServerUplinkDownlink(t *testing.T) {
	var mu sync.Mutex
	var rxs []Rx
	var acks []TxResult
	s, addr := startServer(t, Config{
		OnRx:    func(r Rx) { mu.Lock(); rxs = append(rxs, r); mu.Unlock() },
		OnTxAck: func(r TxResult) { mu.Lock(); acks = append(acks, r); mu.Unlock() },
	})
	up, down := listen(t), listen(t) // a forwarder's two sockets

	if _, err := s.Send(testEUI, TXPK{Imme: true}); !errors.Is(err, ErrNoDownlinkPath) {
		t.Fatalf("send before PULL_DATA: %v", err)
	}

	// PUSH_DATA: one good rxpk, one with a CRC error; PUSH_ACK with its token.
	good := RXPK{Tmst: 1000, Freq: 868.1, Stat: CRCOK, Modu: "LORA", Datr: DataRate{LoRa: "SF7BW125"}, RSSI: -40, LSNR: 9, Size: 3, Data: []byte{1, 2, 3}}
	bad := good
	bad.Stat = CRCBad
	send(t, up, addr, Packet{Token: 0x1111, Type: PushData, GatewayEUI: testEUI, JSON: pushJSON(t, good, bad)})
	if a := recv(t, up); a.Type != PushAck || a.Token != 0x1111 {
		t.Fatalf("ack %+v", a)
	}
	mu.Lock()
	if len(rxs) != 1 || rxs[0].Gateway != testEUI || rxs[0].RXPK.Tmst != 1000 || string(rxs[0].RXPK.Data) != "\x01\x02\x03" {
		t.Fatalf("rx %+v", rxs)
	}
	mu.Unlock()

	// PULL_DATA opens the downlink path: PULL_ACK, then PULL_RESP goes there.
	send(t, down, addr, Packet{Token: 0x2222, Type: PullData, GatewayEUI: testEUI})
	if a := recv(t, down); a.Type != PullAck || a.Token != 0x2222 {
		t.Fatalf("pull ack %+v", a)
	}
	tm := uint32(1000 + 1_000_000)
	tok, err := s.Send(testEUI, TXPK{Tmst: &tm, Freq: 868.1, Powe: 14, Modu: "LORA", Datr: DataRate{LoRa: "SF7BW125"}, IPol: true, Data: []byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	resp := recv(t, down)
	tx, err := DecodePullResp(resp.JSON)
	if resp.Type != PullResp || resp.Token != tok || err != nil || *tx.Tmst != tm || tx.Size != 1 {
		t.Fatalf("pull resp %+v %+v %v", resp, tx, err)
	}
	send(t, down, addr, Packet{Token: tok, Type: TxAck, GatewayEUI: testEUI, JSON: EncodeTxAck(TxTooLate)})
	send(t, down, addr, Packet{Token: tok + 100, Type: TxAck, GatewayEUI: testEUI})
	devicetest.Eventually(t, wait, "two TX_ACKs", func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) == 2 })
	mu.Lock()
	if !acks[0].Matched || acks[0].Error != TxTooLate || acks[0].Sent.IsZero() || acks[1].Matched || acks[1].Error != TxNone {
		t.Fatalf("acks %+v", acks)
	}
	mu.Unlock()

	st := s.Stats()
	if st.Datagrams != 4 || st.RXPackets != 2 || st.CRCErrors != 1 || st.TxSent != 1 || st.TxAcked != 1 || st.TxFailed != 1 || st.Malformed != 0 {
		t.Fatalf("stats %+v", st)
	}
	f := s.Forwarders()
	if len(f) != 1 || f[0].GatewayEUI != testEUI || f[0].LastPush.IsZero() || f[0].LastPull.IsZero() || f[0].PullAddr != down.LocalAddr().String() ||
		f[0].PushAddr != up.LocalAddr().String() || f[0].CRCErrors != 1 || f[0].RXPackets != 2 || f[0].LastTxError != "NONE" {
		t.Fatalf("forwarders %+v", f)
	}
}

// Broken datagrams are dropped and counted; nothing else changes.
func TestServerRefusesBadInput(t *testing.T) {
	var n int
	var mu sync.Mutex
	s, addr := startServer(t, Config{OnRx: func(Rx) { mu.Lock(); n++; mu.Unlock() }})
	c := listen(t)
	for _, b := range [][]byte{
		{}, {2, 0}, {1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}, {2, 0, 0, 9}, {2, 0, 0, 1}, // short, v1, unknown type, server-side type
	} {
		c.WriteTo(b, addr)
	}
	send(t, c, addr, Packet{Type: PushData, GatewayEUI: testEUI, JSON: []byte(`{"rxpk":[{`)})
	send(t, c, addr, Packet{Type: PushData, GatewayEUI: testEUI, JSON: []byte(`{"rxpk":[{"stat":1,"size":2,"data":"***"}]}`)})
	send(t, c, addr, Packet{Type: TxAck, GatewayEUI: testEUI, JSON: []byte(`{"txpk_ack":`)})
	devicetest.Eventually(t, wait, "eight datagrams", func() bool { return s.Stats().Datagrams == 8 })
	st := s.Stats()
	if st.Malformed != 5 || st.BadJSON != 2 || st.BadRXPK != 1 || st.RXPackets != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The broken PUSH_DATA was not acknowledged; the one with a bad rxpk was
	// (the datagram itself was sound).
	if p := recv(t, c); p.Type != PushAck {
		t.Fatalf("got %+v", p)
	}
	f := s.Forwarders()
	if len(f) != 1 || f[0].BadPackets != 1 || n != 0 {
		t.Fatalf("forwarders %+v, rx %d", f, n)
	}
}

// A flooding forwarder is limited; another one is not.
func TestServerRateLimitPerSource(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	other := lorawan.EUI64{1}
	s, addr := startServer(t, Config{Now: clk.now, Limits: Limits{Rate: 1, Burst: 5}})
	flood, calm := listen(t), listen(t)
	for range 20 {
		send(t, flood, addr, Packet{Type: PullData, GatewayEUI: testEUI})
	}
	send(t, calm, addr, Packet{Type: PullData, GatewayEUI: other})
	devicetest.Eventually(t, wait, "21 datagrams", func() bool { return s.Stats().Datagrams == 21 })
	if st := s.Stats(); st.RateLimited != 15 {
		t.Fatalf("rate limited %d, want 15", st.RateLimited)
	}
	if p := recv(t, calm); p.Type != PullAck {
		t.Fatalf("the calm forwarder got %+v", p)
	}
	for _, f := range s.Forwarders() {
		if f.GatewayEUI == testEUI && f.RateLimited != 15 || f.GatewayEUI == other && f.RateLimited != 0 {
			t.Fatalf("forwarder %+v", f)
		}
	}
	// Time refills the bucket.
	clk.mu.Lock()
	clk.t = clk.t.Add(3 * time.Second)
	clk.mu.Unlock()
	for range 3 {
		send(t, flood, addr, Packet{Type: PullData, GatewayEUI: testEUI})
	}
	devicetest.Eventually(t, wait, "24 datagrams", func() bool { return s.Stats().Datagrams == 24 })
	if st := s.Stats(); st.RateLimited != 15 {
		t.Fatalf("after refill: rate limited %d", st.RateLimited)
	}
}

func TestServerGatewaysAndTableBound(t *testing.T) {
	s, addr := startServer(t, Config{Limits: Limits{Gateways: []lorawan.EUI64{testEUI, {2}}, MaxForwarders: 1}})
	c := listen(t)
	send(t, c, addr, Packet{Type: PullData, GatewayEUI: lorawan.EUI64{9}})
	send(t, c, addr, Packet{Type: PullData, GatewayEUI: testEUI})
	send(t, c, addr, Packet{Type: PullData, GatewayEUI: lorawan.EUI64{2}})
	devicetest.Eventually(t, wait, "3 datagrams", func() bool { return s.Stats().Datagrams == 3 })
	if st := s.Stats(); st.UnknownGateway != 1 || st.TooManyForwarders != 1 || len(s.Forwarders()) != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := NewServer(Config{}); err == nil {
		t.Fatal("a server without a connection")
	}
}
