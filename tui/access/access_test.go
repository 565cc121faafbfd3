package access_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
)

// clock is an injectable, advanceable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

// fastHasher keeps unit tests quick; the RFC 9106 parameters are exercised
// by TestRFC9106Hash.
var fastHasher = access.NewHasher(access.Argon2Params{Time: 1, Memory: 64, Threads: 1}, 4)

type fixture struct {
	svc   *access.Service
	gw    *device.Gateway
	st    *store.Store
	clock *clock
}

func newFixture(t *testing.T, require2FA ...device.Role) fixture {
	t.Helper()
	c := newClock()
	st := storetest.New(t, store.Options{Now: c.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.Site.Name = "Plant room"
	site.Access.Require2FA = append([]device.Role{}, require2FA...)
	if _, err := gw.ApplySite(device.LocalActor, site, "config.change"); err != nil {
		t.Fatal(err)
	}
	return fixture{svc: access.New(gw, access.Options{Hasher: fastHasher, Now: c.Now}), gw: gw, st: st, clock: c}
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

	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, "", false, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("admin password login without a code: %v", err)
	}
	if !f.svc.NeedsCode("alice") || !f.svc.NeedsCode("nobody") {
		t.Fatal("keyboard-interactive must ask admins and unknown names for a code")
	}
	code, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now())
	p, err := f.svc.LoginPassword(ctx, "alice", goodPassword, code, true, "test")
	if err != nil || p.Account.Name != "alice" {
		t.Fatalf("login with password and code: %+v %v", p, err)
	}
	// The same code again is a replay.
	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, code, true, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("replayed code accepted: %v", err)
	}
	// One step later (30 s) the next code works; one from 2 steps back does not.
	f.clock.Advance(30 * time.Second)
	old, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now().Add(-90*time.Second))
	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, old, true, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("code from 90 s ago accepted: %v", err)
	}
	next, _ := access.TOTPCode(c.TOTPSecret, f.clock.Now().Add(30*time.Second)) // +1 step skew
	if _, err := f.svc.LoginPassword(ctx, "alice", goodPassword, next, true, "test"); err != nil {
		t.Fatalf("code one step ahead refused: %v", err)
	}
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "bob", device.RoleSupport, false)
	ctx := context.Background()
	for i := 0; i < access.MaxFailures; i++ {
		if _, err := f.svc.LoginPassword(ctx, "bob", "Wrong#Pass1", "", false, "test"); !errors.Is(err, access.ErrDenied) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	if _, err := f.svc.LoginPassword(ctx, "bob", goodPassword, "", false, "test"); !errors.Is(err, access.ErrDenied) {
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
	svc2 := access.New(f.gw, access.Options{Hasher: fastHasher, Now: f.clock.Now})
	if _, err := svc2.LoginPassword(ctx, "bob", goodPassword, "", false, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatal("lock not persisted")
	}
	f.clock.Advance(access.LockoutDuration + time.Second)
	if _, err := f.svc.LoginPassword(ctx, "bob", goodPassword, "", false, "test"); err != nil {
		t.Fatalf("after 15 minutes: %v", err)
	}
}

func TestUnknownUserGetsTheSameAnswer(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "carol", device.RoleViewer, false)
	ctx := context.Background()
	_, errUnknown := f.svc.LoginPassword(ctx, "mallory", goodPassword, "", false, "test")
	_, errWrong := f.svc.LoginPassword(ctx, "carol", "Wrong#Pass1", "", false, "test")
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
	if _, err := f.svc.LoginPassword(ctx, "setup", "WRONG-TOKEN", "", false, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("wrong token: %v", err)
	}
	p, err := f.svc.LoginPassword(ctx, "setup", tok.Token, "", false, "test")
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
	if _, err := f.svc.LoginPassword(ctx, "setup", tok.Token, "", false, "test"); !errors.Is(err, access.ErrDenied) {
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
	if _, err := f.svc.LoginPassword(context.Background(), "setup", tok.Token, "", false, "test"); !errors.Is(err, access.ErrDenied) {
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
	p, err := f.svc.LoginPassword(ctx, "ivan", strings.ToLower(inv.EnrolCode), "", false, "test")
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
	if _, err := f.svc.LoginPassword(ctx, "ivan", inv.EnrolCode, "", true, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatal("the enrolment code still works after enrolment")
	}
	f.clock.Advance(time.Minute)
	code, _ = access.TOTPCode(secret, f.clock.Now())
	if _, err := f.svc.LoginPassword(ctx, "ivan", goodPassword, code, true, "test"); err != nil {
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
	if _, err := f.svc.LoginPassword(context.Background(), "late", inv.EnrolCode, "", false, "test"); !errors.Is(err, access.ErrDenied) {
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
	if _, err := f.svc.LoginPassword(context.Background(), "sam", goodPassword, "", false, "test"); !errors.Is(err, access.ErrDenied) {
		t.Fatal("locked user logged in")
	}
	if err := f.svc.Unlock(actor, sup.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.LoginPassword(context.Background(), "sam", goodPassword, "", false, "test"); err != nil {
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
		device.RoleSupport:   {access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView},
		device.RoleInstaller: {access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermConfigEdit},
		device.RoleAdmin:     {access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermConfigEdit, access.PermUsers},
	}
	all := []access.Perm{access.PermDashboard, access.PermHealth, access.PermLogs, access.PermConfigView, access.PermConfigEdit, access.PermUsers}
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
