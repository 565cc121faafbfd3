package sshd

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/tui/access"
)

// The organisation side of the tests: a CA and user keys made and signed by
// OpenSSH's own ssh-keygen, and logins by the OpenSSH client.

type certLab struct {
	t   *testing.T
	dir string
	ca  string // private key file of the CA the site trusts
}

func keygen(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
}

func newCertLab(t *testing.T) *certLab {
	t.Helper()
	needTool(t, "ssh", "ssh-keygen")
	l := &certLab{t: t, dir: t.TempDir()}
	l.ca = l.newKey("ca")
	return l
}

// newKey makes an ed25519 key pair and returns its private key file.
func (l *certLab) newKey(name string) string {
	p := filepath.Join(l.dir, name)
	keygen(l.t, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p)
	return p
}

func (l *certLab) pub(key string) string {
	b, err := os.ReadFile(key + ".pub")
	if err != nil {
		l.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// sign makes a user key and signs it with ca (ssh-keygen -s), with extra
// ssh-keygen options; it returns the user's private key file, next to
// which ssh finds KEY-cert.pub.
func (l *certLab) sign(ca, name string, opts ...string) string {
	key := l.newKey(name)
	args := append([]string{"-q", "-s", ca}, opts...)
	keygen(l.t, append(args, key+".pub")...)
	return key
}

// trustCA puts the lab's CA (and changes) into the site.
func (e *env) editAccess(fn func(a *device.Access)) {
	e.t.Helper()
	if _, err := e.gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error { fn(&s.Access); return nil }); err != nil {
		e.t.Fatal(err)
	}
}

func sshArgs(addr, key string, extra ...string) []string {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey", "-o", "IdentityAgent=none",
		"-i", key, "-o", "CertificateFile=" + key + "-cert.pub", "-p", port}
	args = append(args, extra...)
	return append(args, "fieldtech@"+host)
}

// sshRun runs one exec command with OpenSSH and returns its output and
// exit status.
func sshRun(t *testing.T, addr, key string, command ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "ssh", append(sshArgs(addr, key), command...)...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	return out.String(), errb.String(), code
}

// acceptPrivacy accepts the privacy notice for the certificate in key's
// KEY-cert.pub, as its first console session would.
func (e *env) acceptPrivacy(key string) {
	e.t.Helper()
	b, err := os.ReadFile(key + "-cert.pub")
	if err != nil {
		e.t.Fatal(err)
	}
	pk, _, _, _, err := gossh.ParseAuthorizedKey(b)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.acc.LoginCertificate(pk, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.acc.CompleteSteps(context.Background(), p, access.Enrolment{AcceptPrivacy: true}); err != nil {
		e.t.Fatal(err)
	}
}

// lastAudit returns the last audit event with action.
func (e *env) lastAudit(action device.Action) (store.AuditEvent, bool) {
	events, _ := e.gw.AuditLog().ListAudit(device.AuditFilter{})
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Action == string(action) {
			return events[i], true
		}
	}
	return store.AuditEvent{}, false
}

