package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// Client bounds.
const (
	// MaxObjectList bounds how many entries of an object-list are read
	// element by element; a device claiming more is refused.
	MaxObjectList = 20000
	// maxRefsPerRPM caps one ReadPropertyMultiple, so that its answer
	// usually fits one APDU; answers that still do not fit are split.
	maxRefsPerRPM = 64
)

func (n *Node) use(dev Address) {
	n.devices.markByAddr(dev, func(e *deviceEntry) { e.used = true })
}

// ReadProperty reads one property (one array element when ref.Index is
// set) with ReadProperty.
func (n *Node) ReadProperty(ctx context.Context, dev Address, ref stack.PropertyRef) ([]stack.Value, error) {
	n.use(dev)
	body, err := stack.AppendReadProperty(nil, ref)
	if err != nil {
		return nil, err
	}
	a, err := n.request(ctx, dev, stack.ServiceReadProperty, body)
	if err != nil {
		return nil, wrapf(err, "read %s", ref)
	}
	if a.Type != stack.PDUComplexAck {
		n.c.malformed.Add(1)
		return nil, fmt.Errorf("read %s from %s: answered with %s: %w", ref, dev, a.Type, stack.ErrBadTag)
	}
	pv, err := stack.DecodeReadPropertyAck(a.Payload)
	if err != nil {
		n.c.malformed.Add(1)
		return nil, fmt.Errorf("read %s from %s: %w", ref, dev, err)
	}
	if pv.Object != ref.Object || pv.Property != ref.Property {
		return nil, fmt.Errorf("read %s from %s: answer is for %s: %w", ref, dev, pv.PropertyRef, stack.ErrRange)
	}
	return pv.Values, nil
}

// ReadProperties reads many properties, by ReadPropertyMultiple in as few
// requests as fit the device's max-APDU, and property by property for a
// device that refuses ReadPropertyMultiple. The results are in the order
// of refs; a property the device refused has Err set. The error is for
// the device as a whole (no answer at all).
func (n *Node) ReadProperties(ctx context.Context, dev Address, refs []stack.PropertyRef) ([]stack.ReadResult, error) {
	n.use(dev)
	out := make([]stack.ReadResult, len(refs))
	for i, r := range refs {
		out[i].PropertyRef = r
	}
	if n.devices.refusesRPM(dev) {
		return out, n.readEach(ctx, dev, out)
	}
	limit := n.peerMaxAPDU(dev) - 4
	for start := 0; start < len(out); {
		end, size := start, 0
		for end < len(out) && end-start < maxRefsPerRPM {
			prop, spec := rpmCost(out[end].PropertyRef)
			if end == start || out[end].Object != out[end-1].Object {
				prop += spec
			}
			if end > start && size+prop > limit {
				break
			}
			size += prop
			end++
		}
		if err := n.readChunk(ctx, dev, out[start:end]); err != nil {
			if errors.Is(err, errNoRPM) {
				n.devices.setNoRPM(dev)
				return out, n.readEach(ctx, dev, out[start:])
			}
			return out, err
		}
		start = end
	}
	return out, nil
}

var errNoRPM = errors.New("device does not implement read-property-multiple")

// rpmCost is what one property adds to a ReadPropertyMultiple request,
// and what opening a new object's access specification adds besides, so
// that a request is sized in one pass rather than encoded again for every
// property it takes.
func rpmCost(r stack.PropertyRef) (prop, spec int) {
	p := stack.AppendContextUnsigned(nil, 0, uint64(r.Property))
	if r.Index != stack.NoIndex {
		p = stack.AppendContextUnsigned(p, 1, uint64(r.Index))
	}
	one, err := stack.AppendRPM(nil, []stack.ReadAccessSpec{{Object: r.Object, Properties: []stack.PropertyRef{r}}})
	if err != nil {
		return len(p), 8 // an object the encoder refuses fails the request anyway
	}
	return len(p), len(one) - len(p)
}

func specsOf(rs []stack.ReadResult) []stack.ReadAccessSpec {
	var specs []stack.ReadAccessSpec
	for _, r := range rs {
		if len(specs) == 0 || specs[len(specs)-1].Object != r.Object {
			specs = append(specs, stack.ReadAccessSpec{Object: r.Object})
		}
		s := &specs[len(specs)-1]
		s.Properties = append(s.Properties, r.PropertyRef)
	}
	return specs
}

