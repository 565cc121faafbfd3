package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// HostKeyFile is the host key's file name inside the data directory.
const HostKeyFile = "ssh_host_ed25519_key"

// LoadOrCreateHostKey returns the PEM of the ed25519 host key kept at path,
// generating it (mode 0600, written atomically) on first use. The key is
// created here rather than by wish, which would otherwise write
// ./id_ed25519 into the working directory.
func LoadOrCreateHostKey(path string) ([]byte, error) {
	pemBytes, err := os.ReadFile(path)
	if err == nil {
		if _, err := gossh.ParsePrivateKey(pemBytes); err != nil {
			return nil, fmt.Errorf("host key %s is unreadable (%v): remove it to generate a new one (clients will then warn that the host key changed)", path, err)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("restrict host key %s: %w", path, err)
			}
		}
		return pemBytes, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "sitegate host key")
	if err != nil {
		return nil, err
	}
	pemBytes = pem.EncodeToMemory(block)
	if err := device.WriteSecretFile(path, pemBytes); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	return pemBytes, nil
}
