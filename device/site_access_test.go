package device

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func caLine(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))) + " org-ca"
}

// The certificate settings decode, default, round-trip through YAML and
// clone without sharing.
func TestAccessCertSettings(t *testing.T) {
	ca := caLine(t)
	doc := fmt.Sprintf(`
site: {name: Certs}
access:
  ssh_user_cas: [%q, "cert-authority %s"]
  ssh_cert_max_validity: 168h
  revoked_cert_serials: [7, 12]
  revoked_key_ids: [emp-0042]
`, ca, caLine(t))
	s, err := ParseSite([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a := s.Access
	if len(a.UserCAs()) != 2 || a.CertMaxValidity() != 168*time.Hour {
		t.Fatalf("%+v", a)
	}
	if r, why := a.CertRevoked("emp-0042", 1); !r || !strings.Contains(why, "key id") {
		t.Fatal("revoked key id not found")
	}
	if r, why := a.CertRevoked("emp-1", 12); !r || !strings.Contains(why, "serial 12") {
		t.Fatal("revoked serial not found")
	}
	if r, _ := a.CertRevoked("emp-1", 13); r {
		t.Fatal("unrevoked certificate revoked")
	}
	out, err := EncodeSiteYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSite(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fmt.Sprint(back.Access) != fmt.Sprint(s.Access) {
		t.Fatalf("round trip:\n%+v\n%+v", back.Access, s.Access)
	}
	c := s.Clone()
	c.Access.SSHUserCAs[0], c.Access.RevokedCertSerials[0], c.Access.RevokedKeyIDs[0] = "x", 99, "y"
	if s.Access.SSHUserCAs[0] != ca || s.Access.RevokedCertSerials[0] != 7 || s.Access.RevokedKeyIDs[0] != "emp-0042" {
		t.Fatal("clone shares the certificate lists")
	}
	if (Access{}).CertMaxValidity() != 30*24*time.Hour {
		t.Fatal("default max validity")
	}
	// A site without certificates exports none of the fields.
	plain, _ := EncodeSiteYAML(DefaultSite())
	if strings.Contains(string(plain), "ssh_") || strings.Contains(string(plain), "revoked") {
		t.Fatalf("default site exports certificate fields:\n%s", plain)
	}
}

// Every bad certificate setting is reported with its path.
func TestAccessCertSettingsProblems(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	wk, _ := gossh.NewPublicKey(&weak.PublicKey)
	ca := caLine(t)
	cases := map[string]struct {
		mutate func(a *Access)
		path   string
		want   string
	}{
		"garbage":    {func(a *Access) { a.SSHUserCAs = []string{"ssh-ed25519 nope"} }, "access.ssh_user_cas[0]", "not an OpenSSH public key"},
		"option":     {func(a *Access) { a.SSHUserCAs = []string{`from="10.0.0.1" ` + ca} }, "access.ssh_user_cas[0]", "not understood"},
		"two keys":   {func(a *Access) { a.SSHUserCAs = []string{ca + "\n" + ca} }, "access.ssh_user_cas[0]", "more than one key"},
		"weak rsa":   {func(a *Access) { a.SSHUserCAs = []string{string(gossh.MarshalAuthorizedKey(wk))} }, "access.ssh_user_cas[0]", "1024-bit"},
		"duplicate":  {func(a *Access) { a.SSHUserCAs = []string{ca, ca} }, "access.ssh_user_cas[1]", "already listed"},
		"too many":   {func(a *Access) { a.SSHUserCAs = make([]string, MaxSSHUserCAs+1) }, "access.ssh_user_cas", "at most 16"},
		"long line":  {func(a *Access) { a.SSHUserCAs = []string{strings.Repeat("a", MaxSSHUserCALength+1)} }, "access.ssh_user_cas[0]", "bytes long"},
		"validity":   {func(a *Access) { a.SSHCertMaxValidity = Duration(time.Second) }, "access.ssh_cert_max_validity", "outside"},
		"serial dup": {func(a *Access) { a.RevokedCertSerials = []uint64{3, 3} }, "access.revoked_cert_serials[1]", "already listed"},
		"serials":    {func(a *Access) { a.RevokedCertSerials = make([]uint64, MaxRevokedCertSerials+1) }, "access.revoked_cert_serials", "at most 4096"},
		"key id":     {func(a *Access) { a.RevokedKeyIDs = []string{"bad id\x1b"} }, "access.revoked_key_ids[0]", "key id is 1..64"},
		"key id dup": {func(a *Access) { a.RevokedKeyIDs = []string{"a", "a"} }, "access.revoked_key_ids[1]", "already listed"},
		"key ids":    {func(a *Access) { a.RevokedKeyIDs = make([]string, MaxRevokedKeyIDs+1) }, "access.revoked_key_ids", "at most 4096"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := DefaultSite()
			c.mutate(&s.Access)
			err := ProblemAt(problemsOf(s.Validate()), c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("problem at %s: %v; all: %v", c.path, err, s.Validate())
			}
		})
	}
}

func TestCheckCertKeyID(t *testing.T) {
	for _, ok := range []string{"emp-0042", "a", "jane.doe@example.com", "u+1_X", strings.Repeat("a", 64)} {
		if CheckCertKeyID(ok) != nil {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "a b", "x\x1b[2J", "é", "cert:x", strings.Repeat("a", 65)} {
		if CheckCertKeyID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
