package coap_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	piondtls "github.com/pion/dtls/v3"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// Readings posted in JSON and CBOR reach the field layer as the sensor's
// device, with their own times where given.
func TestReadingsJSONAndCBOR(t *testing.T) {
	f := start(t, testSite(), coap.Options{})
	c7 := f.dial("room-7", key7)
	if code, diag := post(t, c7, message.AppJSON, []byte(`{"temperature": 21.5, "window_open": false}`)); code != codes.Changed {
		t.Fatalf("json: %v %s", code, diag)
	}
	got := f.latest("room-7")
	if got["temperature"].Value != field.Number(21.5) || got["window_open"].Value != field.Boolean(false) {
		t.Fatalf("room-7: %+v", got)
	}
	if st, _ := f.gw.Field().Status("room-7"); st.State != field.StateOnline || st.Protocol != field.CoAP {
		t.Fatalf("status %+v", st)
	}

	ts := time.Now().Add(-time.Minute).Truncate(time.Second)
	c8 := f.dial("sensor-0008", key8)
	body := cborEncode([]kv{
		{"temperature", []any{
			[]kv{{"v", 20.25}, {"t", epoch(ts.Add(-time.Minute).Unix())}},
			[]kv{{"v", 20.5}, {"t", epoch(ts.Unix())}},
		}},
		{"occupied", true},
		{"humidity", 40}, // not a point of room-8: dropped and counted
	})
	if code, diag := post(t, c8, message.AppCBOR, body); code != codes.Changed {
		t.Fatalf("cbor: %v %s", code, diag)
	}
	got = f.latest("room-8")
	if r := got["temperature"]; r.Value != field.Number(20.5) || !r.TS.Equal(ts) || r.Unit != "degC" {
		t.Fatalf("room-8 temperature: %+v", r)
	}
	if got["occupied"].Value != field.Boolean(true) || len(got) != 2 {
		t.Fatalf("room-8: %+v", got)
	}
	if f.counter(coap.CounterUnknownPoint) != 1 || f.counter(coap.CounterReadings) != 5 || f.counter(coap.CounterHandshakes) != 2 {
		t.Fatalf("counters %v", f.drv.Health().Counters)
	}
	rs, err := f.gw.Field().Read(context.Background(), "room-8", []string{"temperature"})
	if err != nil || len(rs) != 1 || rs[0].Value != field.Number(20.5) {
		t.Fatalf("points read: %v %+v", err, rs)
	}
	sensors := f.drv.Sensors()
	if len(sensors) != 2 || sensors[1].Readings != 3 || !sensors[1].Session || sensors[1].LastSeen.IsZero() {
		t.Fatalf("sensors %+v", sensors)
	}
}

