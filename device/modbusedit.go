package device

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// ErrNoSuchBus means the site has no Modbus bus of that name.
	ErrNoSuchBus = errors.New("no such Modbus bus")
	// ErrDeviceExists means a field device of that name exists already:
	// names are unique across the site.
	ErrDeviceExists = errors.New("a device of that name exists already")
	// ErrUnitInUse means another device already answers to that unit id
	// on the same line.
	ErrUnitInUse = errors.New("the unit id is already used on this line")
	// ErrNoSuchProfile means neither the site nor the built-in profiles
	// have one of that name.
	ErrNoSuchProfile = errors.New("no such profile")
	// ErrBuiltinProfile means a built-in profile was to be changed: they
	// are read-only.
	ErrBuiltinProfile = errors.New("built-in profiles are read-only")
	// ErrProfileInUse means a profile still has devices that use it.
	ErrProfileInUse = errors.New("the profile is used by devices")
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
		if !slices.ContainsFunc(s.EffectivePoints(*d), func(p Point) bool { return p.Name == point }) {
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

// AddDevice adds d to the site after the checks an installer needs in
// words (validation would find some of them too, less plainly): the name
// is new across the site, the bus exists, no other device answers to the
// unit id on the same line (the bus, or any bus on the same TCP address
// or serial port) and the profile exists. Nothing is changed on an error.
func (s *Site) AddDevice(d Device) error {
	if err := s.nameFree(d.Name); err != nil {
		return err
	}
	bus, ok := s.Modbus.FindBus(d.Bus)
	if !ok {
		var names []string
		for _, b := range s.Modbus.Buses {
			names = append(names, b.Name)
		}
		return fmt.Errorf("%w %q (%s)%s", ErrNoSuchBus, d.Bus, knownList(names, "no buses are defined"), didYouMean(d.Bus, names))
	}
	if other, ok := s.UnitUser(bus, d.UnitID); ok {
		return fmt.Errorf("unit %d on bus %s: %w by %s; give another --unit", d.UnitID, bus.Name, ErrUnitInUse, other)
	}
	if d.Profile != "" {
		if _, ok := s.LookupProfile(d.Profile); !ok {
			names := s.ProfileNames()
			return fmt.Errorf("%w %q (known: %s)%s", ErrNoSuchProfile, d.Profile, strings.Join(names, ", "), didYouMean(d.Profile, names))
		}
	}
	s.Modbus.Devices = append(s.Modbus.Devices, d.clone())
	return nil
}

// UnitUser returns the device that answers to unit on the line of bus b:
// b itself or any bus that shares its TCP address or serial port.
func (s *Site) UnitUser(b Bus, unit int) (string, bool) {
	for _, d := range s.Modbus.Devices {
		if d.UnitID != unit {
			continue
		}
		if other, ok := s.Modbus.FindBus(d.Bus); ok && sameLine(b, other) {
			return d.Name, true
		}
	}
	return "", false
}

// FreeUnit returns the lowest unit id from from up that no device uses on
// the line of bus b (0 when all are taken).
func (s *Site) FreeUnit(b Bus, from int) int {
	for u := max(from, unitIDRange[0]); u <= unitIDRange[1]; u++ {
		if _, used := s.UnitUser(b, u); !used {
			return u
		}
	}
	return 0
}

// sameLine reports whether two buses are the same physical connection.
func sameLine(a, b Bus) bool {
	if a.Name == b.Name {
		return true
	}
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == BusTCP {
		return a.Address != "" && a.Address == b.Address
	}
	return a.Device != "" && a.Device == b.Device
}

// CloneDevice adds a copy of device src called name with unit id unit
// (its bus, profile, points and settings), with AddDevice's checks, and
// returns the copy.
func (s *Site) CloneDevice(src, name string, unit int) (Device, error) {
	d, err := s.modbusDevice(src)
	if err != nil {
		return Device{}, err
	}
	c := d.clone()
	c.Name, c.UnitID = name, unit
	if err := s.AddDevice(c); err != nil {
		return Device{}, err
	}
	return c, nil
}

// RemoveDevice removes the Modbus device called name; an unknown name is
// ErrNoSuchDevice.
func (s *Site) RemoveDevice(name string) error {
	if _, err := s.modbusDevice(name); err != nil {
		return err
	}
	s.DeleteDevice(name)
	return nil
}
