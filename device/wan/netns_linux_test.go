//go:build linux

package wan

// The linux backend's failover test runs in network namespaces:
//
//	  namespace gw (the gateway)             namespace inet (the internet)
//	  eth0  10.1.0.2/24 ───veth─── pe0 10.1.0.1/24 ┐
//	  wlan0 10.2.0.2/24 ───veth─── pw0 10.2.0.1/24 ├── lo 192.0.2.1 (probe target)
//	  wwan0 10.3.0.2/24 ───veth─── pc0 10.3.0.1/24 ┘
//
// Each gw interface has its own default route. The manager runs in a
// child process started with `ip netns exec gw`: the test binary itself,
// told by an environment variable to run the helper instead of the tests.
// A whole process inside the namespace is the reliable way: netlink
// sockets, probe sockets and /proc/sys/net are all the namespace's, with
// no per-thread setns for the Go scheduler to undo. The helper prints one
// JSON line per probe round; the test watches the kernel's routes of the
// gw namespace through a netlink handle opened in it. The probe target's
// listener is opened inside inet from a locked OS thread that switches
// namespace just for the listen call (a listening socket stays in the
// namespace it was created in).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/wifi"
	"github.com/sitegate/sitegate/store"
)

const helperEnv = "SITEGATE_WAN_NETNS_HELPER"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(netnsHelper(cfg))
	}
	os.Exit(m.Run())
}

// helperConfig is what the test tells the helper.
type helperConfig struct {
	Dir       string        `json:"dir"`
	Target    string        `json:"target"`
	Interval  time.Duration `json:"interval"`
	DownAfter int           `json:"down_after"`
	UpAfter   int           `json:"up_after"`
}

// helperRound is one line of the helper's output.
type helperRound struct {
	Time   time.Time             `json:"time"`
	Active string                `json:"active"`
	Links  map[string]helperLink `json:"links"`
	Notes  []string              `json:"notes,omitempty"`
	Error  string                `json:"error,omitempty"`
}

type helperLink struct {
	State  string `json:"state"`
	OK     bool   `json:"ok"`
	Good   int    `json:"good"`
	Failed int    `json:"failed"`
	Err    string `json:"err,omitempty"`
}

// noTools is a runner on a host without iw, wpa_cli or mmcli, so that the
// test does not depend on what happens to be installed.
type noTools struct{}

func (noTools) LookPath(name string) (string, error) { return "", exec.ErrNotFound }
func (noTools) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return nil, exec.ErrNotFound
}

// netnsHelper runs the manager with the linux backend until stdin closes.
func netnsHelper(raw string) int {
	enc := json.NewEncoder(os.Stdout)
	fail := func(err error) int {
		_ = enc.Encode(helperRound{Error: err.Error()})
		return 1
	}
	var cfg helperConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return fail(err)
	}
	st, err := store.Open(cfg.Dir)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	gw, err := device.NewGateway(st, device.GatewayOptions{})
	if err != nil {
		return fail(err)
	}
	s := device.DefaultSite()
	s.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkWiFi, device.LinkCellular}
	s.WAN.Probe = device.Probe{Targets: []string{cfg.Target}, Interval: device.Duration(cfg.Interval), DownAfter: cfg.DownAfter, UpAfter: cfg.UpAfter}
	s.WAN.Ethernet = device.Ethernet{Interface: "eth0", DHCP: true}
	s.WiFi = device.WiFi{Enabled: true, Interface: "wlan0", SSID: "SiteNet", Security: device.SecurityWPA2PSK, Passphrase: "correct horse"}
	s.Cellular = device.Cellular{Enabled: true, Interface: "wwan0", SIMs: []device.SIM{{Slot: 1, APN: "internet"}}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import", Base: gw.Rev()}, s); err != nil {
		return fail(err)
	}
	be, err := NewLinux(LinuxOptions{Runner: noTools{}, WPADir: cfg.Dir, WPACtrl: cfg.Dir + "/ctrl"})
	if err != nil {
		return fail(err)
	}
	defer be.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := New(gw, be, Options{Logger: log, OnRound: func(r RoundReport) {
		out := helperRound{Time: r.Time, Active: activeName(r.Active), Links: map[string]helperLink{}, Notes: r.Notes}
		for _, l := range r.Links {
			hl := helperLink{State: l.State.String(), OK: l.Probed && l.Err == nil, Good: l.Good, Failed: l.Failed}
			if l.Err != nil {
				hl.Err = l.Err.Error()
			}
			out.Links[l.Kind.String()] = hl
		}
		_ = enc.Encode(out)
	}})
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-done; err != nil {
		return fail(err)
	}
	return 0
}

// listenIn opens a TCP listener inside the named namespace.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := devicetest.InNetns(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen in %s: %v", ns, err)
	}
	return ln
}

