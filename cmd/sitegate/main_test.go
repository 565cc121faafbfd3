package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
)

// TestMain lets tests run this binary as the real sitegate command in a
// child process (for signals and the lock held by another process).
func TestMain(m *testing.M) {
	switch os.Getenv("SITEGATE_TEST_MAIN") {
	case "1":
		os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	case "foreground":
		// What the demo does with the terminal, without the demo: take
		// the foreground, stop cleanly on Ctrl-C.
		os.Exit(foregroundChild())
	}
	os.Exit(m.Run())
}

type result struct {
	code          int
	stdout, stder string
}

// sitegate runs a command in-process.
func sitegate(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := executeContext(context.Background(), args, streams{strings.NewReader(stdin), &out, &errb})
	return result{code, out.String(), errb.String()}
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join("..", "..", rel)
}

func TestVersion(t *testing.T) {
	r := sitegate(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sitegate ") {
		t.Fatalf("version: %+v", r)
	}
}

func TestUsageErrorsExit2WithUsageLine(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"run", "--no-such-flag"},
		{"config", "import", "--data", t.TempDir()},
		{"config", "validate", "a.yaml", "b.yaml"},
		{"audit", "list", "--limit", "-3", "--data", t.TempDir()},
		{"run", "--data", t.TempDir(), "--log-format", "xml"},
		{"run"},
	} {
		r := sitegate(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stder, "Usage: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with the usage line", args, r.code, r.stder)
		}
	}
}

func TestOfflineCommandsNeedExistingDataDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	r := sitegate(t, "", "audit", "verify", "--data", missing)
	if r.code != exitFailure || !strings.Contains(r.stder, "does not exist") {
		t.Fatalf("%+v", r)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("an offline command created a data directory")
	}
}

// The site file round-trips: import → export → import → identical export.
func TestConfigRoundTrip(t *testing.T) {
	for _, site := range []string{"testdata/sites/demo.yaml", "testdata/sites/full.yaml"} {
		t.Run(filepath.Base(site), func(t *testing.T) {
			dir := t.TempDir()
			r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, site))
			if r.code != 0 || !strings.Contains(r.stdout, "site revision 1") {
				t.Fatalf("first import: %+v", r)
			}
			first := sitegate(t, "", "config", "export", "--data", dir)
			if first.code != 0 {
				t.Fatalf("export: %+v", first)
			}
			dir2 := t.TempDir()
			if r := sitegate(t, "", "config", "import", "--data", dir2, "-"); r.code == 0 {
				t.Fatalf("importing an empty stdin succeeded: %+v", r)
			}
			// The export carries <set> for secrets; a new gateway has none,
			// so re-import on the same gateway, where they are kept.
			r = sitegate(t, first.stdout, "config", "import", "--data", dir, "-")
			if r.code != 0 || !strings.Contains(r.stdout, "no changes") {
				t.Fatalf("re-import of the export: %+v", r)
			}
			second := sitegate(t, "", "config", "export", "--data", dir)
			if second.stdout != first.stdout {
				t.Fatalf("export changed after re-import:\n%s\n----\n%s", first.stdout, second.stdout)
			}
			if strings.Contains(site, "full") && !strings.Contains(first.stdout, "<set>") {
				t.Error("secrets were not exported as <set>")
			}
			js := sitegate(t, "", "config", "export", "--data", dir, "--json")
			var doc struct {
				Rev  uint64         `json:"rev"`
				Site map[string]any `json:"site"`
			}
			if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil || doc.Rev != 1 || doc.Site["modbus"] == nil {
				t.Fatalf("json export: %v %+v", err, js)
			}
		})
	}
}

func TestConfigImportInvalidStoresNothing(t *testing.T) {
	dir := t.TempDir()
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	before := sitegate(t, "", "config", "export", "--data", dir).stdout
	r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/invalid.yaml"))
	if r.code != exitFailure || !strings.Contains(r.stder, "nothing was stored") {
		t.Fatalf("invalid import: %+v", r)
	}
	if n := strings.Count(r.stder, "\n  "); n < 5 {
		t.Errorf("expected every problem listed, got %d lines:\n%s", n, r.stder)
	}
	if after := sitegate(t, "", "config", "export", "--data", dir).stdout; after != before {
		t.Fatal("an invalid import changed the stored site")
	}
	v := sitegate(t, "", "config", "validate", repoFile(t, "testdata/sites/invalid.yaml"))
	if v.code != exitFailure || !strings.Contains(v.stder, "modbus.devices") {
		t.Fatalf("validate invalid: %+v", v)
	}
	if v := sitegate(t, "", "config", "validate", repoFile(t, "testdata/sites/demo.yaml")); v.code != 0 || !strings.Contains(v.stdout, "is valid") {
		t.Fatalf("validate demo: %+v", v)
	}
}

