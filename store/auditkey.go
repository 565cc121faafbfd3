package store

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// AuditKeyFile is the audit key's file in the data directory, beside the
// database and never inside it: whoever holds a copy of the database alone
// can neither forge a checkpoint nor recompute an event's MAC.
const AuditKeyFile = "audit_ed25519_key"

// maxKeyFile bounds a key file read from disk (a PEM ed25519 key is about
// 120 bytes, the secret-store key file a few hundred).
const maxKeyFile = 16 << 10

// ErrNoAuditKey means the data directory has no audit key and none may be
// created (Options.NoNewKeys).
var ErrNoAuditKey = errors.New("no audit key")

// AuditSigner holds the gateway's audit key: it signs checkpoints of the
// chain head and keys every event with a MAC. FileAuditKey keeps it in a
// 0600 file; a TPM-backed implementation would keep the private half in the
// TPM (which signs ECDSA P-256 rather than ed25519: Algorithm names what
// Sign produces, and checkpoints carry it).
type AuditSigner interface {
	// Algorithm names the signature scheme, e.g. "ed25519".
	Algorithm() string
	// PublicKey returns the public key that verifies Sign (for ed25519 the
	// 32 raw bytes).
	PublicKey() []byte
	// Sign signs msg.
	Sign(msg []byte) ([]byte, error)
	// MAC returns a keyed MAC of msg (HMAC-SHA-256 for the file key).
	MAC(msg []byte) []byte
}

// KeyID is a short fingerprint of a public key: the first 8 bytes of its
// SHA-256, in hex. Checkpoints carry it to say which key signed them.
func KeyID(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// FileAuditKey is an ed25519 audit key kept in a file.
type FileAuditKey struct {
	priv ed25519.PrivateKey
	macs sync.Pool // of hash.Hash: HMAC-SHA-256 under the derived key
}

// macLabel separates the MAC key derived from the signing key's seed from
// any other use of that seed.
const macLabel = "sitegate audit event mac v1"

func newFileAuditKey(priv ed25519.PrivateKey) *FileAuditKey {
	m := hmac.New(sha256.New, priv.Seed())
	m.Write([]byte(macLabel))
	macKey := m.Sum(nil)
	k := &FileAuditKey{priv: priv}
	// Verifying a chain computes a MAC per event: the hashes are reused.
	k.macs.New = func() any { return hmac.New(sha256.New, macKey) }
	return k
}

// Algorithm returns "ed25519".
func (k *FileAuditKey) Algorithm() string { return "ed25519" }

// PublicKey returns the 32-byte ed25519 public key.
func (k *FileAuditKey) PublicKey() []byte { return k.priv.Public().(ed25519.PublicKey) }

// Sign signs msg with ed25519.
func (k *FileAuditKey) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(k.priv, msg), nil }

// MAC returns HMAC-SHA-256 of msg under a key derived from the seed.
func (k *FileAuditKey) MAC(msg []byte) []byte {
	m := k.macs.Get().(hash.Hash)
	defer k.macs.Put(m)
	m.Reset()
	m.Write(msg)
	return m.Sum(nil)
}

// LoadAuditKey reads the audit key of data directory dir. When the file
// does not exist and create is true, a new key is generated and written
// (mode 0600) first; with create false a missing file gives ErrNoAuditKey.
func LoadAuditKey(dir string, create bool) (*FileAuditKey, error) {
	path := filepath.Join(dir, AuditKeyFile)
	raw, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNoAuditKey, path)
		}
		_, priv, gerr := ed25519.GenerateKey(nil)
		if gerr != nil {
			return nil, gerr
		}
		der, merr := x509.MarshalPKCS8PrivateKey(priv)
		if merr != nil {
			return nil, merr
		}
		block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if werr := CreateFile(path, 0o600, func(w io.Writer) error { _, err := w.Write(block); return err }); werr != nil {
			return nil, fmt.Errorf("create audit key %s: %w", path, werr)
		}
		return newFileAuditKey(priv), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit key: %w", err)
	}
	priv, err := ParseAuditKey(raw)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	return newFileAuditKey(priv), nil
}

// ParseAuditKey decodes a PEM "PRIVATE KEY" (PKCS#8) holding an ed25519
// key, the format `openssl pkey` reads.
func ParseAuditKey(raw []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, not ed25519", k)
	}
	return priv, nil
}

// EncodePublicKey returns pub as PEM "PUBLIC KEY" (PKIX), the form
// `sitegate audit key` prints for the cloud.
func EncodePublicKey(pub []byte) []byte {
	der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pub))
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKey decodes a PEM "PUBLIC KEY" holding an ed25519 key.
func ParsePublicKey(raw []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, not ed25519", k)
	}
	return pub, nil
}

// readKeyFile reads a small key file, refusing one that others may read or
// that is not a regular file.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("restrict %s: %w", path, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s is over %d bytes: not a key file", path, maxKeyFile)
	}
	return b, nil
}
