package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// SSH user certificates of the organisation (issue 18): a CA the site
// trusts signs a person's key for a role on this gateway, its site or every
// gateway, for a bounded time. The gateway checks it offline, records the
// certificate's key id as the actor and creates no account.

// Bounds of a certificate login. A certificate is refused before any
// signature is checked when it is larger or carries more than these; what
// the organisation's tooling issues is far below them.
const (
	MaxCertBytes       = 16 << 10 // the whole certificate as sent
	MaxCertPrincipals  = 32       // principals considered
	MaxCertOptions     = 32       // critical options and extensions together
	MaxSourceAddresses = 32       // entries of a source-address option
	// MaxCertGrants bounds the certificates the gateway keeps in memory for
	// open and recent sessions (the role checks and `access certs`); when
	// it is full the least recently seen is forgotten.
	MaxCertGrants = 1024
	// MaxCertIdentities bounds the key ids whose privacy acceptance is
	// stored; when full, the oldest acceptance is forgotten (that person is
	// asked again).
	MaxCertIdentities = 1024
)

// Errors of certificate logins.
var (
	// ErrCertRefused wraps every refusal of a certificate; the message says
	// why.
	ErrCertRefused = errors.New("certificate refused")
	// ErrPrincipal means a principal is not of the form ROLE:GATEWAY_ID,
	// ROLE:site=NAME or ROLE:*.
	ErrPrincipal = errors.New("not a sitegate principal")
	// ErrNoAccount is the answer to an account change (password, code,
	// keys) asked by a certificate login, which has no account.
	ErrNoAccount = errors.New("a certificate login has no local account: your organisation manages your access")
)

// SourceAddressOption is the one critical option the gateway understands
// (OpenSSH PROTOCOL.certkeys): the client's address must be in its list.
const SourceAddressOption = "source-address"

// MethodCert is the Principal.Method of a certificate login.
const MethodCert = "certificate"

// Cert is a certificate as the gateway records it: who (the key id, an
// opaque id in the organisation's directory), which certificate, the role
// it grants here and for how long.
type Cert struct {
	KeyID       string      `json:"key_id"`
	Serial      uint64      `json:"serial"`
	Role        device.Role `json:"role"`
	Principal   string      `json:"principal"` // the principal that granted the role
	ValidAfter  time.Time   `json:"valid_after"`
	ValidBefore time.Time   `json:"valid_before"`
	CA          string      `json:"ca"` // SHA256 fingerprint of the signing CA
}

// CertSession is a certificate seen at login, for `access certs`.
type CertSession struct {
	Cert
	LastSeen time.Time `json:"last_seen"`
}

// certs holds the certificates of recent logins, bounded.
type certs struct {
	mu sync.Mutex
	m  map[certKey]*CertSession
}

type certKey struct {
	keyID  string
	serial uint64
}

func (c *certs) put(cert Cert, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[certKey]*CertSession{}
	}
	k := certKey{cert.KeyID, cert.Serial}
	if _, ok := c.m[k]; !ok && len(c.m) >= MaxCertGrants {
		var oldest certKey
		first := true
		for k2, s := range c.m {
			if first || s.LastSeen.Before(c.m[oldest].LastSeen) {
				oldest, first = k2, false
			}
		}
		delete(c.m, oldest)
	}
	c.m[k] = &CertSession{Cert: cert, LastSeen: now}
}

func (c *certs) get(keyID string, serial uint64) (Cert, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[certKey{keyID, serial}]
	if !ok {
		return Cert{}, false
	}
	return s.Cert, true
}

// latest returns the most recently seen certificate of keyID.
func (c *certs) latest(keyID string) (Cert, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *CertSession
	for k, s := range c.m {
		if k.keyID == keyID && (best == nil || s.LastSeen.After(best.LastSeen)) {
			best = s
		}
	}
	if best == nil {
		return Cert{}, false
	}
	return best.Cert, true
}

func (c *certs) touch(keyID string, serial uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[certKey{keyID, serial}]; ok {
		s.LastSeen = now
	}
}

func (c *certs) list() []CertSession {
	c.mu.Lock()
	out := make([]CertSession, 0, len(c.m))
	for _, s := range c.m {
		out = append(out, *s)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastSeen.Equal(out[j].LastSeen) {
			return out[i].LastSeen.After(out[j].LastSeen)
		}
		return out[i].KeyID < out[j].KeyID || out[i].KeyID == out[j].KeyID && out[i].Serial < out[j].Serial
	})
	return out
}

