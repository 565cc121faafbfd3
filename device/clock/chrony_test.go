package clock

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
)

// needTool skips a test whose outside tool is missing, except in CI, where
// its absence is a failure (README, "Two commands").
func needTool(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must provide it)", why)
	}
	t.Skip(why)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startChrony runs Debian's chronyd in the foreground as an NTP server on a
// loopback port, with its own clock as the reference (local stratum 8), and
// never touching the system clock (-x).
func startChrony(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chronyd")
	if err != nil {
		needTool(t, "chronyd is not installed (apt-get install chrony)")
	}
	if os.Geteuid() != 0 {
		needTool(t, "chronyd needs root to start")
	}
	dir := t.TempDir()
	port := freeUDPPort(t)
	conf := fmt.Sprintf(`port %d
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 8
cmdport 0
bindcmdaddress /
pidfile %s
`, port, filepath.Join(dir, "chronyd.pid"))
	confPath := filepath.Join(dir, "chrony.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd := exec.Command(bin, "-d", "-x", "-f", confPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chronyd: %v", err)
	}
	// exited is closed when chronyd has gone, waitErr then says why.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Wait until it answers a valid time, or has exited.
	var answer string
	devicetest.Eventually(t, 15*time.Second, func() string { return fmt.Sprintf("chronyd on %s to answer a valid time: %s", addr, answer) }, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		r, err := NetQuery(ctx, addr)
		cancel()
		if err == nil {
			err = r.Validate()
		}
		answer = fmt.Sprint(err)
		return err == nil
	})
	select {
	case <-exited:
		t.Fatalf("chronyd exited: %v\n%s", waitErr, out.String())
	default:
	}
	return addr
}

// The real network path against a second NTP implementation.
func TestClockAgainstChrony(t *testing.T) {
	addr := startChrony(t)
	lying := startServer(t, serverConfig{offset: 10 * time.Minute})
	c, _, rec := newTestClock(t, Options{SetClock: true}, addr, lying.Addr, addr+" ")
	st := c.Sync(context.Background())
	// The duplicate entry is asked once, so chrony and the liar are one
	// against one: no majority.
	if st.Synced || !strings.Contains(st.Error, "disagree") || rec.count() != 0 {
		t.Fatalf("chrony against a liar: %+v", st)
	}

	c, _, rec = newTestClock(t, Options{SetClock: true}, addr)
	st = c.Sync(context.Background())
	if !st.Synced || st.Source != addr || st.Stratum != 8 || !within(st.Offset, 0, 50*time.Millisecond) || rec.count() != 0 {
		t.Fatalf("against chrony: %+v", st)
	}
	if s := st.Servers[0]; !s.Used || s.RTT <= 0 || s.RTT > time.Second {
		t.Errorf("server status %+v", s)
	}
}
