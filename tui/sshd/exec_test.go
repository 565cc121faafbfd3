package sshd

import (
	"encoding/json"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/cmd"
)

// sessionsByRole logs one user of each role in (all with keys, so no code
// is needed) and returns their clients.
func sessionsByRole(t *testing.T, e *env) map[device.Role]*gossh.Client {
	out := map[device.Role]*gossh.Client{}
	for _, r := range []device.Role{device.RoleAdmin, device.RoleInstaller, device.RoleSupport, device.RoleViewer} {
		key := newSigner(t)
		e.addUser("u-"+r.String(), r, userOpt{key: key, keyOnly: true})
		out[r] = e.mustDial("u-"+r.String(), gossh.PublicKeys(key))
	}
	return out
}

const siteYAML = `site: {name: Plant room B}
access: {password_max_length: 15, require_2fa: [admin, installer], idle_timeout: 15m}
`

// Every exec command for every role: allowed ones succeed, the rest exit
// 126; both are audited.
func TestExecCommandsByRole(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	type command struct {
		line, stdin string
		minRole     device.Role // least privileged role allowed
	}
	cmds := []command{
		{"whoami", "", device.RoleViewer},
		{"whoami --json", "", device.RoleViewer},
		{"health", "", device.RoleSupport},
		{"health --json", "", device.RoleSupport},
		{"logs", "", device.RoleSupport},
		{"logs --audit --json", "", device.RoleSupport},
		{"config export", "", device.RoleSupport},
		{"config export --json", "", device.RoleSupport},
		{"config diff", siteYAML, device.RoleSupport},
		{"config import", siteYAML, device.RoleInstaller},
	}
	for _, c := range cmds {
		for role, cl := range clients {
			r := run(t, cl, c.line, c.stdin)
			allowed := role <= c.minRole
			switch {
			case allowed && r.code != 0:
				t.Errorf("%s as %s: exit %d, stderr %q", c.line, role, r.code, r.stderr)
			case !allowed && r.code != cmd.ExitForbidden:
				t.Errorf("%s as %s: exit %d, want 126", c.line, role, r.code)
			case !allowed && !strings.Contains(r.stderr, "not allowed"):
				t.Errorf("%s as %s: refusal says %q", c.line, role, r.stderr)
			}
		}
	}
	actions := strings.Join(e.auditActions(), " ")
	for _, want := range []string{"command.exec:ok", "command.denied:denied", "config.import:ok"} {
		if !strings.Contains(actions, want) {
			t.Errorf("%s not audited", want)
		}
	}
}

func TestExecUnknownAndOversizedCommands(t *testing.T) {
	e := newEnv(t)
	cl := sessionsByRole(t, e)[device.RoleAdmin]
	r := run(t, cl, "frobnicate now", "")
	if r.code != cmd.ExitUnknown || !strings.Contains(r.stderr, "run 'help'") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("unknown command: %+v", r)
	}
	r = run(t, cl, "whoami"+strings.Repeat(" x", 10000), "")
	if r.code != cmd.ExitUsage || !strings.Contains(r.stderr, "at most") {
		t.Fatalf("10,000 arguments: %+v", r)
	}
	r = run(t, cl, "whoami \x1b[31mred", "")
	if strings.Contains(r.stderr, "\x1b") {
		t.Fatalf("escape sequence echoed back: %q", r.stderr)
	}
	if !strings.Contains(strings.Join(e.auditActions(), " "), "command.exec:unknown") {
		t.Fatal("unknown command not audited")
	}
	// The server still serves.
	if r := run(t, cl, "whoami", ""); r.code != 0 {
		t.Fatalf("after bad commands: %+v", r)
	}
}

func TestExecHealthJSON(t *testing.T) {
	e := newEnv(t)
	cl := sessionsByRole(t, e)[device.RoleSupport]
	r := run(t, cl, "health --json", "")
	var h map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("health --json: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"gateway_id", "uptime_s", "sessions", "store", "outbox"} {
		if _, ok := h[k]; !ok {
			t.Errorf("health lacks %q", k)
		}
	}
	if h["gateway_id"] != "gw-test" || h["sessions"].(float64) < 1 {
		t.Errorf("health = %v", h)
	}
}

