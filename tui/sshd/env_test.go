package sshd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// The door's tests run on a fake clock that moves only when a test says
// (lockouts expire, codes change), read alike by the gateway, the access
// rules and the server's rate limits.

var quietLog = tuitest.Quiet

const testPassword = tuitest.Password

type env struct {
	t        testing.TB
	shutdown func() // ends Run and waits for it
	clock    *clockwork.Fake
	st       *store.Store
	gw       *device.Gateway
	acc      *access.Service
	srv      *Server
	addr     string
	hostPK   gossh.PublicKey
}

type envOption func(*Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	clock := clockwork.NewFake(time.Now())
	dir := t.TempDir()
	st := storetest.Open(t, dir, store.Options{Now: clock.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Clock: clock, GatewayID: "gw-test"})
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.Site.Name = "Test plant"
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	acc := access.New(gw, access.Options{Hasher: tuitest.Hasher, Clock: clock})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Gateway: gw, Access: acc, DataDir: dir, Clock: clock, Listener: ln, Logger: quietLog}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx) }()
	var once sync.Once
	shutdown := func() {
		once.Do(func() {
			stop()
			if err := <-ran; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(shutdown)
	pemBytes, err := os.ReadFile(filepath.Join(dir, HostKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clock, shutdown: shutdown, st: st, gw: gw, acc: cfg.Access, srv: srv, addr: ln.Addr().String(), hostPK: signer.PublicKey()}
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

func newSigner(t testing.TB) gossh.Signer { return tuitest.NewSigner(t) }

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
	events, _ := e.gw.AuditLog().ListAudit(device.AuditFilter{})
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
