package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/sites/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRoundTrip: import -> export -> import -> export gives the same bytes,
// and the second import equals the redacted first.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"demo.yaml", "full.yaml"} {
		t.Run(name, func(t *testing.T) {
			s1, err := ParseSite(readTestdata(t, name))
			if err != nil {
				t.Fatal(err)
			}
			out1, err := EncodeSiteYAML(s1)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := ParseSite(out1)
			if err != nil {
				t.Fatalf("export does not import:\n%v\n%s", err, out1)
			}
			if !reflect.DeepEqual(s2, s1.Redacted()) {
				t.Errorf("import of the export differs from the redacted site")
			}
			out2, err := EncodeSiteYAML(s2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out1, out2) {
				t.Errorf("second export differs:\n%s\n---\n%s", out1, out2)
			}
		})
	}
}

func TestEncodeSiteYAML(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	out, err := EncodeSiteYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{"1234", "87654321", "correct horse"} {
		if strings.Contains(text, secret) {
			t.Errorf("export contains the secret %q", secret)
		}
	}
	for _, want := range []string{
		"# sitegate site file\nsite:\n  name: Boiler house, building C\naccess:\n",
		"  require_2fa: [admin, installer]\n",
		`  probe: {targets: ["telemetry.example.com:443", "192.0.2.1:443"], interval: 15s, down_after: 4, up_after: 6}` + "\n",
		`    - {slot: 1, apn: internet.example, pin: "<set>", monthly_limit_mb: 2048}` + "\n",
		`  passphrase: "<set>"` + "\n",
		"    - {name: rs485-1, kind: rtu, device: /dev/ttyS1, baud: 19200, parity: none, data_bits: 8, stop_bits: 2, timeout: 500ms}\n",
		"      interval: 1m\n",
		"        - {name: return_temp, table: input, address: 1, type: int16, scale: 0.1, offset: -40, unit: degC}\n",
		"    - {name: pump-vsd, bus: rs485-1, unit_id: 2, interval: 2s, max_gap: 16, max_registers: 125, profile: generic-vsd}\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q:\n%s", want, text)
		}
	}
	// Section order is struct order.
	last := -1
	for _, key := range []string{"\nsite:", "\naccess:", "\nclock:", "\nwan:", "\ncellular:", "\nwifi:", "\nlora:", "\nmodbus:"} {
		i := strings.Index(text, key)
		if i < last {
			t.Errorf("%s out of order", key)
		}
		last = i
	}
	if s.WiFi.Passphrase.Reveal() != "correct horse battery staple" {
		t.Errorf("EncodeSiteYAML changed its argument")
	}
	if _, err := EncodeSiteYAML(nil); err == nil {
		t.Errorf("EncodeSiteYAML(nil) succeeded")
	}
	bad := DefaultSite()
	bad.Modbus.Buses = []Bus{{Name: "b", Kind: BusKind(9)}}
	if _, err := EncodeSiteYAML(bad); err == nil || !strings.Contains(err.Error(), "BusKind") {
		t.Errorf("EncodeSiteYAML(invalid enum) = %v", err)
	}
}

