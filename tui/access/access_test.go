package access_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
)

func newClock() *clockwork.Fake {
	return clockwork.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
}

// fastHasher keeps unit tests quick; the RFC 9106 parameters are exercised
// by TestRFC9106Hash.
var fastHasher = access.NewHasher(access.Argon2Params{Time: 1, Memory: 64, Threads: 1}, 4)

type fixture struct {
	svc   *access.Service
	gw    *device.Gateway
	st    *store.Store
	clock *clockwork.Fake
}

func newFixture(t testing.TB, require2FA ...device.Role) fixture {
	t.Helper()
	c := newClock()
	st := storetest.New(t, store.Options{Now: c.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.Site.Name = "Plant room"
	site.Access.Require2FA = append([]device.Role{}, require2FA...)
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: gw.Rev()}, site); err != nil {
		t.Fatal(err)
	}
	return fixture{svc: access.New(gw, access.Options{Hasher: fastHasher, Clock: c}), gw: gw, st: st, clock: c}
}

const goodPassword = "Tr4ns#Volt9"

func (f fixture) addUser(t *testing.T, name string, role device.Role, totp bool) access.Created {
	t.Helper()
	c, err := f.svc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: name, Role: role, Password: goodPassword, TOTP: totp, AcceptPrivacy: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f fixture) actions(t *testing.T) []string {
	t.Helper()
	events, err := f.st.ListAudit(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func TestCheckPasswordListsEveryBrokenRule(t *testing.T) {
	cases := []struct {
		pw   string
		want []string
	}{
		{"Tr4ns#Volt9", nil},
		{"short", []string{"8 to 15 characters", "upper-case", "digit", "special"}},
		{"ALLUPPER1#", []string{"lower-case"}},
		{"alllower1#", []string{"upper-case"}},
		{"NoDigits#x", []string{"digit"}},
		{"NoSpecial1x", []string{"special characters #?!@$%^&*~"}},
		{"Has Space1#", []string{"whitespace"}},
		{"Tab\tThere1#", []string{"whitespace"}},
		{"Esc\x1b[31mX1#", []string{"control characters"}},
		{"Waytoolong#12345", []string{"8 to 15 characters long (it has 16)"}},
		{"P@ssw0rd1!", []string{"common password"}},
		{"Summer2026!", []string{"common password"}},
		{"W3lcome#1", []string{"common password"}},
		{"Qwerty123!", []string{"common password"}},
		{"Alice#Key77", []string{"user name"}},
		{"Plant#Zx91y", []string{"site name"}},
	}
	for _, c := range cases {
		err := access.CheckPassword(c.pw, 15, "alice", "Plant room")
		if c.want == nil {
			if err != nil {
				t.Errorf("%q: unexpected %v", c.pw, err)
			}
			continue
		}
		var pe *access.PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want a PolicyError", c.pw, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q does not mention %q", c.pw, err, w)
			}
		}
	}
	// The configurable upper bound.
	if err := access.CheckPassword("Longer#Passw0rdX9zz", 20, "bob", ""); err != nil {
		t.Errorf("20-character limit: %v", err)
	}
}

func TestRFC9106Hash(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB hash")
	}
	h := access.NewHasher(access.RFC9106, 1)
	enc, err := h.Hash(context.Background(), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("hash %q does not carry the RFC 9106 parameters", enc)
	}
	if ok, _ := h.Verify(context.Background(), enc, goodPassword); !ok {
		t.Fatal("right password refused")
	}
	if ok, _ := h.Verify(context.Background(), enc, goodPassword+"x"); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, _ := h.Verify(context.Background(), "", goodPassword); ok {
		t.Fatal("empty hash accepted a password")
	}
}

