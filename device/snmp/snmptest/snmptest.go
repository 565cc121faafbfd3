// Package snmptest runs Debian's snmpd for tests: on a loopback port, with
// its own configuration and persistent directory in a temporary directory
// (never the system service's), a v2c community and two v3 users.
//
// # Caveats
//
//   - It needs the snmpd and snmp packages (apt-get install snmpd snmp):
//     without them a test skips, unless CI is set, where it fails.
//   - The port is found free and then given to snmpd, which is a race
//     another process could win; StartSNMPD tries three ports.
package snmptest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
)

// Wait bounds how long snmpd may take to answer.
const Wait = 15 * time.Second

// The agent's credentials and objects (test values, nothing real).
const (
	Community        = "public-test"
	User256          = "gwuser"
	AuthKey256       = "authpass-123"
	PrivKey256       = "privpass-456"
	User512          = "gw512"
	AuthKey512       = "authpass-512"
	PrivKey512       = "privpass-512"
	AgentName        = "lab-agent"
	AgentPlace       = "test bench"
	SysNameOID       = "1.3.6.1.2.1.1.5.0"
	SysUpTimeOID     = "1.3.6.1.2.1.1.3.0"
	IfDescrOID       = "1.3.6.1.2.1.2.2.1.2"
	IfInOctetsOID    = "1.3.6.1.2.1.2.2.1.10"
	IfPhysAddressOID = "1.3.6.1.2.1.2.2.1.6"
	IfOperStatusOID  = "1.3.6.1.2.1.2.2.1.8"
)

// Need finds a tool of the snmp/snmpd packages: without it the test skips,
// unless CI is set, where it fails.
func Need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not installed (apt-get install snmpd snmp); CI is unset, skipping", tool)
		}
		t.Fatalf("%s not installed: apt-get install snmpd snmp", tool)
	}
	return p
}

// freeUDPPort returns a loopback port nobody had bound a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Env keeps net-snmp tools from loading (and complaining about) MIBs.
func Env(extra ...string) []string {
	return append(append(os.Environ(), "MIBS=", "MIBDIRS="+os.DevNull), extra...)
}

// StartSNMPD runs Debian's snmpd on a loopback port with its own
// configuration in a temporary directory (never the system service's),
// with a v2c Community and two v3 users: SHA-256/AES-128 and
// SHA-512/AES-256. It returns the agent's address.
func StartSNMPD(t testing.TB) string {
	t.Helper()
	bin := Need(t, "snmpd")
	dir := t.TempDir()
	persist := filepath.Join(dir, "persist")
	if err := os.Mkdir(persist, 0o700); err != nil {
		t.Fatal(err)
	}
	var addr string
	for attempt := 0; attempt < 3; attempt++ {
		addr = fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
		conf := filepath.Join(dir, "snmpd.conf")
		users := filepath.Join(persist, "snmpd.conf")
		write(t, conf, fmt.Sprintf(`agentAddress udp:%s
rocommunity %s 127.0.0.1
rouser %s priv
rouser %s priv
sysName %s
sysLocation %s
`, addr, Community, User256, User512, AgentName, AgentPlace))
		// createUser is read from the agent's own persistent directory,
		// which snmpd rewrites with the localized keys.
		write(t, users, fmt.Sprintf("createUser %s SHA-256 %s AES %s\ncreateUser %s SHA-512 %s AES-256 %s\n",
			User256, AuthKey256, PrivKey256, User512, AuthKey512, PrivKey512))
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "-f", "-Lo", "-C", "-c", conf+","+users, "-p", filepath.Join(dir, "snmpd.pid"))
		cmd.Env = Env("SNMP_PERSISTENT_DIR=" + persist)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cancel()
			<-exited
		})
		up := devicetest.Within(Wait, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			return agentAnswers(addr)
		})
		select {
		case <-exited:
			if strings.Contains(out.String(), "Address already in use") {
				continue // the port was taken in between: another one
			}
			t.Fatalf("snmpd exited:\n%s", out.String())
		default:
		}
		if !up {
			t.Fatalf("snmpd does not answer on %s:\n%s", addr, out.String())
		}
		return addr
	}
	t.Fatal("snmpd: no free port after 3 attempts")
	return ""
}

// agentAnswers asks sysName.0 with snmpget.
func agentAnswers(addr string) bool {
	cmd := exec.Command("snmpget", "-v2c", "-c", Community, "-t", "0.3", "-r", "0", addr, SysNameOID)
	cmd.Env = Env()
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), AgentName)
}

func write(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
