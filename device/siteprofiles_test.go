package device

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/store/storetest"
)

func siteWithBus() *Site {
	s := DefaultSite()
	s.Modbus.Buses = []Bus{
		{Name: "plant", Kind: BusTCP, Address: "127.0.0.1:1502"},
		{Name: "plant-b", Kind: BusTCP, Address: "127.0.0.1:1502"}, // the same gateway
		{Name: "other", Kind: BusTCP, Address: "127.0.0.1:1503"},
	}
	s.ApplyDefaults()
	return s
}

var ahuMap = Profile{Name: "ahu-map", Description: "AHU controller", Match: []string{"Acme AHU"}, Points: []Point{
	{Name: "supply_temp", Table: TableHolding, Address: 2, Type: TypeFloat32, Unit: "degC", Precision: 3},
	{Name: "fan", Table: TableCoil, Address: 0, Type: TypeBool, Writable: true},
}}

// A site profile is used like a built-in one: by devices, in validation,
// in the effective points, and it survives the site file.
func TestSiteProfiles(t *testing.T) {
	s := siteWithBus()
	if _, err := s.PutProfile(ahuMap); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDevice(Device{Name: "ahu-1", Bus: "plant", UnitID: 3, Profile: "ahu-map"}); err != nil {
		t.Fatal(err)
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Modbus.FindDevice("ahu-1")
	if pts := s.EffectivePoints(d); len(pts) != 2 || pts[0].Name != "supply_temp" || pts[0].Precision != 3 {
		t.Fatalf("effective points %+v", pts)
	}
	if got := s.FieldDevices()[0].Points; len(got) != 2 || got[0].Precision != 3 {
		t.Fatalf("field topology %+v", got)
	}
	if names := s.ProfileNames(); names[len(names)-1] != "ahu-map" || !slices.Contains(names, "eastron-sdm630") {
		t.Fatalf("names %v", names)
	}
	if g := s.GuessProfile("ACME", "AHU-200 controller"); g != "ahu-map" {
		t.Errorf("guess from identification: %q", g)
	}
	if g := s.GuessProfile("sitegate", "eastron-sdm630"); g != "eastron-sdm630" {
		t.Errorf("guess from a product code that is a profile name: %q", g)
	}
	if g := s.GuessProfile("", ""); g != "" {
		t.Errorf("guess from nothing: %q", g)
	}

	// The site file keeps the profile.
	b, err := EncodeSiteYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSite(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(back.Profiles) != 1 || back.Profiles[0].Points[0].Unit != "degC" || back.Profiles[0].Match[0] != "Acme AHU" {
		t.Fatalf("profiles after the site file: %+v\n%s", back.Profiles, b)
	}
	c := s.Clone()
	c.Profiles[0].Points[0].Name = "changed"
	c.Profiles[0].Match[0] = "changed"
	if s.Profiles[0].Points[0].Name != "supply_temp" || s.Profiles[0].Match[0] != "Acme AHU" {
		t.Fatal("Clone shares profile slices")
	}

	// A profile in use cannot be deleted; an unused one can.
	if err := s.DeleteProfile("ahu-map"); !errors.Is(err, ErrProfileInUse) || !strings.Contains(err.Error(), "ahu-1") {
		t.Fatalf("delete a profile in use: %v", err)
	}
	if err := s.DeleteProfile("eastron-sdm630"); !errors.Is(err, ErrBuiltinProfile) {
		t.Fatalf("delete a built-in: %v", err)
	}
	if err := s.DeleteProfile("nope"); !errors.Is(err, ErrNoSuchProfile) {
		t.Fatalf("delete unknown: %v", err)
	}
	if err := s.RemoveDevice("ahu-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile("ahu-map"); err != nil || len(s.Profiles) != 0 {
		t.Fatalf("delete unused: %v", err)
	}
}

func TestSiteProfileValidation(t *testing.T) {
	s := siteWithBus()
	bad := ahuMap
	bad.Points = append(slices.Clone(bad.Points), Point{Name: "fan", Table: TableInput, Address: 9}) // no type
	s.Profiles = []Profile{bad, ahuMap, {Name: "eastron-sdm630", Points: ahuMap.Points}, {Name: "empty"}}
	var got []string
	for _, p := range problemsOf(s.Validate()) {
		got = append(got, p.String())
	}
	for _, want := range []string{
		`profiles[0].points[2].name: point "fan" is already defined at points[1]`,
		`profiles[0].points[2].type: is required`,
		`profiles[1].name: profile "ahu-map" is already defined at profiles[0]`,
		`profiles[2].name: "eastron-sdm630" is a built-in profile, which is read-only`,
		`profiles[3].points: a profile needs at least one point`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("missing %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	if _, err := s.PutProfile(Profile{Name: "generic-vsd", Points: ahuMap.Points}); !errors.Is(err, ErrBuiltinProfile) {
		t.Errorf("put over a built-in: %v", err)
	}
	p := ahuMap
	p.Points = []Point{{Name: "x", Table: TableHolding, Address: 0, Type: TypeUint16, Precision: 18}}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "points[0].precision: 18 is outside 1..17") {
		t.Errorf("precision 18: %v", err)
	}
}

// AddDevice refuses a name that exists, a unit id used on the same line, an
// unknown bus or profile, and changes nothing then.
func TestAddDeviceRefusals(t *testing.T) {
	s := siteWithBus()
	if err := s.AddDevice(Device{Name: "m1", Bus: "plant", UnitID: 1, Profile: "eastron-sdm630"}); err != nil {
		t.Fatal(err)
	}
	before, _ := EncodeSiteYAML(s)
	for _, c := range []struct {
		d    Device
		err  error
		says string
	}{
		{Device{Name: "m1", Bus: "other", UnitID: 2, Profile: "eastron-sdm630"}, ErrDeviceExists, "device m1: a device of that name exists already (modbus.devices[0])"},
		{Device{Name: "m2", Bus: "plant", UnitID: 1, Profile: "eastron-sdm630"}, ErrUnitInUse, "unit 1 on bus plant: the unit id is already used on this line by m1"},
		{Device{Name: "m2", Bus: "plant-b", UnitID: 1, Profile: "eastron-sdm630"}, ErrUnitInUse, "by m1"},
		{Device{Name: "m2", Bus: "plantt", UnitID: 2, Profile: "eastron-sdm630"}, ErrNoSuchBus, `did you mean "plant"?`},
		{Device{Name: "m2", Bus: "plant", UnitID: 2, Profile: "eastron-sdm631"}, ErrNoSuchProfile, `did you mean "eastron-sdm630"?`},
	} {
		err := s.AddDevice(c.d)
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("add %+v: %v; want %v saying %q", c.d, err, c.err, c.says)
		}
	}
	if after, _ := EncodeSiteYAML(s); string(after) != string(before) {
		t.Fatal("a refused add changed the site")
	}
	// The same unit on another line is fine; the free unit skips used ones.
	if err := s.AddDevice(Device{Name: "m2", Bus: "other", UnitID: 1, Profile: "eastron-sdm630"}); err != nil {
		t.Fatal(err)
	}
	bus, _ := s.Modbus.FindBus("plant-b")
	if u := s.FreeUnit(bus, 1); u != 2 {
		t.Fatalf("free unit %d", u)
	}
	c, err := s.CloneDevice("m1", "m3", 2)
	if err != nil || c.Profile != "eastron-sdm630" || c.Bus != "plant" {
		t.Fatalf("clone %+v %v", c, err)
	}
	if _, err := s.CloneDevice("m1", "m4", 2); !errors.Is(err, ErrUnitInUse) {
		t.Fatalf("clone onto a used unit: %v", err)
	}
	if _, err := s.CloneDevice("nope", "m4", 9); !errors.Is(err, ErrNoSuchDevice) {
		t.Fatalf("clone unknown: %v", err)
	}
	if err := s.RemoveDevice("nope"); !errors.Is(err, ErrNoSuchDevice) {
		t.Fatalf("remove unknown: %v", err)
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFollowSite(t *testing.T) {
	gw, err := NewGateway(storetest.New(t), GatewayOptions{GatewayID: "gw-follow"})
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan struct{}, 8)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); gw.FollowSite(ctx, func() { calls <- struct{}{} }) }()
	<-calls // at once
	s, rev := gw.Site()
	s.Site.Name = "Followed"
	if _, err := gw.ApplySite(Edit{Actor: LocalActor, Action: ActionConfigChange, Base: rev}, s); err != nil {
		t.Fatal(err)
	}
	<-calls // after the change
	cancel()
	<-done
}
