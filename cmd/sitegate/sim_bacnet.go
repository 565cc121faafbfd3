package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// simBACnetOptions are the flags of `sim bacnet`.
type simBACnetOptions struct {
	listen    string
	instance  uint32
	name      string
	noCOV     bool
	printSite bool
}

func newSimBACnetCmd(s streams) *cobra.Command {
	o := simBACnetOptions{instance: 1001}
	cmd := &cobra.Command{
		Use:   "bacnet --listen ADDR [--instance N] [--name NAME] [--no-cov] [--print-site]",
		Short: "Serve a simulated BACnet/IP device with moving values",
		Long: "Serve a simulated BACnet/IP device: an air-handling unit's controller with moving\n" +
			"temperatures and a filter alarm (analog-input:1..3, binary-input:1), and commandable\n" +
			"objects with a priority array (analog-value:1 setpoint, analog-output:1 valve,\n" +
			"binary-output:1 fan, multi-state-value:1 mode). It answers Who-Is (also broadcast,\n" +
			"on the subnet of ADDR), ReadProperty, ReadPropertyMultiple, WriteProperty and\n" +
			"SubscribeCOV (unless --no-cov). --print-site prints the site's bacnet device entry.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSimBACnet(cmd.Context(), s, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "IPv4 address and UDP port to serve on, e.g. 127.0.0.1:47809")
	f.Uint32Var(&o.instance, "instance", o.instance, fmt.Sprintf("the device instance, 0..%d", device.MaxBACnetInstance))
	f.StringVar(&o.name, "name", "", "the Device object's name (default sim-INSTANCE)")
	f.BoolVar(&o.noCOV, "no-cov", false, "refuse SubscribeCOV, as small controllers do")
	f.BoolVar(&o.printSite, "print-site", false, "print the site file's bacnet device entry for this simulator and exit")
	return cmd
}

func runSimBACnet(ctx context.Context, s streams, o simBACnetOptions) error {
	if o.listen == "" {
		return usagef("--listen is required: the IPv4 address and UDP port to serve on, e.g. 127.0.0.1:47809")
	}
	ap, err := netip.ParseAddrPort(o.listen)
	if err != nil || !ap.Addr().Is4() {
		return usagef("--listen %q: give an IPv4 address and a port, e.g. 127.0.0.1:47809 (port 0: any free one)", o.listen)
	}
	if o.instance > device.MaxBACnetInstance {
		return usagef("--instance %d: give 0..%d", o.instance, device.MaxBACnetInstance)
	}
	specs := bacnetsim.Defaults()
	if o.printSite {
		printSimSite(s.out, ap, o.instance, specs)
		return nil
	}
	log := slog.New(slog.NewTextHandler(s.err, nil))
	dev, socks, err := startBACnetSim(ctx, ap, bacnetsim.Config{Instance: o.instance, Name: o.name, Objects: specs, NoCOV: o.noCOV})
	if err != nil {
		return err
	}
	defer socks.Close()
	heard := "broadcasts on " + socks.BroadcastAddr.String()
	if socks.BroadcastErr != nil {
		heard = "broadcasts not heard: " + socks.BroadcastErr.Error()
	}
	fmt.Fprintf(s.out, "simulated BACnet device %d on %s (%s) with %d objects; Ctrl-C stops it\n", o.instance, socks.Local, heard, len(specs))
	for _, sp := range specs {
		fmt.Fprintf(s.out, "  %-22s %s\n", sp.ID, sp.Name)
	}
	err = dev.Run(ctx)
	log.Info("simulated BACnet device stopped", "served", dev.Node().Stats().Served)
	if err != nil && !errors.Is(err, ctx.Err()) {
		return err
	}
	return nil
}

// startBACnetSim opens the sockets at ap (and the broadcast address of
// the interface holding it, when there is one) and builds the device on
// them; the caller runs it and closes the sockets.
func startBACnetSim(ctx context.Context, ap netip.AddrPort, cfg bacnetsim.Config) (*bacnetsim.Device, *bacnet.Sockets, error) {
	bind, err := bacnet.ResolveBinding(device.BACnet{Address: ap.Addr().String(), Port: int(ap.Port())}, nil)
	switch {
	case err == nil:
	case ap.Addr().Is4() && ap.Addr().IsLoopback():
		// Linux answers every 127/8 address on lo, whose broadcast is
		// 127.255.255.255: a simulator on 127.0.0.2 at the gateway's
		// port hears its Who-Is like a controller on the same subnet.
		bind = bacnet.Binding{Local: ap, Broadcast: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 255, 255, 255}), ap.Port())}
	default:
		bind = bacnet.Binding{Local: ap} // not an address of this host's interfaces: bind fails below with why
	}
	if ap.Port() == 0 {
		// Port 0 is any free one; in a site it means the standard port,
		// which ResolveBinding put in.
		bind.Local = netip.AddrPortFrom(bind.Local.Addr(), 0)
	}
	socks, err := bacnet.OpenSockets(ctx, bacnet.ListenUDP, bind)
	if err != nil {
		return nil, nil, err
	}
	link, err := node.NewBIP(node.BIPConfig{Conn: socks.Unicast, BroadcastConn: socks.Broadcast, Broadcast: socks.BroadcastAddr})
	if err == nil {
		cfg.Link = link
		var dev *bacnetsim.Device
		if dev, err = bacnetsim.New(cfg); err == nil {
			return dev, socks, nil
		}
	}
	socks.Close()
	return nil, nil, err
}

