package cloudsync_test

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/cloudsync/broker"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// received collects what the broker delivered on the gateway's topics.
type received struct {
	mu   sync.Mutex
	msgs map[string][][]byte
}

func (r *received) add(topic string, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msgs == nil {
		r.msgs = map[string][][]byte{}
	}
	r.msgs[topic] = append(r.msgs[topic], append([]byte(nil), payload...))
}

func (r *received) get(topic string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs[topic]...)
}

type env struct {
	t      *testing.T
	st     *store.Store
	gw     *device.Gateway
	files  broker.Files
	broker *broker.Broker
	got    *received
	up     *cloudsync.Uplink
	// retained counts retained messages the broker has sent to clients
	// as they subscribed.
	retained *retainCounter
}

// retainCounter is a broker hook counting retained messages sent on
// subscription, so a test knows a redelivery has happened.
type retainCounter struct {
	mqtt.HookBase
	n atomic.Int64
}

func (h *retainCounter) ID() string                                     { return "retain-counter" }
func (h *retainCounter) Provides(b byte) bool                           { return b == mqtt.OnRetainPublished }
func (h *retainCounter) OnRetainPublished(*mqtt.Client, packets.Packet) { h.n.Add(1) }

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st := storetest.Open(t, filepath.Join(dir, "data"))
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-sync"})
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.Site.Name = "Sync test"
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	files, err := broker.EnsurePKI(filepath.Join(dir, "pki"), gw.ID())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, gw: gw, files: files, got: &received{}, retained: &retainCounter{}}
	e.startBroker("127.0.0.1:0")
	return e
}

