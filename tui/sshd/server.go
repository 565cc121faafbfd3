package sshd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/cmd"
	"github.com/sitegate/sitegate/tui/ui"
)

// DefaultShutdownGrace is how long Run gives open sessions to end (the
// consoles to leave the alternate screen and say why) when its context
// ends, before it closes every connection.
const DefaultShutdownGrace = 3 * time.Second

// endGrace is how long ending one session (its account was locked or
// deleted) waits for its console to restore the terminal.
const endGrace = 2 * time.Second

// Config configures the SSH server.
type Config struct {
	// Gateway is the gateway the console talks to.
	Gateway *device.Gateway
	// Access decides who may log in and what they may do.
	Access *access.Service
	// Listener is where Run accepts connections; nothing listens
	// anywhere else.
	Listener net.Listener
	// DataDir is where the host key lives.
	DataDir string
	// Logger receives connection and authentication logs.
	Logger *slog.Logger
	// Version is announced in the SSH banner.
	Version string
	// Limits bound unauthenticated clients; zero fields take DefaultLimits.
	Limits Limits
	// Clock is the clock of the rate limits and the consoles (default
	// clockwork.System).
	Clock clockwork.Clock
	// ShutdownGrace bounds Run's shutdown (default DefaultShutdownGrace).
	ShutdownGrace time.Duration
}

// Server is the console's SSH server: the only door into the gateway.
type Server struct {
	cfg   Config
	ssh   *ssh.Server
	log   *slog.Logger
	gw    *device.Gateway
	acc   *access.Service
	limit *limiter
	clk   clockwork.Clock
	// refusals sums repeated refusals of one address into one log line.
	refusals *refusalLog

	connMu sync.Mutex // guards per-connection session counts

	mu       sync.Mutex
	stopping bool                       // Run is shutting down: no new sessions
	open     map[*sessionState]struct{} // sessions, to end them at shutdown
	states   sync.Map                   // ssh.Session → *sessionState
	enders   sync.WaitGroup             // sessions being ended on the gateway's request
}

// The server implements what the console and the exec commands need.
var (
	_ ui.Gateway  = (*device.Gateway)(nil)
	_ ui.Accounts = (*access.Service)(nil)
	_ cmd.Gateway = (*device.Gateway)(nil)
)

type ctxKey int

const (
	keyConn ctxKey = iota
	keyPrincipal
	keyAudited
	keySessions
	keyPreAuth
)

// NewServer builds the server and its host key; it accepts connections
// only in Run.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Gateway == nil || cfg.Access == nil || cfg.DataDir == "" || cfg.Listener == nil {
		return nil, errors.New("ssh server: a gateway, an access service, a listener and a data directory are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "sitegate"
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.System
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	cfg.Limits = withDefaults(cfg.Limits)
	key, err := LoadOrCreateHostKey(filepath.Join(cfg.DataDir, HostKeyFile))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, gw: cfg.Gateway, acc: cfg.Access, limit: newLimiter(cfg.Limits, cfg.Clock), clk: cfg.Clock,
		refusals: newRefusalLog(cfg.Logger, cfg.Clock), open: map[*sessionState]struct{}{}}
	srv, err := wish.NewServer(
		// Always our own key from the data directory: without it wish
		// writes ./id_ed25519 into the working directory.
		wish.WithHostKeyPEM(key),
		wish.WithVersion(cfg.Version),
		// Always set auth handlers: without them wish lets anyone in.
		wish.WithPublicKeyAuth(s.publicKeyAuth),
		wish.WithPasswordAuth(s.passwordAuth),
		wish.WithKeyboardInteractiveAuth(s.keyboardInteractiveAuth),
		s.serverOptions,
		// The middleware, one slice; the last listed runs first.
		wish.WithMiddleware(
			// 5. Runs after a console's program has ended and restored
			// the terminal (the tea middleware calls on then): says why
			// the session ended, outside the alternate screen.
			s.farewell,
			// 4. A session with a terminal gets its own console program;
			// one without passes through (its exec command already ran).
			bubbletea.MiddlewareWithProgramHandler(s.console),
			// 3. Exec commands, for sessions without a terminal: after the
			// session is known, before any console is built.
			s.command,
			// 2. Who is this: the principal checked again, the session
			// registered (so the gateway can end it), the login audited.
			// Everything after it may rely on a verified principal.
			s.session,
			// 1. A panic in one session must not take the gateway down:
			// first, so that it covers everything else.
			s.recover,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	s.ssh = srv
	return s, nil
}

// serverOptions bounds the connection itself: no forwarding, no
// subsystems, the version deadline, the login grace and the attempts per
// connection.
func (s *Server) serverOptions(srv *ssh.Server) error {
	// The handshake deadline covers authentication: the login grace.
	// The version deadline, much shorter, is the tracked connection's.
	srv.HandshakeTimeout = s.cfg.Limits.LoginGrace
	srv.ConnCallback = s.admit
	srv.ServerConfigCallback = s.serverConfig
	// Sessions only: no port forwarding, no agent, no subsystems.
	srv.LocalPortForwardingCallback = nil
	srv.ReversePortForwardingCallback = nil
	srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{}
	srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": s.sessionChannel}
	// A connection with no traffic at all ends after the site's idle
	// timeout (a console's own idle timeout counts keystrokes).
	site, _ := s.gw.Site()
	srv.IdleTimeout = site.Access.IdleTimeout.Std()
	return nil
}

// Run accepts connections on the configured listener until ctx ends, then
// shuts down: it stops accepting, asks every open session to end — a
// console leaves the alternate screen and says why — waits for them up to
// the grace, and closes every connection. It returns nil after a shutdown
// asked for by ctx, or the listener's error.
func (s *Server) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.ssh.Serve(s.cfg.Listener) }()
	// Summaries of repeated refusals, every refusal window.
	flushCtx, stopFlush := context.WithCancel(ctx)
	flushed := make(chan struct{})
	go func() { defer close(flushed); s.refusals.run(flushCtx) }()
	// Certificate sessions end when a site change revokes them.
	watched := make(chan struct{})
	go func() { defer close(watched); s.watchCerts(flushCtx) }()
	defer func() { stopFlush(); <-flushed; <-watched }()
	select {
	case <-ctx.Done():
		s.shutdown()
		<-served
		return nil
	case err := <-served:
		s.shutdown()
		if errors.Is(err, ssh.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("ssh server: %w", err)
	}
}

// shutdown ends every session within the grace and closes everything. It
// does not use the ssh package's graceful Shutdown, whose connection wait
// group races with connections finishing their handshake at that moment.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.stopping = true
	open := make([]*sessionState, 0, len(s.open))
	for st := range s.open {
		open = append(open, st)
	}
	s.mu.Unlock()
	_ = s.cfg.Listener.Close()
	expired := make(chan struct{})
	timer := time.AfterFunc(s.cfg.ShutdownGrace, func() { close(expired) })
	defer timer.Stop()
	for _, st := range open {
		st.end("the gateway is stopping")
	}
	for _, st := range open {
		select {
		case <-st.done:
		case <-expired:
		}
	}
	_ = s.ssh.Close()
	s.enders.Wait()
}
