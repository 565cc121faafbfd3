package device

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// The certificate part of the access section: the organisation's SSH user
// certificate authorities, the longest validity a certificate may have,
// and the revocations the cloud carries to every gateway (issue 18). The
// rules that use them are tui/access's.

// Bounds of the certificate settings. A site trusts a handful of CAs; the
// revocation lists hold what an organisation revokes within the longest
// validity of its certificates, which is far below these.
const (
	MaxSSHUserCAs         = 16
	MaxSSHUserCALength    = 8192 // bytes of one CA line: an RSA 16384-bit key is about 2.8 KiB
	MaxRevokedCertSerials = 4096
	MaxRevokedKeyIDs      = 4096
	MaxCertKeyIDLength    = 64
	// MinCARSABits refuses weak RSA CA keys.
	MinCARSABits = 2048
)

// DefaultSSHCertMaxValidity is the longest validity window a certificate
// may have when ssh_cert_max_validity is unset.
const DefaultSSHCertMaxValidity = Duration(30 * 24 * time.Hour)

// sshCertMaxValidityRange bounds ssh_cert_max_validity.
var sshCertMaxValidityRange = [2]Duration{Duration(time.Minute), Duration(366 * 24 * time.Hour)}

// ErrCertKeyID means a certificate key id is not one the gateway records:
// it becomes the actor of audit events and is shown in terminals.
var ErrCertKeyID = errors.New("a certificate key id is 1..64 of letters, digits, '.', '_', '-', '@' and '+'")

// CheckCertKeyID checks the syntax of a certificate key id (the person's
// opaque id in the organisation's directory).
func CheckCertKeyID(id string) error {
	if id == "" || len(id) > MaxCertKeyIDLength {
		return ErrCertKeyID
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@+", r)
		if !ok {
			return ErrCertKeyID
		}
	}
	return nil
}

// CertMaxValidity returns the longest validity window a certificate may
// have.
func (a Access) CertMaxValidity() time.Duration {
	if a.SSHCertMaxValidity == 0 {
		return DefaultSSHCertMaxValidity.Std()
	}
	return a.SSHCertMaxValidity.Std()
}

