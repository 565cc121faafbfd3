package sshd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/tui/access"
)

// Authentication: the connection caps before any cryptography, public
// keys, passwords and the TOTP code (keyboard-interactive). Every login
// decision is tui/access's; this file only carries it over SSH.

// trackedConn holds an unauthenticated slot from connect until the client
// authenticates or the connection ends. Until the client's SSH version
// line has arrived, every deadline the ssh package sets is cut to the
// version deadline.
type trackedConn struct {
	net.Conn
	ip string
	l  *limiter
	st *ipState // set by admit, under the limiter's lock
	// seq orders admissions (under the limiter's lock): the oldest slot of
	// an address is the one given up to a new address.
	seq uint64

	versionSeen atomic.Bool
	authed      atomic.Bool
	evicted     atomic.Bool
	penalised   atomic.Bool

	mu           sync.Mutex // orders deadline changes
	versionLimit time.Time  // connect + VersionTimeout
	asked        time.Time  // the deadline the ssh package asked for last
	lineLen      int        // bytes of the client's current pre-version line
	prefix       [4]byte    // its first bytes
}

func newTrackedConn(conn net.Conn, ip string, l *limiter, versionLimit time.Time) *trackedConn {
	c := &trackedConn{Conn: conn, ip: ip, l: l, versionLimit: versionLimit}
	_ = conn.SetDeadline(versionLimit)
	return c
}

// SetDeadline applies t, or the version deadline while no version line
// has arrived and it is earlier.
func (c *trackedConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = t
	if !c.versionSeen.Load() && (t.IsZero() || c.versionLimit.Before(t)) {
		t = c.versionLimit
	}
	return c.Conn.SetDeadline(t)
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.versionSeen.Load() {
		c.scanVersion(b[:n])
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !c.authed.Load() && !c.evicted.Load() && c.penalised.CompareAndSwap(false, true) {
		// Stalled before logging in: without a version line, or at the
		// login grace.
		d := penaltyNoVersion
		if c.versionSeen.Load() {
			d = penaltyGrace
		}
		c.l.penalise(c.ip, d)
	}
	return n, err
}

// scanVersion looks for the client's version line (RFC 4253 4.2: a line
// starting with "SSH-"; other lines may come before it) and lifts the
// version deadline when it has arrived.
func (c *trackedConn) scanVersion(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range p {
		if ch == '\n' {
			if c.lineLen >= len(c.prefix) && string(c.prefix[:]) == "SSH-" {
				c.versionSeen.Store(true)
				_ = c.Conn.SetDeadline(c.asked)
				return
			}
			c.lineLen = 0
			continue
		}
		if c.lineLen < len(c.prefix) {
			c.prefix[c.lineLen] = ch
		}
		c.lineLen++
	}
}

// loggedIn gives the slot back: the client has authenticated.
func (c *trackedConn) loggedIn() {
	c.authed.Store(true)
	c.l.release(c)
}

// evict closes a connection whose slot a new address took.
func (c *trackedConn) evict() {
	c.evicted.Store(true)
	_ = c.Conn.Close()
}

func (c *trackedConn) Close() error {
	c.l.release(c)
	return c.Conn.Close()
}

// admit applies the connection caps before any cryptography is spent.
func (s *Server) admit(ctx ssh.Context, conn net.Conn) net.Conn {
	ip := ipOf(conn.RemoteAddr())
	tc := newTrackedConn(conn, ip, s.limit, time.Now().Add(s.cfg.Limits.VersionTimeout))
	why, victim := s.limit.admit(tc)
	if victim != nil {
		victim.evict()
		s.refusals.note(victim.ip, "connection dropped to admit a new address")
	}
	if why != admitted {
		s.refusals.note(ip, "connection refused: "+why.String())
		return nil
	}
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

// serverConfig is the per-connection configuration of the handshake: the
// attempts per connection, the key that signed (only then is possession
// proven), the moment authentication succeeds, and a way to tell the
// client why it was refused.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		MaxAuthTries: s.cfg.Limits.MaxAuthTries,
		PreAuthConnCallback: func(c gossh.ServerPreAuthConn) {
			ctx.SetValue(keyPreAuth, c)
		},
		VerifiedPublicKeyCallback: func(md gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			if access.IsCertificate(key) {
				p, err := s.acc.LoginCertificate(key, md.RemoteAddr())
				if err != nil {
					return nil, err
				}
				ctx.SetValue(keyPrincipal, p)
				return perms, nil
			}
			p, err := s.acc.LoginPublicKey(md.User(), key)
			if err != nil {
				return nil, err
			}
			ctx.SetValue(keyPrincipal, p)
			return perms, nil
		},
		AuthLogCallback: func(md gossh.ConnMetadata, method string, err error) {
			if err == nil {
				s.loggedIn(ctx, md)
			}
		},
	}
}

// loggedIn runs the moment authentication succeeds, whatever follows (a
// session, `ssh -N`, or nothing): the unauthenticated slot is freed and the
// login audited and logged, once per connection.
func (s *Server) loggedIn(ctx ssh.Context, md gossh.ConnMetadata) {
	tc := connOf(ctx)
	if tc != nil {
		tc.loggedIn()
	}
	p, ok := principalOf(ctx)
	if !ok || p.Setup != (md.User() == access.SetupUser) || !p.Setup && p.Cert == nil && p.Account.Name != md.User() {
		// Cannot happen: every accepting callback records its principal.
		// The session middleware refuses such a connection anyway.
		s.log.Error("authenticated without a matching principal", "user", safeUser(md.User()), "remote", ipOf(md.RemoteAddr()))
		return
	}
	if ctx.Value(keyAudited) != nil {
		return
	}
	ctx.SetValue(keyAudited, true)
	s.acc.AuditLogin(p)
	if p.Cert != nil {
		s.log.Info("login", "actor", p.Actor().ID, "role", p.Actor().Role, "method", p.Method, "serial", p.Cert.Serial, "remote", ipOf(md.RemoteAddr()))
		return
	}
	s.log.Info("login", "actor", p.Actor().ID, "role", p.Actor().Role, "method", p.Method, "remote", ipOf(md.RemoteAddr()))
}

