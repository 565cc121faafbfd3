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

	wg     sync.WaitGroup // sessions' helper goroutines
	apps   sync.Map       // ssh.Session → *app, for the console's cleanup
	connMu sync.Mutex     // guards per-connection session counts
	prob   probation      // a network change waiting for confirmation
}

type ctxKey int

const (
	keyConn ctxKey = iota
	keyPrincipal
	keyAudited
	keySessions
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
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": s.sessionChannel}
			// A connection with no traffic at all ends after the site's idle
			// timeout (a console's own idle timeout counts keystrokes).
			site, _ := cfg.Gateway.Site()
			srv.IdleTimeout = site.Access.IdleTimeout.Std()
			return nil
		},
		// Middleware: the last listed runs first.
		wish.WithMiddleware(
			// 4. A session with a terminal gets the console (a session
			// without one passes through to nothing: exec already ran).
			bubbletea.MiddlewareWithProgramHandler(s.program),
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

// authenticated records who the connection belongs to. The connection's
// unauthenticated slot is given back only when a session starts: a public
// key callback runs for key queries too, before any signature proves the
// key, so it must not free the slot.
func (s *Server) authenticated(ctx ssh.Context, p access.Principal) bool {
	ctx.SetValue(keyPrincipal, p)
	return true
}

func (s *Server) publicKeyAuth(ctx ssh.Context, key ssh.PublicKey) bool {
	// Key offers cost no hashing and are bounded by MaxAuthTries; they do
	// not use the address's password budget.
	if connOf(ctx) == nil {
		return false
	}
	p, err := s.acc.LoginPublicKey(ctx.User(), key)
	if err != nil {
		return false
	}
	return s.authenticated(ctx, p)
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
	p, err := s.acc.LoginPassword(ctx, ctx.User(), password, code, withCode)
	if err != nil {
		s.log.Info("login refused", "user", safeUser(ctx.User()), "remote", tc.ip)
		return false
	}
	return s.authenticated(ctx, p)
}

func (s *Server) passwordAuth(ctx ssh.Context, password string) bool {
	return s.checkPassword(ctx, password, "", false)
}

// keyboardInteractiveAuth asks for the password and, when any role of the
// site needs one, the verification code, in one round and the same for
// every user name, so the prompts tell nothing about accounts.
func (s *Server) keyboardInteractiveAuth(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	prompts, echos := []string{"Password: "}, []bool{false}
	instruction := ""
	if s.acc.AsksCode() {
		prompts, echos = append(prompts, "Verification code: "), append(echos, true)
		instruction = "Enter your password and the 6-digit code from your authenticator app (leave the code empty if your role needs none)."
	}
	answers, err := challenge("", instruction, prompts, echos)
	if err != nil || len(answers) != len(prompts) {
		return false
	}
	code := ""
	if len(answers) == 2 {
		code = answers[1]
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

// sessionMiddleware checks who the session belongs to once more, registers
// it with the gateway (so health counts it and a lock, deletion, role change
// or privacy withdrawal can end it) and audits the login once per
// connection.
func (s *Server) sessionMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		ctx := sess.Context()
		p, ok := principalOf(ctx)
		if !ok || !s.verifyPrincipal(sess, &p) {
			_, _ = fmt.Fprintln(sess.Stderr(), "access denied")
			_ = sess.Exit(1)
			return
		}
		ctx.SetValue(keyPrincipal, p)
		if tc := connOf(ctx); tc != nil {
			tc.loggedIn()
		}
		remote := ipOf(sess.RemoteAddr())
		if ctx.Value(keyAudited) == nil {
			ctx.SetValue(keyAudited, true)
			s.acc.AuditLogin(p)
			s.log.Info("login", "actor", p.Actor().ID, "role", p.Actor().Role, "method", p.Method, "remote", remote)
		}
		kind := "exec"
		if _, _, isPty := sess.Pty(); isPty {
			kind = "console"
		}
		conn, _ := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
		_, done := s.gw.OpenSession(device.SessionInfo{Actor: p.Actor(), Remote: remote, Kind: kind}, func(reason string) {
			_, _ = fmt.Fprintf(sess.Stderr(), "\r\nsession ended: %s\r\n", reason)
			if a, ok := s.apps.Load(sess); ok {
				a.(*app).end()
			}
			_ = sess.Close()
			// The whole connection, not only this channel: a multiplexing
			// client (ControlMaster) must not open new sessions on it.
			if conn != nil {
				_ = conn.Close()
			}
		})
		defer done()
		defer func() {
			if a, ok := s.apps.LoadAndDelete(sess); ok {
				a.(*app).close()
			}
		}()
		next(sess)
	}
}

// verifyPrincipal re-checks the principal when a session starts: the
// account still exists under the name logged in with, is not locked by an
// administrator, and a public-key login used a key that was verified and is
// still authorised.
func (s *Server) verifyPrincipal(sess ssh.Session, p *access.Principal) bool {
	if p.Setup {
		return sess.User() == access.SetupUser
	}
	a, err := s.acc.Account(p.Account.ID)
	if err != nil || a.Name != sess.User() || a.Disabled {
		return false
	}
	if p.Method == "publickey" {
		key := sess.PublicKey()
		if key == nil {
			return false
		}
		if _, err := s.acc.LoginPublicKey(a.Name, key); err != nil {
			return false
		}
	}
	p.Account = a
	return true
}

// Session bounds per connection: a logged-in user is trusted with a few
// sessions, not with unbounded memory.
const (
	maxSessionsPerConn = 8
	maxEnvPerSession   = 32
	maxEnvBytes        = 4096
)

type connSessions struct{ n int }

// sessionChannel wraps the ssh package's session handler: it caps the
// sessions of one connection and the environment a client may send (the
// ssh package appends every "env" request without a bound).
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	s.connMu.Lock()
	cs, _ := ctx.Value(keySessions).(*connSessions)
	if cs == nil {
		cs = &connSessions{}
		ctx.SetValue(keySessions, cs)
	}
	if cs.n >= maxSessionsPerConn {
		s.connMu.Unlock()
		_ = newChan.Reject(gossh.ResourceShortage, fmt.Sprintf("at most %d sessions per connection", maxSessionsPerConn))
		return
	}
	cs.n++
	s.connMu.Unlock()
	defer func() {
		s.connMu.Lock()
		cs.n--
		s.connMu.Unlock()
	}()
	ssh.DefaultSessionHandler(srv, conn, envLimited{newChan}, ctx)
}

// envLimited filters a session's requests: "env" beyond the bounds is
// refused before the ssh package stores it.
type envLimited struct{ gossh.NewChannel }

func (e envLimited) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := e.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		count, size := 0, 0
		for r := range reqs {
			if r.Type == "env" {
				count++
				size += len(r.Payload)
				if count > maxEnvPerSession || size > maxEnvBytes {
					if r.WantReply {
						_ = r.Reply(false, nil)
					}
					continue
				}
			}
			out <- r
		}
	}()
	return ch, out, nil
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
