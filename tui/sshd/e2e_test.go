package sshd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
)

// needTool skips when a tool is missing, except in CI, where .ci/run
// installs it and its absence is a failure.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (.ci/run installs it): %v", n, err)
			}
			t.Skipf("%s not installed", n)
		}
	}
}

// tmux drives a terminal program in a detached tmux session on a private
// socket.
type tmux struct {
	t      *testing.T
	socket string
	name   string
}

func newTmux(t *testing.T, width, height int, command string) *tmux {
	t.Helper()
	tm := &tmux{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock"), name: "e2e"}
	tm.run("new-session", "-d", "-s", tm.name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), command)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", tm.socket, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen returns what the terminal shows now.
func (tm *tmux) screen() string {
	out, err := exec.Command("tmux", "-S", tm.socket, "capture-pane", "-p", "-t", tm.name).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// waitFor waits until the screen contains text and returns the screen.
func (tm *tmux) waitFor(text string) string {
	tm.t.Helper()
	var s string
	devicetest.Eventually(tm.t, 20*time.Second, func() string { return fmt.Sprintf("%q; the screen shows:\n%s", text, s) },
		func() bool { s = tm.screen(); return strings.Contains(s, text) })
	return s
}

// typeText sends literal text; keys sends tmux key names (Enter, Tab).
func (tm *tmux) typeText(s string) { tm.run("send-keys", "-t", tm.name, "-l", s) }
func (tm *tmux) keys(k ...string)  { tm.run(append([]string{"send-keys", "-t", tm.name}, k...)...) }

func sshCommand(addr, user string) string {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive,password -p %s %s@%s; echo SSH-EXITED; sleep 60", port, user, host)
}

// TestOpenSSHSetupWizardAndConsole is the end-to-end path of a new
// gateway with the real OpenSSH client in a real terminal: log in with the
// setup token, create the administrator in the wizard (reading the TOTP
// secret off the screen), then log in as that administrator with password
// and code and reach the dashboard.
func TestOpenSSHSetupWizardAndConsole(t *testing.T) {
	needTool(t, "ssh", "tmux")
	e := newEnv(t)
	tok, err := e.acc.EnsureSetupToken()
	if err != nil {
		t.Fatal(err)
	}

	tm := newTmux(t, 100, 30, sshCommand(e.addr, "setup"))
	tm.waitFor("Password:")
	tm.typeText(tok.Token)
	tm.keys("Enter")
	// The same two prompts for every name: setup leaves the code empty.
	tm.waitFor("Verification code:")
	tm.keys("Enter")
	tm.waitFor("Create the first administrator")
	tm.typeText("ada")
	tm.keys("Tab")
	tm.typeText(testPassword)
	tm.keys("Tab")
	tm.typeText(testPassword)
	tm.keys("Enter")
	tm.waitFor("Privacy notice")
	tm.typeText("a")
	screen := tm.waitFor("Secret")
	m := regexp.MustCompile(`Secret\s*\n(?:.*?)((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no TOTP secret on the screen:\n%s", screen)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	tm.typeText(e.code(secret))
	tm.keys("Enter")
	tm.waitFor(`Administrator "ada" created`)
	tm.keys("Enter")
	tm.waitFor("SSH-EXITED")

	a, err := e.acc.AccountByName("ada")
	if err != nil || a.Role != device.RoleAdmin || a.TOTPSecret != secret {
		t.Fatalf("administrator after the wizard: %+v %v", a, err)
	}
	if _, err := os.Stat(tok.Path); !os.IsNotExist(err) {
		t.Fatal("the setup token file survived the wizard")
	}

	// Log in as the new administrator: password, then a fresh code.
	e.clock.Advance(30 * time.Second)
	tm2 := newTmux(t, 100, 30, sshCommand(e.addr, "ada"))
	tm2.waitFor("Password:")
	tm2.typeText(testPassword)
	tm2.keys("Enter")
	tm2.waitFor("Verification code:")
	tm2.typeText(e.code(secret))
	tm2.keys("Enter")
	screen = tm2.waitFor("Recent audit events")
	if !strings.Contains(screen, "ada (admin)") || !strings.Contains(screen, "Dashboard") {
		t.Fatalf("dashboard:\n%s", screen)
	}
	tm2.typeText("7") // Users: no Network tab (no network subsystem here), after Security
	tm2.waitFor("STATE")
	tm2.typeText("q")
	tm2.waitFor("SSH-EXITED")
	if got := strings.Join(e.auditActions(), " "); !strings.Contains(got, "user.create:ok") || !strings.Contains(got, "login.success:ok") {
		t.Fatalf("audit: %s", got)
	}
}