// readChunk reads rs with one ReadPropertyMultiple, splitting it in two
// when the answer does not fit and isolating properties the device
// refuses as a whole request.
func (n *Node) readChunk(ctx context.Context, dev Address, rs []stack.ReadResult) error {
	body, err := stack.AppendRPM(nil, specsOf(rs))
	if err != nil {
		return err
	}
	a, err := n.request(ctx, dev, stack.ServiceReadPropertyMultiple, body)
	switch {
	case err == nil:
	case IsRejected(err, stack.RejectUnrecognizedService) || IsError(err, stack.ErrorCodeRejectUnrecognizedSvc) ||
		IsError(err, stack.ErrorCodeServiceRequestDenied, stack.ErrorCodeOptionalNotSupported) && isServicesClass(err):
		return errNoRPM
	case tooBig(err) || IsError(err) || IsRejected(err):
		if len(rs) == 1 {
			// One property alone: ReadProperty says it best.
			return n.readEach(ctx, dev, rs)
		}
		half := len(rs) / 2
		if err := n.readChunk(ctx, dev, rs[:half]); err != nil {
			return err
		}
		return n.readChunk(ctx, dev, rs[half:])
	default:
		return err
	}
	if a.Type != stack.PDUComplexAck {
		return fmt.Errorf("read-property-multiple from %s: answered with %s: %w", dev, a.Type, stack.ErrBadTag)
	}
	got, err := stack.DecodeRPMAck(a.Payload)
	if err != nil {
		n.c.malformed.Add(1)
		return fmt.Errorf("read-property-multiple from %s: %w", dev, err)
	}
	byRef := make(map[stack.PropertyRef]stack.ReadResult, len(got))
	for _, g := range got {
		byRef[g.PropertyRef] = g
	}
	for i := range rs {
		g, ok := byRef[rs[i].PropertyRef]
		if !ok {
			rs[i].Err = &stack.PropertyError{Class: stack.ErrorClassServices, Code: stack.ErrorCodeOther}
			continue
		}
		rs[i].Values, rs[i].Err = g.Values, g.Err
	}
	return nil
}

func isServicesClass(err error) bool {
	var p *stack.PropertyError
	return errors.As(err, &p) && p.Class == stack.ErrorClassServices
}

// tooBig reports whether err says the answer did not fit.
func tooBig(err error) bool {
	return IsAborted(err, stack.AbortSegmentationNotSupported, stack.AbortBufferOverflow, stack.AbortAPDUTooLong, stack.AbortOutOfResources) ||
		IsRejected(err, stack.RejectBufferOverflow) || errors.Is(err, ErrReplyTooLarge) ||
		IsError(err, stack.ErrorCodeAbortBufferOverflow, stack.ErrorCodeAbortSegmentationNotSupp,
			stack.ErrorCodeRejectBufferOverflow, stack.ErrorCodeAbortAPDUTooLong) ||
		errors.Is(err, ErrAPDUTooLong) || errors.Is(err, ErrSegmentTimeout)
}

// readEach reads rs one ReadProperty at a time.
func (n *Node) readEach(ctx context.Context, dev Address, rs []stack.ReadResult) error {
	for i := range rs {
		vs, err := n.ReadProperty(ctx, dev, rs[i].PropertyRef)
		var pe *stack.PropertyError
		switch {
		case err == nil:
			rs[i].Values = vs
		case errors.As(err, &pe):
			rs[i].Err = pe
		case IsRejected(err) || IsAborted(err):
			rs[i].Err = &stack.PropertyError{Class: stack.ErrorClassServices, Code: stack.ErrorCodeOther}
		default:
			return err
		}
	}
	return nil
}

