package device

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The defence-in-depth part of the site (issue 17): whether the gateway
// owns the host's packet filter, and the only destinations it may
// contact. Both keys sit at the top of the site file; they are one Go
// field each of Site.

// Bounds of the endpoints list.
const (
	// MaxEndpoints is how many destinations a site may list.
	MaxEndpoints = 64
	// MaxFirewallLAN is how many extra field interfaces firewall.lan may
	// name.
	MaxFirewallLAN = 8
)

// Firewall is the site's firewall section. Endpoints (Site.Endpoints)
// are the only destinations the gateway's own dialers may contact, and
// with the firewall on the only addresses its output chain lets out; an
// empty list restricts nothing.
type Firewall struct {
	// Enabled: with `sitegate run --net linux` the gateway owns the
	// nftables table inet sitegate and keeps it equal to what the site
	// allows.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// LAN names further interfaces treated like Ethernet and Wi-Fi: field
	// ports (BACnet/IP, a remote packet forwarder) open on them too. The
	// cellular interface is never one.
	LAN []string `yaml:"lan,omitempty" json:"lan,omitempty"`
}

// Endpoint is one expected destination.
type Endpoint struct {
	Host  string        `yaml:"host" json:"host"` // DNS name or IP address
	Port  int           `yaml:"port" json:"port"` // 1..65535
	Proto EndpointProto `yaml:"proto,omitempty" json:"proto,omitempty"`
}

// String is host:port/proto, as errors and the console show it.
func (e Endpoint) String() string {
	return fmt.Sprintf("%s/%s", joinHostPort(e.Host, e.Port), e.Proto)
}

func joinHostPort(h string, p int) string {
	if strings.Contains(h, ":") {
		return fmt.Sprintf("[%s]:%d", h, p)
	}
	return fmt.Sprintf("%s:%d", h, p)
}

// EndpointProto is the transport of an endpoint.
type EndpointProto uint8

// Endpoint transports. The zero value is TCP.
const (
	ProtoTCP EndpointProto = iota
	ProtoUDP
)

var endpointProtos = enumDef[EndpointProto]{"EndpointProto", "endpoint protocol", []string{"tcp", "udp"}}

// ParseEndpointProto returns the transport called s (tcp, udp).
func ParseEndpointProto(s string) (EndpointProto, error) { return endpointProtos.parse(s) }

// String returns the transport's name as written in site files.
func (p EndpointProto) String() string { return endpointProtos.name(p) }

// MarshalText encodes the transport by name.
func (p EndpointProto) MarshalText() ([]byte, error) { return endpointProtos.marshal(p) }

// UnmarshalText decodes a transport name; empty text means tcp.
func (p *EndpointProto) UnmarshalText(text []byte) error { return endpointProtos.unmarshal(text, p) }

// IsZero lets omitempty leave tcp out of site files.
func (p EndpointProto) IsZero() bool { return p == ProtoTCP }

