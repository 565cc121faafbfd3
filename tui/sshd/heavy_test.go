package sshd

import (
	"io"
	"strings"
	"testing"

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
	st := e.gw.Heavy().Stats()
	return st.Running, st.Waiting
}

// Heavy commands take turns through the gateway's limiter: one per
// account (a second is refused at once, saying why), one site-file
// operation at a time in all (the others wait their turn), and light
// commands are never held up.
func TestHeavyCommandsTakeTurns(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	sam, ivy := clients[device.RoleSupport], clients[device.RoleInstaller]
	first := startDiff(t, sam)
	waitFor(t, "the first diff running", func() bool { r, _ := e.heavyCounts(); return r == 1 })
	if r := run(t, sam, "config --json diff", siteYAML); r.code != 1 || !strings.Contains(r.stderr, "busy: config diff refused: another heavy operation of yours is still running") {
		t.Fatalf("the same account's second diff: %+v", r)
	}
	if r := run(t, sam, "whoami", ""); r.code != 0 {
		t.Fatalf("whoami while a diff runs: %+v", r)
	}
	other := startDiff(t, ivy)
	waitFor(t, "the installer's diff waiting", func() bool { r, w := e.heavyCounts(); return r == 1 && w == 1 })
	if r := first(); r.code != 0 {
		t.Fatalf("first diff: %+v", r)
	}
	waitFor(t, "the installer's diff running", func() bool { r, w := e.heavyCounts(); return r == 1 && w == 0 })
	if r := other(); r.code != 0 {
		t.Fatalf("installer's diff: %+v", r)
	}
	if r, w := e.heavyCounts(); r != 0 || w != 0 {
		t.Fatalf("%d heavy commands running and %d waiting after all ended", r, w)
	}
}

func TestHeavyOp(t *testing.T) {
	for args, want := range map[string]string{
		"config diff":            "config diff",
		"config --json diff":     "config diff",
		"config import --force":  "config import",
		"modbus scan rs485-1":    "bus scan",
		"firmware apply":         "firmware apply",
		"config export":          "",
		"whoami":                 "",
		"":                       "",
		"--help config diff":     "config diff",
		"report commissioning x": "commissioning report",
		"profile import meter":   "profile import",
	} {
		got := ""
		if op, ok := heavyOp(strings.Fields(args)); ok {
			got = op.String()
		}
		if got != want {
			t.Errorf("heavyOp(%q) = %q, want %q", args, got, want)
		}
	}
}
