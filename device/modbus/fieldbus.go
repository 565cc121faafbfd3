package modbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
)

// Read reads points of a device now, outside its schedule (field.Driver):
// every point when points is empty.
func (e *Engine) Read(ctx context.Context, deviceName string, points []string) ([]field.Reading, error) {
	p, err := e.lookup(deviceName)
	if err != nil {
		return nil, err
	}
	var index []int
	for i, pt := range p.points {
		if len(points) == 0 || slices.Contains(points, pt.Name) {
			index = append(index, i)
		}
	}
	if len(index) < len(points) {
		return nil, fmt.Errorf("device %s: %w among %v", deviceName, field.ErrNoPoint, points)
	}
	return p.readNow(ctx, index)
}

// ReadRaw reads registers or bits of a device now, without a point: the
// console's decode lab shows them in every type and byte order.
func (e *Engine) ReadRaw(ctx context.Context, r device.RawRead) ([]uint16, []bool, error) {
	p, err := e.lookup(r.Device)
	if err != nil {
		return nil, nil, err
	}
	limit := uint16(maxReadRegisters)
	if r.Table.IsBit() {
		limit = maxReadBits
	}
	if r.Count == 0 || r.Count > limit || int(r.Address)+int(r.Count) > 65536 {
		return nil, nil, fmt.Errorf("read %d from address %d: give 1..%d within 0..65535", r.Count, r.Address, limit)
	}
	res, err := p.read(ctx, Read{Table: r.Table, Address: r.Address, Count: r.Count}, false)
	return res.words, res.bits, err
}

// Write writes a value to a writable point now (field.Driver). The hub
// has checked that the point exists and is writable; the gateway audits.
func (e *Engine) Write(ctx context.Context, w field.Write) error {
	p, err := e.lookup(w.Device)
	if err != nil {
		return err
	}
	deviceName, point, v := w.Device, w.Point, w.Value
	var pt device.Point
	found := false
	for _, cand := range p.points {
		if cand.Name == point {
			pt, found = cand, true
		}
	}
	switch {
	case !found:
		return fmt.Errorf("device %s: %w %q", deviceName, field.ErrNoPoint, point)
	case !pt.Writable:
		return fmt.Errorf("point %s.%s: %w (set writable: true on a coil or holding point to allow writes)", deviceName, point, field.ErrReadOnly)
	case !v.Valid:
		return errors.New("no value to write (Modbus has no relinquish)")
	case w.Priority != 0:
		return fmt.Errorf("write priority: %w (Modbus writes have no priority)", field.ErrNotSupported)
	}
	addr := uint16(pt.Address)
	if pt.Table == device.TableCoil {
		if !v.IsBool {
			return fmt.Errorf("point %s.%s is a coil: write true or false", deviceName, point)
		}
		return p.raw(ctx, func(l link) error { return writeCoil(l, addr, v.Bool) })
	}
	if v.IsBool {
		return fmt.Errorf("point %s.%s holds a %s: write a number", deviceName, point, pt.Type)
	}
	scale := pt.Scale()
	raw := (v.Num - pt.Offset) / scale
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return fmt.Errorf("%v cannot be written to %s.%s", v.Num, deviceName, point)
	}
	words, err := EncodeRegisters(raw, pt.Type, pt.Order)
	if err != nil {
		return fmt.Errorf("%s.%s: %w", deviceName, point, err)
	}
	if len(words) == 1 {
		return p.raw(ctx, func(l link) error { return writeRegister(l, addr, words[0]) })
	}
	return p.raw(ctx, func(l link) error { return writeRegisters(l, addr, words) })
}

// scanTimeout bounds one probe: an absent unit costs this much.
const scanTimeout = 150 * time.Millisecond

// Discover scans a bus (field.Discoverer): q.Target is the bus, q.From and
// q.To the unit ids (default 1..247). A cheap register read tells whether
// a unit is there (an exception answer counts: someone answered); units
// found are then asked for their identification (function 43/14), which
// many devices support.
func (e *Engine) Discover(ctx context.Context, q field.Query, progress func(field.Progress)) ([]field.Found, error) {
	busName := q.Target
	ep, bus, err := e.busEndpoint(busName)
	if err != nil {
		return nil, err
	}
	if q.From == 0 {
		q.From = 1
	}
	if q.To == 0 {
		q.To = 247
	}
	if q.From < 1 || q.To < q.From || q.To > 247 {
		return nil, fmt.Errorf("scan %d..%d: unit ids are 1..247", q.From, q.To)
	}
	first, last := uint8(q.From), uint8(q.To)
	timeout := min(bus.Timeout.Std(), scanTimeout)
	var found []field.Found
	total := int(last) - int(first) + 1
	for i := 0; i < total; i++ {
		if err := ctx.Err(); err != nil {
			return found, err
		}
		unit := first + uint8(i)
		err := ep.do(ctx, unit, timeout, func(l link) error {
			_, err := readBlock(l, device.TableHolding, 0, 1)
			return err
		})
		var res *field.Found
		switch code := Exception(err); {
		case err == nil:
			res = &field.Found{Protocol: field.Modbus, Target: busName, ID: int(unit), How: "register"}
		case code == 10 || code == 11:
			// A TCP gateway saying that nothing answers behind it.
		case code != 0:
			res = &field.Found{Protocol: field.Modbus, Target: busName, ID: int(unit), How: ExceptionText(code)}
		case errors.Is(err, errStopped), ctx.Err() != nil:
			return found, err
		}
		if res != nil {
			e.identify(ctx, ep, timeout, res)
			found = append(found, *res)
		}
		if progress != nil {
			progress(field.Progress{Current: int(unit), Done: i + 1, Total: total, Found: len(found)})
		}
	}
	return found, nil
}

// identify asks a unit for its basic device identification objects:
// 0 vendor name, 1 product code, 2 major.minor revision.
func (e *Engine) identify(ctx context.Context, ep *endpoint, timeout time.Duration, res *field.Found) {
	out := make(chan map[byte]string, 1) // the closure may outlive a cancelled caller
	err := ep.do(ctx, uint8(res.ID), timeout, func(l link) error {
		// MEI type 14, read code 1 (basic objects), from object 0.
		data, err := l.exchange(funcDeviceIdentification, []byte{0x0E, 0x01, 0x00})
		if err != nil {
			return err
		}
		objects, err := parseIdentification(data)
		if err != nil {
			return err
		}
		out <- objects
		return nil
	})
	if err != nil {
		return
	}
	objects := <-out
	res.Vendor, res.Model, res.Revision = objects[0], objects[1], objects[2]
	res.How = "identification"
}

// parseIdentification reads the objects of a function 43/14 answer:
// MEI type, read code, conformity, more follows, next id, count, then
// (id, length, value) per object.
func parseIdentification(d []byte) (map[byte]string, error) {
	if len(d) < 6 || d[0] != 0x0E {
		return nil, errors.New("malformed device identification")
	}
	count := int(d[5])
	out := map[byte]string{}
	pos := 6
	for i := 0; i < count; i++ {
		if pos+2 > len(d) || pos+2+int(d[pos+1]) > len(d) {
			return nil, errors.New("device identification object overruns the answer")
		}
		id, n := d[pos], int(d[pos+1])
		out[id] = printableASCII(d[pos+2 : pos+2+n])
		pos += 2 + n
	}
	return out, nil
}

// printableASCII keeps what a device says printable: identification text
// ends up on terminals.
func printableASCII(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}
