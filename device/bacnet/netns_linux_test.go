//go:build linux

package bacnet_test

// Broadcast discovery needs two hosts on port 47808. The test makes them
// from network namespaces joined by a veth pair:
//
//	namespace gw (the gateway)                 namespace peer (@bacnet-js/client)
//	bac0 10.99.0.1/24 ─────────── veth ─────────── bac1 10.99.0.2/24
//
// The gateway runs in a child process started with `ip netns exec gw`:
// the test binary itself, told by an environment variable to run the
// helper instead of the tests, with a real store in a temporary
// directory, bacnet.interface: bac0 and a device known only by its
// instance. It prints one JSON line per report. The peer runs with `ip
// netns exec peer`, bound to 0.0.0.0:47808 so it hears broadcasts.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/internal/peertest"
	"github.com/sitegate/sitegate/device/field"
)

// requireNetns skips where namespaces cannot be made, except in CI.
func requireNetns(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs ip (iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI must run it", why)
	}
	t.Skip(why)
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Who-Is broadcast both ways between two namespaces on port 47808: the
// gateway finds a device known only by its instance, discovery lists it
// with vendor and object count, and the peer's broadcast Who-Is finds the
// gateway (through the gateway's receive-only broadcast socket).
func TestBroadcastDiscoveryBetweenNamespaces(t *testing.T) {
	requireNetns(t)
	peertest.Need(t)
	gwNS := fmt.Sprintf("sg-bac-gw-%d", os.Getpid())
	peerNS := fmt.Sprintf("sg-bac-peer-%d", os.Getpid())
	for _, ns := range []string{gwNS, peerNS} {
		_ = exec.Command("ip", "netns", "del", ns).Run() // a leftover of a killed run
		ip(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("remove namespace %s: %v %s", ns, err, out)
			}
		})
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	ip(t, "-n", gwNS, "link", "add", "bac0", "type", "veth", "peer", "name", "bac1", "netns", peerNS)
	ip(t, "-n", gwNS, "addr", "add", "10.99.0.1/24", "brd", "+", "dev", "bac0")
	ip(t, "-n", peerNS, "addr", "add", "10.99.0.2/24", "brd", "+", "dev", "bac1")
	ip(t, "-n", gwNS, "link", "set", "bac0", "up")
	ip(t, "-n", peerNS, "link", "set", "bac1", "up")

	p := peertest.Start(t, peertest.Options{Instance: 1234, Bind: "0.0.0.0", Port: 47808, Broadcast: "10.99.0.255",
		Host: "10.99.0.2", Prefix: []string{"ip", "netns", "exec", peerNS}})

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", gwNS, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+t.TempDir())
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
	reports := make(chan helperReport, 1000)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r helperReport
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				reports <- r
			}
		}
		close(reports)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("helper: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("helper log:\n%s", stderr.String())
		}
	})

	var last helperReport
	var found []bacnet.Discovered
	deadline := time.After(20 * time.Second)
	for found == nil || last.Reading == nil || last.Reading.Quality != field.QualityGood {
		select {
		case r, ok := <-reports:
			if !ok {
				t.Fatalf("the helper ended; last report %+v", last)
			}
			if r.Error != "" {
				t.Fatalf("helper: %s", r.Error)
			}
			if r.Found != nil {
				found = r.Found
			}
			last = r
		case <-deadline:
			t.Fatalf("no good reading and discovery within 20s; last report %+v", last)
		}
	}
	if l := last.Link; l.Local != "10.99.0.1:47808" || l.Broadcast != "10.99.0.255:47808" || l.BroadcastError != "" {
		t.Fatalf("link %+v", l)
	}
	if d := last.Device; d.Address != "10.99.0.2:47808" || d.Static || !d.Found || last.Reading.Value.Num != 21.5 {
		t.Fatalf("device %+v, reading %+v", d, last.Reading)
	}
	if len(found) != 1 || found[0].Instance != 1234 || found[0].Address != "10.99.0.2:47808" || found[0].Vendor != "@bacnet-js/client" || found[0].Objects != 4 || found[0].Site != "node-peer" {
		t.Fatalf("discovered %+v", found)
	}
	// The other way: the peer broadcasts Who-Is on its subnet.
	var iams []map[string]any
	if err := p.Do(map[string]any{"cmd": "whoIs", "wait": 1000}, &iams); err != nil {
		t.Fatal(err)
	}
	if len(iams) != 1 || iams[0]["deviceId"] != float64(4000001) || iams[0]["address"] != "10.99.0.1" {
		t.Fatalf("the peer's broadcast found %v", iams)
	}
	if e := p.Event(map[string]any{"event": "whoIs", "from": "10.99.0.1"}); e == nil {
		t.Fatalf("the peer never saw the gateway's broadcast Who-Is: %v", p.Events())
	}
}
