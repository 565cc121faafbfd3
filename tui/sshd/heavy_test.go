package sshd

import (
	"io"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// holdDiff starts `config diff` on c with an input that stays open, so the
// command holds its heavy slot until close is called.
func holdDiff(t *testing.T, c *gossh.Client) (close func()) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	s.Stdout, s.Stderr = &out, &out
	if err := s.Start("config diff"); err != nil {
		t.Fatal(err)
	}
	return func() {
		_, _ = io.WriteString(in, siteYAML)
		in.Close()
		if err := s.Wait(); err != nil {
			t.Errorf("held diff: %v\n%s", err, out.String())
		}
		s.Close()
	}
}

// Heavy commands run one at a time per account and maxHeavyTotal at a
// time in all; the rest are refused at once with the reason, and run again
// when a slot is free.
func TestHeavyCommandsAreBounded(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	heavy := func() int {
		e.srv.heavy.mu.Lock()
		defer e.srv.heavy.mu.Unlock()
		return e.srv.heavy.total
	}
	release := holdDiff(t, clients[device.RoleSupport])
	waitFor(t, "the first diff running", func() bool { return heavy() == 1 })
	// The same account: refused, whatever the flags' place.
	if r := run(t, clients[device.RoleSupport], "config --json diff", siteYAML); r.code != 1 || !strings.Contains(r.stderr, "one at a time per user") {
		t.Fatalf("second heavy command of one user: %+v", r)
	}
	// Light commands are not affected.
	if r := run(t, clients[device.RoleSupport], "whoami", ""); r.code != 0 {
		t.Fatalf("whoami while a diff runs: %+v", r)
	}
	// Another account may run one; a third finds the gateway at its bound.
	releaseInstaller := holdDiff(t, clients[device.RoleInstaller])
	waitFor(t, "two diffs running", func() bool { return heavy() == maxHeavyTotal })
	if r := run(t, clients[device.RoleAdmin], "config import", siteYAML); r.code != 1 || !strings.Contains(r.stderr, "the most the gateway runs at once") {
		t.Fatalf("heavy command beyond the total: %+v", r)
	}
	release()
	releaseInstaller()
	if r := run(t, clients[device.RoleSupport], "config diff", siteYAML); r.code != 0 {
		t.Fatalf("diff after the others ended: %+v", r)
	}
	if heavy() != 0 {
		t.Fatalf("%d heavy slots held after every command ended", heavy())
	}
}

func TestHeavyName(t *testing.T) {
	for args, want := range map[string]string{
		"config diff":            "config diff",
		"config --json diff":     "config diff",
		"config import --force":  "config import",
		"modbus scan rs485-1":    "modbus scan",
		"firmware apply":         "firmware apply",
		"config export":          "",
		"whoami":                 "",
		"":                       "",
		"--help config diff":     "config diff",
		"report commissioning x": "report commissioning",
	} {
		if got := heavyName(strings.Fields(args)); got != want {
			t.Errorf("heavyName(%q) = %q, want %q", args, got, want)
		}
	}
}
