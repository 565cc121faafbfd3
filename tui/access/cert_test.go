package access_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// Certificates made with x/crypto here cover what ssh-keygen will not
// make (thousands of principals, huge extensions, SHA-1 signatures, a
// tampered signature); tui/sshd tests the rest with OpenSSH itself.

func edSigner(t testing.TB) gossh.Signer { return tuitest.NewSigner(t) }

type certFixture struct {
	fixture
	ca gossh.Signer
}

func newCertFixture(t testing.TB) certFixture {
	f := certFixture{fixture: newFixture(t), ca: edSigner(t)}
	if _, err := f.gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error {
		s.Access.SSHUserCAs = []string{string(gossh.MarshalAuthorizedKey(f.ca.PublicKey()))}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// cert returns a user certificate for installer:GATEWAY valid for an hour
// around now, after edit, signed by the fixture's CA.
func (f certFixture) cert(t testing.TB, edit func(c *gossh.Certificate)) *gossh.Certificate {
	t.Helper()
	now := f.clock.Now()
	c := &gossh.Certificate{
		Key: edSigner(t).PublicKey(), Serial: 42, CertType: gossh.UserCert, KeyId: "emp-42",
		ValidPrincipals: []string{"installer:" + f.gw.ID()},
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()), ValidBefore: uint64(now.Add(time.Hour).Unix()),
		Permissions: gossh.Permissions{Extensions: map[string]string{"permit-pty": ""}},
	}
	if edit != nil {
		edit(c)
	}
	if err := c.SignCert(rand.Reader, f.ca); err != nil {
		t.Fatal(err)
	}
	return c
}

var loopback = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}

