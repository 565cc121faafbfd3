package sshd

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/cmd"
)

func TestHostKeyInDataDirectory(t *testing.T) {
	e := newEnv(t)
	fi, err := os.Stat(filepath.Join(e.st.Dir(), HostKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key: %v %v", fi, err)
	}
	if _, err := os.Stat("id_ed25519"); err == nil {
		t.Fatal("a host key was written into the working directory")
	}
	// A second server on the same directory keeps the same key.
	before, _ := os.ReadFile(filepath.Join(e.st.Dir(), HostKeyFile))
	if _, err := LoadOrCreateHostKey(filepath.Join(e.st.Dir(), HostKeyFile)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(e.st.Dir(), HostKeyFile))
	if string(before) != string(after) {
		t.Fatal("host key regenerated")
	}
}

func TestPublicKeyLogin(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("alice", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	c := e.mustDial("alice", gossh.PublicKeys(key))
	r := run(t, c, "whoami", "")
	if r.code != 0 || r.stdout != "alice admin\n" {
		t.Fatalf("whoami: %+v", r)
	}
	if _, err := e.dial("alice", gossh.PublicKeys(newSigner(t))); err == nil {
		t.Fatal("an unknown key logged in")
	}
	waitFor(t, "login audited", func() bool { return strings.Contains(strings.Join(e.auditActions(), " "), "login.success:ok") })
}

func TestPasswordLoginWithout2FA(t *testing.T) {
	e := newEnv(t)
	e.addUser("sam", device.RoleSupport, userOpt{})
	c := e.mustDial("sam", gossh.Password(testPassword))
	if r := run(t, c, "whoami --json", ""); r.code != 0 || !strings.Contains(r.stdout, `"role":"support"`) || !strings.Contains(r.stdout, `"user":"sam"`) {
		t.Fatalf("whoami --json: %+v", r)
	}
	if _, err := e.dial("sam", gossh.Password("Wrong#Pass1")); err == nil {
		t.Fatal("wrong password accepted")
	}
	// Keyboard-interactive works too: the site needs codes of some
	// roles, so everyone sees the code prompt, and support leaves it empty.
	var prompts []string
	e.mustDial("sam", kbi(testPassword, "", &prompts))
	if len(prompts) != 2 || !strings.Contains(prompts[0], "Password") || !strings.Contains(prompts[1], "Verification code") {
		t.Fatalf("prompts %q", prompts)
	}
}

func TestKeyboardInteractiveTOTP(t *testing.T) {
	e := newEnv(t)
	c := e.addUser("ada", device.RoleAdmin, userOpt{totp: true})

	// A password alone is not enough for an admin.
	if _, err := e.dial("ada", gossh.Password(testPassword)); err == nil {
		t.Fatal("admin logged in with a password and no code")
	}
	var prompts []string
	code := e.code(c.TOTPSecret)
	cl := e.mustDial("ada", kbi(testPassword, code, &prompts))
	if len(prompts) != 2 || !strings.Contains(prompts[0], "Password") || !strings.Contains(prompts[1], "Verification code") {
		t.Fatalf("prompts %q", prompts)
	}
	if r := run(t, cl, "whoami", ""); r.stdout != "ada admin\n" {
		t.Fatalf("whoami %+v", r)
	}
	// The same code again is a replay.
	if _, err := e.dial("ada", kbi(testPassword, code, nil)); err == nil {
		t.Fatal("a used code was accepted again")
	}
	if _, err := e.dial("ada", kbi(testPassword, "000000", nil)); err == nil {
		t.Fatal("a wrong code was accepted")
	}
	// An unknown name and a user needing no code are asked exactly the
	// same questions, so the prompts do not tell accounts apart.
	e.addUser("sam", device.RoleSupport, userOpt{})
	var unknown, support []string
	if _, err := e.dial("nobody", kbi(testPassword, "123456", &unknown)); err == nil {
		t.Fatal("unknown user logged in")
	}
	e.mustDial("sam", kbi(testPassword, "", &support))
	if strings.Join(unknown, "|") != strings.Join(support, "|") || len(unknown) != 2 {
		t.Fatalf("unknown user was asked %q, support %q", unknown, support)
	}
}

func TestLockoutOverSSH(t *testing.T) {
	e := newEnv(t)
	e.addUser("bob", device.RoleSupport, userOpt{})
	for i := 0; i < access.MaxFailures; i++ {
		if _, err := e.dial("bob", gossh.Password("Wrong#Pass1")); err == nil {
			t.Fatal("wrong password accepted")
		}
		e.clock.Advance(2 * time.Second) // stay inside the per-address rate
	}
	if _, err := e.dial("bob", gossh.Password(testPassword)); err == nil {
		t.Fatal("right password accepted while locked")
	}
	if got := strings.Join(e.auditActions(), " "); !strings.Contains(got, "account.locked:ok") {
		t.Fatalf("lockout not audited: %s", got)
	}
	e.clock.Advance(access.LockoutDuration)
	c := e.mustDial("bob", gossh.Password(testPassword))
	if r := run(t, c, "whoami", ""); r.stdout != "bob support\n" {
		t.Fatalf("after the lockout: %+v", r)
	}
}

func TestAtMostThreeAttemptsPerConnection(t *testing.T) {
	e := newEnv(t)
	e.addUser("bob", device.RoleSupport, userOpt{})
	tries := 0
	_, err := e.dial("bob", gossh.RetryableAuthMethod(gossh.PasswordCallback(func() (string, error) {
		tries++
		return "Wrong#Pass1", nil
	}), 10))
	if err == nil {
		t.Fatal("login succeeded")
	}
	if tries > 3 {
		t.Fatalf("the server accepted %d password attempts on one connection", tries)
	}
}

// Unknown names must cost the same as wrong passwords. The hash cost is
// raised so that it, not the network, dominates; medians of several
// attempts are compared with a generous bound, because the point is "no
// shortcut for unknown names" (which would be ~10× faster), not precision.
func TestUnknownUserTimingMatchesWrongPassword(t *testing.T) {
	slow := access.NewHasher(access.Argon2Params{Time: 1, Memory: 32 * 1024, Threads: 1}, 4)
	e := newEnv(t, func(c *Config) {
		c.Access = access.New(c.Gateway, access.Options{Hasher: slow, Clock: c.Clock})
		c.Limits.AttemptBurst = 100
	})
	// One wrong password per account, so none reaches the lockout.
	const rounds = 15
	for i := 0; i < rounds; i++ {
		e.addUser(fmt.Sprintf("carol%d", i), device.RoleSupport, userOpt{})
	}
	attempt := func(user string) time.Duration {
		start := time.Now()
		if _, err := e.dial(user, gossh.Password("Wrong#Pass1")); err == nil {
			t.Fatal("login succeeded")
		}
		return time.Since(start)
	}
	attempt("warm-up")
	// Alternate, so both kinds share the machine's noise.
	var known, unknownDs []time.Duration
	for i := 0; i < rounds; i++ {
		known = append(known, attempt(fmt.Sprintf("carol%d", i)))
		unknownDs = append(unknownDs, attempt(fmt.Sprintf("mallory%d", i)))
	}
	median := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	wrong, unknown := median(known), median(unknownDs)
	ratio := float64(unknown) / float64(wrong)
	t.Logf("median failed login: wrong password %v, unknown user %v (ratio %.2f)", wrong, unknown, ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown user %v vs wrong password %v: timing differs beyond noise", unknown, wrong)
	}
}

func TestSetupTokenLoginIsLimitedToTheWizard(t *testing.T) {
	e := newEnv(t)
	tok, err := e.acc.EnsureSetupToken()
	if err != nil {
		t.Fatal(err)
	}
	c := e.mustDial("setup", gossh.Password(tok.Token))
	if r := run(t, c, "whoami", ""); r.code != cmd.ExitForbidden || !strings.Contains(r.stderr, "setup wizard") {
		t.Fatalf("exec as setup: %+v", r)
	}
	if _, err := e.dial("setup", gossh.Password("WRONG-TOKEN")); err == nil {
		t.Fatal("wrong setup token accepted")
	}
}

func TestFloodFromOneAddressIsCapped(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.MaxUnauthPerIP = 4 })
	e.addUser("sam", device.RoleSupport, userOpt{})
	// Four connections that never authenticate hold the address's slots.
	var held []interface{ Close() error }
	for i := 0; i < 4; i++ {
		conn, err := netDial(e.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	waitFor(t, "slots taken", func() bool {
		e.srv.limit.mu.Lock()
		defer e.srv.limit.mu.Unlock()
		return e.srv.limit.unauth == 4
	})
	if _, err := e.dial("sam", gossh.Password(testPassword)); err == nil {
		t.Fatal("a fifth unauthenticated connection from the same address was served")
	}
	if e.srv.limit.Refused() == 0 {
		t.Fatal("refusal not counted")
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "slots released", func() bool {
		e.srv.limit.mu.Lock()
		defer e.srv.limit.mu.Unlock()
		return e.srv.limit.unauth == 0
	})
	e.mustDial("sam", gossh.Password(testPassword))
}

// A client that connects and never finishes logging in is cut at the login
// grace, and meanwhile others are served.
func TestStalledClientIsCutAtLoginGrace(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.LoginGrace = 500 * time.Millisecond })
	e.addUser("sam", device.RoleSupport, userOpt{})
	conn, err := netDial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Send only the version line, then nothing.
	if _, err := conn.Write([]byte("SSH-2.0-stalled\r\n")); err != nil {
		t.Fatal(err)
	}
	e.mustDial("sam", gossh.Password(testPassword))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("the server kept a stalled client past the login grace")
			}
			return // closed by the server
		}
	}
}
