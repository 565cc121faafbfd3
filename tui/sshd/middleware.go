package sshd

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/cmd"
	"github.com/sitegate/sitegate/tui/ui"
)

// sessionState is one open SSH session, as the server must know it to end
// it: its context (ended when the session's handler returns), its console
// when it has one, and when it is done.
type sessionState struct {
	p      access.Principal // as verified when the session started
	sess   ssh.Session
	conn   *gossh.ServerConn
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the session's handler returned

	mu   sync.Mutex
	app  *ui.App
	prog *tea.Program
	once sync.Once
}

func (st *sessionState) setConsole(a *ui.App, p *tea.Program) {
	st.mu.Lock()
	st.app, st.prog = a, p
	st.mu.Unlock()
}

func (st *sessionState) console() (*ui.App, *tea.Program) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.app, st.prog
}

// end asks the session to end, once: a console quits, leaving the
// alternate screen and saying why; an exec command's context ends.
func (st *sessionState) end(reason string) {
	st.once.Do(func() {
		if _, prog := st.console(); prog != nil {
			// Send waits for the program to take the message, or for the
			// session's context to end: never on the caller's goroutine,
			// which may be this very console's.
			go prog.Send(ui.EndMsg{Reason: reason})
			return
		}
		_, _ = fmt.Fprintf(st.sess.Stderr(), "\r\nsession ended: %s\r\n", reason)
		st.cancel()
	})
}

// close closes the session and its whole connection: a multiplexing
// client (ControlMaster) must not open new sessions on it.
func (st *sessionState) close() {
	_ = st.sess.Close()
	if st.conn != nil {
		_ = st.conn.Close()
	}
}

// register records an open session; it refuses new ones once Run is
// stopping.
func (s *Server) register(st *sessionState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.open[st] = struct{}{}
	s.states.Store(st.sess, st)
	return true
}

func (s *Server) unregister(st *sessionState) {
	s.mu.Lock()
	delete(s.open, st)
	s.mu.Unlock()
	s.states.Delete(st.sess)
}

func (s *Server) stateOf(sess ssh.Session) *sessionState {
	st, _ := s.states.Load(sess)
	v, _ := st.(*sessionState)
	return v
}

// endOnRequest ends st because the gateway asked (its account was locked,
// deleted, demoted, or withdrew its privacy acceptance): in the
// background, as the request may come from this very session.
func (s *Server) endOnRequest(st *sessionState, reason string) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return // the shutdown ends every session itself
	}
	s.enders.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.enders.Done()
		st.end(reason)
		timer := time.NewTimer(endGrace)
		defer timer.Stop()
		select {
		case <-st.done:
		case <-timer.C:
		}
		st.close()
	}()
}

// recover keeps a panic in one session from taking the gateway down.
func (s *Server) recover(next ssh.Handler) ssh.Handler {
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

// session checks who the session belongs to once more and registers it
// with the gateway (so health counts it and a lock, deletion, role change
// or privacy withdrawal can end it). The login itself was audited when it
// succeeded (loggedIn).
func (s *Server) session(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		ctx := sess.Context()
		p, ok := principalOf(ctx)
		if !ok || !s.verifyPrincipal(sess, &p) {
			_, _ = fmt.Fprintln(sess.Stderr(), "access denied")
			_ = sess.Exit(1)
			return
		}
		ctx.SetValue(keyPrincipal, p)
		conn, _ := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
		sctx, cancel := context.WithCancel(ctx)
		st := &sessionState{p: p, sess: sess, conn: conn, ctx: sctx, cancel: cancel, done: make(chan struct{})}
		defer close(st.done)
		defer cancel()
		if !s.register(st) {
			_, _ = fmt.Fprintln(sess.Stderr(), "the gateway is stopping")
			_ = sess.Exit(1)
			return
		}
		defer s.unregister(st)
		remote := ipOf(sess.RemoteAddr())
		kind := "exec"
		if _, _, isPty := sess.Pty(); isPty {
			kind = "console"
		}
		_, unregister := s.gw.OpenSession(device.SessionInfo{Actor: p.Actor(), Remote: remote, Kind: kind}, func(reason string) {
			s.endOnRequest(st, reason)
		})
		defer unregister()
		defer func() {
			if a, _ := st.console(); a != nil {
				a.Close()
			}
		}()
		next(sess)
	}
}

// command runs the exec command of a session without a terminal; sessions
// with a terminal pass on to the console.
func (s *Server) command(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if _, _, isPty := sess.Pty(); isPty {
			next(sess)
			return
		}
		p, _ := principalOf(sess.Context())
		st := s.stateOf(sess)
		release := func() {}
		if op, heavy := heavyOp(sess.Command()); heavy {
			ctx, cancel := context.WithTimeout(st.ctx, heavyWait)
			r, err := s.gw.Heavy().Acquire(ctx, p.Actor().ID, op)
			cancel()
			if err != nil {
				s.log.Info("heavy command refused", "actor", p.Actor().ID, "command", op.String(), "reason", err)
				_, _ = fmt.Fprintf(sess.Stderr(), "busy: %v\n", err)
				_ = sess.Exit(1)
				return
			}
			release = sync.OnceFunc(r)
			defer release() // also when the command panics
		}
		deps := cmd.Deps{Gateway: s.gw, Access: s.acc, Clock: s.clk, Limits: cmd.Limits{MaxArgs: s.cfg.Limits.MaxArgs, MaxArgBytes: s.cfg.Limits.MaxArgBytes}}
		code := cmd.Run(st.ctx, deps, cmd.Session{Principal: p, Args: sess.Command(), In: sess, Out: sess, Err: sess.Stderr()})
		// Before the exit status: a client that runs the next command as
		// soon as this one has ended must find the slot free.
		release()
		_ = sess.Exit(code)
	}
}

// farewell says why a console ended, once its program has restored the
// terminal.
func (s *Server) farewell(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if st := s.stateOf(sess); st != nil {
			if a, _ := st.console(); a != nil && a.QuitText() != "" {
				_, _ = fmt.Fprintf(sess, "%s\r\n", a.QuitText())
			}
		}
		next(sess)
	}
}
