package stack

import "fmt"

// Service requests and acks (clauses 13, 15, 16), each with an Append and a
// Decode that mirror the service's ASN.1 production.

// NoIndex means "no array index": the whole property.
const NoIndex = ^uint32(0)

// WhoIs is the Who-Is request (16.10.1). Without limits every device
// answers.
type WhoIs struct {
	HasRange  bool
	Low, High uint32
}

// AppendWhoIs appends the request body.
func AppendWhoIs(b []byte, w WhoIs) ([]byte, error) {
	if !w.HasRange {
		return b, nil
	}
	if w.Low > MaxInstance || w.High > MaxInstance || w.Low > w.High {
		return b, fmt.Errorf("encode who-is: range %d..%d: %w", w.Low, w.High, ErrRange)
	}
	b = AppendContextUnsigned(b, 0, uint64(w.Low))
	return AppendContextUnsigned(b, 1, uint64(w.High)), nil
}

// DecodeWhoIs decodes the request body.
func DecodeWhoIs(b []byte) (WhoIs, error) {
	if len(b) == 0 {
		return WhoIs{}, nil
	}
	r := NewReader(b)
	lo, err := r.ContextUnsigned(0)
	if err != nil {
		return WhoIs{}, fmt.Errorf("decode who-is: low limit: %w", err)
	}
	hi, err := r.ContextUnsigned(1)
	if err != nil {
		return WhoIs{}, fmt.Errorf("decode who-is: high limit: %w", err)
	}
	if lo > MaxInstance || hi > MaxInstance {
		return WhoIs{}, fmt.Errorf("decode who-is: range %d..%d: %w", lo, hi, ErrRange)
	}
	if r.Len() != 0 {
		return WhoIs{}, fmt.Errorf("decode who-is: %d octets after the range: %w", r.Len(), ErrTrailing)
	}
	return WhoIs{HasRange: true, Low: uint32(lo), High: uint32(hi)}, nil
}

// Matches reports whether a device instance is asked for.
func (w WhoIs) Matches(instance uint32) bool {
	return !w.HasRange || (instance >= w.Low && instance <= w.High)
}

// IAm is the I-Am request (16.10.3).
type IAm struct {
	Device       ObjectID
	MaxAPDU      uint32
	Segmentation Segmentation
	VendorID     uint32
}

// AppendIAm appends the request body.
func AppendIAm(b []byte, m IAm) ([]byte, error) {
	var err error
	if b, err = AppendApp(b, ObjectValue(m.Device)); err != nil {
		return b, fmt.Errorf("encode i-am: %w", err)
	}
	b, _ = AppendApp(b, Unsigned(uint64(m.MaxAPDU)))
	b, _ = AppendApp(b, Enumerated(uint64(m.Segmentation)))
	b, _ = AppendApp(b, Unsigned(uint64(m.VendorID)))
	return b, nil
}

// DecodeIAm decodes the request body.
func DecodeIAm(b []byte) (IAm, error) {
	r := NewReader(b)
	dev, err := r.AppOf(TypeObjectID)
	if err != nil {
		return IAm{}, fmt.Errorf("decode i-am: device: %w", err)
	}
	if dev.Object.Type != ObjectDevice {
		return IAm{}, fmt.Errorf("decode i-am: %s is not a device: %w", dev.Object, ErrRange)
	}
	maxAPDU, err := r.AppOf(TypeUnsigned)
	if err != nil {
		return IAm{}, fmt.Errorf("decode i-am: max-apdu: %w", err)
	}
	seg, err := r.AppOf(TypeEnumerated)
	if err != nil {
		return IAm{}, fmt.Errorf("decode i-am: segmentation: %w", err)
	}
	vendor, err := r.AppOf(TypeUnsigned)
	if err != nil {
		return IAm{}, fmt.Errorf("decode i-am: vendor: %w", err)
	}
	if r.Len() != 0 {
		return IAm{}, fmt.Errorf("decode i-am: %w", ErrTrailing)
	}
	if maxAPDU.Unsigned < 50 || maxAPDU.Unsigned > 65535 || seg.Unsigned > 3 || vendor.Unsigned > 65535 {
		return IAm{}, fmt.Errorf("decode i-am: max-apdu %d, segmentation %d, vendor %d: %w",
			maxAPDU.Unsigned, seg.Unsigned, vendor.Unsigned, ErrRange)
	}
	return IAm{Device: dev.Object, MaxAPDU: uint32(maxAPDU.Unsigned),
		Segmentation: Segmentation(seg.Unsigned), VendorID: uint32(vendor.Unsigned)}, nil
}

