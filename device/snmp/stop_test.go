package snmp_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/snmp"
)

// A request waiting on an agent that never answers ends when its context
// does, not when its timeout runs out; the driver stops with it.
func TestCancelEndsTheWait(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dev := v2c("silent", silent.LocalAddr().String(), device.SNMPPoint{Name: "p", OID: "1.3.6.1.2.1.1.3.0"})
	dev.Timeout, dev.Retries = device.Duration(30*time.Second), ptr(10)
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{dev}
	f := startGateway(t, site, snmp.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.drv.Get(ctx, "silent", []string{"1.3.6.1.2.1.1.5.0"}); done <- err }()
	cancel()
	if !devicetest.Within(wait, func() bool { return len(done) == 1 }) {
		t.Fatal("Get still waits after its context ended")
	}
	if err := <-done; err == nil {
		t.Fatal("Get of a silent agent succeeded")
	}
	stopped := make(chan struct{})
	go func() { f.stop(); close(stopped) }()
	if !devicetest.Within(wait, func() bool {
		select {
		case <-stopped:
			return true
		default:
			return false
		}
	}) {
		t.Fatal("the driver does not stop while its poller waits on a silent agent")
	}
}
