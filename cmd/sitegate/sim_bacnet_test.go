package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/devicetest"
)

// `sim bacnet` serves a device a BACnet client reads, commands by
// priority and hears from by COV; --print-site prints a device entry the
// site takes.
func TestSimBACnet(t *testing.T) {
	r := sitegate(t, "", "sim", "bacnet", "--listen", "127.0.0.1:47809", "--instance", "1234", "--print-site")
	if r.code != 0 {
		t.Fatalf("--print-site: %+v", r)
	}
	site, err := device.ParseSite([]byte("site: {name: sim test}\n" + strings.Replace(r.stdout, "bacnet:\n", "bacnet:\n  address: 127.0.0.1\n  device_instance: 4000001\n", 1)))
	if err != nil {
		t.Fatalf("the printed entry does not import: %v\n%s", err, r.stdout)
	}
	if d := site.BACnet.Devices[0]; *d.Instance != 1234 || d.Address != "127.0.0.1:47809" || len(d.Points) != 8 || !d.Points[4].Writable {
		t.Fatalf("%+v", d)
	}

	out := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- executeContext(ctx, []string{"sim", "bacnet", "--listen", "127.0.0.1:0", "--instance", "1234"}, streams{strings.NewReader(""), out, io.Discard})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("sim bacnet exit %d:\n%s", code, out.String())
		}
	}()
	var addr netip.AddrPort
	at := regexp.MustCompile(`on (127\.0\.0\.1:\d+) `)
	devicetest.Eventually(t, 10*time.Second, "the simulator listening", func() bool {
		m := at.FindStringSubmatch(out.String())
		if m != nil {
			addr = netip.MustParseAddrPort(m[1])
		}
		return m != nil
	})
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	link, _ := node.NewBIP(node.BIPConfig{Conn: conn})
	covs := make(chan node.COV, 64)
	c, err := node.New(node.Config{Link: link, OnCOV: func(cv node.COV) {
		select {
		case covs <- cv:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, c)
	dev := node.IP(addr)
	list, err := c.ReadObjectList(ctx, dev, stack.ObjectID{Type: stack.ObjectDevice, Instance: 1234})
	if err != nil || len(list) != 9 {
		t.Fatalf("object-list %v %v", list, err)
	}
	setpoint := stack.ObjectID{Type: stack.ObjectAnalogValue, Instance: 1}
	if err := c.Write(ctx, dev, setpoint, stack.Real(21), 8); err != nil {
		t.Fatal(err)
	}
	pa, err := c.ReadProperty(ctx, dev, stack.PropertyRef{Object: setpoint, Property: stack.PropPriorityArray, Index: 8})
	if err != nil || pa[0].Real != 21 {
		t.Fatalf("priority-array[8] %v %v", pa, err)
	}
	supply := stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}
	if _, err := c.Subscribe(ctx, dev, supply, node.SubscribeOptions{Lifetime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	select {
	case cv := <-covs:
		if cv.Notification.Object != supply {
			t.Fatalf("cov %+v", cv)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no COV notification")
	}
}

func TestSimBACnetUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "bacnet"}, "--listen is required"},
		{[]string{"sim", "bacnet", "--listen", "localhost:47808"}, "give an IPv4 address and a port"},
		{[]string{"sim", "bacnet", "--listen", "127.0.0.1:47808", "--instance", "4194303"}, "--instance 4194303: give 0..4194302"},
	} {
		if r := sitegate(t, "", c.args...); r.code != 2 || !strings.Contains(r.stder, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stder, c.want)
		}
	}
}