// UserCAs returns the trusted CA keys; lines that do not parse (Validate
// reports them) are left out.
func (a Access) UserCAs() []gossh.PublicKey {
	out := make([]gossh.PublicKey, 0, len(a.SSHUserCAs))
	for _, line := range a.SSHUserCAs {
		if k, err := ParseUserCA(line); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// CertRevoked says whether a certificate of keyID and serial is revoked,
// and how.
func (a Access) CertRevoked(keyID string, serial uint64) (bool, string) {
	if slices.Contains(a.RevokedKeyIDs, keyID) {
		return true, "its key id is revoked (access.revoked_key_ids)"
	}
	if slices.Contains(a.RevokedCertSerials, serial) {
		return true, fmt.Sprintf("its serial %d is revoked (access.revoked_cert_serials)", serial)
	}
	return false, ""
}

// ParseUserCA parses one CA line: an OpenSSH public key in authorized_keys
// format ("ssh-ed25519 AAAA... comment"), optionally with the
// cert-authority option and no other.
func ParseUserCA(line string) (gossh.PublicKey, error) {
	if len(line) > MaxSSHUserCALength {
		return nil, fmt.Errorf("is %d bytes long; a CA key line is at most %d", len(line), MaxSSHUserCALength)
	}
	k, _, opts, rest, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("is not an OpenSSH public key line (the CA's .pub file, e.g. \"ssh-ed25519 AAAA... ca\"): %v", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("holds more than one key line; list each CA on its own")
	}
	for _, o := range opts {
		if o != "cert-authority" {
			return nil, fmt.Errorf("option %q is not understood (only cert-authority may precede the key)", printableText(o))
		}
	}
	if _, isCert := k.(*gossh.Certificate); isCert {
		return nil, errors.New("is a certificate, not a CA public key")
	}
	switch k.Type() {
	case "ssh-dss": // x/crypto still parses DSA keys; never trust one as a CA
		return nil, errors.New("is a DSA key; DSA is too weak for a CA (use ed25519 or ECDSA)")
	case gossh.KeyAlgoRSA:
		if ck, ok := k.(gossh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < MinCARSABits {
				return nil, fmt.Errorf("is a %d-bit RSA key; a CA needs at least %d bits", rk.N.BitLen(), MinCARSABits)
			}
		}
	}
	return k, nil
}

// printableText quotes untrusted text for a message, bounded.
func printableText(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}

func (a *Access) cloneCerts() {
	a.SSHUserCAs = cloneSlice(a.SSHUserCAs)
	a.RevokedCertSerials = cloneSlice(a.RevokedCertSerials)
	a.RevokedKeyIDs = cloneSlice(a.RevokedKeyIDs)
}

func (a *Access) validateCerts(v *problems, path string) {
	if n := len(a.SSHUserCAs); n > MaxSSHUserCAs {
		v.add(joinPath(path, "ssh_user_cas"), "%d CAs listed; at most %d are allowed", n, MaxSSHUserCAs)
	} else {
		seen := map[string]int{}
		for i, line := range a.SSHUserCAs {
			p := pathf("%s.ssh_user_cas[%d]", path, i)
			k, err := ParseUserCA(line)
			if err != nil {
				v.add(p, "%v", err)
				continue
			}
			fp := gossh.FingerprintSHA256(k)
			if j, dup := seen[fp]; dup {
				v.add(p, "the CA %s is already listed at ssh_user_cas[%d]", fp, j)
				continue
			}
			seen[fp] = i
		}
	}
	if a.SSHCertMaxValidity != 0 {
		checkDuration(v, joinPath(path, "ssh_cert_max_validity"), a.SSHCertMaxValidity, sshCertMaxValidityRange)
	}
	if n := len(a.RevokedCertSerials); n > MaxRevokedCertSerials {
		v.add(joinPath(path, "revoked_cert_serials"), "%d serials listed; at most %d are allowed", n, MaxRevokedCertSerials)
	} else {
		seen := make(map[uint64]int, n)
		for i, s := range a.RevokedCertSerials {
			if j, dup := seen[s]; dup {
				v.add(pathf("%s.revoked_cert_serials[%d]", path, i), "serial %d is already listed at revoked_cert_serials[%d]", s, j)
				continue
			}
			seen[s] = i
		}
	}
	if n := len(a.RevokedKeyIDs); n > MaxRevokedKeyIDs {
		v.add(joinPath(path, "revoked_key_ids"), "%d key ids listed; at most %d are allowed", n, MaxRevokedKeyIDs)
	} else {
		seen := make(map[string]int, n)
		for i, id := range a.RevokedKeyIDs {
			p := pathf("%s.revoked_key_ids[%d]", path, i)
			if err := CheckCertKeyID(id); err != nil {
				v.add(p, "%q: %v", printableText(id), err)
				continue
			}
			if j, dup := seen[id]; dup {
				v.add(p, "%q is already listed at revoked_key_ids[%d]", id, j)
				continue
			}
			seen[id] = i
		}
	}
}

// CertActorPrefix starts the actor id of a certificate login: "cert:" and
// the certificate's key id. No account id has it.
const CertActorPrefix = "cert:"

// CertActor returns the audit actor of a certificate login.
func CertActor(keyID string, role Role, serial uint64) Actor {
	return Actor{ID: CertActorPrefix + keyID, Role: role.String(), Serial: serial}
}

// IsCert reports whether the actor logged in with a certificate.
func (a Actor) IsCert() bool { return strings.HasPrefix(a.ID, CertActorPrefix) }

// certDetail adds a certificate actor's serial to an audit detail, so that
// every event of the session says which certificate it was.
func (a Actor) certDetail(detail string) string {
	if !a.IsCert() {
		return detail
	}
	if detail == "" {
		return fmt.Sprintf("cert serial %d", a.Serial)
	}
	return fmt.Sprintf("%s; cert serial %d", detail, a.Serial)
}
