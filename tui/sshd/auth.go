package sshd

import (
	"fmt"
	"net"
	"sync"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/tui/access"
)

// Authentication: the connection caps before any cryptography, public
// keys, passwords and the TOTP code (keyboard-interactive). Every login
// decision is tui/access's; this file only carries it over SSH.

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

// maxUserEcho bounds a client-chosen user name in logs.
const maxUserEcho = 64

// safeUser bounds and escapes a client-chosen user name for logs.
func safeUser(u string) string {
	if len(u) > maxUserEcho {
		u = u[:maxUserEcho]
	}
	return fmt.Sprintf("%q", u)
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
