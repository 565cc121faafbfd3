package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sitegate/sitegate/store"
)

// Secrets at rest. A stored site revision never holds a secret's value:
// each secret that is set is kept in the store's encrypted secret store,
// and the revision holds a reference to that entry and its version,
// "secret:site/wifi.passphrase@3". A change of the secret makes a new
// version (so revisions still show that it changed); the old value is gone
// from the secret store, and revisions that named it refer to an erased
// version.

// SiteSecretPrefix is the secret-store prefix of the site's own secrets.
const SiteSecretPrefix = "site/"

// UserSecretPrefix is the secret-store prefix of accounts' secrets.
const UserSecretPrefix = "user/"

// UserTOTPSecret is the secret-store name of an account's TOTP seed: the
// access service keeps seeds there, never in the account record.
func UserTOTPSecret(accountID string) string { return UserSecretPrefix + accountID + "/totp" }

// secretRefPrefix starts a reference in a stored revision.
const secretRefPrefix = "secret:"

// metaSiteSecrets is set once every stored site revision refers to the
// secret store instead of holding secrets (schema of the site document).
const metaSiteSecrets = "site.secrets"

// siteSecretsSealed is metaSiteSecrets once every revision is sealed with
// today's secretSlots. The plain "sealed" of earlier versions left the
// LoRa keys in clear: those revisions are sealed again.
const siteSecretsSealed = "sealed:2"

// ErrSecretLost means a stored site refers to a secret the secret store can
// no longer give: its key file is gone or was replaced.
var ErrSecretLost = errors.New("stored secret cannot be read")

// secretSlot is one secret field of a site and its secret-store name.
type secretSlot struct {
	path  string // site path, for messages: cellular.sims[0].pin
	name  string // secret-store name without prefix: cellular.sim1.pin
	field *Secret
}

// secretSlots lists every secret field of s. SIM PINs are named by slot,
// the way KeepSecrets matches them.
func secretSlots(s *Site) []secretSlot {
	slots := []secretSlot{{path: "wifi.passphrase", name: "wifi.passphrase", field: &s.WiFi.Passphrase}}
	for i := range s.Cellular.SIMs {
		slots = append(slots, secretSlot{
			path:  fmt.Sprintf("cellular.sims[%d].pin", i),
			name:  fmt.Sprintf("cellular.sim%d.pin", s.Cellular.SIMs[i].Slot),
			field: &s.Cellular.SIMs[i].PIN,
		})
	}
	for i := range s.LoRa.Devices {
		d := &s.LoRa.Devices[i]
		p, n := pathf("lora.devices[%d]", i), "lora."+d.Name
		slots = append(slots,
			secretSlot{path: p + ".app_key", name: n + ".app_key", field: &d.AppKey},
			secretSlot{path: p + ".nwk_s_key", name: n + ".nwk_s_key", field: &d.NwkSKey},
			secretSlot{path: p + ".app_s_key", name: n + ".app_s_key", field: &d.AppSKey})
	}
	slots = append(slots, s.SNMP.secretSlots()...)
	return append(slots, s.CoAP.coapSecretSlots()...)
}

func secretRef(name string, version uint64) Secret {
	return Secret(secretRefPrefix + name + "@" + strconv.FormatUint(version, 10))
}

func parseSecretRef(s Secret) (name string, version uint64, ok bool) {
	rest, found := strings.CutPrefix(string(s), secretRefPrefix)
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '@')
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil || v == 0 {
		return "", 0, false
	}
	return rest[:i], v, true
}

// SealSite stores the secrets of s in the secret store under prefix and
// returns the JSON of s with each of them replaced by a reference: what a
// revision (or anything else kept in the database) may hold. Secrets that
// read SecretPlaceholder stay placeholders; secrets under prefix that s no
// longer has are deleted. A secret whose value did not change keeps its
// entry and version. Call it inside the transaction that stores the JSON.
func SealSite(tx *store.Tx, s *Site, prefix string) ([]byte, error) {
	return sealSite(tx, s, prefix, false, true)
}