func TestPasswordLoginAndTOTP(t *testing.T) {
	f := newFixture(t, device.RoleAdmin)
	c := f.addUser(t, "alice", device.RoleAdmin, true)
	ctx := context.Background()

	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("admin password login without a code: %v", err)
	}
	if !f.svc.AsksCode() {
		t.Fatal("keyboard-interactive must ask for a code when a role needs one")
	}
	code, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now())
	p, err := f.svc.LoginPassword(ctx, "alice", goodPassword, code, true)
	if err != nil || p.Account.Name != "alice" {
		t.Fatalf("login with password and code: %+v %v", p, err)
	}
	// The same code again is a replay.
	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, code, true); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("replayed code accepted: %v", err)
	}
	// One step later (30 s) the next code works; one from 2 steps back does not.
	f.clock.Advance(30 * time.Second)
	old, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now().Add(-90*time.Second))
	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, old, true); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("code from 90 s ago accepted: %v", err)
	}
	next, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now().Add(30*time.Second)) // +1 step skew
	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, next, true); err != nil {
		t.Fatalf("code one step ahead refused: %v", err)
	}
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "bob", device.RoleSupport, false)
	ctx := context.Background()
	for i := 0; i < access.MaxFailures; i++ {
		if _, err := f.svc.LoginPassword(ctx, "bob", "Wrong#Pass1", "", false); !errors.Is(err, access.ErrDenied) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	if _, err := f.svc.LoginPassword(ctx, "bob", goodPassword, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("right password accepted while locked: %v", err)
	}
	a, _ := f.svc.AccountByName("bob")
	if locked, why := a.LockedAt(f.clock.Now()); !locked || !strings.Contains(why, "until") {
		t.Fatalf("account not locked: %+v", a)
	}
	if got := strings.Join(f.actions(t), " "); !strings.Contains(got, "account.locked") {
		t.Fatalf("lockout not audited: %s", got)
	}
	// The lock is persisted: a new service over the same store still refuses.
	svc2 := access.New(f.gw, access.Options{Hasher: fastHasher, Clock: f.clock})
	if _, err := svc2.LoginPassword(ctx, "bob", goodPassword, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatal("lock not persisted")
	}
	f.clock.Advance(access.LockoutDuration + time.Second)
	if _, err := f.svc.LoginPassword(ctx, "bob", goodPassword, "", false); err != nil {
		t.Fatalf("after 15 minutes: %v", err)
	}
}

func TestUnknownUserGetsTheSameAnswer(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "carol", device.RoleViewer, false)
	ctx := context.Background()
	_, errUnknown := f.svc.LoginPassword(ctx, "mallory", goodPassword, "", false)
	_, errWrong := f.svc.LoginPassword(ctx, "carol", "Wrong#Pass1", "", false)
	if errUnknown == nil || errUnknown.Error() != errWrong.Error() {
		t.Fatalf("unknown user %v, wrong password %v", errUnknown, errWrong)
	}
}

func TestSetupTokenCreatesFirstAdminOnce(t *testing.T) {
	f := newFixture(t, device.RoleAdmin)
	ctx := context.Background()
	tok, err := f.svc.EnsureSetupToken()
	if err != nil || tok.Token == "" {
		t.Fatalf("setup token: %+v %v", tok, err)
	}
	fi, err := os.Stat(tok.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("setup-token file: %v %v", fi, err)
	}
	again, _ := f.svc.EnsureSetupToken()
	if again.Token != tok.Token {
		t.Fatal("a restart within 24 h must keep the same token")
	}
	if _, err := f.svc.LoginPassword(ctx, "setup", "WRONG-TOKEN", "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("wrong token: %v", err)
	}
	p, err := f.svc.LoginPassword(ctx, "setup", tok.Token, "", false)
	if err != nil || !p.Setup {
		t.Fatalf("setup login: %+v %v", p, err)
	}
	secret := access.NewTOTPSecret()
	code, _ := access.TOTPCode(secret, f.clock.Now())
	req := access.FirstAdmin{Name: "admin", Password: goodPassword, TOTPSecret: secret, TOTPCode: code, AcceptPrivacy: true}
	if _, err := f.svc.CompleteSetup(ctx, p, access.FirstAdmin{Name: "admin", Password: "weak", TOTPSecret: secret, TOTPCode: code, AcceptPrivacy: true}); err == nil {
		t.Fatal("weak password accepted by setup")
	}
	a, err := f.svc.CompleteSetup(ctx, p, req)
	if err != nil || a.Role != device.RoleAdmin {
		t.Fatalf("complete setup: %+v %v", a, err)
	}
	if _, err := os.Stat(tok.Path); !os.IsNotExist(err) {
		t.Fatal("setup-token file still exists")
	}
	if _, err := f.svc.CompleteSetup(ctx, p, req); err == nil {
		t.Fatal("setup completed twice")
	}
	if _, err := f.svc.LoginPassword(ctx, "setup", tok.Token, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatal("used setup token still logs in")
	}
	if tok, _ := f.svc.EnsureSetupToken(); tok.Token != "" {
		t.Fatal("a gateway with an admin got a new setup token")
	}
	if _, err := os.Stat(filepath.Join(f.st.Dir(), access.SetupTokenFile)); !os.IsNotExist(err) {
		t.Fatal("setup-token file recreated")
	}
}

