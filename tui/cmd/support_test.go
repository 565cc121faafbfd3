package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/support"
)

// support open|close|status: an admin opens and closes the window (the
// VPN itself is device/support's test), support reads it, bad durations
// are refused.
func TestSupportCommands(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if r := f.run(ctx, device.RoleAdmin, "support open --for 2h", ""); r.code != ExitFailure || !strings.Contains(r.err, "remote support is not set up") {
		t.Errorf("without a window: %+v", r)
	}
	conf := support.ConfigPath(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(conf), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("dev tun\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := support.New(support.Options{Gateway: f.gw, Config: conf})
	if err != nil {
		t.Fatal(err)
	}
	f.gw.SetSupport(w)

	if r := f.run(ctx, device.RoleSupport, "support open --for 2h", ""); r.code != ExitForbidden {
		t.Errorf("support role opens: %+v", r)
	}
	if r := f.run(ctx, device.RoleAdmin, "support open", ""); r.code != ExitUsage || !strings.Contains(r.err, "--for") {
		t.Errorf("no --for: %+v", r)
	}
	if r := f.run(ctx, device.RoleAdmin, "support open --for 87600h", ""); r.code != ExitFailure || !strings.Contains(r.err, "1m0s..72h0m0s") {
		t.Errorf("ten years: %+v", r)
	}
	r := f.run(ctx, device.RoleAdmin, "support open --for 2h", "")
	if r.code != ExitOK || !strings.Contains(r.out, "support window open until") {
		t.Fatalf("open: %+v", r)
	}
	r = f.run(ctx, device.RoleSupport, "support status --json", "")
	var st device.SupportStatus
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || !st.Open || st.By != f.users[device.RoleAdmin].ID || st.State != "stopped" {
		t.Errorf("status --json: %v %s", err, r.out)
	}
	if r := f.run(ctx, device.RoleSupport, "support status", ""); !strings.Contains(r.out, "open until") {
		t.Errorf("status: %+v", r)
	}
	if r := f.run(ctx, device.RoleAdmin, "support close", ""); r.code != ExitOK {
		t.Errorf("close: %+v", r)
	}
	if r := f.run(ctx, device.RoleAdmin, "support close", ""); r.code != ExitFailure || !strings.Contains(r.err, "no support window is open") {
		t.Errorf("close again: %+v", r)
	}
}
