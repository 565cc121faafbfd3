package access

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
)

// Account is one person's access to the gateway. It is stored as the
// opaque data of a store user record.
type Account struct {
	ID   string      `json:"id"`
	Name string      `json:"name"`
	Role device.Role `json:"role"`

	PasswordHash string   `json:"password_hash,omitempty"` // argon2id, PHC format
	PublicKeys   []string `json:"public_keys,omitempty"`   // authorized_keys lines
	// TOTPSecret (base32, 160 bit) lives in the gateway's encrypted secret
	// store (device.UserTOTPSecret), never in the account record.
	TOTPSecret string `json:"-"`
	// LegacyTOTP is where records written before the secret store held
	// the seed: read once, moved to the secret store when saved.
	LegacyTOTP   string    `json:"totp_secret,omitempty"`
	TOTPLastStep int64     `json:"totp_last_step,omitempty"`
	Failures     int       `json:"failures,omitempty"` // consecutive failed passwords or codes
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	Disabled     bool      `json:"disabled,omitempty"` // locked by an administrator until unlocked
	Privacy      time.Time `json:"privacy_accepted,omitzero"`

	// EnrolHash is set while the account waits for its first login: the
	// hash of the one-time enrolment code given to the user.
	EnrolHash    string    `json:"enrol_hash,omitempty"`
	EnrolExpires time.Time `json:"enrol_expires,omitzero"`

	Theme   string    `json:"theme,omitempty"`
	Created time.Time `json:"created"`
}

// Invited reports whether the account still waits for its first login.
func (a Account) Invited() bool { return a.EnrolHash != "" }

// LockedAt reports whether the account refuses logins at now, and why.
func (a Account) LockedAt(now time.Time) (bool, string) {
	if a.Disabled {
		return true, "locked by an administrator"
	}
	if now.Before(a.LockedUntil) {
		return true, fmt.Sprintf("locked after %d failed attempts until %s", MaxFailures, a.LockedUntil.UTC().Format(time.DateTime)+" UTC")
	}
	return false, ""
}

// AcceptedPrivacy reports whether the user has accepted the privacy notice.
func (a Account) AcceptedPrivacy() bool { return !a.Privacy.IsZero() }

// Actor returns the account as an audit actor.
func (a Account) Actor() device.Actor { return device.Actor{ID: a.ID, Role: a.Role.String()} }

// Lockout policy (README requirement 5).
const (
	MaxFailures     = 5
	LockoutDuration = 15 * time.Minute
	// EnrolValidity is how long an invitation's enrolment code and a first
	// start's setup token stay valid.
	EnrolValidity = 24 * time.Hour
)

// SetupUser is the login name that uses the one-time setup token.
const SetupUser = "setup"

// ValidateName checks a login name: 2..32 characters, lower-case letters,
// digits, '.', '_' and '-', starting with a letter. Names appear in audit
// displays and terminals, so nothing else (and no control or escape
// character) is allowed.
func ValidateName(name string) error {
	if len(name) < 2 || len(name) > 32 {
		return fmt.Errorf("user name %q must be 2 to 32 characters", printable(name))
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		if !ok {
			return fmt.Errorf("user name %q may only hold lower-case letters, digits, '.', '_' and '-', and must start with a letter", printable(name))
		}
	}
	if name == SetupUser {
		return fmt.Errorf("user name %q is reserved for the first-start setup", name)
	}
	return nil
}

// printable returns s with control and non-ASCII characters escaped and cut
// to a bounded length, for quoting untrusted input in messages.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	q := fmt.Sprintf("%q", s)
	return strings.Trim(q, `"`)
}

func newID() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "u-" + string(b)
}

func loadAccount(tx device.AccountTx, rec device.UserRecord) (Account, error) {
	var a Account
	if err := json.Unmarshal(rec.Data, &a); err != nil {
		return Account{}, fmt.Errorf("account %s is unreadable: %w", rec.ID, err)
	}
	a.ID, a.Name = rec.ID, rec.Name
	if a.LegacyTOTP != "" {
		a.TOTPSecret = a.LegacyTOTP
		return a, nil
	}
	seed, err := tx.Secret(device.UserTOTPSecret(a.ID))
	if err != nil {
		return Account{}, fmt.Errorf("account %s: its authenticator seed is unreadable: %w", rec.Name, err)
	}
	a.TOTPSecret = string(seed)
	return a, nil
}

func accountByName(tx device.AccountTx, name string) (Account, error) {
	rec, err := tx.UserByName(name)
	if err != nil {
		return Account{}, err
	}
	return loadAccount(tx, rec)
}

func accountByID(tx device.AccountTx, id string) (Account, error) {
	rec, err := tx.User(id)
	if err != nil {
		return Account{}, err
	}
	return loadAccount(tx, rec)
}

func saveAccount(tx device.AccountTx, a Account) error {
	if err := tx.PutSecret(device.UserTOTPSecret(a.ID), []byte(a.TOTPSecret)); err != nil {
		return fmt.Errorf("store the authenticator seed of %s: %w", a.Name, err)
	}
	a.LegacyTOTP = ""
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.PutUser(device.UserRecord{ID: a.ID, Name: a.Name, Data: data})
}

func allAccounts(tx device.AccountTx) ([]Account, error) {
	recs, err := tx.Users()
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(recs))
	for _, r := range recs {
		a, err := loadAccount(tx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
