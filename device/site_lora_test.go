package device

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora/payload"
)

// The issue's own example of a lora section decodes and validates.
func TestLoRaIssueExample(t *testing.T) {
	const doc = `
site: {name: LoRa example}
lora:
  enabled: true
  region: EU868
  gateway_eui: "0016c001ff10a235"
  mode: embedded                     # forward | embedded
  packet_forwarder: 127.0.0.1:1700   # where the concentrator's packet forwarder sends (UDP)
  network_server: ns.example.com:1700   # forward mode only
  devices:
    - name: lora-1
      dev_eui: "70b3d57ed0000001"
      activation: abp                # abp | otaa (otaa: join_eui, app_key)
      dev_addr: "26011bda"
      nwk_s_key: "2b7e151628aed2a6abf7158809cf4f3c"
      app_s_key: "2b7e151628aed2a6abf7158809cf4f3d"
      codec: cayenne-lpp             # or the name of a codec defined in the site
`
	s, err := ParseSite([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	l := s.LoRa
	if l.Mode != LoRaEmbedded || l.PacketForwarder != "127.0.0.1:1700" || len(l.Devices) != 1 {
		t.Fatalf("%+v", l)
	}
	d := l.Devices[0]
	if d.Activation != ActivationABP || d.Class != ClassA || d.Interval != DefaultLoRaInterval || d.NwkSKey.Reveal() != "2b7e151628aed2a6abf7158809cf4f3c" {
		t.Fatalf("%+v", d)
	}
	fd := s.FieldDevices()
	if len(fd) != 1 || fd[0].Protocol != field.LoRa || !fd[0].DynamicPoints || fd[0].Name != "lora-1" || fd[0].Bus != "0016c001ff10a235" {
		t.Fatalf("field devices %+v", fd)
	}
}

// Defaults: an old lora section (no mode) is forward mode on loopback.
func TestLoRaDefaults(t *testing.T) {
	s := DefaultSite()
	if s.LoRa.Mode != LoRaForward || s.LoRa.PacketForwarder != DefaultPacketForwarder {
		t.Fatalf("%+v", s.LoRa)
	}
	if (LoRa{}).EffectiveMode() != LoRaForward || (LoRa{}).EffectivePacketForwarder() != DefaultPacketForwarder {
		t.Fatal("effective values of an unset section")
	}
	for _, in := range []string{"Forward", "EMBEDDED"} {
		if _, err := ParseLoRaMode(in); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseLoRaClass("C"); err == nil || !strings.Contains(err.Error(), "only class A") {
		t.Errorf("class C: %v", err)
	}
}

// Each rule of the lora section on the full example: exactly one problem
// at the path, with the fragment in its message.
func TestLoRaValidateRules(t *testing.T) {
	dev := func(s *Site, i int) *LoRaDevice { return &s.LoRa.Devices[i] }
	codec := func(s *Site) *LoRaCodec { return &s.LoRa.Codecs[0] }
	tests := []struct {
		name   string
		mutate func(s *Site)
		path   string
		frag   string
	}{
		{"full example", func(s *Site) {}, "", ""},
		{"forward mode keeps devices", func(s *Site) { s.LoRa.Mode = LoRaForward }, "", ""},
		{"embedded needs no network server", func(s *Site) { s.LoRa.NetworkServer = "" }, "", ""},
		{"mode unknown", func(s *Site) { s.LoRa.Mode = 9 }, "lora.mode", "9 is not a lora mode (valid: forward, embedded)"},
		{"forwarder ipv6 loopback", func(s *Site) { s.LoRa.PacketForwarder = "[::1]:1700" }, "", ""},
		{"forwarder any address", func(s *Site) { s.LoRa.PacketForwarder = "0.0.0.0:1700" }, "lora.packet_forwarder", "has no authentication"},
		{"forwarder lan address", func(s *Site) { s.LoRa.PacketForwarder = "192.168.10.5:1700" }, "lora.packet_forwarder", "allow_remote_forwarder: true"},
		{"forwarder lan address allowed", func(s *Site) {
			s.LoRa.PacketForwarder, s.LoRa.AllowRemoteForwarder = "192.168.10.5:1700", true
		}, "", ""},
		{"forwarder host name", func(s *Site) { s.LoRa.PacketForwarder = "localhost:1700" }, "lora.packet_forwarder", "listens on exactly one"},
		{"forwarder no port", func(s *Site) { s.LoRa.PacketForwarder = "127.0.0.1" }, "lora.packet_forwarder", "has no port"},
		{"forwarder port 0", func(s *Site) { s.LoRa.PacketForwarder = "127.0.0.1:0" }, "lora.packet_forwarder", "has port 0"},
		{"forward to itself", func(s *Site) {
			s.LoRa.Mode, s.LoRa.NetworkServer = LoRaForward, "127.0.0.1:1700"
		}, "lora.network_server", "frames would be sent back to the gateway"},
		{"device name bad", func(s *Site) { dev(s, 0).Name = "lora 1" }, "lora.devices[0].name", `contains ' '`},
		{"device name duplicate", func(s *Site) { dev(s, 1).Name = "lora-1" }, "lora.devices[1].name", "already defined at devices[0]"},
		{"device name of a modbus device", func(s *Site) { dev(s, 1).Name = "main-meter" }, "lora.devices[1].name", "unique across the site"},
		{"dev_eui missing", func(s *Site) { dev(s, 0).DevEUI = "" }, "lora.devices[0].dev_eui", "is required (16 hex digits"},
		{"dev_eui short", func(s *Site) { dev(s, 0).DevEUI = "70b3d57ed000001" }, "lora.devices[0].dev_eui", "is not 16 hex digits"},
		{"dev_eui duplicate any case", func(s *Site) { dev(s, 1).DevEUI = "70B3D57ED0000001" }, "lora.devices[1].dev_eui", "already the dev_eui of devices[0]"},
		{"activation missing", func(s *Site) {
			dev(s, 0).Activation, dev(s, 0).DevAddr, dev(s, 0).NwkSKey, dev(s, 0).AppSKey = 0, "", "", ""
		}, "lora.devices[0].activation", "is required (otaa, abp)"},
		{"abp without dev_addr", func(s *Site) { dev(s, 0).DevAddr = "" }, "lora.devices[0].dev_addr", "is required (8 hex digits"},
		{"abp dev_addr bad", func(s *Site) { dev(s, 0).DevAddr = "26011bdz" }, "lora.devices[0].dev_addr", "is not 8 hex digits"},
		{"abp without nwk_s_key", func(s *Site) { dev(s, 0).NwkSKey = "" }, "lora.devices[0].nwk_s_key", "is required (32 hex digits"},
		{"abp key short", func(s *Site) { dev(s, 0).AppSKey = "00112233" }, "lora.devices[0].app_s_key", "must be 32 hex digits (the given key has 8 characters)"},
		{"abp key placeholder", func(s *Site) { dev(s, 0).AppSKey = SecretPlaceholder }, "", ""},
		{"abp with app_key", func(s *Site) { dev(s, 0).AppKey = "00112233445566778899aabbccddeeff" }, "lora.devices[0].app_key", "applies to otaa devices only"},
		{"otaa without join_eui", func(s *Site) { dev(s, 1).JoinEUI = "" }, "lora.devices[1].join_eui", "is required (16 hex digits"},
		{"otaa without app_key", func(s *Site) { dev(s, 1).AppKey = "" }, "lora.devices[1].app_key", "is required (32 hex digits"},
		{"otaa app_key not hex", func(s *Site) { dev(s, 1).AppKey = Secret(strings.Repeat("g", 32)) }, "lora.devices[1].app_key", "must be 32 hex digits"},
		{"otaa with dev_addr", func(s *Site) { dev(s, 1).DevAddr = "26011bda" }, "lora.devices[1].dev_addr", "applies to abp devices only"},
		{"key all zeros", func(s *Site) { dev(s, 1).AppKey = Secret(strings.Repeat("0", 32)) }, "lora.devices[1].app_key", "is all zeros"},
		{"embedded US915", func(s *Site) { s.LoRa.Region = RegionUS915 }, "lora.region", "serves EU868 only"},
		{"forward US915", func(s *Site) { s.LoRa.Region, s.LoRa.Mode = RegionUS915, LoRaForward }, "", ""},
		{"class unknown", func(s *Site) { dev(s, 1).Class = 3 }, "lora.devices[1].class", "not a LoRaWAN class this gateway serves (valid: A)"},
		{"codec unknown", func(s *Site) { dev(s, 2).Codec = "valve-v3" }, "lora.devices[2].codec", `unknown codec "valve-v3" (known: cayenne-lpp, valve-v2); did you mean "valve-v2"?`},
		{"interval short", func(s *Site) { dev(s, 1).Interval = sec(5e9) }, "lora.devices[1].interval", "5s is outside 10s..24h"},
		{"codec named cayenne-lpp", func(s *Site) {
			codec(s).Name = payload.CayenneLPPName
			dev(s, 2).Codec = payload.CayenneLPPName
		}, "lora.codecs[0].name", "is the built-in codec"},
		{"codec without fields", func(s *Site) { codec(s).Fields = nil }, "lora.codecs[0].fields", "at least one field"},
		{"codec field type", func(s *Site) { codec(s).Fields[1].Type = 0 }, "lora.codecs[0].fields[1].type", "want one of int8"},
		{"codec field beyond payload", func(s *Site) { codec(s).Fields[0].Byte = 241 }, "lora.codecs[0].fields[0].byte", "within the 242 bytes"},
		{"codec field unit", func(s *Site) { codec(s).Fields[0].Unit = "deg\nC" }, "lora.codecs[0].fields[0].unit", "control character"},
		{"codec downlink port", func(s *Site) { codec(s).Downlinks[0].FPort = 0 }, "lora.codecs[0].downlinks[0].fport", "outside 1..223"},
		{"codec duplicate", func(s *Site) { s.LoRa.Codecs = append(s.LoRa.Codecs, s.LoRa.Codecs[0]) }, "lora.codecs[1].name", "already defined at codecs[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := siteFromFile(t, "full.yaml")
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

// Keys are secrets: redacted on export, kept on import by DevEUI, and
// never quoted in a problem.
func TestLoRaKeysAreSecrets(t *testing.T) {
	stored := siteFromFile(t, "full.yaml")
	keys := []string{"2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f", "0f0e0d0c0b0a09080706050403020100", "00112233445566778899aabbccddeeff"}
	out, err := EncodeSiteYAML(stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(string(out), k) {
			t.Errorf("export contains the key %s", k)
		}
	}
	if !strings.Contains(string(out), `app_key: "<set>"`) || !strings.Contains(string(out), `nwk_s_key: "<set>"`) {
		t.Errorf("export does not say the keys are set:\n%s", out)
	}

	// Renamed and reordered: keys follow the DevEUI.
	in := stored.Redacted()
	in.LoRa.Devices[0], in.LoRa.Devices[1] = in.LoRa.Devices[1], in.LoRa.Devices[0]
	in.LoRa.Devices[0].Name = "lora-2-renamed"
	if err := in.KeepSecrets(stored); err != nil {
		t.Fatal(err)
	}
	if in.LoRa.Devices[0].AppKey.Reveal() != keys[2] || in.LoRa.Devices[1].NwkSKey.Reveal() != keys[0] || in.HasPlaceholders() {
		t.Errorf("keys not kept by dev_eui: %v", in.LoRa.Devices)
	}
	if stored.LoRa.Devices[0].NwkSKey.Reveal() != keys[0] {
		t.Error("KeepSecrets changed the stored site")
	}

	// A new device (another DevEUI) with a placeholder has nothing stored.
	in = stored.Redacted()
	in.LoRa.Devices[1].DevEUI = "70b3d57ed00000ff"
	err = in.KeepSecrets(stored)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "lora.devices[1].app_key" {
		t.Fatalf("KeepSecrets = %v", err)
	}
	if in.LoRa.Devices[0].NwkSKey != SecretPlaceholder {
		t.Error("s changed although KeepSecrets failed")
	}

	// A bad key is described, never quoted.
	bad := stored.Clone()
	bad.LoRa.Devices[1].AppKey = "0f0e0d0c0b0a0908070605040302010"
	err = bad.Validate()
	if err == nil || strings.Contains(err.Error(), "0f0e0d0c") {
		t.Fatalf("Validate = %v", err)
	}
	if c := stored.Clone(); &c.LoRa.Devices[0] == &stored.LoRa.Devices[0] || &c.LoRa.Codecs[0].Fields[0] == &stored.LoRa.Codecs[0].Fields[0] {
		t.Error("Clone shares the lora lists")
	}
}

// The field layer sees the embedded devices: Cayenne LPP devices name their
// points, a declarative codec lists its fields, and its downlinks are the
// writable points. Forward mode has no field devices.
func TestLoRaFieldDevices(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	var lora []field.DeviceInfo
	for _, d := range s.FieldDevices() {
		if d.Protocol == field.LoRa {
			lora = append(lora, d)
		}
	}
	if len(lora) != 3 || !lora[0].DynamicPoints || len(lora[0].Points) != 0 {
		t.Fatalf("%+v", lora)
	}
	valve := lora[2]
	want := []field.PointInfo{{Name: "room_temp", Unit: "degC"}, {Name: "valve_position", Unit: "%"}, {Name: "battery_level"}, {Name: "setpoint", Unit: "degC", Writable: true}}
	if valve.Name != "radiator-valve-1" || valve.DynamicPoints || !reflect.DeepEqual(valve.Points, want) {
		t.Fatalf("%+v", valve)
	}
	s.LoRa.Mode = LoRaForward
	for _, d := range s.FieldDevices() {
		if d.Protocol == field.LoRa {
			t.Fatalf("forward mode lists %s", d.Name)
		}
	}
}
