package main

import (
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
)

// `sim snmp` serves a UPS net-snmp's snmpget reads; --print-site prints
// an snmp section the site takes.
func TestSimSNMP(t *testing.T) {
	r := sitegate(t, "", "sim", "snmp", "--listen", "127.0.0.1:16161", "--print-site")
	if r.code != 0 {
		t.Fatalf("--print-site: %+v", r)
	}
	site, err := device.ParseSite([]byte("site: {name: sim test}\n" + r.stdout))
	if err != nil || len(site.SNMP.Devices) != 2 || site.SNMP.Devices[0].Profile != "ups-mib" {
		t.Fatalf("the printed section does not import: %v\n%s", err, r.stdout)
	}
	if r := sitegate(t, "", "sim", "snmp", "--listen", "localhost"); r.code != 2 {
		t.Fatalf("bad --listen: %+v", r)
	}

	out := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- executeContext(ctx, []string{"sim", "snmp", "--listen", "127.0.0.1:0"}, streams{strings.NewReader(""), out, io.Discard})
	}()
	addrRE := regexp.MustCompile(`on (127\.0\.0\.1:\d+);`)
	devicetest.Eventually(t, snmptest.Wait, "the simulator's address", func() bool { return addrRE.MatchString(out.String()) })
	addr := addrRE.FindStringSubmatch(out.String())[1]
	snmptest.Need(t, "snmpget")
	cmd := exec.Command("snmpget", "-v2c", "-c", "demo", "-On", addr, "1.3.6.1.2.1.33.1.2.4.0")
	cmd.Env = snmptest.Env()
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), ".1.3.6.1.2.1.33.1.2.4.0 = INTEGER:") {
		t.Fatalf("snmpget: %v %s", err, got)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