// Bad input is refused with a clear answer, counted, and the sensor and
// the others keep being served.
func TestRefusals(t *testing.T) {
	f := start(t, testSite(), coap.Options{})
	ctx := context.Background()

	if _, err := handshake(ctx, f.drv.Addr(), "nobody", key7); err == nil {
		t.Fatal("an unknown identity got a session")
	}
	if _, err := handshake(ctx, f.drv.Addr(), "room-7", "k7-wrong-key-0000"); err == nil {
		t.Fatal("a wrong key got a session")
	}
	devicetest.Eventually(t, wait, "refusals counted", func() bool {
		return f.counter(coap.CounterUnknownIdentity) == 1 && f.counter(coap.CounterBadKey) == 1
	})

	c7 := f.dial("room-7", key7)
	now := time.Now().Unix()
	tests := []struct {
		name string
		cf   message.MediaType
		body string
		code codes.Code
		diag string
		c    coap.Counter
	}{
		{"not json", message.AppJSON, `{"temperature": 21.5`, codes.BadRequest, "malformed body", coap.CounterMalformed},
		{"not a map", message.AppJSON, `[1, 2]`, codes.BadRequest, "map of point names", coap.CounterMalformed},
		{"bad point name", message.AppJSON, `{"temp erature": 1}`, codes.BadRequest, "point name", coap.CounterMalformed},
		{"null value", message.AppJSON, `{"t": null}`, codes.BadRequest, "want a number, a bool, a text", coap.CounterMalformed},
		{"cbor garbage", message.AppCBOR, "\xff\xff", codes.BadRequest, "cbor at byte", coap.CounterMalformed},
		{"too large", message.AppJSON, `{"x": "` + strings.Repeat("a", coap.MaxBodySize) + `"}`, codes.RequestEntityTooLarge, "at most 1024 bytes", coap.CounterTooLarge},
		{"xml", message.AppXML, `<t/>`, codes.UnsupportedMediaType, "application/cbor", coap.CounterUnsupportedFormat},
		{"too old", message.AppJSON, fmt.Sprintf(`{"t": {"v": 1, "t": %d}}`, now-25*3600), codes.BadRequest, "stale reading", coap.CounterStale},
		{"future", message.AppJSON, fmt.Sprintf(`{"t": {"v": 1, "t": %d}}`, now+3600), codes.BadRequest, "stale reading", coap.CounterStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.counter(tt.c)
			code, diag := post(t, c7, tt.cf, []byte(tt.body))
			if code != tt.code || !strings.Contains(diag, tt.diag) {
				t.Errorf("got %v %q; want %v ...%s...", code, diag, tt.code, tt.diag)
			}
			if f.counter(tt.c) != before+1 {
				t.Errorf("%s not counted", tt.c)
			}
		})
	}

	// A replayed timestamped reading is dropped, not taken twice.
	body := fmt.Sprintf(`{"t": {"v": 5, "t": %d}}`, now)
	for range 2 {
		if code, diag := post(t, c7, message.AppJSON, []byte(body)); code != codes.Changed {
			t.Fatalf("%v %s", code, diag)
		}
	}
	if f.counter(coap.CounterReplayed) != 1 {
		t.Errorf("replays: %v", f.drv.Health().Counters)
	}
	// Both sensors are still served on their sessions.
	if code, _ := post(t, c7, message.AppJSON, []byte(`{"t": 6}`)); code != codes.Changed {
		t.Errorf("room-7 after refusals: %v", code)
	}
	if code, _ := post(t, f.dial("sensor-0008", key8), message.AppJSON, []byte(`{"occupied": true}`)); code != codes.Changed {
		t.Errorf("room-8 after refusals: %v", code)
	}
	s := f.drv.Sensors()[0]
	if s.Refusals["malformed"] != 5 || s.Refusals["stale"] != 2 || s.Refusals["bad_key"] != 1 || s.Refusals["replayed"] != 1 {
		t.Errorf("room-7 refusals %v", s.Refusals)
	}
	if st, _ := f.gw.Field().Status("room-7"); st.Errors["malformed"] != 5 {
		t.Errorf("status errors %v", st.Errors)
	}
	// The counters are in health.
	f.gw.AddHealthSource(f.drv.FillHealth)
	h := f.gw.Health().CoAP
	if h == nil || h.Listening != f.drv.Addr() || h.Sensors != 2 || h.Sessions != 2 || h.Counters["malformed"] != 5 || h.Counters["unknown_identity"] != 1 {
		t.Errorf("health %+v", h)
	}
}

