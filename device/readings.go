package device

import (
	"context"
	"strconv"

	"github.com/sitegate/sitegate/device/field"
)

// FieldDevices returns every field device of the site, whatever its
// protocol, in the order the console lists them: by protocol, then as the
// site file lists them. Device names are unique across the site
// (Validate).
func (s *Site) FieldDevices() []field.DeviceInfo {
	out := make([]field.DeviceInfo, 0, len(s.Modbus.Devices))
	for _, d := range s.Modbus.Devices {
		info := field.DeviceInfo{Name: d.Name, Protocol: field.Modbus, Bus: d.Bus}
		for _, p := range s.EffectivePoints(d) {
			info.Points = append(info.Points, field.PointInfo{Name: p.Name, Unit: p.Unit, Writable: p.Writable, Precision: p.Precision, Report: p.report()})
		}
		out = append(out, info)
	}
	out = append(out, s.BACnet.fieldDevices()...)
	out = append(out, s.SNMP.fieldDevices()...)
	out = append(out, s.CoAP.fieldDevices()...)
	return append(out, s.LoRa.fieldDevices()...)
}

// deviceRef is a field device's name and where the site file defines it.
type deviceRef struct {
	name string
	path string
}

// fieldDeviceRefs lists every field device of every protocol section, for
// the site-wide uniqueness of names. Each protocol section adds its own.
func (s *Site) fieldDeviceRefs() []deviceRef {
	out := refsOf(nil, "modbus.devices", s.Modbus.Devices, func(d Device) string { return d.Name })
	out = refsOf(out, "bacnet.devices", s.BACnet.Devices, func(d BACnetDevice) string { return d.Name })
	out = refsOf(out, "snmp.devices", s.SNMP.Devices, func(d SNMPDevice) string { return d.Name })
	out = refsOf(out, "coap.sensors", s.CoAP.Sensors, func(d CoAPSensor) string { return d.Name })
	return refsOf(out, "lora.devices", s.LoRa.Devices, func(d LoRaDevice) string { return d.Name })
}

// refsOf appends the names of a section's devices, with their paths.
func refsOf[T any](out []deviceRef, path string, items []T, name func(T) string) []deviceRef {
	for i, it := range items {
		out = append(out, deviceRef{name(it), pathf("%s[%d]", path, i)})
	}
	return out
}

// validateFieldNames reports a device name used by two protocol sections:
// names are unique across the whole site, so that `points read NAME`, the
// console tree and telemetry never need the protocol. Duplicates within
// one section are reported by that section.
func (s *Site) validateFieldNames(v *problems) {
	first := map[string]deviceRef{}
	for _, r := range s.fieldDeviceRefs() {
		if r.name == "" {
			continue
		}
		prev, dup := first[r.name]
		if !dup {
			first[r.name] = r
			continue
		}
		if sectionOf(prev.path) != sectionOf(r.path) {
			v.add(r.path+".name", "device %q is already defined at %s: device names are unique across the site, whatever the protocol", r.name, prev.path)
		}
	}
}

func sectionOf(path string) string {
	for i, c := range path {
		if c == '.' {
			return path[:i]
		}
	}
	return path
}

// Field returns the gateway's field layer: latest readings, device
// statuses, on-demand reads, writes and discovery, whatever the protocol.
func (g *Gateway) Field() *field.Hub { return g.field }

// FieldSink returns where field drivers report their cycles.
func (g *Gateway) FieldSink() field.Sink { return g.field }

// Readings returns the latest readings of a device in the site's point
// order; false when the site has no such device.
func (g *Gateway) Readings(device string) ([]field.Reading, bool) { return g.field.Latest(device) }

// DeviceStatuses returns the status of every field device of the site, in
// site order.
func (g *Gateway) DeviceStatuses() []field.Status { return g.field.Statuses() }

// WritePoint writes a value to a writable point through its protocol's
// driver, as actor, and audits the attempt (field.write) whatever its
// outcome.
func (g *Gateway) WritePoint(ctx context.Context, actor Actor, w field.Write) error {
	err := g.field.Write(ctx, w)
	result, detail := ResultOK, "value "+w.Value.Format(0)
	if !w.Value.Valid {
		detail = "relinquish"
	}
	if w.Priority > 0 {
		detail += " priority " + strconv.Itoa(w.Priority)
	}
	if err != nil {
		result, detail = ResultFailed, detail+": "+err.Error()
	}
	if aerr := g.AuditDetail(actor, ActionFieldWrite, w.Device+"."+w.Point, result, truncate(detail, 200)); aerr != nil && err == nil {
		return aerr
	}
	return err
}

// RawRead is the Modbus decode lab's request: registers or bits as the
// device holds them, without a point.
type RawRead struct {
	Device  string
	Table   RegisterTable
	Address uint16
	Count   uint16
}

// RawReader reads registers or bits of a Modbus device now (the decode
// lab). The Modbus driver implements it.
type RawReader interface {
	ReadRaw(ctx context.Context, r RawRead) (words []uint16, bits []bool, err error)
}

// RawReader returns the Modbus driver's raw reader, or nil when no Modbus
// driver runs.
func (g *Gateway) RawReader() RawReader {
	rr, _ := g.field.Driver(field.Modbus).(RawReader)
	return rr
}