// TestOpenSSHCertificateLogins signs keys with ssh-keygen -s for this
// gateway, its site, every gateway and for what must be refused, and logs
// in with the OpenSSH client: each login succeeds or fails exactly as the
// rules say, with the reason audited.
func TestOpenSSHCertificateLogins(t *testing.T) {
	lab := newCertLab(t)
	e := newEnv(t)
	other := lab.newKey("other-ca")
	e.editAccess(func(a *device.Access) {
		a.SSHUserCAs = []string{lab.pub(lab.ca)}
		a.RevokedCertSerials = []uint64{77}
		a.RevokedKeyIDs = []string{"emp-gone"}
	})

	accepted := []struct {
		name, keyID, role string
		opts              []string
	}{
		{"this gateway", "emp-1", "installer", []string{"-n", "installer:gw-test"}},
		{"this site", "emp-2", "support", []string{"-n", "support:site=Test plant"}},
		{"every gateway", "emp-3", "viewer", []string{"-n", "viewer:*"}},
		{"source-address matches", "emp-4", "admin", []string{"-n", "user,admin:gw-test", "-O", "source-address=10.0.0.0/8,127.0.0.1/32"}},
		{"most privileged principal", "emp-5", "installer", []string{"-n", "viewer:*,installer:site=Test plant,admin:gw-other"}},
	}
	for i, c := range accepted {
		t.Run("accepted/"+c.name, func(t *testing.T) {
			serial := fmt.Sprint(100 + i)
			key := lab.sign(lab.ca, c.keyID, append([]string{"-I", c.keyID, "-V", "-5m:+8h", "-z", serial}, c.opts...)...)
			e.acceptPrivacy(key)
			out, errs, code := sshRun(t, e.addr, key, "whoami")
			want := fmt.Sprintf("%s %s (certificate, serial %s, valid until ", c.keyID, c.role, serial)
			if code != 0 || !strings.HasPrefix(out, want) {
				t.Fatalf("whoami: %d %q %q; want %q", code, out, errs, want)
			}
			ev, ok := e.lastAudit(device.ActionLoginSuccess)
			if !ok || ev.Actor != "cert:"+c.keyID || ev.Role != c.role || !strings.Contains(ev.Detail, "cert serial "+serial) {
				t.Fatalf("login audit %+v", ev)
			}
			ev, ok = e.lastAudit(device.ActionCommandExec)
			if !ok || ev.Actor != "cert:"+c.keyID || !strings.Contains(ev.Detail, "cert serial "+serial) {
				t.Fatalf("command audit %+v", ev)
			}
		})
	}

	refused := []struct {
		name string
		ca   string
		opts []string
		want string // in the audited reason
	}{
		{"expired", lab.ca, []string{"-n", "admin:gw-test", "-V", "20200101:20200102"}, "expired at 2020-01-0"},
		{"not yet valid", lab.ca, []string{"-n", "admin:gw-test", "-V", "+1d:+2d"}, "not yet valid"},
		{"too long", lab.ca, []string{"-n", "admin:gw-test", "-V", "-1m:+40d"}, "at most 720h is accepted"},
		{"forever", lab.ca, []string{"-n", "admin:gw-test"}, "valid forever"},
		{"wrong gateway", lab.ca, []string{"-n", "admin:gw-other,installer:site=Other plant,user", "-V", "-5m:+1h"}, "no principal grants a role"},
		{"revoked serial", lab.ca, []string{"-n", "admin:*", "-V", "-5m:+1h", "-z", "77"}, "serial 77 is revoked"},
		{"revoked key id", lab.ca, []string{"-I", "emp-gone", "-n", "admin:*", "-V", "-5m:+1h"}, "key id is revoked"},
		{"unknown CA", other, []string{"-n", "admin:*", "-V", "-5m:+1h"}, "not a CA this site trusts"},
		{"unknown critical option", lab.ca, []string{"-n", "admin:*", "-V", "-5m:+1h", "-O", "critical:verify-required-by-org=yes"}, `critical option "verify-required-by-org"`},
		{"source-address mismatch", lab.ca, []string{"-n", "admin:*", "-V", "-5m:+1h", "-O", "source-address=192.0.2.0/24"}, "not in the certificate's source-address"},
		{"bad key id", lab.ca, []string{"-I", "has space", "-n", "admin:*", "-V", "-5m:+1h"}, "key id"},
	}
	for i, c := range refused {
		t.Run("refused/"+c.name, func(t *testing.T) {
			// A fresh address budget for each case: the refusals of the
			// earlier ones count against the address.
			e.clock.Advance(time.Minute)
			opts := c.opts
			if !strings.Contains(strings.Join(opts, " "), "-I") {
				opts = append([]string{"-I", fmt.Sprintf("emp-r%d", i)}, opts...)
			}
			key := lab.sign(c.ca, fmt.Sprintf("r%d", i), opts...)
			out, errs, code := sshRun(t, e.addr, key, "whoami")
			if code != 255 || !strings.Contains(errs, "Permission denied") {
				t.Fatalf("login was not refused: %d %q %q", code, out, errs)
			}
			ev, ok := e.lastAudit(device.ActionLoginFailure)
			if !ok || !strings.Contains(ev.Detail, c.want) {
				t.Fatalf("refusal audit %+v; want %q", ev, c.want)
			}
		})
	}
	// The clock here is no NTP-synchronised clock: refusals for time say so.
	ev, _ := e.gw.AuditLog().ListAudit(device.AuditFilter{})
	found := false
	for _, x := range ev {
		found = found || strings.Contains(x.Detail, "expired at") && strings.Contains(x.Detail, "clock is not synchronised")
	}
	if !found {
		t.Fatal("the expiry refusal does not mention the unsynchronised clock")
	}
}

