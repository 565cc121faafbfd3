package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/modbus/sim"
)

// The measure of issue 12: the 50 devices of testdata/sites/commissioning-50.yaml
// commissioned from their CSV register maps on a real gateway (sitegate run
// as a child process), with the real OpenSSH client: once by exec
// commands (profile import, then device add per device, timed), once
// through the console in a real terminal (tmux), counting keystrokes.
// Both must give the site of the example file, every device online, and a
// commissioning report that verifies offline. The figures are logged
// (go test -run TestCommissionFiftyDevices -v ./cmd/sitegate); nothing is
// asserted about time.

// commissionMaps are the example's profiles, in import order.
var commissionMaps = []string{"energy-meter", "vav-box", "ahu-controller", "heat-meter"}

// commissioning is one gateway to commission: the example site, a
// simulated bus answering its 50 units, the daemon and an installer key.
type commissioning struct {
	t       *testing.T
	example *device.Site
	data    string
	addr    string // the gateway's SSH address
	key     string // the installer's private key
	mux     string // an OpenSSH control socket, when multiplexed
}

func newCommissioning(t *testing.T) *commissioning {
	t.Helper()
	example, err := device.ParseSite(mustRead(t, repoFile(t, "testdata/sites/commissioning-50.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	c := &commissioning{t: t, example: example, data: filepath.Join(t.TempDir(), "data")}
	// The example's profiles are its CSV maps, exactly.
	for i, name := range commissionMaps {
		p, err := device.ParseProfileCSV(name, mustRead(t, c.mapFile(name)))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(example.Profiles[i]); string(got) != string(mustJSON(t, p)) {
			t.Fatalf("the example's profile %s is not its CSV map:\n%s\n%s", name, got, mustJSON(t, p))
		}
	}
	// The field: one simulated TCP gateway answering the 50 units, each
	// identifying as its profile.
	models := map[uint8]*sim.Model{}
	for _, d := range example.Modbus.Devices {
		m, err := sim.NewModel(example.EffectivePoints(d), sim.WithName(d.Profile))
		if err != nil {
			t.Fatal(err)
		}
		models[uint8(d.UnitID)] = m
	}
	srv := sim.NewServer(models, nil, sim.WithLogger(quietLog()))
	simAddr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// The gateway before commissioning: the site without devices or
	// profiles, provisioned offline, and an installer who logs in with a
	// key (no second factor for keys).
	base := example.Clone()
	base.Profiles, base.Modbus.Devices = nil, nil
	base.Modbus.Buses[0].Address = simAddr
	base.Clock.NTPServers = nil // nothing off this machine
	b, err := device.EncodeSiteYAML(base)
	if err != nil {
		t.Fatal(err)
	}
	baseFile := filepath.Join(t.TempDir(), "base.yaml")
	if err := os.WriteFile(baseFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "config", "import", "--data", c.data, baseFile); r.code != 0 {
		t.Fatalf("provision: %+v", r)
	}
	c.key = filepath.Join(t.TempDir(), "installer")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", c.key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	if r := sitegate(t, "", "user", "add", "--data", c.data, "installer", "--role", "installer", "--pubkey", c.key+".pub", "--accept-privacy"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	_, c.addr = startDaemon(t, c.data)
	return c
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *commissioning) mapFile(name string) string {
	return repoFile(c.t, "testdata/sites/maps/"+name+".csv")
}

// sshArgs are OpenSSH's arguments for the installer; extra goes first.
func (c *commissioning) sshArgs(extra ...string) []string {
	_, port, _ := net.SplitHostPort(c.addr)
	if c.mux != "" {
		extra = append([]string{"-o", "ControlMaster=auto", "-o", "ControlPath=" + c.mux, "-o", "ControlPersist=60"}, extra...)
	}
	return append(append([]string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}, extra...), "-i", c.key, "-p", port, "installer@127.0.0.1")
}

// ssh runs one exec command with stdin from file (or nothing).
func (c *commissioning) ssh(stdinFile string, command ...string) string {
	c.t.Helper()
	cmd := exec.Command("ssh", append(c.sshArgs(), command...)...)
	if stdinFile != "" {
		f, err := os.Open(stdinFile)
		if err != nil {
			c.t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		c.t.Fatalf("ssh %s: %v\n%s%s", strings.Join(command, " "), err, out, stderr)
	}
	return string(out)
}

func (c *commissioning) importMaps() {
	for _, name := range commissionMaps {
		c.ssh(c.mapFile(name), "profile", "import", name)
	}
}

// check compares the gateway's site with the example, waits until every
// device is online, and verifies the commissioning report offline.
func (c *commissioning) check() {
	c.t.Helper()
	t := c.t
	got, err := device.ParseSite([]byte(c.ssh("", "config", "export")))
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got.Profiles), mustJSON(t, c.example.Profiles); string(g) != string(w) {
		t.Errorf("profiles differ from the example:\n%s\n%s", g, w)
	}
	type dev struct {
		Name, Profile string
		Unit          int
	}
	var gd, wd []dev
	for _, d := range got.Modbus.Devices {
		gd = append(gd, dev{d.Name, d.Profile, d.UnitID})
	}
	for _, d := range c.example.Modbus.Devices {
		wd = append(wd, dev{d.Name, d.Profile, d.UnitID})
	}
	if !slices.Equal(gd, wd) {
		t.Fatalf("devices differ from the example:\n%v\n%v", gd, wd)
	}
	var rows []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	}
	devicetest.Eventually(t, 60*time.Second, func() string { return fmt.Sprintf("all 50 devices online: %+v", rows) }, func() bool {
		rows = nil
		_ = json.Unmarshal([]byte(c.ssh("", "device", "list", "--json")), &rows)
		online := 0
		for _, r := range rows {
			if r.State == "online" {
				online++
			}
		}
		return len(rows) == 50 && online == 50
	})
	dir := t.TempDir()
	report, pub := filepath.Join(dir, "report.md"), filepath.Join(dir, "gateway.pub")
	if err := os.WriteFile(report, []byte(c.ssh("", "report", "commissioning", "--markdown")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, []byte(c.ssh("", "report", "key")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "report", "verify", report, "--pub", pub); r.code != 0 || !strings.Contains(r.stdout, "is intact") {
		t.Fatalf("report verify: %+v", r)
	}
	if b, _ := os.ReadFile(report); !strings.Contains(string(b), "50 of 50 online") {
		t.Errorf("the report does not say 50 of 50 online:\n%s", b)
	}
}

func TestCommissionFiftyDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end commissioning of 50 devices")
	}
	needTools(t, "ssh", "ssh-keygen", "tmux")

	for _, mux := range []bool{false, true} {
		name := "exec"
		if mux {
			name = "exec-multiplexed"
		}
		t.Run(name, func(t *testing.T) { commissionByExec(t, mux) })
	}

	t.Run("console", func(t *testing.T) {
		c := newCommissioning(t)
		c.importMaps()
		sock := filepath.Join(t.TempDir(), "tmux.sock")
		tmux := func(args ...string) string {
			out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("tmux %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		console := "ssh " + strings.Join(c.sshArgs("-t"), " ") + "; echo SSH-EXITED; sleep 60"
		tmux("new-session", "-d", "-s", "c", "-x", "120", "-y", "40", console)
		t.Cleanup(func() { _ = exec.Command("tmux", "-S", sock, "kill-server").Run() })
		screen := func() string { return tmux("capture-pane", "-p", "-t", "c") }
		waitFor := func(text string) {
			t.Helper()
			var s string
			devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("%q on the screen:\n%s", text, s) },
				func() bool { s = screen(); return strings.Contains(s, text) })
		}
		keys := 0
		press := func(k string) { keys++; tmux("send-keys", "-t", "c", k) }
		waitFor("Recent audit events")
		start := time.Now()
		press("4")    // the Field tab
		press("Down") // the bus
		waitFor("Bus plant")
		press("s") // scan it
		waitFor("50 unit(s) answered on plant")
		scanned := time.Since(start)
		press("a") // add the units found: names and profiles suggested
		waitFor("Add the units found on plant")
		if s := screen(); !strings.Contains(s, "energy-meter-1") || !strings.Contains(s, "sitegate energy-meter") {
			t.Fatalf("the add form does not suggest names and profiles:\n%s", s)
		}
		press("C-s") // save all 50 as one revision
		waitFor("added 50 devices")
		total := time.Since(start)
		t.Logf("console: %d keystrokes (4, ↓, s, a, ctrl+s) after the 4 profile imports; scan of units 1..247 done after %v; 50 devices added in %v from the first key",
			keys, scanned.Round(time.Millisecond), total.Round(time.Millisecond))
		c.check()
	})
}

// commissionByExec adds the 50 devices with one ssh command each; with
// mux, over one multiplexed OpenSSH connection (ControlMaster), as a
// script that runs many commands should, because the door limits the
// logins per second of one address.
func commissionByExec(t *testing.T, mux bool) {
	c := newCommissioning(t)
	how := "one connection each"
	if mux {
		how = "one multiplexed connection"
		c.mux = filepath.Join(t.TempDir(), "cm")
		t.Cleanup(func() { _ = exec.Command("ssh", append(c.sshArgs("-O", "exit"), "true")...).Run() })
	}
	start := time.Now()
	c.importMaps()
	imported := time.Since(start)
	var adds []time.Duration
	for _, d := range c.example.Modbus.Devices {
		at := time.Now()
		c.ssh("", "device", "add", d.Name, "--bus", d.Bus, "--unit", fmt.Sprint(d.UnitID), "--profile", d.Profile)
		adds = append(adds, time.Since(at))
	}
	total := time.Since(start)
	slices.Sort(adds)
	var sum time.Duration
	for _, a := range adds {
		sum += a
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("exec (%s): 4 profile imports in %v; 50 device adds: mean %v, p50 %v, p95 %v, max %v; all 54 commands in %v",
		how, r(imported), r(sum/50), r(adds[25]), r(adds[47]), r(adds[49]), r(total))
	c.check()
}