func (e *env) startBroker(addr string) {
	e.t.Helper()
	b, err := broker.Start(e.files, broker.Options{Address: addr})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := b.Server().Subscribe("sitegate/v1/#", 1, func(cl *mqtt.Client, sub packets.Subscription, pk packets.Packet) {
		e.got.add(pk.TopicName, pk.Payload)
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := b.Server().AddHook(e.retained, nil); err != nil {
		e.t.Fatal(err)
	}
	e.broker = b
	e.t.Cleanup(func() { b.Close() })
}

func (e *env) startUplink(mod func(c *cloudsync.Config)) {
	e.t.Helper()
	tlsCfg, err := cloudsync.LoadTLS(e.files.CA, e.files.ClientCert, e.files.ClientKey)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := cloudsync.Config{Gateway: e.gw, Store: e.st, Broker: e.broker.URL(), TLS: tlsCfg, Logger: quiet, AuditEvery: 100 * time.Millisecond, Demo: true}
	if mod != nil {
		mod(&cfg)
	}
	up, err := cloudsync.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.up = up
	devicetest.Run(e.t, up)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	devicetest.Eventually(t, 15*time.Second, what, cond)
}

func seqOf(t *testing.T, payload []byte) uint64 {
	t.Helper()
	var m struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(payload, &m); err != nil || m.Seq == 0 {
		t.Fatalf("payload without seq: %s", payload)
	}
	return m.Seq
}

func TestConnectsAndDrainsTheOutbox(t *testing.T) {
	e := newEnv(t)
	var firsts []uint64
	for i := 0; i < 300; i++ {
		first, err := e.st.Enqueue("telemetry", []byte(fmt.Sprintf(`{"gateway":"gw-sync","readings":[{"device":"d","point":"p%d","value":%d,"quality":"good"}]}`, i, i)))
		if err != nil {
			t.Fatal(err)
		}
		firsts = append(firsts, first)
	}
	e.startUplink(nil)
	topic := "sitegate/v1/gw-sync/telemetry"
	waitFor(t, "300 telemetry messages", func() bool { return len(e.got.get(topic)) >= 300 })
	seen := map[uint64]bool{}
	for _, p := range e.got.get(topic) {
		seen[seqOf(t, p)] = true
	}
	for _, s := range firsts {
		if !seen[s] {
			t.Fatalf("seq %d never arrived", s)
		}
	}
	waitFor(t, "outbox emptied after PUBACKs", func() bool {
		o := e.st.OutboxStats()
		return o.Depth == 0 || (o.Depth < 5 && len(e.got.get(topic)) >= 300 && e.up.Status().Published >= 300)
	})
	if st := e.up.Status(); !st.Connected || st.Published < 300 {
		t.Fatalf("status %+v", st)
	}
	// The retained online status, and the site reported on its revision.
	if s := e.got.get("sitegate/v1/gw-sync/status"); len(s) == 0 || !strings.Contains(string(s[0]), `"online"`) {
		t.Fatalf("status messages %q", s)
	}
	waitFor(t, "config/reported", func() bool { return len(e.got.get("sitegate/v1/gw-sync/config/reported")) > 0 })
	rep := e.got.get("sitegate/v1/gw-sync/config/reported")[0]
	if !strings.Contains(string(rep), `"rev":1`) || !strings.Contains(string(rep), `"Sync test"`) {
		t.Fatalf("config/reported %s", rep)
	}
	// Audit events are batched onto the audit stream.
	waitFor(t, "audit batch", func() bool { return len(e.got.get("sitegate/v1/gw-sync/audit")) > 0 })
	if a := string(e.got.get("sitegate/v1/gw-sync/audit")[0]); !strings.Contains(a, `"events":[`) || !strings.Contains(a, "config.change") {
		t.Fatalf("audit batch %s", a)
	}
	h := e.gw.Health()
	if !h.Uplink.Connected || h.Uplink.Broker == "" {
		t.Fatalf("health uplink %+v", h.Uplink)
	}
}

func (e *env) sendDesired(payload string) map[string]any {
	e.t.Helper()
	before := len(e.got.get("sitegate/v1/gw-sync/config/result"))
	// Retained, as the cloud publishes it: delivered even if the gateway
	// subscribes after this.
	if err := e.broker.Server().Publish("sitegate/v1/gw-sync/config/desired", []byte(payload), true, 1); err != nil {
		e.t.Fatal(err)
	}
	waitFor(e.t, "config/result", func() bool { return len(e.got.get("sitegate/v1/gw-sync/config/result")) > before })
	var r map[string]any
	if err := json.Unmarshal(e.got.get("sitegate/v1/gw-sync/config/result")[before], &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func TestDesiredConfiguration(t *testing.T) {
	e := newEnv(t)
	e.startUplink(nil)
	waitFor(t, "connected", func() bool { return e.up.Status().Connected })
	_, rev := e.gw.Site()

	// Applied: based on the current revision.
	r := e.sendDesired(fmt.Sprintf(`{"rev":7,"base_rev":%d,"site":{"site":{"name":"From the cloud"},"access":{"password_max_length":15,"require_2fa":["admin","installer"],"idle_timeout":"15m"}}}`, rev))
	if r["result"] != "applied" {
		t.Fatalf("result %v", r)
	}
	site, rev2 := e.gw.Site()
	if site.Site.Name != "From the cloud" || rev2 == rev || r["local_rev"].(float64) != float64(rev2) {
		t.Fatalf("site %q rev %d result %v", site.Site.Name, rev2, r)
	}

	// Invalid: every problem listed, nothing applied.
	for i, bad := range []string{
		`not json`,
		`{"rev":%d,"base_rev":%d,"site":{"site":{"name":""},"modbus":{"devices":[{"name":"x","bus":"nope","unit_id":0}]}}}`,
		`{"rev":%d,"base_rev":%d}`,
		`{"rev":%d,"base_rev":%d,"site":{},"extra":true}`,
		`{"rev":%d,"base_rev":%d,"site":"` + strings.Repeat("x", 10<<20) + `"}`,
	} {
		if strings.Contains(bad, "%d") {
			bad = fmt.Sprintf(bad, 11+i, rev2)
		}
		r := e.sendDesired(bad)
		if r["result"] != "invalid" || len(r["errors"].([]any)) == 0 {
			t.Fatalf("%.60q: result %v", bad, r)
		}
	}
	if _, now := e.gw.Site(); now != rev2 {
		t.Fatal("an invalid desired configuration changed the site")
	}

	// Conflict: the site changed offline since the cloud's base.
	local, _ := e.gw.Site()
	local.Site.Name = "Changed offline"
	if _, err := e.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: e.gw.Rev()}, local); err != nil {
		t.Fatal(err)
	}
	_, rev3 := e.gw.Site()
	r = e.sendDesired(fmt.Sprintf(`{"rev":20,"base_rev":%d,"site":{"site":{"name":"Stale cloud copy"}}}`, rev2))
	if r["result"] != "conflict" || r["local_rev"].(float64) != float64(rev3) {
		t.Fatalf("conflict result %v", r)
	}
	if site, _ := e.gw.Site(); site.Site.Name != "Changed offline" {
		t.Fatal("a conflicting desired configuration was applied")
	}
	c, ok := e.up.Conflict()
	if !ok || c.DesiredRev != 20 || c.Site.Site.Name != "Stale cloud copy" {
		t.Fatalf("conflict %+v %v", c, ok)
	}
	// Keep local: reported again, conflict gone.
	n := len(e.got.get("sitegate/v1/gw-sync/config/reported"))
	if err := e.up.ResolveConflict(device.Actor{ID: "u-inst", Role: "installer"}, false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "local site reported", func() bool { return len(e.got.get("sitegate/v1/gw-sync/config/reported")) > n })
	if _, ok := e.up.Conflict(); ok {
		t.Fatal("conflict still pending")
	}
	// The retained desired configuration comes again at every reconnect:
	// a revision already handled is ignored, not a new conflict.
	n = len(e.got.get("sitegate/v1/gw-sync/config/result"))
	redelivered := e.retained.n.Load()
	e.up.SetCut(device.Actor{ID: "u-admin", Role: "admin"}, true)
	e.up.SetCut(device.Actor{ID: "u-admin", Role: "admin"}, false)
	waitFor(t, "the retained desired configuration sent again", func() bool { return e.retained.n.Load() > redelivered })
	// A second conflict, resolved by taking the cloud's site. The gateway
	// handles desired configurations in order, so by the time revision 21
	// is answered a second answer to 20 would be there too.
	r = e.sendDesired(fmt.Sprintf(`{"rev":21,"base_rev":%d,"site":{"site":{"name":"Cloud wins"}}}`, rev2))
	if got := len(e.got.get("sitegate/v1/gw-sync/config/result")); got != n+1 || r["rev"].(float64) != 21 {
		t.Fatalf("%d answers since the reconnect, want 1 (to revision 21, got %v): a retained desired configuration was handled twice", got-n, r)
	}
	if err := e.up.ResolveConflict(device.Actor{ID: "u-inst", Role: "installer"}, true, nil); err != nil {
		t.Fatal(err)
	}
	if site, _ := e.gw.Site(); site.Site.Name != "Cloud wins" {
		t.Fatalf("site after taking the cloud's: %q", site.Site.Name)
	}
	events, _ := e.st.ListAudit(store.AuditFilter{})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	all := strings.Join(actions, " ")
	for _, want := range []string{"sync.applied", "sync.conflict", "sync.keep_local", "sync.invalid"} {
		if !strings.Contains(all, want) {
			t.Errorf("%s not audited", want)
		}
	}
}

// Refused connections say why in terms an installer can act on.
func TestRefusedBrokers(t *testing.T) {
	t.Run("wrong CA", func(t *testing.T) {
		e := newEnv(t)
		other := broker.PKIFiles(filepath.Join(t.TempDir(), "other"))
		if _, err := broker.EnsurePKI(filepath.Dir(other.CA), "gw-sync"); err != nil {
			t.Fatal(err)
		}
		e.files.CA = other.CA
		e.startUplink(nil)
		waitFor(t, "CA error", func() bool { return strings.Contains(e.up.Status().LastError, "not signed by the configured CA") })
	})
	t.Run("TLS 1.1 only", func(t *testing.T) {
		e := newEnv(t)
		e.broker.Close()
		b, err := broker.Start(e.files, broker.Options{Address: "127.0.0.1:0", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		e.broker = b
		e.startUplink(nil)
		waitFor(t, "a connection error", func() bool { return e.up.Status().LastError != "" })
		if err := e.up.Status().LastError; !strings.Contains(err, "no TLS 1.2") {
			t.Fatalf("error %q", err)
		}
	})
	t.Run("expired certificate and unsynchronised clock", func(t *testing.T) {
		e := newEnv(t)
		e.broker.Close()
		expired := expiredServer(t, e.files)
		b, err := broker.Start(expired, broker.Options{Address: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		e.broker = b
		e.startUplink(func(c *cloudsync.Config) { c.ClockSynced = func() bool { return false } })
		waitFor(t, "clock gate", func() bool { return strings.Contains(e.up.Status().LastError, "clock not synchronised") })
		if h := e.gw.Health(); !strings.Contains(h.Uplink.Error, "clock not synchronised") {
			t.Fatalf("health uplink error %q", h.Uplink.Error)
		}
	})
	t.Run("plain mqtt refused", func(t *testing.T) {
		e := newEnv(t)
		if _, err := cloudsync.New(cloudsync.Config{Gateway: e.gw, Store: e.st, Broker: "mqtt://" + e.broker.Addr()}); err == nil || !strings.Contains(err.Error(), "mqtts://") {
			t.Fatalf("plain mqtt: %v", err)
		}
	})
}

// expiredServer returns a copy of f whose server certificate expired
// yesterday, signed by the same CA.
func expiredServer(t *testing.T, f broker.Files) broker.Files {
	t.Helper()
	caCert, caKey := loadCA(t, f)
	now := time.Now()
	cert, key, err := broker.NewLeaf(caCert, caKey, "expired broker", true, broker.CertOptions{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	out := f
	dir := t.TempDir()
	out.ServerCert, out.ServerKey = filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key")
	if err := broker.WriteCert(out.ServerCert, cert); err != nil {
		t.Fatal(err)
	}
	if err := broker.WriteKey(out.ServerKey, key); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadCA(t *testing.T, f broker.Files) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	certPEM, _ := os.ReadFile(f.CA)
	keyPEM, _ := os.ReadFile(f.CAKey)
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}
