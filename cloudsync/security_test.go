package cloudsync_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// One invalid desired configuration claiming the largest revision must not
// make the gateway ignore every valid one after it.
func TestInvalidDesiredNeverMovesTheHandledRevision(t *testing.T) {
	e := newEnv(t)
	e.startUplink(nil)
	waitFor(t, "connected", func() bool { return e.up.Status().Connected })
	for _, bad := range []string{
		`{"rev":18446744073709551615,"base_rev":0}`,
		`{"rev":18446744073709551615,"base_rev":1,"site":{"site":{"name":""}}}`,
	} {
		if r := e.sendDesired(bad); r["result"] != "invalid" {
			t.Fatalf("%s: %v", bad, r)
		}
	}
	r := e.sendDesired(fmt.Sprintf(`{"rev":30,"base_rev":%d,"site":{"site":{"name":"After the bad ones"}}}`, e.gw.Rev()))
	if r["result"] != "applied" {
		t.Fatalf("valid desired configuration after invalid ones: %v", r)
	}
	if s, _ := e.gw.Site(); s.Site.Name != "After the bad ones" {
		t.Fatalf("site %q", s.Site.Name)
	}
	// A retained invalid message, delivered again at reconnect, is not
	// answered or audited again.
	if r := e.sendDesired(`{"rev":31,"base_rev":0,"site":{"nope":1}}`); r["result"] != "invalid" {
		t.Fatalf("invalid: %v", r)
	}
	n := len(e.got.get("sitegate/v1/gw-sync/config/result"))
	redelivered := e.retained.n.Load()
	admin := device.Actor{ID: "u-admin", Role: "admin"}
	_ = e.up.SetCut(admin, true)
	_ = e.up.SetCut(admin, false)
	waitFor(t, "the retained message sent again", func() bool { return e.retained.n.Load() > redelivered })
	if r := e.sendDesired(fmt.Sprintf(`{"rev":32,"base_rev":%d,"site":{"site":{"name":"Later"}}}`, e.gw.Rev())); r["result"] != "applied" {
		t.Fatalf("after the redelivery: %v", r)
	}
	if got := len(e.got.get("sitegate/v1/gw-sync/config/result")); got != n+1 {
		t.Fatalf("%d answers since the reconnect, want 1: the invalid message was answered again", got-n)
	}
}

// Checkpoints go out with the audit stream, each in or after the record
// that carries the event it names, and verify with the gateway's key.
func TestCheckpointsArePublishedWithTheAuditStream(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		if err := e.gw.Audit(device.LocalActor, device.ActionConfigChange, fmt.Sprint("t", i), device.ResultOK); err != nil {
			t.Fatal(err)
		}
	}
	first, _, err := e.st.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	e.startUplink(nil)
	topic := "sitegate/v1/gw-sync/audit"
	type record struct {
		Events      []store.AuditEvent `json:"events"`
		Checkpoints []json.RawMessage  `json:"checkpoints"`
	}
	var seen uint64
	var cps []store.Checkpoint
	waitFor(t, "the checkpoint published", func() bool {
		seen, cps = 0, nil
		for _, p := range e.got.get(topic) {
			var r record
			if err := json.Unmarshal(p, &r); err != nil {
				t.Fatalf("audit record %s: %v", p, err)
			}
			for _, ev := range r.Events {
				seen = max(seen, ev.Seq)
			}
			for _, raw := range r.Checkpoints {
				cp, err := store.DecodeCheckpoint(raw)
				if err != nil {
					t.Fatalf("published checkpoint %s: %v", raw, err)
				}
				if cp.Seq > seen {
					t.Fatalf("checkpoint of seq %d published before the event (seen up to %d)", cp.Seq, seen)
				}
				cps = append(cps, cp)
			}
		}
		return len(cps) > 0
	})
	if cps[0].Seq != first.Seq || cps[0].Verify(e.st.AuditPublicKey()) != nil {
		t.Fatalf("published %+v, signed %+v", cps[0], first)
	}
	// A checkpoint with no new event (a clean shutdown's) goes out too.
	if err := e.gw.Audit(device.LocalActor, device.ActionConfigChange, "later", device.ResultOK); err != nil {
		t.Fatal(err)
	}
	second, _, err := e.st.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second checkpoint published", func() bool {
		for _, p := range e.got.get(topic) {
			var r record
			_ = json.Unmarshal(p, &r)
			for _, raw := range r.Checkpoints {
				if cp, _ := store.DecodeCheckpoint(raw); cp.Seq == second.Seq {
					return true
				}
			}
		}
		return false
	})
}

// A conflict keeps the cloud's site with its secrets in the secret store,
// never in clear, and gives them back after a restart.
func TestConflictKeepsTheCloudsSecretsSealed(t *testing.T) {
	e := newEnv(t)
	e.startUplink(nil)
	waitFor(t, "connected", func() bool { return e.up.Status().Connected })
	base := e.gw.Rev()
	local, _ := e.gw.Site()
	local.Site.Name = "Changed offline"
	if _, err := e.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: e.gw.Rev()}, local); err != nil {
		t.Fatal(err)
	}
	const pass, pin = "Qw8&zXc4vBn6mLk2", "58204716"
	r := e.sendDesired(fmt.Sprintf(`{"rev":40,"base_rev":%d,"site":{"site":{"name":"Cloud"},"wifi":{"enabled":true,"ssid":"Net","security":"wpa2-psk","passphrase":%q},"cellular":{"enabled":true,"sims":[{"slot":1,"apn":"internet","pin":%q}]}}}`, base, pass, pin))
	if r["result"] != "conflict" {
		t.Fatalf("result %v", r)
	}
	storetest.ScanForSecrets(t, filepath.Dir(e.st.Path()), []string{pass, pin})
	// What a restarted uplink finds.
	up, err := cloudsync.New(cloudsync.Config{Gateway: e.gw, Store: e.st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := up.Conflict()
	if !ok || c.Site.WiFi.Passphrase.Reveal() != pass || c.Site.Cellular.SIMs[0].PIN.Reveal() != pin {
		t.Fatalf("conflict after restart: %v %+v", ok, c.Site)
	}
	if err := up.ResolveConflict(device.Actor{ID: "u-inst", Role: "installer"}, false, nil); err != nil {
		t.Fatal(err)
	}
	var left []string
	_ = e.st.View(func(tx *store.Tx) error { left = tx.SecretNames("sync-conflict/"); return nil })
	if len(left) != 0 {
		t.Fatalf("secrets of a resolved conflict kept: %v", left)
	}
}