// IsCertificate reports whether key is an SSH certificate (of any kind):
// such keys log in only as certificates, never as an account's key.
func IsCertificate(key gossh.PublicKey) bool {
	_, ok := key.(*gossh.Certificate)
	return ok
}

// CheckCertificate decides whether key, a certificate offered from remote,
// may log in now, without recording anything (the SSH door asks before the
// client has proven that it holds the key, and again after). It returns
// what it could establish of the certificate — the key id only once the
// CA's signature is verified — and, when refused, an error wrapping
// ErrCertRefused that says why.
//
// The cheap checks come first (size, counts, kind, a trusted CA), then the
// signature, then the rest, so that a hostile certificate costs at most
// one signature check and every reason given is about an authentic
// certificate.
func (s *Service) CheckCertificate(key gossh.PublicKey, remote net.Addr) (Cert, error) {
	cert, ok := key.(*gossh.Certificate)
	if !ok {
		return Cert{}, refuse("not a certificate")
	}
	// Counts first, then the size: both without allocating, so that a
	// hostile certificate costs next to nothing more than its parsing.
	if n := len(cert.ValidPrincipals); n > MaxCertPrincipals {
		return Cert{}, refuse("%d principals; at most %d are accepted", n, MaxCertPrincipals)
	}
	if n := len(cert.CriticalOptions) + len(cert.Extensions); n > MaxCertOptions {
		return Cert{}, refuse("%d options and extensions; at most %d are accepted", n, MaxCertOptions)
	}
	if n := certSize(cert); n > MaxCertBytes {
		return Cert{}, refuse("%d bytes long; at most %d are accepted", n, MaxCertBytes)
	}
	if cert.CertType != gossh.UserCert {
		return Cert{}, refuse("a host certificate, not a user certificate")
	}
	site, _ := s.gw.Site()
	pol := site.Access
	ca := cert.SignatureKey.Marshal()
	trusted := slices.ContainsFunc(pol.UserCAs(), func(k gossh.PublicKey) bool { return bytes.Equal(k.Marshal(), ca) })
	if !trusted {
		return Cert{}, refuse("signed by %s, which is not a CA this site trusts (access.ssh_user_cas)", gossh.FingerprintSHA256(cert.SignatureKey))
	}
	if err := verifyCertSignature(cert); err != nil {
		return Cert{}, refuse("%v", err)
	}
	c := Cert{Serial: cert.Serial, CA: gossh.FingerprintSHA256(cert.SignatureKey), ValidAfter: certTime(cert.ValidAfter), ValidBefore: certTime(cert.ValidBefore)}
	if err := device.CheckCertKeyID(cert.KeyId); err != nil {
		return c, refuse("key id %q: %v", printable(cert.KeyId), err)
	}
	c.KeyID = cert.KeyId
	if cert.ValidAfter >= math.MaxInt64 {
		// Past what a time can hold: never valid (and never "from the
		// epoch", which certTime's zero would mean here).
		return c, refuse("not yet valid: valid from beyond the year 292277026596")
	}
	c.Role, c.Principal = grantOf(cert.ValidPrincipals, s.gw.ID(), site.Site.Name)
	if c.Role == 0 {
		return c, refuse("no principal grants a role on this gateway (%s:%s, %s:site=NAME or %s:*)", "ROLE", s.gw.ID(), "ROLE", "ROLE")
	}
	for name := range cert.CriticalOptions {
		if name != SourceAddressOption {
			return c, refuse("critical option %q is not understood", printable(name))
		}
	}
	if err := s.checkWindow(c, pol); err != nil {
		return c, err
	}
	if revoked, why := pol.CertRevoked(c.KeyID, c.Serial); revoked {
		return c, refuse("%s", why)
	}
	if list, ok := cert.CriticalOptions[SourceAddressOption]; ok {
		if err := checkSourceAddress(list, remote); err != nil {
			return c, refuse("%v", err)
		}
	}
	return c, nil
}

