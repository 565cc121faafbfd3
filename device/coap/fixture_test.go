package coap_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	piondtls "github.com/pion/dtls/v3"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

const wait = 15 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Keys of the test sensors (test values, nobody's secret).
const (
	key7 = "k7-Qw8#zR2mX5vB9"
	key8 = "k8-Hn3$tY6pL1cJ4"
)

func testSite() *device.Site {
	s := device.DefaultSite()
	s.Site.Name = "CoAP test"
	s.CoAP = device.CoAP{Listen: "127.0.0.1:5684", Sensors: []device.CoAPSensor{
		{Name: "room-7", Identity: "room-7", Key: key7},
		{Name: "room-8", Identity: "sensor-0008", Key: key8, Interval: device.Duration(time.Minute),
			Points:   []device.CoAPPoint{{Name: "temperature", Unit: "degC"}, {Name: "occupied"}},
			Settings: []device.CoAPSetting{{Name: "sample_every", Value: "30s"}}},
	}}
	return s
}

// fixture is a real gateway on a real bbolt file with the CoAP driver on
// 127.0.0.1:0.
type fixture struct {
	t   testing.TB
	gw  *device.Gateway
	drv *coap.Driver
}

func start(t testing.TB, site *device.Site, o coap.Options) *fixture {
	t.Helper()
	gw := devicetest.Gateway(t, site)
	if o.Logger == nil {
		o.Logger = quiet
	}
	o.Bind = func(string) string { return "127.0.0.1:0" }
	drv := coap.NewDriver(gw, o)
	devicetest.Start(t, drv)
	devicetest.Eventually(t, wait, "the server listening", func() bool { return drv.Addr() != "" })
	return &fixture{t: t, gw: gw, drv: drv}
}

func (f *fixture) edit(fn func(c *device.CoAP)) {
	f.t.Helper()
	if _, err := f.gw.EditSite(device.LocalActor, "config.change", func(s *device.Site) error { fn(&s.CoAP); return nil }); err != nil {
		f.t.Fatal(err)
	}
}

// handshake opens a DTLS session as identity with key (pion/dtls, the
// way a Go sensor would).
func handshake(ctx context.Context, addr, identity, key string, suites ...piondtls.CipherSuiteID) (*piondtls.Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	if len(suites) == 0 {
		suites = []piondtls.CipherSuiteID{piondtls.TLS_PSK_WITH_AES_128_CCM_8}
	}
	conn, err := piondtls.DialWithOptions("udp", ua,
		piondtls.WithPSK(func([]byte) ([]byte, error) { return []byte(key), nil }),
		piondtls.WithPSKIdentityHint([]byte(identity)),
		piondtls.WithCipherSuites(suites...))
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// dial opens a CoAP client over a new DTLS session.
func (f *fixture) dial(identity, key string) *udpclient.Conn {
	f.t.Helper()
	conn, err := handshake(context.Background(), f.drv.Addr(), identity, key)
	if err != nil {
		f.t.Fatalf("handshake as %s: %v", identity, err)
	}
	cc := coapdtls.Client(conn)
	f.t.Cleanup(func() { cc.Close() })
	return cc
}

// post posts a body and returns the response code and diagnostic.
func post(t testing.TB, cc *udpclient.Conn, cf message.MediaType, body []byte) (codes.Code, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := cc.Post(ctx, coap.PathReadings, cf, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	var diag []byte
	if b, err := resp.ReadBody(); err == nil {
		diag = b
	}
	return resp.Code(), string(diag)
}

func (f *fixture) latest(device string) map[string]field.Reading {
	rs, _ := f.gw.Field().Latest(device)
	out := map[string]field.Reading{}
	for _, r := range rs {
		if r.Quality == field.QualityGood {
			out[r.Point] = r
		}
	}
	return out
}

func (f *fixture) counter(c coap.Counter) uint64 { return f.drv.Health().Counters[c.String()] }
