package access

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// CertRequest is what the organisation grants in a certificate it signs
// with SignUserCert: a person's key (by key id), a role, where, how long.
type CertRequest struct {
	Key       gossh.PublicKey
	KeyID     string
	Principal CertPrincipal
	// Valid is the whole validity window, which starts Backdate before now
	// so that a gateway whose clock is a little behind accepts it.
	Valid time.Duration
	// Serial identifies the certificate for revocation; zero picks a
	// random one.
	Serial uint64
	// SourceAddress, when set, is the source-address critical option:
	// comma-separated addresses or CIDR prefixes.
	SourceAddress string
}

// Backdate is how far before the moment of signing a certificate's window
// starts.
const Backdate = 5 * time.Minute

// SignUserCert signs a user certificate as ssh-keygen -s would (-I key id,
// -n principal, -V window, -z serial, -O source-address; the usual
// permit-* extensions) with ca at now. An RSA CA signs with rsa-sha2-512.
func SignUserCert(ca gossh.Signer, r CertRequest, now time.Time) (*gossh.Certificate, error) {
	if r.Key == nil {
		return nil, errors.New("sign certificate: no key to certify")
	}
	if IsCertificate(r.Key) {
		return nil, errors.New("sign certificate: the key to certify is itself a certificate; give the user's .pub key")
	}
	if err := device.CheckCertKeyID(r.KeyID); err != nil {
		return nil, fmt.Errorf("sign certificate: key id %q: %w", printable(r.KeyID), err)
	}
	if _, err := ParsePrincipal(r.Principal.String()); err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	if r.Valid <= 0 {
		return nil, errors.New("sign certificate: the validity must be positive (e.g. 8h)")
	}
	if r.SourceAddress != "" {
		if err := checkSourceAddress(r.SourceAddress, nil); err != nil && !errors.Is(err, errUncheckable) {
			return nil, fmt.Errorf("sign certificate: %w", err)
		}
	}
	serial := r.Serial
	if serial == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		serial = binary.BigEndian.Uint64(b[:]) >> 1 // below 2^63: every tool prints it alike
	}
	start := now.Add(-Backdate).Truncate(time.Second)
	c := &gossh.Certificate{
		Key: r.Key, Serial: serial, CertType: gossh.UserCert, KeyId: r.KeyID,
		ValidPrincipals: []string{r.Principal.String()},
		ValidAfter:      uint64(start.Unix()), ValidBefore: uint64(start.Add(r.Valid).Unix()),
		Permissions: gossh.Permissions{Extensions: map[string]string{
			"permit-agent-forwarding": "", "permit-port-forwarding": "", "permit-pty": "", "permit-user-rc": "", "permit-X11-forwarding": "",
		}},
	}
	if r.SourceAddress != "" {
		c.CriticalOptions = map[string]string{SourceAddressOption: r.SourceAddress}
	}
	signer := ca
	if ca.PublicKey().Type() == gossh.KeyAlgoRSA {
		as, ok := ca.(gossh.AlgorithmSigner)
		if !ok {
			return nil, errors.New("sign certificate: this RSA CA key cannot sign with rsa-sha2-512")
		}
		var err error
		if signer, err = gossh.NewSignerWithAlgorithms(as, []string{gossh.KeyAlgoRSASHA512}); err != nil {
			return nil, fmt.Errorf("sign certificate: %w", err)
		}
	}
	if err := c.SignCert(rand.Reader, signer); err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return c, nil
}
