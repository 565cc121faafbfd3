package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// Logins are audited when authentication succeeds, whatever follows
// (issue 11 item 2); a rate-limited login says so (issue 12 item 5); the
// system log sums refusals and shows user names as they are.

// countAudit returns how many audit events are action:result.
func (e *env) countAudit(actionResult string) int {
	n := 0
	for _, a := range e.auditActions() {
		if a == actionResult {
			n++
		}
	}
	return n
}

// A client that authenticates and closes at once, with no session, is
// audited and logged, and its success resets the failure counter.
func TestLoginWithoutSessionIsAudited(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	e.addUser("sam", device.RoleSupport, userOpt{})
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	for i := 0; i < access.MaxFailures-1; i++ {
		if _, err := e.dial("sam", gossh.Password("Wrong#Pass1")); err == nil {
			t.Fatal("wrong password accepted")
		}
		e.clock.Advance(2 * time.Second) // stay inside the per-address rate
	}
	c, err := e.dial("sam", gossh.Password(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, "the password login audited", func() bool { return e.countAudit("login.success:ok") == 1 })
	c, err = e.dial("ada", gossh.PublicKeys(key))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, "the key login audited", func() bool { return e.countAudit("login.success:ok") == 2 })
	if got := logs.String(); strings.Count(got, "msg=login ") != 2 || !strings.Contains(got, "method=publickey") || !strings.Contains(got, "method=password") {
		t.Fatalf("the system log does not show both logins:\n%s", got)
	}
	// The success reset the count: four more failures do not lock.
	for i := 0; i < access.MaxFailures-1; i++ {
		e.clock.Advance(2 * time.Second)
		if _, err := e.dial("sam", gossh.Password("Wrong#Pass1")); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	e.clock.Advance(2 * time.Second)
	e.mustDial("sam", gossh.Password(testPassword))
}

// A login followed by sessions is audited once, not once per session.
func TestLoginAuditedOnceWithSessions(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	c := e.mustDial("ada", gossh.PublicKeys(key))
	for i := 0; i < 3; i++ {
		if r := run(t, c, "whoami", ""); r.code != 0 {
			t.Fatalf("whoami: %+v", r)
		}
	}
	if n := e.countAudit("login.success:ok"); n != 1 {
		t.Fatalf("one login with three sessions audited %d times: %v", n, e.auditActions())
	}
}

// A key that is queried but never signed with proves nothing: no login
// is audited for it, and the connection keeps its slot.
func TestKeyQueryIsNotALogin(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	// A signer whose signatures are garbage: the server accepts the key
	// offer, then the signature fails.
	if _, err := e.dial("ada", gossh.PublicKeys(badSigner{key})); err == nil {
		t.Fatal("a bad signature logged in")
	}
	if n := e.countAudit("login.success:ok"); n != 0 {
		t.Fatalf("a key without a valid signature was audited as a login: %v", e.auditActions())
	}
}

type badSigner struct{ gossh.Signer }

func (b badSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	sig, err := b.Signer.Sign(r, append([]byte("x"), data...))
	return sig, err
}

// writeKey creates an ed25519 key pair in OpenSSH's format (0600) for the
// OpenSSH client.
func writeKey(t *testing.T) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, path
}

// opensshArgs are the options of every OpenSSH client run here: no user
// configuration, no known hosts, the default log level (which shows
// banners and instructions).
func opensshArgs(addr, user string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=INFO", "-p", port, "-l", user, host}
}

