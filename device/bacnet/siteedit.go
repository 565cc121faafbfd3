package bacnet

import (
	"strings"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// From a discovery to the site: the device a Who-Is found, and the objects
// an installer picked of it, as the site's BACnet device and points.

// SiteDevice is the site's device for f, named name, reading points: at
// the address it answered from on BACnet/IP (so that no Who-Is is needed
// to find it again), or on its MS/TP bus at its station address. Devices
// behind a router keep being found by Who-Is.
func (f Discovered) SiteDevice(name string, points []device.BACnetPoint) device.BACnetDevice {
	inst := f.Instance
	d := device.BACnetDevice{Name: name, Instance: &inst, Interval: device.DefaultBACnetInterval, COV: true, Points: points}
	switch {
	case f.Addr.Net != 0:
	case f.Link == IPLink:
		if ap := stack.DecodeIPMAC([]byte(f.Addr.MAC)); ap.IsValid() {
			d.Address = ap.String()
		}
	case len(f.Addr.MAC) == 1:
		mac := int(f.Addr.MAC[0])
		d.Bus, d.MAC = f.Link, &mac
	default:
		d.Bus = f.Link
	}
	return d
}

// SitePoints makes a site point of each object with a present value,
// named after its object-name (else its type and instance), read-only:
// an installer makes a point writable on purpose, in the site file.
func SitePoints(objs []ObjectInfo) []device.BACnetPoint {
	taken := map[string]bool{}
	var out []device.BACnetPoint
	for _, o := range objs {
		if !o.PresentValue || o.ID.Type == stack.ObjectDevice {
			continue
		}
		fallback := strings.ReplaceAll(o.Object, ":", "-")
		name := device.UniqueName(device.NameFrom(o.Name, fallback), taken)
		taken[name] = true
		out = append(out, device.BACnetPoint{Name: name, Object: o.Object})
	}
	return out
}
