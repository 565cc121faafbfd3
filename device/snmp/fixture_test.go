package snmp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
)

const wait = 15 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ephemeral stands in for ListenUDP: the site's trap port becomes port 0,
// so tests never use a fixed port.
func ephemeral(ctx context.Context, addr string) (net.PacketConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return snmp.ListenUDP(ctx, net.JoinHostPort(host, "0"))
}

// fixture is a real gateway on a real bbolt file with the SNMP driver.
type fixture struct {
	t    testing.TB
	gw   *device.Gateway
	drv  *snmp.Driver
	stop func()
}

// startGateway stores site and runs the driver until the test ends.
func startGateway(t testing.TB, site *device.Site, o snmp.Options) *fixture {
	t.Helper()
	site.Site.Name = "SNMP test"
	gw := devicetest.Gateway(t, site)
	if o.Logger == nil {
		o.Logger = quiet
	}
	if o.Listen == nil {
		o.Listen = ephemeral
	}
	drv := snmp.NewDriver(gw, o)
	f := &fixture{t: t, gw: gw, drv: drv, stop: devicetest.Start(t, drv)}
	devicetest.Eventually(t, wait, "the driver attached", func() bool { _, ok := snmp.From(gw); return ok })
	return f
}

// edit applies a change to the stored site.
func (f *fixture) edit(change func(s *device.Site)) {
	f.t.Helper()
	if _, err := f.gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error { change(s); return nil }); err != nil {
		f.t.Fatal(err)
	}
}

func v2c(name, addr string, points ...device.SNMPPoint) device.SNMPDevice {
	return device.SNMPDevice{Name: name, Address: addr, Version: device.SNMPv2c, Community: snmptest.Community,
		Interval: device.Duration(time.Second), Timeout: device.Duration(500 * time.Millisecond), Points: points}
}

func v3(name, addr string, u device.SNMPUser, points ...device.SNMPPoint) device.SNMPDevice {
	return device.SNMPDevice{Name: name, Address: addr, Version: device.SNMPv3, User: &u,
		Interval: device.Duration(time.Second), Timeout: device.Duration(500 * time.Millisecond), Points: points}
}

func sha256aes128() device.SNMPUser {
	return device.SNMPUser{Name: snmptest.User256, Auth: device.SNMPAuthSHA256, AuthKey: snmptest.AuthKey256, Priv: device.SNMPPrivAES128, PrivKey: snmptest.PrivKey256}
}

func sha512aes256() device.SNMPUser {
	return device.SNMPUser{Name: snmptest.User512, Auth: device.SNMPAuthSHA512, AuthKey: snmptest.AuthKey512, Priv: device.SNMPPrivAES256, PrivKey: snmptest.PrivKey512}
}