// printSimSite writes the bacnet device entry that reads the simulator.
func printSimSite(w io.Writer, ap netip.AddrPort, instance uint32, specs []bacnetsim.Spec) {
	fmt.Fprintf(w, "# The simulator's objects (sitegate sim bacnet --listen %s --instance %d).\n", ap, instance)
	fmt.Fprintf(w, "bacnet:\n  devices:\n    - name: sim-%d\n      instance: %d\n      address: %q\n      cov: true\n      points:\n", instance, instance, ap.String())
	for _, sp := range specs {
		extra := ""
		if sp.Commandable {
			extra = ", writable: true, priority: 8"
		}
		fmt.Fprintf(w, "        - {name: %s, object: %s%s}\n", strings.ReplaceAll(sp.Name, "-", "_"), sp.ID, extra)
	}
}

// simSpecsFor are the simulated objects a site device reads: the default
// controller's where it has them, plain ones otherwise.
func simSpecsFor(d device.BACnetDevice) []bacnetsim.Spec {
	defaults := map[stack.ObjectID]bacnetsim.Spec{}
	for _, sp := range bacnetsim.Defaults() {
		defaults[sp.ID] = sp
	}
	seen := map[stack.ObjectID]bool{}
	var out []bacnetsim.Spec
	for _, p := range d.Points {
		id, ok := p.ObjectID()
		if !ok || seen[id] || id.Type == stack.ObjectDevice {
			continue
		}
		seen[id] = true
		if sp, ok := defaults[id]; ok {
			out = append(out, sp)
			continue
		}
		out = append(out, bacnetsim.SpecFor(id, strings.ReplaceAll(p.Name, "_", "-"), p.Writable))
	}
	return out
}

// The demo's spare BACnet controller: not in the demo site, so that a
// Who-Is from the console (Field tab, s on the BACnet node) or
// `bacnet discover` finds a device to add.
const (
	demoSpareBACnetInstance = 2001
	demoSpareBACnetName     = "VAV-3"
	demoSpareBACnetAddr     = "127.0.0.3"
)

// startDemoBACnet serves a simulated controller for every BACnet/IP
// device of the site with a loopback address (the demo never sends
// anything off the machine), and a spare one not in the site at
// demoSpareBACnetAddr on the gateway's port, until ctx ends. It returns a
// function that waits for them to stop. An address that is taken is left
// alone (its device shows offline).
func startDemoBACnet(ctx context.Context, site *device.Site, log *slog.Logger) (wait func()) {
	type sim struct {
		name string
		ap   netip.AddrPort
		cfg  bacnetsim.Config
	}
	var sims []sim
	for _, d := range site.BACnet.Devices {
		ap, err := device.ParseBACnetAddress(d.Address)
		if d.Bus != "" || d.Network != 0 || err != nil || !ap.Addr().IsLoopback() || d.Instance == nil {
			continue
		}
		sims = append(sims, sim{d.Name, ap, bacnetsim.Config{Instance: uint32(*d.Instance), Name: d.Name, Objects: simSpecsFor(d)}})
	}
	if a, err := netip.ParseAddr(site.BACnet.Address); err == nil && a.IsLoopback() {
		ap := netip.AddrPortFrom(netip.MustParseAddr(demoSpareBACnetAddr), uint16(site.BACnet.EffectivePort()))
		sims = append(sims, sim{"spare", ap, bacnetsim.Config{Instance: demoSpareBACnetInstance, Name: demoSpareBACnetName}})
	}
	done := make(chan struct{})
	running := 0
	for _, s := range sims {
		d, ap := s, s.ap
		dev, socks, err := startBACnetSim(ctx, ap, s.cfg)
		if err != nil {
			log.Warn("demo: cannot simulate the BACnet device", "device", d.name, "address", ap.String(), "err", err)
			continue
		}
		running++
		go func() {
			defer func() { done <- struct{}{} }()
			defer socks.Close()
			if err := dev.Run(ctx); err != nil && ctx.Err() == nil {
				log.Warn("demo: simulated BACnet device stopped", "device", d.name, "err", err)
			}
		}()
		log.Info("demo: simulated BACnet device", "device", d.name, "instance", d.cfg.Instance, "address", socks.Local.String())
	}
	return func() {
		for range running {
			<-done
		}
	}
}
