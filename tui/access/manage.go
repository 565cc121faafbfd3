package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// require checks that actor may use perm now. The role is read from the
// account as it is at this moment, not as it was at login, so a demoted,
// locked or deleted user cannot keep acting through an open session. The
// local actor (physical access) may do everything.
func (s *Service) require(actor device.Actor, perm Perm) error {
	if actor == device.LocalActor {
		return nil
	}
	if actor.IsCert() {
		return s.requireCert(actor, perm)
	}
	a, err := s.Account(actor.ID)
	if err != nil {
		return fmt.Errorf("%w: your account no longer exists", ErrForbidden)
	}
	if locked, why := a.LockedAt(s.now()); locked && a.Disabled {
		return fmt.Errorf("%w: your account is %s", ErrForbidden, why)
	}
	if !Can(a.Role, perm) {
		return fmt.Errorf("%w: %s needs the %s role, you are %s", ErrForbidden, perm, RoleFor(perm), a.Role)
	}
	return nil
}

// Authorize checks that principal p may use perm now (see require); the
// console and exec commands call it before every change.
func (s *Service) Authorize(p Principal, perm Perm) error {
	if p.Setup {
		return ErrForbidden
	}
	return s.require(p.Actor(), perm)
}

// Accounts lists every account (user managers only).
func (s *Service) Accounts(actor device.Actor) ([]Account, error) {
	if err := s.require(actor, PermUsers); err != nil {
		return nil, err
	}
	var out []Account
	err := s.accounts.View(func(tx device.AccountTx) (err error) { out, err = allAccounts(tx); return })
	return out, err
}

// NewUser describes an account created by an administrator or offline.
type NewUser struct {
	Name          string
	Role          device.Role
	Password      string   // offline creation only; invitations leave it empty
	PublicKeys    []string // authorized_keys lines
	TOTP          bool     // enrol TOTP now (offline creation)
	AcceptPrivacy bool     // offline creation on behalf of the user
}

// Created is the outcome of creating a user.
type Created struct {
	Account    Account
	EnrolCode  string // one-time code for the first login (invitations); shown once
	TOTPSecret string // when TOTP was enrolled at creation; shown once
}

// Invite creates an account that its user completes at first login with the
// returned one-time enrolment code (valid EnrolValidity): they set their own
// password, enrol TOTP where their role needs it and accept the privacy
// notice. Nobody else ever knows their password.
func (s *Service) Invite(actor device.Actor, name string, role device.Role) (Created, error) {
	if err := s.require(actor, PermUsers); err != nil {
		return Created{}, err
	}
	a, err := s.newAccount(context.Background(), name, role, "")
	if err != nil {
		return Created{}, err
	}
	code := randomCode()
	a.EnrolHash = hashCode(code)
	a.EnrolExpires = s.now().Add(EnrolValidity)
	if err := s.create(actor, a, "invitation"); err != nil {
		return Created{}, err
	}
	return Created{Account: a, EnrolCode: code}, nil
}

// AddUser creates a complete account (the offline `sitegate user add`).
func (s *Service) AddUser(ctx context.Context, actor device.Actor, u NewUser) (Created, error) {
	if err := s.require(actor, PermUsers); err != nil {
		return Created{}, err
	}
	if u.Password == "" && len(u.PublicKeys) == 0 {
		return Created{}, errors.New("give a password (--password-stdin) or a public key (--pubkey), or invite the user from the console")
	}
	a, err := s.newAccount(ctx, u.Name, u.Role, u.Password)
	if err != nil {
		return Created{}, err
	}
	if err := checkKeys(u.PublicKeys); err != nil {
		return Created{}, err
	}
	a.PublicKeys = u.PublicKeys
	var out Created
	if u.TOTP {
		a.TOTPSecret = NewTOTPSecret()
		out.TOTPSecret = a.TOTPSecret
	}
	if u.AcceptPrivacy {
		a.Privacy = s.now()
	}
	if err := s.create(actor, a, ""); err != nil {
		return Created{}, err
	}
	out.Account = a
	return out, nil
}