// certSize is the size of the certificate's variable parts as sent (each
// with its four-byte length), which is within a few dozen bytes of the
// whole certificate; the keys count by their size as sent too.
func certSize(c *gossh.Certificate) int {
	n := 4 + len(c.KeyId) + 4 + len(c.Nonce) + 4 + len(c.Reserved)
	for _, p := range c.ValidPrincipals {
		n += 4 + len(p)
	}
	for k, v := range c.CriticalOptions {
		n += 8 + len(k) + len(v)
	}
	for k, v := range c.Extensions {
		n += 8 + len(k) + len(v)
	}
	if c.Signature != nil {
		n += 12 + len(c.Signature.Format) + len(c.Signature.Blob) + len(c.Signature.Rest)
	}
	// Keys: bounded by the SSH packet the client sent them in; an RSA
	// 16384-bit key is about 2 KiB.
	if c.Key != nil {
		n += len(c.Key.Marshal())
	}
	if c.SignatureKey != nil {
		n += len(c.SignatureKey.Marshal())
	}
	return n
}

// refuse builds a refusal.
func refuse(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCertRefused, fmt.Sprintf(format, a...))
}

// verifyCertSignature checks the CA's signature over the certificate: over
// every field before the signature (PROTOCOL.certkeys), with an algorithm
// that fits the CA key. SHA-1 RSA signatures are refused, as OpenSSH does
// by default.
func verifyCertSignature(cert *gossh.Certificate) error {
	if cert.Signature == nil {
		return errors.New("unsigned")
	}
	if cert.Signature.Format == gossh.KeyAlgoRSA {
		return errors.New("signed with ssh-rsa (SHA-1), which is not accepted; sign with rsa-sha2-512 or an ed25519 CA")
	}
	unsigned := *cert
	unsigned.Signature = nil
	b := unsigned.Marshal()
	// Marshal ends with the signature as a string: without one, its
	// four-byte empty length.
	if err := cert.SignatureKey.Verify(b[:len(b)-4], cert.Signature); err != nil {
		return fmt.Errorf("the CA's signature does not verify (%s): %v", printable(cert.Signature.Format), err)
	}
	return nil
}

