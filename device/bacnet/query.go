package bacnet

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/mstp"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
)

// The query API: what the console and the exec commands read of the
// driver, beyond the field layer's readings and statuses.

// LinkState is one data link as the console shows it.
type LinkState struct {
	Name    string    `json:"name"`
	Kind    string    `json:"kind"` // bacnet/ip or mstp
	Running bool      `json:"running"`
	Error   string    `json:"error,omitempty"` // why it does not run
	Since   time.Time `json:"since"`
	// BACnet/IP: where the port is open, where broadcasts go (and why
	// none are heard, if so), the BBMD and whether it accepted us.
	Local          string `json:"local,omitempty"`
	Broadcast      string `json:"broadcast,omitempty"`
	BroadcastError string `json:"broadcast_error,omitempty"`
	BBMD           string `json:"bbmd,omitempty"`
	Registered     bool   `json:"registered,omitempty"`
	// Stats are the node's counters: malformed frames, answers to
	// unknown invoke ids, I-Ams evicted by a flood... every drop counted.
	Stats node.Stats  `json:"stats"`
	MSTP  *mstp.Stats `json:"mstp,omitempty"`
	Next  time.Time   `json:"retry_at,omitzero"`
}

// State is the driver as a whole.
type State struct {
	Links []LinkState `json:"links"`
	// Served objects of the gateway's Device object.
	Served int `json:"served"`
	// COVDropped: notifications dropped because MaxCOVQueue were waiting;
	// COVUnknown: notifications for no subscription of this gateway.
	COVDropped uint64 `json:"cov_dropped"`
	COVUnknown uint64 `json:"cov_unknown"`
}