func TestSetupTokenExpires(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.svc.EnsureSetupToken()
	f.clock.Advance(access.EnrolValidity + time.Minute)
	if _, err := f.svc.LoginPassword(context.Background(), "setup", tok.Token, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatal("expired setup token accepted")
	}
	fresh, _ := f.svc.EnsureSetupToken()
	if fresh.Token == "" || fresh.Token == tok.Token {
		t.Fatal("expired token was not replaced at start")
	}
}

func TestInvitationFirstLogin(t *testing.T) {
	f := newFixture(t, device.RoleAdmin, device.RoleInstaller)
	admin := f.addUser(t, "admin", device.RoleAdmin, true).Account
	ctx := context.Background()
	inv, err := f.svc.Invite(admin.Actor(), "ivan", device.RoleInstaller)
	if err != nil || inv.EnrolCode == "" {
		t.Fatalf("invite: %+v %v", inv, err)
	}
	if _, err := f.svc.Invite(device.Actor{ID: "u-x", Role: "installer"}, "eve", device.RoleAdmin); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("installer invited a user: %v", err)
	}
	p, err := f.svc.LoginPassword(ctx, "ivan", strings.ToLower(inv.EnrolCode), "", false)
	if err != nil {
		t.Fatalf("first login with the enrolment code: %v", err)
	}
	steps := f.svc.Pending(p.Account)
	if len(steps) != 3 {
		t.Fatalf("pending steps %v, want password, TOTP, privacy", steps)
	}
	secret := access.NewTOTPSecret()
	code, _ := access.TOTPCode(secret, f.clock.Now())
	if _, err := f.svc.CompleteSteps(ctx, p, access.Enrolment{Password: goodPassword, TOTPSecret: secret, TOTPCode: "000000", AcceptPrivacy: true}); !errors.Is(err, access.ErrBadCode) {
		t.Fatalf("wrong confirmation code: %v", err)
	}
	a, err := f.svc.CompleteSteps(ctx, p, access.Enrolment{Password: goodPassword, TOTPSecret: secret, TOTPCode: code, AcceptPrivacy: true})
	if err != nil || len(f.svc.Pending(a)) != 0 {
		t.Fatalf("complete steps: %+v %v", a, err)
	}
	if _, err := f.svc.LoginPassword(ctx, "ivan", inv.EnrolCode, "", true); !errors.Is(err, access.ErrDenied) {
		t.Fatal("the enrolment code still works after enrolment")
	}
	f.clock.Advance(time.Minute)
	code, _ = access.TOTPCode(secret, f.clock.Now())
	if _, err := f.svc.LoginPassword(ctx, "ivan", goodPassword, code, true); err != nil {
		t.Fatalf("login after enrolment: %v", err)
	}
}