func (s *Service) create(actor device.Actor, a Account, detail string) error {
	return s.accounts.Update(func(tx device.AccountTx) error {
		if _, err := tx.UserByName(a.Name); err == nil {
			return fmt.Errorf("a user called %q exists already: choose another name", a.Name)
		}
		if err := saveAccount(tx, a); err != nil {
			return err
		}
		return tx.Audit(actor, device.ActionUserCreate, a.ID, device.ResultOK, strings.TrimSpace("role "+a.Role.String()+" "+detail))
	})
}

// change runs fn on account id as actor (who needs perm) and audits action
// in the same transaction. guardAdmin refuses a change that would leave the
// gateway without an active administrator.
func (s *Service) change(actor device.Actor, perm Perm, id string, action device.Action, detail string, guardAdmin bool, fn func(a *Account) error) error {
	if err := s.require(actor, perm); err != nil {
		return err
	}
	if strings.HasPrefix(id, device.CertActorPrefix) {
		return ErrNoAccount
	}
	return s.accounts.Update(func(tx device.AccountTx) error {
		a, err := accountByID(tx, id)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		wasAdmin := a.Role == device.RoleAdmin && !a.Disabled
		if err := fn(&a); err != nil {
			return err
		}
		if guardAdmin && wasAdmin {
			all, err := allAccounts(tx)
			if err != nil {
				return err
			}
			active := 0
			for _, o := range all {
				if o.ID != a.ID && o.Role == device.RoleAdmin && !o.Disabled && !o.Invited() {
					active++
				}
			}
			if active == 0 && (a.Role != device.RoleAdmin || a.Disabled || action == device.ActionUserDelete) {
				return ErrLastAdmin
			}
		}
		if action == device.ActionUserDelete {
			if err := tx.DeleteUser(a.ID); err != nil {
				return err
			}
			if err := tx.PutSecret(device.UserTOTPSecret(a.ID), nil); err != nil {
				return err
			}
		} else if err := saveAccount(tx, a); err != nil {
			return err
		}
		return tx.Audit(actor, action, a.ID, device.ResultOK, detail)
	})
}

// SetRole changes an account's role.
func (s *Service) SetRole(actor device.Actor, id string, role device.Role) error {
	if role == 0 {
		return errors.New("a role is required: admin, installer, support or viewer")
	}
	err := s.change(actor, PermUsers, id, device.ActionUserRole, "role "+role.String(), true, func(a *Account) error {
		a.Role = role
		return nil
	})
	if err == nil && id != actor.ID {
		// Their screens were built for the old role: they log in again.
		s.gw.EndSessions(id, "your role changed to "+role.String()+"; log in again")
	}
	return err
}

// Lock locks an account until an administrator unlocks it.
func (s *Service) Lock(actor device.Actor, id string) error {
	err := s.change(actor, PermUsers, id, device.ActionAccountLocked, "by administrator", true, func(a *Account) error {
		a.Disabled = true
		return nil
	})
	if err == nil {
		s.gw.EndSessions(id, "your account was locked by an administrator")
	}
	return err
}

// Unlock lifts an administrator's lock and a lockout, and clears the
// failure count.
func (s *Service) Unlock(actor device.Actor, id string) error {
	return s.change(actor, PermUsers, id, device.ActionAccountUnlocked, "", false, func(a *Account) error {
		a.Disabled, a.LockedUntil, a.Failures = false, time.Time{}, 0
		return nil
	})
}

// Delete removes an account.
func (s *Service) Delete(actor device.Actor, id string) error {
	err := s.change(actor, PermUsers, id, device.ActionUserDelete, "", true, func(a *Account) error { return nil })
	if err == nil {
		s.gw.EndSessions(id, "your account was deleted")
	}
	return err
}

// ResetTOTP removes an account's TOTP secret; where the role needs a code,
// the user enrols again at the next login.
func (s *Service) ResetTOTP(actor device.Actor, id string) error {
	return s.change(actor, PermUsers, id, device.ActionUserReset2FA, "", false, func(a *Account) error {
		a.TOTPSecret, a.TOTPLastStep = "", 0
		return nil
	})
}

