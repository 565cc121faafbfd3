package sshd

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/firmware"
	"github.com/sitegate/sitegate/tui/cmd"
)

// fwAdapter is what the daemon attaches (see cmd/sitegate).
type fwAdapter struct{ m *firmware.Manager }

func (f fwAdapter) Info() device.FirmwareInfo { return f.m.Info() }
func (f fwAdapter) Apply(ctx context.Context, r io.Reader, a device.Actor, p func(done, total int64)) (string, error) {
	man, err := f.m.Apply(ctx, r, a, p)
	return man.Version, err
}

func TestExecFirmwareApply(t *testing.T) {
	e := newEnv(t)
	m, err := firmware.Open(e.st, firmware.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := firmware.GenerateKey()
	if err := m.Trust(pub, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	e.gw.SetFirmware(fwAdapter{m})
	var img bytes.Buffer
	payload := bytes.NewReader(bytes.Repeat([]byte("firmware payload "), 4096))
	if _, err := firmware.Sign(&img, payload, priv, firmware.Manifest{Format: firmware.FormatVersion, Version: "1.2.0", Hardware: "sitegate", MinVersion: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	clients := sessionsByRole(t, e)
	if r := run(t, clients[device.RoleInstaller], "firmware apply", img.String()); r.code != cmd.ExitForbidden {
		t.Fatalf("installer applied firmware: %+v", r)
	}
	tampered := bytes.Clone(img.Bytes())
	tampered[len(tampered)-10] ^= 0xff
	if r := run(t, clients[device.RoleAdmin], "firmware apply", string(tampered)); r.code != 1 || !strings.Contains(r.stderr, "does not match its signed hash") {
		t.Fatalf("tampered image: %+v", r)
	}
	r := run(t, clients[device.RoleAdmin], "firmware apply", img.String())
	if r.code != 0 || !strings.Contains(r.stdout, "1.2.0 installed") || !strings.Contains(r.stderr, "of 69632 bytes") {
		t.Fatalf("apply: %+v", r)
	}
	if r := run(t, clients[device.RoleSupport], "firmware status", ""); r.code != 0 || !strings.Contains(r.stdout, "version") {
		t.Fatalf("status: %+v", r)
	}
	got := strings.Join(e.auditActions(), " ")
	if !strings.Contains(got, "firmware.apply:ok") || !strings.Contains(got, "firmware.reject") {
		t.Fatalf("audit: %s", got)
	}
}
