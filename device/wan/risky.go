package wan

import (
	"reflect"
	"slices"

	"github.com/sitegate/sitegate/device"
)

// RiskyChanges lists the parts of a site change that could cut off the
// session that makes it, by path: wan.priority, wan.probe (targets no
// link reaches make every link down), wan.ethernet, and the connection
// settings of wifi and cellular. An empty list means the change cannot
// disconnect anyone and needs no probation.
func RiskyChanges(old, next *device.Site) []string {
	if old == nil || next == nil {
		return nil
	}
	var out []string
	add := func(path string, changed bool) {
		if changed {
			out = append(out, path)
		}
	}
	add("wan.priority", !slices.Equal(old.WAN.Priority, next.WAN.Priority))
	add("wan.probe", !reflect.DeepEqual(old.WAN.Probe, next.WAN.Probe))
	add("wan.ethernet", old.WAN.Ethernet != next.WAN.Ethernet)
	ow, nw := old.WiFi, next.WiFi
	add("wifi", ow.Enabled != nw.Enabled || ow.PermanentlyDisabled != nw.PermanentlyDisabled || ow.Interface != nw.Interface ||
		ow.SSID != nw.SSID || ow.Security != nw.Security || (nw.Passphrase != ow.Passphrase && !nw.Passphrase.IsPlaceholder()))
	oc, nc := old.Cellular, next.Cellular
	simsChanged := len(oc.SIMs) != len(nc.SIMs)
	for i := 0; !simsChanged && i < len(nc.SIMs); i++ {
		o, n := oc.SIMs[i], nc.SIMs[i]
		simsChanged = o.Slot != n.Slot || o.APN != n.APN || (n.PIN != o.PIN && !n.PIN.IsPlaceholder())
	}
	add("cellular", oc.Enabled != nc.Enabled || oc.Interface != nc.Interface || simsChanged)
	return out
}