func TestLinuxFailoverInNetworkNamespaces(t *testing.T) {
	devicetest.RequireNetns(t)
	const (
		interval  = time.Second
		downAfter = 2
		upAfter   = 3
	)
	gwNS := devicetest.Netns(t, "sg-wan-gw")
	inetNS := devicetest.Netns(t, "sg-wan-inet")
	devicetest.IP(t, "-n", inetNS, "addr", "add", "192.0.2.1/32", "dev", "lo")
	// Strict reverse-path filtering, as many distributions set it: the
	// backend must loosen it on the site's interfaces, or no link but the
	// default route's could be probed.
	for _, k := range []string{"all", "default"} {
		ipExec(t, gwNS, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/"+k+"/rp_filter")
	}
	links := []struct{ name, peer, net string }{
		{"eth0", "pe0", "10.1.0"},
		{"wlan0", "pw0", "10.2.0"},
		{"wwan0", "pc0", "10.3.0"},
	}
	for i, l := range links {
		devicetest.IP(t, "-n", gwNS, "link", "add", l.name, "type", "veth", "peer", "name", l.peer, "netns", inetNS)
		devicetest.IP(t, "-n", gwNS, "addr", "add", l.net+".2/24", "dev", l.name)
		devicetest.IP(t, "-n", inetNS, "addr", "add", l.net+".1/24", "dev", l.peer)
		devicetest.IP(t, "-n", gwNS, "link", "set", l.name, "up")
		devicetest.IP(t, "-n", inetNS, "link", "set", l.peer, "up")
		// Metrics in the wrong order: the backend must fix them.
		devicetest.IP(t, "-n", gwNS, "route", "add", "default", "via", l.net+".1", "dev", l.name, "metric", fmt.Sprint(900-100*i))
	}

	ln := listenIn(t, inetNS, "192.0.2.1:0")
	defer ln.Close()
	go acceptAndClose(ln)

	nsh, err := netns.GetFromName(gwNS)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	nl, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	route := func() string {
		dev, err := lowestDefault(nl)
		if err != nil {
			t.Fatalf("read routes: %v", err)
		}
		return dev
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, _ := json.Marshal(helperConfig{Dir: dir, Target: ln.Addr().String(), Interval: interval, DownAfter: downAfter, UpAfter: upAfter})
	cmd := exec.Command("ip", "netns", "exec", gwNS, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(cfg))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	rounds := make(chan helperRound, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r helperRound
			if err := json.Unmarshal(sc.Bytes(), &r); err == nil {
				rounds <- r
			}
		}
		close(rounds)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("helper log:\n%s", stderr.String())
		}
	})

	// deadline bounds every wait: generous, since what is checked is the
	// order of probes and route changes, not how fast they come.
	const deadline = 30 * time.Second
	// next returns the helper's next round.
	next := func(within time.Duration) helperRound {
		t.Helper()
		select {
		case r, ok := <-rounds:
			if !ok {
				t.Fatalf("the helper ended")
			}
			if r.Error != "" {
				t.Fatalf("helper: %s", r.Error)
			}
			return r
		case <-time.After(within):
			t.Fatalf("no probe round within %s", within)
		}
		panic("unreachable")
	}
	// waitRoute polls the kernel until the preferred default route goes
	// through dev, draining the helper's rounds meanwhile.
	var seen []helperRound
	waitRoute := func(dev string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			if route() == dev {
				return time.Since(start)
			}
			if time.Since(start) > within {
				out, _ := exec.Command("ip", "-n", gwNS, "route").CombinedOutput()
				t.Fatalf("the default route still goes through %q %s later, want %s; routes:\n%s\nrounds: %+v", route(), within, dev, out, seen)
			}
			select {
			case r, ok := <-rounds:
				if ok {
					seen = append(seen, r)
				}
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	// Start: every link is probed good at once, ethernet becomes active
	// and its route the preferred one.
	first := next(deadline)
	for _, name := range []string{"ethernet", "wifi", "cellular"} {
		if l := first.Links[name]; !l.OK || l.State != "up" {
			t.Fatalf("first round: %s %+v", name, l)
		}
	}
	if first.Active != "ethernet" {
		t.Fatalf("first round: active %s", first.Active)
	}
	waitRoute("eth0", deadline)
	if b, err := os.ReadFile(wifi.SupplicantPath(dir, "wlan0")); err != nil || !strings.Contains(string(b), "psk=") || strings.Contains(string(b), "correct horse") {
		t.Errorf("wpa_supplicant config: %v\n%s", err, b)
	}

	// Ethernet's far side goes away: the route moves after down_after
	// failed probes (about down_after × interval; the time is logged,
	// not asserted: the machine may be slow).
	devicetest.IP(t, "-n", inetNS, "link", "set", "pe0", "down")
	took := waitRoute("wlan0", deadline)
	t.Logf("failover to wlan0 after %s", took.Round(time.Millisecond))

	// Back: the route returns only after up_after good probes in a row.
	seen = nil
	devicetest.IP(t, "-n", inetNS, "link", "set", "pe0", "up")
	took = waitRoute("eth0", deadline)
	t.Logf("failback to eth0 after %s", took.Round(time.Millisecond))
	// Drain what the helper reported up to the route change.
	for len(seen) == 0 || seen[len(seen)-1].Active != "ethernet" {
		seen = append(seen, next(deadline))
	}
	goods := 0
	for i, r := range seen {
		e := r.Links["ethernet"]
		if r.Active == "ethernet" {
			if i != len(seen)-1 || e.Good != upAfter {
				t.Fatalf("ethernet active again with %d good probes (round %d of %+v)", e.Good, i, seen)
			}
			continue
		}
		if e.OK {
			goods++
		}
		if e.State == "up" {
			t.Fatalf("ethernet up before %d good probes: %+v", upAfter, seen)
		}
	}
	if goods > upAfter-1 {
		t.Fatalf("%d good probes without failback: %+v", goods, seen)
	}
	if n := seen[len(seen)-1].Notes; len(n) != 1 || n[0] != fmt.Sprintf("active wifi -> ethernet: ethernet up after %d good probes", upAfter) {
		t.Fatalf("notes %q", n)
	}
}

// ipExec runs a command inside a namespace.
func ipExec(t *testing.T, ns string, args ...string) {
	t.Helper()
	devicetest.IP(t, append([]string{"netns", "exec", ns}, args...)...)
}
