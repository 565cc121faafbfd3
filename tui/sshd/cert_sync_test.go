package sshd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/cloudsync/broker"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
)

// TestOpenSSHCertificateRevokedByDesiredConfig: the cloud retains a desired
// configuration that revokes a key id on a real MQTT broker (TLS, the
// gateway's own uplink); the gateway applies it and the open OpenSSH
// session of that key id ends, saying why.
func TestOpenSSHCertificateRevokedByDesiredConfig(t *testing.T) {
	lab := newCertLab(t)
	e := newEnv(t)
	e.editAccess(func(a *device.Access) { a.SSHUserCAs = []string{lab.pub(lab.ca)} })
	key := lab.sign(lab.ca, "inst", "-I", "emp-cloud", "-n", "installer:gw-test", "-V", "-5m:+1h", "-z", "11")
	e.acceptPrivacy(key)

	files, err := broker.EnsurePKI(filepath.Join(t.TempDir(), "pki"), e.gw.ID())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(files, broker.Options{Address: "127.0.0.1:0", Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	tlsCfg, err := cloudsync.LoadTLS(files.CA, files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	up, err := cloudsync.New(cloudsync.Config{Gateway: e.gw, Store: e.st, Broker: b.URL(), TLS: tlsCfg, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, up)
	waitFor(t, "the uplink to connect", func() bool { return up.Status().Connected })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "ssh", append(sshArgs(e.addr, key), "logs", "--follow")...)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to open", func() bool {
		for _, s := range e.gw.Sessions() {
			if s.Actor.ID == "cert:emp-cloud" {
				return true
			}
		}
		return false
	})

	site, rev := e.gw.Site()
	site.Access.RevokedKeyIDs = []string{"emp-cloud"}
	body, err := json.Marshal(site.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Sprintf(`{"rev":1,"base_rev":%d,"site":%s}`, rev, body)
	if err := b.Server().Publish("sitegate/v1/"+e.gw.ID()+"/config/desired", []byte(payload), true, 1); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
	if ctx.Err() != nil {
		t.Fatal("the session outlived the revocation")
	}
	if !strings.Contains(errb.String(), "session ended: your certificate was revoked: its key id is revoked") {
		t.Fatalf("ssh stderr %q", errb.String())
	}
	if s, _ := e.gw.Site(); len(s.Access.RevokedKeyIDs) != 1 {
		t.Fatalf("desired configuration not applied: %+v", s.Access)
	}
	if ev, ok := e.lastAudit(device.ActionSyncApplied); !ok {
		t.Fatalf("no sync.applied audit: %+v", ev)
	}
}