// PropertyRef names one property of one object, optionally one array
// element (Index, or NoIndex).
type PropertyRef struct {
	Object   ObjectID
	Property PropertyID
	Index    uint32
}

func (p PropertyRef) String() string {
	s := p.Object.String() + "." + p.Property.String()
	if p.Index != NoIndex {
		s += fmt.Sprintf("[%d]", p.Index)
	}
	return s
}

// Ref is a PropertyRef for the whole property.
func Ref(o ObjectID, p PropertyID) PropertyRef {
	return PropertyRef{Object: o, Property: p, Index: NoIndex}
}

func appendPropIndex(b []byte, tag uint8, p PropertyID, idx uint32) []byte {
	b = AppendContextUnsigned(b, tag, uint64(p))
	if idx != NoIndex {
		b = AppendContextUnsigned(b, tag+1, uint64(idx))
	}
	return b
}

func decodePropIndex(r *Reader, tag uint8) (PropertyID, uint32, error) {
	p, err := r.ContextUnsigned(tag)
	if err != nil {
		return 0, 0, fmt.Errorf("property: %w", err)
	}
	if p > uint64(MaxPropertyID) {
		return 0, 0, fmt.Errorf("property %d: %w", p, ErrRange)
	}
	idx := NoIndex
	if r.Is(tag + 1) {
		i, err := r.ContextUnsigned(tag + 1)
		if err != nil {
			return 0, 0, fmt.Errorf("array index: %w", err)
		}
		switch {
		case i == uint64(NoIndex):
			// Some stacks (@bacnet-js/client in COV notifications) send
			// their "whole array" marker instead of leaving the index out.
		case i > uint64(NoIndex):
			return 0, 0, fmt.Errorf("array index %d: %w", i, ErrRange)
		default:
			idx = uint32(i)
		}
	}
	return PropertyID(p), idx, nil
}

// AppendReadProperty appends a ReadProperty request (15.5.1.1).
func AppendReadProperty(b []byte, p PropertyRef) ([]byte, error) {
	b, err := AppendContextObject(b, 0, p.Object)
	if err != nil {
		return b, fmt.Errorf("encode read-property: %w", err)
	}
	return appendPropIndex(b, 1, p.Property, p.Index), nil
}

// DecodeReadProperty decodes a ReadProperty request.
func DecodeReadProperty(b []byte) (PropertyRef, error) {
	r := NewReader(b)
	o, err := r.ContextObject(0)
	if err != nil {
		return PropertyRef{}, fmt.Errorf("decode read-property: object: %w", err)
	}
	p, idx, err := decodePropIndex(r, 1)
	if err != nil {
		return PropertyRef{}, fmt.Errorf("decode read-property: %w", err)
	}
	if r.Len() != 0 {
		return PropertyRef{}, fmt.Errorf("decode read-property: %w", ErrTrailing)
	}
	return PropertyRef{Object: o, Property: p, Index: idx}, nil
}

// PropertyValue is a property reference with its value (a ReadProperty
// ack, one element of a WriteProperty or COV notification).
type PropertyValue struct {
	PropertyRef
	Values []Value
	// Priority of a write or of a notified value, 0 when absent.
	Priority uint8
}