// SetPasswordOffline sets a password (the offline `sitegate user passwd`):
// whoever runs it has physical access.
func (s *Service) SetPasswordOffline(ctx context.Context, id, password string) error {
	a, err := s.Account(id)
	if err != nil {
		return err
	}
	if err := CheckPassword(password, s.accessPolicy().PasswordMaxLength, a.Name, s.siteName()); err != nil {
		return err
	}
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.change(device.LocalActor, PermUsers, id, device.ActionUserPasswd, "", false, func(a *Account) error {
		a.PasswordHash, a.EnrolHash, a.EnrolExpires = h, "", time.Time{}
		return nil
	})
}

// self runs fn on the principal's own account and audits action.
func (s *Service) self(p Principal, action device.Action, fn func(a *Account) error) error {
	if p.Setup || p.Account.ID == "" {
		return ErrForbidden
	}
	return s.change(p.Actor(), PermDashboard, p.Account.ID, action, "", false, fn)
}

// ChangePassword changes the principal's own password after checking the
// current one. A wrong current password counts toward lockout.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string) error {
	if p.Cert != nil {
		return ErrNoAccount
	}
	a, err := s.Account(p.Account.ID)
	if err != nil {
		return err
	}
	if locked, why := a.LockedAt(s.now()); locked {
		return fmt.Errorf("the account is %s", why)
	}
	ok, err := s.hasher.Verify(ctx, a.PasswordHash, current)
	if err != nil || !ok {
		_ = s.fail(a.ID, "wrong current password when changing it")
		return errors.New("the current password is not right")
	}
	if err := CheckPassword(next, s.accessPolicy().PasswordMaxLength, a.Name, s.siteName()); err != nil {
		return err
	}
	h, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	return s.change(p.Actor(), PermDashboard, a.ID, device.ActionUserPasswd, "", false, func(a *Account) error {
		a.PasswordHash = h
		return nil
	})
}

// EnrolTOTP stores a new TOTP secret for the principal after code proves
// that their authenticator app has it. Replacing the second factor needs
// the current password (when the account has one), like changing it.
func (s *Service) EnrolTOTP(ctx context.Context, p Principal, currentPassword, secret, code string) error {
	if p.Cert != nil {
		return ErrNoAccount
	}
	a, err := s.Account(p.Account.ID)
	if err != nil {
		return err
	}
	if a.PasswordHash != "" {
		ok, err := s.hasher.Verify(ctx, a.PasswordHash, currentPassword)
		if err != nil || !ok {
			_ = s.fail(a.ID, "wrong current password when enrolling an authenticator")
			return errors.New("the current password is not right")
		}
	}
	step, ok := matchTOTP(secret, strings.TrimSpace(code), s.now(), 0)
	if !ok {
		return ErrBadCode
	}
	return s.change(p.Actor(), PermDashboard, p.Account.ID, device.ActionUserTOTP, "enrolled", false, func(a *Account) error {
		a.TOTPSecret, a.TOTPLastStep = secret, step
		return nil
	})
}

// Enrolment is what the first-login wizard collects.
type Enrolment struct {
	Password      string // StepSetPassword
	TOTPSecret    string // StepEnrolTOTP
	TOTPCode      string
	AcceptPrivacy bool // StepAcceptPrivacy
}