// sealSite is SealSite; with keepRefs, a field that already holds a
// reference (a revision sealed before its section's secrets were added to
// secretSlots) keeps it. Only the migration keeps references: a site
// someone submits never refers to the secret store. prune deletes the
// secrets under prefix that s does not use; the migration prunes only
// with the newest revision, since older ones may lack secrets newer ones
// refer to.
func sealSite(tx *store.Tx, s *Site, prefix string, keepRefs, prune bool) ([]byte, error) {
	c := s.Clone()
	used := map[string]bool{}
	for _, sl := range secretSlots(c) {
		if !sl.field.IsSet() || sl.field.IsPlaceholder() {
			continue
		}
		if name, _, ok := parseSecretRef(*sl.field); ok && keepRefs {
			used[name] = true
			continue
		}
		name := prefix + sl.name
		v, err := tx.PutSecret(name, []byte(sl.field.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("store secret %s: %w", sl.path, err)
		}
		used[name] = true
		*sl.field = secretRef(name, v)
	}
	for _, name := range tx.SecretNames(prefix) {
		if prune && !used[name] {
			if err := tx.DeleteSecret(name); err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(c)
}

// OpenSite decodes JSON written by SealSite and puts the secrets back from
// the secret store. A reference the store cannot satisfy (an erased
// version, a lost key) leaves that secret empty and is reported in an
// error wrapping ErrSecretLost, next to the site: the caller decides
// whether a site without it will do.
func OpenSite(tx *store.Tx, body []byte) (*Site, error) {
	var s Site
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	var lost []string
	for _, sl := range secretSlots(&s) {
		if !sl.field.IsSet() || sl.field.IsPlaceholder() {
			continue
		}
		name, version, ok := parseSecretRef(*sl.field)
		if !ok {
			// Never written by SealSite: a value in clear has no place here.
			*sl.field = ""
			lost = append(lost, sl.path+" (not a secret-store reference)")
			continue
		}
		value, have, err := tx.Secret(name)
		switch {
		case err != nil:
			lost = append(lost, fmt.Sprintf("%s (%v)", sl.path, err))
			*sl.field = ""
		case have != version:
			lost = append(lost, fmt.Sprintf("%s (version %d was replaced by version %d)", sl.path, version, have))
			*sl.field = ""
		default:
			*sl.field = Secret(value)
		}
	}
	if len(lost) > 0 {
		return &s, fmt.Errorf("%w: %s", ErrSecretLost, strings.Join(lost, "; "))
	}
	return &s, nil
}

// DropSealedSecrets deletes every secret under prefix (what SealSite stored
// for a site that is discarded).
func DropSealedSecrets(tx *store.Tx, prefix string) error {
	for _, name := range tx.SecretNames(prefix) {
		if err := tx.DeleteSecret(name); err != nil {
			return err
		}
	}
	return nil
}

// migrateSiteSecrets takes the secrets out of the site revisions an older
// sitegate stored with their values in clear: every kept revision is
// rewritten with references (values that followed each other get
// consecutive versions, so revisions still show which changes touched a
// secret), the newest values go to the secret store, and the database is
// compacted so the clear values do not survive in freed pages. It runs once
// per data directory; it returns whether it migrated anything.
func migrateSiteSecrets(st *store.Store) (bool, error) {
	if v, err := st.Meta(metaSiteSecrets); err != nil || string(v) == siteSecretsSealed {
		return false, err
	}
	hist, err := st.ConfigHistory(SiteDoc, 0)
	if err != nil {
		return false, err
	}
	slices.Reverse(hist) // oldest first: versions follow the changes
	err = st.Update(func(tx *store.Tx) error {
		for i, r := range hist {
			var s Site
			if err := json.Unmarshal(r.Body, &s); err != nil {
				return fmt.Errorf("site revision %d is unreadable: %w", r.Rev, err)
			}
			body, err := sealSite(tx, &s, SiteSecretPrefix, true, i == len(hist)-1)
			if err != nil {
				return fmt.Errorf("site revision %d: %w", r.Rev, err)
			}
			if err := tx.ReplaceConfigBody(SiteDoc, r.Rev, body); err != nil {
				return err
			}
		}
		return tx.PutMeta(metaSiteSecrets, []byte(siteSecretsSealed))
	})
	if err != nil {
		return false, fmt.Errorf("move site secrets to the secret store: %w", err)
	}
	if len(hist) == 0 {
		return false, nil
	}
	if err := st.Compact(); err != nil {
		return true, fmt.Errorf("move site secrets to the secret store: %w", err)
	}
	return true, nil
}
