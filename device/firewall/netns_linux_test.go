//go:build linux

package firewall

// The firewall's tests run against the real kernel in throwaway network
// namespaces:
//
//	namespace gw (the gateway)            namespace lan (the rest)
//	eth0  10.50.0.2/24 ───veth─── pe0 10.50.0.1/24, 10.50.0.3/24
//	wwan0 10.51.0.2/24 ───veth─── pc0 10.51.0.1/24
//
// The table is written into gw through a netlink socket opened in it
// (nftables.WithNetNSFd); listeners and dialers are opened on threads
// switched into one namespace or the other (devicetest.InNetns).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/endpoints"
	"github.com/sitegate/sitegate/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden ruleset")

type rig struct {
	gw, lan string
	nf      *Netfilter
}

func newRig(t testing.TB) *rig {
	t.Helper()
	devicetest.RequireNetns(t, "nft")
	r := &rig{gw: devicetest.Netns(t, "sg-fw-gw"), lan: devicetest.Netns(t, "sg-fw-lan")}
	for _, l := range []struct{ name, peer, net string }{{"eth0", "pe0", "10.50.0"}, {"wwan0", "pc0", "10.51.0"}} {
		devicetest.IP(t, "-n", r.gw, "link", "add", l.name, "type", "veth", "peer", "name", l.peer, "netns", r.lan)
		devicetest.IP(t, "-n", r.gw, "addr", "add", l.net+".2/24", "dev", l.name)
		devicetest.IP(t, "-n", r.lan, "addr", "add", l.net+".1/24", "dev", l.peer)
		devicetest.IP(t, "-n", r.gw, "link", "set", l.name, "up")
		devicetest.IP(t, "-n", r.lan, "link", "set", l.peer, "up")
	}
	devicetest.IP(t, "-n", r.lan, "addr", "add", "10.50.0.3/24", "dev", "pe0")
	f, err := os.Open("/run/netns/" + r.gw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if r.nf, err = OpenNetfilter(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	return r
}

// listenUDP opens a UDP socket in ns; what it receives goes to the
// returned channel, with the sender's address.
func listenUDP(t *testing.T, ns, addr string) (string, <-chan string) {
	t.Helper()
	got := make(chan string, 16)
	var pc net.PacketConn
	if err := devicetest.InNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n]) + " from " + from.(*net.UDPAddr).IP.String()
		}
	}()
	return pc.LocalAddr().String(), got
}

// listen is a devicetest.Greeter, by address.
func listen(t *testing.T, ns, addr string) string {
	return devicetest.Greeter(t, ns, addr).Addr().String()
}

var dial = devicetest.DialGreeter

