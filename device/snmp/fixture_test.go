package snmp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/store"
)

const wait = 15 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The agent's credentials (test values, nothing real).
const (
	community   = "public-test"
	user256     = "gwuser"
	authKey256  = "authpass-123"
	privKey256  = "privpass-456"
	user512     = "gw512"
	authKey512  = "authpass-512"
	privKey512  = "privpass-512"
	agentName   = "lab-agent"
	agentPlace  = "test bench"
	sysNameOID  = "1.3.6.1.2.1.1.5.0"
	sysUpOID    = "1.3.6.1.2.1.1.3.0"
	ifDescrOID  = "1.3.6.1.2.1.2.2.1.2"
	ifInOctets  = "1.3.6.1.2.1.2.2.1.10"
	ifPhysAddr  = "1.3.6.1.2.1.2.2.1.6"
	ifOperState = "1.3.6.1.2.1.2.2.1.8"
)

// need finds a tool of the snmp/snmpd packages: without it the test skips,
// unless CI is set, where it fails.
func need(t testing.TB, tool string) string {
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

// quietEnv keeps net-snmp tools from loading (and complaining about) MIBs.
func quietEnv(extra ...string) []string {
	return append(append(os.Environ(), "MIBS=", "MIBDIRS="+os.DevNull), extra...)
}

// startSNMPD runs Debian's snmpd on a loopback port with its own
// configuration in a temporary directory (never the system service's),
// with a v2c community and two v3 users: SHA-256/AES-128 and
// SHA-512/AES-256. It returns the agent's address.
func startSNMPD(t testing.TB) string {
	t.Helper()
	bin := need(t, "snmpd")
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
`, addr, community, user256, user512, agentName, agentPlace))
		// createUser is read from the agent's own persistent directory,
		// which snmpd rewrites with the localized keys.
		write(t, users, fmt.Sprintf("createUser %s SHA-256 %s AES %s\ncreateUser %s SHA-512 %s AES-256 %s\n",
			user256, authKey256, privKey256, user512, authKey512, privKey512))
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "-f", "-Lo", "-C", "-c", conf+","+users, "-p", filepath.Join(dir, "snmpd.pid"))
		cmd.Env = quietEnv("SNMP_PERSISTENT_DIR=" + persist)
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
		up := devicetest.Within(wait, func() bool {
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
	cmd := exec.Command("snmpget", "-v2c", "-c", community, "-t", "0.3", "-r", "0", addr, sysNameOID)
	cmd.Env = quietEnv()
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), agentName)
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

// ephemeral stands in for ListenUDP: the site's trap port becomes port 0,
// so tests never use a fixed port.
func ephemeral(ctx context.Context, addr string) (net.PacketConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return snmp.ListenUDP(ctx, net.JoinHostPort(host, "0"))
}

// fixture is a real gateway on a real bbolt file with the SNMP driver.
type fixture struct {
	t    testing.TB
	gw   *device.Gateway
	drv  *snmp.Driver
	stop func()
}

// startGateway stores site and runs the driver until the test ends.
func startGateway(t testing.TB, site *device.Site, o snmp.Options) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	site.Site.Name = "SNMP test"
	site.ApplyDefaults()
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: gw.Rev()}, site); err != nil {
		st.Close()
		t.Fatal(err)
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	if o.Listen == nil {
		o.Listen = ephemeral
	}
	drv := snmp.NewDriver(gw, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- drv.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("driver: %v", err)
		}
		st.Close()
	})
	t.Cleanup(stop)
	f := &fixture{t: t, gw: gw, drv: drv, stop: stop}
	devicetest.Eventually(t, wait, "the driver attached", func() bool { _, ok := snmp.From(gw); return ok })
	return f
}

// edit applies a change to the stored site.
func (f *fixture) edit(change func(s *device.Site)) {
	f.t.Helper()
	s, _ := f.gw.Site()
	s = s.Clone()
	change(s)
	s.ApplyDefaults()
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: f.gw.Rev()}, s); err != nil {
		f.t.Fatal(err)
	}
}

func v2c(name, addr string, points ...device.SNMPPoint) device.SNMPDevice {
	return device.SNMPDevice{Name: name, Address: addr, Version: device.SNMPv2c, Community: community,
		Interval: device.Duration(time.Second), Timeout: device.Duration(500 * time.Millisecond), Points: points}
}

func v3(name, addr string, u device.SNMPUser, points ...device.SNMPPoint) device.SNMPDevice {
	return device.SNMPDevice{Name: name, Address: addr, Version: device.SNMPv3, User: &u,
		Interval: device.Duration(time.Second), Timeout: device.Duration(500 * time.Millisecond), Points: points}
}

func sha256aes128() device.SNMPUser {
	return device.SNMPUser{Name: user256, Auth: device.SNMPAuthSHA256, AuthKey: authKey256, Priv: device.SNMPPrivAES128, PrivKey: privKey256}
}

func sha512aes256() device.SNMPUser {
	return device.SNMPUser{Name: user512, Auth: device.SNMPAuthSHA512, AuthKey: authKey512, Priv: device.SNMPPrivAES256, PrivKey: privKey512}
}
