package endpoints

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clock"
	"github.com/sitegate/sitegate/device/devicetest"
)

// startDNSMasq runs Debian's dnsmasq as the DNS server of the test on a
// free loopback port: broker.test (A and AAAA), alias.test (a CNAME to
// broker.test), many.test (300 addresses), every other name under .test
// NXDOMAIN, TTL ttl.
func startDNSMasq(t *testing.T, ttl int) netip.AddrPort {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("needs dnsmasq (Debian dnsmasq-base); CI must run it")
		}
		t.Skip("needs dnsmasq (Debian dnsmasq-base)")
	}
	dir := t.TempDir()
	var hosts strings.Builder
	hosts.WriteString("10.9.0.1 broker.test\nfd00::1 broker.test\n10.9.0.2 time.test\n")
	for i := range 300 {
		fmt.Fprintf(&hosts, "10.8.%d.%d many.test\n", i/250, i%250+1)
	}
	hf := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hf, []byte(hosts.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		// A port the kernel just gave out and took back: dnsmasq binds it
		// next (it has no way to be told "any port" and say which).
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		cmd := exec.Command(bin, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
			"--bind-interfaces", "--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--pid-file=",
			"--user=root", "--addn-hosts="+hf, "--cname=alias.test,broker.test", "--local=/test/",
			fmt.Sprintf("--local-ttl=%d", ttl), "--log-facility=-")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
		up := devicetest.Within(5*time.Second, func() bool {
			select {
			case err := <-exited:
				exited <- err
				return true
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := lookup(ctx, server, "time.test", 4)
			return err == nil
		})
		select {
		case <-exited:
			t.Logf("dnsmasq on %d ended (retrying): %s", port, out.String())
			continue
		default:
		}
		if !up {
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("dnsmasq does not answer: %s", out.String())
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		return server
	}
	t.Fatal("dnsmasq could not bind a port")
	return netip.AddrPort{}
}

func TestLookupAgainstDNSMasq(t *testing.T) {
	server := startDNSMasq(t, 90)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a, err := lookup(ctx, server, "broker.test", MaxAddrsPerName)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a.addrs) != "[10.9.0.1 fd00::1]" || a.ttl != 90*time.Second || a.truncated {
		t.Errorf("broker.test: %+v", a)
	}
	a, err = lookup(ctx, server, "ALIAS.test.", MaxAddrsPerName)
	if err != nil || fmt.Sprint(a.addrs) != "[10.9.0.1 fd00::1]" {
		t.Errorf("alias.test: %+v %v", a, err)
	}
	// 300 addresses: more than a UDP answer holds, so the TCP retry runs;
	// the list keeps MaxAddrsPerName.
	a, err = lookup(ctx, server, "many.test", MaxAddrsPerName)
	if err != nil || len(a.addrs) != MaxAddrsPerName || !a.truncated {
		t.Errorf("many.test: %d addresses, truncated %v, %v", len(a.addrs), a.truncated, err)
	}
	_, err = lookup(ctx, server, "nothing.test", MaxAddrsPerName)
	if !errors.Is(err, ErrNoSuchName) || !strings.Contains(err.Error(), "nothing.test") {
		t.Errorf("nothing.test: %v", err)
	}
	if _, err := lookup(ctx, server, "bad..name", 4); !errors.Is(err, ErrBadName) {
		t.Errorf("bad..name: %v", err)
	}
}