// certTime converts a certificate time (seconds since the epoch, all ones
// for "forever") to a time; zero means forever.
func certTime(t uint64) time.Time {
	if t >= math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

// grantOf returns the most privileged role the principals grant on this
// gateway, and the principal that grants it. At most MaxCertPrincipals are
// looked at (CheckCertificate refuses more).
func grantOf(principals []string, gatewayID, siteName string) (device.Role, string) {
	var role device.Role
	var by string
	for _, p := range principals[:min(len(principals), MaxCertPrincipals)] {
		cp, err := ParsePrincipal(p)
		if err != nil || !cp.Grants(gatewayID, siteName) {
			continue
		}
		if role == 0 || cp.Role < role {
			role, by = cp.Role, p
		}
	}
	return role, by
}

// checkWindow checks the validity window against the gateway's clock and
// its length against the site's bound. A refusal for time says when the
// gateway's clock is not synchronised: the gateway may be wrong, not the
// certificate.
func (s *Service) checkWindow(c Cert, pol device.Access) error {
	now := s.now()
	var why string
	switch {
	case now.Before(c.ValidAfter):
		why = "not yet valid: valid from " + c.ValidAfter.Format(time.RFC3339)
	case !c.ValidBefore.IsZero() && !now.Before(c.ValidBefore):
		why = "expired at " + c.ValidBefore.Format(time.RFC3339)
	}
	if why != "" {
		if !s.gw.Health().Clock.Synced {
			why += fmt.Sprintf("; the gateway's clock is not synchronised (it reads %s)", now.UTC().Format(time.RFC3339))
		}
		return refuse("%s", why)
	}
	maxV := pol.CertMaxValidity()
	if c.ValidBefore.IsZero() {
		return refuse("valid forever; at most %s is accepted (access.ssh_cert_max_validity)", device.Duration(maxV))
	}
	if d := c.ValidBefore.Sub(c.ValidAfter); d > maxV {
		return refuse("valid for %s; at most %s is accepted (access.ssh_cert_max_validity)", device.Duration(d.Round(time.Second)), device.Duration(maxV))
	}
	return nil
}

// checkSourceAddress checks remote against a source-address list: comma
// separated addresses or CIDR prefixes.
func checkSourceAddress(list string, remote net.Addr) error {
	entries := strings.Split(list, ",")
	if len(entries) > MaxSourceAddresses {
		return fmt.Errorf("source-address lists %d entries; at most %d are accepted", len(entries), MaxSourceAddresses)
	}
	prefixes := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		pfx, err := netip.ParsePrefix(e)
		if err != nil {
			a, aerr := netip.ParseAddr(e)
			if aerr != nil {
				return fmt.Errorf("source-address entry %q is not an address or CIDR prefix", printable(e))
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, pfx.Masked())
	}
	tcp, ok := remote.(*net.TCPAddr)
	if !ok {
		return errUncheckable
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return errUncheckable
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("the client address %s is not in the certificate's source-address", ip)
}

// errUncheckable: a connection without an IP address cannot meet a
// source-address option.
var errUncheckable = errors.New("source-address cannot be checked on this connection")

// LoginCertificate logs in with a certificate whose key the client has
// proven it holds: it checks it again, remembers it for the role checks of
// the session, and returns its principal. Nothing is stored and no account
// is created; the SSH door audits the login (AuditLogin).
func (s *Service) LoginCertificate(key gossh.PublicKey, remote net.Addr) (Principal, error) {
	c, err := s.CheckCertificate(key, remote)
	if err != nil {
		return Principal{}, err
	}
	s.certs.put(c, s.now())
	return s.certPrincipal(c), nil
}

func (s *Service) certPrincipal(c Cert) Principal {
	return Principal{Account: s.certAccount(c), Cert: &c, Method: MethodCert}
}

// AuditCertRefusal records a refused certificate: as its key id once the
// CA's signature proved it, otherwise as unknown.
func (s *Service) AuditCertRefusal(c Cert, err error) {
	actor := device.Actor{ID: "unknown", Role: "none"}
	if c.KeyID != "" {
		role := "none"
		if c.Role != 0 {
			role = c.Role.String()
		}
		actor = device.Actor{ID: device.CertActorPrefix + c.KeyID, Role: role, Serial: c.Serial}
	}
	detail := strings.TrimPrefix(err.Error(), ErrCertRefused.Error()+": ")
	s.audit(actor, device.ActionLoginFailure, actor.ID, device.ResultDenied, "certificate: "+detail)
}

// CheckCert says whether the certificate of a session still grants its
// role now: still known, its CA still trusted, not revoked since and not
// expired. A certificate's role cannot change; these are what can.
func (s *Service) CheckCert(c Cert) error {
	if _, ok := s.certs.get(c.KeyID, c.Serial); !ok {
		return fmt.Errorf("%w: your certificate session is no longer known; log in again", ErrForbidden)
	}
	site, _ := s.gw.Site()
	if revoked, why := site.Access.CertRevoked(c.KeyID, c.Serial); revoked {
		return fmt.Errorf("%w: your certificate was revoked: %s", ErrForbidden, why)
	}
	trusted := slices.ContainsFunc(site.Access.UserCAs(), func(k gossh.PublicKey) bool { return gossh.FingerprintSHA256(k) == c.CA })
	if !trusted {
		return fmt.Errorf("%w: the CA of your certificate is no longer trusted", ErrForbidden)
	}
	if !c.ValidBefore.IsZero() && !s.now().Before(c.ValidBefore) {
		return fmt.Errorf("%w: your certificate expired at %s", ErrForbidden, c.ValidBefore.Format(time.RFC3339))
	}
	return nil
}

// requireCert is require for a certificate actor: the role is the one its
// certificate grants, checked as it is now (CheckCert).
func (s *Service) requireCert(actor device.Actor, perm Perm) error {
	c, ok := s.certs.get(strings.TrimPrefix(actor.ID, device.CertActorPrefix), actor.Serial)
	if !ok {
		return fmt.Errorf("%w: your certificate session is no longer known; log in again", ErrForbidden)
	}
	if err := s.CheckCert(c); err != nil {
		return err
	}
	if !Can(c.Role, perm) {
		return fmt.Errorf("%w: %s needs the %s role, you are %s", ErrForbidden, perm, RoleFor(perm), c.Role)
	}
	return nil
}

// RefreshCert checks that the certificate of p still grants its role
// (CheckCert), records that it is active now and refreshes p's account
// (its privacy acceptance).
func (s *Service) RefreshCert(p *Principal) error {
	if p.Cert == nil {
		return ErrDenied
	}
	if err := s.CheckCert(*p.Cert); err != nil {
		return err
	}
	s.certs.touch(p.Cert.KeyID, p.Cert.Serial, s.now())
	p.Account = s.certAccount(*p.Cert)
	return nil
}

// CertSessions lists the certificates seen at login since the gateway
// started, most recently seen first (at most MaxCertGrants); only for
// those who may manage users.
func (s *Service) CertSessions(actor device.Actor) ([]CertSession, error) {
	if err := s.require(actor, PermUsers); err != nil {
		return nil, err
	}
	return s.certs.list(), nil
}

// certIdentityKey is the metadata record of what the gateway keeps per key
// id: when its privacy acceptance was given, and its theme.
const certIdentityKey = "access.cert_identities"

type certIdentity struct {
	Privacy time.Time `json:"privacy_accepted"`
	Theme   string    `json:"theme,omitempty"`
}

func readIdentities(tx device.AccountTx) map[string]certIdentity {
	m := map[string]certIdentity{}
	if b := tx.Meta(certIdentityKey); b != nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func writeIdentities(tx device.AccountTx, m map[string]certIdentity) error {
	for len(m) > MaxCertIdentities {
		var oldest string
		for id, v := range m {
			if oldest == "" || v.Privacy.Before(m[oldest].Privacy) {
				oldest = id
			}
		}
		delete(m, oldest)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.PutMeta(certIdentityKey, b)
}

// certAccount is the account a certificate login appears as to the
// console and the commands: never stored, its id the actor id.
func (s *Service) certAccount(c Cert) Account {
	var id certIdentity
	_ = s.accounts.View(func(tx device.AccountTx) error { id = readIdentities(tx)[c.KeyID]; return nil })
	return Account{ID: device.CertActorPrefix + c.KeyID, Name: c.KeyID, Role: c.Role, Privacy: id.Privacy, Theme: id.Theme, Created: c.ValidAfter}
}

// setCertTheme remembers the theme of p's key id, with the privacy
// acceptance it is kept beside (a key id that has not accepted the notice
// keeps none).
func (s *Service) setCertTheme(p Principal, theme string) error {
	if err := s.require(p.Actor(), PermDashboard); err != nil {
		return err
	}
	return s.accounts.Update(func(tx device.AccountTx) error {
		m := readIdentities(tx)
		id, ok := m[p.Cert.KeyID]
		if !ok {
			return errors.New("accept the privacy notice first")
		}
		id.Theme = theme
		m[p.Cert.KeyID] = id
		if err := tx.Audit(p.Actor(), device.ActionUserTheme, p.Actor().ID, device.ResultOK, ""); err != nil {
			return err
		}
		return writeIdentities(tx, m)
	})
}

// acceptCertPrivacy records the privacy acceptance of p's key id with its
// audit event, in one transaction.
func (s *Service) acceptCertPrivacy(p Principal) (Account, error) {
	now := s.now()
	err := s.accounts.Update(func(tx device.AccountTx) error {
		m := readIdentities(tx)
		if !m[p.Cert.KeyID].Privacy.IsZero() {
			return nil
		}
		m[p.Cert.KeyID] = certIdentity{Privacy: now}
		if err := tx.Audit(p.Actor(), device.ActionPrivacyAccept, p.Actor().ID, device.ResultOK, ""); err != nil {
			return err
		}
		return writeIdentities(tx, m)
	})
	if err != nil {
		return Account{}, err
	}
	return s.certAccount(*p.Cert), nil
}

// withdrawCertPrivacy forgets the privacy acceptance of p's key id and ends
// its sessions.
func (s *Service) withdrawCertPrivacy(p Principal) error {
	if err := s.require(p.Actor(), PermDashboard); err != nil {
		return err
	}
	err := s.accounts.Update(func(tx device.AccountTx) error {
		m := readIdentities(tx)
		delete(m, p.Cert.KeyID)
		if err := tx.Audit(p.Actor(), device.ActionPrivacyWithdraw, p.Actor().ID, device.ResultOK, ""); err != nil {
			return err
		}
		return writeIdentities(tx, m)
	})
	if err == nil {
		s.gw.EndSessions(p.Actor().ID, "you withdrew your acceptance of the privacy notice; log in again to accept it")
	}
	return err
}