func TestCertificateAccepted(t *testing.T) {
	f := newCertFixture(t)
	p, err := f.svc.LoginCertificate(f.cert(t, nil), loopback)
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Actor(); a.ID != "cert:emp-42" || a.Role != "installer" || a.Serial != 42 || p.Method != access.MethodCert {
		t.Fatalf("%+v %+v", a, p)
	}
	if steps := f.svc.Pending(p.Account); len(steps) != 1 || steps[0] != access.StepAcceptPrivacy {
		t.Fatalf("pending %v", steps)
	}
	if err := f.svc.Authorize(p, access.PermConfigEdit); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Authorize(p, access.PermUsers); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("installer certificate may manage users: %v", err)
	}
	if err := f.svc.ChangePassword(t.Context(), p, "a", "b"); !errors.Is(err, access.ErrNoAccount) {
		t.Fatalf("password of a certificate: %v", err)
	}
	if err := f.svc.AddPublicKey(p, string(gossh.MarshalAuthorizedKey(edSigner(t).PublicKey()))); !errors.Is(err, access.ErrNoAccount) {
		t.Fatalf("key of a certificate: %v", err)
	}
	if err := f.svc.SetTheme(p, "light"); err == nil {
		t.Fatal("theme kept before the privacy notice was accepted")
	}
	if _, err := f.svc.CompleteSteps(t.Context(), p, access.Enrolment{AcceptPrivacy: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetTheme(p, "light"); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.svc.Account("cert:emp-42"); a.Theme != "light" {
		t.Fatalf("theme %q", a.Theme)
	}
	// Revoked after login: the role checks refuse at once.
	if _, err := f.gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error {
		s.Access.RevokedKeyIDs = []string{"emp-42"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Authorize(p, access.PermDashboard); !errors.Is(err, access.ErrForbidden) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked certificate authorised: %v", err)
	}
}

func TestCertificateRefusals(t *testing.T) {
	f := newCertFixture(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaCA, _ := gossh.NewSignerFromKey(rsaKey)
	sha1CA, _ := gossh.NewSignerWithAlgorithms(rsaCA.(gossh.AlgorithmSigner), []string{gossh.KeyAlgoRSA})
	if _, err := f.gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error {
		s.Access.SSHUserCAs = append(s.Access.SSHUserCAs, string(gossh.MarshalAuthorizedKey(rsaCA.PublicKey())))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("viewer:gw-%d", i)
	}
	cases := map[string]struct {
		cert *gossh.Certificate
		want string
	}{
		"host certificate": {f.cert(t, func(c *gossh.Certificate) { c.CertType = gossh.HostCert }), "host certificate"},
		"many principals":  {f.cert(t, func(c *gossh.Certificate) { c.ValidPrincipals = many }), "5000 principals"},
		"long principals":  {f.cert(t, func(c *gossh.Certificate) { c.ValidPrincipals = []string{strings.Repeat("p", 20000)} }), "bytes long"},
		"32+ principals":   {f.cert(t, func(c *gossh.Certificate) { c.ValidPrincipals = many[:40] }), "40 principals"},
		"huge extension":   {f.cert(t, func(c *gossh.Certificate) { c.Extensions["x@example.com"] = strings.Repeat("x", 1<<20) }), "bytes long"},
		"many extensions": {f.cert(t, func(c *gossh.Certificate) {
			for i := range 40 {
				c.Extensions[fmt.Sprintf("x%d@example.com", i)] = ""
			}
		}), "options and extensions"},
		"sha-1 signature": {func() *gossh.Certificate {
			c := f.cert(t, nil)
			if err := c.SignCert(rand.Reader, sha1CA); err != nil {
				t.Fatal(err)
			}
			return c
		}(), "SHA-1"},
		"tampered": {func() *gossh.Certificate {
			c := f.cert(t, nil)
			c.ValidPrincipals = []string{"admin:*"}
			return c
		}(), "does not verify"},
		"unsigned critical option": {f.cert(t, func(c *gossh.Certificate) {
			c.CriticalOptions = map[string]string{"force-command": "whoami"}
		}), `critical option "force-command"`},
		"bad source-address": {f.cert(t, func(c *gossh.Certificate) {
			c.CriticalOptions = map[string]string{"source-address": "not-an-address"}
		}), "not an address"},
		"source-address mismatch": {f.cert(t, func(c *gossh.Certificate) {
			c.CriticalOptions = map[string]string{"source-address": "10.0.0.0/8, ::1"}
		}), "127.0.0.1 is not in"},
		"no sitegate principal": {f.cert(t, func(c *gossh.Certificate) { c.ValidPrincipals = []string{"jane"} }), "no principal grants"},
		"role typo":             {f.cert(t, func(c *gossh.Certificate) { c.ValidPrincipals = []string{"Admin:*", "root:*"} }), "no principal grants"},
		"key id":                {f.cert(t, func(c *gossh.Certificate) { c.KeyId = "\x1b[2Jx" }), "key id"},
		"far future":            {f.cert(t, func(c *gossh.Certificate) { c.ValidAfter, c.ValidBefore = 1<<63, 1<<63+3600 }), "not yet valid"},
		"too long":              {f.cert(t, func(c *gossh.Certificate) { c.ValidBefore = c.ValidAfter + 31*24*3600 }), "at most 720h"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.CheckCertificate(c.cert, loopback)
			if !errors.Is(err, access.ErrCertRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// The size bound is checked before anything else: a huge certificate
	// costs no signature check (the signature here is garbage).
	huge := f.cert(t, func(c *gossh.Certificate) { c.Extensions["x@example.com"] = strings.Repeat("x", 1<<20) })
	huge.Signature.Blob = []byte("garbage")
	if _, err := f.svc.CheckCertificate(huge, loopback); err == nil || !strings.Contains(err.Error(), "bytes long") {
		t.Fatalf("huge certificate: %v", err)
	}
	// A plain key is not a certificate.
	if _, err := f.svc.CheckCertificate(edSigner(t).PublicKey(), loopback); !errors.Is(err, access.ErrCertRefused) {
		t.Fatalf("plain key: %v", err)
	}
	// An accepted source-address, IPv6 and IPv4 entries mixed.
	ok := f.cert(t, func(c *gossh.Certificate) {
		c.CriticalOptions = map[string]string{"source-address": "::1/128,127.0.0.0/8"}
	})
	if _, err := f.svc.CheckCertificate(ok, loopback); err != nil {
		t.Fatal(err)
	}
	// A certificate never logs in as an account's key.
	if _, err := f.svc.LoginPublicKey("ada", ok); !errors.Is(err, access.ErrDenied) {
		t.Fatal(err)
	}
}

// Privacy acceptance is per key id: stored once, asked of no later
// certificate of the same key id, audited as the certificate.
func TestCertificatePrivacyPerKeyID(t *testing.T) {
	f := newCertFixture(t)
	p, err := f.svc.LoginCertificate(f.cert(t, nil), loopback)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.CompleteSteps(t.Context(), p, access.Enrolment{AcceptPrivacy: true})
	if err != nil || !a.AcceptedPrivacy() || a.ID != "cert:emp-42" {
		t.Fatalf("%+v %v", a, err)
	}
	next, err := f.svc.LoginCertificate(f.cert(t, func(c *gossh.Certificate) { c.Serial = 43 }), loopback)
	if err != nil || len(f.svc.Pending(next.Account)) != 0 {
		t.Fatalf("second certificate of the key id: %v %v", err, f.svc.Pending(next.Account))
	}
	other, _ := f.svc.LoginCertificate(f.cert(t, func(c *gossh.Certificate) { c.KeyId = "emp-7" }), loopback)
	if len(f.svc.Pending(other.Account)) != 1 {
		t.Fatal("another key id inherited the acceptance")
	}
	if err := f.svc.WithdrawPrivacy(next); err != nil {
		t.Fatal(err)
	}
	again, _ := f.svc.LoginCertificate(f.cert(t, nil), loopback)
	if len(f.svc.Pending(again.Account)) != 1 {
		t.Fatal("withdrawal did not take")
	}
	events, _ := f.gw.AuditLog().ListAudit(device.AuditFilter{})
	var got []string
	for _, e := range events {
		if e.Actor == "cert:emp-42" {
			got = append(got, e.Action+"/"+e.Detail)
		}
	}
	if strings.Join(got, " ") != "privacy.accept/cert serial 42 privacy.withdraw/cert serial 43" {
		t.Fatalf("audit %v", got)
	}
}

func TestParsePrincipal(t *testing.T) {
	for in, want := range map[string]access.CertPrincipal{
		"admin:gw-1":                 {Role: device.RoleAdmin, Scope: access.ScopeGateway, Name: "gw-1"},
		"viewer:*":                   {Role: device.RoleViewer, Scope: access.ScopeAny},
		"support:site=Plant room, B": {Role: device.RoleSupport, Scope: access.ScopeSite, Name: "Plant room, B"},
		"installer:site=a:b":         {Role: device.RoleInstaller, Scope: access.ScopeSite, Name: "a:b"},
		"installer:gw:with:colons":   {Role: device.RoleInstaller, Scope: access.ScopeGateway, Name: "gw:with:colons"},
	} {
		got, err := access.ParsePrincipal(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "admin", "admin:", "root:*", "Admin:*", "admin :*", "installer:site=", strings.Repeat("a", 1000)} {
		if _, err := access.ParsePrincipal(bad); !errors.Is(err, access.ErrPrincipal) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParsePrincipal(f *testing.F) {
	for _, s := range []string{"admin:gw-1", "viewer:*", "support:site=Plant room", "x", ":", "admin:site=", "installer:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := access.ParsePrincipal(s)
		if err != nil {
			if !errors.Is(err, access.ErrPrincipal) {
				t.Fatalf("%q: unwrapped error %v", s, err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("%q reads back as %q", s, p.String())
		}
		if back, err := access.ParsePrincipal(p.String()); err != nil || back != p {
			t.Fatalf("%q: %+v %v", s, back, err)
		}
	})
}

// BenchmarkCheckCertificate: the cost of one accepted certificate (one
// ed25519 signature check) and of hostile ones refused before any
// signature check.
func BenchmarkCheckCertificate(b *testing.B) {
	f := newCertFixture(b)
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("viewer:gw-%d", i)
	}
	for _, c := range []struct {
		name string
		cert *gossh.Certificate
	}{
		{"accepted", f.cert(b, nil)},
		{"5000-principals", f.cert(b, func(c *gossh.Certificate) { c.ValidPrincipals = many })},
		{"1MiB-extension", f.cert(b, func(c *gossh.Certificate) { c.Extensions["x@example.com"] = strings.Repeat("x", 1<<20) })},
		{"unknown-CA", func() *gossh.Certificate {
			c := f.cert(b, nil)
			_ = c.SignCert(rand.Reader, tuitest.NewSigner(b))
			return c
		}()},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = f.svc.CheckCertificate(c.cert, loopback)
			}
		})
	}
}