// AppendReadPropertyAck appends a ReadProperty-ACK (15.5.1.3).
func AppendReadPropertyAck(b []byte, v PropertyValue) ([]byte, error) {
	b, err := AppendReadProperty(b, v.PropertyRef)
	if err != nil {
		return b, err
	}
	b = AppendOpen(b, 3)
	if b, err = AppendValues(b, v.Values); err != nil {
		return b, fmt.Errorf("encode read-property-ack: %w", err)
	}
	return AppendClose(b, 3), nil
}

// DecodeReadPropertyAck decodes a ReadProperty-ACK.
func DecodeReadPropertyAck(b []byte) (PropertyValue, error) {
	r := NewReader(b)
	o, err := r.ContextObject(0)
	if err != nil {
		return PropertyValue{}, fmt.Errorf("decode read-property-ack: object: %w", err)
	}
	p, idx, err := decodePropIndex(r, 1)
	if err != nil {
		return PropertyValue{}, fmt.Errorf("decode read-property-ack: %w", err)
	}
	if err := r.Open(3); err != nil {
		return PropertyValue{}, fmt.Errorf("decode read-property-ack: %w", err)
	}
	vs, err := r.Values(3)
	if err != nil {
		return PropertyValue{}, fmt.Errorf("decode read-property-ack: %w", err)
	}
	if r.Len() != 0 {
		return PropertyValue{}, fmt.Errorf("decode read-property-ack: %w", ErrTrailing)
	}
	return PropertyValue{PropertyRef: PropertyRef{Object: o, Property: p, Index: idx}, Values: vs}, nil
}

// ReadAccessSpec is one object's part of a ReadPropertyMultiple request.
type ReadAccessSpec struct {
	Object     ObjectID
	Properties []PropertyRef // Object of each is ignored
}

// AppendRPM appends a ReadPropertyMultiple request (15.7.1.1).
func AppendRPM(b []byte, specs []ReadAccessSpec) ([]byte, error) {
	if len(specs) == 0 {
		return b, fmt.Errorf("encode read-property-multiple: no objects: %w", ErrRange)
	}
	var err error
	for _, s := range specs {
		if len(s.Properties) == 0 {
			return b, fmt.Errorf("encode read-property-multiple: %s without properties: %w", s.Object, ErrRange)
		}
		if b, err = AppendContextObject(b, 0, s.Object); err != nil {
			return b, fmt.Errorf("encode read-property-multiple: %w", err)
		}
		b = AppendOpen(b, 1)
		for _, p := range s.Properties {
			b = appendPropIndex(b, 0, p.Property, p.Index)
		}
		b = AppendClose(b, 1)
	}
	return b, nil
}

