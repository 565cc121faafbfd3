package sshd

import (
	"io"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// startDiff starts `config diff` on c with an input that stays open until
// finish is called, which returns the command's result.
func startDiff(t *testing.T, c *gossh.Client) (finish func() execResult) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	s.Stdout, s.Stderr = &out, &errb
	if err := s.Start("config diff"); err != nil {
		t.Fatal(err)
	}
	return func() execResult {
		_, _ = io.WriteString(in, siteYAML)
		in.Close()
		err := s.Wait()
		s.Close()
		code := 0
		if ee, ok := err.(*gossh.ExitError); ok {
			code = ee.ExitStatus()
		} else if err != nil {
			t.Fatalf("diff: %v", err)
		}
		return execResult{out.String(), errb.String(), code}
	}
}

func (e *env) heavyCounts() (running, waiting int) {
	e.srv.heavy.mu.Lock()
	defer e.srv.heavy.mu.Unlock()
	return e.srv.heavy.total, e.srv.heavy.waiting
}

// Heavy commands run one at a time per account and maxHeavyTotal at a
// time in all; the others wait their turn, in a bounded queue and for a
// bounded time, and are refused with the reason beyond.
func TestHeavyCommandsTakeTurns(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	sam, ivy, ada := clients[device.RoleSupport], clients[device.RoleInstaller], clients[device.RoleAdmin]
	first := startDiff(t, sam)
	waitFor(t, "the first diff running", func() bool { r, _ := e.heavyCounts(); return r == 1 })
	// The same account's second one waits (whatever the flags' place)
	// and runs when the first has ended.
	second := startDiff(t, sam)
	waitFor(t, "the second diff waiting", func() bool { _, w := e.heavyCounts(); return w == 1 })
	// Light commands are not affected; another account runs one at once.
	if r := run(t, sam, "whoami", ""); r.code != 0 {
		t.Fatalf("whoami while a diff runs: %+v", r)
	}
	other := startDiff(t, ivy)
	waitFor(t, "two diffs running", func() bool { r, _ := e.heavyCounts(); return r == maxHeavyTotal })
	if r := first(); r.code != 0 {
		t.Fatalf("first diff: %+v", r)
	}
	waitFor(t, "the second diff running", func() bool { r, w := e.heavyCounts(); return r == maxHeavyTotal && w == 0 })
	if r := second(); r.code != 0 {
		t.Fatalf("second diff: %+v", r)
	}
	// A command that waits too long is refused, saying why.
	e.srv.heavy.mu.Lock()
	e.srv.heavy.wait = 100 * time.Millisecond
	e.srv.heavy.mu.Unlock()
	hold := startDiff(t, ada)
	waitFor(t, "two diffs running", func() bool { r, _ := e.heavyCounts(); return r == maxHeavyTotal })
	if r := run(t, sam, "config --json import", siteYAML); r.code != 1 || !strings.Contains(r.stderr, "busy: config import refused: no slot came free within 100ms") || !strings.Contains(r.stderr, "at most 2 at once") {
		t.Fatalf("heavy command past the wait: %+v", r)
	}
	// A full queue refuses at once.
	e.srv.heavy.mu.Lock()
	e.srv.heavy.wait, e.srv.heavy.maxWaiting = time.Minute, 0
	e.srv.heavy.mu.Unlock()
	if r := run(t, sam, "config diff", siteYAML); r.code != 1 || !strings.Contains(r.stderr, "0 heavy commands are waiting already") {
		t.Fatalf("heavy command with the queue full: %+v", r)
	}
	if r := other(); r.code != 0 {
		t.Fatalf("installer's diff: %+v", r)
	}
	if r := hold(); r.code != 0 {
		t.Fatalf("admin's diff: %+v", r)
	}
	if r, w := e.heavyCounts(); r != 0 || w != 0 {
		t.Fatalf("%d heavy commands running and %d waiting after all ended", r, w)
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