// publicKeyAuth says whether a key may log in. It runs for key queries
// too, before any signature proves the key: the principal is recorded only
// by the verified-key callback of serverConfig.
func (s *Server) publicKeyAuth(ctx ssh.Context, key ssh.PublicKey) bool {
	// Key offers cost no hashing and are bounded by MaxAuthTries; they do
	// not use the address's password budget.
	tc := connOf(ctx)
	if tc == nil {
		return false
	}
	if access.IsCertificate(key) {
		return s.certificateAuth(ctx, tc, key)
	}
	_, err := s.acc.LoginPublicKey(ctx.User(), key)
	return err == nil
}

// certificateAuth checks an offered user certificate. Unlike plain keys,
// certificates are refused for reasons a client can vary at will (a
// thousand self-made ones, each needing a signature check), so every
// refusal spends one of the address's password attempts, and an address
// out of attempts is disconnected before any check. Each refusal is
// audited, logged once (summed per address like other refusals) and told
// to the client as a banner. No refusal counts toward an account's
// lockout: a certificate belongs to no account.
func (s *Server) certificateAuth(ctx ssh.Context, tc *trackedConn, key ssh.PublicKey) bool {
	if ctx.User() == access.SetupUser {
		return false
	}
	if s.limit.retryAfter(tc.ip) > 0 {
		s.tooManyAttempts(ctx, tc)
		return false
	}
	c, err := s.acc.CheckCertificate(key, ctx.RemoteAddr())
	if err == nil {
		return true
	}
	s.limit.attempt(tc.ip)
	s.acc.AuditCertRefusal(c, err)
	keyID := "unknown"
	if c.KeyID != "" {
		keyID = c.KeyID
	}
	s.refusals.note(tc.ip, "certificate refused", "key_id", keyID, "serial", c.Serial, "reason", err.Error())
	if pc, ok := ctx.Value(keyPreAuth).(gossh.ServerPreAuthConn); ok {
		_ = pc.SendAuthBanner(err.Error() + "\r\n")
	}
	return false
}

// checkPassword runs one password login, one at a time per address so that
// a single address can hold at most one of the hasher's slots. An address
// whose attempt budget is spent is told so and disconnected.
func (s *Server) checkPassword(ctx ssh.Context, password, code string, withCode bool) bool {
	tc := connOf(ctx)
	if tc == nil {
		return false
	}
	if !s.limit.attempt(tc.ip) {
		s.tooManyAttempts(ctx, tc)
		return false
	}
	slot := s.limit.hashSlot(tc.ip)
	if slot == nil {
		return false
	}
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-slot }()
	p, err := s.acc.LoginPassword(ctx, ctx.User(), password, code, withCode)
	if err != nil {
		s.refusals.note(tc.ip, "login refused", "user", safeUser(ctx.User()))
		return false
	}
	ctx.SetValue(keyPrincipal, p)
	return true
}

// tooManyAttempts tells a client whose address has spent its attempt budget
// when it may try again — as an authentication banner, which OpenSSH shows
// (at its default log level) and x/crypto hands to BannerCallback — and
// closes the connection, so that the client does not go on to ask for
// passwords that could not be checked.
func (s *Server) tooManyAttempts(ctx ssh.Context, tc *trackedConn) {
	s.refusals.note(tc.ip, "login refused: "+refusedAttempts.String(), "user", safeUser(ctx.User()))
	if pc, ok := ctx.Value(keyPreAuth).(gossh.ServerPreAuthConn); ok {
		_ = pc.SendAuthBanner(retryMessage(s.limit.retryAfter(tc.ip)) + "\r\n")
	}
	_ = tc.Conn.Close()
}

// retryMessage is what a rate-limited client is told.
func retryMessage(wait time.Duration) string {
	return fmt.Sprintf("too many attempts from your address; try again in %d s", max(int(wait/time.Second), 1))
}

func (s *Server) passwordAuth(ctx ssh.Context, password string) bool {
	return s.checkPassword(ctx, password, "", false)
}

// keyboardInteractiveAuth asks for the password and, when any role of the
// site needs one, the verification code, in one round and the same for
// every user name, so the prompts tell nothing about accounts. An address
// out of attempts is not asked at all.
func (s *Server) keyboardInteractiveAuth(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	tc := connOf(ctx)
	if tc == nil {
		return false
	}
	if s.limit.retryAfter(tc.ip) > 0 {
		s.tooManyAttempts(ctx, tc)
		return false
	}
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

// safeUser bounds a client-chosen user name for logs and escapes what is
// not printable, without quotes of its own (the log handler quotes a value
// when it must).
func safeUser(u string) string {
	if len(u) > maxUserEcho {
		u = u[:maxUserEcho]
	}
	q := strconv.Quote(u)
	return strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
}

// verifyPrincipal re-checks the principal when a session starts: the
// account still exists under the name logged in with, is not locked by an
// administrator, and a public-key login used a key that was verified and is
// still authorised.
func (s *Server) verifyPrincipal(sess ssh.Session, p *access.Principal) bool {
	if p.Setup {
		return sess.User() == access.SetupUser
	}
	if p.Cert != nil {
		cert, ok := sess.PublicKey().(*gossh.Certificate)
		if !ok || cert.KeyId != p.Cert.KeyID || cert.Serial != p.Cert.Serial {
			return false
		}
		return s.acc.RefreshCert(p) == nil
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
