//go:build linux

package devicetest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// RequireNetns skips a test that needs network namespaces (root, ip from
// iproute2) and the named tools where they are missing, except in CI,
// where it fails.
func RequireNetns(tb testing.TB, tools ...string) {
	tb.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces"
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil && why == "" {
			why = "needs " + tool
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s; CI must run it", why)
	}
	tb.Skip(why)
}

// Netns makes a network namespace named prefix-PID with its loopback up,
// removed when the test ends, and returns its name.
func Netns(tb testing.TB, prefix string) string {
	tb.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	_ = exec.Command("ip", "netns", "del", ns).Run() // a leftover of a killed run
	IP(tb, "netns", "add", ns)
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			tb.Errorf("remove namespace %s: %v %s", ns, err, out)
		}
	})
	IP(tb, "-n", ns, "link", "set", "lo", "up")
	return ns
}

// IP runs ip(8) and fails the test if it fails.
func IP(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// InNetns runs fn on an OS thread switched into the named namespace, and
// returns its error. Sockets fn opens stay in that namespace after it
// returns (a socket belongs to the namespace it was created in), so this
// is how a test listens or dials "from" a namespace.
func InNetns(ns string, fn func() error) error {
	c := make(chan error, 1)
	go func() {
		// The thread stays locked if switching back fails, so that Go
		// discards it instead of reusing it in the wrong namespace.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			c <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			c <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			c <- errors.Join(ferr, fmt.Errorf("switch back: %w", err))
			return
		}
		runtime.UnlockOSThread()
		c <- ferr
	}()
	return <-c
}

// Greeting is what a Greeter sends each connection.
const Greeting = "hi"

// Greeter listens on TCP addr inside the named namespace, greets each
// connection with Greeting and closes it, until the test ends. It is the
// "any allowed TCP listener" of the firewall tests.
func Greeter(tb testing.TB, ns, addr string) net.Listener {
	tb.Helper()
	var ln net.Listener
	if err := InNetns(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		tb.Fatalf("listen on %s in %s: %v", addr, ns, err)
	}
	done := make(chan struct{})
	tb.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(Greeting))
			c.Close()
		}
	}()
	return ln
}

// DialGreeter connects to a Greeter at addr from inside the named
// namespace and reads its greeting; a firewall that drops the connection
// makes it fail within a second.
func DialGreeter(ns, addr string) error {
	return InNetns(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, len(Greeting))
		if _, err := io.ReadFull(c, b); err != nil || string(b) != Greeting {
			return fmt.Errorf("read the greeting %q: %v", b, err)
		}
		return nil
	})
}
