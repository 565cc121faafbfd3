package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// Config configures the SSH server.
type Config struct {
	// Gateway is the gateway the console talks to.
	Gateway *device.Gateway
	// Access decides who may log in and what they may do.
	Access *access.Service
	// DataDir is where the host key lives.
	DataDir string
	// Logger receives connection and authentication logs.
	Logger *slog.Logger
	// Version is announced in the SSH banner.
	Version string
	// Limits bound unauthenticated clients; zero fields take DefaultLimits.
	Limits Limits
	// Now is the clock (default the gateway's).
	Now func() time.Time
}

// Server is the console's SSH server: the only door into the gateway.
type Server struct {
	cfg   Config
	ssh   *ssh.Server
	log   *slog.Logger
	gw    *device.Gateway
	acc   *access.Service
	limit *limiter
	now   func() time.Time

	wg sync.WaitGroup // sessions' helper goroutines
}

type ctxKey int

const (
	keyConn ctxKey = iota
	keyPrincipal
	keyAudited
	keyApp
)

func withDefaults(l Limits) Limits {
	d := DefaultLimits
	if l.MaxAuthTries > 0 {
		d.MaxAuthTries = l.MaxAuthTries
	}
	if l.LoginGrace > 0 {
		d.LoginGrace = l.LoginGrace
	}
	if l.MaxUnauth > 0 {
		d.MaxUnauth = l.MaxUnauth
	}
	if l.MaxUnauthPerIP > 0 {
		d.MaxUnauthPerIP = l.MaxUnauthPerIP
	}
	if l.AttemptRate > 0 {
		d.AttemptRate = l.AttemptRate
	}
	if l.AttemptBurst > 0 {
		d.AttemptBurst = l.AttemptBurst
	}
	if l.MaxArgs > 0 {
		d.MaxArgs = l.MaxArgs
	}
	if l.MaxArgBytes > 0 {
		d.MaxArgBytes = l.MaxArgBytes
	}
	return d
}

// NewServer builds the server; it listens only when Serve is called.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Gateway == nil || cfg.Access == nil || cfg.DataDir == "" {
		return nil, errors.New("ssh server: a gateway, an access service and a data directory are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "sitegate"
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Gateway.Now
	}
	cfg.Limits = withDefaults(cfg.Limits)
	key, err := LoadOrCreateHostKey(filepath.Join(cfg.DataDir, HostKeyFile))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, gw: cfg.Gateway, acc: cfg.Access, limit: newLimiter(cfg.Limits, cfg.Now), now: cfg.Now}
	srv, err := wish.NewServer(
		// Always our own key from the data directory: without it wish
		// writes ./id_ed25519 into the working directory.
		wish.WithHostKeyPEM(key),
		wish.WithVersion(cfg.Version),
		// Always set auth handlers: without them wish lets anyone in.
		wish.WithPublicKeyAuth(s.publicKeyAuth),
		wish.WithPasswordAuth(s.passwordAuth),
		wish.WithKeyboardInteractiveAuth(s.keyboardInteractiveAuth),
		func(srv *ssh.Server) error {
			// The handshake deadline covers authentication: the login grace.
			srv.HandshakeTimeout = cfg.Limits.LoginGrace
			srv.ConnCallback = s.admit
			srv.ServerConfigCallback = func(ssh.Context) *gossh.ServerConfig {
				return &gossh.ServerConfig{MaxAuthTries: cfg.Limits.MaxAuthTries}
			}
			// Sessions only: no port forwarding, no agent, no subsystems.
			srv.LocalPortForwardingCallback = nil
			srv.ReversePortForwardingCallback = nil
			srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{}
			return nil
		},
		// Middleware: the last listed runs first.
		wish.WithMiddleware(
			// 4. A session with a terminal gets the console (a session
			// without one passes through to nothing: exec already ran).
			bubbletea.Middleware(s.console),
			// 3. Exec commands for sessions without a terminal.
			s.execMiddleware,
			// 2. Who is this: principal, session registry, login audit.
			s.sessionMiddleware,
			// 1. A panic in one session must not take the gateway down.
			s.recoverMiddleware,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	s.ssh = srv
	return s, nil
}

// trackedConn holds an unauthenticated slot until login or disconnect.
type trackedConn struct {
	net.Conn
	ip   string
	l    *limiter
	once sync.Once
}

func (c *trackedConn) loggedIn() { c.once.Do(func() { c.l.release(c.ip) }) }

func (c *trackedConn) Close() error {
	c.loggedIn()
	return c.Conn.Close()
}

// admit applies the connection caps before any cryptography is spent.
func (s *Server) admit(ctx ssh.Context, conn net.Conn) net.Conn {
	ip := ipOf(conn.RemoteAddr())
	if !s.limit.admit(ip) {
		s.log.Warn("connection refused: too many unauthenticated connections", "remote", ip)
		return nil
	}
	tc := &trackedConn{Conn: conn, ip: ip, l: s.limit}
	ctx.SetValue(keyConn, tc)
	return tc
}

func connOf(ctx ssh.Context) *trackedConn {
	tc, _ := ctx.Value(keyConn).(*trackedConn)
	return tc
}

func principalOf(ctx ssh.Context) (access.Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(access.Principal)
	return p, ok
}

func (s *Server) loggedIn(ctx ssh.Context, p access.Principal) bool {
	ctx.SetValue(keyPrincipal, p)
	if tc := connOf(ctx); tc != nil {
		tc.loggedIn()
	}
	return true
}

func (s *Server) publicKeyAuth(ctx ssh.Context, key ssh.PublicKey) bool {
	tc := connOf(ctx)
	if tc == nil || !s.limit.attempt(tc.ip) {
		return false
	}
	p, err := s.acc.LoginPublicKey(ctx.User(), key)
	if err != nil {
		return false
	}
	return s.loggedIn(ctx, p)
}

// checkPassword runs one password login, one at a time per address so that
// a single address can hold at most one of the hasher's slots.
func (s *Server) checkPassword(ctx ssh.Context, password, code string, withCode bool) bool {
	tc := connOf(ctx)
	if tc == nil || !s.limit.attempt(tc.ip) {
		return false
	}
	slot := s.limit.hashSlot(tc.ip)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-slot }()
	p, err := s.acc.LoginPassword(ctx, ctx.User(), password, code, withCode, tc.ip)
	if err != nil {
		s.log.Info("login refused", "user", safeUser(ctx.User()), "remote", tc.ip)
		return false
	}
	return s.loggedIn(ctx, p)
}

