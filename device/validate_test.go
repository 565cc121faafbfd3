package device

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// problemsOf returns the problems of a Validate error, failing the test on
// errors of other types.
func validationProblems(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T, want *ValidationError: %v", err, err)
	}
	return ve.Problems
}

func sec(d time.Duration) Duration { return Duration(d) }

// TestValidateRules checks each rule on the full example: a good case
// validates, a bad case reports exactly one problem at the given path whose
// message contains the given fragment.
func TestValidateRules(t *testing.T) {
	type rule struct {
		name   string
		mutate func(s *Site)
		path   string // "" for a good case
		frag   string
	}
	// Problems that follow from the one a rule is about.
	extra := map[string]int{"three SIMs": 1}
	dev := func(s *Site, i int) *Device { return &s.Modbus.Devices[i] }
	pt := func(s *Site, dev, i int) *Point { return &s.Modbus.Devices[dev].Points[i] }
	boiler := 1 // index of boiler-1 in full.yaml, which has explicit points

	tests := []rule{
		{"full example", func(s *Site) {}, "", ""},

		// site
		{"name 128 chars", func(s *Site) { s.Site.Name = strings.Repeat("é", 128) }, "", ""},
		{"name missing", func(s *Site) { s.Site.Name = "" }, "site.name", "is required (1..128 characters)"},
		{"name too long", func(s *Site) { s.Site.Name = strings.Repeat("x", 129) }, "site.name", "129 characters long; at most 128"},
		{"name control char", func(s *Site) { s.Site.Name = "a\nb" }, "site.name", "control character U+000A"},
		{"name invalid utf-8", func(s *Site) { s.Site.Name = "a\xffb" }, "site.name", "not valid UTF-8"},

		// access
		{"password max 64", func(s *Site) { s.Access.PasswordMaxLength = 64 }, "", ""},
		{"password max 7", func(s *Site) { s.Access.PasswordMaxLength = 7 }, "access.password_max_length", "7 is outside 8..64"},
		{"require_2fa empty", func(s *Site) { s.Access.Require2FA = []Role{} }, "", ""},
		{"require_2fa duplicate", func(s *Site) { s.Access.Require2FA = []Role{RoleAdmin, RoleAdmin} }, "access.require_2fa[1]", "admin is already listed at require_2fa[0]"},
		{"require_2fa unknown", func(s *Site) { s.Access.Require2FA = []Role{Role(9)} }, "access.require_2fa[0]", "9 is not a role (valid: admin, installer, support, viewer)"},
		{"idle timeout 24h", func(s *Site) { s.Access.IdleTimeout = sec(24 * time.Hour) }, "", ""},
		{"idle timeout 30s", func(s *Site) { s.Access.IdleTimeout = sec(30 * time.Second) }, "access.idle_timeout", "30s is outside 1m..24h"},

		// clock
		{"ntp hosts", func(s *Site) {
			s.Clock.NTPServers = []string{"time.example", "10.0.0.1", "2001:db8::1", "[2001:db8::1]:123", "time.example.:123"}
		}, "", ""},
		{"ntp bad host", func(s *Site) { s.Clock.NTPServers = []string{"pool..ntp.org"} }, "clock.ntp_servers[0]", `"pool..ntp.org" is not a valid host name or IP address`},
		{"ntp bad IPv4", func(s *Site) { s.Clock.NTPServers = []string{"192.168.1.300"} }, "clock.ntp_servers[0]", "not a valid host name or IP address"},
		{"ntp bad port", func(s *Site) { s.Clock.NTPServers = []string{"time.example:70000"} }, "clock.ntp_servers[0]", `port "70000" in "time.example:70000" is not a number in 1..65535`},
		{"ntp port 0", func(s *Site) { s.Clock.NTPServers = []string{"time.example:0"} }, "clock.ntp_servers[0]", "1..65535"},
		{"ntp duplicate", func(s *Site) { s.Clock.NTPServers = []string{"a.example", "a.example"} }, "clock.ntp_servers[1]", "already listed at ntp_servers[0]"},
		{"timezone UTC", func(s *Site) { s.Clock.Timezone = "UTC" }, "", ""},
		{"timezone empty", func(s *Site) { s.Clock.Timezone = "" }, "", ""},
		{"timezone unknown", func(s *Site) { s.Clock.Timezone = "Europe/Pariss" }, "clock.timezone", `unknown time zone "Europe/Pariss" (use an IANA name such as Europe/Paris, or UTC)`},
		{"timezone Local", func(s *Site) { s.Clock.Timezone = "Local" }, "clock.timezone", "IANA name"},

		// wan
		{"priority one link", func(s *Site) { s.WAN.Priority = []LinkKind{LinkEthernet} }, "", ""},
		{"priority empty", func(s *Site) { s.WAN.Priority = nil }, "wan.priority", "at least one link is required (cellular, ethernet, wifi)"},
		{"priority duplicate", func(s *Site) { s.WAN.Priority = []LinkKind{LinkWiFi, LinkEthernet, LinkWiFi} }, "wan.priority[2]", "wifi is already listed at priority[0]"},
		{"priority unknown", func(s *Site) { s.WAN.Priority = []LinkKind{LinkKind(7)} }, "wan.priority[0]", "is not a link (valid: cellular, ethernet, wifi)"},
		{"probe target IPv6", func(s *Site) { s.WAN.Probe.Targets = []string{"[2001:db8::1]:443"} }, "", ""},
		{"probe target without port", func(s *Site) { s.WAN.Probe.Targets = []string{"telemetry.example.com"} }, "wan.probe.targets[0]", `"telemetry.example.com" has no port (write host:port`},
		{"probe target bad host", func(s *Site) { s.WAN.Probe.Targets = []string{"-bad-.example:443"} }, "wan.probe.targets[0]", "not a valid host name"},
		{"probe interval 10m", func(s *Site) { s.WAN.Probe.Interval = sec(10 * time.Minute) }, "", ""},
		{"probe interval 500ms", func(s *Site) { s.WAN.Probe.Interval = sec(500 * time.Millisecond) }, "wan.probe.interval", "500ms is outside 1s..10m"},
		{"probe down_after 0", func(s *Site) { s.WAN.Probe.DownAfter = 0 }, "wan.probe.down_after", "0 is outside 1..100"},
		{"probe up_after 101", func(s *Site) { s.WAN.Probe.UpAfter = 101 }, "wan.probe.up_after", "101 is outside 1..100"},
		{"ethernet dhcp", func(s *Site) { s.WAN.Ethernet = Ethernet{Interface: "eth0", DHCP: true} }, "", ""},
		{"ethernet static IPv6", func(s *Site) {
			s.WAN.Ethernet = Ethernet{Interface: "eth0", Address: "2001:db8::5/64", Gateway: "2001:db8::1"}
		}, "", ""},
		{"ethernet no address", func(s *Site) { s.WAN.Ethernet = Ethernet{Interface: "eth0"} }, "wan.ethernet.address", "is required when dhcp is false"},
		{"ethernet address not CIDR", func(s *Site) { s.WAN.Ethernet.Address = "192.168.10.5" }, "wan.ethernet.address", `"192.168.10.5" is not an address in CIDR form`},
		{"ethernet address with dhcp", func(s *Site) { s.WAN.Ethernet.DHCP = true; s.WAN.Ethernet.Gateway = "" }, "wan.ethernet.address", "is set but dhcp is true"},
		{"ethernet gateway not IP", func(s *Site) { s.WAN.Ethernet.Gateway = "router" }, "wan.ethernet.gateway", `"router" is not an IP address`},
		{"ethernet gateway outside", func(s *Site) { s.WAN.Ethernet.Gateway = "10.0.0.1" }, "wan.ethernet.gateway", "10.0.0.1 is outside the network 192.168.10.0/24"},
		{"ethernet interface", func(s *Site) { s.WAN.Ethernet.Interface = "eth 0" }, "wan.ethernet.interface", `"eth 0" is not a network interface name`},

		// cellular
		{"failover 1h", func(s *Site) { s.Cellular.FailoverAfter = sec(time.Hour) }, "", ""},
		{"failover 10s", func(s *Site) { s.Cellular.FailoverAfter = sec(10 * time.Second) }, "cellular.failover_after", "10s is outside 30s..1h"},
		{"cellular disabled without SIMs", func(s *Site) {
			s.Cellular.Enabled, s.Cellular.SIMs, s.Cellular.Rotate = false, nil, RotateOff
		}, "", ""},
		{"cellular enabled without SIMs", func(s *Site) { s.Cellular.SIMs, s.Cellular.Rotate = nil, RotateOff }, "cellular.sims", "no SIM is configured"},
		{"three SIMs", func(s *Site) { s.Cellular.SIMs = append(s.Cellular.SIMs, SIM{Slot: 1, APN: "x"}) }, "cellular.sims", "has 3 SIMs; the gateway has 2 slots"},
		{"weekly rotation with one SIM", func(s *Site) { s.Cellular.SIMs = s.Cellular.SIMs[:1] }, "cellular.rotate", "weekly rotation needs two SIMs"},
		{"rotate unknown", func(s *Site) { s.Cellular.Rotate = Rotate(5) }, "cellular.rotate", "is not a rotate setting (valid: off, weekly)"},
		{"sim slot 3", func(s *Site) { s.Cellular.SIMs[1].Slot = 3 }, "cellular.sims[1].slot", "3 is not a SIM slot (1 or 2)"},
		{"sim slot duplicate", func(s *Site) { s.Cellular.SIMs[1].Slot = 1 }, "cellular.sims[1].slot", "slot 1 is already used by sims[0]"},
		{"apn 63 chars", func(s *Site) { s.Cellular.SIMs[0].APN = strings.Repeat("a", 63) }, "", ""},
		{"apn missing", func(s *Site) { s.Cellular.SIMs[0].APN = "" }, "cellular.sims[0].apn", "is required (1..63 of letters, digits"},
		{"apn too long", func(s *Site) { s.Cellular.SIMs[0].APN = strings.Repeat("a", 64) }, "cellular.sims[0].apn", "64 characters long; at most 63"},
		{"apn bad char", func(s *Site) { s.Cellular.SIMs[0].APN = "inter net" }, "cellular.sims[0].apn", `"inter net" contains ' '`},
		{"pin placeholder", func(s *Site) { s.Cellular.SIMs[0].PIN = SecretPlaceholder }, "", ""},
		{"pin none", func(s *Site) { s.Cellular.SIMs[0].PIN = "" }, "", ""},
		{"pin 3 digits", func(s *Site) { s.Cellular.SIMs[0].PIN = "123" }, "cellular.sims[0].pin", "must be 4 to 8 digits (the given PIN has 3 characters)"},
		{"pin letters", func(s *Site) { s.Cellular.SIMs[0].PIN = "12a4" }, "cellular.sims[0].pin", "must be 4 to 8 digits"},
		{"monthly limit negative", func(s *Site) { s.Cellular.SIMs[0].MonthlyLimitMB = -1 }, "cellular.sims[0].monthly_limit_mb", "-1 is negative (0 means no limit)"},
		{"cellular interface", func(s *Site) { s.Cellular.Interface = "wwan0/1" }, "cellular.interface", "is not a network interface name"},

		// wifi
		{"wifi disabled, nothing set", func(s *Site) { s.WiFi = WiFi{Interface: "wlan0"} }, "", ""},
		{"wifi disabled without passphrase", func(s *Site) { s.WiFi.Enabled = false; s.WiFi.Passphrase = "" }, "", ""},
		{"wifi permanently disabled", func(s *Site) { s.WiFi.PermanentlyDisabled = true }, "wifi.enabled", "sitegate radio enable wifi"},
		{"wifi permanently disabled and off", func(s *Site) { s.WiFi.PermanentlyDisabled = true; s.WiFi.Enabled = false }, "", ""},
		{"ssid 32 bytes", func(s *Site) { s.WiFi.SSID = strings.Repeat("s", 32) }, "", ""},
		{"ssid missing", func(s *Site) { s.WiFi.SSID = "" }, "wifi.ssid", "is required when wifi is enabled (1..32 bytes)"},
		{"ssid too long", func(s *Site) { s.WiFi.SSID = strings.Repeat("é", 17) }, "wifi.ssid", "34 bytes long; at most 32"},
		{"ssid control char", func(s *Site) { s.WiFi.SSID = "a\tb" }, "wifi.ssid", "control character"},
		{"security missing", func(s *Site) { s.WiFi.Security = 0 }, "wifi.security", "is required when wifi is enabled (wpa2-psk, wpa3-sae)"},
		{"passphrase missing", func(s *Site) { s.WiFi.Passphrase = "" }, "wifi.passphrase", "is required when wifi is enabled"},
		{"passphrase placeholder", func(s *Site) { s.WiFi.Passphrase = SecretPlaceholder }, "", ""},
		{"wpa2 hex psk", func(s *Site) { s.WiFi.Passphrase = Secret(strings.Repeat("0a", 32)) }, "", ""},
		{"wpa2 8 chars", func(s *Site) { s.WiFi.Passphrase = "12345678" }, "", ""},
		{"wpa2 7 chars", func(s *Site) { s.WiFi.Passphrase = "1234567" }, "wifi.passphrase", "has 7 characters; wpa2-psk needs 8..63 printable ASCII characters or exactly 64 hex digits"},
		{"wpa2 64 non-hex", func(s *Site) { s.WiFi.Passphrase = Secret(strings.Repeat("z", 64)) }, "wifi.passphrase", "has 64 characters"},
		{"wpa2 non-ASCII", func(s *Site) { s.WiFi.Passphrase = "pässwort123" }, "wifi.passphrase", "not printable ASCII"},
		{"wpa3 non-ASCII", func(s *Site) { s.WiFi.Security = SecurityWPA3SAE; s.WiFi.Passphrase = "pässwort123" }, "", ""},
		{"wpa3 hex psk", func(s *Site) {
			s.WiFi.Security = SecurityWPA3SAE
			s.WiFi.Passphrase = Secret(strings.Repeat("0a", 32))
		}, "wifi.passphrase", "wpa3-sae needs 8..63 printable characters"},
		{"wpa3 control char", func(s *Site) { s.WiFi.Security = SecurityWPA3SAE; s.WiFi.Passphrase = "abc\x01defgh" }, "wifi.passphrase", "not printable"},

		// lora
		{"lora disabled, nothing set", func(s *Site) { s.LoRa = LoRa{} }, "", ""},
		{"lora region AS923-3", func(s *Site) { s.LoRa.Region, s.LoRa.Mode = RegionAS923_3, LoRaForward }, "", ""},
		{"lora region missing", func(s *Site) { s.LoRa.Region = 0 }, "lora.region", "is required when lora is enabled (EU868, US915"},
		{"lora region unknown", func(s *Site) { s.LoRa.Region = LoRaRegion(99) }, "lora.region", "99 is not a LoRa region"},
		{"lora permanently disabled", func(s *Site) { s.LoRa.PermanentlyDisabled = true }, "lora.enabled", "sitegate radio enable lora"},
		{"eui upper case", func(s *Site) { s.LoRa.GatewayEUI = "0016C001FF10A235" }, "", ""},
		{"eui short", func(s *Site) { s.LoRa.GatewayEUI = "0016c001ff10a23" }, "lora.gateway_eui", `"0016c001ff10a23" is not 16 hex digits`},
		{"eui not hex", func(s *Site) { s.LoRa.GatewayEUI = "0016c001ff10a23g" }, "lora.gateway_eui", "is not 16 hex digits"},
		{"eui missing", func(s *Site) { s.LoRa.GatewayEUI = "" }, "lora.gateway_eui", "is required when lora is enabled"},
		{"network server no port", func(s *Site) { s.LoRa.NetworkServer = "ns.example.com" }, "lora.network_server", "has no port"},
		{"network server missing", func(s *Site) { s.LoRa.NetworkServer, s.LoRa.Mode = "", LoRaForward }, "lora.network_server", "is required when lora is enabled"},

		// modbus buses
		{"bus name bad", func(s *Site) { s.Modbus.Buses[1].Name = "plant room"; dev(s, 1).Bus = "plant room" }, "modbus.buses[1].name", `"plant room" contains ' ' (use letters, digits, '_', '.', '-')`},
		{"bus name too long", func(s *Site) {
			s.Modbus.Buses[1].Name = strings.Repeat("b", 65)
			dev(s, 1).Bus = s.Modbus.Buses[1].Name
		}, "modbus.buses[1].name", "65 characters long; at most 64"},
		{"bus name duplicate", func(s *Site) {
			s.Modbus.Buses = append(s.Modbus.Buses, s.Modbus.Buses[1])
		}, "modbus.buses[2].name", `bus "plant" is already defined at buses[1]`},
		{"bus kind missing", func(s *Site) { s.Modbus.Buses[1].Kind = 0 }, "modbus.buses[1].kind", "is required (rtu, tcp)"},
		{"rtu device missing", func(s *Site) { s.Modbus.Buses[0].Device = "" }, "modbus.buses[0].device", "is required for rtu buses"},
		{"rtu device relative", func(s *Site) { s.Modbus.Buses[0].Device = "ttyS1" }, "modbus.buses[0].device", `"ttyS1" is not an absolute device path`},
		{"rtu baud 115200", func(s *Site) { s.Modbus.Buses[0].Baud = 115200 }, "", ""},
		{"rtu baud odd", func(s *Site) { s.Modbus.Buses[0].Baud = 12345 }, "modbus.buses[0].baud", "12345 is not a standard rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)"},
		{"rtu parity unknown", func(s *Site) { s.Modbus.Buses[0].Parity = Parity(9) }, "modbus.buses[0].parity", "is not a parity (valid: none, even, odd)"},
		{"rtu 7 data bits", func(s *Site) { s.Modbus.Buses[0].DataBits = 7 }, "", ""},
		{"rtu 6 data bits", func(s *Site) { s.Modbus.Buses[0].DataBits = 6 }, "modbus.buses[0].data_bits", "6 is not 7 or 8"},
		{"rtu 3 stop bits", func(s *Site) { s.Modbus.Buses[0].StopBits = 3 }, "modbus.buses[0].stop_bits", "3 is not 1 or 2"},
		{"rtu with address", func(s *Site) { s.Modbus.Buses[0].Address = "10.0.0.1:502" }, "modbus.buses[0].address", "applies to tcp buses only"},
		{"tcp address missing", func(s *Site) { s.Modbus.Buses[1].Address = "" }, "modbus.buses[1].address", "is required for tcp buses"},
		{"tcp address no port", func(s *Site) { s.Modbus.Buses[1].Address = "192.168.10.20" }, "modbus.buses[1].address", "has no port"},
		{"tcp with baud", func(s *Site) { s.Modbus.Buses[1].Baud = 9600 }, "modbus.buses[1].baud", "applies to rtu buses only"},
		{"bus timeout 30s", func(s *Site) {
			s.Modbus.Buses[1].Timeout = sec(30 * time.Second)
			dev(s, boiler).Interval = sec(time.Minute)
		}, "", ""},
		{"bus timeout 5ms", func(s *Site) { s.Modbus.Buses[1].Timeout = sec(5 * time.Millisecond) }, "modbus.buses[1].timeout", "5ms is outside 10ms..30s"},
		{"tcp max_in_flight 16", func(s *Site) { s.Modbus.Buses[1].MaxInFlight = 16 }, "", ""},
		{"tcp max_in_flight 17", func(s *Site) { s.Modbus.Buses[1].MaxInFlight = 17 }, "modbus.buses[1].max_in_flight", "17 is outside 1..16"},
		{"rtu max_in_flight", func(s *Site) { s.Modbus.Buses[0].MaxInFlight = 2 }, "modbus.buses[0].max_in_flight", "applies to tcp buses only"},

		// modbus devices
		{"device name duplicate", func(s *Site) { dev(s, 2).Name = "main-meter" }, "modbus.devices[2].name", `device "main-meter" is already defined at devices[0]`},
		{"device name bad", func(s *Site) { dev(s, 2).Name = "pump/vsd" }, "modbus.devices[2].name", `"pump/vsd" contains '/'`},
		{"device bus unknown", func(s *Site) { dev(s, 0).Bus = "rs458-1" }, "modbus.devices[0].bus", `unknown bus "rs458-1" (known: rs485-1, plant); did you mean "rs485-1"?`},
		{"device bus unknown, nothing close", func(s *Site) { dev(s, 0).Bus = "zzz" }, "modbus.devices[0].bus", `unknown bus "zzz" (known: rs485-1, plant)`},
		{"device bus missing", func(s *Site) { dev(s, 0).Bus = "" }, "modbus.devices[0].bus", "is required"},
		{"unit id 247", func(s *Site) { dev(s, 0).UnitID = 247 }, "", ""},
		{"unit id 0", func(s *Site) { dev(s, 1).UnitID = 0 }, "modbus.devices[1].unit_id", "0 is outside 1..247"},
		{"unit id 248", func(s *Site) { dev(s, 1).UnitID = 248 }, "modbus.devices[1].unit_id", "248 is outside 1..247"},
		{"interval 24h", func(s *Site) { dev(s, 0).Interval = sec(24 * time.Hour) }, "", ""},
		{"interval 50ms", func(s *Site) { dev(s, 0).Interval = sec(50 * time.Millisecond) }, "modbus.devices[0].interval", "50ms is outside 100ms..24h"},
		{"device timeout 31s", func(s *Site) { dev(s, 0).Timeout = sec(31 * time.Second) }, "modbus.devices[0].timeout", "31s is outside 10ms..30s"},
		{"device timeout not shorter", func(s *Site) { dev(s, 0).Timeout = sec(5 * time.Second) }, "modbus.devices[0].timeout", "5s is not shorter than interval 5s"},
		{"interval not above bus timeout", func(s *Site) { dev(s, 2).Interval = sec(500 * time.Millisecond) }, "modbus.devices[2].interval", `500ms is not longer than the timeout 500ms of bus "rs485-1"`},
		{"max gap 125", func(s *Site) { dev(s, 0).SetMaxGap(125) }, "", ""},
		{"max gap 126", func(s *Site) { dev(s, 0).SetMaxGap(126) }, "modbus.devices[0].max_gap", "126 is outside 0..125"},
		{"max registers 0", func(s *Site) { dev(s, 0).MaxRegisters = 0 }, "modbus.devices[0].max_registers", "0 is outside 1..125"},
		{"max registers 4", func(s *Site) { dev(s, boiler).MaxRegisters = 4 }, "", ""},
		{"max registers below a point", func(s *Site) { dev(s, boiler).MaxRegisters = 3 }, "modbus.devices[1].max_registers", `3 is less than the 4 registers of point "gas_total"`},
		{"profile unknown", func(s *Site) { dev(s, 2).Profile = "generic-vfd" }, "modbus.devices[2].profile", `unknown profile "generic-vfd" (known: carlo-gavazzi-em24, eastron-sdm630, eastron-sdm72d-m, generic-energy-meter, generic-temp-humidity, generic-vsd); did you mean "generic-vsd"?`},
		{"no profile, no points", func(s *Site) { dev(s, 2).Profile = "" }, "modbus.devices[2].points", "no points: list points, or name a profile"},

		// points
		{"point name duplicate", func(s *Site) { pt(s, boiler, 1).Name = "flow_temp" }, "modbus.devices[1].points[1].name", `point "flow_temp" is already defined at points[0]`},
		{"point name missing", func(s *Site) { pt(s, boiler, 1).Name = "" }, "modbus.devices[1].points[1].name", "is required (1..64 of letters"},
		{"point table missing", func(s *Site) { pt(s, boiler, 0).Table = 0 }, "modbus.devices[1].points[0].table", "is required (coil, discrete, input, holding)"},
		{"point type missing", func(s *Site) { pt(s, boiler, 0).Type = 0 }, "modbus.devices[1].points[0].type", "is required (bool, int16"},
		{"coil with uint16", func(s *Site) { pt(s, boiler, 8).Type = TypeUint16 }, "modbus.devices[1].points[8].type", "coil points hold single bits, so the type must be bool, not uint16"},
		{"holding with bool", func(s *Site) { p := pt(s, boiler, 7); p.Type, p.Order, p.ScaleFactor = TypeBool, OrderABCD, nil }, "modbus.devices[1].points[7].type", "bool is for coil and discrete points"},
		{"address 65535 uint16", func(s *Site) { pt(s, boiler, 7).Address = 65535 }, "", ""},
		{"address 65534 float32", func(s *Site) { pt(s, boiler, 4).Address = 65532 }, "", ""},
		{"address 70000", func(s *Site) { pt(s, boiler, 0).Address = 70000 }, "modbus.devices[1].points[0].address", "70000 is outside 0..65535"},
		{"address negative", func(s *Site) { pt(s, boiler, 0).Address = -1 }, "modbus.devices[1].points[0].address", "-1 is outside 0..65535"},
		{"address overflow", func(s *Site) { pt(s, boiler, 2).Address = 65535 }, "modbus.devices[1].points[2].address", "address 65535 + 2 registers overflows 65535"},
		{"order BADC on uint16", func(s *Site) { pt(s, boiler, 7).Order = OrderBADC }, "", ""},
		{"order CDAB on int16", func(s *Site) { pt(s, boiler, 0).Order = OrderCDAB }, "modbus.devices[1].points[0].order", "CDAB reorders words, but int16 is a single register"},
		{"order on bool", func(s *Site) { pt(s, boiler, 8).Order = OrderDCBA }, "modbus.devices[1].points[8].order", "applies to register points only"},
		{"order unknown", func(s *Site) { pt(s, boiler, 2).Order = ByteOrder(9) }, "modbus.devices[1].points[2].order", "is not a byte order (valid: ABCD, CDAB, BADC, DCBA)"},
		{"scale negative", func(s *Site) { pt(s, boiler, 0).SetScale(-0.5) }, "", ""},
		{"scale 0", func(s *Site) { pt(s, boiler, 0).SetScale(0) }, "modbus.devices[1].points[0].scale", "0 would turn every value into 0; omit scale for 1"},
		{"scale NaN", func(s *Site) { pt(s, boiler, 0).SetScale(math.NaN()) }, "modbus.devices[1].points[0].scale", "must be a finite number"},
		{"scale on bool", func(s *Site) { pt(s, boiler, 8).SetScale(2) }, "modbus.devices[1].points[8].scale", "applies to numeric points only"},
		{"offset infinite", func(s *Site) { pt(s, boiler, 1).Offset = math.Inf(-1) }, "modbus.devices[1].points[1].offset", "must be a finite number"},
		{"offset on bool", func(s *Site) { pt(s, boiler, 9).Offset = 1 }, "modbus.devices[1].points[9].offset", "applies to numeric points only"},
		{"unit degree sign", func(s *Site) { pt(s, boiler, 0).Unit = "°C" }, "", ""},
		{"unit newline", func(s *Site) { pt(s, boiler, 0).Unit = "deg\nC" }, "modbus.devices[1].points[0].unit", "control character"},
		{"unit too long", func(s *Site) { pt(s, boiler, 0).Unit = strings.Repeat("u", 33) }, "modbus.devices[1].points[0].unit", "at most 32"},
		{"writable input", func(s *Site) { pt(s, boiler, 0).Writable = true }, "modbus.devices[1].points[0].writable", "input points are read-only in Modbus"},
		{"writable discrete", func(s *Site) { pt(s, boiler, 9).Writable = true }, "modbus.devices[1].points[9].writable", "discrete points are read-only"},
		{"profile point override", func(s *Site) {
			dev(s, 0).Points[0] = Point{Name: "frequency", Table: TableHolding, Address: 10, Type: TypeUint16, Writable: true}
		}, "", ""},
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
			if len(ps) != 1+extra[tt.name] {
				t.Fatalf("want %d problem(s), the first at %s; got %d:\n%v", 1+extra[tt.name], tt.path, len(ps), &ValidationError{ps})
			}
			if ps[0].Path != tt.path || !strings.Contains(ps[0].Message, tt.frag) {
				t.Errorf("got  %s\nwant %s: ...%s...", ps[0], tt.path, tt.frag)
			}
		})
	}
}