// CompleteSteps finishes the pending steps of the principal's account in one
// transaction and returns the updated account.
func (s *Service) CompleteSteps(ctx context.Context, p Principal, e Enrolment) (Account, error) {
	if p.Cert != nil {
		// A certificate login's only step: the privacy notice, per key id.
		if !e.AcceptPrivacy {
			return Account{}, errors.New("the privacy notice must be accepted to use the gateway")
		}
		return s.acceptCertPrivacy(p)
	}
	a, err := s.Account(p.Account.ID)
	if err != nil {
		return Account{}, err
	}
	var hash string
	var step int64
	type event struct {
		action device.Action
		detail string
	}
	var events []event
	for _, st := range s.Pending(a) {
		switch st {
		case StepSetPassword:
			if err := CheckPassword(e.Password, s.accessPolicy().PasswordMaxLength, a.Name, s.siteName()); err != nil {
				return Account{}, err
			}
			if hash, err = s.hasher.Hash(ctx, e.Password); err != nil {
				return Account{}, err
			}
			events = append(events, event{device.ActionUserPasswd, "set at first login"})
		case StepEnrolTOTP:
			var ok bool
			if step, ok = matchTOTP(e.TOTPSecret, strings.TrimSpace(e.TOTPCode), s.now(), 0); e.TOTPSecret == "" || !ok {
				return Account{}, ErrBadCode
			}
			events = append(events, event{device.ActionUserTOTP, "enrolled"})
		case StepAcceptPrivacy:
			if !e.AcceptPrivacy {
				return Account{}, errors.New("the privacy notice must be accepted to use the gateway")
			}
			events = append(events, event{device.ActionPrivacyAccept, ""})
		}
	}
	now := s.now()
	var out Account
	err = s.accounts.Update(func(tx device.AccountTx) error {
		cur, err := accountByID(tx, a.ID)
		if err != nil {
			return err
		}
		if hash != "" {
			if !cur.Invited() || now.After(cur.EnrolExpires) {
				return errors.New("the enrolment code expired; ask an administrator for a new invitation")
			}
			cur.PasswordHash, cur.EnrolHash, cur.EnrolExpires = hash, "", time.Time{}
		}
		if step != 0 {
			cur.TOTPSecret, cur.TOTPLastStep = e.TOTPSecret, step
		}
		if e.AcceptPrivacy && !cur.AcceptedPrivacy() {
			cur.Privacy = now
		}
		for _, ev := range events {
			if err := tx.Audit(cur.Actor(), ev.action, cur.ID, device.ResultOK, ev.detail); err != nil {
				return err
			}
		}
		out = cur
		return saveAccount(tx, cur)
	})
	return out, err
}

// WithdrawPrivacy withdraws the principal's acceptance of the privacy
// notice; their sessions must end, and the next login asks again.
func (s *Service) WithdrawPrivacy(p Principal) error {
	if p.Cert != nil {
		return s.withdrawCertPrivacy(p)
	}
	err := s.change(p.Actor(), PermDashboard, p.Account.ID, device.ActionPrivacyWithdraw, "", false, func(a *Account) error {
		a.Privacy = time.Time{}
		return nil
	})
	if err == nil {
		s.gw.EndSessions(p.Account.ID, "you withdrew your acceptance of the privacy notice; log in again to accept it")
	}
	return err
}

// Names maps account ids to names, for showing audit records (which hold
// ids only) to people.
func (s *Service) Names() map[string]string {
	out := map[string]string{}
	_ = s.accounts.View(func(tx device.AccountTx) error {
		all, err := allAccounts(tx)
		for _, a := range all {
			out[a.ID] = a.Name
		}
		return err
	})
	return out
}

// CheckTOTP reports whether code is valid for secret now (enrolment
// screens check it before committing).
func (s *Service) CheckTOTP(secret, code string) bool {
	_, ok := matchTOTP(secret, strings.TrimSpace(code), s.now(), 0)
	return ok
}

// PolicyFor checks a password against the site's policy for user name.
func (s *Service) PolicyFor(password, name string) error {
	return CheckPassword(password, s.accessPolicy().PasswordMaxLength, name, s.siteName())
}

// SetTheme remembers the principal's theme choice.
func (s *Service) SetTheme(p Principal, theme string) error {
	if p.Cert != nil {
		return s.setCertTheme(p, theme)
	}
	return s.self(p, device.ActionUserTheme, func(a *Account) error { a.Theme = theme; return nil })
}

// AddPublicKey authorises another key for the principal's own account.
func (s *Service) AddPublicKey(p Principal, line string) error {
	k, comment, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return fmt.Errorf("not a public key line (paste the contents of your ~/.ssh/id_*.pub): %v", err)
	}
	norm := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))) + " " + comment
	return s.change(p.Actor(), PermDashboard, p.Account.ID, device.ActionUserPubkey, gossh.FingerprintSHA256(k), false, func(a *Account) error {
		a.PublicKeys = append(a.PublicKeys, strings.TrimSpace(norm))
		return nil
	})
}
