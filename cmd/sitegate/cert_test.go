package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/tui/access"
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

// The demo makes its user CA once, trusts it in the site, prints how to
// sign and log in, and a certificate signed as printed is accepted.
func TestDemoUserCA(t *testing.T) {
	gw, _ := demoGateway(t)
	notes, err := ensureDemoCA(gw, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(gw.Accounts().Dir(), demoCAFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA file: %v %v", fi, err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "sitegate cert sign --ca "+path+" --key-id you --role installer --gateway gw-demo") {
		t.Fatalf("notes:\n%s", strings.Join(notes, "\n"))
	}
	site, _ := gw.Site()
	if len(site.Access.UserCAs()) != 1 {
		t.Fatalf("CAs %v", site.Access.SSHUserCAs)
	}
	again, err := ensureDemoCA(gw, quietLog())
	if err != nil || strings.Join(again, "\n") != strings.Join(notes, "\n") {
		t.Fatalf("second run: %v %v", again, err)
	}
	if site2, _ := gw.Site(); len(site2.Access.SSHUserCAs) != 1 {
		t.Fatal("the second run trusted the CA again")
	}
	// Sign as the notes say, and the gateway's rules accept it.
	user := filepath.Join(t.TempDir(), "id_ed25519")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	if err := os.WriteFile(user+".pub", gossh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "cert", "sign", "--ca", path, "--key-id", "you", "--role", "installer", "--gateway", gw.ID(), "--valid", "8h", user+".pub"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	line, _ := os.ReadFile(user + "-cert.pub")
	cert, _, _, _, err := gossh.ParseAuthorizedKey(line)
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(gw, access.Options{})
	if _, err := acc.CheckCertificate(cert, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
}
