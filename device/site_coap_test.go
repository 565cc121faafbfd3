package device

import (
	"errors"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device/field"
)

const coapExample = `
site: {name: CoAP example}
coap:
  listen: 0.0.0.0:5684
  sensors:
    - {name: room-7, identity: room-7, key: "k7-Qw8#zR2mX5vB9"}
    - name: room-8
      identity: sensor-0008
      key: "k8-Hn3$tY6pL1cJ4"
      interval: 1m
      points: [{name: temperature, unit: degC, precision: 3}, {name: occupied}]
      settings: [{name: sample_every, value: 30s}]
`

func coapSite(t *testing.T) *Site {
	t.Helper()
	s, err := ParseSite([]byte(coapExample))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The issue's own example decodes, validates and gets its defaults.
func TestCoAPIssueExample(t *testing.T) {
	c := coapSite(t).CoAP
	if c.Listen != "0.0.0.0:5684" || len(c.Sensors) != 2 {
		t.Fatalf("%+v", c)
	}
	if c.Sensors[0].Interval != DefaultCoAPInterval || c.Sensors[1].Interval != Duration(60e9) || c.Sensors[1].Settings[0] != (CoAPSetting{"sample_every", "30s"}) {
		t.Fatalf("%+v", c.Sensors)
	}
	if DefaultSite().CoAP.Listen != "" {
		t.Error("a default site listens for CoAP")
	}
}

func TestCoAPValidateRules(t *testing.T) {
	sen := func(s *Site, i int) *CoAPSensor { return &s.CoAP.Sensors[i] }
	tests := []struct {
		name   string
		mutate func(s *Site)
		path   string
		frag   string
	}{
		{"example", func(s *Site) {}, "", ""},
		{"no listener", func(s *Site) { s.CoAP.Listen = "" }, "", ""},
		{"listen ipv6", func(s *Site) { s.CoAP.Listen = "[::1]:5684" }, "", ""},
		{"listen host name", func(s *Site) { s.CoAP.Listen = "localhost:5684" }, "coap.listen", "is not an IP address and port"},
		{"listen no port", func(s *Site) { s.CoAP.Listen = "0.0.0.0" }, "coap.listen", "5684"},
		{"listen port 0", func(s *Site) { s.CoAP.Listen = "127.0.0.1:0" }, "coap.listen", "has port 0"},
		{"name bad", func(s *Site) { sen(s, 0).Name = "room 7" }, "coap.sensors[0].name", "contains ' '"},
		{"name duplicate", func(s *Site) { sen(s, 1).Name = "room-7" }, "coap.sensors[1].name", "already defined at sensors[0]"},
		{"name of a device elsewhere", func(s *Site) {
			s.Modbus.Buses = []Bus{{Name: "plant", Kind: BusTCP, Address: "127.0.0.1:502", Timeout: DefaultBusTimeout}}
			s.Modbus.Devices = []Device{{Name: "room-8", Bus: "plant", UnitID: 1, Interval: DefaultPollInterval, MaxRegisters: 125,
				Points: []Point{{Name: "p", Table: TableHolding, Type: TypeUint16}}}}
		}, "coap.sensors[1].name", "unique across the site"},
		{"identity missing", func(s *Site) { sen(s, 0).Identity = "" }, "coap.sensors[0].identity", "is required"},
		{"identity duplicate", func(s *Site) { sen(s, 1).Identity = "room-7" }, "coap.sensors[1].identity", "already the identity of sensors[0]"},
		{"key missing", func(s *Site) { sen(s, 0).Key = "" }, "coap.sensors[0].key", "is required (16..64"},
		{"key short", func(s *Site) { sen(s, 0).Key = "short-key" }, "coap.sensors[0].key", "must be 16..64 characters (the given key has 9)"},
		{"key spaces", func(s *Site) { sen(s, 0).Key = "a key with spaces" }, "coap.sensors[0].key", "printable ASCII"},
		{"key placeholder", func(s *Site) { sen(s, 0).Key = SecretPlaceholder }, "", ""},
		{"interval short", func(s *Site) { sen(s, 1).Interval = Duration(5e9) }, "coap.sensors[1].interval", "5s is outside 10s..24h"},
		{"point duplicate", func(s *Site) { sen(s, 1).Points[1].Name = "temperature" }, "coap.sensors[1].points[1].name", "already defined at points[0]"},
		{"point precision", func(s *Site) { sen(s, 1).Points[0].Precision = 30 }, "coap.sensors[1].points[0].precision", "outside 1..17"},
		{"setting name", func(s *Site) { sen(s, 1).Settings[0].Name = "bad key" }, "coap.sensors[1].settings[0].name", "contains ' '"},
		{"setting duplicate", func(s *Site) { sen(s, 1).Settings = append(sen(s, 1).Settings, sen(s, 1).Settings[0]) }, "coap.sensors[1].settings[1].name", "already defined at settings[0]"},
		{"setting value", func(s *Site) { sen(s, 1).Settings[0].Value = strings.Repeat("y", 200) }, "coap.sensors[1].settings[0].value", "at most 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := coapSite(t)
			tt.mutate(s)
			ps := validationProblems(t, s.Validate())
			if tt.path == "" {
				if len(ps) > 0 {
					t.Fatalf("want no problem, got:\n%v", &ValidationError{ps})
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("want 1 problem at %s; got %d:\n%v", tt.path, len(ps), &ValidationError{ps})
			}
			if ps[0].Path != tt.path || !strings.Contains(ps[0].Message, tt.frag) {
				t.Errorf("got  %s\nwant %s: ...%s...", ps[0], tt.path, tt.frag)
			}
		})
	}
}

// Keys are secrets: redacted on export, kept on import by identity, never
// quoted in a problem; Clone shares nothing.
func TestCoAPKeysAreSecrets(t *testing.T) {
	stored := coapSite(t)
	keys := []string{"k7-Qw8#zR2mX5vB9", "k8-Hn3$tY6pL1cJ4"}
	out, err := EncodeSiteYAML(stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(string(out), k) {
			t.Errorf("export contains the key %s", k)
		}
	}
	if !strings.Contains(string(out), `key: "<set>"`) {
		t.Errorf("export does not say the keys are set:\n%s", out)
	}

	in := stored.Redacted()
	in.CoAP.Sensors[0], in.CoAP.Sensors[1] = in.CoAP.Sensors[1], in.CoAP.Sensors[0]
	in.CoAP.Sensors[0].Name = "room-8-renamed"
	if !in.HasPlaceholders() {
		t.Fatal("HasPlaceholders misses the coap keys")
	}
	if err := in.KeepSecrets(stored); err != nil {
		t.Fatal(err)
	}
	if in.CoAP.Sensors[0].Key.Reveal() != keys[1] || in.CoAP.Sensors[1].Key.Reveal() != keys[0] || in.HasPlaceholders() {
		t.Error("keys not kept by identity")
	}

	in = stored.Redacted()
	in.CoAP.Sensors[1].Identity = "new-identity"
	err = in.KeepSecrets(stored)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "coap.sensors[1].key" {
		t.Fatalf("KeepSecrets = %v", err)
	}

	bad := stored.Clone()
	bad.CoAP.Sensors[1].Key = "k8-Hn3 tY6pL1cJ4"
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), "tY6pL1cJ4") {
		t.Fatalf("Validate = %v", err)
	}
	c := stored.Clone()
	c.CoAP.Sensors[1].Settings[0].Value = "1s"
	c.CoAP.Sensors[1].Points[0].Name = "x"
	if stored.CoAP.Sensors[1].Settings[0].Value != "30s" || stored.CoAP.Sensors[1].Points[0].Name != "temperature" {
		t.Error("Clone shares the coap lists")
	}
}

func TestCoAPFieldDevices(t *testing.T) {
	var got []field.DeviceInfo
	for _, d := range coapSite(t).FieldDevices() {
		if d.Protocol == field.CoAP {
			got = append(got, d)
		}
	}
	if len(got) != 2 || !got[0].DynamicPoints || got[0].Bus != "0.0.0.0:5684" || got[1].DynamicPoints ||
		len(got[1].Points) != 2 || got[1].Points[0] != (field.PointInfo{Name: "temperature", Unit: "degC", Precision: 3}) {
		t.Fatalf("%+v", got)
	}
}