// ReadObjectList reads a device's object-list: whole when it fits, else
// element by element (its length at index 0, then every entry, batched by
// ReadPropertyMultiple where the device has it).
func (n *Node) ReadObjectList(ctx context.Context, dev Address, device stack.ObjectID) ([]stack.ObjectID, error) {
	vs, err := n.ReadProperty(ctx, dev, stack.Ref(device, stack.PropObjectList))
	if err == nil {
		return objectIDs(vs)
	}
	if !tooBig(err) && !IsRejected(err) && !IsError(err, stack.ErrorCodeOther, stack.ErrorCodeDeviceBusy) {
		return nil, err
	}
	count, err := n.ReadProperty(ctx, dev, stack.PropertyRef{Object: device, Property: stack.PropObjectList, Index: 0})
	if err != nil {
		return nil, wrapf(err, "object-list length")
	}
	if len(count) != 1 || count[0].Type != stack.TypeUnsigned {
		return nil, fmt.Errorf("object-list length of %s: not an unsigned: %w", dev, stack.ErrType)
	}
	if count[0].Unsigned > MaxObjectList {
		return nil, fmt.Errorf("object-list of %s has %d entries, more than %d: %w", dev, count[0].Unsigned, MaxObjectList, stack.ErrTooLong)
	}
	refs := make([]stack.PropertyRef, count[0].Unsigned)
	for i := range refs {
		refs[i] = stack.PropertyRef{Object: device, Property: stack.PropObjectList, Index: uint32(i + 1)}
	}
	res, err := n.ReadProperties(ctx, dev, refs)
	if err != nil {
		return nil, err
	}
	out := make([]stack.ObjectID, 0, len(res))
	for _, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("object-list of %s: %s: %w", dev, r.PropertyRef, r.Err)
		}
		ids, err := objectIDs(r.Values)
		if err != nil || len(ids) != 1 {
			return nil, fmt.Errorf("object-list of %s: %s is not one object identifier: %w", dev, r.PropertyRef, stack.ErrType)
		}
		out = append(out, ids[0])
	}
	return out, nil
}

func objectIDs(vs []stack.Value) ([]stack.ObjectID, error) {
	out := make([]stack.ObjectID, 0, len(vs))
	for _, v := range vs {
		if v.Type != stack.TypeObjectID {
			return nil, fmt.Errorf("object-list element of type %s: %w", v.Type, stack.ErrType)
		}
		out = append(out, v.Object)
	}
	return out, nil
}

// ObjectNames reads the object-name of each object; a name the device
// refuses is "".
func (n *Node) ObjectNames(ctx context.Context, dev Address, objects []stack.ObjectID) ([]string, error) {
	refs := make([]stack.PropertyRef, len(objects))
	for i, o := range objects {
		refs[i] = stack.Ref(o, stack.PropObjectName)
	}
	res, err := n.ReadProperties(ctx, dev, refs)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(res))
	for i, r := range res {
		if r.Err == nil && len(r.Values) == 1 && r.Values[0].Type == stack.TypeCharacterString {
			names[i] = r.Values[0].String
		}
	}
	return names, nil
}

// WriteProperty writes a property with WriteProperty; w.Priority 1..16
// commands a commandable property at that priority (0: the device's
// default), and a single Null value relinquishes it.
func (n *Node) WriteProperty(ctx context.Context, dev Address, w stack.PropertyValue) error {
	n.use(dev)
	body, err := stack.AppendWriteProperty(nil, w)
	if err != nil {
		return err
	}
	a, err := n.request(ctx, dev, stack.ServiceWriteProperty, body)
	if err != nil {
		return wrapf(err, "write %s", w.PropertyRef)
	}
	if a.Type != stack.PDUSimpleAck {
		return fmt.Errorf("write %s to %s: answered with %s: %w", w.PropertyRef, dev, a.Type, stack.ErrBadTag)
	}
	return nil
}

// Write writes an object's present-value at a priority (0: default).
func (n *Node) Write(ctx context.Context, dev Address, obj stack.ObjectID, v stack.Value, priority uint8) error {
	return n.WriteProperty(ctx, dev, stack.PropertyValue{PropertyRef: stack.Ref(obj, stack.PropPresentValue), Values: []stack.Value{v}, Priority: priority})
}

// Relinquish writes Null to an object's present-value at priority 1..16,
// releasing this gateway's command there.
func (n *Node) Relinquish(ctx context.Context, dev Address, obj stack.ObjectID, priority uint8) error {
	if priority < 1 || priority > 16 {
		return fmt.Errorf("relinquish %s: priority %d is outside 1..16: %w", obj, priority, stack.ErrRange)
	}
	return n.Write(ctx, dev, obj, stack.Null(), priority)
}
