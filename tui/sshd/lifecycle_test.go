package sshd

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// syncBuffer collects a console's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// When the gateway stops, an open console leaves the alternate screen and
// says why before its connection closes, and Run returns within the grace.
func TestShutdownRestoresOpenConsoles(t *testing.T) {
	e := newEnv(t)
	key := newSigner(t)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	c, _, fr := openConsole(t, e, "ada", key, "")
	defer c.Close()
	var out syncBuffer
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(&out, fr.r); close(ended) }()
	start := time.Now()
	e.shutdown()
	if took := time.Since(start); took > DefaultShutdownGrace+2*time.Second {
		t.Errorf("Run took %v to stop", took)
	}
	select {
	case <-ended:
	case <-time.After(tuitest.Wait):
		t.Fatal("the console's output never ended")
	}
	got := out.String()
	leave := strings.LastIndex(got, ansi.ResetModeAltScreenSaveCursor)
	said := strings.LastIndex(got, "Session ended: the gateway is stopping")
	if leave < 0 || said < leave {
		t.Fatalf("the console did not leave the alternate screen (at %d) before saying why (at %d):\n%q", leave, said, got[max(0, len(got)-400):])
	}
}

// blackhole accepts TCP connections and never answers: every Modbus
// request to it times out.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 8<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// A bus scan started in the console runs under the session: closing the
// session ends it, and no goroutine of it is left.
func TestBusScanEndsWithTheSession(t *testing.T) {
	e := newEnv(t)
	site, rev := e.gw.Site()
	// 247 units at one probe timeout each: the scan would take half a
	// minute.
	site.Modbus.Buses = []device.Bus{{Name: "dead", Kind: device.BusTCP, Address: blackhole(t), Timeout: device.Duration(200 * time.Millisecond)}}
	site.Modbus.Devices = []device.Device{{Name: "ghost", Bus: "dead", UnitID: 1, Interval: device.Duration(time.Hour),
		Points: []device.Point{{Name: "x", Table: device.TableHolding, Type: device.TypeUint16}}}}
	if _, err := e.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, modbus.New(e.gw, modbus.Options{Logger: quietLog}))
	key := newSigner(t)
	e.addUser("ivy", device.RoleInstaller, userOpt{key: key, keyOnly: true})
	const discover = "modbus.(*Engine).Discover"
	before := goroutinesIn(discover)
	c, s, fr := openConsole(t, e, "ivy", key, "")
	defer c.Close()
	go fr.drainAll()
	// The field tab, down to the bus, scan.
	if _, err := fr.in.Write([]byte("4js")); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, tuitest.Wait, "the scan running", func() bool { return goroutinesIn(discover) > before })
	devicetest.Eventually(t, tuitest.Wait, "the console waiting for the scan's progress", func() bool { return goroutinesIn("waitProgress") > 0 })
	s.Close()
	devicetest.Eventually(t, tuitest.Wait, "the scan's goroutines gone after the session closed", func() bool {
		return goroutinesIn(discover) == before && goroutinesIn("waitProgress") == 0
	})
	if got := auditActionsOf(e, "field.scan"); got != "field.scan:failed" {
		t.Fatalf("the cancelled scan was audited %q", got)
	}
}

// auditActionsOf returns the audit events of one action.
func auditActionsOf(e *env, action string) string {
	var out []string
	for _, a := range e.auditActions() {
		if strings.HasPrefix(a, action+":") {
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}
