package access

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// SetupTokenFile is the file in the data directory that holds the one-time
// setup token while the gateway has no account.
const SetupTokenFile = "setup-token"

const metaSetup = "access.setup"

type setupState struct {
	Hash    string    `json:"hash"`
	Expires time.Time `json:"expires"`
}

// SetupToken is the result of EnsureSetupToken.
type SetupToken struct {
	Token   string    // empty when the gateway has accounts
	Expires time.Time // when the token stops working
	Path    string    // the file that holds it
}

// EnsureSetupToken makes sure that a gateway without accounts has a valid
// one-time setup token (valid EnrolValidity), written to DATA/setup-token
// with mode 0600, and returns it so the daemon can log it. A gateway with
// accounts has none: any left-over token is destroyed.
func (s *Service) EnsureSetupToken() (SetupToken, error) {
	path := filepath.Join(s.accounts.Dir(), SetupTokenFile)
	now := s.now()
	if s.Count() > 0 {
		return SetupToken{}, s.destroySetup()
	}
	var st setupState
	if raw := s.setupMeta(); raw != nil {
		_ = json.Unmarshal(raw, &st)
	}
	if b, err := os.ReadFile(path); err == nil && now.Before(st.Expires) {
		tok := strings.TrimSpace(string(b))
		if equalHash(hashCode(tok), st.Hash) {
			return SetupToken{Token: tok, Expires: st.Expires, Path: path}, nil
		}
	}
	tok := randomSetupToken()
	st = setupState{Hash: hashCode(tok), Expires: now.Add(EnrolValidity)}
	raw, _ := json.Marshal(st)
	if err := device.WriteSecretFile(path, []byte(tok+"\n")); err != nil {
		return SetupToken{}, fmt.Errorf("write setup token: %w", err)
	}
	if err := s.accounts.Update(func(tx device.AccountTx) error { return tx.PutMeta(metaSetup, raw) }); err != nil {
		return SetupToken{}, err
	}
	return SetupToken{Token: tok, Expires: st.Expires, Path: path}, nil
}

// randomSetupToken returns 128 random bits as base32 in groups.
func randomSetupToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	c := b32.EncodeToString(b) // 26 characters
	return c[0:6] + "-" + c[6:12] + "-" + c[12:18] + "-" + c[18:26]
}

// setupMeta returns the stored setup state, or nil.
func (s *Service) setupMeta() []byte {
	var raw []byte
	_ = s.accounts.View(func(tx device.AccountTx) error { raw = tx.Meta(metaSetup); return nil })
	return raw
}

func (s *Service) loginSetup(ctx context.Context, token string) (Principal, error) {
	_, _ = s.hasher.Verify(ctx, "", token) // same cost as any password login
	var st setupState
	raw := s.setupMeta()
	if raw != nil {
		_ = json.Unmarshal(raw, &st)
	}
	if raw == nil || s.Count() > 0 || !s.now().Before(st.Expires) || !equalHash(hashCode(token), st.Hash) {
		s.audit(device.Actor{ID: SetupUser, Role: SetupUser}, device.ActionLoginFailure, SetupUser, device.ResultDenied, "setup token wrong, expired or used")
		return Principal{}, ErrDenied
	}
	return Principal{Setup: true, Method: "password"}, nil
}

// destroySetup removes the token's record and overwrites and deletes its
// file.
func (s *Service) destroySetup() error {
	if s.setupMeta() != nil {
		if err := s.accounts.Update(func(tx device.AccountTx) error { return tx.DeleteMeta(metaSetup) }); err != nil {
			return err
		}
	}
	return device.ShredFile(filepath.Join(s.accounts.Dir(), SetupTokenFile))
}

// FirstAdmin is what the setup wizard collects.
type FirstAdmin struct {
	Name          string
	Password      string
	TOTPSecret    string // enrolled in the wizard
	TOTPCode      string // proves the authenticator app has the secret
	AcceptPrivacy bool
	PublicKeys    []string
}

// CompleteSetup creates the first administrator from a setup session and
// destroys the setup token. It fails if any account exists already (a
// second setup session lost the race) or the token expired meanwhile.
func (s *Service) CompleteSetup(ctx context.Context, p Principal, req FirstAdmin) (Account, error) {
	if !p.Setup {
		return Account{}, ErrForbidden
	}
	if !req.AcceptPrivacy {
		return Account{}, errors.New("the privacy notice must be accepted to create the administrator")
	}
	a, err := s.newAccount(ctx, req.Name, device.RoleAdmin, req.Password)
	if err != nil {
		return Account{}, err
	}
	step, ok := matchTOTP(req.TOTPSecret, req.TOTPCode, s.now(), 0)
	if req.TOTPSecret == "" || !ok {
		return Account{}, ErrBadCode
	}
	a.TOTPSecret, a.TOTPLastStep = req.TOTPSecret, step
	a.Privacy = s.now()
	if err := checkKeys(req.PublicKeys); err != nil {
		return Account{}, err
	}
	a.PublicKeys = req.PublicKeys
	err = s.accounts.Update(func(tx device.AccountTx) error {
		var st setupState
		raw := tx.Meta(metaSetup)
		if raw == nil || tx.UserCount() > 0 {
			return errors.New("setup was already completed in another session; log in with the administrator account")
		}
		if err := json.Unmarshal(raw, &st); err != nil || !s.now().Before(st.Expires) {
			return errors.New("the setup token expired; restart the gateway to get a new one")
		}
		if err := saveAccount(tx, a); err != nil {
			return err
		}
		if err := tx.DeleteMeta(metaSetup); err != nil {
			return err
		}
		if err := tx.Audit(device.Actor{ID: SetupUser, Role: SetupUser}, device.ActionUserCreate, a.ID, device.ResultOK, "first administrator"); err != nil {
			return err
		}
		return tx.Audit(a.Actor(), device.ActionPrivacyAccept, a.ID, device.ResultOK, "")
	})
	if err != nil {
		return Account{}, err
	}
	if err := device.ShredFile(filepath.Join(s.accounts.Dir(), SetupTokenFile)); err != nil {
		return a, fmt.Errorf("administrator created, but the setup token file could not be removed: %w", err)
	}
	return a, nil
}

// newAccount builds (does not store) an account with a checked name and
// password.
func (s *Service) newAccount(ctx context.Context, name string, role device.Role, password string) (Account, error) {
	if err := ValidateName(name); err != nil {
		return Account{}, err
	}
	if role == 0 {
		return Account{}, errors.New("a role is required: admin, installer, support or viewer")
	}
	a := Account{ID: newID(), Name: name, Role: role, Created: s.now().UTC()}
	if password != "" {
		if err := CheckPassword(password, s.accessPolicy().PasswordMaxLength, name, s.siteName()); err != nil {
			return Account{}, err
		}
		h, err := s.hasher.Hash(ctx, password)
		if err != nil {
			return Account{}, err
		}
		a.PasswordHash = h
	}
	return a, nil
}

func checkKeys(keys []string) error {
	for i, k := range keys {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
			return fmt.Errorf("public key %d is not an authorized_keys line: %v", i+1, err)
		}
	}
	return nil
}
