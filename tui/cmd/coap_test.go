package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	piondtls "github.com/pion/dtls/v3"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// coap sensors and points read against the real driver: a sensor posts
// over DTLS (pion/dtls, go-coap's client), the commands show it and never
// its key.
func TestCoAPSensorsAndPoints(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if r := f.run(ctx, device.RoleSupport, "coap sensors", ""); r.code != ExitFailure || !strings.Contains(r.err, "not running") {
		t.Fatalf("without the driver: %+v", r)
	}
	const key = "k7-Qw8#zR2mX5vB9"
	site, rev := f.gw.Site()
	site.CoAP = device.CoAP{Listen: "127.0.0.1:5684", Sensors: []device.CoAPSensor{
		{Name: "room-7", Identity: "room-7", Key: key}, {Name: "room-9", Identity: "room-9", Key: "k9-Lm2$wQ7rT4yU1"}}}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	drv := coap.NewDriver(f.gw, coap.Options{Logger: tuitest.Quiet, Bind: func(string) string { return "127.0.0.1:0" }})
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- drv.Run(rctx) }()
	t.Cleanup(sync.OnceFunc(func() { cancel(); <-done }))
	devicetest.Eventually(t, tuitest.Wait, "the CoAP server listening", func() bool { return drv.Addr() != "" })

	ua, _ := net.ResolveUDPAddr("udp", drv.Addr())
	conn, err := piondtls.DialWithOptions("udp", ua,
		piondtls.WithPSK(func([]byte) ([]byte, error) { return []byte(key), nil }),
		piondtls.WithPSKIdentityHint([]byte("room-7")),
		piondtls.WithCipherSuites(piondtls.TLS_PSK_WITH_AES_128_CCM_8))
	if err != nil {
		t.Fatal(err)
	}
	cc := coapdtls.Client(conn)
	defer cc.Close()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	resp, err := cc.Post(pctx, coap.PathReadings, message.AppJSON, bytes.NewReader([]byte(`{"temperature": 21.5, "occupied": true}`)))
	if err != nil || resp.Code() != codes.Changed {
		t.Fatalf("post: %v %v", err, resp)
	}

	r := f.run(ctx, device.RoleSupport, "coap sensors --json", "")
	var sensors []map[string]any
	if err := json.Unmarshal([]byte(r.out), &sensors); err != nil || r.code != ExitOK || len(sensors) != 2 {
		t.Fatalf("coap sensors --json: %v %+v", err, r)
	}
	for k, want := range map[string]any{"name": "room-7", "identity": "room-7", "state": "online", "readings": 2.0, "session": true} {
		if sensors[0][k] != want {
			t.Errorf("room-7's %s = %v, want %v", k, sensors[0][k], want)
		}
	}
	if _, ok := sensors[0]["last_seen"]; !ok {
		t.Errorf("no last_seen: %v", sensors[0])
	}
	r = f.run(ctx, device.RoleSupport, "coap sensors", "")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != ExitOK || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME IDENTITY STATE SESSION LAST-SEEN READINGS REFUSALS" {
		t.Fatalf("coap sensors: %+v", r)
	}
	if row := strings.Fields(lines[2]); row[0] != "room-9" || row[2] != "unknown" || row[len(row)-1] != "-" {
		t.Errorf("room-9's row: %q", lines[2])
	}
	for _, out := range []string{r.out, f.run(ctx, device.RoleSupport, "coap sensors --json", "").out, f.run(ctx, device.RoleAdmin, "config export", "").out} {
		if strings.Contains(out, key) {
			t.Fatal("a command shows a sensor's key")
		}
	}

	r = f.run(ctx, device.RoleSupport, "points read room-7 --json", "")
	var rs []map[string]any
	if err := json.Unmarshal([]byte(r.out), &rs); err != nil || r.code != ExitOK || len(rs) != 2 || rs[1]["point"] != "temperature" || rs[1]["value"] != 21.5 {
		t.Fatalf("points read: %v %+v", err, r)
	}
}