// The configuration is observable: a site change notifies the observer;
// removing the sensor ends its session and refuses the next handshake.
func TestConfigObserveAndSiteChanges(t *testing.T) {
	f := start(t, testSite(), coap.Options{})
	c8 := f.dial("sensor-0008", key8)
	docs := make(chan string, 8)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	obs, err := c8.Observe(ctx, coap.PathConfig, func(n *pool.Message) {
		if b, err := n.ReadBody(); err == nil {
			docs <- string(b)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Cancel(ctx)
	want := `{"name":"room-8","interval_s":60,"points":["temperature","occupied"],"settings":{"sample_every":"30s"}}`
	if got := next(t, docs); got != want {
		t.Fatalf("config\n got %s\nwant %s", got, want)
	}
	f.edit(func(c *device.CoAP) { c.Sensors[1].Settings[0].Value = "10s" })
	if got := next(t, docs); !strings.Contains(got, `"sample_every":"10s"`) {
		t.Fatalf("notification %s", got)
	}

	c7 := f.dial("room-7", key7)
	f.edit(func(c *device.CoAP) { c.Sensors = c.Sensors[1:] })
	devicetest.Eventually(t, wait, "room-7's session ended", func() bool {
		select {
		case <-c7.Done():
			return true
		default:
			return false
		}
	})
	if _, err := handshake(context.Background(), f.drv.Addr(), "room-7", key7); err == nil {
		t.Fatal("a removed sensor got a session")
	}
	if code, _ := post(t, c8, message.AppJSON, []byte(`{"occupied": false}`)); code != codes.Changed {
		t.Errorf("room-8 after the change: %v", code)
	}
	if f.counter(coap.CounterSessionsEnded) != 1 {
		t.Errorf("counters %v", f.drv.Health().Counters)
	}
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(wait):
		t.Fatal("no notification")
		return ""
	}
}

// deaf is a client socket that sends but never hears: the handshakes of
// a flood from spoofed addresses, which never return the cookie.
type deaf struct {
	net.PacketConn
	closed chan struct{}
	once   sync.Once
}

func (d *deaf) ReadFrom([]byte) (int, net.Addr, error) {
	<-d.closed
	return 0, nil, net.ErrClosed
}

func (d *deaf) Close() error {
	d.once.Do(func() { close(d.closed) })
	return d.PacketConn.Close()
}

// A handshake flood from one address fills that address's slots and is
// refused beyond them; a sensor on another address keeps being served;
// the abandoned handshakes end at the timeout.
func TestHandshakeFlood(t *testing.T) {
	lim := coap.Limits{Handshakes: 8, HandshakesPerAddr: 4, HandshakeTimeout: 2 * time.Second}
	f := start(t, testSite(), coap.Options{Limits: lim})
	raddr, _ := net.ResolveUDPAddr("udp", f.drv.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var deafs []*deaf
	defer func() {
		// The clients' handshakes end when their sockets close.
		cancel()
		for _, d := range deafs {
			d.Close()
		}
		wg.Wait()
	}()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		d := &deaf{PacketConn: pc, closed: make(chan struct{})}
		deafs = append(deafs, d)
		conn, err := piondtls.ClientWithOptions(d, raddr,
			piondtls.WithPSK(func([]byte) ([]byte, error) { return []byte(key7), nil }),
			piondtls.WithPSKIdentityHint([]byte("room-7")),
			piondtls.WithCipherSuites(piondtls.TLS_PSK_WITH_AES_128_CCM_8))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = conn.HandshakeContext(ctx)
		}()
	}
	devicetest.Eventually(t, wait, "the flood refused beyond the per-address bound", func() bool {
		h := f.drv.Health()
		return h.Counters["busy"] >= 16 && h.Handshakes == 4
	})

	// Another loopback address is another source.
	pc, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no second loopback address: %v", err)
		}
		t.Skipf("no second loopback address: %v", err)
	}
	conn, err := piondtls.ClientWithOptions(pc, raddr,
		piondtls.WithPSK(func([]byte) ([]byte, error) { return []byte(key8), nil }),
		piondtls.WithPSKIdentityHint([]byte("sensor-0008")),
		piondtls.WithCipherSuites(piondtls.TLS_PSK_WITH_AES_128_GCM_SHA256))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hctx, hcancel := context.WithTimeout(context.Background(), wait)
	defer hcancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		t.Fatalf("a sensor on another address during the flood: %v", err)
	}
	devicetest.Eventually(t, wait, "the abandoned handshakes timed out", func() bool {
		return f.counter(coap.CounterHandshakeTimeout) >= 4 && f.drv.Health().Handshakes == 0
	})
}

// The socket follows coap.listen: a new address opens a new socket and
// closes the old one; no address, no socket.
func TestListenFollowsTheSite(t *testing.T) {
	f := start(t, testSite(), coap.Options{})
	first := f.drv.Addr()
	f.edit(func(c *device.CoAP) { c.Listen = "127.0.0.1:5685" })
	devicetest.Eventually(t, wait, "a new socket", func() bool { a := f.drv.Addr(); return a != "" && a != first })
	if _, err := handshake(context.Background(), f.drv.Addr(), "room-7", key7); err != nil {
		t.Fatalf("on the new socket: %v", err)
	}
	if c, err := net.ListenPacket("udp", first); err != nil {
		t.Errorf("the old socket %s is still open: %v", first, err)
	} else {
		c.Close()
	}
	f.edit(func(c *device.CoAP) { c.Listen = "" })
	devicetest.Eventually(t, wait, "no socket", func() bool { return f.drv.Addr() == "" && f.drv.Health().Listening == "" })
}

// A sensor's new session ends its older one: one session per identity.
func TestNewSessionReplacesTheOld(t *testing.T) {
	f := start(t, testSite(), coap.Options{})
	old := f.dial("room-7", key7)
	fresh := f.dial("room-7", key7)
	devicetest.Eventually(t, wait, "the old session ended", func() bool {
		select {
		case <-old.Done():
			return true
		default:
			return false
		}
	})
	if code, _ := post(t, fresh, message.AppJSON, []byte(`{"t": 1}`)); code != codes.Changed {
		t.Fatalf("the new session: %v", code)
	}
	if h := f.drv.Health(); h.Sessions != 1 || h.Counters["sessions_replaced"] != 1 {
		t.Fatalf("health %+v", h)
	}
}