// TestOpenSSHCertificateRolesAndPrivacy: a certificate's role is enforced
// like an account's, and a key id that never accepted the privacy notice
// may not run commands.
func TestOpenSSHCertificateRolesAndPrivacy(t *testing.T) {
	lab := newCertLab(t)
	e := newEnv(t)
	e.editAccess(func(a *device.Access) { a.SSHUserCAs = []string{lab.pub(lab.ca)} })
	viewer := lab.sign(lab.ca, "viewer", "-I", "emp-v", "-n", "viewer:gw-test", "-V", "-5m:+1h", "-z", "5")
	_, errs, code := sshRun(t, e.addr, viewer, "whoami")
	if code != 126 || !strings.Contains(errs, "privacy") {
		t.Fatalf("before privacy acceptance: %d %q", code, errs)
	}
	e.acceptPrivacy(viewer)
	if out, _, code := sshRun(t, e.addr, viewer, "whoami"); code != 0 || !strings.HasPrefix(out, "emp-v viewer") {
		t.Fatalf("after privacy acceptance: %d %q", code, out)
	}
	if _, errs, code := sshRun(t, e.addr, viewer, "health"); code != 126 || !strings.Contains(errs, "not allowed") {
		t.Fatalf("viewer ran health: %d %q", code, errs)
	}
	if ev, _ := e.lastAudit(device.ActionCommandDenied); ev.Actor != "cert:emp-v" || ev.Role != "viewer" || !strings.Contains(ev.Detail, "cert serial 5") {
		t.Fatalf("denied audit %+v", ev)
	}
	// No account was created for the certificate.
	if e.acc.Count() != 0 {
		t.Fatalf("%d accounts after certificate logins", e.acc.Count())
	}
	// An admin certificate lists the certificates seen.
	admin := lab.sign(lab.ca, "admin", "-I", "emp-a", "-n", "admin:*", "-V", "-5m:+1h", "-z", "6")
	e.acceptPrivacy(admin)
	out, errs, code := sshRun(t, e.addr, admin, "access", "certs")
	if code != 0 || !strings.Contains(out, "emp-v") || !strings.Contains(out, "emp-a") {
		t.Fatalf("access certs: %d %q %q", code, out, errs)
	}
	out, _, code = sshRun(t, e.addr, admin, "access", "certs", "--json")
	if code != 0 || !strings.Contains(out, `"key_id": "emp-v"`) || !strings.Contains(out, `"serial": 5`) || !strings.Contains(out, `"last_seen"`) {
		t.Fatalf("access certs --json: %d %q", code, out)
	}
	if _, errs, code := sshRun(t, e.addr, viewer, "access", "certs"); code != 126 {
		t.Fatalf("viewer listed certificates: %d %q", code, errs)
	}
}

