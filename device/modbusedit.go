package device

import (
	"errors"
	"fmt"
	"slices"
)

// Errors of the Modbus topology edits.
var (
	// ErrBusInUse means a bus still has devices: delete them or move them
	// to another bus first.
	ErrBusInUse = errors.New("the bus still has devices")
	// ErrProfilePoint means a point comes from the device's profile: it
	// can be overridden by name, not deleted.
	ErrProfilePoint = errors.New("the point comes from the device's profile")
	// ErrNoSuchDevice means the site has no Modbus device of that name.
	ErrNoSuchDevice = errors.New("no such Modbus device")
)

// The edits below change a Site in memory the way the console changes the
// topology; the result is stored (and validated) by ApplySite like every
// other change. They keep the topology's cross-references consistent, so
// that the rules live here and not in each screen.

// PutBus replaces the bus called name with b, or adds b when name is empty
// or no bus has it. Renaming a bus carries its devices along.
func (s *Site) PutBus(name string, b Bus) {
	i := slices.IndexFunc(s.Modbus.Buses, func(x Bus) bool { return name != "" && x.Name == name })
	if i < 0 {
		s.Modbus.Buses = append(s.Modbus.Buses, b)
		return
	}
	s.Modbus.Buses[i] = b
	if b.Name == name {
		return
	}
	for j := range s.Modbus.Devices {
		if s.Modbus.Devices[j].Bus == name {
			s.Modbus.Devices[j].Bus = b.Name
		}
	}
}

// DeleteBus removes the bus called name; a bus that still has devices is
// refused with ErrBusInUse.
func (s *Site) DeleteBus(name string) error {
	if slices.ContainsFunc(s.Modbus.Devices, func(d Device) bool { return d.Bus == name }) {
		return fmt.Errorf("bus %s: %w: delete them or move them to another bus first", name, ErrBusInUse)
	}
	s.Modbus.Buses = slices.DeleteFunc(s.Modbus.Buses, func(b Bus) bool { return b.Name == name })
	return nil
}

// PutDevice replaces the device called name with d, or adds d when name is
// empty or no device has it.
func (s *Site) PutDevice(name string, d Device) {
	if i := slices.IndexFunc(s.Modbus.Devices, func(x Device) bool { return name != "" && x.Name == name }); i >= 0 {
		s.Modbus.Devices[i] = d
		return
	}
	s.Modbus.Devices = append(s.Modbus.Devices, d)
}

// DeleteDevice removes the device called name and its points.
func (s *Site) DeleteDevice(name string) {
	s.Modbus.Devices = slices.DeleteFunc(s.Modbus.Devices, func(d Device) bool { return d.Name == name })
}

// modbusDevice returns the device called name for editing.
func (s *Site) modbusDevice(name string) (*Device, error) {
	for i := range s.Modbus.Devices {
		if s.Modbus.Devices[i].Name == name {
			return &s.Modbus.Devices[i], nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrNoSuchDevice, name)
}

// PutPoint replaces the device's own point called name with p, or adds p
// (name empty, or a point only its profile has: the new point overrides
// the profile's by name).
func (s *Site) PutPoint(device, name string, p Point) error {
	d, err := s.modbusDevice(device)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(d.Points, func(x Point) bool { return name != "" && x.Name == name }); i >= 0 {
		d.Points[i] = p
		return nil
	}
	d.Points = append(d.Points, p)
	return nil
}

// DeletePoint removes one of the device's own points; a point that comes
// from the device's profile is refused with ErrProfilePoint.
func (s *Site) DeletePoint(device, point string) error {
	d, err := s.modbusDevice(device)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(d.Points, func(p Point) bool { return p.Name == point }) {
		if !slices.ContainsFunc(d.EffectivePoints(), func(p Point) bool { return p.Name == point }) {
			return fmt.Errorf("device %s has no point %q", device, point)
		}
		return fmt.Errorf("%s comes from profile %s: %w; remove the profile, or edit the point to override it", point, d.Profile, ErrProfilePoint)
	}
	d.Points = slices.DeleteFunc(d.Points, func(p Point) bool { return p.Name == point })
	return nil
}

// SetProfile sets the device's profile ("" for none).
func (s *Site) SetProfile(device, profile string) error {
	d, err := s.modbusDevice(device)
	if err != nil {
		return err
	}
	d.Profile = profile
	return nil
}