func TestInvitationExpires(t *testing.T) {
	f := newFixture(t)
	inv, err := f.svc.Invite(device.LocalActor, "late", device.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(access.EnrolValidity + time.Second)
	if _, err := f.svc.LoginPassword(context.Background(), "late", inv.EnrolCode, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatal("expired enrolment code accepted")
	}
}

func TestAdministrationAndLastAdmin(t *testing.T) {
	f := newFixture(t)
	admin := f.addUser(t, "admin", device.RoleAdmin, false).Account
	sup := f.addUser(t, "sam", device.RoleSupport, false).Account
	actor := admin.Actor()
	if err := f.svc.SetRole(actor, admin.ID, device.RoleViewer); !errors.Is(err, access.ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := f.svc.Delete(actor, admin.ID); !errors.Is(err, access.ErrLastAdmin) {
		t.Fatalf("deleting the last admin: %v", err)
	}
	if err := f.svc.Lock(actor, admin.ID); !errors.Is(err, access.ErrLastAdmin) {
		t.Fatalf("locking the last admin: %v", err)
	}
	if err := f.svc.SetRole(sup.Actor(), sup.ID, device.RoleAdmin); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("support promoted itself: %v", err)
	}
	if err := f.svc.Lock(actor, sup.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.LoginPassword(context.Background(), "sam", goodPassword, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatal("locked user logged in")
	}
	if err := f.svc.Unlock(actor, sup.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.LoginPassword(context.Background(), "sam", goodPassword, "", false); err != nil {
		t.Fatalf("unlocked user: %v", err)
	}
	if err := f.svc.SetRole(actor, sup.ID, device.RoleInstaller); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(actor, sup.ID); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.actions(t), " ")
	for _, want := range []string{"user.create", "account.locked", "account.unlocked", "user.role", "user.delete"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s not audited in %s", want, got)
		}
	}
	if _, err := f.svc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: "Bad\x1bName", Role: device.RoleViewer, Password: goodPassword}); err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("control character in a name: %v", err)
	}
}

func TestPrivacyWithdrawal(t *testing.T) {
	f := newFixture(t)
	a := f.addUser(t, "pat", device.RoleViewer, false).Account
	p := access.Principal{Account: a}
	if err := f.svc.WithdrawPrivacy(p); err != nil {
		t.Fatal(err)
	}
	a, _ = f.svc.Account(a.ID)
	if a.AcceptedPrivacy() || len(f.svc.Pending(a)) != 1 {
		t.Fatalf("after withdrawal: %+v", a)
	}
	if _, err := f.svc.CompleteSteps(context.Background(), access.Principal{Account: a}, access.Enrolment{AcceptPrivacy: true}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.actions(t), " ")
	if !strings.Contains(got, "privacy.withdraw") || !strings.Contains(got, "privacy.accept") {
		t.Fatalf("privacy not audited: %s", got)
	}
}

func TestRolePermissions(t *testing.T) {
	table := map[device.Role][]access.Perm{
		device.RoleViewer:    {access.PermDashboard},
		device.RoleSupport:   {access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermFieldRead},
		device.RoleInstaller: {access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermConfigEdit, access.PermFieldRead, access.PermFieldWrite},
		device.RoleAdmin:     {access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermConfigEdit, access.PermUsers, access.PermFieldRead, access.PermFieldWrite},
	}
	all := []access.Perm{access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermConfigEdit, access.PermUsers, access.PermFieldRead, access.PermFieldWrite}
	for role, granted := range table {
		for _, p := range all {
			want := false
			for _, g := range granted {
				want = want || g == p
			}
			if got := access.Can(role, p); got != want {
				t.Errorf("%s may %s: %v, want %v", role, p, got, want)
			}
		}
	}
	if access.Can(0, access.PermDashboard) {
		t.Error("the zero role holds a permission")
	}
}

// Parallel logins are decided against the account as it is at the end of
// each one: one TOTP code logs in once.
func TestParallelLoginsUseACodeOnce(t *testing.T) {
	f := newFixture(t, device.RoleAdmin)
	c := f.addUser(t, "ada", device.RoleAdmin, true)
	code, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.LoginPassword(context.Background(), "ada", goodPassword, code, true); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d parallel logins succeeded with one code, want 1", ok)
	}
}

// A burst of parallel guesses counts against the lock as it builds up, and
// a right password that arrives in the burst is refused once it is locked.
func TestParallelGuessesRespectTheLock(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "bob", device.RoleSupport, false)
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = f.svc.LoginPassword(context.Background(), "bob", "Wrong#Pass1", "", false)
		}()
	}
	wg.Wait()
	locks := strings.Count(strings.Join(f.actions(t), " "), "account.locked")
	if locks != 1 {
		t.Fatalf("%d lock events for one burst", locks)
	}
	if _, err := f.svc.LoginPassword(context.Background(), "bob", goodPassword, "", false); !errors.Is(err, access.ErrDenied) {
		t.Fatal("right password accepted after the burst locked the account")
	}
}

