package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
)

// Errors of this package. Login failures of every kind are ErrDenied, so
// that a caller cannot tell an unknown name from a wrong password.
var (
	ErrDenied    = errors.New("access denied")
	ErrForbidden = errors.New("not allowed for your role")
	ErrNotFound  = errors.New("no such user")
	ErrLastAdmin = errors.New("the last administrator cannot be removed, demoted or locked")
	ErrBadCode   = errors.New("the verification code is not right: check the clock of your phone and type the current code")
)

// Options configure a Service.
type Options struct {
	// Hasher computes password hashes; default RFC 9106 parameters with two
	// concurrent computations.
	Hasher *Hasher
	// Clock is the clock of lockouts, codes and invitations; default
	// clockwork.System.
	Clock clockwork.Clock
}

// Service enforces who may log in and what accounts may do. It holds no UI
// code; the SSH server and the console call it, and every change is
// re-checked here whatever a screen showed.
type Service struct {
	gw       *device.Gateway
	accounts device.AccountStore
	hasher   *Hasher
	clk      clockwork.Clock
	certs    certs // certificates of recent logins (cert.go)
}

// New returns the access service of gw.
func New(gw *device.Gateway, o Options) *Service {
	if o.Hasher == nil {
		o.Hasher = NewHasher(RFC9106, 2)
	}
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	s := &Service{gw: gw, accounts: gw.Accounts(), hasher: o.Hasher, clk: o.Clock}
	s.moveSeeds()
	return s
}

// moveSeeds moves authenticator seeds that accounts written before the
// secret store still hold into it (once; later starts find none). A
// failure leaves them where they were, readable, and is retried at the
// next start.
func (s *Service) moveSeeds() {
	_ = s.accounts.Update(func(tx device.AccountTx) error {
		recs, err := tx.Users()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !strings.Contains(string(r.Data), `"totp_secret"`) {
				continue
			}
			a, err := loadAccount(tx, r)
			if err != nil {
				return err
			}
			if err := saveAccount(tx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) now() time.Time { return s.clk.Now() }

// Hasher returns the service's password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

// Step is something a user must do before using the gateway.
type Step int

// Steps, in the order the first-login wizard takes them.
const (
	StepSetPassword Step = iota + 1
	StepEnrolTOTP
	StepAcceptPrivacy
)

// Principal is who a session belongs to.
type Principal struct {
	Account Account
	// Setup means the session logged in with the one-time setup token: it
	// may only run the wizard that creates the first administrator.
	Setup bool
	// Method is the authentication method ("publickey", "password",
	// "keyboard-interactive", "certificate").
	Method string
	// Cert is set for a certificate login (cert.go); Account is then the
	// unstored account it appears as, its id the actor id cert:KEYID.
	Cert *Cert
}

// Actor returns the principal as an audit actor.
func (p Principal) Actor() device.Actor {
	if p.Setup {
		return device.Actor{ID: SetupUser, Role: SetupUser}
	}
	if p.Cert != nil {
		return device.CertActor(p.Cert.KeyID, p.Cert.Role, p.Cert.Serial)
	}
	return p.Account.Actor()
}

// Role returns the principal's role (zero for setup).
func (p Principal) Role() device.Role { return p.Account.Role }

func (s *Service) accessPolicy() device.Access {
	site, _ := s.gw.Site()
	return site.Access
}

func (s *Service) siteName() string {
	site, _ := s.gw.Site()
	return site.Site.Name
}

// requires2FA reports whether password logins of role need a TOTP code.
func (s *Service) requires2FA(role device.Role) bool {
	return slices.Contains(s.accessPolicy().Require2FA, role)
}

// Pending returns the steps a account must still complete.
func (s *Service) Pending(a Account) []Step {
	var steps []Step
	if a.Invited() {
		steps = append(steps, StepSetPassword)
	}
	// The second factor guards password logins; an account that logs in
	// with a key only has no password to guard.
	if a.TOTPSecret == "" && s.requires2FA(a.Role) && (a.PasswordHash != "" || a.Invited()) {
		steps = append(steps, StepEnrolTOTP)
	}
	if !a.AcceptedPrivacy() {
		steps = append(steps, StepAcceptPrivacy)
	}
	return steps
}

// AsksCode reports whether keyboard-interactive logins ask for a
// verification code. It depends on the site only, never on the user name,
// so the prompts reveal nothing about which accounts exist or what they
// need: users whose role needs no code leave it empty.
func (s *Service) AsksCode() bool {
	return len(s.accessPolicy().Require2FA) > 0
}

func hashCode(code string) string {
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))))
	return hex.EncodeToString(sum[:])
}

func equalHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 && a != ""
}

// LoginPassword authenticates a password login. code is the TOTP code of a
// keyboard-interactive login (withCode); a plain password login of an
// account whose role needs a code is refused. Every refusal is ErrDenied
// after the same argon2id work and one audit write, so unknown names, wrong
// passwords, locked accounts and missing codes look alike from outside.
//
// The password is hashed outside any transaction (it is slow); the
// decision is then taken in one transaction against the account as it is
// at that moment, so parallel logins cannot all slip under the lockout or
// reuse one code.
func (s *Service) LoginPassword(ctx context.Context, name, password, code string, withCode bool) (Principal, error) {
	if name == SetupUser {
		return s.loginSetup(ctx, password)
	}
	var a Account
	err := s.accounts.View(func(tx device.AccountTx) (err error) { a, err = accountByName(tx, name); return })
	if err != nil || (a.PasswordHash == "" && !a.Invited()) {
		// Unknown, or an account that logs in with keys only: nothing to
		// guess, nothing to count, the same cost.
		_, _ = s.hasher.Verify(ctx, "", password)
		s.audit(device.Actor{ID: "unknown", Role: "none"}, device.ActionLoginFailure, "", device.ResultDenied, "no password login for this name")
		return Principal{}, ErrDenied
	}
	now := s.now()
	var ok bool
	if a.Invited() {
		// The enrolment code stands in for the password at first login.
		_, _ = s.hasher.Verify(ctx, "", password)
		ok = now.Before(a.EnrolExpires) && equalHash(hashCode(password), a.EnrolHash)
	} else if ok, err = s.hasher.Verify(ctx, a.PasswordHash, password); err != nil && ctx.Err() != nil {
		return Principal{}, ErrDenied
	}
	var p Principal
	result := ErrDenied
	_ = s.accounts.Update(func(tx device.AccountTx) error {
		cur, err := accountByID(tx, a.ID)
		if err != nil {
			return err
		}
		deny := func(detail string) error {
			return tx.Audit(cur.Actor(), device.ActionLoginFailure, cur.ID, device.ResultDenied, detail)
		}
		if locked, why := cur.LockedAt(now); locked {
			return deny(why)
		}
		if cur.PasswordHash != a.PasswordHash || cur.EnrolHash != a.EnrolHash {
			return deny("the password changed during the login")
		}
		needCode := !cur.Invited() && cur.TOTPSecret != "" && s.requires2FA(cur.Role)
		if needCode && !withCode {
			// Not a guess: the client used a method that cannot carry the
			// code. Refused without counting.
			return deny("password login without the verification code its role needs")
		}
		if !ok {
			return countFailure(tx, &cur, now, "wrong password or enrolment code")
		}
		if needCode {
			step, good := matchTOTP(cur.TOTPSecret, strings.TrimSpace(code), now, cur.TOTPLastStep)
			if !good {
				return countFailure(tx, &cur, now, "wrong or reused verification code")
			}
			cur.TOTPLastStep = step
		}
		cur.Failures = 0
		p, result = Principal{Account: cur, Method: methodName(withCode)}, nil
		return saveAccount(tx, cur)
	})
	return p, result
}

func methodName(withCode bool) string {
	if withCode {
		return "keyboard-interactive"
	}
	return "password"
}

