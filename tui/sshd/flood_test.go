package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
)

// The door under a flood of connections that never log in (issue 11 item
// 1): a connection must send its version line within seconds, new source
// addresses go before addresses that already hold many slots, stalling
// addresses are penalised, and a slot is freed the moment a client
// authenticates.

// unauth returns the unauthenticated slots held in all.
func (e *env) unauth() int {
	e.srv.limit.mu.Lock()
	defer e.srv.limit.mu.Unlock()
	return e.srv.limit.unauth
}

// dialFrom connects from the loopback address local (Linux routes all of
// 127/8 to lo) and logs in; the handshake and login must finish within
// limit.
func (e *env) dialFrom(local, user string, limit time.Duration, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	d := net.Dialer{Timeout: limit, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", e.addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(limit))
	cc, chans, reqs, err := gossh.NewClientConn(conn, e.addr, &gossh.ClientConfig{User: user, Auth: auth, HostKeyCallback: gossh.FixedHostKey(e.hostPK)})
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return gossh.NewClient(cc, chans, reqs), nil
}

// idle holds TCP connections from local that never send a byte, reopening
// each as soon as the server closes it (pausing a little after a refusal,
// so that the flood is bounded), until ctx ends. It counts the
// connections the server closed.
type idle struct {
	addr   string
	mu     sync.Mutex
	closed int
}

func (f *idle) hold(ctx context.Context, local string) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", f.addr)
		if err != nil {
			pause(ctx, 10*time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		start := time.Now()
		_, _ = io.Copy(io.Discard, conn) // the server's version line, then until it closes
		stop()
		conn.Close()
		if ctx.Err() == nil {
			f.mu.Lock()
			f.closed++
			f.mu.Unlock()
		}
		if time.Since(start) < 100*time.Millisecond {
			pause(ctx, 10*time.Millisecond)
		}
	}
}

// pause waits d or until ctx ends: the flood's own pace, not a
// synchronisation.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// flood starts perAddr idle connections from each of 127.0.0.2.. (addrs
// addresses) and waits until they hold every slot; stop ends them.
func flood(t testing.TB, e *env, addrs, perAddr int) (f *idle, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f = &idle{addr: e.addr}
	var wg sync.WaitGroup
	for a := 0; a < addrs; a++ {
		for i := 0; i < perAddr; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); f.hold(ctx, fmt.Sprintf("127.0.0.%d", 2+a)) }()
		}
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	want := min(addrs*perAddr, e.srv.cfg.Limits.MaxUnauth)
	waitFor(t, fmt.Sprintf("the flood holding %d slots", want), func() bool { return e.unauth() == want })
	return f, stop
}

// The target: under 64 idle connections from 8 addresses (every
// slot), a key login from a ninth address succeeds at least 19 times out of
// 20, each within a second. Counted, not timed: each login has a
// one-second deadline.
func TestFloodOfIdleConnectionsDoesNotLockOthersOut(t *testing.T) {
	// Budgets and penalties on real time, as the socket deadlines are.
	e := newEnv(t, func(c *Config) { c.Clock = clockwork.System })
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	flood(t, e, 8, 8)
	ok := 0
	var failures []error
	for i := 0; i < 20; i++ {
		c, err := e.dialFrom("127.0.0.10", "ada", time.Second, gossh.PublicKeys(key))
		if err == nil {
			ok++
			c.Close()
		} else {
			failures = append(failures, err)
		}
	}
	t.Logf("%d of 20 key logins from a ninth address succeeded under the flood; refused %d, evicted %d", ok, e.srv.limit.Refused(), e.srv.limit.evicted)
	if ok < 19 {
		t.Fatalf("only %d of 20 logins succeeded under the flood: %v", ok, errors.Join(failures...))
	}
}

// A connection that sends nothing is dropped at the version deadline, far
// sooner than the login grace; one that sent its version line is not.
func TestConnectionWithoutVersionLineIsDropped(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Limits.VersionTimeout = 300 * time.Millisecond
		c.Limits.LoginGrace = time.Minute
	})
	silent, err := netDial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	talker, err := netDial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	if _, err := talker.Write([]byte("SSH-2.0-slow\r\n")); err != nil {
		t.Fatal(err)
	}
	// The silent one is closed by the server well within the minute of
	// grace: reading ends with EOF, not with our own deadline.
	_ = silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, silent); err != nil {
		t.Fatalf("the server kept a connection without a version line: %v", err)
	}
	// The one that sent its version line is still open after many version
	// deadlines (our read deadline ends the wait, not the server).
	_ = talker.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = io.Copy(io.Discard, talker)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a client that sent its version line was cut before the login grace: %v", err)
	}
}

