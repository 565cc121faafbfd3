package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// DeviceInfo is what an I-Am told about a device.
type DeviceInfo struct {
	Instance     uint32
	Address      Address
	MaxAPDU      int
	Segmentation stack.Segmentation
	VendorID     uint32
	LastSeen     time.Time
}

type deviceEntry struct {
	info DeviceInfo
	// used: a request went to this device, so a flood of strangers'
	// I-Ams must not evict it.
	used bool
}

type discovery struct {
	filter stack.WhoIs
	to     Address // zero: any source
	found  map[uint32]DeviceInfo
	wake   chan struct{}
}

type deviceTable struct {
	mu         sync.Mutex
	max        int
	byInstance map[uint32]*deviceEntry
	byAddr     map[Address]*deviceEntry
	waiting    map[*discovery]struct{}
	// noRPM: devices that refused ReadPropertyMultiple, read property by
	// property. Bounded by max like the table; beyond it a device is
	// simply asked again.
	noRPM map[Address]bool
}

func (t *deviceTable) refusesRPM(a Address) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.noRPM[a]
}

func (t *deviceTable) setNoRPM(a Address) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.noRPM) < t.max {
		t.noRPM[a] = true
	}
}

func (t *deviceTable) init(max int) {
	t.max = max
	t.byInstance = make(map[uint32]*deviceEntry)
	t.byAddr = make(map[Address]*deviceEntry)
	t.waiting = make(map[*discovery]struct{})
	t.noRPM = make(map[Address]bool)
}