// State returns the links and the driver's counters.
func (d *Driver) State() State {
	d.mu.Lock()
	links := make([]*link, 0, len(d.links))
	for _, l := range d.links {
		links = append(links, l)
	}
	d.mu.Unlock()
	slices.SortFunc(links, func(a, b *link) int {
		if (a.name == IPLink) != (b.name == IPLink) {
			if a.name == IPLink {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var st State
	for _, l := range links {
		ls := LinkState{Name: l.name, Kind: l.kind, Since: l.since}
		if err := l.failed(); err != nil {
			ls.Error = err.Error()
			d.mu.Lock()
			ls.Next = l.retryAt
			d.mu.Unlock()
		} else {
			ls.Running = true
		}
		if l.node != nil {
			ls.Stats = l.node.Stats()
		}
		if l.socks != nil {
			ls.Local = l.socks.Local.String()
			if l.socks.BroadcastAddr.IsValid() {
				ls.Broadcast = l.socks.BroadcastAddr.String()
			}
			if l.socks.BroadcastErr != nil {
				ls.BroadcastError = l.socks.BroadcastErr.Error()
			}
		}
		if l.bbmd.IsValid() {
			ls.BBMD, ls.Registered = l.bbmd.String(), l.bip.Registered()
		}
		if l.ms != nil {
			ms := l.ms.Stats()
			ls.MSTP = &ms
		}
		if l.srv != nil {
			site, _ := d.gw.Site()
			st.Served = len(site.BACnet.Serve)
		}
		st.Links = append(st.Links, ls)
	}
	st.COVDropped, st.COVUnknown = d.covDropped.Load(), d.covUnknown.Load()
	return st
}

// DeviceState is one BACnet device of the site as the driver sees it.
type DeviceState struct {
	Name     string `json:"name"`
	Instance int    `json:"instance"`
	Link     string `json:"link"`
	// Address where it was found (or is configured); empty until found.
	Address  string `json:"address,omitempty"`
	Found    bool   `json:"found"`
	Static   bool   `json:"static"` // the site gives the address
	VendorID uint32 `json:"vendor_id,omitempty"`
	MaxAPDU  int    `json:"max_apdu,omitempty"`
	// COV and Polled count the points by how their values arrive now.
	COV    int          `json:"cov"`
	Polled int          `json:"polled"`
	Status field.Status `json:"status"`
}

// Devices lists the site's BACnet devices in site order.
func (d *Driver) Devices() []DeviceState {
	d.mu.Lock()
	ps := make([]*poller, 0, len(d.order))
	for _, name := range d.order {
		if p := d.pollers[name]; p != nil {
			ps = append(ps, p)
		}
	}
	d.mu.Unlock()
	out := make([]DeviceState, 0, len(ps))
	for _, p := range ps {
		p.mu.Lock()
		ds := DeviceState{Name: p.dev.Name, Instance: *p.dev.Instance, Link: p.dev.FieldBus(), Found: p.resolved,
			Static: p.static != nil, VendorID: p.info.VendorID, MaxAPDU: p.info.MaxAPDU, Status: p.status.Clone()}
		if p.resolved {
			ds.Address = p.addr.String()
		} else if p.static != nil {
			ds.Address = p.static.String()
		}
		for i := range p.points {
			if p.modeLocked(i) == ModeCOV {
				ds.COV++
			} else {
				ds.Polled++
			}
		}
		p.mu.Unlock()
		out = append(out, ds)
	}
	return out
}

// PointState is how one point's value arrives.
type PointState struct {
	Device   string `json:"device"`
	Point    string `json:"point"`
	Object   string `json:"object"`   // as stack.ObjectID prints it: analog-input:1
	Property string `json:"property"` // present-value, ...
	Mode     Mode   `json:"mode"`
	// WantsCOV: the site asks for COV; Why says why the point is polled
	// all the same (the device refused, a renewal failed).
	WantsCOV bool   `json:"wants_cov"`
	Why      string `json:"why,omitempty"`
	// LastCOV and Notifications count what COV delivered.
	LastCOV       time.Time     `json:"last_cov,omitzero"`
	Notifications uint64        `json:"notifications"`
	Lifetime      time.Duration `json:"lifetime,omitempty"`
	Reading       field.Reading `json:"reading"`
}

// Points returns the points of a site device with their modes; false
// when the driver has no such device.
func (d *Driver) Points(deviceName string) ([]PointState, bool) {
	p, err := d.poller(deviceName)
	if err != nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PointState, len(p.points))
	for i, pt := range p.points {
		m := p.modes[i]
		ps := PointState{Device: p.dev.Name, Point: pt.cfg.Name, Object: pt.obj.String(), Property: pt.prop.String(),
			Mode: p.modeLocked(i), WantsCOV: pt.wantCOV, Why: m.why, LastCOV: m.lastCOV, Notifications: m.notified, Reading: p.last[i]}
		if m.sub != nil {
			ps.Lifetime = m.sub.Lifetime
			if err := m.sub.Err(); err != nil {
				ps.Why = "cov renewal failed: " + err.Error()
			}
		}
		out[i] = ps
	}
	return out, true
}

// ObjectInfo is one object of a device, with its live value.
type ObjectInfo struct {
	Object   string        `json:"object"` // analog-input:1
	Type     string        `json:"type"`
	Instance int           `json:"instance"`
	Name     string        `json:"name"`
	Value    field.Value   `json:"value"`
	Unit     string        `json:"unit,omitempty"`
	Quality  field.Quality `json:"quality"`
	Error    string        `json:"error,omitempty"`
	// PresentValue: the object has one (a site point can read it).
	PresentValue bool `json:"present_value"`
	// Commandable: it has a priority array (writes take a priority).
	Commandable bool `json:"commandable,omitempty"`
	// Points of the site that read this object's present-value.
	Points []string       `json:"points,omitempty"`
	ID     stack.ObjectID `json:"-"`
}

// MaxObjects bounds the objects Objects describes.
const MaxObjects = node.MaxObjectList

// ObjectsQuery names the device whose objects are listed: a device of the
// site by name, or any device by instance (found by Who-Is, directed to
// To when given: an address or an MS/TP bus).
type ObjectsQuery struct {
	Device string
	To     string
}

// Objects reads a device's object list and, for each object, its name,
// present-value, units, status-flags and whether it is commandable: what
// `bacnet objects DEVICE` prints and the console lists to pick points
// from.
func (d *Driver) Objects(ctx context.Context, q ObjectsQuery) ([]ObjectInfo, error) {
	n, addr, instance, siteDev, err := d.locate(ctx, q)
	if err != nil {
		return nil, err
	}
	devObj := stack.ObjectID{Type: stack.ObjectDevice, Instance: instance}
	ids, err := n.ReadObjectList(ctx, addr, devObj)
	if err != nil {
		return nil, fmt.Errorf("object-list of device %d: %w", instance, err)
	}
	if len(ids) > MaxObjects {
		ids = ids[:MaxObjects]
	}
	const perObject = 5
	refs := make([]stack.PropertyRef, 0, perObject*len(ids))
	for _, o := range ids {
		refs = append(refs, stack.Ref(o, stack.PropObjectName), stack.Ref(o, stack.PropPresentValue),
			stack.Ref(o, stack.PropUnits), stack.Ref(o, stack.PropStatusFlags),
			stack.PropertyRef{Object: o, Property: stack.PropPriorityArray, Index: 0})
	}
	res, err := n.ReadProperties(ctx, addr, refs)
	if err != nil {
		return nil, fmt.Errorf("objects of device %d: %w", instance, err)
	}
	points := map[stack.ObjectID][]string{}
	for _, pt := range siteDev.Points {
		if o, ok := pt.ObjectID(); ok && pt.EffectiveProperty() == "present-value" {
			points[o] = append(points[o], pt.Name)
		}
	}
	out := make([]ObjectInfo, len(ids))
	for i, o := range ids {
		r := res[perObject*i : perObject*i+perObject]
		info := ObjectInfo{Object: o.String(), Type: o.Type.String(), Instance: int(o.Instance), ID: o, Quality: field.QualityGood, Points: points[o]}
		if r[0].Err == nil && len(r[0].Values) == 1 && r[0].Values[0].Type == stack.TypeCharacterString {
			info.Name = printable(r[0].Values[0].String)
		}
		switch {
		case r[1].Err != nil:
			info.Error = "no present-value"
			if r[1].Err.Code != stack.ErrorCodeUnknownProperty {
				info.Quality, info.Error = field.QualityError, r[1].Err.Error()
			}
		default:
			info.PresentValue = true
			v, err := toField(o, stack.PropPresentValue, r[1].Values)
			if err != nil {
				info.Quality, info.Error = field.QualityError, err.Error()
			}
			info.Value = v
		}
		if r[2].Err == nil && len(r[2].Values) == 1 && r[2].Values[0].Type == stack.TypeEnumerated {
			info.Unit = unitText(stack.Units(r[2].Values[0].Unsigned))
		}
		if r[3].Err == nil && len(r[3].Values) == 1 && r[3].Values[0].Type == stack.TypeBitString && info.Quality == field.QualityGood {
			if q, why := quality(stack.DecodeStatusFlags(r[3].Values[0].Bits), 0, false); q != field.QualityGood {
				info.Quality, info.Error = q, why
			}
		}
		info.Commandable = r[4].Err == nil
		out[i] = info
	}
	return out, nil
}

// locate finds the node, address and instance of an ObjectsQuery, and
// the site's device when it names one.
func (d *Driver) locate(ctx context.Context, q ObjectsQuery) (*node.Node, node.Address, uint32, device.BACnetDevice, error) {
	site, _ := d.gw.Site()
	if dev, ok := site.BACnet.FindDevice(q.Device); ok {
		p, err := d.poller(dev.Name)
		if err != nil {
			return nil, node.Address{}, 0, dev, err
		}
		n, addr, err := p.reach(ctx)
		return n, addr, uint32(*dev.Instance), dev, err
	}
	inst, err := strconv.ParseUint(q.Device, 10, 32)
	if err != nil || inst > device.MaxBACnetInstance {
		return nil, node.Address{}, 0, device.BACnetDevice{}, fmt.Errorf("%w %q: name a BACnet device of the site, or give a device instance 0..%d (bacnet discover lists them)", field.ErrNoDevice, q.Device, device.MaxBACnetInstance)
	}
	linkName, to, err := d.discoverTarget(q.To)
	if err != nil {
		return nil, node.Address{}, 0, device.BACnetDevice{}, err
	}
	_, n, err := d.link(linkName)
	if err != nil {
		return nil, node.Address{}, 0, device.BACnetDevice{}, err
	}
	info, err := n.Resolve(ctx, uint32(inst), &to)
	if err != nil {
		return nil, node.Address{}, 0, device.BACnetDevice{}, err
	}
	return n, info.Address, uint32(inst), device.BACnetDevice{}, nil
}

// ServedState is one object the gateway serves.
type ServedState struct {
	Object   string        `json:"object"`
	Name     string        `json:"name"`
	Point    string        `json:"point"`
	Writable bool          `json:"writable"`
	Reading  field.Reading `json:"reading"`
}

// Served lists the gateway's served objects with the readings behind them.
func (d *Driver) Served() []ServedState {
	site, _ := d.gw.Site()
	var out []ServedState
	for _, sv := range site.BACnet.Serve {
		st := ServedState{Object: sv.Object, Name: sv.EffectiveName(), Point: sv.Point, Writable: sv.Writable}
		if id, ok := sv.ObjectID(); ok {
			st.Object = id.String()
		}
		if dev, pt, ok := site.ResolvePoint(sv.Point); ok {
			src := servedPoint{d: d, device: dev, point: pt}
			st.Reading, _ = src.latest()
		}
		out = append(out, st)
	}
	return out
}

// DeviceFor is the site device for a discovered one, named name, with
// points for the given objects: what the console adds "in a few keys".
// The address is kept only where Who-Is could not find the device again
// more cheaply (an MS/TP station, a device behind a router).
func DeviceFor(f Discovered, name string, objects []ObjectInfo) device.BACnetDevice {
	inst := f.Instance
	dev := device.BACnetDevice{Name: name, Instance: &inst, Interval: device.DefaultBACnetInterval}
	switch a := f.Addr; {
	case f.Link != IPLink:
		dev.Bus = f.Link
		if len(a.MAC) == 1 {
			mac := int(a.MAC[0])
			dev.MAC = &mac
		}
	case a.Net != 0 && len(a.Adr) == 1 && len(a.MAC) == 6:
		dev.Address = stack.DecodeIPMAC([]byte(a.MAC)).String()
		dev.Network = int(a.Net)
		mac := int(a.Adr[0])
		dev.MAC = &mac
	case len(a.MAC) == 6:
		dev.Address = stack.DecodeIPMAC([]byte(a.MAC)).String()
	}
	taken := map[string]bool{}
	for _, o := range objects {
		pt := PointFor(o)
		base := pt.Name
		for k := 2; taken[pt.Name]; k++ {
			pt.Name = base + "_" + strconv.Itoa(k)
		}
		taken[pt.Name] = true
		dev.Points = append(dev.Points, pt)
	}
	return dev
}

// PointFor is a site point reading an object's present-value, named after
// the object's name (letters, digits, '_', '.', '-'; the object
// identifier when it has none). Commandable objects are made writable at
// priority 8 (manual operator); the installer may change both.
func PointFor(o ObjectInfo) device.BACnetPoint {
	pt := device.BACnetPoint{Name: pointName(o), Object: o.ID.String()}
	if o.Commandable {
		pt.Writable, pt.Priority = true, 8
	}
	return pt
}

func pointName(o ObjectInfo) string {
	var b strings.Builder
	for _, r := range strings.ToLower(o.Name) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '_' || r == '.' || r == '-':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		name = strings.ReplaceAll(o.ID.String(), ":", "_")
	}
	if len(name) > device.MaxNameLength {
		name = name[:device.MaxNameLength]
	}
	return name
}
