package device

import (
	"encoding/json"
	"strings"
	"testing"
)

// The issue's own example of the firewall and endpoints sections decodes,
// validates and comes back out with its binding names.
func TestFirewallIssueExample(t *testing.T) {
	const doc = `
site: {name: Firewall example}
firewall:
  enabled: true              # with --net linux: the gateway owns table inet sitegate
endpoints:                   # the only destinations the gateway may contact
  - {host: broker.example.com, port: 8883}
  - {host: time.example.com, port: 123, proto: udp}
`
	s, err := ParseSite([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Firewall.Enabled || len(s.Endpoints) != 2 || s.Endpoints[0].Proto != ProtoTCP || s.Endpoints[1].Proto != ProtoUDP {
		t.Fatalf("decoded %+v", s)
	}
	if got := s.Endpoints[1].String(); got != "time.example.com:123/udp" {
		t.Errorf("String %q", got)
	}
	out, err := EncodeSiteYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"firewall:\n  enabled: true\n", "- {host: broker.example.com, port: 8883}\n", "- {host: time.example.com, port: 123, proto: udp}\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	j, _ := json.Marshal(s)
	if !strings.Contains(string(j), `"firewall":{"enabled":true}`) || !strings.Contains(string(j), `"endpoints":[{"host":"broker.example.com","port":8883}`) {
		t.Errorf("json %s", j)
	}
	c := s.Clone()
	c.Endpoints[0].Host = "other"
	if s.Endpoints[0].Host != "broker.example.com" {
		t.Error("Clone shares endpoints")
	}
	// A site without the sections exports neither key.
	out, _ = EncodeSiteYAML(DefaultSite())
	if strings.Contains(string(out), "firewall") || strings.Contains(string(out), "endpoints") {
		t.Errorf("default site exports the sections:\n%s", out)
	}
}

func TestFirewallValidate(t *testing.T) {
	s := DefaultSite()
	s.Firewall.LAN = []string{"wwan0", "bad name", ""}
	s.Endpoints = []Endpoint{{Host: "", Port: 1}, {Host: "a..b", Port: 0}, {Host: "0.0.0.0", Port: 5}, {Host: "x.example", Port: 80}, {Host: "X.example.", Port: 80}, {Host: "y", Port: 1, Proto: 7}}
	err := s.Validate()
	if err == nil {
		t.Fatal("validated")
	}
	for _, want := range []string{
		"firewall.lan[0]: wwan0 is the cellular interface",
		`firewall.lan[1]: "bad name" is not a network interface name`,
		"firewall.lan[2]: is empty",
		"endpoints[0].host: is required",
		`endpoints[1].host: "a..b" is not a valid host name`,
		"endpoints[1].port: 0 is outside 1..65535",
		"endpoints[2].host: 0.0.0.0 is not a unicast address",
		"endpoints[4]: X.example.:80/tcp is already listed at endpoints[3]",
		"endpoints[5].proto:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	s = DefaultSite()
	s.Endpoints = make([]Endpoint, MaxEndpoints+1)
	for i := range s.Endpoints {
		s.Endpoints[i] = Endpoint{Host: "h.example", Port: i + 1}
	}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("too many endpoints: %v", err)
	}
}

func TestFieldInterfaces(t *testing.T) {
	s := DefaultSite()
	s.Firewall.LAN = []string{"br0", "eth0", s.Cellular.Interface}
	if got := strings.Join(s.FieldInterfaces(), ","); got != "eth0,wlan0,br0" {
		t.Errorf("FieldInterfaces %s", got)
	}
}

// Once endpoints are listed, what the gateway itself contacts must be
// among them.
func TestEndpointsMustListWhatTheGatewayContacts(t *testing.T) {
	s := DefaultSite()
	s.WAN.Probe.Targets = []string{"telemetry.example.com:443"}
	s.Clock.NTPServers = []string{"pool.ntp.org", "time.example.com:1123"}
	s.Endpoints = []Endpoint{{Host: "broker.example.com", Port: 8883}, {Host: "Pool.NTP.org.", Port: 123, Proto: ProtoUDP}}
	err := s.Validate()
	for _, want := range []string{
		"wan.probe.targets[0]: telemetry.example.com:443/tcp is not in endpoints, so the gateway may not contact it: add {host: telemetry.example.com, port: 443}",
		"clock.ntp_servers[1]: time.example.com:1123/udp is not in endpoints, so the gateway may not contact it: add {host: time.example.com, port: 1123, proto: udp}",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "clock.ntp_servers[0]") {
		t.Errorf("pool.ntp.org is listed: %v", err)
	}
	s.Endpoints = append(s.Endpoints, Endpoint{Host: "telemetry.example.com", Port: 443}, Endpoint{Host: "time.example.com", Port: 1123, Proto: ProtoUDP})
	if err := s.Validate(); err != nil {
		t.Errorf("all listed: %v", err)
	}
}
