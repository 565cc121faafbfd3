package device_test

import (
	"errors"
	"testing"

	"github.com/sitegate/sitegate/device"
)

func editSite(t *testing.T) *device.Site {
	t.Helper()
	s, err := device.ImportSiteYAML(device.DemoSiteYAML, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRenamingABusCarriesItsDevices(t *testing.T) {
	s := editSite(t)
	b, _ := s.Modbus.FindBus("plant")
	b.Name = "plant-room"
	s.PutBus("plant", b)
	for _, d := range s.Modbus.Devices {
		if d.Bus != "plant-room" {
			t.Fatalf("device %s stayed on bus %s", d.Name, d.Bus)
		}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.PutBus("", device.Bus{Name: "rs485", Kind: device.BusRTU, Device: "/dev/ttyS1"})
	if len(s.Modbus.Buses) != 2 {
		t.Fatalf("buses %v", s.Modbus.Buses)
	}
	if err := s.DeleteBus("plant-room"); !errors.Is(err, device.ErrBusInUse) {
		t.Fatalf("deleting a bus in use: %v", err)
	}
	if err := s.DeleteBus("rs485"); err != nil || len(s.Modbus.Buses) != 1 {
		t.Fatalf("delete: %v %v", err, s.Modbus.Buses)
	}
}

func TestPointEditsRespectProfiles(t *testing.T) {
	s := editSite(t)
	// main-meter takes its points from its profile.
	meter, _ := s.Modbus.FindDevice("main-meter")
	profilePoint := meter.EffectivePoints()[0]
	if err := s.DeletePoint("main-meter", profilePoint.Name); !errors.Is(err, device.ErrProfilePoint) {
		t.Fatalf("deleting a profile point: %v", err)
	}
	over := profilePoint
	over.Unit = "W"
	if err := s.PutPoint("main-meter", profilePoint.Name, over); err != nil {
		t.Fatal(err)
	}
	meter, _ = s.Modbus.FindDevice("main-meter")
	if len(meter.Points) != 1 || meter.Points[0].Unit != "W" {
		t.Fatalf("override: %+v", meter.Points)
	}
	if err := s.DeletePoint("main-meter", profilePoint.Name); err != nil {
		t.Fatalf("deleting the override: %v", err)
	}
	if err := s.DeletePoint("main-meter", "nope"); err == nil {
		t.Fatal("deleting a point that does not exist")
	}
	if err := s.PutPoint("nope", "", over); !errors.Is(err, device.ErrNoSuchDevice) {
		t.Fatalf("point on a missing device: %v", err)
	}
	if err := s.SetProfile("ahu-1", "generic-vsd"); err != nil {
		t.Fatal(err)
	}
	s.DeleteDevice("ahu-2")
	if _, ok := s.Modbus.FindDevice("ahu-2"); ok {
		t.Fatal("device not deleted")
	}
}