func TestConfigImportIsAuditedAndVerifies(t *testing.T) {
	dir := t.TempDir()
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	r := sitegate(t, "", "audit", "list", "--data", dir, "--json")
	var events []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("audit list --json: %v\n%s", err, r.stdout)
	}
	var found bool
	for _, e := range events {
		for _, k := range []string{"seq", "ts", "actor", "role", "action", "target", "result", "hash"} {
			if _, ok := e[k]; !ok {
				t.Errorf("audit record lacks %q: %v", k, e)
			}
		}
		if e["action"] == "config.import" && e["actor"] == "local" && e["result"] == "ok" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no config.import event in %s", r.stdout)
	}
	if r := sitegate(t, "", "audit", "list", "--data", dir); r.code != 0 || !strings.Contains(r.stdout, "config.import") {
		t.Fatalf("audit list: %+v", r)
	}
	if r := sitegate(t, "", "audit", "verify", "--data", dir); r.code != 0 || !strings.Contains(r.stdout, "verified") {
		t.Fatalf("verify: %+v", r)
	}
}

// Tampering with the database file is detected, and the first altered event
// is named.
func TestAuditVerifyDetectsTamperedFile(t *testing.T) {
	dir := t.TempDir()
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	path := filepath.Join(dir, store.FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Same length, so the file's structure stays valid: only the chain can
	// tell.
	old, repl := []byte(`"action":"config.import"`), []byte(`"action":"config.IMPORT"`)
	if !bytes.Contains(raw, old) {
		t.Fatal("event not found in the file")
	}
	if err := os.WriteFile(path, bytes.Replace(raw, old, repl, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sitegate(t, "", "audit", "verify", "--data", dir)
	if r.code != exitFailure || !regexp.MustCompile(`at seq \d+:`).MatchString(r.stder) {
		t.Fatalf("verify after tampering: %+v", r)
	}
}

// startDaemon runs `sitegate run` as a child process and returns it with the
// SSH address it bound.
func startDaemon(t testing.TB, dir string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, line := startDaemonLine(t, dir, extra...)
	return cmd, regexp.MustCompile(`ssh=(\S+)`).FindStringSubmatch(line)[1]
}

// startDaemonLine runs `sitegate run` as a child process and returns it
// with its "gateway started" log line.
func startDaemonLine(t testing.TB, dir string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	args := append([]string{"run", "--data", dir, "--ssh-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SITEGATE_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`gateway started.*ssh=\S+`)
		for sc.Scan() {
			if re.MatchString(sc.Text()) {
				started <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case line := <-started:
		return cmd, line
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not report its SSH address")
	}
	return nil, ""
}

func TestRunRefusesSecondInstanceAndLogins(t *testing.T) {
	dir := t.TempDir()
	cmd, addr := startDaemon(t, dir)

	start := time.Now()
	r := sitegate(t, "", "run", "--data", dir, "--ssh-addr", "127.0.0.1:0")
	if r.code != exitFailure || !strings.Contains(r.stder, "is in use by a running gateway") {
		t.Fatalf("second instance: %+v", r)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("second instance took %v to give up", time.Since(start))
	}
	if r := sitegate(t, "", "audit", "list", "--data", dir); r.code != exitFailure || !strings.Contains(r.stder, "in use by a running gateway") {
		t.Fatalf("offline command on a running gateway: %+v", r)
	}

	// No account exists: every login is refused.
	cfg := &gossh.ClientConfig{
		User:            "admin",
		Auth:            []gossh.AuthMethod{gossh.Password("Admin#1234")},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), //nolint:gosec // test client, throwaway host key
		Timeout:         10 * time.Second,
	}
	if c, err := gossh.Dial("tcp", addr, cfg); err == nil {
		c.Close()
		t.Fatal("login succeeded on a gateway without accounts")
	}
	assertMode(t, filepath.Join(dir, "ssh_host_ed25519_key"), 0o600)

	// SIGTERM stops it cleanly within the 5 s grace.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop within 10 s of SIGTERM")
	}
	// The lock is released: offline commands work again.
	if r := sitegate(t, "", "audit", "verify", "--data", dir); r.code != 0 {
		t.Fatalf("verify after stop: %+v", r)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("SSH port still open after stop")
	}
}

func TestRunCreatesGatewayIDOnce(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := startDaemon(t, dir, "--gateway-id", "gw-test-1")
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	r := sitegate(t, "", "run", "--data", dir, "--ssh-addr", "127.0.0.1:0", "--gateway-id", "gw-other")
	if r.code != exitFailure || !strings.Contains(r.stder, "does not match this data directory's gateway id gw-test-1") {
		t.Fatalf("changing the gateway id: %+v", r)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
	}
}

func TestDemoSeedsSiteAndAccountsOnce(t *testing.T) {
	dir := t.TempDir()
	runDemo := func() string {
		out := &syncWriter{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- executeContext(ctx, []string{"demo", "--data", dir, "--ssh-addr", "127.0.0.1:0"}, streams{strings.NewReader(""), out, io.Discard})
		}()
		waitOutput(t, out, "sitegate demo is running")
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("demo exit %d", code)
		}
		return out.String()
	}
	text := runDemo()
	m := regexp.MustCompile(`installer@\S+\s+password: (\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no installer password printed:\n%s", text)
	}
	if r := sitegate(t, "", "user", "list", "--data", dir); !strings.Contains(r.stdout, "installer") || !strings.Contains(r.stdout, "admin") {
		t.Fatalf("demo accounts: %+v", r)
	}
	if r := sitegate(t, "", "config", "export", "--data", dir); !strings.Contains(r.stdout, "main-meter") {
		t.Fatalf("demo site: %+v", r)
	}
	// A second run reuses the directory and prints no new password.
	again := runDemo()
	if strings.Contains(again, m[1]) || !strings.Contains(again, "created on the first run") {
		t.Fatalf("second run:\n%s", again)
	}
}

// syncWriter is a buffer the daemon writes and the test reads.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitOutput(t *testing.T, w *syncWriter, text string) {
	t.Helper()
	devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("%q in:\n%s", text, w.String()) },
		func() bool { return strings.Contains(w.String(), text) })
}

// The demo shows live values within seconds: log in as the demo installer
// and read the simulated energy meter.
func TestDemoServesLiveValues(t *testing.T) {
	dir := t.TempDir()
	out := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	errw := &syncWriter{}
	go func() {
		done <- executeContext(ctx, []string{"demo", "--data", dir, "--ssh-addr", "127.0.0.1:0"}, streams{strings.NewReader(""), out, errw})
	}()
	defer func() { cancel(); <-done }()
	waitOutput(t, out, "sitegate demo is running")
	m := regexp.MustCompile(`ssh -p (\d+) installer@(\S+)\s+password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		if strings.Contains(errw.String(), "cannot start the simulated devices") {
			skipPortTaken(t, 15020)
		}
		t.Fatalf("no installer line:\n%s", out.String())
	}
	cfg := &gossh.ClientConfig{User: "installer", Timeout: 10 * time.Second,
		Auth:            []gossh.AuthMethod{gossh.Password(m[3])},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), //nolint:gosec // the demo's fresh host key
	}
	c, err := gossh.Dial("tcp", net.JoinHostPort(m[2], m[1]), cfg)
	if err != nil {
		t.Fatalf("log in as the demo installer: %v", err)
	}
	defer c.Close()
	acceptPrivacy(t, c)
	var b []byte
	devicetest.Eventually(t, 20*time.Second, func() string { return fmt.Sprintf("live values from the simulated meter:\n%s\n%s", b, errw.String()) }, func() bool {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		b, _ = s.Output("modbus read main-meter --json")
		s.Close()
		var rs []struct {
			Point   string `json:"point"`
			Quality string `json:"quality"`
			Value   any    `json:"value"`
		}
		_ = json.Unmarshal(b, &rs)
		good := 0
		for _, r := range rs {
			if r.Quality == "good" && r.Value != nil {
				good++
			}
		}
		return len(rs) > 5 && good == len(rs)
	})
	// The LoRa sensors join the embedded network server through the
	// simulated packet forwarder and report Cayenne LPP readings.
	devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("LoRa readings:\n%s\n%s", b, errw.String()) }, func() bool {
		if strings.Contains(errw.String(), "packet forwarder server not started") {
			skipPortTaken(t, 11700)
		}
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		b, _ = s.Output("modbus read lora-1 --json")
		s.Close()
		var rs []struct {
			Point   string `json:"point"`
			Quality string `json:"quality"`
		}
		_ = json.Unmarshal(b, &rs)
		have := map[string]string{}
		for _, r := range rs {
			have[r.Point] = r.Quality
		}
		return have["temperature_1"] == "good" && have["humidity_2"] == "good"
	})
	// The BACnet controller is polled and subscribed to through the
	// simulated device on loopback.
	devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("BACnet readings:\n%s\n%s", b, errw.String()) }, func() bool {
		if strings.Contains(errw.String(), "cannot simulate the BACnet device") || strings.Contains(errw.String(), "bacnet: link not started") {
			skipPortTaken(t, 47808)
		}
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		b, _ = s.Output("points read ahu-ctl --json")
		s.Close()
		var rs []struct {
			Quality string `json:"quality"`
			Unit    string `json:"unit"`
		}
		_ = json.Unmarshal(b, &rs)
		good := 0
		for _, r := range rs {
			if r.Quality == "good" {
				good++
			}
		}
		return len(rs) == 8 && good == 8 && rs[0].Unit == "degC"
	})
	// The simulated UPS answers SNMP v2c: its UPS-MIB points read good.
	devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("SNMP readings:\n%s\n%s", b, errw.String()) }, func() bool {
		if strings.Contains(errw.String(), "cannot simulate the SNMP agent") {
			skipPortTaken(t, 16161)
		}
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		b, _ = s.Output("points read ups-1 --json")
		s.Close()
		var rs []struct {
			Quality string `json:"quality"`
		}
		_ = json.Unmarshal(b, &rs)
		good := 0
		for _, r := range rs {
			if r.Quality == "good" {
				good++
			}
		}
		return len(rs) > 3 && good == len(rs)
	})
	// The simulated CoAP sensors post over DTLS.
	devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("CoAP readings:\n%s\n%s", b, errw.String()) }, func() bool {
		if strings.Contains(errw.String(), "coap: server not started") {
			skipPortTaken(t, 15684)
		}
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		b, _ = s.Output("points read meeting-room-2 --json")
		s.Close()
		var rs []struct {
			Quality string `json:"quality"`
		}
		_ = json.Unmarshal(b, &rs)
		return len(rs) == 3 && rs[0].Quality == "good" && rs[1].Quality == "good" && rs[2].Quality == "good"
	})
	// A Who-Is finds the site's controller and the demo's spare, on the
	// gateway's port like controllers on the same subnet.
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	b, err = s.Output("bacnet discover --json")
	s.Close()
	if err != nil {
		t.Fatalf("bacnet discover: %v %s", err, b)
	}
	var found []struct {
		Instance int    `json:"instance"`
		Site     string `json:"site_device"`
	}
	if err := json.Unmarshal(b, &found); err != nil || len(found) != 2 || found[0].Instance != 1001 || found[0].Site != "ahu-ctl" ||
		found[1].Instance != demoSpareBACnetInstance || found[1].Site != "" {
		t.Fatalf("bacnet discover in the demo: %v %s", err, b)
	}
}

// acceptPrivacy logs in with a terminal, as a first login must, and
// accepts the privacy notice.
func acceptPrivacy(t *testing.T, c *gossh.Client) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestPty("xterm", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	readUntil(t, out, "Privacy notice")
	if _, err := in.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, out, "Dashboard")
}

func readUntil(t *testing.T, r io.Reader, text string) {
	t.Helper()
	done := make(chan bool, 1)
	go func() {
		var seen strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), text) {
				done <- true
				return
			}
			if err != nil {
				done <- false
				return
			}
		}
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Fatalf("console output ended before %q", text)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no %q on the console", text)
	}
}

// skipPortTaken skips a demo test whose fixed demo port another program
// holds on a developer's machine; under CI the machine is the test's own,
// so it fails instead.
func skipPortTaken(t *testing.T, port int) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("port %d is taken", port)
	}
	t.Skipf("port %d is taken on this machine", port)
}
