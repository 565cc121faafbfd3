package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// fixture is a gateway and an account of each role, run without SSH: the
// door's own tests (tui/sshd) run the commands over a real connection.
type fixture struct {
	gw    *device.Gateway
	acc   *access.Service
	users map[device.Role]access.Account
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	clk := clockwork.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	gw, err := device.NewGateway(storetest.New(tb, store.Options{Now: clk.Now}), device.GatewayOptions{GatewayID: "gw-test", Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{gw: gw, acc: access.New(gw, access.Options{Hasher: tuitest.Hasher, Clock: clk}), users: map[device.Role]access.Account{}}
	for _, r := range []device.Role{device.RoleAdmin, device.RoleInstaller, device.RoleSupport, device.RoleViewer} {
		key := string(gossh.MarshalAuthorizedKey(tuitest.NewSigner(tb).PublicKey()))
		c, err := f.acc.AddUser(context.Background(), device.LocalActor, access.NewUser{Name: "u-" + r.String(), Role: r, PublicKeys: []string{key}, AcceptPrivacy: true})
		if err != nil {
			tb.Fatal(err)
		}
		f.users[r] = c.Account
	}
	return f
}

type result struct {
	out, err string
	code     int
}

// run runs one command line as role.
func (f *fixture) run(ctx context.Context, role device.Role, line, stdin string) result {
	var out, errb strings.Builder
	deps := Deps{Gateway: f.gw, Access: f.acc, Limits: Limits{MaxArgs: 64, MaxArgBytes: 4096}}
	code := Run(ctx, deps, Session{Principal: access.Principal{Account: f.users[role]}, Args: strings.Fields(line),
		In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return result{out.String(), errb.String(), code}
}

// help lists what the caller's role may run, and nothing else.
func TestHelpListsWhatTheRoleMayRun(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	viewer := f.run(ctx, device.RoleViewer, "help", "")
	if viewer.code != ExitOK || !strings.Contains(viewer.out, "whoami [--json]") || strings.Contains(viewer.out, "health") || strings.Contains(viewer.out, "config") {
		t.Fatalf("viewer's help: %+v", viewer)
	}
	installer := f.run(ctx, device.RoleInstaller, "help", "")
	for _, want := range []string{"points read DEVICE", "points write DEVICE POINT VALUE", "modbus scan BUS", "config import"} {
		if !strings.Contains(installer.out, want) {
			t.Errorf("installer's help lacks %q:\n%s", want, installer.out)
		}
	}
	if strings.Contains(installer.out, "firmware apply") || strings.Contains(installer.out, "sync cut") {
		t.Errorf("installer's help lists admin commands:\n%s", installer.out)
	}
	if admin := f.run(ctx, device.RoleAdmin, "", ""); admin.code != ExitOK || !strings.Contains(admin.out, "firmware apply") {
		t.Fatalf("no arguments as admin: %+v", admin)
	}
	if r := f.run(ctx, device.RoleSupport, "help points", ""); r.code != ExitOK || !strings.Contains(r.out, "points read") || strings.Contains(r.out, "points write") {
		t.Fatalf("help points as support: %+v", r)
	}
	if r := f.run(ctx, device.RoleSupport, "points read --help", ""); r.code != ExitOK || !strings.Contains(r.out, "--now") {
		t.Fatalf("points read --help: %+v", r)
	}
}

// Unknown commands and subcommands exit 127; usage mistakes exit 2 with
// the usage line.
func TestExitStatusesOfMistakes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, c := range []struct {
		line string
		code int
		says string
	}{
		{"frobnicate", ExitUnknown, "run 'help'"},
		{"modbus write ahu-1 x 1", ExitUnknown, `unknown command "write" for modbus`},
		{"config frobnicate", ExitUnknown, "unknown command"},
		{"config", ExitUsage, "usage: ssh <gateway> config diff|export|import"},
		{"whoami extra", ExitUsage, "usage: ssh <gateway> whoami [--json]"},
		{"whoami --frob", ExitUsage, "usage: ssh <gateway> whoami [--json]"},
		{"points read", ExitUsage, "usage: ssh <gateway> points read DEVICE [POINT] [--json] [--now]"},
		{"points write a b", ExitUsage, "usage: ssh <gateway> points write DEVICE POINT VALUE"},
		{"logs -n -1", ExitUsage, "usage: ssh <gateway> logs"},
		{"help frobnicate", ExitUnknown, "no command"},
	} {
		r := f.run(ctx, device.RoleAdmin, c.line, "")
		if r.code != c.code || !strings.Contains(r.err, c.says) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.line, r.code, r.err, c.code, c.says)
		}
	}
}

// points read and write over the field layer, with the JSON fields of
// modbus read; modbus read is its alias.
func TestPointsReadAndWrite(t *testing.T) {
	f := newFixture(t)
	srv := tuitest.FieldDevice(t, f.gw)
	ctx := t.Context()
	for _, line := range []string{"points read ahu-1 --json", "modbus read ahu-1 --json", "points read ahu-1 --json --now"} {
		r := f.run(ctx, device.RoleSupport, line, "")
		var rs []map[string]any
		if err := json.Unmarshal([]byte(r.out), &rs); err != nil || len(rs) != 3 {
			t.Fatalf("%s: %v %+v", line, err, r)
		}
		for _, k := range []string{"device", "point", "value", "unit", "quality", "ts"} {
			if _, ok := rs[0][k]; !ok {
				t.Errorf("%s: reading lacks %q: %v", line, k, rs[0])
			}
		}
		if rs[0]["quality"] != "good" {
			t.Errorf("%s: %v", line, rs)
		}
	}
	if r := f.run(ctx, device.RoleSupport, "points read ahu-1 running --now", ""); r.code != ExitOK || !strings.Contains(r.out, "running") || strings.Contains(r.out, "setpoint") {
		t.Fatalf("one point now: %+v", r)
	}
	if r := f.run(ctx, device.RoleSupport, "points read nope", ""); r.code != ExitFailure || !strings.Contains(r.err, "no device") {
		t.Fatalf("unknown device: %+v", r)
	}
	if r := f.run(ctx, device.RoleViewer, "points read ahu-1", ""); r.code != ExitForbidden {
		t.Fatalf("viewer read: %+v", r)
	}
	if r := f.run(ctx, device.RoleSupport, "points write ahu-1 setpoint 321", ""); r.code != ExitForbidden {
		t.Fatalf("support write: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "points write ahu-1 setpoint 321", ""); r.code != ExitOK || !strings.Contains(r.out, "wrote 321") {
		t.Fatalf("write: %+v", r)
	}
	if v, _ := srv.Model(3).Value("hr5"); v != 321 {
		t.Fatalf("simulator holds %v after writing 321", v)
	}
	if r := f.run(ctx, device.RoleInstaller, "points write ahu-1 supply_temp 1", ""); r.code != ExitFailure || !strings.Contains(r.err, "read-only") {
		t.Fatalf("write to a read-only point: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "points write ahu-1 setpoint warm", ""); r.code != ExitUsage {
		t.Fatalf("write a word: %+v", r)
	}
	events, _ := f.gw.AuditLog().ListAudit(device.AuditFilter{})
	var writes []string
	for _, e := range events {
		if e.Action == string(device.ActionFieldWrite) {
			writes = append(writes, e.Result)
		}
	}
	if strings.Join(writes, " ") != "ok failed" {
		t.Fatalf("field.write audited %v", writes)
	}
}
