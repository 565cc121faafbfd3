package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/endpoints"
)

// Table is the table the gateway owns: family inet, name sitegate.
const Table = "sitegate"

// Bounds of a ruleset.
const (
	// MaxAllowed is how many addresses the output sets may hold: every
	// endpoint's MaxAddrsPerName.
	MaxAllowed = endpoints.MaxNames * endpoints.MaxAddrsPerName
	// MaxFieldPeers is how many field devices' addresses the output chain
	// lets out by rule (one rule each).
	MaxFieldPeers = 256
)

// Proto is a transport of an opened port.
type Proto uint8

// Transports.
const (
	TCP Proto = 6
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// Kind is the role of an interface.
type Kind string

// Interface roles.
const (
	KindEthernet Kind = "ethernet"
	KindWiFi     Kind = "wifi"
	KindCellular Kind = "cellular"
	KindLAN      Kind = "lan"
	KindVPN      Kind = "vpn" // the support window's tunnel: the SSH console only
)

// Interface is one interface the site names: its drops are counted by
// named counters in_NAME and out_NAME.
type Interface struct {
	Name string
	Kind Kind
}

// Port is one opened port: inbound it is a destination port (on Iface,
// or every interface when empty, to Addr when valid); outbound a
// destination port on Iface to Addr.
type Port struct {
	Proto Proto
	Port  uint16
	Iface string
	Addr  netip.Addr
	Why   string // what needs it (ssh, bacnet, lora, modbus ...)
}

func (p Port) String() string {
	s := fmt.Sprintf("%d/%s", p.Port, p.Proto)
	if p.Addr.IsValid() {
		s = net.JoinHostPort(p.Addr.String(), strconv.Itoa(int(p.Port))) + "/" + p.Proto.String()
	}
	return s + " (" + p.Why + ")"
}

// Spec is what table inet sitegate must hold. Build makes it from the
// site; Apply writes it.
type Spec struct {
	Interfaces []Interface
	// In are the ports open inbound (besides established, loopback and
	// ICMP).
	In []Port
	// Restrict closes the output chain to Allow, Resolvers and Out; false
	// when the site lists no endpoints.
	Restrict bool
	// Allow are the addresses the endpoints resolve to.
	Allow []endpoints.Address
	// Resolvers are the DNS servers the gateway may ask (port 53).
	Resolvers []netip.Addr
	// Out are field peers and broadcasts the drivers send to.
	Out []Port
}

// BuildOptions is what Build needs besides the site.
type BuildOptions struct {
	// SSHAddr is the console's listen address (sitegate run --ssh-addr):
	// ":2222" opens port 2222 on every interface, "192.0.2.5:2222" only to
	// that address, a loopback address nothing (loopback is always open).
	SSHAddr string
	// Allow and Resolvers come from the endpoints list.
	Allow     []endpoints.Address
	Resolvers []netip.Addr
	// Restrict closes the output chain (the endpoints list is enforced).
	Restrict bool
	// VPN is the support tunnel's interface: its drops are counted, and
	// nothing but the SSH console opens on it.
	VPN string
}

// Build returns the ruleset the site allows.
func Build(s *device.Site, o BuildOptions) (*Spec, error) {
	sp := &Spec{Restrict: o.Restrict, Resolvers: slices.Clone(o.Resolvers)}
	kinds := map[string]Kind{}
	addIface := func(n string, k Kind) {
		if _, ok := kinds[n]; n == "" || ok {
			return
		}
		kinds[n] = k
		sp.Interfaces = append(sp.Interfaces, Interface{n, k})
	}
	addIface(s.WAN.Ethernet.Interface, KindEthernet)
	addIface(s.WiFi.Interface, KindWiFi)
	addIface(s.Cellular.Interface, KindCellular)
	for _, n := range s.Firewall.LAN {
		addIface(n, KindLAN)
	}
	addIface(o.VPN, KindVPN)

	if o.SSHAddr != "" {
		host, port, err := net.SplitHostPort(o.SSHAddr)
		if err != nil {
			return nil, fmt.Errorf("ssh address %q: %w", o.SSHAddr, err)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("ssh address %q: port %q is not 1..65535", o.SSHAddr, port)
		}
		p := Port{Proto: TCP, Port: uint16(n), Why: "ssh"}
		if host != "" {
			a, err := netip.ParseAddr(host)
			if err != nil {
				return nil, fmt.Errorf("ssh address %q: %q is not an IP address", o.SSHAddr, host)
			}
			if !a.IsUnspecified() {
				p.Addr = a.Unmap()
			}
		}
		if !p.Addr.IsLoopback() {
			sp.In = append(sp.In, p)
		}
	}

	field := slices.DeleteFunc(s.FieldInterfaces(), func(n string) bool { return n == o.VPN && n != "" })
	if b := s.BACnet; b.UsesIP() {
		port := uint16(b.EffectivePort())
		ifs := field
		if b.Interface != "" && b.Interface != s.Cellular.Interface && !slices.Contains(ifs, b.Interface) {
			ifs = append(slices.Clone(ifs), b.Interface)
		}
		for _, n := range ifs {
			sp.In = append(sp.In, Port{Proto: UDP, Port: port, Iface: n, Why: "bacnet"})
			// Who-Is and its answers are broadcasts the conntrack does not
			// pair: the port is open outbound on the field side too.
			sp.Out = append(sp.Out, Port{Proto: UDP, Port: port, Iface: n, Why: "bacnet"})
		}
		for _, d := range b.Devices {
			if ap, err := device.ParseBACnetAddress(d.Address); err == nil && d.Address != "" {
				sp.Out = append(sp.Out, Port{Proto: UDP, Port: ap.Port(), Addr: ap.Addr(), Why: "bacnet " + d.Name})
			}
		}
		if ap, err := device.ParseBACnetAddress(b.BBMD); err == nil && b.BBMD != "" {
			sp.Out = append(sp.Out, Port{Proto: UDP, Port: ap.Port(), Addr: ap.Addr(), Why: "bacnet bbmd"})
		}
	}
	if l := s.LoRa; l.Running() {
		if ap, err := netip.ParseAddrPort(l.EffectivePacketForwarder()); err == nil && !ap.Addr().IsLoopback() {
			for _, n := range field {
				sp.In = append(sp.In, Port{Proto: UDP, Port: ap.Port(), Iface: n, Why: "lora packet forwarder"})
			}
		}
	}
	for _, b := range s.Modbus.Buses {
		if b.Kind != device.BusTCP {
			continue
		}
		if ap, err := netip.ParseAddrPort(b.Address); err == nil {
			sp.Out = append(sp.Out, Port{Proto: TCP, Port: ap.Port(), Addr: ap.Addr().Unmap(), Why: "modbus " + b.Name})
		}
	}
	sp.Out = dedupe(sp.Out)
	if len(sp.Out) > MaxFieldPeers {
		return nil, fmt.Errorf("%d field peers; at most %d are allowed out", len(sp.Out), MaxFieldPeers)
	}
	if len(o.Allow) > MaxAllowed {
		return nil, fmt.Errorf("%d allowed addresses; at most %d", len(o.Allow), MaxAllowed)
	}
	sp.Allow = slices.Clone(o.Allow)
	return sp, nil
}

func dedupe(ps []Port) []Port {
	var out []Port
	for _, p := range ps {
		if !slices.ContainsFunc(out, func(q Port) bool {
			return q.Proto == p.Proto && q.Port == p.Port && q.Iface == p.Iface && q.Addr == p.Addr
		}) {
			out = append(out, p)
		}
	}
	return out
}

// OpenOn lists the inbound ports open on the interface called name,
// including those open on every interface.
func (sp *Spec) OpenOn(name string) []string {
	out := []string{}
	for _, p := range sp.In {
		if p.Iface == "" || p.Iface == name {
			out = append(out, p.String())
		}
	}
	return out
}

// counterName is the named counter of an interface's drops; dir is in or
// out, name "" the other interfaces'.
func counterName(dir, name string) string {
	if name == "" {
		return dir + "_other"
	}
	return dir + "_" + strings.ReplaceAll(name, ".", "_")
}