func TestListResolvesChecksAndDials(t *testing.T) {
	server := startDNSMasq(t, 1) // clamped up to MinTTL
	changed := make(chan struct{}, 10)
	l := New(Options{Resolvers: []netip.AddrPort{server}, OnChange: func() { changed <- struct{}{} }})
	if err := l.Check("tcp", "anything.example:1"); err != nil || l.Enforced() {
		t.Fatalf("an empty list refuses: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	lport := ln.Addr().(*net.TCPAddr).Port
	l.Set([]device.Endpoint{
		{Host: "broker.test", Port: 8883},
		{Host: "time.test", Port: 123, Proto: device.ProtoUDP},
		{Host: "nothing.test", Port: 443},
		{Host: "many.test", Port: 443},
		{Host: "127.0.0.1", Port: lport},
	})
	devicetest.Run(t, l)
	devicetest.Eventually(t, 10*time.Second, "the names resolved", func() bool {
		for _, h := range l.Health() {
			if len(h.Addresses) == 0 && h.Error == "" || h.Error == ErrNotResolved.Error() {
				return false
			}
		}
		return true
	})
	<-changed
	hs := l.Health()
	byHost := map[string]device.EndpointHealth{}
	for _, h := range hs {
		byHost[h.Host] = h
	}
	if h := byHost["broker.test"]; fmt.Sprint(h.Addresses) != "[10.9.0.1 fd00::1]" || time.Until(h.Expires) > MinTTL || h.Error != "" {
		t.Errorf("broker.test: %+v", h)
	}
	if h := byHost["nothing.test"]; !strings.Contains(h.Error, "no such name") || len(h.Addresses) != 0 {
		t.Errorf("nothing.test: %+v", h)
	}
	if h := byHost["many.test"]; !h.Truncated || len(h.Addresses) != MaxAddrsPerName {
		t.Errorf("many.test: %+v", h)
	}
	addrs := l.Addresses()
	if len(addrs) != 2+1+MaxAddrsPerName+1 {
		t.Errorf("%d addresses: %v", len(addrs), addrs)
	}
	for _, a := range addrs {
		want := MinTTL + Grace
		if a.Addr.String() == "127.0.0.1" {
			want = 0
		}
		if a.Timeout != want {
			t.Errorf("%s timeout %s, want %s", a.Addr, a.Timeout, want)
		}
	}

	for _, c := range []struct {
		network, addr string
		ok            bool
	}{
		{"tcp", "broker.test:8883", true},
		{"tcp", "Broker.Test.:8883", true},
		{"tcp", "10.9.0.1:8883", true},
		{"tcp", "[fd00::1]:8883", true},
		{"tcp", "broker.test:1883", false},
		{"udp", "broker.test:8883", false},
		{"udp", "time.test:123", true},
		{"tcp", "evil.example:443", false},
		{"tcp", "10.9.0.1:443", false},
	} {
		err := l.Check(c.network, c.addr)
		if (err == nil) != c.ok {
			t.Errorf("Check(%s, %s) = %v", c.network, c.addr, err)
		}
		if err != nil && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("Check(%s, %s) = %v, not ErrNotAllowed", c.network, c.addr, err)
		}
	}
	err = l.Check("udp", "evil.example:123")
	if want := "dial udp evil.example:123: not in the site's endpoints (add {host: evil.example, port: 123, proto: udp} to endpoints to allow it)"; err == nil || err.Error() != want {
		t.Errorf("refusal:\n got %v\nwant %s", err, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := l.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial the allowed listener: %v", err)
	}
	c.Close()
	if _, err := l.DialContext(ctx, "tcp", "127.0.0.1:1"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("dial a port not listed: %v", err)
	}
	if _, err := l.DialContext(ctx, "tcp", "nothing.test:443"); err == nil || !strings.Contains(err.Error(), "no such name") {
		t.Errorf("dial a name that does not resolve: %v", err)
	}

	// A name the site drops is no longer allowed, nor its addresses.
	l.Set([]device.Endpoint{{Host: "time.test", Port: 123, Proto: device.ProtoUDP}})
	if err := l.Check("tcp", "10.9.0.1:8883"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a dropped name's address: %v", err)
	}
}

func TestParseResolvConf(t *testing.T) {
	got := ParseResolvConf("# c\nnameserver 10.0.0.1\nsearch x\nnameserver ::1\nnameserver bogus\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n")
	if fmt.Sprint(got) != "[10.0.0.1:53 [::1]:53 10.0.0.2:53]" {
		t.Errorf("%v", got)
	}
}

// The clock's NTP queries go through the list: a server the site does not
// list is refused before any packet leaves.
func TestClockQueryRefused(t *testing.T) {
	l := New(Options{Resolvers: []netip.AddrPort{}})
	l.Set([]device.Endpoint{{Host: "127.0.0.1", Port: 123, Proto: device.ProtoUDP}})
	q := clock.DialQuery(l.DialContext)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := q(ctx, "127.0.0.2")
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "{host: 127.0.0.2, port: 123, proto: udp}") {
		t.Errorf("unlisted NTP server: %v", err)
	}
	// The listed one is asked (nothing answers on this port, so the query
	// times out rather than being refused).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l.Set([]device.Endpoint{{Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port, Proto: device.ProtoUDP}})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = q(ctx2, pc.LocalAddr().String())
	if err == nil || errors.Is(err, ErrNotAllowed) {
		t.Errorf("listed NTP server: %v", err)
	}
	buf := make([]byte, 64)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := pc.ReadFrom(buf); err != nil || n < 48 {
		t.Errorf("the listed server got no NTP request: %d %v", n, err)
	}
}
