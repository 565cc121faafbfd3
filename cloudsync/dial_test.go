package cloudsync_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/endpoints"
)

// With the endpoints allow-list as its dialer the uplink reaches a listed
// broker over mutual TLS and is refused, with the reason in its status,
// for one the site does not list.
func TestUplinkDialsThroughTheAllowList(t *testing.T) {
	e := newEnv(t)
	host, port, _ := net.SplitHostPort(e.broker.Addr())
	n, _ := strconv.Atoi(port)
	l := endpoints.New(endpoints.Options{})
	l.Set([]device.Endpoint{{Host: host, Port: n + 1}})
	e.startUplink(func(c *cloudsync.Config) { c.Dial = l.DialContext })
	waitFor(t, "the refusal in the uplink's status", func() bool {
		return strings.Contains(e.up.Status().LastError, "not in the site's endpoints")
	})
	if e.up.Status().Connected {
		t.Fatal("connected to a broker the site does not list")
	}
	l.Set([]device.Endpoint{{Host: host, Port: n}})
	waitFor(t, "connected to the listed broker", func() bool { return e.up.Status().Connected })
}
