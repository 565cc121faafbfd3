package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
)

// A CoAP sensor is in the field tree like any device, and its detail says
// when it was last seen.
func TestFieldScreenCoAPSensor(t *testing.T) {
	f := newLiveFixture(t)
	site, rev := f.gw.Site()
	site.CoAP = device.CoAP{Listen: "0.0.0.0:5684", Sensors: []device.CoAPSensor{{Name: "room-7", Identity: "room-7", Key: "k7-Qw8#zR2mX5vB9",
		Points: []device.CoAPPoint{{Name: "temperature", Unit: "degC"}}}}}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	seen := time.Now().Add(-5 * time.Second)
	if err := f.gw.FieldSink().Record(field.Status{Device: "room-7", State: field.StateOnline, LastPoll: seen, Requests: 1, SuccessRate: 1},
		[]field.Reading{{Device: "room-7", Point: "temperature", Value: field.Number(21.5), Unit: "degC", Quality: field.QualityGood, TS: seen}}); err != nil {
		t.Fatal(err)
	}
	a := f.app(t, f.user(t, "ivy", device.RoleSupport))
	press(a, "4")
	got := screenText(a)
	for _, want := range []string{"▾ coap", "0.0.0.0:5684", "room-7 [online 100%]", "temperature 21.5 degC"} {
		if !strings.Contains(got, want) {
			t.Fatalf("field tree lacks %q:\n%s", want, got)
		}
	}
	press(a, "down", "down")
	if got := screenText(a); !strings.Contains(got, "Device room-7") || !strings.Contains(got, "last seen") || !strings.Contains(got, "s ago") {
		t.Fatalf("device detail:\n%s", got)
	}
}
