package snmpsim_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/sitegate/sitegate/device/snmp/snmpsim"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
)

func start(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := snmpsim.New(conn, snmpsim.Config{Community: "demo", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return a.Addr()
}

func netsnmp(t *testing.T, tool string, args ...string) string {
	t.Helper()
	snmptest.Need(t, tool)
	cmd := exec.Command(tool, append([]string{"-v2c", "-c", "demo", "-On", "-t", "1", "-r", "1"}, args...)...)
	cmd.Env = snmptest.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// net-snmp's own tools read the simulator: GET, a GETNEXT walk and a
// GETBULK walk agree, and end at the end of the view.
func TestNetSNMPReadsTheSimulator(t *testing.T) {
	addr := start(t)
	if out := netsnmp(t, "snmpget", addr, "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.33.1.2.1.0"); !strings.Contains(out, `.1.3.6.1.2.1.1.5.0 = STRING: "sim-ups"`) ||
		!strings.Contains(out, ".1.3.6.1.2.1.33.1.2.1.0 = INTEGER: 2") {
		t.Fatalf("snmpget:\n%s", out)
	}
	walk := netsnmp(t, "snmpwalk", addr, "1.3.6.1")
	bulk := netsnmp(t, "snmpbulkwalk", addr, "1.3.6.1")
	lines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			oid, _, _ := strings.Cut(l, " ")
			out = append(out, oid)
		}
		return out
	}
	if w, b := lines(walk), lines(bulk); len(w) < 50 || strings.Join(w, ",") != strings.Join(b, ",") {
		t.Fatalf("snmpwalk (%d) and snmpbulkwalk (%d) differ:\n%s\n---\n%s", len(w), len(b), walk, bulk)
	}
	if !strings.Contains(walk, ".1.3.6.1.2.1.31.1.1.1.6.1 = Counter64:") || !strings.Contains(walk, ".1.3.6.1.2.1.2.2.1.6.2 = Hex-STRING: 02 00 5E 10 00 02") {
		t.Fatalf("snmpwalk:\n%s", walk)
	}
	// A wrong community gets no answer at all.
	cmd := exec.Command("snmpget", "-v2c", "-c", "wrong", "-t", "0.3", "-r", "0", addr, "1.3.6.1.2.1.1.5.0")
	cmd.Env = snmptest.Env()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Timeout") {
		t.Fatalf("wrong community: %v %s", err, out)
	}
}
