package bacnet

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
)

// ActorPrefix starts the audit actor of a write by a BACnet client: the
// gateway acts for the peer at that BACnet address (no account, no
// personal data), e.g. "bacnet:192.168.10.9:47808".
const ActorPrefix = "bacnet:"

// PeerActor is the audit actor of a write from a BACnet peer.
func PeerActor(from node.Address) device.Actor {
	return device.Actor{ID: ActorPrefix + from.String(), Role: device.SystemActor.Role}
}

// servedObjects builds the objects of bacnet.serve, which served objects
// show each site device (so that its readings reach their COV
// subscribers at once), and what they were built from.
func (d *Driver) servedObjects(site *device.Site) ([]node.Object, map[string][]stack.ObjectID, []byte) {
	devices := site.FieldDevices()
	var objs []node.Object
	byDevice := map[string][]stack.ObjectID{}
	type built struct {
		Serve         device.BACnetServe
		Device, Point string
		Unit          string
	}
	var confs []built
	for _, sv := range site.BACnet.Serve {
		id, ok := sv.ObjectID()
		dev, pt, found := site.ResolvePoint(sv.Point)
		if !ok || !found {
			continue // validation refuses this
		}
		unit := ""
		if i := slices.IndexFunc(devices, func(x field.DeviceInfo) bool { return x.Name == dev }); i >= 0 {
			if j := slices.IndexFunc(devices[i].Points, func(x field.PointInfo) bool { return x.Name == pt }); j >= 0 {
				unit = devices[i].Points[j].Unit
			}
		}
		units := unitsFor(unit)
		if sv.Units != "" {
			if u, err := stack.ParseUnits(sv.Units); err == nil {
				units = u
			}
		}
		src := &servedPoint{d: d, device: dev, point: pt, obj: id, relinquish: sv.RelinquishDefault}
		o := node.Object{ID: id, Name: sv.EffectiveName(), Description: "sitegate point " + dev + "." + pt,
			Units: units, COVIncrement: sv.COVIncrement, States: sv.States, Commandable: sv.Writable, Source: src}
		if sv.RelinquishDefault != nil {
			o.RelinquishDefault = *sv.RelinquishDefault
		}
		objs = append(objs, o)
		byDevice[dev] = append(byDevice[dev], id)
		confs = append(confs, built{sv, dev, pt, unit})
	}
	conf, _ := json.Marshal(confs)
	return objs, byDevice, conf
}

// readingsChanged tells the served objects of a device that it was read.
func (d *Driver) readingsChanged(deviceName string) {
	d.mu.Lock()
	ids := d.served[deviceName]
	l := d.links[IPLink]
	d.mu.Unlock()
	if l == nil || l.srv == nil {
		return
	}
	for _, id := range ids {
		l.srv.Changed(id)
	}
}

// servedPoint is a served object's Source: it reads the point's latest
// reading in the field layer, and writes it through the gateway as an
// audited field write.
type servedPoint struct {
	d             *Driver
	device, point string
	obj           stack.ObjectID
	relinquish    *float64
}

// latest returns the point's latest reading.
func (s *servedPoint) latest() (field.Reading, bool) {
	rs, ok := s.d.gw.Readings(s.device)
	if !ok {
		return field.Reading{}, false
	}
	i := slices.IndexFunc(rs, func(r field.Reading) bool { return r.Point == s.point })
	if i < 0 {
		return field.Reading{}, false
	}
	return rs[i], true
}

// Read is the point's latest value: a reading that is not good, or no
// value, is served with the fault flag (stale: communication-failure).
func (s *servedPoint) Read(context.Context) (node.Reading, error) {
	r, ok := s.latest()
	if !ok {
		return node.Reading{Fault: true, Reliability: stack.ConfigurationError}, nil
	}
	out := node.Reading{}
	switch {
	case !r.Value.Valid:
		out.Fault, out.Reliability = true, stack.NoSensor
	case r.Value.IsText:
		// A text (SNMP's sysName) has no place in an analog or binary
		// object: the serve entry maps the wrong point.
		out.Fault, out.Reliability = true, stack.ConfigurationError
		return out, nil
	case r.Value.IsBool && r.Value.Bool:
		out.Value = 1
	case !r.Value.IsBool:
		out.Value = r.Value.Num
	}
	switch r.Quality {
	case field.QualityStale:
		out.Fault, out.Reliability = true, stack.CommunicationFailure
	case field.QualityError:
		out.Fault, out.Reliability = true, stack.UnreliableOther
	}
	return out, nil
}

// Write commands the point with the value that now wins the served
// object's priority array, through the gateway (audited field.write, the
// actor naming the BACnet peer). When every priority is released the
// point gets relinquish_default, or is itself relinquished.
func (s *servedPoint) Write(ctx context.Context, w node.WriteRequest) error {
	fw := field.Write{Device: s.device, Point: s.point}
	v := w.Effective
	switch {
	case w.Released && s.relinquish == nil:
		// fw.Value stays invalid: relinquish the point itself.
	case w.Released:
		v = *s.relinquish
		fallthrough
	default:
		if s.boolean() {
			fw.Value = field.Boolean(v != 0)
		} else {
			fw.Value = field.Number(v)
		}
	}
	err := s.d.gw.WritePoint(ctx, PeerActor(w.From), fw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, field.ErrReadOnly):
		return &stack.PropertyError{Class: stack.ErrorClassProperty, Code: stack.ErrorCodeWriteAccessDenied}
	case errors.Is(err, field.ErrNoDevice), errors.Is(err, field.ErrNoPoint), errors.Is(err, field.ErrNoDriver):
		return &stack.PropertyError{Class: stack.ErrorClassDevice, Code: stack.ErrorCodeConfigurationInProgress}
	}
	return err
}

// boolean reports whether the point holds booleans: as its latest value
// does, else as a binary object's would.
func (s *servedPoint) boolean() bool {
	if r, ok := s.latest(); ok && r.Value.Valid {
		return r.Value.IsBool
	}
	return familyOf(s.obj.Type) == famBinary
}
