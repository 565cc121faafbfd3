package device

import (
	"errors"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/store"
)

// snmpDoc is the issue's own example of an snmp section, with the fields
// this package adds.
const snmpDoc = `
site: {name: SNMP example}
snmp:
  trap_listen: 127.0.0.1:162        # optional; no trap receiver without it
  trap_rules:
    - {trap: 1.3.6.1.6.3.1.1.5.3, severity: critical}
    - {trap: 1.3.6.1.6.3.1.1.5.4, action: clear, alert: 1.3.6.1.6.3.1.1.5.3}
    - {trap: 1.3.6.1.4.1.8072.2.3.0.1, device: sw-1, match: {oid: 1.3.6.1.2.1.1.5, value: lab}}
  devices:
    - name: ups-1
      address: 192.168.10.40:161
      version: v3                   # v2c | v3
      user: {name: gw, auth: sha256, auth_key: "authpass-123", priv: aes128, priv_key: "privpass-456"}
      interval: 30s
      points:
        - {name: uptime, oid: 1.3.6.1.2.1.1.3.0}
        - {name: sysname, oid: 1.3.6.1.2.1.1.5.0}
    - name: sw-1
      address: 192.168.10.41
      version: v2c
      community: "s3cret-community"
      timeout: 1s
      retries: 2
      points:
        - {name: if_in, walk: 1.3.6.1.2.1.2.2.1.10, index: ifDescr, convert: rate, scale: 8, unit: bit/s, max_rows: 48}
        - {name: if_mac, walk: 1.3.6.1.2.1.2.2.1.6, convert: hwaddr}
        - {name: if_up, walk: 1.3.6.1.2.1.2.2.1.8, index: 1.3.6.1.2.1.31.1.1.1.1, convert: enum, enum: [{agent: "1", value: "true"}, {agent: "2", value: "false"}]}
`

func TestSNMPIssueExample(t *testing.T) {
	s, err := ParseSite([]byte(snmpDoc))
	if err != nil {
		t.Fatal(err)
	}
	n := s.SNMP
	if n.TrapListen != "127.0.0.1:162" || len(n.Devices) != 2 || len(n.TrapRules) != 3 {
		t.Fatalf("%+v", n)
	}
	ups, sw := n.Devices[0], n.Devices[1]
	if ups.Version != SNMPv3 || ups.User.Auth != SNMPAuthSHA256 || ups.User.Priv != SNMPPrivAES128 || ups.User.AuthKey.Reveal() != "authpass-123" {
		t.Fatalf("ups %+v %+v", ups, ups.User)
	}
	if sw.EffectiveAddress() != "192.168.10.41:161" || sw.EffectiveTimeout().String() != "1s" || sw.EffectiveRetries() != 2 || sw.EffectiveInterval() != 30e9 {
		t.Fatalf("sw %+v", sw)
	}
	p := sw.Points[0]
	if !p.IsWalk() || p.IndexOID() != "1.3.6.1.2.1.2.2.1.2" || p.Convert != SNMPConvertRate || *p.Scale != 8 || p.EffectiveMaxRows() != 48 {
		t.Fatalf("point %+v", p)
	}
	if sw.Points[1].EffectiveMaxRows() != DefaultSNMPWalkRows || sw.Points[2].IndexOID() != "1.3.6.1.2.1.31.1.1.1.1" {
		t.Fatalf("points %+v", sw.Points)
	}
	if r := n.TrapRules[1]; r.AlertOID() != "1.3.6.1.6.3.1.1.5.3" || r.EffectiveSeverity() != "warning" {
		t.Fatalf("rule %+v", r)
	}
	fd := s.FieldDevices()
	if len(fd) != 2 || fd[0].Protocol != field.SNMP || fd[0].Bus != "192.168.10.40:161" || len(fd[0].Points) != 2 || fd[0].DynamicPoints {
		t.Fatalf("field devices %+v", fd)
	}
	if !fd[1].DynamicPoints || len(fd[1].Points) != 0 {
		t.Fatalf("walk device %+v", fd[1])
	}
	// A round trip through YAML keeps the section (secrets redacted).
	out, err := EncodeSiteYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ImportSiteYAML(out, s)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.SNMP.Devices[1].Community.Reveal() != "s3cret-community" || back.SNMP.Devices[1].Points[2].Enum[1].Value != "false" {
		t.Fatalf("round trip %+v", back.SNMP.Devices[1])
	}
}