// An address whose connections stall is refused for a while; others are
// not, and it is served again when its penalty has run down.
func TestStallingAddressIsPenalised(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.VersionTimeout = 200 * time.Millisecond })
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	// Two silent connections from 127.0.0.3 accrue 2×10 s, over the 15 s
	// from which an address is refused.
	for i := 0; i < 2; i++ {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}).Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("silent connection not dropped: %v", err)
		}
		c.Close()
	}
	waitFor(t, "no slot held", func() bool { return e.unauth() == 0 })
	if c, err := e.dialFrom("127.0.0.3", "ada", 5*time.Second, gossh.PublicKeys(key)); err == nil {
		c.Close()
		t.Fatal("a penalised address logged in")
	}
	c, err := e.dialFrom("127.0.0.4", "ada", 5*time.Second, gossh.PublicKeys(key))
	if err != nil {
		t.Fatalf("another address was refused: %v", err)
	}
	c.Close()
	e.clock.Advance(penaltyNoVersion * 2)
	c, err = e.dialFrom("127.0.0.3", "ada", 5*time.Second, gossh.PublicKeys(key))
	if err != nil {
		t.Fatalf("the address is still refused after its penalty ran down: %v", err)
	}
	c.Close()
}

// A client that authenticates gives its unauthenticated slot back at once,
// even when it opens no session (ssh -N).
func TestSlotFreedWhenAuthenticated(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	e.addUser("sam", device.RoleSupport, userOpt{})
	e.mustDial("ada", gossh.PublicKeys(key))
	e.mustDial("sam", gossh.Password(testPassword))
	waitFor(t, "both slots freed without a session", func() bool { return e.unauth() == 0 })
}

// With every slot taken, a new address takes the oldest slot of the
// address holding the most; an address that already holds as many as the
// others is refused.
func TestNewAddressTakesTheSlotOfTheHeaviest(t *testing.T) {
	clk := clockwork.NewFake(time.Now())
	l := newLimiter(withDefaults(Limits{MaxUnauth: 8, MaxUnauthPerIP: 4, EarlyDropStart: 4}), clk)
	l.rand = func() float64 { return 0.999 } // the early drop never fires below certainty
	conn := func(ip string) *trackedConn { return &trackedConn{ip: ip, l: l} }
	var heavy []*trackedConn
	for i := 0; i < 4; i++ {
		c := conn("10.0.0.1")
		if why, _ := l.admit(c); why != admitted {
			t.Fatalf("admit %d: %v", i, why)
		}
		heavy = append(heavy, c)
	}
	for i := 0; i < 4; i++ {
		if why, _ := l.admit(conn(fmt.Sprintf("10.0.1.%d", i))); why != admitted {
			t.Fatalf("light %d: %v", i, why)
		}
	}
	// Full. A new address evicts the heaviest's oldest.
	why, victim := l.admit(conn("10.0.2.1"))
	if why != admitted || victim != heavy[0] {
		t.Fatalf("new address at a full door: %v, victim %v", why, victim)
	}
	// The heavy address, now at 3, cannot take a slot back: it holds the
	// most.
	if why, _ := l.admit(conn("10.0.0.1")); why != refusedFull {
		t.Fatalf("heavy address at a full door: %v", why)
	}
	// An address holding one still holds fewer than the heaviest (3): it
	// takes the heaviest's next oldest.
	if why, v := l.admit(conn("10.0.1.0")); why != admitted || v != heavy[1] {
		t.Fatalf("light holder at a full door: %v, victim %v", why, v)
	}
	// Now the most any address holds is 2: one holding 1 would hold as
	// many, and is refused.
	if why, _ := l.admit(conn("10.0.1.1")); why != refusedFull {
		t.Fatalf("equal holder at a full door: %v", why)
	}
	l.release(victim) // its Close: nothing left to give back
	if total, _ := l.unauthenticated(""); total != 8 {
		t.Fatalf("slots after the victim closed: %d", total)
	}
}