func TestRequire2FAKeepsEmptyList(t *testing.T) {
	s, err := ParseSite([]byte("site: {name: x}\naccess: {require_2fa: []}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Access.Require2FA == nil || len(s.Access.Require2FA) != 0 {
		t.Fatalf("require_2fa: [] decoded as %#v", s.Access.Require2FA)
	}
	out, _ := EncodeSiteYAML(s)
	if !strings.Contains(string(out), "require_2fa: []\n") {
		t.Errorf("export lost the empty list:\n%s", out)
	}
	j, _ := json.Marshal(s)
	var back Site
	if err := json.Unmarshal(j, &back); err != nil || back.Access.Require2FA == nil {
		t.Errorf("JSON lost the empty list: %s", j)
	}

	s, err = ParseSite([]byte("site: {name: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Access.Require2FA, []Role{RoleAdmin, RoleInstaller}) {
		t.Errorf("absent require_2fa = %v, want the default", s.Access.Require2FA)
	}
}

// TestJSONIsAccepted: the JSON form of a site (as stored, and as the cloud
// sends it) decodes with DecodeSiteYAML and with encoding/json alike.
func TestJSONIsAccepted(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	j, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := DecodeSiteYAML(j)
	if err != nil {
		t.Fatalf("DecodeSiteYAML(JSON): %v", err)
	}
	if !reflect.DeepEqual(fromYAML, s) {
		t.Errorf("DecodeSiteYAML(JSON) differs")
	}
	var fromJSON Site
	if err := json.Unmarshal(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&fromJSON, s) {
		t.Errorf("json.Unmarshal differs")
	}
	if !strings.Contains(string(j), `"idle_timeout": "30m"`) || !strings.Contains(string(j), `"type": "float64"`) {
		t.Errorf("JSON does not use names:\n%s", j)
	}
}

func TestDecodeUnknownFields(t *testing.T) {
	data := `
site:
  nmae: x
modbuss: {}
wan:
  probe: {intervall: 10s, targets: []}
modbus:
  buses:
    - {name: plant, kind: tcp, adress: "127.0.0.1:502"}
  devices:
    - {name: a, bus: plant, unit_id: 1, profile: generic-vsd}
    - {name: b, bus: plant, unti_id: 1, max_reg: 10, profile: generic-vsd, colour: red}
`
	_, err := DecodeSiteYAML([]byte(data))
	want := []Problem{
		{Path: "site.nmae", Message: `unknown field (did you mean "name"?)`, Line: 3},
		{Path: "modbuss", Message: `unknown field (did you mean "modbus"?)`, Line: 4},
		{Path: "wan.probe.intervall", Message: `unknown field (did you mean "interval"?)`, Line: 6},
		{Path: "modbus.buses[0].adress", Message: `unknown field (did you mean "address"?)`, Line: 9},
		{Path: "modbus.devices[1].unti_id", Message: `unknown field (did you mean "unit_id"?)`, Line: 12},
		{Path: "modbus.devices[1].max_reg", Message: `unknown field (did you mean "max_registers"?)`, Line: 12},
		{Path: "modbus.devices[1].colour", Message: "unknown field (valid: name, bus, unit_id, interval, timeout, max_gap, max_registers, profile, points)", Line: 12},
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if !reflect.DeepEqual(ve.Problems, want) {
		t.Errorf("got:\n%v\nwant:\n%v", ve, &ValidationError{want})
	}
	if !strings.Contains(err.Error(), `modbus.devices[1].unti_id: unknown field (did you mean "unit_id"?)`) {
		t.Errorf("Error() = %s", err)
	}
}

func TestDecodeTypeErrors(t *testing.T) {
	data := `
site: {name: 42}
access: {password_max_length: "15", require_2fa: admin, idle_timeout: 15}
clock: {ntp_servers: [{host: x}]}
wan: [cellular]
cellular: {enabled: yes, rotate: daily, sims: [{slot: 1.5, apn: x}]}
lora: {region: eu868, gateway_eui: [1]}
modbus:
  buses:
    - {name: b, kind: rtc, timeout: 1 sec, baud: 99999999999999999999}
  devices:
    - {name: d, bus: b, unit_id: abc, points: {name: p}}
    - {name: e, bus: b, unit_id: 1, points: [{name: p, table: holding, type: float32, scale: fast, order: ABDC}]}
`
	_, err := DecodeSiteYAML([]byte(data))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`access.password_max_length: expected a whole number, got "15"`,
		`access.require_2fa: expected a list, got "admin"`,
		`access.idle_timeout: invalid duration "15" (write a Go duration such as 500ms, 10s, 3m or 1h30m)`,
		`clock.ntp_servers[0]: expected text, got a mapping`,
		`wan: expected a mapping (key: value), got a list`,
		`cellular.enabled: expected true or false, got "yes"`,
		`cellular.rotate: unknown rotate setting "daily" (valid: off, weekly)`,
		`cellular.sims[0].slot: expected a whole number, got "1.5"`,
		`lora.gateway_eui: expected text, got a list`,
		`modbus.buses[0].kind: unknown bus kind "rtc" (valid: rtu, tcp)`,
		`modbus.buses[0].timeout: invalid duration "1 sec" (write a Go duration such as 500ms, 10s, 3m or 1h30m)`,
		`modbus.buses[0].baud: "99999999999999999999" is too large`,
		`modbus.devices[0].unit_id: expected a whole number, got "abc"`,
		`modbus.devices[0].points: expected a list, got a mapping`,
		`modbus.devices[1].points[0].scale: expected a number, got "fast"`,
		`modbus.devices[1].points[0].order: unknown byte order "ABDC" (valid: ABCD, CDAB, BADC, DCBA)`,
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.String())
		if p.Line == 0 {
			t.Errorf("%s: no line", p)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeAcceptsYAMLForms(t *testing.T) {
	data := `
site: {name: 2024}      # a number where text is expected is taken as text
lora: {region: eu868}   # enum names ignore case
modbus:
  buses:
    - {name: b, kind: tcp, address: "10.0.0.1:502", timeout: ~}
  devices:
    - {name: d, bus: b, unit_id: 0x10, profile: generic-vsd, points: [{name: x, table: holding, address: 1, type: uint16, scale: 2}]}
`
	s, err := ParseSite([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if s.Site.Name != "2024" || s.LoRa.Region != RegionEU868 || s.Modbus.Devices[0].UnitID != 16 || s.Modbus.Devices[0].Points[0].Scale() != 2 {
		t.Errorf("decoded %+v", s)
	}
	if s.Modbus.Buses[0].Timeout != DefaultBusTimeout {
		t.Errorf("null timeout did not take the default")
	}
}

func TestDecodeDuplicateField(t *testing.T) {
	_, err := DecodeSiteYAML([]byte("site:\n  name: a\n  name: b\n"))
	if err == nil || err.Error() != "site.name: duplicate field (first given on line 2)" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	data := `
site: {name: merge}
modbus:
  buses: [{name: plant, kind: tcp, address: "127.0.0.1:502"}]
  devices:
    - &ahu
      name: ahu-1
      bus: plant
      unit_id: 2
      points: [{name: t, table: holding, address: 0, type: int16}]
    - <<: *ahu
      name: ahu-2
      unit_id: 3
`
	s, err := ParseSite([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Modbus.Devices[1]
	if d.Name != "ahu-2" || d.UnitID != 3 || d.Bus != "plant" || len(d.Points) != 1 {
		t.Errorf("merged device = %+v", d)
	}
	// A mapping that merges itself is reported, not followed forever.
	for _, data := range []string{
		"site: &a {name: x, <<: *a}\n",
		"site: {<<: [1, 2]}\n",
		"site: {<<: 3}\n",
	} {
		_, err := DecodeSiteYAML([]byte(data))
		if err == nil {
			t.Errorf("%q: no error", data)
		}
	}
}

func TestDecodeFileErrors(t *testing.T) {
	big := append([]byte("site: {name: x}\n#"), bytes.Repeat([]byte("x"), MaxSiteFileSize)...)
	var list strings.Builder
	list.WriteString("site: {name: x}\nclock: {ntp_servers: [")
	for range maxSiteNodes {
		list.WriteString("a,")
	}
	list.WriteString("a]}\n")

	for _, tt := range []struct {
		name, data string
		want       error
		frag       string
	}{
		{"empty", "", ErrSiteEmpty, "site file is empty"},
		{"comments only", "# nothing here\n\n", ErrSiteEmpty, ""},
		{"null", "~\n", ErrSiteEmpty, ""},
		{"list", "- a\n- b\n", ErrSiteNotMapping, "the document is a list at line 1"},
		{"scalar", "hello\n", ErrSiteNotMapping, `the document is "hello"`},
		{"two documents", "site: {name: a}\n---\nsite: {name: b}\n", ErrSiteMultipleDocuments, "a second document starts at line 2"},
		{"syntax", "site:\n  name: [unclosed\naccess: {}\n", ErrSiteSyntax, "line "},
		{"tab indent", "site:\n\tname: x\n", ErrSiteSyntax, "line 2"},
		{"too large", string(big), ErrSiteTooLarge, "the limit is 8388608 bytes (8 MiB)"},
		{"too many nodes", list.String(), ErrSiteTooComplex, ""},
		{"alias bomb", aliasBomb(), ErrSiteTooComplex, "aliases"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSiteYAML([]byte(tt.data))
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.frag) {
				t.Errorf("err = %v, want %v containing %q", err, tt.want, tt.frag)
			}
			if _, err2 := ParseSite([]byte(tt.data)); !errors.Is(err2, tt.want) {
				t.Errorf("ParseSite err = %v", err2)
			}
		})
	}
}

// aliasBomb is a small file whose aliases expand to more than
// maxSiteNodes values: 500 devices of 500 points each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("site: {name: bomb}\nmodbus:\n  devices:\n    - &d {name: d, bus: b, unit_id: 1, points: [&p {name: p, table: coil, address: 0, type: bool}")
	b.WriteString(strings.Repeat(", *p", 499))
	b.WriteString("]}\n")
	for range 499 {
		b.WriteString("    - *d\n")
	}
	return b.String()
}

func TestInvalidSiteReportsEverything(t *testing.T) {
	_, err := ParseSite(readTestdata(t, "invalid.yaml"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"site.name",
		"access.password_max_length",
		"access.require_2fa[1]",
		"access.idle_timeout",
		"clock.ntp_servers[0]",
		"clock.timezone",
		"wan.priority[2]",
		"wan.probe.targets[0]",
		"wan.probe.down_after",
		"wan.ethernet.address",
		"cellular.enabled",
		"cellular.sims[0].apn",
		"cellular.sims[0].pin",
		"cellular.sims[1].slot",
		"wifi.ssid",
		"wifi.passphrase",
		"lora.region",
		"lora.gateway_eui",
		"modbus.buses[0].baud",
		"modbus.buses[1].address",
		"modbus.devices[0].bus",
		"modbus.devices[0].profile",
		"modbus.devices[1].unit_id",
		"modbus.devices[1].unti_id",
		"modbus.devices[1].points[0].address",
		"modbus.devices[1].points[1].type",
		"modbus.devices[1].points[1].writable",
		"modbus.devices[1].points[2].name",
		"modbus.devices[1].points[2].address",
		"modbus.devices[1].points[3].scale",
	}
	got := map[string]bool{}
	lastLine := 0
	for _, p := range ve.Problems {
		got[p.Path] = true
		if p.Line == 0 || p.Line < lastLine {
			t.Errorf("%s: line %d after line %d; want file order", p, p.Line, lastLine)
		}
		lastLine = p.Line
	}
	for _, path := range want {
		if !got[path] {
			t.Errorf("missing problem at %s", path)
		}
		delete(got, path)
	}
	for path := range got {
		t.Errorf("unexpected problem at %s", path)
	}
	if t.Failed() {
		t.Logf("all problems:\n%v", err)
	}
}

func TestDemoSite(t *testing.T) {
	if !bytes.Equal(DemoSiteYAML, readTestdata(t, "demo.yaml")) {
		t.Fatal("device/demosite.yaml differs from testdata/sites/demo.yaml; copy the latter over the former")
	}
	s, err := ParseSite(DemoSiteYAML)
	if err != nil {
		t.Fatal(err)
	}
	if s.Site.Name != "Plant room, building A (demo)" || len(s.Access.Require2FA) != 0 {
		t.Errorf("site = %q, require_2fa = %v", s.Site.Name, s.Access.Require2FA)
	}
	var names []string
	for _, d := range s.Modbus.Devices {
		names = append(names, d.Name)
	}
	if strings.Join(names, " ") != "main-meter ahu-1 ahu-2 room-sensor" {
		t.Errorf("devices = %v", names)
	}
	if s.HasPlaceholders() || s.WiFi.Passphrase.IsSet() || s.Cellular.SIMs[0].PIN.IsSet() {
		t.Errorf("the demo site holds secrets")
	}
}

func TestParseSiteLines(t *testing.T) {
	_, err := ParseSite([]byte("site:\n  name: x\nmodbus:\n  devices:\n    - name: d\n      bus: b\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range ve.Problems {
		if p.Path == "modbus.devices[0].bus" && p.Line != 6 {
			t.Errorf("%s: line %d, want 6", p, p.Line)
		}
		if p.Path == "modbus.devices[0].unit_id" && p.Line != 5 {
			t.Errorf("%s: line %d, want 5 (the device)", p, p.Line)
		}
	}
}

// designExample is the site file example of the product design (shared/DESIGN.md), verbatim: its field
// names are binding, so it must keep decoding and validating.
const designExample = `site:
  name: Plant room, building A
access:
  password_max_length: 15          # 8..64
  require_2fa: [admin, installer]  # roles whose password logins need TOTP
  idle_timeout: 15m
clock:
  ntp_servers: [pool.ntp.org]      # host or host:port
  timezone: Europe/Paris
wan:
  priority: [cellular, ethernet, wifi]
  probe: {targets: ["telemetry.example.com:443"], interval: 10s, down_after: 3, up_after: 5}
  ethernet: {interface: eth0, dhcp: true}
cellular:
  enabled: true
  interface: wwan0
  failover_after: 3m               # switch SIM after this long without internet
  rotate: weekly                   # off | weekly
  sims:
    - {slot: 1, apn: internet, pin: "<set>", monthly_limit_mb: 2048}
    - {slot: 2, apn: m2m.example}
wifi:
  enabled: true
  permanently_disabled: false
  interface: wlan0
  ssid: SiteNet
  security: wpa2-psk               # wpa2-psk | wpa3-sae
  passphrase: "<set>"
lora:
  enabled: false
  permanently_disabled: false
  region: EU868
  gateway_eui: "0016c001ff10a235"
  network_server: ns.example.com:1700
modbus:
  buses:
    - {name: rs485-1, kind: rtu, device: /dev/ttyS1, baud: 19200, parity: even, stop_bits: 1, timeout: 500ms}
    - {name: plant, kind: tcp, address: "192.168.10.20:502", timeout: 1s}
  devices:
    - {name: main-meter, bus: rs485-1, unit_id: 1, interval: 5s, profile: generic-energy-meter}
    - name: ahu-1
      bus: plant
      unit_id: 3
      interval: 10s
      points:
        # table: coil | discrete | input | holding
        # type: bool int16 uint16 int32 uint32 int64 uint64 float32 float64
        # order: ABCD (default) | CDAB | BADC | DCBA;  value = raw * scale + offset
        - {name: supply_temp, table: holding, address: 2, type: float32, order: ABCD, unit: degC}
        - {name: fan_speed, table: input, address: 0, type: uint16, scale: 0.1, unit: "%"}
        - {name: running, table: coil, address: 0, type: bool}
`

func TestDesignExample(t *testing.T) {
	s, err := ParseSite([]byte(designExample))
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasPlaceholders() {
		t.Errorf("the example's secrets are placeholders")
	}
	stored := s.Clone()
	stored.Cellular.SIMs[0].PIN = "1234"
	stored.WiFi.Passphrase = "a fine passphrase"
	if err := s.KeepSecrets(stored); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Modbus.Buses[0].DataBits != 8 || s.Modbus.Devices[1].Points[0].Order != OrderABCD {
		t.Errorf("defaults: %+v", s.Modbus.Buses[0])
	}
}

func TestImportSiteYAML(t *testing.T) {
	stored := siteFromFile(t, "full.yaml")
	export, err := EncodeSiteYAML(stored)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ImportSiteYAML(export, stored)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, stored) {
		t.Errorf("import of the export over the stored site differs from it")
	}

	// Nothing stored: the placeholders are problems, reported in file order
	// with everything else.
	broken := strings.Replace(string(export), "unit_id: 10", "unit_id: 0", 1)
	_, err = ImportSiteYAML([]byte(broken), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Path)
		if p.Line == 0 {
			t.Errorf("%s: no line", p)
		}
	}
	want := "cellular.sims[0].pin cellular.sims[1].pin wifi.passphrase lora.devices[0].nwk_s_key lora.devices[0].app_s_key lora.devices[1].app_key lora.devices[2].app_key modbus.devices[1].unit_id"
	if strings.Join(got, " ") != want {
		t.Errorf("paths = %v, want %s", got, want)
	}
}

// Emitting the devices one at a time gives exactly what emitting the site
// whole gives.
func TestEncodeSiteYAMLDeviceByDeviceIsTheSame(t *testing.T) {
	var sites []*Site
	for _, f := range []string{"demo.yaml", "full.yaml"} {
		s, err := DecodeSiteYAML(readTestdata(t, f))
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, s)
	}
	sites = append(sites, largeSite(20, 7))
	odd := largeSite(3, 2)
	odd.Site.Name = `quote ' and " and: colon`
	odd.Modbus.Devices[1].Points = nil
	sites = append(sites, odd)
	for i, s := range sites {
		got, err := EncodeSiteYAML(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeWhole(s.Redacted())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("site %d: device by device\n%s\nwhole\n%s", i, got, want)
		}
	}
}

// largeSite is devices × points, every point spelled out: the shape of the
// largest plausible site (300 × 100).
func largeSite(devices, points int) *Site {
	s := DefaultSite()
	s.Modbus.Buses = []Bus{{Name: "plant", Kind: BusTCP, Address: "192.168.10.20:502"}}
	for d := range devices {
		dev := Device{Name: fmt.Sprintf("device-%03d", d), Bus: "plant", UnitID: 1 + d%247, Interval: Duration(10 * time.Second)}
		for p := range points {
			pt := Point{Name: fmt.Sprintf("supply_temperature_%03d", p), Table: TableHolding, Address: p * 2, Type: TypeFloat32, Order: OrderCDAB, Unit: "degC", Offset: -40}
			pt.SetScale(0.1)
			dev.Points = append(dev.Points, pt)
		}
		s.Modbus.Devices = append(s.Modbus.Devices, dev)
	}
	s.ApplyDefaults()
	return s
}