// TestOpenSSHCertificateRevocationEndsSession: a revocation arriving as a
// site change (the path every change takes: console, import, the cloud's
// desired configuration) ends an open session of the certificate.
func TestOpenSSHCertificateRevocationEndsSession(t *testing.T) {
	lab := newCertLab(t)
	e := newEnv(t)
	e.editAccess(func(a *device.Access) { a.SSHUserCAs = []string{lab.pub(lab.ca)} })
	key := lab.sign(lab.ca, "inst", "-I", "emp-9", "-n", "installer:gw-test", "-V", "-5m:+1h", "-z", "9")
	e.acceptPrivacy(key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "ssh", append(sshArgs(e.addr, key), "logs", "--follow")...)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to open", func() bool {
		for _, s := range e.gw.Sessions() {
			if s.Actor.ID == "cert:emp-9" {
				return true
			}
		}
		return false
	})
	// As the cloud's desired configuration is applied: ApplySite by the
	// sync actor.
	site, rev := e.gw.Site()
	site.Access.RevokedCertSerials = []uint64{9}
	if _, err := e.gw.ApplySite(device.Edit{Actor: device.SystemActor, Action: device.ActionSyncApplied, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	err := c.Wait()
	if ctx.Err() != nil {
		t.Fatal("the session outlived the revocation")
	}
	if !strings.Contains(errb.String(), "session ended: your certificate was revoked: its serial 9 is revoked") {
		t.Fatalf("ssh ended with %v, stderr %q", err, errb.String())
	}
	waitFor(t, "the session to be gone", func() bool { return len(e.gw.Sessions()) == 0 })
	if _, errs, code := sshRun(t, e.addr, key, "whoami"); code != 255 {
		t.Fatalf("revoked certificate logged in again: %d %q", code, errs)
	}
}

// goCert signs a certificate for key with ca using x/crypto.
func goCert(t *testing.T, ca, key gossh.Signer, kind uint32, keyID string, principals ...string) gossh.Signer {
	t.Helper()
	now := time.Now()
	c := &gossh.Certificate{Key: key.PublicKey(), Serial: 1, CertType: kind, KeyId: keyID, ValidPrincipals: principals,
		ValidAfter: uint64(now.Add(-time.Hour).Unix()), ValidBefore: uint64(now.Add(time.Hour).Unix())}
	if err := c.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewCertSigner(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A flood of bad certificates from one address spends that address's
// attempt budget like wrong passwords: once it is spent, certificates from
// it are not even checked (nor audited), while key logins and other
// addresses go on. A host certificate offered as a user certificate is
// refused for what it is.
func TestCertificateFloodIsRateLimited(t *testing.T) {
	e := newEnv(t)
	ca := newSigner(t)
	e.editAccess(func(a *device.Access) { a.SSHUserCAs = []string{string(gossh.MarshalAuthorizedKey(ca.PublicKey()))} })
	userKey := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: userKey, keyOnly: true})
	host := goCert(t, ca, newSigner(t), gossh.HostCert, "emp-h", "admin:*")
	failures := func() int {
		n := 0
		events, _ := e.gw.AuditLog().ListAudit(device.AuditFilter{})
		for _, ev := range events {
			if ev.Action == string(device.ActionLoginFailure) && strings.HasPrefix(ev.Detail, "certificate:") {
				n++
			}
		}
		return n
	}
	for i := range 20 {
		if c, err := e.dialFrom("127.0.0.1", "x", 5*time.Second, gossh.PublicKeys(host)); err == nil {
			c.Close()
			t.Fatalf("attempt %d: host certificate logged in", i)
		}
	}
	if n, want := failures(), DefaultLimits.AttemptBurst; n != want {
		t.Fatalf("%d certificate refusals audited from one address; want the attempt budget, %d", n, want)
	}
	if ev, _ := e.lastAudit(device.ActionLoginFailure); !strings.Contains(ev.Detail, "a host certificate, not a user certificate") {
		t.Fatalf("refusal %+v", ev)
	}
	// A plain key login from the flooding address is not stopped.
	c, err := e.dialFrom("127.0.0.1", "ada", 5*time.Second, gossh.PublicKeys(userKey))
	if err != nil {
		t.Fatalf("key login during the certificate flood: %v", err)
	}
	c.Close()
	// A good certificate from another address logs in.
	good := goCert(t, ca, newSigner(t), gossh.UserCert, "emp-g", "support:gw-test")
	c, err = e.dialFrom("127.0.0.2", "x", 5*time.Second, gossh.PublicKeys(good))
	if err != nil {
		t.Fatalf("certificate login from another address: %v", err)
	}
	c.Close()
}

// A certificate made by access.SignUserCert (`sitegate cert sign`) from an
// ssh-keygen CA logs OpenSSH in like one made by ssh-keygen -s.
func TestOpenSSHLoginWithSignUserCert(t *testing.T) {
	lab := newCertLab(t)
	e := newEnv(t)
	e.editAccess(func(a *device.Access) { a.SSHUserCAs = []string{lab.pub(lab.ca)} })
	caPEM, err := os.ReadFile(lab.ca)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := gossh.ParsePrivateKey(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	key := lab.newKey("signed")
	pk, _, _, _, err := gossh.ParseAuthorizedKey([]byte(lab.pub(key)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := access.SignUserCert(ca, access.CertRequest{Key: pk, KeyID: "emp-s", Principal: access.CertPrincipal{Role: device.RoleSupport, Scope: access.ScopeSite, Name: "Test plant"},
		Valid: 8 * time.Hour, Serial: 31, SourceAddress: "127.0.0.1"}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key+"-cert.pub", gossh.MarshalAuthorizedKey(c), 0o644); err != nil {
		t.Fatal(err)
	}
	e.acceptPrivacy(key)
	out, errs, code := sshRun(t, e.addr, key, "whoami")
	if code != 0 || !strings.HasPrefix(out, "emp-s support (certificate, serial 31, valid until ") {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}

// The first console session of a key id asks for the privacy notice, and
// the console then shows the key id and role; the next session of the key
// id (another certificate) is not asked again.
func TestOpenSSHCertificateConsolePrivacy(t *testing.T) {
	needTool(t, "tmux")
	lab := newCertLab(t)
	e := newEnv(t)
	e.editAccess(func(a *device.Access) { a.SSHUserCAs = []string{lab.pub(lab.ca)} })
	first := lab.sign(lab.ca, "c1", "-I", "emp-c", "-n", "installer:gw-test", "-V", "-5m:+1h", "-z", "1")
	command := func(key string) string {
		return "ssh -t " + strings.Join(sshArgs(e.addr, key), " ") + "; echo SSH-EXITED; sleep 60"
	}
	tm := newTmux(t, 100, 30, command(first))
	tm.waitFor("Privacy notice")
	tm.typeText("a")
	screen := tm.waitFor("Dashboard")
	if !strings.Contains(screen, "emp-c (installer)") {
		t.Fatalf("console:\n%s", screen)
	}
	tm.typeText("q")
	tm.waitFor("SSH-EXITED")
	if ev, ok := e.lastAudit(device.ActionPrivacyAccept); !ok || ev.Actor != "cert:emp-c" || !strings.Contains(ev.Detail, "cert serial 1") {
		t.Fatalf("privacy audit %+v", ev)
	}
	second := lab.sign(lab.ca, "c2", "-I", "emp-c", "-n", "support:*", "-V", "-5m:+1h", "-z", "2")
	tm2 := newTmux(t, 100, 30, command(second))
	screen = tm2.waitFor("Dashboard")
	if !strings.Contains(screen, "emp-c (support)") {
		t.Fatalf("second console:\n%s", screen)
	}
	tm2.typeText("q")
	tm2.waitFor("SSH-EXITED")
}
