package bacnet

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
)

// Read reads points of a device now, outside its schedule
// (field.Driver): every point when points is empty. Readings come back in
// point order and are not recorded.
func (d *Driver) Read(ctx context.Context, deviceName string, points []string) ([]field.Reading, error) {
	p, err := d.poller(deviceName)
	if err != nil {
		return nil, err
	}
	idx, err := p.indexes(points)
	if err != nil {
		return nil, err
	}
	n, addr, err := p.reach(ctx)
	if err != nil {
		return nil, err
	}
	return p.readPoints(ctx, n, addr, idx)
}

// indexes maps point names to their indexes (every point when none).
func (p *poller) indexes(names []string) ([]int, error) {
	var idx []int
	for i, pt := range p.points {
		if len(names) == 0 || slices.Contains(names, pt.cfg.Name) {
			idx = append(idx, i)
		}
	}
	if len(idx) < len(names) {
		return nil, fmt.Errorf("device %s: %w among %v", p.dev.Name, field.ErrNoPoint, names)
	}
	return idx, nil
}

// reach returns the device's node and address, finding it first if the
// schedule has not yet.
func (p *poller) reach(ctx context.Context) (*node.Node, node.Address, error) {
	l, n, err := p.d.link(p.dev.FieldBus())
	if err != nil {
		return nil, node.Address{}, err
	}
	p.sync(l)
	addr, err := p.resolve(ctx, n, false)
	return n, addr, err
}

// Write writes a value to a writable point and waits for the device's
// acknowledgement (field.Driver); the gateway audits it. The priority is
// the write's, else the point's; a write of no value relinquishes that
// priority (16 when neither gives one). The point is read back at once,
// so its latest reading shows what the device now holds.
func (d *Driver) Write(ctx context.Context, w field.Write) error {
	p, err := d.poller(w.Device)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(p.points, func(pt pointDef) bool { return pt.cfg.Name == w.Point })
	switch {
	case i < 0:
		return fmt.Errorf("device %s: %w %q", w.Device, field.ErrNoPoint, w.Point)
	case !p.points[i].cfg.Writable:
		return fmt.Errorf("point %s.%s: %w (set writable: true on the point to allow writes)", w.Device, w.Point, field.ErrReadOnly)
	case w.Priority < 0 || w.Priority > 16:
		return fmt.Errorf("priority %d: give 1..16, or 0 for the point's default", w.Priority)
	}
	pt := p.points[i]
	prio := w.Priority
	if prio == 0 {
		prio = pt.cfg.Priority
	}
	if prio != 0 && pt.prop != stack.PropPresentValue {
		return fmt.Errorf("point %s.%s writes %s, which has no priority: write without one", w.Device, w.Point, pt.prop)
	}
	if !w.Value.Valid && prio == 0 {
		prio = 16 // a write without priority commands 16 (clause 19.2.2): release that
	}
	v, err := toBACnet(pt.obj, pt.prop, w.Value)
	if err != nil {
		return fmt.Errorf("%s.%s: %w", w.Device, w.Point, err)
	}
	n, addr, err := p.reach(ctx)
	if err != nil {
		return err
	}
	err = n.WriteProperty(ctx, addr, stack.PropertyValue{PropertyRef: stack.Ref(pt.obj, pt.prop), Values: []stack.Value{v}, Priority: uint8(prio)})
	if err != nil {
		return fmt.Errorf("%s.%s (%s %s of device %d): %w", w.Device, w.Point, pt.obj, pt.prop, *p.dev.Instance, err)
	}
	if rs, err := p.readPoints(ctx, n, addr, []int{i}); err == nil {
		p.mu.Lock()
		p.last[i] = rs[0]
		st := p.status.Clone()
		p.mu.Unlock()
		_ = d.sink.Record(st, rs)
	}
	return nil
}

// Discovered is a device a Who-Is found, with what it says about itself.
type Discovered struct {
	Instance int          `json:"instance"`
	Link     string       `json:"link"`    // IPLink or an MS/TP bus
	Address  string       `json:"address"` // as node.Address prints it
	Addr     node.Address `json:"-"`
	VendorID uint32       `json:"vendor_id"`
	Vendor   string       `json:"vendor,omitempty"`
	Model    string       `json:"model,omitempty"`
	Name     string       `json:"name,omitempty"`     // its Device object's object-name
	Firmware string       `json:"firmware,omitempty"` // firmware-revision
	Objects  int          `json:"objects"`            // object-list length (0: unknown)
	MaxAPDU  int          `json:"max_apdu"`
	// Site is the device of the site at this instance, if any.
	Site  string `json:"site_device,omitempty"`
	Error string `json:"error,omitempty"` // why it could not be described
}

// DiscoverQuery narrows a discovery.
type DiscoverQuery struct {
	// To is where the Who-Is goes: "" (a global broadcast on BACnet/IP),
	// an address (IPv4[:port], directed), or an MS/TP bus name (a
	// broadcast on that line).
	To string
	// Low..High bound the instances asked (both 0: every device).
	Low, High int
	// Wait is how long I-Ams are collected (Options.DiscoverWait, else the
	// APDU timeout).
	Wait time.Duration
}

