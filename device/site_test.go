package device

import (
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

// loadSite decodes a file of testdata/sites, failing the test on error.
func siteFromFile(t testing.TB, name string) *Site {
	t.Helper()
	data, err := os.ReadFile("../testdata/sites/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSiteYAML(data)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return s
}

func TestDefaultSiteValidates(t *testing.T) {
	s := DefaultSite()
	if err := s.Validate(); err != nil {
		t.Fatalf("DefaultSite does not validate:\n%v", err)
	}
	if s.Site.Name != "Unnamed site" || s.Cellular.Enabled || s.WiFi.Enabled || s.LoRa.Enabled {
		t.Errorf("DefaultSite = %+v", s)
	}
	if len(s.Modbus.Buses)+len(s.Modbus.Devices) != 0 {
		t.Errorf("DefaultSite has buses or devices")
	}
	if !reflect.DeepEqual(s.Access.Require2FA, []Role{RoleAdmin, RoleInstaller}) {
		t.Errorf("Require2FA = %v", s.Access.Require2FA)
	}
}

func TestApplyDefaults(t *testing.T) {
	s := &Site{Modbus: Modbus{
		Buses:   []Bus{{Name: "rtu", Kind: BusRTU}, {Name: "tcp", Kind: BusTCP}},
		Devices: []Device{{Name: "d"}},
	}}
	s.ApplyDefaults()
	once := s.Clone()
	s.ApplyDefaults()
	if !reflect.DeepEqual(s, once) {
		t.Errorf("ApplyDefaults is not idempotent")
	}

	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("password_max_length", s.Access.PasswordMaxLength, 15)
	check("require_2fa", s.Access.Require2FA, []Role{RoleAdmin, RoleInstaller})
	check("idle_timeout", s.Access.IdleTimeout, Duration(15*time.Minute))
	check("priority", s.WAN.Priority, []LinkKind{LinkCellular, LinkEthernet, LinkWiFi})
	check("probe", s.WAN.Probe, Probe{Interval: Duration(10 * time.Second), DownAfter: 3, UpAfter: 5})
	check("ethernet", s.WAN.Ethernet, Ethernet{Interface: "eth0", DHCP: true})
	check("failover_after", s.Cellular.FailoverAfter, Duration(3*time.Minute))
	check("cellular interface", s.Cellular.Interface, "wwan0")
	check("wifi interface", s.WiFi.Interface, "wlan0")
	check("rtu bus", s.Modbus.Buses[0], Bus{Name: "rtu", Kind: BusRTU, Baud: 9600, Parity: ParityEven, DataBits: 8, StopBits: 1, Timeout: Duration(time.Second)})
	check("tcp bus", s.Modbus.Buses[1], Bus{Name: "tcp", Kind: BusTCP, Timeout: Duration(time.Second)})
	d := s.Modbus.Devices[0]
	check("interval", d.Interval, Duration(10*time.Second))
	check("max_gap", d.EffectiveMaxGap(), 16)
	check("max_registers", d.MaxRegisters, 125)

	// Explicit values, including an explicit "no roles need 2FA" and a
	// max_gap of 0, stay.
	s = &Site{Access: Access{Require2FA: []Role{}}, Modbus: Modbus{Devices: []Device{{Name: "d"}}}}
	s.Modbus.Devices[0].SetMaxGap(0)
	s.WAN.Ethernet = Ethernet{Interface: "eth1"}
	s.ApplyDefaults()
	check("explicit empty require_2fa", s.Access.Require2FA, []Role{})
	check("explicit max_gap 0", s.Modbus.Devices[0].EffectiveMaxGap(), 0)
	check("partial ethernet", s.WAN.Ethernet, Ethernet{Interface: "eth1"})
}

func TestPointScaleAndApply(t *testing.T) {
	p := Point{Offset: -40}
	if p.Scale() != 1 || p.Apply(50) != 10 {
		t.Errorf("default scale: Scale %v Apply %v", p.Scale(), p.Apply(50))
	}
	p.SetScale(0.1)
	if p.Scale() != 0.1 || p.Apply(500) != 10 {
		t.Errorf("scale 0.1: Scale %v Apply %v", p.Scale(), p.Apply(500))
	}
}

func TestDeviceHelpers(t *testing.T) {
	bus := Bus{Name: "b", Timeout: Duration(time.Second)}
	d := Device{Name: "d", Bus: "b"}
	if d.EffectiveTimeout(bus) != Duration(time.Second) {
		t.Errorf("EffectiveTimeout from bus = %v", d.EffectiveTimeout(bus))
	}
	d.Timeout = Duration(200 * time.Millisecond)
	if d.EffectiveTimeout(bus) != d.Timeout {
		t.Errorf("EffectiveTimeout override = %v", d.EffectiveTimeout(bus))
	}
	m := Modbus{Buses: []Bus{bus}, Devices: []Device{d}}
	if _, ok := m.FindBus("b"); !ok {
		t.Errorf("FindBus(b) failed")
	}
	if _, ok := m.FindBus("x"); ok {
		t.Errorf("FindBus(x) succeeded")
	}
	if got, ok := m.FindDevice("d"); !ok || got.Name != "d" {
		t.Errorf("FindDevice(d) = %v, %v", got, ok)
	}
	if loc := (Clock{Timezone: "Europe/Paris"}).Location(); loc.String() != "Europe/Paris" {
		t.Errorf("Location = %v", loc)
	}
	if loc := (Clock{}).Location(); loc != time.UTC {
		t.Errorf("empty Location = %v", loc)
	}
}

// TestCloneSharesNothing walks the clone of the full example and fails on
// any slice or pointer that still points into the original.
func TestCloneSharesNothing(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	c := s.Clone()
	if !reflect.DeepEqual(s, c) {
		t.Fatalf("clone differs from the original")
	}
	var walk func(path string, a, b reflect.Value)
	walk = func(path string, a, b reflect.Value) {
		switch a.Kind() {
		case reflect.Pointer:
			if !a.IsNil() && a.Pointer() == b.Pointer() {
				t.Errorf("%s: pointer shared", path)
			}
			if !a.IsNil() {
				walk(path, a.Elem(), b.Elem())
			}
		case reflect.Slice:
			if a.Len() > 0 && a.Pointer() == b.Pointer() {
				t.Errorf("%s: slice shared", path)
			}
			for i := range a.Len() {
				walk(path+"[]", a.Index(i), b.Index(i))
			}
		case reflect.Struct:
			for i := range a.NumField() {
				walk(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
	walk("site", reflect.ValueOf(s).Elem(), reflect.ValueOf(c).Elem())

	c.Modbus.Devices[1].Points[0].SetScale(42)
	*c.Modbus.Devices[0].MaxGap = 99
	c.Access.Require2FA[0] = RoleViewer
	if s.Modbus.Devices[1].Points[0].Scale() == 42 || s.Modbus.Devices[0].EffectiveMaxGap() == 99 || s.Access.Require2FA[0] == RoleViewer {
		t.Errorf("changing the clone changed the original")
	}
	if (*Site)(nil).Clone() != nil {
		t.Errorf("nil Clone")
	}
}

func TestRedacted(t *testing.T) {
	s := siteFromFile(t, "full.yaml")
	r := s.Redacted()
	for i, sim := range r.Cellular.SIMs {
		if sim.PIN != SecretPlaceholder {
			t.Errorf("sims[%d].pin = %q", i, sim.PIN.Reveal())
		}
	}
	if r.WiFi.Passphrase != SecretPlaceholder {
		t.Errorf("passphrase = %q", r.WiFi.Passphrase.Reveal())
	}
	if s.Cellular.SIMs[0].PIN.Reveal() != "1234" || s.WiFi.Passphrase.Reveal() != "correct horse battery staple" {
		t.Errorf("Redacted changed the original")
	}
	d := siteFromFile(t, "demo.yaml").Redacted()
	if d.Cellular.SIMs[0].PIN != "" || d.WiFi.Passphrase != "" {
		t.Errorf("empty secrets became set")
	}
	if !r.HasPlaceholders() || s.HasPlaceholders() {
		t.Errorf("HasPlaceholders: redacted %v, original %v", r.HasPlaceholders(), s.HasPlaceholders())
	}
}

func TestKeepSecrets(t *testing.T) {
	stored := siteFromFile(t, "full.yaml")

	t.Run("placeholders take the stored values, SIMs by slot", func(t *testing.T) {
		in := stored.Redacted()
		in.Cellular.SIMs[0], in.Cellular.SIMs[1] = in.Cellular.SIMs[1], in.Cellular.SIMs[0]
		if err := in.KeepSecrets(stored); err != nil {
			t.Fatal(err)
		}
		if in.Cellular.SIMs[0].Slot != 2 || in.Cellular.SIMs[0].PIN.Reveal() != "87654321" || in.Cellular.SIMs[1].PIN.Reveal() != "1234" {
			t.Errorf("sims = %v %v", in.Cellular.SIMs[0].PIN.Reveal(), in.Cellular.SIMs[1].PIN.Reveal())
		}
		if in.WiFi.Passphrase.Reveal() != "correct horse battery staple" {
			t.Errorf("passphrase not kept")
		}
		if in.HasPlaceholders() {
			t.Errorf("placeholders remain")
		}
	})

	t.Run("new values and removals win", func(t *testing.T) {
		in := stored.Redacted()
		in.Cellular.SIMs[0].PIN = "0000"
		in.Cellular.SIMs[1].PIN = ""
		in.WiFi.Passphrase = "a new passphrase"
		if err := in.KeepSecrets(stored); err != nil {
			t.Fatal(err)
		}
		if in.Cellular.SIMs[0].PIN != "0000" || in.Cellular.SIMs[1].PIN != "" || in.WiFi.Passphrase != "a new passphrase" {
			t.Errorf("explicit values were replaced")
		}
	})

	t.Run("placeholder without a stored secret", func(t *testing.T) {
		old := stored.Clone()
		old.Cellular.SIMs = old.Cellular.SIMs[:1] // slot 2 has nothing stored
		old.WiFi.Passphrase = ""
		in := stored.Redacted()
		err := in.KeepSecrets(old)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("KeepSecrets = %v, want *ValidationError", err)
		}
		const msg = `"<set>" given but no secret is stored; write the value itself`
		want := []Problem{
			{Path: "cellular.sims[1].pin", Message: msg},
			{Path: "wifi.passphrase", Message: msg},
		}
		if !reflect.DeepEqual(ve.Problems, want) {
			t.Errorf("problems = %v, want %v", ve.Problems, want)
		}
		if in.Cellular.SIMs[0].PIN != SecretPlaceholder {
			t.Errorf("s changed although KeepSecrets failed")
		}
	})

	t.Run("nothing stored at all", func(t *testing.T) {
		in := stored.Redacted()
		err := in.KeepSecrets(nil)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 7 { // 2 PINs, the passphrase, 4 LoRa keys
			t.Fatalf("KeepSecrets(nil) = %v", err)
		}
		plain := siteFromFile(t, "demo.yaml")
		if err := plain.KeepSecrets(nil); err != nil {
			t.Errorf("site without placeholders: %v", err)
		}
	})
}
