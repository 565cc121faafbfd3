package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keygenTool runs ssh-keygen.
func keygenTool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// `sitegate cert sign` makes certificates that OpenSSH reads back as it
// would its own: key id, principal, serial, window, source-address, and
// rsa-sha2-512 from an RSA CA.
func TestCertSignReadByOpenSSH(t *testing.T) {
	needTools(t, "ssh-keygen")
	dir := t.TempDir()
	for _, kind := range []string{"ed25519", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			ca, user := filepath.Join(dir, kind+"-ca"), filepath.Join(dir, kind+"-user")
			keygenTool(t, "-q", "-t", kind, "-N", "", "-f", ca)
			keygenTool(t, "-q", "-t", "ed25519", "-N", "", "-C", "jane@laptop", "-f", user)
			r := sitegate(t, "", "cert", "sign", "--ca", ca, "--key-id", "emp-0042", "--role", "installer", "--site", "Plant room B",
				"--valid", "8h", "--serial", "7", "--source-address", "10.0.0.0/8,127.0.0.1", user+".pub")
			if r.code != 0 || !strings.Contains(r.stdout, "serial 7") {
				t.Fatalf("%+v", r)
			}
			listing := keygenTool(t, "-L", "-f", user+"-cert.pub")
			for _, want := range []string{"user certificate", `Key ID: "emp-0042"`, "Serial: 7", "installer:site=Plant room B", "source-address 10.0.0.0/8,127.0.0.1", "permit-pty"} {
				if !strings.Contains(listing, want) {
					t.Errorf("ssh-keygen -L lacks %q:\n%s", want, listing)
				}
			}
			if kind == "rsa" && !strings.Contains(listing, "rsa-sha2-512") {
				t.Errorf("RSA CA did not sign with rsa-sha2-512:\n%s", listing)
			}
			b, _ := os.ReadFile(user + "-cert.pub")
			if !strings.HasSuffix(strings.TrimSpace(string(b)), " jane@laptop") {
				t.Errorf("the key's comment is lost: %s", b)
			}
		})
	}
}

func TestCertSignUsage(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "u.pub")
	for _, args := range [][]string{
		{"cert", "sign", "--key-id", "a", "--role", "admin", "--any", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--role", "admin", "--any", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--key-id", "a", "--role", "root", "--any", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--key-id", "a", "--role", "admin", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--key-id", "a", "--role", "admin", "--any", "--gateway", "g", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--key-id", "a b", "--role", "admin", "--any", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--key-id", "a", "--role", "admin", "--site", "A, B", "--valid", "1h", pub},
		{"cert", "sign", "--ca", "x", "--key-id", "a", "--role", "admin", "--any", pub},
	} {
		if r := sitegate(t, "", args...); r.code != exitUsage {
			t.Errorf("%v: %+v", args, r)
		}
	}
}
