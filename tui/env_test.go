package tui

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
)

// testClock follows real time plus an offset that tests advance, so TOTP
// codes computed from the real clock stay valid while lockouts expire on
// demand.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// testHasher is cheap: these tests are about the door, not the hash cost.
var testHasher = access.NewHasher(access.Argon2Params{Time: 1, Memory: 64, Threads: 1}, 4)

const testPassword = "Tr4ns#Volt9"

type env struct {
	t      testing.TB
	clock  *testClock
	st     *store.Store
	gw     *device.Gateway
	acc    *access.Service
	srv    *Server
	addr   string
	hostPK gossh.PublicKey
}

type envOption func(*Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	clock := &testClock{}
	dir := t.TempDir()
	st := storetest.Open(t, dir, store.Options{Now: clock.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Now: clock.Now, GatewayID: "gw-test"})
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.Site.Name = "Test plant"
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	acc := access.New(gw, access.Options{Hasher: testHasher, Now: clock.Now})
	cfg := Config{Gateway: gw, Access: acc, DataDir: dir, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	pemBytes, err := os.ReadFile(filepath.Join(dir, HostKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clock, st: st, gw: gw, acc: cfg.Access, srv: srv, addr: ln.Addr().String(), hostPK: signer.PublicKey()}
}

type userOpt struct {
	totp     bool
	key      gossh.Signer
	noAccept bool
	keyOnly  bool // no password
}

func (e *env) addUser(name string, role device.Role, o userOpt) access.Created {
	e.t.Helper()
	u := access.NewUser{Name: name, Role: role, Password: testPassword, TOTP: o.totp, AcceptPrivacy: !o.noAccept}
	if o.keyOnly {
		u.Password = ""
	}
	if o.key != nil {
		u.PublicKeys = []string{string(gossh.MarshalAuthorizedKey(o.key.PublicKey()))}
	}
	c, err := e.acc.AddUser(context.Background(), device.LocalActor, u)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func newSigner(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) dial(user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	cfg := &gossh.ClientConfig{User: user, Auth: auth, HostKeyCallback: gossh.FixedHostKey(e.hostPK), Timeout: 10 * time.Second}
	return gossh.Dial("tcp", e.addr, cfg)
}

func (e *env) mustDial(user string, auth ...gossh.AuthMethod) *gossh.Client {
	e.t.Helper()
	c, err := e.dial(user, auth...)
	if err != nil {
		e.t.Fatalf("login as %s: %v", user, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// kbi answers keyboard-interactive prompts: "Password" and "Verification
// code", and records the prompts it saw.
func kbi(password, code string, seen *[]string) gossh.AuthMethod {
	return gossh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i, q := range questions {
			if seen != nil {
				*seen = append(*seen, q)
			}
			switch {
			case strings.Contains(q, "Password"):
				answers[i] = password
			case strings.Contains(q, "Verification code"):
				answers[i] = code
			}
		}
		return answers, nil
	})
}

type execResult struct {
	stdout, stderr string
	code           int
}

// run executes one exec command on a new session of c.
func run(t testing.TB, c *gossh.Client, cmd, stdin string) execResult {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	s.Stdin = strings.NewReader(stdin)
	err = s.Run(cmd)
	code := 0
	var ee *gossh.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitStatus()
	} else if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return execResult{out.String(), errb.String(), code}
}

func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := access.TOTPCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// auditActions returns the audit log's actions in order.
func (e *env) auditActions() []string {
	events, _ := e.st.ListAudit(store.AuditFilter{})
	var out []string
	for _, ev := range events {
		out = append(out, ev.Action+":"+ev.Result)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	devicetest.Eventually(t, 10*time.Second, what, cond)
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