// Discover finds devices (field.Discoverer): q.Target is DiscoverQuery.To,
// q.From and q.To the instance range.
func (d *Driver) Discover(ctx context.Context, q field.Query, progress func(field.Progress)) ([]field.Found, error) {
	found, err := d.DiscoverDevices(ctx, DiscoverQuery{To: q.Target, Low: q.From, High: q.To}, progress)
	out := make([]field.Found, 0, len(found))
	for _, f := range found {
		vendor := f.Vendor
		if vendor == "" {
			vendor = "vendor " + strconv.Itoa(int(f.VendorID))
		}
		out = append(out, field.Found{Protocol: field.BACnet, Target: f.Link, ID: f.Instance, Address: f.Address,
			Vendor: vendor, Model: f.Model, Revision: f.Firmware, Objects: f.Objects, How: "i-am"})
	}
	return out, err
}

// DiscoverDevices sends a Who-Is and describes every device that
// answers: vendor, model, name, firmware and object count, read from its
// Device object (MaxDescribing at once). progress hears of each device
// described.
func (d *Driver) DiscoverDevices(ctx context.Context, q DiscoverQuery, progress func(field.Progress)) ([]Discovered, error) {
	if progress == nil {
		progress = func(field.Progress) {}
	}
	linkName, to, err := d.discoverTarget(q.To)
	if err != nil {
		return nil, err
	}
	_, n, err := d.link(linkName)
	if err != nil {
		return nil, err
	}
	opts := node.DiscoverOptions{To: &to, Wait: q.Wait}
	if q.Low != 0 || q.High != 0 {
		high := q.High
		if high == 0 {
			high = device.MaxBACnetInstance
		}
		if q.Low < 0 || high < q.Low || high > device.MaxBACnetInstance {
			return nil, fmt.Errorf("instances %d..%d: give a range within 0..%d", q.Low, high, device.MaxBACnetInstance)
		}
		opts.HasRange, opts.Low, opts.High = true, uint32(q.Low), uint32(high)
	}
	if opts.Wait <= 0 {
		opts.Wait = d.o.DiscoverWait
	}
	infos, err := n.Discover(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("who-is to %s: %w", to, err)
	}
	site, _ := d.gw.Site()
	out := make([]Discovered, len(infos))
	for i, info := range infos {
		out[i] = Discovered{Instance: int(info.Instance), Link: linkName, Address: info.Address.String(), Addr: info.Address,
			VendorID: info.VendorID, MaxAPDU: info.MaxAPDU}
		for _, dev := range site.BACnet.Devices {
			if dev.Instance != nil && *dev.Instance == out[i].Instance {
				out[i].Site = dev.Name
			}
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, MaxDescribing)
	done := 0
	for i := range out {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return out, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			describe(ctx, n, &out[i])
			mu.Lock()
			done++
			progress(field.Progress{Current: out[i].Instance, Done: done, Total: len(out), Found: len(out)})
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, ctx.Err()
}

// discoverTarget turns DiscoverQuery.To into a link and an address.
func (d *Driver) discoverTarget(to string) (string, node.Address, error) {
	if to == "" || to == IPLink {
		return IPLink, node.Address{Net: stack.GlobalNetwork}, nil
	}
	site, _ := d.gw.Site()
	if _, ok := site.BACnet.FindMSTP(to); ok {
		return to, node.Address{}, nil
	}
	ap, err := device.ParseBACnetAddress(to)
	if err != nil {
		return "", node.Address{}, fmt.Errorf("%q is neither an MS/TP bus of the site nor a BACnet/IP address: %w", to, err)
	}
	return IPLink, node.IP(ap), nil
}

// describe reads what a found device says of itself.
func describe(ctx context.Context, n *node.Node, f *Discovered) {
	const firmwareRevision = 44
	dev := stack.ObjectID{Type: stack.ObjectDevice, Instance: uint32(f.Instance)}
	res, err := n.ReadProperties(ctx, f.Addr, []stack.PropertyRef{
		stack.Ref(dev, stack.PropVendorName), stack.Ref(dev, stack.PropModelName), stack.Ref(dev, stack.PropObjectName),
		stack.Ref(dev, firmwareRevision), {Object: dev, Property: stack.PropObjectList, Index: 0},
	})
	if err != nil {
		f.Error = err.Error()
		return
	}
	text := func(r stack.ReadResult) string {
		if r.Err == nil && len(r.Values) == 1 && r.Values[0].Type == stack.TypeCharacterString {
			return printable(r.Values[0].String)
		}
		return ""
	}
	f.Vendor, f.Model, f.Name, f.Firmware = text(res[0]), text(res[1]), text(res[2]), text(res[3])
	if r := res[4]; r.Err == nil && len(r.Values) == 1 && r.Values[0].Type == stack.TypeUnsigned {
		f.Objects = int(min(r.Values[0].Unsigned, 1<<31))
	}
}

// printable keeps what a device says printable: it ends up on terminals.
func printable(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r >= 0x20 && r != 0x7f && (r < 0x80 || r >= 0xa0) {
			out = append(out, r)
		}
	}
	if len(out) > 128 {
		out = out[:128]
	}
	return string(out)
}