func TestDemotedAdminLosesPowersAtOnce(t *testing.T) {
	f := newFixture(t)
	a := f.addUser(t, "ann", device.RoleAdmin, false).Account
	b := f.addUser(t, "ben", device.RoleAdmin, false).Account
	if err := f.svc.SetRole(b.Actor(), a.ID, device.RoleViewer); err != nil {
		t.Fatal(err)
	}
	// ann's actor still says admin (as captured at her login): refused.
	if err := f.svc.SetRole(a.Actor(), a.ID, device.RoleAdmin); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("demoted admin re-promoted herself: %v", err)
	}
	if _, err := f.svc.Invite(a.Actor(), "eve", device.RoleAdmin); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("demoted admin invited: %v", err)
	}
	if err := f.svc.Authorize(access.Principal{Account: a}, access.PermUsers); err == nil {
		t.Fatal("Authorize trusted the role captured at login")
	}
}

func TestKeyOnlyAccountsCannotBeLockedOut(t *testing.T) {
	f := newFixture(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	key := string(gossh.MarshalAuthorizedKey(signer.PublicKey()))
	if _, err := f.svc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: "kay", Role: device.RoleAdmin, PublicKeys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2*access.MaxFailures; i++ {
		_, _ = f.svc.LoginPassword(context.Background(), "kay", "Guess#0001", "", false)
	}
	a, _ := f.svc.AccountByName("kay")
	if locked, _ := a.LockedAt(f.clock.Now()); locked || a.Failures != 0 {
		t.Fatalf("password guesses locked a key-only account: %+v", a)
	}
	if _, err := f.svc.LoginPublicKey("kay", signer.PublicKey()); err != nil {
		t.Fatalf("key login: %v", err)
	}
	// A password lockout does not block key logins either.
	if _, err := f.svc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: "pam", Role: device.RoleSupport, Password: goodPassword, PublicKeys: []string{key}, AcceptPrivacy: true}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < access.MaxFailures; i++ {
		_, _ = f.svc.LoginPassword(context.Background(), "pam", "Guess#0001", "", false)
	}
	if _, err := f.svc.LoginPublicKey("pam", signer.PublicKey()); err != nil {
		t.Fatalf("key login while password-locked: %v", err)
	}
}

// Every site change made in a session passes the same rule: the role to
// change the configuration, and the admin role for the access settings.
func TestSiteChangeNeedsTheRoleAndAnAdminForAccessSettings(t *testing.T) {
	f := newFixture(t)
	inst := f.addUser(t, "ivy", device.RoleInstaller, false).Account
	sup := f.addUser(t, "sam", device.RoleSupport, false).Account
	admin := f.addUser(t, "ada", device.RoleAdmin, false).Account
	change := func(a access.Account, edit func(s *device.Site)) error {
		s, rev := f.gw.Site()
		edit(s)
		_, err := f.svc.ApplySite(access.Principal{Account: a}, device.Edit{Action: device.ActionConfigChange, Base: rev}, s)
		return err
	}
	rename := func(s *device.Site) { s.Site.Name += "!" }
	weaken := func(s *device.Site) { s.Access.IdleTimeout = device.Duration(8 * time.Hour) }
	if err := change(sup, rename); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("support changed the site: %v", err)
	}
	if err := change(inst, rename); err != nil {
		t.Fatalf("installer renaming the site: %v", err)
	}
	if err := change(inst, weaken); !errors.Is(err, access.ErrForbidden) || !strings.Contains(err.Error(), "only be changed by an admin") {
		t.Fatalf("installer changed the access settings: %v", err)
	}
	if err := change(admin, weaken); err != nil {
		t.Fatalf("admin changing the access settings: %v", err)
	}
	if _, err := f.svc.ApplySite(access.Principal{Setup: true}, device.Edit{Action: device.ActionConfigChange, Base: f.gw.Rev()}, device.DefaultSite()); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("the setup session changed the site: %v", err)
	}
	if got := strings.Join(f.actions(t), " "); strings.Count(got, "config.change") < 4 {
		t.Fatalf("refusals not audited: %s", got)
	}
}