// TestSecretProblemsDoNotQuote: messages about secrets never carry the value.
func TestSecretProblemsDoNotQuote(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	s.Cellular.SIMs[0].PIN = "12x"
	s.WiFi.Passphrase = "shortpw"
	err := s.Validate()
	if err == nil {
		t.Fatal("no problems")
	}
	if strings.Contains(err.Error(), "12x") || strings.Contains(err.Error(), "shortpw") {
		t.Errorf("problem reveals a secret:\n%v", err)
	}
}

// TestValidateReportsEverything breaks many things at once and expects
// every one of them, in one error.
func TestValidateReportsEverything(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	s.Site.Name = ""
	s.Access.PasswordMaxLength = 3
	s.Clock.Timezone = "Nowhere/Town"
	s.WAN.Priority = []LinkKind{LinkWiFi, LinkWiFi}
	s.Cellular.SIMs[1].Slot = 7
	s.WiFi.SSID = ""
	s.LoRa.GatewayEUI = "xyz"
	s.Modbus.Buses[0].Baud = 1
	s.Modbus.Devices[1].UnitID = 0
	s.Modbus.Devices[1].Points[2].Address = 65535
	want := []string{
		"site.name",
		"access.password_max_length",
		"clock.timezone",
		"wan.priority[1]",
		"cellular.sims[1].slot",
		"wifi.ssid",
		"lora.gateway_eui",
		"modbus.buses[0].baud",
		"modbus.devices[1].unit_id",
		"modbus.devices[1].points[2].address",
	}
	ps := validationProblems(t, s.Validate())
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("paths:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	msg := s.Validate().Error()
	if !strings.Contains(msg, "modbus.devices[1].unit_id: 0 is outside 1..247\n") || strings.Count(msg, "\n") != len(want)-1 {
		t.Errorf("Error() =\n%s", msg)
	}
}

func TestClosestName(t *testing.T) {
	names := []string{"unit_id", "interval", "max_registers", "name"}
	for word, want := range map[string]string{
		"unti_id":   "unit_id",
		"Unit_ID":   "unit_id",
		"interval":  "interval",
		"intervall": "interval",
		"max_reg":   "max_registers",
		"nam":       "name",
		"xyz":       "",
		"":          "",
		"foo_bar":   "",
	} {
		if got := closestName(word, names); got != want {
			t.Errorf("closestName(%q) = %q, want %q", word, got, want)
		}
	}
}