func (s *Server) passwordAuth(ctx ssh.Context, password string) bool {
	return s.checkPassword(ctx, password, "", false)
}

// keyboardInteractiveAuth asks for the password, then for a verification
// code when the account (or, for an unknown name, the site) needs one.
func (s *Server) keyboardInteractiveAuth(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	answers, err := challenge("", "", []string{"Password: "}, []bool{false})
	if err != nil || len(answers) != 1 {
		return false
	}
	code := ""
	if s.acc.NeedsCode(ctx.User()) {
		codes, err := challenge("", "Enter the 6-digit code from your authenticator app.", []string{"Verification code: "}, []bool{true})
		if err != nil || len(codes) != 1 {
			return false
		}
		code = codes[0]
	}
	return s.checkPassword(ctx, answers[0], code, true)
}

// safeUser bounds and escapes a client-chosen user name for logs.
func safeUser(u string) string {
	if len(u) > 64 {
		u = u[:64]
	}
	return fmt.Sprintf("%q", u)
}

func (s *Server) recoverMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("session crashed", "panic", r, "stack", string(debug.Stack()))
				_, _ = fmt.Fprintln(sess.Stderr(), "internal error: the session was closed; the gateway keeps running")
				_ = sess.Exit(1)
			}
		}()
		next(sess)
	}
}

// sessionMiddleware registers the session with the gateway (so health
// counts it and a lock or privacy withdrawal can end it) and audits the
// login once per connection.
func (s *Server) sessionMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		p, ok := principalOf(sess.Context())
		if !ok {
			_ = sess.Exit(1)
			return
		}
		remote := ipOf(sess.RemoteAddr())
		if sess.Context().Value(keyAudited) == nil {
			sess.Context().SetValue(keyAudited, true)
			s.acc.AuditLogin(p, remote)
			s.log.Info("login", "actor", p.Actor().ID, "role", p.Actor().Role, "method", p.Method, "remote", remote)
		}
		kind := "exec"
		if _, _, isPty := sess.Pty(); isPty {
			kind = "console"
		}
		_, done := s.gw.OpenSession(device.SessionInfo{Actor: p.Actor(), Remote: remote, Kind: kind}, func(reason string) {
			_, _ = fmt.Fprintf(sess.Stderr(), "\r\nsession ended: %s\r\n", reason)
			_ = sess.Close()
		})
		defer done()
		next(sess)
	}
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.ssh.Serve(ln)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown tells every session that the gateway is stopping, closes the
// listener and all connections, and waits (until ctx ends) for the
// sessions' goroutines. It does not use the ssh package's graceful
// Shutdown, whose connection wait group races with connections finishing
// their handshake at that moment.
func (s *Server) Shutdown(ctx context.Context) error {
	s.gw.EndSessions("", "the gateway is stopping")
	err := s.ssh.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return err
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error { return s.ssh.Close() }