// DecodeRPM decodes a ReadPropertyMultiple request.
func DecodeRPM(b []byte) ([]ReadAccessSpec, error) {
	r := NewReader(b)
	var out []ReadAccessSpec
	for r.Len() > 0 {
		o, err := r.ContextObject(0)
		if err != nil {
			return nil, fmt.Errorf("decode read-property-multiple: object: %w", err)
		}
		if err := r.Open(1); err != nil {
			return nil, fmt.Errorf("decode read-property-multiple: %s: %w", o, err)
		}
		s := ReadAccessSpec{Object: o}
		for !r.IsClose(1) {
			p, idx, err := decodePropIndex(r, 0)
			if err != nil {
				return nil, fmt.Errorf("decode read-property-multiple: %s: %w", o, err)
			}
			s.Properties = append(s.Properties, PropertyRef{Object: o, Property: p, Index: idx})
		}
		if err := r.Close(1); err != nil {
			return nil, fmt.Errorf("decode read-property-multiple: %w", err)
		}
		if len(s.Properties) == 0 {
			return nil, fmt.Errorf("decode read-property-multiple: %s without properties: %w", o, ErrBadTag)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("decode read-property-multiple: empty: %w", ErrShort)
	}
	return out, nil
}

// PropertyError is the error of one property in a ReadPropertyMultiple
// ack, or of a whole confirmed request (an Error PDU).
type PropertyError struct {
	Class ErrorClass
	Code  ErrorCode
}

func (e *PropertyError) Error() string {
	return fmt.Sprintf("bacnet error %s: %s", e.Class, e.Code)
}

// ReadResult is one property's result in a ReadPropertyMultiple ack:
// Values, or Err when the device refused that property.
type ReadResult struct {
	PropertyRef
	Values []Value
	Err    *PropertyError
}

// AppendRPMAck appends a ReadPropertyMultiple-ACK (15.7.1.3); the results
// of one object must be consecutive.
func AppendRPMAck(b []byte, results []ReadResult) ([]byte, error) {
	var err error
	for i := 0; i < len(results); {
		o := results[i].Object
		if b, err = AppendContextObject(b, 0, o); err != nil {
			return b, fmt.Errorf("encode read-property-multiple-ack: %w", err)
		}
		b = AppendOpen(b, 1)
		for ; i < len(results) && results[i].Object == o; i++ {
			res := results[i]
			b = appendPropIndex(b, 2, res.Property, res.Index)
			if res.Err != nil {
				b = AppendOpen(b, 5)
				b, _ = AppendApp(b, Enumerated(uint64(res.Err.Class)))
				b, _ = AppendApp(b, Enumerated(uint64(res.Err.Code)))
				b = AppendClose(b, 5)
				continue
			}
			b = AppendOpen(b, 4)
			if b, err = AppendValues(b, res.Values); err != nil {
				return b, fmt.Errorf("encode read-property-multiple-ack: %s: %w", res.PropertyRef, err)
			}
			b = AppendClose(b, 4)
		}
		b = AppendClose(b, 1)
	}
	return b, nil
}

// DecodeRPMAck decodes a ReadPropertyMultiple-ACK.
func DecodeRPMAck(b []byte) ([]ReadResult, error) {
	r := NewReader(b)
	var out []ReadResult
	for r.Len() > 0 {
		o, err := r.ContextObject(0)
		if err != nil {
			return nil, fmt.Errorf("decode read-property-multiple-ack: object: %w", err)
		}
		if err := r.Open(1); err != nil {
			return nil, fmt.Errorf("decode read-property-multiple-ack: %s: %w", o, err)
		}
		for !r.IsClose(1) {
			p, idx, err := decodePropIndex(r, 2)
			if err != nil {
				return nil, fmt.Errorf("decode read-property-multiple-ack: %s: %w", o, err)
			}
			res := ReadResult{PropertyRef: PropertyRef{Object: o, Property: p, Index: idx}}
			switch {
			case r.Is(4):
				_ = r.Open(4)
				if res.Values, err = r.Values(4); err != nil {
					return nil, fmt.Errorf("decode read-property-multiple-ack: %s: %w", res.PropertyRef, err)
				}
			case r.Is(5):
				_ = r.Open(5)
				cls, err := r.AppOf(TypeEnumerated)
				if err != nil {
					return nil, fmt.Errorf("decode read-property-multiple-ack: %s: error class: %w", res.PropertyRef, err)
				}
				code, err := r.AppOf(TypeEnumerated)
				if err != nil {
					return nil, fmt.Errorf("decode read-property-multiple-ack: %s: error code: %w", res.PropertyRef, err)
				}
				if err := r.Close(5); err != nil {
					return nil, fmt.Errorf("decode read-property-multiple-ack: %s: %w", res.PropertyRef, err)
				}
				res.Err = &PropertyError{Class: ErrorClass(cls.Unsigned), Code: ErrorCode(code.Unsigned)}
			default:
				t, _ := r.Peek()
				return nil, fmt.Errorf("decode read-property-multiple-ack: %s: want [4] value or [5] error, have %s: %w", res.PropertyRef, t, ErrBadTag)
			}
			out = append(out, res)
		}
		if err := r.Close(1); err != nil {
			return nil, fmt.Errorf("decode read-property-multiple-ack: %w", err)
		}
	}
	return out, nil
}

// AppendWriteProperty appends a WriteProperty request (15.9.1.1). A
// Priority of 0 is left out (the device's default, 16).
func AppendWriteProperty(b []byte, w PropertyValue) ([]byte, error) {
	if w.Priority > 16 {
		return b, fmt.Errorf("encode write-property: priority %d is outside 1..16: %w", w.Priority, ErrRange)
	}
	b, err := AppendReadProperty(b, w.PropertyRef)
	if err != nil {
		return b, err
	}
	b = AppendOpen(b, 3)
	if b, err = AppendValues(b, w.Values); err != nil {
		return b, fmt.Errorf("encode write-property: %w", err)
	}
	b = AppendClose(b, 3)
	if w.Priority != 0 {
		b = AppendContextUnsigned(b, 4, uint64(w.Priority))
	}
	return b, nil
}

// DecodeWriteProperty decodes a WriteProperty request.
func DecodeWriteProperty(b []byte) (PropertyValue, error) {
	const what = "write-property"
	r := NewReader(b)
	o, err := r.ContextObject(0)
	if err != nil {
		return PropertyValue{}, fmt.Errorf("decode %s: object: %w", what, err)
	}
	p, idx, err := decodePropIndex(r, 1)
	if err != nil {
		return PropertyValue{}, fmt.Errorf("decode %s: %w", what, err)
	}
	if err := r.Open(3); err != nil {
		return PropertyValue{}, fmt.Errorf("decode %s: %w", what, err)
	}
	vs, err := r.Values(3)
	if err != nil {
		return PropertyValue{}, fmt.Errorf("decode %s: %w", what, err)
	}
	v := PropertyValue{PropertyRef: PropertyRef{Object: o, Property: p, Index: idx}, Values: vs}
	if r.Is(4) {
		pr, err := r.ContextUnsigned(4)
		if err != nil {
			return PropertyValue{}, fmt.Errorf("decode %s: priority: %w", what, err)
		}
		if pr < 1 || pr > 16 {
			return PropertyValue{}, fmt.Errorf("decode %s: priority %d is outside 1..16: %w", what, pr, ErrRange)
		}
		v.Priority = uint8(pr)
	}
	if r.Len() != 0 {
		return PropertyValue{}, fmt.Errorf("decode %s: %w", what, ErrTrailing)
	}
	return v, nil
}

// SubscribeCOV is a SubscribeCOV request (13.14.1). Cancel is encoded as
// the absence of both optional parameters.
type SubscribeCOV struct {
	ProcessID uint32
	Object    ObjectID
	Cancel    bool
	Confirmed bool
	// Lifetime in seconds; 0 is an indefinite subscription.
	Lifetime uint32
}

// AppendSubscribeCOV appends the request body.
func AppendSubscribeCOV(b []byte, s SubscribeCOV) ([]byte, error) {
	b = AppendContextUnsigned(b, 0, uint64(s.ProcessID))
	b, err := AppendContextObject(b, 1, s.Object)
	if err != nil {
		return b, fmt.Errorf("encode subscribe-cov: %w", err)
	}
	if s.Cancel {
		return b, nil
	}
	b, _ = AppendContext(b, 2, Bool(s.Confirmed))
	return AppendContextUnsigned(b, 3, uint64(s.Lifetime)), nil
}

// DecodeSubscribeCOV decodes the request body.
func DecodeSubscribeCOV(b []byte) (SubscribeCOV, error) {
	r := NewReader(b)
	pid, err := r.ContextUnsigned(0)
	if err != nil {
		return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: process id: %w", err)
	}
	if pid > 0xFFFFFFFF {
		return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: process id %d: %w", pid, ErrRange)
	}
	o, err := r.ContextObject(1)
	if err != nil {
		return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: object: %w", err)
	}
	s := SubscribeCOV{ProcessID: uint32(pid), Object: o, Cancel: true}
	if r.Is(2) {
		v, err := r.Context(2, TypeBoolean)
		if err != nil {
			return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: confirmed: %w", err)
		}
		s.Confirmed, s.Cancel = v.Bool, false
	}
	if r.Is(3) {
		lt, err := r.ContextUnsigned(3)
		if err != nil {
			return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: lifetime: %w", err)
		}
		if lt > 0xFFFFFFFF {
			return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: lifetime %d: %w", lt, ErrRange)
		}
		s.Lifetime, s.Cancel = uint32(lt), false
	}
	if r.Len() != 0 {
		return SubscribeCOV{}, fmt.Errorf("decode subscribe-cov: %w", ErrTrailing)
	}
	return s, nil
}

// COVNotification is the body of a Confirmed- or UnconfirmedCOVNotification
// (13.6, 13.7).
type COVNotification struct {
	ProcessID     uint32
	Device        ObjectID
	Object        ObjectID
	TimeRemaining uint32
	Values        []PropertyValue
}

// AppendCOVNotification appends the notification body.
func AppendCOVNotification(b []byte, n COVNotification) ([]byte, error) {
	b = AppendContextUnsigned(b, 0, uint64(n.ProcessID))
	b, err := AppendContextObject(b, 1, n.Device)
	if err != nil {
		return b, fmt.Errorf("encode cov-notification: %w", err)
	}
	if b, err = AppendContextObject(b, 2, n.Object); err != nil {
		return b, fmt.Errorf("encode cov-notification: %w", err)
	}
	b = AppendContextUnsigned(b, 3, uint64(n.TimeRemaining))
	b = AppendOpen(b, 4)
	for _, v := range n.Values {
		b = appendPropIndex(b, 0, v.Property, v.Index)
		b = AppendOpen(b, 2)
		if b, err = AppendValues(b, v.Values); err != nil {
			return b, fmt.Errorf("encode cov-notification: %s: %w", v.Property, err)
		}
		b = AppendClose(b, 2)
		if v.Priority != 0 {
			b = AppendContextUnsigned(b, 3, uint64(v.Priority))
		}
	}
	return AppendClose(b, 4), nil
}

// DecodeCOVNotification decodes the notification body.
func DecodeCOVNotification(b []byte) (COVNotification, error) {
	r := NewReader(b)
	var n COVNotification
	pid, err := r.ContextUnsigned(0)
	if err != nil || pid > 0xFFFFFFFF {
		return n, fmt.Errorf("decode cov-notification: process id: %w", errOr(err, ErrRange))
	}
	n.ProcessID = uint32(pid)
	if n.Device, err = r.ContextObject(1); err != nil {
		return n, fmt.Errorf("decode cov-notification: device: %w", err)
	}
	if n.Object, err = r.ContextObject(2); err != nil {
		return n, fmt.Errorf("decode cov-notification: object: %w", err)
	}
	tr, err := r.ContextUnsigned(3)
	if err != nil || tr > 0xFFFFFFFF {
		return n, fmt.Errorf("decode cov-notification: time remaining: %w", errOr(err, ErrRange))
	}
	n.TimeRemaining = uint32(tr)
	if err := r.Open(4); err != nil {
		return n, fmt.Errorf("decode cov-notification: %w", err)
	}
	for !r.IsClose(4) {
		p, idx, err := decodePropIndex(r, 0)
		if err != nil {
			return n, fmt.Errorf("decode cov-notification: %w", err)
		}
		if err := r.Open(2); err != nil {
			return n, fmt.Errorf("decode cov-notification: %s: %w", p, err)
		}
		vs, err := r.Values(2)
		if err != nil {
			return n, fmt.Errorf("decode cov-notification: %s: %w", p, err)
		}
		pv := PropertyValue{PropertyRef: PropertyRef{Object: n.Object, Property: p, Index: idx}, Values: vs}
		if r.Is(3) {
			pr, err := r.ContextUnsigned(3)
			if err != nil || pr < 1 || pr > 16 {
				return n, fmt.Errorf("decode cov-notification: %s: priority: %w", p, errOr(err, ErrRange))
			}
			pv.Priority = uint8(pr)
		}
		n.Values = append(n.Values, pv)
	}
	if err := r.Close(4); err != nil {
		return n, fmt.Errorf("decode cov-notification: %w", err)
	}
	if r.Len() != 0 {
		return n, fmt.Errorf("decode cov-notification: %w", ErrTrailing)
	}
	return n, nil
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
