package bacnet_test

// The test binary doubles as helper processes: the gateway inside a
// network namespace (netnsHelper) and a farm of simulated devices whose
// memory does not count against the gateway's (simFarm).

import (
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/store"
)

const simFarmEnv = "SITEGATE_BACNET_SIM_FARM"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(netnsHelper(dir))
	}
	if spec := os.Getenv(simFarmEnv); spec != "" {
		os.Exit(simFarm(spec))
	}
	os.Exit(m.Run())
}

const helperEnv = "SITEGATE_BACNET_NETNS_HELPER"

// helperReport is one line of the helper's output.
type helperReport struct {
	Reading *field.Reading      `json:"reading,omitempty"`
	Device  *bacnet.DeviceState `json:"device,omitempty"`
	Link    *bacnet.LinkState   `json:"link,omitempty"`
	Found   []bacnet.Discovered `json:"found,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// netnsHelper runs a gateway with the BACnet driver until stdin closes.
func netnsHelper(dir string) int {
	enc := json.NewEncoder(os.Stdout)
	fail := func(err error) int { _ = enc.Encode(helperReport{Error: err.Error()}); return 1 }
	st, err := store.Open(dir)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	gw, err := device.NewGateway(st, device.GatewayOptions{})
	if err != nil {
		return fail(err)
	}
	s := device.DefaultSite()
	s.BACnet = device.BACnet{Interface: "bac0", DeviceInstance: intp(4000001),
		Devices: []device.BACnetDevice{{Name: "node-peer", Instance: intp(1234), Interval: device.Duration(time.Second),
			Points: []device.BACnetPoint{{Name: "supply", Object: "analog-input:1"}}}},
		Serve: []device.BACnetServe{{Point: "node-peer.supply", Object: "analog-value:1"}}}
	s.ApplyDefaults()
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import", Base: gw.Rev()}, s); err != nil {
		return fail(err)
	}
	drv := bacnet.NewDriver(gw, bacnet.Options{Logger: quiet, DiscoverWait: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- drv.Run(ctx) }()
	stdin := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdin) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	discovered := false
	for {
		select {
		case <-stdin:
			cancel()
			if err := <-done; err != nil {
				return fail(err)
			}
			return 0
		case <-tick.C:
		}
		var rep helperReport
		if rs, ok := gw.Readings("node-peer"); ok {
			rep.Reading = &rs[0]
		}
		if ds := drv.Devices(); len(ds) == 1 {
			rep.Device = &ds[0]
		}
		if ls := drv.State().Links; len(ls) == 1 {
			rep.Link = &ls[0]
		}
		if !discovered && rep.Link != nil && rep.Link.Running {
			found, err := drv.DiscoverDevices(ctx, bacnet.DiscoverQuery{}, nil)
			if err != nil {
				rep.Error = err.Error()
			}
			rep.Found, discovered = found, true
		}
		_ = enc.Encode(rep)
	}
}

// simFarm serves DEVICES simulated devices of POINTS analog inputs each
// ("DEVICES,POINTS") on loopback, prints their addresses as one JSON list,
// and serves until stdin closes.
func simFarm(spec string) int {
	devs, points, _ := strings.Cut(spec, ",")
	nd, _ := strconv.Atoi(devs)
	np, _ := strconv.Atoi(points)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var addrs []string
	done := make(chan error, nd)
	for i := range nd {
		socks, err := bacnet.OpenSockets(ctx, bacnet.ListenUDP, bacnet.Binding{Local: netip.MustParseAddrPort("127.0.0.1:0")})
		if err != nil {
			return 1
		}
		link, _ := node.NewBIP(node.BIPConfig{Conn: socks.Unicast})
		specs := make([]bacnetsim.Spec, np)
		for j := range specs {
			specs[j] = bacnetsim.SpecFor(stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: uint32(j + 1)}, "ai-"+strconv.Itoa(j+1), false)
		}
		d, err := bacnetsim.New(bacnetsim.Config{Instance: uint32(10000 + i), Link: link, Objects: specs, Step: time.Hour})
		if err != nil {
			return 1
		}
		go func() { done <- d.Run(ctx) }()
		addrs = append(addrs, socks.Local.String())
	}
	_ = json.NewEncoder(os.Stdout).Encode(addrs)
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	for range nd {
		<-done
	}
	return 0
}