func TestExecConfigImportReportsEveryProblem(t *testing.T) {
	e := newEnv(t)
	cl := sessionsByRole(t, e)[device.RoleInstaller]
	_, before := e.gw.Site()
	bad := "site: {name: \"\"}\naccess: {password_max_length: 3, idle_timeout: 1s}\nmodbus:\n  devices:\n    - {name: m, bus: nope, unit_id: 0, profile: generic-energy-meter}\n"
	r := run(t, cl, "config import", bad)
	if r.code != 1 || strings.Count(r.stderr, "\n  ") < 4 || !strings.Contains(r.stderr, "modbus.devices[0].unit_id") {
		t.Fatalf("invalid import: %+v", r)
	}
	if _, after := e.gw.Site(); after != before {
		t.Fatal("an invalid import changed the site")
	}
	r = run(t, cl, "config import", "site: {nmae: x}\n")
	if r.code != 1 || !strings.Contains(r.stderr, `did you mean "name"`) {
		t.Fatalf("unknown field: %+v", r)
	}
	r = run(t, cl, "config import", "")
	if r.code != cmd.ExitUsage {
		t.Fatalf("empty stdin: %+v", r)
	}
	r = run(t, cl, "config diff", siteYAML)
	if r.code != 0 || !strings.Contains(r.stdout, "+  name: Plant room B") {
		t.Fatalf("diff: %+v", r)
	}
}

func TestExecRefusedUntilPrivacyAccepted(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("newbie", device.RoleViewer, userOpt{key: key, keyOnly: true, noAccept: true})
	cl := e.mustDial("newbie", gossh.PublicKeys(key))
	r := run(t, cl, "whoami", "")
	if r.code == 0 || !strings.Contains(r.stderr, "privacy notice") || !strings.Contains(r.stderr, "ssh -t") {
		t.Fatalf("exec before accepting: %+v", r)
	}
}

func TestLogsFollowStreamsNewAuditEvents(t *testing.T) {
	e := newEnv(t)
	cl := sessionsByRole(t, e)[device.RoleSupport]
	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, _ := s.StdoutPipe()
	if err := s.Start("logs --audit --follow --json -n 1"); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	var first map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Audit(device.Actor{ID: "u-x", Role: "admin"}, device.ActionUserCreate, "u-y", device.ResultOK); err != nil {
		t.Fatal(err)
	}
	for {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		if ev["action"] == "user.create" && ev["target"] == "u-y" {
			break
		}
	}
}

// Locking a user closes their whole connection: a multiplexing client
// cannot open new sessions on it.
func TestLockClosesTheConnection(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	cl := clients[device.RoleSupport]
	// A session that stays open (following the log).
	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("logs --follow"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "session registered", func() bool { return len(e.gw.Sessions()) >= 1 })
	sup, _ := e.acc.AccountByName("u-support")
	admin, _ := e.acc.AccountByName("u-admin")
	if err := e.acc.Lock(admin.Actor(), sup.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connection closed", func() bool {
		_, err := cl.NewSession()
		return err != nil
	})
}

func TestSessionsPerConnectionAreCapped(t *testing.T) {
	e := newEnv(t)
	cl := sessionsByRole(t, e)[device.RoleViewer]
	var open []interface{ Close() error }
	defer func() {
		for _, s := range open {
			s.Close()
		}
	}()
	for i := 0; i < maxSessionsPerConn; i++ {
		s, err := cl.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		open = append(open, s)
	}
	if _, err := cl.NewSession(); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("session beyond the cap: %v", err)
	}
}

// A console whose session the client closes goes away with it, while the
// connection stays.
func TestClosedConsoleDoesNotLinger(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	c, s, _ := openConsole(t, e, "ada", key, "")
	defer c.Close()
	waitFor(t, "console registered", func() bool { return len(e.gw.Sessions()) == 1 })
	s.Close()
	waitFor(t, "console gone", func() bool { return len(e.gw.Sessions()) == 0 })
	if r := run(t, c, "whoami", ""); r.code != 0 {
		t.Fatalf("the connection did not survive closing one session: %+v", r)
	}
}

// Access settings protect every account: an installer may change the
// topology but not weaken the login rules.
func TestInstallerCannotChangeAccessSettings(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	weaker := "site: {name: Test plant}\naccess: {password_max_length: 15, require_2fa: [], idle_timeout: 15m}\n"
	r := run(t, clients[device.RoleInstaller], "config import", weaker)
	if r.code == 0 || !strings.Contains(r.stderr, "only be changed by an admin") {
		t.Fatalf("installer weakened 2FA: %+v", r)
	}
	if site, _ := e.gw.Site(); len(site.Access.Require2FA) == 0 {
		t.Fatal("2FA requirement removed")
	}
	if r := run(t, clients[device.RoleAdmin], "config import", weaker); r.code != 0 {
		t.Fatalf("admin changing access settings: %+v", r)
	}
}

// `ssh gw help` lists what the caller's role may run and exits 0 (issue 11
// item 6: it exited 127).
func TestHelpOverSSH(t *testing.T) {
	e := newEnv(t)
	clients := sessionsByRole(t, e)
	if r := run(t, clients[device.RoleViewer], "help", ""); r.code != 0 || !strings.Contains(r.stdout, "whoami") || strings.Contains(r.stdout, "config") {
		t.Fatalf("help as viewer: %+v", r)
	}
	if r := run(t, clients[device.RoleAdmin], "help", ""); r.code != 0 || !strings.Contains(r.stdout, "firmware apply") {
		t.Fatalf("help as admin: %+v", r)
	}
}