// LoginPublicKey reports whether key is authorised for name. Failed key
// offers are not counted toward lockout: clients offer every key they hold,
// and a key cannot be guessed. For the same reason a lockout after wrong
// passwords does not stop key logins; an administrator's lock does.
func (s *Service) LoginPublicKey(name string, key gossh.PublicKey) (Principal, error) {
	if IsCertificate(key) {
		// Certificates log in as themselves (LoginCertificate), never as
		// an account's key.
		return Principal{}, ErrDenied
	}
	var a Account
	err := s.accounts.View(func(tx device.AccountTx) (err error) { a, err = accountByName(tx, name); return })
	if err != nil || a.Invited() || a.Disabled {
		return Principal{}, ErrDenied
	}
	offered := key.Marshal()
	match := 0
	for _, line := range a.PublicKeys {
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		match |= subtle.ConstantTimeCompare(k.Marshal(), offered)
	}
	if match != 1 {
		return Principal{}, ErrDenied
	}
	return Principal{Account: a, Method: "publickey"}, nil
}

// countFailure counts a failed password or code on cur, locks it at
// MaxFailures, audits both and saves it, within tx.
func countFailure(tx device.AccountTx, cur *Account, now time.Time, detail string) error {
	cur.Failures++
	if err := tx.Audit(cur.Actor(), device.ActionLoginFailure, cur.ID, device.ResultDenied, detail); err != nil {
		return err
	}
	if cur.Failures >= MaxFailures {
		cur.Failures = 0
		cur.LockedUntil = now.Add(LockoutDuration)
		if err := tx.Audit(cur.Actor(), device.ActionAccountLocked, cur.ID, device.ResultOK,
			fmt.Sprintf("%d consecutive failures; locked until %s", MaxFailures, cur.LockedUntil.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
	}
	return saveAccount(tx, *cur)
}

// fail counts a failure for account id in its own transaction.
func (s *Service) fail(id, detail string) error {
	now := s.now()
	_ = s.accounts.Update(func(tx device.AccountTx) error {
		a, err := accountByID(tx, id)
		if err != nil {
			return err
		}
		return countFailure(tx, &a, now, detail)
	})
	return ErrDenied
}

func (s *Service) audit(actor device.Actor, action device.Action, target string, result device.Result, detail string) {
	_ = s.gw.AuditDetail(actor, action, target, result, detail)
}

// AuditLogin records a successful login. The SSH door calls it the moment
// authentication succeeds — for a public key, once its signature is
// verified — whether or not a session follows, once per connection. The
// audit log holds no personal data, so the client's address goes to the
// system log only.
func (s *Service) AuditLogin(p Principal) {
	s.audit(p.Actor(), device.ActionLoginSuccess, p.Actor().ID, device.ResultOK, p.Method)
}

// Account returns the current record of account id.
func (s *Service) Account(id string) (Account, error) {
	if keyID, ok := strings.CutPrefix(id, device.CertActorPrefix); ok {
		c, ok := s.certs.latest(keyID)
		if !ok {
			return Account{}, fmt.Errorf("%w: %s", ErrNotFound, printable(id))
		}
		return s.certAccount(c), nil
	}
	var a Account
	err := s.accounts.View(func(tx device.AccountTx) (err error) { a, err = accountByID(tx, id); return })
	if err != nil {
		return Account{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return a, nil
}

// AccountByName returns the account called name.
func (s *Service) AccountByName(name string) (Account, error) {
	var a Account
	err := s.accounts.View(func(tx device.AccountTx) (err error) { a, err = accountByName(tx, name); return })
	if err != nil {
		return Account{}, fmt.Errorf("%w: %q", ErrNotFound, printable(name))
	}
	return a, nil
}

// Count returns the number of accounts.
func (s *Service) Count() int {
	n := 0
	_ = s.accounts.View(func(tx device.AccountTx) error { n = tx.UserCount(); return nil })
	return n
}

// randomCode returns a one-time code of 16 base32 characters in groups of
// four (80 bits), easy to read out and type.
func randomCode() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	c := b32.EncodeToString(b)
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}
