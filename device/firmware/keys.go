package firmware

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sitegate/sitegate/store"
)

// Key file suffixes written by WriteKeyPair.
const (
	PrivateKeySuffix = ".key"
	PublicKeySuffix  = ".pub"
)

// maxKeyFile bounds a key file read from disk: a PEM ed25519 key is about
// 120 bytes.
const maxKeyFile = 16 << 10

// GenerateKey returns a new ed25519 signing key pair from crypto/rand.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(nil)
}

// KeyID is a short fingerprint of a public key: the first 8 bytes of its
// SHA-256, in hex. Images carry it so that an image signed by another key
// is reported as such; it is a hint, never trusted for security.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// WriteKeyPair writes PREFIX.key (the private key, PEM "PRIVATE KEY" in
// PKCS#8, mode 0600) and PREFIX.pub (the public key, PEM "PUBLIC KEY" in
// PKIX, mode 0644): the formats `openssl pkey` reads. It refuses to
// overwrite either file, because losing the vendor key means no gateway
// accepts an update again.
func WriteKeyPair(prefix string, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key has %d bytes, want %d", ErrBadKey, len(priv), ed25519.PrivateKeySize)
	}
	keyPath, pubPath := prefix+PrivateKeySuffix, prefix+PublicKeySuffix
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists: choose another prefix or move the old key away (it is never overwritten)", p)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return err
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

// writeNew writes data to path, which must not exist, so that path
// appears complete or not at all and an existing key is never replaced.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	return store.CreateFile(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func readKeyFile(path, want string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s is larger than a key file can be", ErrBadKey, path)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != want {
		return nil, fmt.Errorf("%w: %s holds no PEM %q block", ErrBadKey, path, want)
	}
	return block.Bytes, nil
}

// LoadPrivateKey reads a private key written by WriteKeyPair. A key file
// that group or others may read is refused, as OpenSSH refuses its own.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, readable by others; run chmod 600 %s", ErrBadKey, path, perm, path)
	}
	der, err := readKeyFile(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %T, not an ed25519 key", ErrBadKey, path, k)
	}
	return priv, nil
}

// LoadPublicKey reads a public key written by WriteKeyPair.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readKeyFile(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %T, not an ed25519 key", ErrBadKey, path, k)
	}
	return pub, nil
}
