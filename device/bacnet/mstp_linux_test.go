//go:build linux

package bacnet_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/internal/ptytest"
	"github.com/sitegate/sitegate/device/bacnet/mstp"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// A device on the gateway's own MS/TP line, over a pseudo-terminal pair:
// found by a Who-Is on the line, polled, subscribed to, written. No
// BACnet/IP port opens for it.
func TestMSTPDevice(t *testing.T) {
	gwEnd, devEnd := ptytest.Pair(t)
	line, err := mstp.New(mstp.Config{Port: devEnd, MAC: 5, MaxMaster: 8, Baud: 38400})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := bacnetsim.New(bacnetsim.Config{Instance: 501, Link: line, Step: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.BACnet = device.BACnet{
		MSTP: []device.MSTPBus{{Name: "mstp-1", Device: "/dev/ttyS9", MAC: intp(1), MaxMaster: 8}},
		Devices: []device.BACnetDevice{{Name: "vav", Instance: intp(501), Bus: "mstp-1", COV: true, Interval: device.Duration(time.Second),
			Points: []device.BACnetPoint{
				{Name: "zone", Object: "analog-input:2"},
				{Name: "valve", Object: "analog-output:1", Writable: true, Priority: 8},
			}}},
	}
	opened := ""
	f := startGateway(t, site, bacnet.Options{OpenSerial: func(path string, baud int) (io.ReadWriteCloser, error) {
		opened = path
		return gwEnd, nil
	}})
	// Started after the gateway, so it stops first: the gateway closing
	// the line under a running device would end it with an error.
	devicetest.Run(t, sim)
	f.reading("vav", "zone", "read over MS/TP", func(r field.Reading) bool { return r.Quality == field.QualityGood && r.Unit == "degC" })
	if opened != "/dev/ttyS9" {
		t.Fatalf("opened %q", opened)
	}
	ds := f.drv.Devices()
	if ds[0].Address != "5" || ds[0].Static || ds[0].Link != "mstp-1" {
		t.Fatalf("device %+v", ds[0])
	}
	if st := f.drv.State(); len(st.Links) != 1 || st.Links[0].Kind != "mstp" || st.Links[0].MSTP == nil || st.Links[0].MSTP.TokensReceived == 0 {
		t.Fatalf("links %+v", st.Links)
	}
	devicetest.Eventually(t, wait, "zone on COV", func() bool { p, _ := f.drv.Points("vav"); return p[0].Mode == bacnet.ModeCOV })
	_ = sim.Set(oid("analog-input:2"), 23.75, false)
	f.reading("vav", "zone", "23.75 by COV", func(r field.Reading) bool { return r.Value.Num == 23.75 })
	if err := f.gw.WritePoint(context.Background(), device.LocalActor, field.Write{Device: "vav", Point: "valve", Value: field.Number(40)}); err != nil {
		t.Fatal(err)
	}
	if v, _ := sim.Value(oid("analog-output:1")); v != 40 {
		t.Fatalf("valve %v", v)
	}
}
