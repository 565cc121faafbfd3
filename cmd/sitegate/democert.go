package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
)

// demoCAFile is the demo organisation's SSH user CA in the demo data
// directory: it stands in for the CA an organisation keeps offline.
const demoCAFile = "demo-user-ca"

// ensureDemoCA makes the demo's user CA on the first run of a data
// directory and trusts it in the site, so that the demo shows certificate
// logins; it returns the lines that say how to use it. A directory whose
// site no longer trusts the CA (someone removed it) is left alone.
func ensureDemoCA(g *device.Gateway, log *slog.Logger) ([]string, error) {
	dir := g.Accounts().Dir()
	path := filepath.Join(dir, demoCAFile)
	b, err := os.ReadFile(path)
	var ca gossh.Signer
	switch {
	case errors.Is(err, os.ErrNotExist):
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		block, err := gossh.MarshalPrivateKey(priv, "sitegate demo user CA")
		if err != nil {
			return nil, err
		}
		if err := device.WriteSecretFile(path, pem.EncodeToMemory(block)); err != nil {
			return nil, fmt.Errorf("demo user CA: %w", err)
		}
		if ca, err = gossh.NewSignerFromKey(priv); err != nil {
			return nil, err
		}
		line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(ca.PublicKey()))) + " sitegate-demo-ca"
		if _, err := g.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error {
			s.Access.SSHUserCAs = append(s.Access.SSHUserCAs, line)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("demo: trust the demo user CA: %w", err)
		}
		log.Info("demo: the site trusts the demo user CA", "ca", gossh.FingerprintSHA256(ca.PublicKey()))
	case err != nil:
		return nil, fmt.Errorf("demo user CA: %w", err)
	default:
		if ca, err = gossh.ParsePrivateKey(b); err != nil {
			return nil, fmt.Errorf("demo user CA %s: %w", path, err)
		}
	}
	site, _ := g.Site()
	fp := ca.PublicKey().Marshal()
	if !slices.ContainsFunc(site.Access.UserCAs(), func(k gossh.PublicKey) bool { return string(k.Marshal()) == string(fp) }) {
		return nil, nil
	}
	return []string{
		"",
		"Certificate login (the organisation's side: the demo CA in " + path + " signs your key):",
		"  " + selfCommand() + " cert sign --ca " + path + " --key-id you --role installer --gateway " + g.ID() + " --valid 8h ~/.ssh/id_ed25519.pub",
		"  ssh -p PORT -o CertificateFile=~/.ssh/id_ed25519-cert.pub -i ~/.ssh/id_ed25519 you@HOST",
	}, nil
}

// selfCommand is how to run this program again from the shell the demo
// was started in: `go run ./cmd/sitegate` when it is running from go
// run's build cache (make run), else its own name.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/sitegate"
	}
	return filepath.Base(exe)
}
