package device

import (
	"slices"
	"strings"
	"testing"
)

func TestBuiltinProfilesValidate(t *testing.T) {
	ps := Profiles()
	if len(ps) < 3 {
		t.Fatalf("only %d profiles", len(ps))
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		if err := p.Validate(); err != nil {
			t.Errorf("profile %s:\n%v", p.Name, err)
		}
		if p.Description == "" {
			t.Errorf("profile %s has no description", p.Name)
		}
		// Every profile works on a device with default settings.
		s := DefaultSite()
		s.Modbus.Buses = []Bus{{Name: "b", Kind: BusTCP, Address: "127.0.0.1:502"}}
		s.Modbus.Devices = []Device{{Name: "d", Bus: "b", UnitID: 1, Profile: p.Name}}
		s.ApplyDefaults()
		if err := s.Validate(); err != nil {
			t.Errorf("device with profile %s:\n%v", p.Name, err)
		}
	}
	if !slices.IsSorted(names) || !slices.Equal(names, ProfileNames()) {
		t.Errorf("Profiles() not sorted or not ProfileNames(): %v / %v", names, ProfileNames())
	}
	for _, want := range []string{"generic-energy-meter", "generic-temp-humidity", "generic-vsd"} {
		if !slices.Contains(names, want) {
			t.Errorf("missing profile %s", want)
		}
	}
}

func TestProfileContents(t *testing.T) {
	vsd, ok := LookupProfile("generic-vsd")
	if !ok {
		t.Fatal("generic-vsd missing")
	}
	byName := map[string]Point{}
	for _, p := range vsd.Points {
		byName[p.Name] = p
	}
	if p := byName["running"]; p.Table != TableCoil || !p.Writable {
		t.Errorf("running = %+v", p)
	}
	if p := byName["speed_setpoint"]; p.Table != TableHolding || !p.Writable || p.Scale() != 0.01 || p.Unit != "Hz" {
		t.Errorf("speed_setpoint = %+v", p)
	}
	if p := byName["run_hours"]; p.Type != TypeUint32 || p.Order != OrderCDAB {
		t.Errorf("run_hours = %+v", p)
	}
	th, _ := LookupProfile("generic-temp-humidity")
	if p := th.Points[0]; p.Name != "temperature" || p.Type != TypeInt16 || p.Scale() != 0.1 || p.Unit != "degC" {
		t.Errorf("temperature = %+v", p)
	}
	if _, ok := LookupProfile("nope"); ok {
		t.Errorf("LookupProfile(nope) succeeded")
	}

	// Callers get copies.
	vsd.Points[0].Name = "changed"
	vsd.Points[2].SetScale(99)
	again, _ := LookupProfile("generic-vsd")
	if again.Points[0].Name != "running" || again.Points[2].Scale() != 0.01 {
		t.Errorf("LookupProfile shares its points")
	}
}

func TestProfileValidateReportsPaths(t *testing.T) {
	p := Profile{Name: "bad name", Points: []Point{{Name: "x", Table: TableCoil, Type: TypeFloat32}}}
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "name: \"bad name\" contains ' '") || !strings.Contains(err.Error(), "points[0].type: coil points hold single bits") {
		t.Errorf("Validate = %v", err)
	}
	if err := (Profile{Name: "empty"}).Validate(); err == nil || !strings.Contains(err.Error(), "points: a profile needs at least one point") {
		t.Errorf("empty profile: %v", err)
	}
}

func TestEffectivePoints(t *testing.T) {
	d := Device{
		Name:    "d",
		Profile: "generic-temp-humidity",
		Points: []Point{
			{Name: "extra", Table: TableHolding, Address: 9, Type: TypeUint16},
			{Name: "humidity", Table: TableHolding, Address: 5, Type: TypeUint16, Unit: "%RH"},
		},
	}
	var got []string
	for _, p := range d.EffectivePoints() {
		got = append(got, p.Name+"@"+p.Table.String())
	}
	want := []string{"temperature@input", "humidity@holding", "sensor_ok@discrete", "extra@holding"}
	if !slices.Equal(got, want) {
		t.Errorf("EffectivePoints = %v, want %v", got, want)
	}

	plain := Device{Points: []Point{{Name: "a"}, {Name: "b"}}}
	if got := plain.EffectivePoints(); len(got) != 2 || got[0].Name != "a" {
		t.Errorf("no profile: %v", got)
	}
	unknown := Device{Profile: "nope", Points: []Point{{Name: "a"}}}
	if got := unknown.EffectivePoints(); len(got) != 1 {
		t.Errorf("unknown profile: %v", got)
	}
	// The result is a copy.
	scaled := Device{Points: []Point{{Name: "a"}}}
	scaled.Points[0].SetScale(2)
	ep := scaled.EffectivePoints()
	*ep[0].ScaleFactor = 5
	if scaled.Points[0].Scale() != 2 {
		t.Errorf("EffectivePoints shares ScaleFactor")
	}
}