// OpenSSH `ssh -N` (no session at all) is audited and logged as a login
// and frees its unauthenticated slot.
func TestOpenSSHNoSessionLoginIsAudited(t *testing.T) {
	needTool(t, "ssh")
	var logs syncBuffer
	e := newEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	key, path := writeKey(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	args := append([]string{"-N", "-i", path, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}, opensshArgs(e.addr, "ada")...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	waitFor(t, "ssh -N audited as a login", func() bool { return e.countAudit("login.success:ok") == 1 })
	waitFor(t, "the slot freed", func() bool { return e.unauth() == 0 })
	if !strings.Contains(logs.String(), "msg=login ") {
		t.Fatalf("no log line for the login:\n%s", logs.String())
	}
	if len(e.gw.Sessions()) != 0 {
		t.Fatal("ssh -N opened a session")
	}
}

// A login refused by the per-address rate limit says so, with the wait,
// instead of looking like a wrong password.
func TestRateLimitedLoginSaysSo(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.AttemptBurst, c.Limits.AttemptRate = 1, 0.01 })
	e.addUser("sam", device.RoleSupport, userOpt{})
	var banners []string
	var mu sync.Mutex
	dial := func(auth gossh.AuthMethod) error {
		cfg := &gossh.ClientConfig{User: "sam", Auth: []gossh.AuthMethod{auth}, HostKeyCallback: gossh.FixedHostKey(e.hostPK), Timeout: 10 * time.Second,
			BannerCallback: func(msg string) error { mu.Lock(); banners = append(banners, msg); mu.Unlock(); return nil }}
		c, err := gossh.Dial("tcp", e.addr, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(gossh.Password("Wrong#Pass1")); err == nil {
		t.Fatal("wrong password accepted")
	}
	if len(banners) != 0 {
		t.Fatalf("a plain wrong password was told %q", banners)
	}
	// The budget is spent: the right password is refused, and told why.
	for _, auth := range []gossh.AuthMethod{gossh.Password(testPassword), kbi(testPassword, "", nil)} {
		banners = nil
		if err := dial(auth); err == nil {
			t.Fatal("logged in past the rate limit")
		}
		if len(banners) != 1 || !strings.Contains(banners[0], "too many attempts from your address; try again in 100 s") {
			t.Fatalf("rate-limited login was told %q", banners)
		}
	}
}

// OpenSSH shows the rate limit's message on the terminal (stderr).
func TestOpenSSHShowsRateLimit(t *testing.T) {
	needTool(t, "ssh")
	e := newEnv(t, func(c *Config) { c.Limits.AttemptBurst, c.Limits.AttemptRate = 1, 0.01 })
	e.addUser("sam", device.RoleSupport, userOpt{})
	askpass := filepath.Join(t.TempDir(), "askpass")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho 'Wrong#Pass1'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	login := func() string {
		args := append([]string{"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive", "-o", "NumberOfPasswordPrompts=1"},
			append(opensshArgs(e.addr, "sam"), "whoami")...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ssh", args...)
		cmd.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("ssh logged in with a wrong password:\n%s", out)
		}
		return string(out)
	}
	if first := login(); strings.Contains(first, "too many attempts") || !strings.Contains(first, "Permission denied") {
		t.Fatalf("first wrong password:\n%s", first)
	}
	if second := login(); !strings.Contains(second, "too many attempts from your address; try again in 100 s") {
		t.Fatalf("OpenSSH did not show the rate limit:\n%s", second)
	}
}

// User names are logged as they are, not wrapped in quotes of their own;
// control characters are escaped.
func TestLogShowsUserNamesUnquoted(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	if _, err := e.dial("bob", gossh.Password("Wrong#Pass1")); err == nil {
		t.Fatal("unknown user logged in")
	}
	e.clock.Advance(refusalWindow) // a new window: its first refusal is logged in full
	if _, err := e.dial("eve\x1b[2J", gossh.Password("Wrong#Pass1")); err == nil {
		t.Fatal("unknown user logged in")
	}
	got := logs.String()
	if !strings.Contains(got, " user=bob\n") || !strings.Contains(got, `user=eve\x1b[2J`) {
		t.Fatalf("user names in the log:\n%s", got)
	}
	if strings.Contains(got, "\x1b") {
		t.Fatal("an escape sequence reached the log")
	}
}

// Repeated refusals of one address are one line, then one summary per
// window, so a flood cannot push everything else out of the in-memory log.
func TestRepeatedRefusalsAreSummed(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.Limits.MaxUnauthPerIP = 1
	})
	held, err := netDial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	waitFor(t, "the slot held", func() bool { return e.unauth() == 1 })
	for i := 0; i < 20; i++ {
		c, err := netDial(e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Fatalf("20 refusals gave %d log lines:\n%s", n, logs.String())
	}
	e.clock.Advance(refusalWindow)
	waitFor(t, "the summary", func() bool {
		return strings.Contains(logs.String(), "19 refused from 127.0.0.1 in the last 10 s")
	})
}

// The refusal log keeps its own lines bounded whatever the number of
// addresses.
func TestRefusalLogIsBounded(t *testing.T) {
	var logs syncBuffer
	clk := newEnv(t).clock
	r := newRefusalLog(slog.New(slog.NewTextHandler(&logs, nil)), clk)
	for a := 0; a < 1000; a++ {
		for i := 0; i < 10; i++ {
			r.note(fmt.Sprintf("10.0.%d.%d", a/256, a%256), "connection refused: test")
		}
	}
	clk.Advance(refusalWindow)
	r.flush()
	lines := strings.Count(logs.String(), "\n")
	if lines > 2*maxRefusalSources+1 {
		t.Fatalf("10,000 refusals from 1,000 addresses gave %d lines", lines)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("%d refused from other addresses in the last 10 s", (1000-maxRefusalSources)*10)) {
		t.Fatalf("no summary of the other addresses:\n%s", logs.String())
	}
}
