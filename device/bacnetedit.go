package device

import (
	"fmt"
	"strings"
)

// Edits of the BACnet section made from a discovery: the console adds a
// device a Who-Is found, or objects of a device, as site points. The
// change is validated as a whole when it is applied; these only keep the
// names right.

// MaxBACnetPointsAdded bounds the points one add-from-discovery makes:
// a controller with a thousand objects is added in parts the installer
// picks, not all at once.
const MaxBACnetPointsAdded = 256

// AddBACnetDevice adds d to the site's BACnet devices; its name must be
// free across every protocol.
func (s *Site) AddBACnetDevice(d BACnetDevice) error {
	if err := s.nameFree(d.Name); err != nil {
		return err
	}
	if len(d.Points) > MaxBACnetPointsAdded {
		return fmt.Errorf("device %s: %d points at once; add at most %d, then the rest", d.Name, len(d.Points), MaxBACnetPointsAdded)
	}
	s.BACnet.Devices = append(s.BACnet.Devices, d)
	return nil
}

// AddBACnetPoints adds points to BACnet device name; a point reading an
// object property the device already reads is skipped, and the names of
// the others made unique within the device. It returns the names added.
func (s *Site) AddBACnetPoints(name string, pts []BACnetPoint) ([]string, error) {
	i := -1
	for j, d := range s.BACnet.Devices {
		if d.Name == name {
			i = j
		}
	}
	if i < 0 {
		return nil, fmt.Errorf("no BACnet device %q in the site", name)
	}
	if len(pts) > MaxBACnetPointsAdded {
		return nil, fmt.Errorf("device %s: %d points at once; add at most %d, then the rest", name, len(pts), MaxBACnetPointsAdded)
	}
	d := &s.BACnet.Devices[i]
	taken, reads := map[string]bool{}, map[string]bool{}
	for _, p := range d.Points {
		taken[p.Name], reads[p.Object+"/"+p.EffectiveProperty()] = true, true
	}
	var added []string
	for _, p := range pts {
		if reads[p.Object+"/"+p.EffectiveProperty()] {
			continue
		}
		p.Name = UniqueName(p.Name, taken)
		taken[p.Name], reads[p.Object+"/"+p.EffectiveProperty()] = true, true
		d.Points = append(d.Points, p)
		added = append(added, p.Name)
	}
	return added, nil
}

// nameFree reports a device name already used by any protocol.
func (s *Site) nameFree(name string) error {
	for _, r := range s.fieldDeviceRefs() {
		if r.name == name {
			return fmt.Errorf("device %s: %w (%s): choose another name, or remove it first", name, ErrDeviceExists, r.path)
		}
	}
	return nil
}

// NameFrom makes a valid device or point name of what a device says of
// itself (a BACnet object-name such as "Supply Air Temp"): lower case,
// runs of other characters as one '_', cut to MaxNameLength; fallback
// when nothing is left.
func NameFrom(s, fallback string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		switch {
		case isNameRune(r):
			b.WriteRune(r)
			under = false
		case !under && b.Len() > 0:
			b.WriteByte('_')
			under = true
		}
		if b.Len() >= MaxNameLength {
			break
		}
	}
	name := strings.Trim(b.String(), "_.-")
	if len(name) > MaxNameLength {
		name = strings.Trim(name[:MaxNameLength], "_.-")
	}
	if name == "" {
		return fallback
	}
	return name
}

// UniqueName returns name, or name-2, name-3… the first not in taken,
// within MaxNameLength.
func UniqueName(name string, taken map[string]bool) string {
	if !taken[name] {
		return name
	}
	for i := 2; ; i++ {
		suffix := fmt.Sprintf("-%d", i)
		base := name
		if len(base)+len(suffix) > MaxNameLength {
			base = base[:MaxNameLength-len(suffix)]
		}
		if c := base + suffix; !taken[c] {
			return c
		}
	}
}

// SiteNames returns every device name of the site, of every protocol.
func (s *Site) SiteNames() map[string]bool {
	taken := map[string]bool{}
	for _, r := range s.fieldDeviceRefs() {
		taken[r.name] = true
	}
	return taken
}