// Between EarlyDropStart and MaxUnauth, addresses already holding a slot
// are dropped at random with a rising probability; new ones never are.
func TestEarlyDropSparesNewAddresses(t *testing.T) {
	clk := clockwork.NewFake(time.Now())
	l := newLimiter(withDefaults(Limits{MaxUnauth: 10, MaxUnauthPerIP: 8, EarlyDropStart: 2, EarlyDropRate: 0.5}), clk)
	roll := 0.0
	l.rand = func() float64 { return roll }
	conn := func(ip string) *trackedConn { return &trackedConn{ip: ip, l: l} }
	for i := 0; i < 2; i++ {
		if why, _ := l.admit(conn("10.0.0.1")); why != admitted {
			t.Fatal(why)
		}
	}
	// At start (2 of 10) the chance is the rate, 0.5.
	if got := l.dropChance(); got != 0.5 {
		t.Fatalf("drop chance at start: %v", got)
	}
	roll = 0.49
	if why, _ := l.admit(conn("10.0.0.1")); why != refusedEarlyDrop {
		t.Fatalf("holder under the rate: %v", why)
	}
	if why, _ := l.admit(conn("10.0.0.9")); why != admitted {
		t.Fatalf("new address: %v", why)
	}
	roll = 0.6
	if why, _ := l.admit(conn("10.0.0.1")); why != admitted {
		t.Fatalf("holder above the chance: %v", why)
	}
	// 4 of 10: 0.5 + 0.5×2/8.
	if got := l.dropChance(); got != 0.625 {
		t.Fatalf("drop chance at 4 of 10: %v", got)
	}
}

// BenchmarkFloodSlotHold reports how long one idle connection holds an
// unauthenticated slot before the server drops it (the version deadline;
// before it, the 30 s login grace), and how many key logins from a ninth
// address succeed in 20 under a flood of 64 such connections from 8
// addresses, with their latency.
func BenchmarkFloodSlotHold(b *testing.B) {
	for i := 0; i < b.N; i++ {
		e := newEnv(b, func(c *Config) { c.Clock = clockwork.System })
		key := newSigner(b)
		e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
		conn, err := netDial(e.addr)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		_, _ = io.Copy(io.Discard, conn)
		held := time.Since(start)
		conn.Close()

		_, stop := flood(b, e, 8, 8)
		ok := 0
		var lat []time.Duration
		for j := 0; j < 20; j++ {
			t0 := time.Now()
			c, err := e.dialFrom("127.0.0.10", "ada", time.Second, gossh.PublicKeys(key))
			if err == nil {
				lat = append(lat, time.Since(t0))
				ok++
				c.Close()
			}
		}
		stop()
		b.ReportMetric(held.Seconds(), "s-idle-slot-held")
		b.ReportMetric(float64(ok), "logins-ok/20")
		if len(lat) > 0 {
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "login-p50-ms")
			b.ReportMetric(float64(percentile(lat, 1).Microseconds())/1000, "login-max-ms")
		}
	}
}

// The version line names no version (issue 11 item 6): nothing for a
// scanner to match against a list of vulnerable releases.
func TestVersionLineNamesNoVersion(t *testing.T) {
	e := newEnv(t)
	c, err := netDial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line := make([]byte, 0, 64)
	b := make([]byte, 1)
	for len(line) < 255 {
		if _, err := c.Read(b); err != nil {
			t.Fatal(err)
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	if got := string(line); got != "SSH-2.0-sitegate\r" {
		t.Fatalf("version line %q", got)
	}
}

// Budgets and slots are kept per IPv4 address and per IPv6 /64: one host
// usually holds a whole /64.
func TestAddressesAreCountedPerIPv6Slash64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:40000":                   "192.0.2.7",
		"[::ffff:192.0.2.7]:1":              "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:22":         "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:1]:9": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:22":              "2001:db8:1:3::/64",
	} {
		addr, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ipOf(addr); got != want {
			t.Errorf("ipOf(%s) = %s, want %s", in, got, want)
		}
	}
	l := newLimiter(withDefaults(Limits{MaxUnauthPerIP: 2}), clockwork.NewFake(time.Now()))
	for i := 0; i < 3; i++ {
		addr := &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("2001:db8:1:2::%x", i+1))}
		why, _ := l.admit(&trackedConn{ip: ipOf(addr), l: l})
		if want := i < 2; (why == admitted) != want {
			t.Fatalf("connection %d from one /64: %v", i, why)
		}
	}
}