// newGateway is a gateway on a fresh store.
func newGateway(t *testing.T) *device.Gateway {
	t.Helper()
	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

// send sends a datagram from ns.
func send(t *testing.T, ns, from, to, msg string) {
	t.Helper()
	err := devicetest.InNetns(ns, func() error {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(to)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(msg))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func portOf(t *testing.T, addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (r *rig) counter(t *testing.T, name string) uint64 {
	t.Helper()
	cs, err := r.nf.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return cs[name].Packets
}

func baseSite() *device.Site {
	s := device.DefaultSite()
	s.Firewall.Enabled = true
	s.Cellular.Enabled = true
	return s
}

// The inbound chain: the SSH port answers from the peer, another listening
// port does not (and its packets are counted on eth0); the table's
// counters survive a replacement.
func TestInboundSSHOnly(t *testing.T) {
	r := newRig(t)
	ssh := listen(t, r.gw, "0.0.0.0:0")
	other := listen(t, r.gw, "0.0.0.0:0")
	sshTo := "10.50.0.2:" + strconv.Itoa(portOf(t, ssh))
	otherTo := "10.50.0.2:" + strconv.Itoa(portOf(t, other))
	if err := dial(r.lan, otherTo); err != nil {
		t.Fatalf("before the firewall: %v", err)
	}
	sp, err := Build(baseSite(), BuildOptions{SSHAddr: ":" + strconv.Itoa(portOf(t, ssh))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.nf.Apply(sp, nil); err != nil {
		t.Fatal(err)
	}
	if err := dial(r.lan, sshTo); err != nil {
		t.Errorf("ssh: %v", err)
	}
	if err := dial(r.lan, otherTo); err == nil {
		t.Errorf("port %s answers through the firewall", otherTo)
	}
	if n := r.counter(t, "in_eth0"); n == 0 {
		t.Errorf("in_eth0 counted nothing")
	}
	before := r.counter(t, "in_eth0")
	if err := r.nf.Apply(sp, mustCounters(t, r.nf)); err != nil {
		t.Fatal(err)
	}
	if n := r.counter(t, "in_eth0"); n < before {
		t.Errorf("replacing the table reset in_eth0: %d, was %d", n, before)
	}
	if err := dial(r.lan, sshTo); err != nil {
		t.Errorf("ssh after the replacement: %v", err)
	}
}

func mustCounters(t *testing.T, nf *Netfilter) map[string]Counter {
	t.Helper()
	cs, err := nf.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// The BACnet port opens on Ethernet only while the site uses BACnet/IP,
// never on cellular, and closes when the site stops using it: driven by
// the Manager following a real Gateway's site changes.
func TestBACnetPortFollowsTheSite(t *testing.T) {
	r := newRig(t)
	bound, got := listenUDP(t, r.gw, "0.0.0.0:0")
	port := portOf(t, bound)
	gw := newGateway(t)
	m, err := New(Options{Gateway: gw, Backend: r.nf, SSHAddr: ":2222", Resolvers: []netip.Addr{}})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(s *device.Site) {
		t.Helper()
		if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import", Base: gw.Rev()}, s); err != nil {
			t.Fatal(err)
		}
	}
	s := baseSite()
	s.Cellular.SIMs = []device.SIM{{Slot: 1, APN: "internet"}}
	apply(s)
	devicetest.Run(t, m)
	devicetest.Eventually(t, 5*time.Second, "the firewall applied", func() bool { return m.Health().Active })

	// Closed: the datagram from the LAN is dropped and counted.
	c0 := r.counter(t, "in_eth0")
	send(t, r.lan, "10.50.0.1", "10.50.0.2:"+strconv.Itoa(port), "closed")
	devicetest.Eventually(t, 5*time.Second, "in_eth0 counts the datagram", func() bool { return r.counter(t, "in_eth0") > c0 })

	inst := 4000001
	one := 1
	s.BACnet = device.BACnet{Interface: "eth0", Port: port, DeviceInstance: &inst,
		Devices: []device.BACnetDevice{{Name: "ctl", Instance: &one, Address: "10.50.0.1:" + strconv.Itoa(port),
			Points: []device.BACnetPoint{{Name: "pv", Object: "analog-input:1"}}}}}
	apply(s)
	devicetest.Eventually(t, 5*time.Second, "the BACnet port open", func() bool {
		h := m.Health()
		return len(h.Interfaces) > 0 && len(h.Interfaces[0].OpenPorts) == 2
	})
	send(t, r.lan, "10.50.0.1", "10.50.0.2:"+strconv.Itoa(port), "open")
	select {
	case msg := <-got:
		if msg != "open from 10.50.0.1" {
			t.Fatalf("got %q", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the BACnet port does not answer on eth0")
	}
	// Never on cellular.
	c1 := r.counter(t, "in_wwan0")
	send(t, r.lan, "10.51.0.1", "10.51.0.2:"+strconv.Itoa(port), "cellular")
	devicetest.Eventually(t, 5*time.Second, "in_wwan0 counts the datagram", func() bool { return r.counter(t, "in_wwan0") > c1 })

	s.BACnet = device.BACnet{}
	apply(s)
	devicetest.Eventually(t, 5*time.Second, "the BACnet port closed", func() bool {
		h := m.Health()
		return len(h.Interfaces) > 0 && len(h.Interfaces[0].OpenPorts) == 1
	})
	c2 := r.counter(t, "in_eth0")
	send(t, r.lan, "10.50.0.1", "10.50.0.2:"+strconv.Itoa(port), "closed again")
	devicetest.Eventually(t, 5*time.Second, "in_eth0 counts the datagram", func() bool { return r.counter(t, "in_eth0") > c2 })
	select {
	case msg := <-got:
		t.Fatalf("received %q through a closed port", msg)
	default:
	}
	h := m.Health()
	if h.Interfaces[0].Name != "eth0" || h.Interfaces[0].InDrops.Packets == 0 {
		t.Errorf("health %+v", h.Interfaces)
	}

	// Off: the table goes.
	s.Firewall.Enabled = false
	apply(s)
	devicetest.Eventually(t, 5*time.Second, "the table removed", func() bool { ok, _ := r.nf.Exists(); return !ok && !m.Health().Active })
}

// The output chain: the endpoint's address answers, another address on
// the same network does not; the drop is counted on eth0.
func TestOutboundAllowList(t *testing.T) {
	r := newRig(t)
	allowed := listen(t, r.lan, "10.50.0.1:0")
	other := listen(t, r.lan, "10.50.0.3:0")
	if err := dial(r.gw, other); err != nil {
		t.Fatalf("before the firewall: %v", err)
	}
	l := endpoints.New(endpoints.Options{Resolvers: []netip.AddrPort{}})
	l.Set([]device.Endpoint{{Host: "10.50.0.1", Port: portOf(t, allowed)}})
	sp, err := Build(baseSite(), BuildOptions{SSHAddr: ":2222", Restrict: l.Enforced(), Allow: l.Addresses()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.nf.Apply(sp, nil); err != nil {
		t.Fatal(err)
	}
	if err := dial(r.gw, allowed); err != nil {
		t.Errorf("the allowed endpoint: %v", err)
	}
	c0 := r.counter(t, "out_eth0")
	if err := dial(r.gw, other); err == nil {
		t.Errorf("%s answers through the allow-list", other)
	}
	if n := r.counter(t, "out_eth0"); n <= c0 {
		t.Errorf("out_eth0 counted nothing")
	}
	// The gateway's own dialer refuses it before the kernel does.
	if err := l.Check("tcp", other); !errors.Is(err, endpoints.ErrNotAllowed) {
		t.Errorf("Check: %v", err)
	}
}

// The ruleset is what testdata/ruleset.json says, as nft(8) lists it
// (handles and the remaining life of timed elements left out).
func TestRulesetGolden(t *testing.T) {
	r := newRig(t)
	s := baseSite()
	s.Firewall.LAN = []string{"br0"}
	inst, one := 4000001, 1
	s.BACnet = device.BACnet{Interface: "eth0", DeviceInstance: &inst, BBMD: "10.50.0.9",
		Devices: []device.BACnetDevice{{Name: "ctl", Instance: &one, Address: "10.50.0.1"}}}
	s.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "10.50.0.20:502"}}
	sp, err := Build(s, BuildOptions{SSHAddr: "10.50.0.2:2222", Restrict: true,
		Resolvers: []netip.Addr{netip.MustParseAddr("10.50.0.53"), netip.MustParseAddr("fd00::53")},
		Allow: []endpoints.Address{{Addr: netip.MustParseAddr("192.0.2.10"), Timeout: 90 * time.Second},
			{Addr: netip.MustParseAddr("192.0.2.11")}, {Addr: netip.MustParseAddr("2001:db8::10"), Timeout: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.nf.Apply(sp, map[string]Counter{"in_eth0": {Packets: 7, Bytes: 700}}); err != nil {
		t.Fatal(err)
	}
	if c := mustCounters(t, r.nf)["in_eth0"]; c.Packets < 7 || c.Bytes < 700 {
		t.Errorf("in_eth0 did not start from the kept value: %+v", c)
	}
	out, err := exec.Command("ip", "netns", "exec", r.gw, "nft", "-j", "list", "table", "inet", Table).Output()
	if err != nil {
		t.Fatalf("nft: %v", err)
	}
	got := normalize(t, out)
	path := filepath.Join("testdata", "ruleset.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ruleset differs from %s (go test -run Golden -update to accept):\n%s", path, got)
	}
}

// normalize drops what varies between runs (handles, the life left of
// timed elements, counter values, nft's own version) and writes one
// object per line.
func normalize(t *testing.T, raw []byte) []byte {
	t.Helper()
	var doc struct {
		Nftables []map[string]any `json:"nftables"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, raw)
	}
	var b bytes.Buffer
	var strip func(v any) any
	strip = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "handle")
			delete(x, "expires")
			if _, ok := x["packets"]; ok {
				x["packets"], x["bytes"] = 0, 0
			}
			for k, e := range x {
				x[k] = strip(e)
			}
		case []any:
			for i, e := range x {
				x[i] = strip(e)
			}
		}
		return v
	}
	for _, o := range doc.Nftables {
		if _, ok := o["metainfo"]; ok {
			continue
		}
		line, _ := json.Marshal(strip(o))
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Turning the firewall on from a session goes on probation; rolling the
// probation back turns it off again and removes the table.
func TestTurningOnGoesOnProbation(t *testing.T) {
	r := newRig(t)
	gw := newGateway(t)
	m, err := New(Options{Gateway: gw, Backend: r.nf, SSHAddr: ":2222", Resolvers: []netip.Addr{}})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, m)
	admin := device.Actor{ID: "u-1", Role: "admin"}
	s, _ := gw.Site()
	s.Firewall.Enabled = true
	if _, err := gw.ApplySite(device.Edit{Actor: admin, Action: "config.change", Base: gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, 5*time.Second, "the table in place", func() bool { ok, _ := r.nf.Exists(); return ok })
	p := gw.Probation()
	if !p.Active || p.What != "firewall turned on: firewall.enabled" || p.By != admin {
		t.Fatalf("probation %+v", p)
	}
	if err := gw.RollbackProbation(admin); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, 5*time.Second, "the table removed", func() bool { ok, _ := r.nf.Exists(); return !ok })
	if s, _ := gw.Site(); s.Firewall.Enabled {
		t.Error("the rollback left the firewall on")
	}
	if p := gw.Probation(); p.Active || !p.Last.RolledBack {
		t.Errorf("after the rollback: %+v", p)
	}
}

// A table left by an earlier run goes when the gateway starts with the
// firewall off.
func TestStaleTableRemoved(t *testing.T) {
	r := newRig(t)
	sp, err := Build(baseSite(), BuildOptions{SSHAddr: ":2222"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.nf.Apply(sp, nil); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Gateway: newGateway(t), Backend: r.nf, SSHAddr: ":2222", Resolvers: []netip.Addr{}})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, m)
	devicetest.Eventually(t, 5*time.Second, "the stale table removed", func() bool { ok, _ := r.nf.Exists(); return !ok })
}

// BenchmarkApply replaces the whole table with every endpoint's
// addresses (MaxAllowed of them) and reads its counters back, as each
// DNS refresh does.
func BenchmarkApply(b *testing.B) {
	r := newRig(b)
	allow := make([]endpoints.Address, MaxAllowed)
	for i := range allow {
		allow[i] = endpoints.Address{Addr: netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}), Timeout: time.Hour}
	}
	sp, err := Build(baseSite(), BuildOptions{SSHAddr: ":2222", Restrict: true, Allow: allow})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		keep, err := r.nf.Counters()
		if err != nil {
			b.Fatal(err)
		}
		if err := r.nf.Apply(sp, keep); err != nil {
			b.Fatal(err)
		}
	}
}

// The whole outbound path by name: the allow-list asks Debian's dnsmasq
// (in the peer namespace, the site's only resolver) for broker.test, the
// firewall's allow4 set gets its address with the TTL as timeout, the
// gateway reaches the broker by name, and neither an address outside the
// list nor another DNS server is reachable.
func TestEndpointsByNameThroughDNS(t *testing.T) {
	r := newRig(t)
	devicetest.RequireNetns(t, "dnsmasq")
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("10.50.0.1 broker.test\n10.50.0.3 evil.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Port 53 in a namespace of its own: the resolver rule is about DNS's
	// port, and nothing else listens there.
	dns := exec.Command("ip", "netns", "exec", r.lan, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address=10.50.0.1", "--listen-address=10.50.0.3", "--port=53", "--pid-file=", "--user=root",
		"--addn-hosts="+hosts, "--local=/test/", "--local-ttl=600", "--log-facility=-")
	var dnsOut strings.Builder
	dns.Stdout, dns.Stderr = &dnsOut, &dnsOut
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dns.Process.Kill()
		_ = dns.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", dnsOut.String())
		}
	})
	broker := listen(t, r.lan, "10.50.0.1:0")
	_, port, _ := net.SplitHostPort(broker)
	evil := "10.50.0.3:" + port
	listen(t, r.lan, evil)

	gw := newGateway(t)
	var m *Manager
	l := endpoints.New(endpoints.Options{Gateway: gw, Resolvers: []netip.AddrPort{netip.MustParseAddrPort("10.50.0.1:53")},
		OnChange: func() { m.Kick() }})
	m, err := New(Options{Gateway: gw, Backend: r.nf, Endpoints: l, SSHAddr: ":2222", Resolvers: []netip.Addr{netip.MustParseAddr("10.50.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	s := baseSite()
	s.Cellular.SIMs = []device.SIM{{Slot: 1, APN: "internet"}}
	s.Clock.NTPServers = nil // else it must be in endpoints too
	n, _ := strconv.Atoi(port)
	s.Endpoints = []device.Endpoint{{Host: "broker.test", Port: n}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import", Base: gw.Rev()}, s); err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, m)
	// The list asks from inside the gateway's namespace: its Run keeps one
	// thread there, and the sockets it opens are the namespace's.
	ctx, cancel := context.WithCancel(context.Background())
	listDone := make(chan error, 1)
	go func() { listDone <- devicetest.InNetns(r.gw, func() error { return l.Run(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-listDone; err != nil {
			t.Errorf("list: %v", err)
		}
	})

	devicetest.Eventually(t, 10*time.Second, func() string { return fmt.Sprintf("broker.test in allow4: %+v", m.Health().Endpoints) }, func() bool {
		out, _ := exec.Command("ip", "netns", "exec", r.gw, "nft", "list", "set", "inet", Table, "allow4").CombinedOutput()
		return strings.Contains(string(out), "10.50.0.1 timeout 10m30s")
	})
	if h := m.Health().Endpoints; len(h) != 1 || fmt.Sprint(h[0].Addresses) != "[10.50.0.1]" || h[0].Error != "" {
		t.Errorf("endpoints health %+v", h)
	}
	// By name, through the list's dialer, from the gateway's namespace.
	err = devicetest.InNetns(r.gw, func() error {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		defer dcancel()
		c, err := l.DialContext(dctx, "tcp", "broker.test:"+port)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Errorf("dial broker.test: %v", err)
	}
	if err := l.Check("tcp", "evil.test:"+port); !errors.Is(err, endpoints.ErrNotAllowed) {
		t.Errorf("evil.test allowed by the list: %v", err)
	}
	if err := dial(r.gw, evil); err == nil {
		t.Errorf("%s reachable past the firewall", evil)
	}
	// DNS goes only to the configured resolver.
	other := netip.MustParseAddrPort("10.50.0.3:53")
	err = devicetest.InNetns(r.gw, func() error {
		lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
		defer lcancel()
		probe := endpoints.New(endpoints.Options{Resolvers: []netip.AddrPort{other}})
		probe.Set([]device.Endpoint{{Host: "broker.test", Port: 1}})
		_ = probe.Run(lctx) // here, on the namespace's thread, until lctx ends
		if h := probe.Health(); len(h[0].Addresses) > 0 {
			return fmt.Errorf("resolved through %s: %v", other, h[0].Addresses)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