// seen records an I-Am.
func (t *deviceTable) seen(n *Node, m stack.IAm, from Address) {
	info := DeviceInfo{Instance: m.Device.Instance, Address: from, MaxAPDU: int(m.MaxAPDU),
		Segmentation: m.Segmentation, VendorID: m.VendorID, LastSeen: n.now()}
	t.mu.Lock()
	defer t.mu.Unlock()
	for d := range t.waiting {
		if d.filter.Matches(info.Instance) && (d.to == Address{} || d.to == from) && len(d.found) < t.max {
			d.found[info.Instance] = info
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
	}
	if e := t.byInstance[info.Instance]; e != nil {
		if e.info.Address != from {
			delete(t.byAddr, e.info.Address)
		}
		e.info = info
		t.byAddr[from] = e
		return
	}
	if len(t.byInstance) >= t.max {
		if !t.evict() {
			n.c.iamDropped.Add(1)
			return
		}
		n.c.iamEvicted.Add(1)
	}
	e := &deviceEntry{info: info}
	t.byInstance[info.Instance] = e
	t.byAddr[from] = e
}

// evict removes the longest-unseen entry no request has used; false when
// every entry is in use. The scan is linear, but only runs with a full
// table, which only a flood makes.
func (t *deviceTable) evict() bool {
	var old *deviceEntry
	for _, e := range t.byInstance {
		if !e.used && (old == nil || e.info.LastSeen.Before(old.info.LastSeen)) {
			old = e
		}
	}
	if old == nil {
		return false
	}
	delete(t.byInstance, old.info.Instance)
	if t.byAddr[old.info.Address] == old {
		delete(t.byAddr, old.info.Address)
	}
	return true
}

func (t *deviceTable) markByAddr(a Address, f func(*deviceEntry)) {
	t.mu.Lock()
	if e := t.byAddr[a]; e != nil {
		f(e)
	}
	t.mu.Unlock()
}

// peerMaxAPDU is the largest APDU to send to a: its I-Am's max-APDU when
// known, else the link's (the local network) or the MS/TP maximum (behind
// a router), never more than the link carries.
func (n *Node) peerMaxAPDU(a Address) int {
	limit := n.link.MaxAPDU()
	// The entry's info is rewritten by every I-Am: read it under the lock.
	n.devices.mu.Lock()
	e := n.devices.byAddr[a]
	known, peer := e != nil, 0
	if known {
		peer = e.info.MaxAPDU
	}
	n.devices.mu.Unlock()
	switch {
	case known && peer < limit:
		return peer
	case !known && a.Net != 0 && remoteMaxAPDU < limit:
		return remoteMaxAPDU
	}
	return limit
}

// Devices lists the I-Am table by instance.
func (n *Node) Devices() []DeviceInfo {
	n.devices.mu.Lock()
	out := make([]DeviceInfo, 0, len(n.devices.byInstance))
	for _, e := range n.devices.byInstance {
		out = append(out, e.info)
	}
	n.devices.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out
}

// Device returns the table's entry for an instance.
func (n *Node) Device(instance uint32) (DeviceInfo, bool) {
	n.devices.mu.Lock()
	defer n.devices.mu.Unlock()
	if e := n.devices.byInstance[instance]; e != nil {
		return e.info, true
	}
	return DeviceInfo{}, false
}

// DiscoverOptions narrow a Who-Is.
type DiscoverOptions struct {
	// To sends a directed Who-Is to one address; nil broadcasts it.
	To *Address
	// Low..High limit the instances asked for (clause 16.10.1); both zero
	// (and HasRange false) ask every device.
	HasRange  bool
	Low, High uint32
	// Wait is how long I-Ams are collected. Default the APDU timeout.
	Wait time.Duration
}

// Discover sends a Who-Is and returns the devices that answered within
// opts.Wait, by instance. Asking for exactly one instance returns as soon
// as it answers.
func (n *Node) Discover(ctx context.Context, opts DiscoverOptions) ([]DeviceInfo, error) {
	if n.ended.Load() {
		return nil, ErrNotRunning
	}
	w := stack.WhoIs{HasRange: opts.HasRange, Low: opts.Low, High: opts.High}
	body, err := stack.AppendWhoIs(nil, w)
	if err != nil {
		return nil, err
	}
	apdu, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUUnconfirmedRequest, Service: uint8(stack.ServiceWhoIs), Payload: body})
	d := &discovery{filter: w, found: make(map[uint32]DeviceInfo), wake: make(chan struct{}, 1)}
	to := Address{}
	if opts.To != nil {
		to = *opts.To
		d.to = to
		if to.IsBroadcast() {
			d.to = Address{}
		}
	}
	n.devices.mu.Lock()
	n.devices.waiting[d] = struct{}{}
	n.devices.mu.Unlock()
	defer func() {
		n.devices.mu.Lock()
		delete(n.devices.waiting, d)
		n.devices.mu.Unlock()
	}()
	if err := n.sendAPDU(to, false, apdu); err != nil {
		return nil, fmt.Errorf("who-is to %s: %w", to, err)
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = n.cfg.APDUTimeout
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	single := opts.HasRange && opts.Low == opts.High
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return n.collect(d), nil
		case <-d.wake:
			if single {
				n.devices.mu.Lock()
				_, ok := d.found[opts.Low]
				n.devices.mu.Unlock()
				if ok {
					return n.collect(d), nil
				}
			}
		}
	}
}

func (n *Node) collect(d *discovery) []DeviceInfo {
	n.devices.mu.Lock()
	out := make([]DeviceInfo, 0, len(d.found))
	for _, i := range d.found {
		out = append(out, i)
	}
	n.devices.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out
}

// Resolve returns where device instance is: from the I-Am table, else by a
// Who-Is for that instance (directed to hint when given, else broadcast).
// A resolved device is never evicted by an I-Am flood.
func (n *Node) Resolve(ctx context.Context, instance uint32, hint *Address) (DeviceInfo, error) {
	n.devices.mu.Lock()
	e := n.devices.byInstance[instance]
	if e != nil {
		e.used = true
		info := e.info
		n.devices.mu.Unlock()
		return info, nil
	}
	n.devices.mu.Unlock()
	found, err := n.Discover(ctx, DiscoverOptions{To: hint, HasRange: true, Low: instance, High: instance})
	if err != nil {
		return DeviceInfo{}, err
	}
	if len(found) == 0 {
		return DeviceInfo{}, fmt.Errorf("device %d: no i-am within %s: %w", instance, n.cfg.APDUTimeout, ErrUnknownDevice)
	}
	n.devices.mu.Lock()
	if e := n.devices.byInstance[instance]; e != nil {
		e.used = true
	}
	n.devices.mu.Unlock()
	return found[0], nil
}