// FieldInterfaces are the interfaces field ports may open on: the
// Ethernet and Wi-Fi interfaces and firewall.lan, never the cellular one.
func (s *Site) FieldInterfaces() []string {
	var out []string
	add := func(n string) {
		if n != "" && n != s.Cellular.Interface && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	add(s.WAN.Ethernet.Interface)
	if !s.WiFi.PermanentlyDisabled {
		add(s.WiFi.Interface)
	}
	for _, n := range s.Firewall.LAN {
		add(n)
	}
	return out
}

func (f Firewall) clone() Firewall {
	f.LAN = cloneSlice(f.LAN)
	return f
}

func (s *Site) validateSecurity(v *problems) {
	f := &s.Firewall
	if len(f.LAN) > MaxFirewallLAN {
		v.add("firewall.lan", "has %d interfaces; at most %d are allowed", len(f.LAN), MaxFirewallLAN)
	}
	for i, n := range f.LAN {
		p := pathf("firewall.lan[%d]", i)
		switch {
		case n == "":
			v.add(p, "is empty (an interface name, e.g. eth1)")
		case n == s.Cellular.Interface:
			v.add(p, "%s is the cellular interface; field ports never open on the mobile network", n)
		default:
			checkInterface(v, p, n)
		}
	}
	if len(s.Endpoints) > MaxEndpoints {
		v.add("endpoints", "has %d entries; at most %d are allowed", len(s.Endpoints), MaxEndpoints)
	}
	seen := map[Endpoint]int{}
	for i, e := range s.Endpoints {
		p := pathf("endpoints[%d]", i)
		switch {
		case e.Host == "":
			v.add(joinPath(p, "host"), "is required (a DNS name or an IP address, e.g. broker.example.com)")
		case !validHost(e.Host):
			v.add(joinPath(p, "host"), "%q is not a valid host name or IP address", e.Host)
		default:
			if a, err := netip.ParseAddr(e.Host); err == nil && (a.IsUnspecified() || a.IsMulticast()) {
				v.add(joinPath(p, "host"), "%s is not a unicast address", e.Host)
			}
		}
		checkInt(v, joinPath(p, "port"), e.Port, [2]int{1, 65535})
		if !endpointProtos.known(e.Proto) {
			v.add(joinPath(p, "proto"), "%s is not a protocol (valid: %s)", describeEnum(endpointProtos, e.Proto), endpointProtos.valid())
		}
		key := e
		key.Host = strings.ToLower(strings.TrimSuffix(e.Host, "."))
		if j, dup := seen[key]; dup {
			v.add(p, "%s is already listed at endpoints[%d]", e, j)
		} else {
			seen[key] = i
		}
	}
	s.validateListed(v)
}

// validateListed checks that, once the site lists endpoints, the
// destinations the gateway itself contacts are among them: the WAN probe
// targets (tcp), the NTP servers (udp 123 unless given) and, forwarding,
// the LoRa network server (udp). Unlisted, the dialers would refuse them
// and the firewall drop them: every link would look down.
func (s *Site) validateListed(v *problems) {
	if len(s.Endpoints) == 0 {
		return
	}
	check := func(path, hostport string, defPort int, proto EndpointProto) {
		host, port := hostport, defPort
		if h, p, err := net.SplitHostPort(hostport); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil {
				return // its own check reports it
			}
			host, port = h, n
		}
		want := Endpoint{Host: host, Port: port, Proto: proto}
		if !slices.ContainsFunc(s.Endpoints, func(e Endpoint) bool {
			return e.Port == port && e.Proto == proto && strings.EqualFold(strings.TrimSuffix(e.Host, "."), strings.TrimSuffix(host, "."))
		}) {
			add := fmt.Sprintf("{host: %s, port: %d}", want.Host, want.Port)
			if proto != ProtoTCP {
				add = fmt.Sprintf("{host: %s, port: %d, proto: %s}", want.Host, want.Port, proto)
			}
			v.add(path, "%s is not in endpoints, so the gateway may not contact it: add %s", want, add)
		}
	}
	for i, t := range s.WAN.Probe.Targets {
		check(pathf("wan.probe.targets[%d]", i), t, 0, ProtoTCP)
	}
	for i, srv := range s.Clock.NTPServers {
		check(pathf("clock.ntp_servers[%d]", i), srv, 123, ProtoUDP)
	}
	if l := s.LoRa; l.Running() && l.EffectiveMode() == LoRaForward && l.NetworkServer != "" {
		check("lora.network_server", l.NetworkServer, 0, ProtoUDP)
	}
}

// styleSecurity writes each endpoint on one line, as the README does.
func styleSecurity(root *yaml.Node) {
	for _, n := range seqItems(mapValue(root, "endpoints")) {
		n.Style = yaml.FlowStyle
	}
}

// FirewallHealth is the firewall's and the allow-list's part of health
// (filled by device/firewall).
type FirewallHealth struct {
	Enabled    bool                `json:"enabled"`          // the site asks for it
	Active     bool                `json:"active"`           // table inet sitegate is in place
	Applied    time.Time           `json:"applied,omitzero"` // when the table was last replaced
	Error      string              `json:"error,omitempty"`  // why the last apply failed
	Interfaces []FirewallInterface `json:"interfaces,omitempty"`
	// OtherDrops counts what was dropped on interfaces the site does not
	// name.
	OtherDrops DropCounter      `json:"other_drops"`
	Endpoints  []EndpointHealth `json:"endpoints,omitempty"`
}

// FirewallInterface is one interface: what is open on it and what was
// dropped.
type FirewallInterface struct {
	Name      string      `json:"name"`
	Kind      string      `json:"kind"` // ethernet, wifi, cellular, lan
	OpenPorts []string    `json:"open_ports"`
	InDrops   DropCounter `json:"in_drops"`
	OutDrops  DropCounter `json:"out_drops"`
}

// DropCounter is one nftables named counter.
type DropCounter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// EndpointHealth is one endpoint and what its name resolves to.
type EndpointHealth struct {
	Host      string    `json:"host"`
	Port      int       `json:"port"`
	Proto     string    `json:"proto"`
	Addresses []string  `json:"addresses"`
	Expires   time.Time `json:"expires,omitzero"` // when the addresses are looked up again
	Truncated bool      `json:"truncated,omitempty"`
	Error     string    `json:"error,omitempty"` // why the name does not resolve
}