// A site without SNMP exports no snmp section.
func TestSNMPSectionOmittedWhenUnused(t *testing.T) {
	out, err := EncodeSiteYAML(DefaultSite())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "snmp") {
		t.Fatalf("export has an snmp section:\n%s", out)
	}
}

func TestSNMPValidateRules(t *testing.T) {
	dev := func(s *Site, i int) *SNMPDevice { return &s.SNMP.Devices[i] }
	pt := func(s *Site, i, j int) *SNMPPoint { return &s.SNMP.Devices[i].Points[j] }
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name   string
		mutate func(s *Site)
		path   string
		frag   string
	}{
		{"example", func(s *Site) {}, "", ""},
		{"trap_listen host name", func(s *Site) { s.SNMP.TrapListen = "localhost:162" }, "snmp.trap_listen", "is not an IP address and port"},
		{"trap_listen port 0", func(s *Site) { s.SNMP.TrapListen = "0.0.0.0:0" }, "snmp.trap_listen", "has port 0"},
		{"rules without receiver", func(s *Site) { s.SNMP.TrapListen = "" }, "snmp.trap_rules", "apply only with trap_listen"},
		{"address missing", func(s *Site) { dev(s, 0).Address = "" }, "snmp.devices[0].address", "is required"},
		{"address bad port", func(s *Site) { dev(s, 0).Address = "10.0.0.1:99999" }, "snmp.devices[0].address", "1..65535"},
		{"version missing", func(s *Site) { dev(s, 1).Version = 0 }, "snmp.devices[1].version", "is required (v2c, v3)"},
		{"v2c without community", func(s *Site) { dev(s, 1).Community = "" }, "snmp.devices[1].community", "is required"},
		{"v2c community with space", func(s *Site) { dev(s, 1).Community = "pub lic" }, "snmp.devices[1].community", "printable ASCII"},
		{"v2c with user", func(s *Site) { dev(s, 1).User = dev(s, 0).User }, "snmp.devices[1].user", "v3 devices only"},
		{"v3 without user", func(s *Site) { dev(s, 0).User = nil }, "snmp.devices[0].user", "is required with v3"},
		{"v3 with community", func(s *Site) { dev(s, 0).Community = "public" }, "snmp.devices[0].community", "v2c devices only"},
		{"v3 auth missing", func(s *Site) { dev(s, 0).User.Auth = 0 }, "snmp.devices[0].user.auth", "no unauthenticated v3"},
		{"v3 auth key short", func(s *Site) { dev(s, 0).User.AuthKey = "short" }, "snmp.devices[0].user.auth_key", "must be 8..256 characters (the given one has 5)"},
		{"v3 priv key missing", func(s *Site) { dev(s, 0).User.PrivKey = "" }, "snmp.devices[0].user.priv_key", "is required"},
		{"v3 priv key without priv", func(s *Site) { dev(s, 0).User.Priv = 0 }, "snmp.devices[0].user.priv_key", "applies only with priv"},
		{"v3 authNoPriv", func(s *Site) { dev(s, 0).User.Priv, dev(s, 0).User.PrivKey = 0, "" }, "", ""},
		{"interval short", func(s *Site) { dev(s, 0).Interval = Duration(1e8) }, "snmp.devices[0].interval", "is outside 1s..24h"},
		{"timeout long", func(s *Site) { dev(s, 0).Timeout = Duration(60e9) }, "snmp.devices[0].timeout", "is outside 100ms..30s"},
		{"retries", func(s *Site) { r := 11; dev(s, 0).Retries = &r }, "snmp.devices[0].retries", "11 is outside 0..10"},
		{"device name duplicate", func(s *Site) { dev(s, 1).Name = "ups-1"; s.SNMP.TrapRules[2].Device = "" }, "snmp.devices[1].name", "already defined at devices[0]"},
		{"device name of a modbus device", func(s *Site) {
			s.Modbus.Buses = []Bus{{Name: "b", Kind: BusTCP, Address: "127.0.0.1:502", Timeout: Duration(5e8)}}
			s.Modbus.Devices = []Device{{Name: "sw-1", Bus: "b", UnitID: 1, Interval: Duration(1e9), MaxRegisters: 10, Points: []Point{{Name: "p", Table: TableHolding, Address: 1, Type: TypeUint16}}}}
			s.Modbus.Devices[0].SetMaxGap(0)
		}, "snmp.devices[1].name", "unique across the site"},
		{"point name duplicate", func(s *Site) { pt(s, 0, 1).Name = "uptime" }, "snmp.devices[0].points[1].name", "already defined at points[0]"},
		{"point without oid", func(s *Site) { pt(s, 0, 0).OID = "" }, "snmp.devices[0].points[0].oid", "is required"},
		{"point oid and walk", func(s *Site) { pt(s, 0, 0).Walk = "1.3.6.1.2.1.2.2.1.10" }, "snmp.devices[0].points[0].walk", "not both"},
		{"oid by name", func(s *Site) { pt(s, 0, 0).OID = "sysUpTime.0" }, "snmp.devices[0].points[0].oid", "names such as sysUpTime are not resolved"},
		{"oid too big", func(s *Site) { pt(s, 0, 0).OID = "1.3.6.4294967296" }, "snmp.devices[0].points[0].oid", "not a number in 0..4294967295"},
		{"oid bad root", func(s *Site) { pt(s, 0, 0).OID = "5.3.6" }, "snmp.devices[0].points[0].oid", "must start with 0, 1 or 2"},
		{"oid leading dot", func(s *Site) { pt(s, 0, 0).OID = ".1.3.6.1.2.1.1.3.0" }, "", ""},
		{"index on a scalar", func(s *Site) { pt(s, 0, 0).Index = "ifDescr" }, "snmp.devices[0].points[0].index", "walk points only"},
		{"index unknown", func(s *Site) { pt(s, 1, 0).Index = "ifDescription" }, "snmp.devices[1].points[0].index", "neither a column OID nor a known column"},
		{"max_rows too many", func(s *Site) { pt(s, 1, 0).MaxRows = MaxSNMPWalkRows + 1 }, "snmp.devices[1].points[0].max_rows", "outside 1..512"},
		{"too many rows", func(s *Site) {
			for i := range 3 {
				p := *pt(s, 1, 0)
				p.Name, p.MaxRows = "w"+string(rune('a'+i)), MaxSNMPWalkRows
				dev(s, 1).Points = append(dev(s, 1).Points, p)
			}
		}, "snmp.devices[1].points", "at most 1024 are allowed per device"},
		{"name under a walk", func(s *Site) { pt(s, 1, 1).Name = "if_in.eth0" }, "snmp.devices[1].points[1].name", `clash with the rows of walk point "if_in"`},
		{"profile unknown", func(s *Site) { dev(s, 0).Profile = "ups" }, "snmp.devices[0].profile", `unknown SNMP profile "ups" (built in: ups-mib, if-mib, host-resources)`},
		{"profile", func(s *Site) { dev(s, 0).Profile = "ups-mib" }, "", ""},
		{"convert unknown", func(s *Site) { pt(s, 0, 0).Convert = 9 }, "snmp.devices[0].points[0].convert", "not a conversion (valid: rate, hwaddr, enum, text)"},
		{"scale with hwaddr", func(s *Site) { pt(s, 1, 1).Scale = f(2) }, "snmp.devices[1].points[1].scale", "does not apply to convert: hwaddr"},
		{"scale zero", func(s *Site) { pt(s, 1, 0).Scale = f(0) }, "snmp.devices[1].points[0].scale", "other than 0"},
		{"enum missing", func(s *Site) { pt(s, 1, 2).Enum = nil }, "snmp.devices[1].points[2].enum", "is required with convert: enum"},
		{"enum without convert", func(s *Site) { pt(s, 0, 0).Enum = []SNMPEnum{{"1", "1"}} }, "snmp.devices[0].points[0].enum", "applies only with convert: enum"},
		{"enum value bad", func(s *Site) { pt(s, 1, 2).Enum[1].Value = "up" }, "snmp.devices[1].points[2].enum[1].value", "is not a value"},
		{"enum duplicate", func(s *Site) { pt(s, 1, 2).Enum[1].Agent = "1" }, "snmp.devices[1].points[2].enum[1].agent", "already mapped at enum[0]"},
		{"rule trap bad", func(s *Site) { s.SNMP.TrapRules[0].Trap = "linkDown" }, "snmp.trap_rules[0].trap", "is not an OID"},
		{"rule device unknown", func(s *Site) { s.SNMP.TrapRules[2].Device = "sw-2" }, "snmp.trap_rules[2].device", `no SNMP device is called "sw-2"; did you mean "sw-1"?`},
		{"clear without alert", func(s *Site) { s.SNMP.TrapRules[1].Alert = "" }, "snmp.trap_rules[1].alert", "is required with action: clear"},
		{"raise with alert", func(s *Site) { s.SNMP.TrapRules[0].Alert = "1.3.6.1" }, "snmp.trap_rules[0].alert", "clear rules only"},
		{"severity", func(s *Site) { s.SNMP.TrapRules[0].Severity = "major" }, "snmp.trap_rules[0].severity", "not a severity"},
		{"match oid", func(s *Site) { s.SNMP.TrapRules[2].Match.OID = "" }, "snmp.trap_rules[2].match.oid", "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSite([]byte(snmpDoc))
			if err != nil {
				t.Fatal(err)
			}
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

// Problems of the snmp section come with their line, decoding problems
// (an unknown version) together with validation problems.
func TestSNMPProblemsHaveLines(t *testing.T) {
	doc := strings.Replace(snmpDoc, "version: v2c", "version: v1", 1)
	doc = strings.Replace(doc, "retries: 2", "retries: 2\n      colour: red", 1)
	_, err := ParseSite([]byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("ParseSite = %v", err)
	}
	for _, p := range ve.Problems {
		if p.Line == 0 || !strings.HasPrefix(p.Path, "snmp.devices[") {
			t.Errorf("problem %+v", p)
		}
	}
	if !strings.Contains(err.Error(), "v1") {
		t.Errorf("no word of the version: %v", err)
	}
}

// Communities and keys are secrets: redacted on export, kept on import
// (by name, else by address), sealed into the secret store, and never
// quoted in a problem.
func TestSNMPSecrets(t *testing.T) {
	stored, err := ParseSite([]byte(snmpDoc))
	if err != nil {
		t.Fatal(err)
	}
	stored.SNMP.TrapCommunity = "trap-community"
	secrets := []string{"authpass-123", "privpass-456", "s3cret-community", "trap-community"}
	out, err := EncodeSiteYAML(stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range secrets {
		if strings.Contains(string(out), k) {
			t.Errorf("export contains the secret %s", k)
		}
	}
	if !strings.Contains(string(out), `community: "<set>"`) || !strings.Contains(string(out), `priv_key: "<set>"`) {
		t.Errorf("export does not say the secrets are set:\n%s", out)
	}
	if strings.Contains(stored.Redacted().SNMP.Devices[0].User.AuthKey.Reveal(), "authpass") {
		t.Error("Redacted keeps the auth key")
	}

	// Renamed: kept by address. Moved: kept by name.
	in := stored.Redacted()
	in.SNMP.Devices[0].Name = "ups-renamed"
	in.SNMP.Devices[1].Address = "192.168.10.99"
	in.SNMP.TrapRules[2].Device = "sw-1"
	if err := in.KeepSecrets(stored); err != nil {
		t.Fatal(err)
	}
	if in.SNMP.Devices[0].User.PrivKey.Reveal() != "privpass-456" || in.SNMP.Devices[1].Community.Reveal() != "s3cret-community" ||
		in.SNMP.TrapCommunity.Reveal() != "trap-community" || in.HasPlaceholders() {
		t.Errorf("secrets not kept: %+v", in.SNMP)
	}
	if stored.SNMP.Devices[0].User == in.SNMP.Devices[0].User {
		t.Error("KeepSecrets shares the user with the stored site")
	}

	// Renamed and moved: nothing stored behind the placeholder.
	in = stored.Redacted()
	in.SNMP.Devices[1].Name, in.SNMP.Devices[1].Address = "sw-new", "10.0.0.9"
	err = in.KeepSecrets(stored)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "snmp.devices[1].community" {
		t.Fatalf("KeepSecrets = %v", err)
	}
	if !in.SNMP.Devices[0].User.AuthKey.IsPlaceholder() {
		t.Error("s changed although KeepSecrets failed")
	}

	// A bad key is described, never quoted.
	bad := stored.Clone()
	bad.SNMP.Devices[0].User.AuthKey = "abc\x01defgh"
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), "abc") {
		t.Fatalf("Validate = %v", err)
	}

	// Sealed: the stored JSON holds references only, and opens to the values.
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var body []byte
	if err := st.Update(func(tx *store.Tx) error {
		body, err = SealSite(tx, stored, SiteSecretPrefix)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range secrets {
		if strings.Contains(string(body), k) {
			t.Errorf("sealed site contains the secret %s", k)
		}
	}
	var opened *Site
	if err := st.Update(func(tx *store.Tx) error {
		opened, err = OpenSite(tx, body)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if opened.SNMP.Devices[0].User.AuthKey.Reveal() != "authpass-123" || opened.SNMP.Devices[1].Community.Reveal() != "s3cret-community" || opened.SNMP.TrapCommunity.Reveal() != "trap-community" {
		t.Fatalf("opened %+v", opened.SNMP)
	}
	if c := stored.Clone(); c.SNMP.Devices[1].Points[2].Enum == nil || &c.SNMP.Devices[0].Points[0] == &stored.SNMP.Devices[0].Points[0] {
		t.Error("Clone shares the snmp lists")
	}
}

// Every built-in profile's points validate, and a device's own point
// replaces the profile's of the same name.
func TestSNMPProfiles(t *testing.T) {
	for _, p := range SNMPProfiles() {
		s := DefaultSite()
		s.SNMP.Devices = []SNMPDevice{{Name: "d", Address: "10.0.0.1", Version: SNMPv2c, Community: "public", Profile: p.Name}}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		s.SNMP.Devices[0].Points = p.Points
		s.SNMP.Devices[0].Profile = ""
		if err := s.Validate(); err != nil {
			t.Errorf("%s's points: %v", p.Name, err)
		}
	}
	d := SNMPDevice{Profile: "ups-mib", Points: []SNMPPoint{{Name: "charge", OID: "1.3.6.1.4.1.318.1.1.1.2.2.1.0"}, {Name: "extra", OID: "1.3.6.1.2.1.1.3.0"}}}
	eff := d.EffectivePoints()
	ups, _ := FindSNMPProfile("ups-mib")
	if len(eff) != len(ups.Points)+1 || eff[len(eff)-2].OID != "1.3.6.1.4.1.318.1.1.1.2.2.1.0" || eff[len(eff)-1].Name != "extra" {
		t.Fatalf("effective points %+v", eff)
	}
	s := DefaultSite()
	s.SNMP.Devices = []SNMPDevice{d}
	if fd := s.FieldDevices(); len(fd) != 1 || !fd[0].DynamicPoints || len(fd[0].Points) != 10 {
		t.Fatalf("field devices %+v", fd)
	}
}
