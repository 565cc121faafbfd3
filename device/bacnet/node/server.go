package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// Server bounds and defaults.
const (
	// DefaultCOVInterval is how often subscribed objects are checked for
	// changes (Changed checks one at once).
	DefaultCOVInterval = time.Second
	// DefaultMaxCOVSubscriptions bounds the subscriptions the server keeps.
	DefaultMaxCOVSubscriptions = 256
	// MaxServedObjects bounds the objects one Device object serves.
	MaxServedObjects = 10000
	// maxNotifying bounds confirmed COV notifications awaiting their ack.
	maxNotifying = 8
	// ProtocolRevision is the BACnet protocol revision this server claims.
	ProtocolRevision = 14
)

// Source is what a served object reads and writes: the driver implements
// it over the gateway's readings and its audited field writes.
type Source interface {
	// Read returns the object's present value as it is now.
	Read(ctx context.Context) (Reading, error)
	// Write commands the object. It returns only when the field write is
	// done (or refused); a *stack.PropertyError is answered as it is, any
	// other error as device/operational-problem.
	Write(ctx context.Context, w WriteRequest) error
}

// Reading is a served object's present value.
type Reading struct {
	Value float64
	// Fault marks a value that is not good (stale, or the field device
	// does not answer): status-flags fault, reliability as below.
	Fault bool
	// Reliability when Fault; default unreliable-other.
	Reliability stack.Reliability
}

// WriteRequest is one write to a served object.
type WriteRequest struct {
	Object stack.ObjectID
	// From is the BACnet address of the writer, for the audit record.
	From Address
	// Priority 1..16 of a commandable object; 0 for one that is not.
	Priority uint8
	// Relinquish: the writer released Priority (wrote NULL).
	Relinquish bool
	// Value written (unless Relinquish).
	Value float64
	// Effective is what the field must now hold: the value at the highest
	// active priority, or the relinquish default when none is.
	Effective float64
	// Released: no priority is active any more (Effective is the
	// relinquish default), so the field's own command may be released.
	Released bool
}

// Object is one object the gateway serves.
type Object struct {
	// ID: an analog, binary or multi-state value, input or output. Inputs
	// are read-only; outputs are always commandable.
	ID          stack.ObjectID
	Name        string
	Description string
	// Units of an analog object.
	Units stack.Units
	// COVIncrement of an analog object: the change that is notified (0: any).
	COVIncrement float64
	// States of a multi-state object (state-text; number-of-states is its length).
	States []string
	// Writable: present-value may be written (without priorities).
	Writable bool
	// Commandable: present-value has a priority array and a relinquish
	// default (implies Writable).
	Commandable       bool
	RelinquishDefault float64
	Source            Source
}

// ServerConfig describes the gateway's own Device object.
type ServerConfig struct {
	Instance           uint32
	Name               string
	VendorName         string
	VendorID           uint32
	ModelName          string
	FirmwareRevision   string
	ApplicationVersion string
	Description        string
	Location           string
	Objects            []Object
	// COVInterval: see DefaultCOVInterval.
	COVInterval time.Duration
	// MaxCOVSubscriptions: see DefaultMaxCOVSubscriptions.
	MaxCOVSubscriptions int
	// NoCOV makes the server a device without SubscribeCOV, as many
	// small controllers are: it rejects the service as unrecognized.
	NoCOV bool
}

type served struct {
	Object
	fam  family
	mu   sync.Mutex
	prio [16]*float64
}

// family is what an object's present-value is: the value, input and
// output objects of one family share their encoding and properties.
type family uint8

const (
	famAnalog family = iota + 1
	famBinary
	famMulti
)

// familyOf returns the family of a servable object type, and whether it
// is an input (read-only) or an output (always commandable).
func familyOf(t stack.ObjectType) (f family, input, output bool) {
	switch t {
	case stack.ObjectAnalogInput:
		return famAnalog, true, false
	case stack.ObjectAnalogOutput:
		return famAnalog, false, true
	case stack.ObjectAnalogValue:
		return famAnalog, false, false
	case stack.ObjectBinaryInput:
		return famBinary, true, false
	case stack.ObjectBinaryOutput:
		return famBinary, false, true
	case stack.ObjectBinaryValue:
		return famBinary, false, false
	case stack.ObjectMultiStateInput:
		return famMulti, true, false
	case stack.ObjectMultiStateOutput:
		return famMulti, false, true
	case stack.ObjectMultiStateValue:
		return famMulti, false, false
	}
	return 0, false, false
}

// objectSet is what a server serves; SetObjects replaces it whole.
type objectSet struct {
	byID  map[stack.ObjectID]*served
	order []stack.ObjectID
	types []int // object types served, for protocol-object-types-supported
}

type covKey struct {
	sub    Address
	pid    uint32
	object stack.ObjectID
}

type covSub struct {
	confirmed bool
	expires   time.Time // zero: indefinite
	sent      bool
	value     float64
	flags     stack.StatusFlags
}

// Server is the gateway's own Device object and the objects it serves.
type Server struct {
	cfg     ServerConfig
	device  stack.ObjectID
	set     atomic.Pointer[objectSet]
	dbRev   atomic.Uint32 // database-revision: counts SetObjects
	setMu   sync.Mutex    // serialises SetObjects
	n       *Node
	changed chan stack.ObjectID

	mu        sync.Mutex
	subs      map[covKey]*covSub
	inflight  map[txnKey]struct{}
	notifying chan struct{}
}

// NewServer checks cfg and returns the server; pass it in Config.Server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Instance >= stack.MaxInstance {
		return nil, fmt.Errorf("bacnet server: device instance %d is outside 0..%d: %w", cfg.Instance, stack.MaxInstance-1, ErrConfig)
	}
	if cfg.Name == "" {
		return nil, fmt.Errorf("bacnet server: device needs a name: %w", ErrConfig)
	}
	if cfg.COVInterval <= 0 {
		cfg.COVInterval = DefaultCOVInterval
	}
	if cfg.MaxCOVSubscriptions <= 0 {
		cfg.MaxCOVSubscriptions = DefaultMaxCOVSubscriptions
	}
	for _, def := range []*string{&cfg.VendorName, &cfg.ModelName, &cfg.FirmwareRevision, &cfg.ApplicationVersion} {
		if *def == "" {
			*def = "sitegate"
		}
	}
	s := &Server{cfg: cfg, device: stack.ObjectID{Type: stack.ObjectDevice, Instance: cfg.Instance},
		changed: make(chan stack.ObjectID, 64),
		subs:    make(map[covKey]*covSub), inflight: make(map[txnKey]struct{}), notifying: make(chan struct{}, maxNotifying)}
	set, err := s.build(cfg.Objects, nil)
	if err != nil {
		return nil, err
	}
	s.set.Store(set)
	s.dbRev.Store(1)
	s.cfg.Objects = nil // the set holds them
	return s, nil
}

// build checks objects and makes the set that serves them. Objects that
// old serves under the same identifier keep their priority array.
func (s *Server) build(objects []Object, old *objectSet) (*objectSet, error) {
	if len(objects) > MaxServedObjects {
		return nil, fmt.Errorf("bacnet server: %d objects, more than %d: %w", len(objects), MaxServedObjects, ErrConfig)
	}
	set := &objectSet{byID: make(map[stack.ObjectID]*served, len(objects)), order: make([]stack.ObjectID, 0, len(objects))}
	names := map[string]bool{s.cfg.Name: true}
	types := map[int]bool{int(stack.ObjectDevice): true}
	for _, o := range objects {
		fam, input, output := familyOf(o.ID.Type)
		switch {
		case fam == 0:
			return nil, fmt.Errorf("bacnet server: %s: only analog, binary and multi-state values, inputs and outputs are served: %w", o.ID, ErrConfig)
		case o.ID.Instance >= stack.MaxInstance:
			return nil, fmt.Errorf("bacnet server: %s: instance outside 0..%d: %w", o.ID, stack.MaxInstance-1, ErrConfig)
		case set.byID[o.ID] != nil:
			return nil, fmt.Errorf("bacnet server: %s served twice: %w", o.ID, ErrConfig)
		case o.Name == "" || names[o.Name]:
			return nil, fmt.Errorf("bacnet server: %s: object names must be set and unique (%q): %w", o.ID, o.Name, ErrConfig)
		case o.Source == nil:
			return nil, fmt.Errorf("bacnet server: %s has no source: %w", o.ID, ErrConfig)
		case fam == famMulti && len(o.States) == 0:
			return nil, fmt.Errorf("bacnet server: %s needs its states: %w", o.ID, ErrConfig)
		case input && (o.Writable || o.Commandable):
			return nil, fmt.Errorf("bacnet server: %s is an input, which is read-only: %w", o.ID, ErrConfig)
		}
		if output {
			o.Commandable = true
		}
		if o.Commandable {
			o.Writable = true
		}
		names[o.Name] = true
		types[int(o.ID.Type)] = true
		obj := &served{Object: o, fam: fam}
		if old != nil {
			if prev := old.byID[o.ID]; prev != nil && prev.Commandable && o.Commandable {
				prev.mu.Lock()
				obj.prio = prev.prio
				prev.mu.Unlock()
			}
		}
		set.byID[o.ID] = obj
		set.order = append(set.order, o.ID)
	}
	for t := range types {
		set.types = append(set.types, t)
	}
	return set, nil
}

// SetObjects replaces the served objects while the server runs: objects
// kept under the same identifier keep their priority arrays, the COV
// subscriptions of objects no longer served end, and database-revision
// counts the change (clause 12.11.35) so that clients read the
// object-list again.
func (s *Server) SetObjects(objects []Object) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	set, err := s.build(objects, s.set.Load())
	if err != nil {
		return err
	}
	s.set.Store(set)
	s.dbRev.Add(1)
	s.mu.Lock()
	for k := range s.subs {
		if set.byID[k.object] == nil {
			delete(s.subs, k)
		}
	}
	s.mu.Unlock()
	return nil
}

// object returns a served object, or nil.
func (s *Server) object(id stack.ObjectID) *served { return s.set.Load().byID[id] }

func (s *Server) attach(n *Node) error {
	if s.n != nil && s.n != n {
		return fmt.Errorf("bacnet server already belongs to another node: %w", ErrConfig)
	}
	s.n = n
	return nil
}

// Changed tells the server that obj's value may have changed, so its COV
// subscribers hear of it now rather than at the next COVInterval. It never
// blocks.
func (s *Server) Changed(obj stack.ObjectID) {
	select {
	case s.changed <- obj:
	default:
	}
}

func (s *Server) iam() []byte {
	body, _ := stack.AppendIAm(nil, stack.IAm{Device: s.device, MaxAPDU: uint32(s.n.link.MaxAPDU()),
		Segmentation: stack.NoSegmentation, VendorID: s.cfg.VendorID})
	b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUUnconfirmedRequest, Service: uint8(stack.ServiceIAm), Payload: body})
	return b
}

// announce broadcasts I-Am once at start, where the link can broadcast.
func (s *Server) announce() { _ = s.n.sendAPDU(Address{}, false, s.iam()) }

// whoIs answers a Who-Is that includes this device. The I-Am goes back to
// the asker (through its router if any) rather than to a broadcast, which
// reaches it on every network and stays quiet for everyone else.
func (s *Server) whoIs(from Address, w stack.WhoIs) {
	if w.Matches(s.cfg.Instance) {
		_ = s.n.sendAPDU(from, false, s.iam())
	}
}

// serve answers one confirmed request.
func (s *Server) serve(ctx context.Context, from Address, a stack.APDU) {
	n := s.n
	key := txnKey{from, a.InvokeID}
	s.mu.Lock()
	if _, dup := s.inflight[key]; dup {
		// A retry of a request still being served (a slow field write):
		// answering once is enough, and writing twice is wrong.
		s.mu.Unlock()
		return
	}
	s.inflight[key] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, key)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.APDUTimeout)
	defer cancel()
	n.c.served.Add(1)
	limit := min(stack.DecodeMaxAPDU(a.MaxAPDU), n.link.MaxAPDU())
	svc := stack.ConfirmedService(a.Service)
	ack := func(body []byte) {
		b, _ := stack.AppendAPDU(make([]byte, 0, len(body)+3), stack.APDU{Type: stack.PDUComplexAck, InvokeID: a.InvokeID, Service: a.Service, Payload: body})
		if len(b) > limit {
			// No segmented answers from this server: clause 5.4.5.2 has
			// it abort, and a client reads the array element by element.
			n.abort(from, a.InvokeID, stack.AbortSegmentationNotSupported)
			return
		}
		_ = n.sendAPDU(from, false, b)
	}
	fail := func(err error) {
		var pe *stack.PropertyError
		if errors.As(err, &pe) {
			n.errorPDU(from, a.InvokeID, a.Service, pe.Class, pe.Code)
			return
		}
		n.errorPDU(from, a.InvokeID, a.Service, stack.ErrorClassDevice, stack.ErrorCodeOperationalProblem)
	}
	switch svc {
	case stack.ServiceReadProperty:
		ref, err := stack.DecodeReadProperty(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			n.reject(from, a.InvokeID, rejectFor(err))
			return
		}
		vs, err := s.read(ctx, ref)
		if err != nil {
			fail(err)
			return
		}
		body, err := stack.AppendReadPropertyAck(nil, stack.PropertyValue{PropertyRef: ref, Values: vs})
		if err != nil {
			fail(err)
			return
		}
		ack(body)
	case stack.ServiceReadPropertyMultiple:
		specs, err := stack.DecodeRPM(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			n.reject(from, a.InvokeID, rejectFor(err))
			return
		}
		var res []stack.ReadResult
		for _, sp := range specs {
			for _, p := range sp.Properties {
				res = append(res, s.readMultiple(ctx, p)...)
				if len(res) > limit {
					// Each result takes at least a few octets: this answer
					// cannot fit, whatever it holds.
					n.abort(from, a.InvokeID, stack.AbortSegmentationNotSupported)
					return
				}
			}
		}
		body, err := stack.AppendRPMAck(nil, res)
		if err != nil {
			fail(err)
			return
		}
		ack(body)
	case stack.ServiceWriteProperty:
		w, err := stack.DecodeWriteProperty(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			n.reject(from, a.InvokeID, rejectFor(err))
			return
		}
		if err := s.write(ctx, from, w); err != nil {
			fail(err)
			return
		}
		n.simpleAck(from, a.InvokeID, a.Service)
	case stack.ServiceSubscribeCOV:
		if s.cfg.NoCOV {
			n.reject(from, a.InvokeID, stack.RejectUnrecognizedService)
			return
		}
		sub, err := stack.DecodeSubscribeCOV(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			n.reject(from, a.InvokeID, rejectFor(err))
			return
		}
		if err := s.subscribe(from, sub); err != nil {
			fail(err)
			return
		}
		n.simpleAck(from, a.InvokeID, a.Service)
		if !sub.Cancel {
			// Clause 13.14.2: a new subscription gets the current value at once.
			s.Changed(sub.Object)
		}
	default:
		n.reject(from, a.InvokeID, stack.RejectUnrecognizedService)
	}
}

// rejectFor picks the reject reason for a request that did not decode.
func rejectFor(err error) stack.RejectReason {
	switch {
	case errors.Is(err, stack.ErrShort):
		return stack.RejectMissingRequiredParameter
	case errors.Is(err, stack.ErrRange):
		return stack.RejectParameterOutOfRange
	case errors.Is(err, stack.ErrTrailing):
		return stack.RejectTooManyArguments
	}
	return stack.RejectInvalidTag
}

func perr(c stack.ErrorClass, code stack.ErrorCode) error {
	return &stack.PropertyError{Class: c, Code: code}
}

var (
	errUnknownObject   = perr(stack.ErrorClassObject, stack.ErrorCodeUnknownObject)
	errUnknownProperty = perr(stack.ErrorClassProperty, stack.ErrorCodeUnknownProperty)
	errNotArray        = perr(stack.ErrorClassProperty, stack.ErrorCodePropertyIsNotAnArray)
	errBadIndex        = perr(stack.ErrorClassProperty, stack.ErrorCodeInvalidArrayIndex)
	errWriteDenied     = perr(stack.ErrorClassProperty, stack.ErrorCodeWriteAccessDenied)
	errBadType         = perr(stack.ErrorClassProperty, stack.ErrorCodeInvalidDataType)
	errOutOfRange      = perr(stack.ErrorClassProperty, stack.ErrorCodeValueOutOfRange)
)

// readMultiple expands all/required/optional (clause 15.7.3.1.2) and reads.
func (s *Server) readMultiple(ctx context.Context, p stack.PropertyRef) []stack.ReadResult {
	switch p.Property {
	case stack.PropAll, stack.PropRequired, stack.PropOptional:
		props, err := s.propertyList(p.Object)
		if err != nil {
			return []stack.ReadResult{{PropertyRef: p, Err: asPropErr(err)}}
		}
		var out []stack.ReadResult
		for _, q := range props {
			if p.Property == stack.PropOptional {
				continue // every property served here is one the standard requires
			}
			r := stack.Ref(p.Object, q)
			vs, err := s.read(ctx, r)
			out = append(out, stack.ReadResult{PropertyRef: r, Values: vs, Err: asPropErr(err)})
		}
		return out
	}
	vs, err := s.read(ctx, p)
	return []stack.ReadResult{{PropertyRef: p, Values: vs, Err: asPropErr(err)}}
}

func asPropErr(err error) *stack.PropertyError {
	if err == nil {
		return nil
	}
	var pe *stack.PropertyError
	if errors.As(err, &pe) {
		return pe
	}
	return &stack.PropertyError{Class: stack.ErrorClassDevice, Code: stack.ErrorCodeOperationalProblem}
}

var deviceProps = []stack.PropertyID{stack.PropObjectIdentifier, stack.PropObjectName, stack.PropObjectType,
	stack.PropSystemStatus, stack.PropVendorName, stack.PropVendorIdentifier, stack.PropModelName,
	stack.PropFirmwareRevision, stack.PropApplicationSoftwareVer, stack.PropProtocolVersion,
	stack.PropProtocolRevision, stack.PropProtocolServicesSupported, stack.PropProtocolObjectTypesSupp,
	stack.PropObjectList, stack.PropMaxAPDULengthAccepted, stack.PropSegmentationSupported,
	stack.PropAPDUTimeout, stack.PropNumberOfAPDURetries, stack.PropDeviceAddressBinding,
	stack.PropDatabaseRevision, stack.PropPropertyList}

// propertyList is every property an object has, property-list included.
func (s *Server) propertyList(o stack.ObjectID) ([]stack.PropertyID, error) {
	if o == s.device {
		props := deviceProps
		if s.cfg.Description != "" {
			props = append(props[:len(props):len(props)], stack.PropDescription)
		}
		if s.cfg.Location != "" {
			props = append(props[:len(props):len(props)], 58)
		}
		return props, nil
	}
	obj := s.object(o)
	if obj == nil {
		return nil, errUnknownObject
	}
	props := []stack.PropertyID{stack.PropObjectIdentifier, stack.PropObjectName, stack.PropObjectType,
		stack.PropPresentValue, stack.PropStatusFlags, stack.PropEventState, stack.PropOutOfService,
		stack.PropReliability, stack.PropPropertyList}
	switch obj.fam {
	case famAnalog:
		props = append(props, stack.PropUnits, stack.PropCOVIncrement)
	case famMulti:
		props = append(props, stack.PropNumberOfStates, stack.PropStateText)
	}
	if obj.Commandable {
		props = append(props, stack.PropPriorityArray, stack.PropRelinquishDefault)
	}
	if obj.Description != "" {
		props = append(props, stack.PropDescription)
	}
	return props, nil
}

// propertyListValue is the property-list array: every property but the
// three every object has and property-list itself (clause 12.1.1.4.1).
func (s *Server) propertyListValue(ref stack.PropertyRef) ([]stack.Value, error) {
	props, err := s.propertyList(ref.Object)
	if err != nil {
		return nil, err
	}
	var vs []stack.Value
	for _, p := range props {
		switch p {
		case stack.PropObjectIdentifier, stack.PropObjectName, stack.PropObjectType, stack.PropPropertyList:
		default:
			vs = append(vs, stack.Enumerated(uint64(p)))
		}
	}
	return array(ref, vs)
}

// array answers an array property: index 0 is the length (clause 12.1.5).
func array(ref stack.PropertyRef, elems []stack.Value) ([]stack.Value, error) {
	switch {
	case ref.Index == stack.NoIndex:
		return elems, nil
	case ref.Index == 0:
		return []stack.Value{stack.Unsigned(uint64(len(elems)))}, nil
	case int(ref.Index) > len(elems):
		return nil, errBadIndex
	}
	return elems[ref.Index-1 : ref.Index], nil
}

func scalar(ref stack.PropertyRef, v stack.Value) ([]stack.Value, error) {
	if ref.Index != stack.NoIndex {
		return nil, errNotArray
	}
	return []stack.Value{v}, nil
}

func (s *Server) read(ctx context.Context, ref stack.PropertyRef) ([]stack.Value, error) {
	if ref.Object.Type == stack.ObjectDevice && ref.Object.Instance == stack.MaxInstance {
		// 4194303 is "this device" for a client that does not know our instance (12.11.1).
		ref.Object = s.device
	}
	if ref.Object == s.device {
		return s.readDevice(ref)
	}
	obj := s.object(ref.Object)
	if obj == nil {
		return nil, errUnknownObject
	}
	switch ref.Property {
	case stack.PropObjectIdentifier:
		return scalar(ref, stack.ObjectValue(obj.ID))
	case stack.PropObjectName:
		return scalar(ref, stack.CharString(obj.Name))
	case stack.PropObjectType:
		return scalar(ref, stack.Enumerated(uint64(obj.ID.Type)))
	case stack.PropDescription:
		if obj.Description != "" {
			return scalar(ref, stack.CharString(obj.Description))
		}
	case stack.PropPropertyList:
		return s.propertyListValue(ref)
	case stack.PropPresentValue:
		r, _ := s.reading(ctx, obj)
		return scalar(ref, obj.encode(r.Value))
	case stack.PropStatusFlags:
		r, _ := s.reading(ctx, obj)
		return scalar(ref, stack.Bits(stack.StatusFlags{Fault: r.Fault}.BitString()))
	case stack.PropReliability:
		r, _ := s.reading(ctx, obj)
		return scalar(ref, stack.Enumerated(uint64(r.Reliability)))
	case stack.PropEventState:
		return scalar(ref, stack.Enumerated(uint64(stack.EventNormal)))
	case stack.PropOutOfService:
		return scalar(ref, stack.Bool(false))
	case stack.PropUnits:
		if obj.fam == famAnalog {
			return scalar(ref, stack.Enumerated(uint64(obj.Units)))
		}
	case stack.PropCOVIncrement:
		if obj.fam == famAnalog {
			return scalar(ref, stack.Real(float32(obj.COVIncrement)))
		}
	case stack.PropNumberOfStates:
		if obj.fam == famMulti {
			return scalar(ref, stack.Unsigned(uint64(len(obj.States))))
		}
	case stack.PropStateText:
		if obj.fam == famMulti {
			vs := make([]stack.Value, len(obj.States))
			for i, st := range obj.States {
				vs[i] = stack.CharString(st)
			}
			return array(ref, vs)
		}
	case stack.PropPriorityArray:
		if obj.Commandable {
			obj.mu.Lock()
			vs := make([]stack.Value, 16)
			for i, p := range obj.prio {
				if p == nil {
					vs[i] = stack.Null()
				} else {
					vs[i] = obj.encode(*p)
				}
			}
			obj.mu.Unlock()
			return array(ref, vs)
		}
	case stack.PropRelinquishDefault:
		if obj.Commandable {
			return scalar(ref, obj.encode(obj.RelinquishDefault))
		}
	}
	return nil, errUnknownProperty
}

// reading asks the source, turning its failure into a faulty reading.
func (s *Server) reading(ctx context.Context, obj *served) (Reading, error) {
	r, err := obj.Source.Read(ctx)
	if err != nil {
		return Reading{Fault: true, Reliability: stack.CommunicationFailure}, err
	}
	if !r.Fault {
		r.Reliability = stack.NoFaultDetected
	} else if r.Reliability == stack.NoFaultDetected {
		r.Reliability = stack.UnreliableOther
	}
	return r, nil
}

// encode is v in the present-value type of the object.
func (o *served) encode(v float64) stack.Value {
	switch o.fam {
	case famBinary:
		if v != 0 {
			return stack.Enumerated(1)
		}
		return stack.Enumerated(0)
	case famMulti:
		if v < 1 || math.IsNaN(v) {
			return stack.Unsigned(1)
		}
		return stack.Unsigned(uint64(math.Round(v)))
	}
	return stack.Real(float32(v))
}

// decode is the float64 of a written value, checked against the object's
// present-value type (clause 15.9.1.3.1: invalid-data-type, value-out-of-range).
func (o *served) decode(v stack.Value) (float64, error) {
	switch o.fam {
	case famBinary:
		if v.Type == stack.TypeEnumerated || v.Type == stack.TypeBoolean {
			f, _ := v.Float()
			if f > 1 {
				return 0, errOutOfRange
			}
			return f, nil
		}
	case famMulti:
		if v.Type == stack.TypeUnsigned {
			if v.Unsigned < 1 || v.Unsigned > uint64(len(o.States)) {
				return 0, errOutOfRange
			}
			return float64(v.Unsigned), nil
		}
	default:
		switch v.Type {
		case stack.TypeReal, stack.TypeDouble, stack.TypeUnsigned, stack.TypeSigned:
			f, _ := v.Float()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, errOutOfRange
			}
			return f, nil
		}
	}
	return 0, errBadType
}

func (s *Server) readDevice(ref stack.PropertyRef) ([]stack.Value, error) {
	n := s.n
	switch ref.Property {
	case stack.PropObjectIdentifier:
		return scalar(ref, stack.ObjectValue(s.device))
	case stack.PropObjectName:
		return scalar(ref, stack.CharString(s.cfg.Name))
	case stack.PropObjectType:
		return scalar(ref, stack.Enumerated(uint64(stack.ObjectDevice)))
	case stack.PropSystemStatus:
		return scalar(ref, stack.Enumerated(uint64(stack.StatusOperational)))
	case stack.PropVendorName:
		return scalar(ref, stack.CharString(s.cfg.VendorName))
	case stack.PropVendorIdentifier:
		return scalar(ref, stack.Unsigned(uint64(s.cfg.VendorID)))
	case stack.PropModelName:
		return scalar(ref, stack.CharString(s.cfg.ModelName))
	case stack.PropFirmwareRevision:
		return scalar(ref, stack.CharString(s.cfg.FirmwareRevision))
	case stack.PropApplicationSoftwareVer:
		return scalar(ref, stack.CharString(s.cfg.ApplicationVersion))
	case stack.PropDescription:
		if s.cfg.Description != "" {
			return scalar(ref, stack.CharString(s.cfg.Description))
		}
	case 58: // location
		if s.cfg.Location != "" {
			return scalar(ref, stack.CharString(s.cfg.Location))
		}
	case stack.PropProtocolVersion:
		return scalar(ref, stack.Unsigned(1))
	case stack.PropProtocolRevision:
		return scalar(ref, stack.Unsigned(ProtocolRevision))
	case stack.PropProtocolServicesSupported:
		// Bit positions of BACnetServicesSupported (clause 21): what this
		// node executes (answers) as a server and as a COV client.
		services := []int{1, 5, 12, 14, 15, 26, 28, 34}
		if s.cfg.NoCOV {
			services = []int{1, 12, 14, 15, 26, 28, 34}
		}
		return scalar(ref, stack.Bits(stack.NewBitString(41, services...)))
	case stack.PropProtocolObjectTypesSupp:
		return scalar(ref, stack.Bits(stack.NewBitString(55, s.set.Load().types...)))
	case stack.PropObjectList:
		set := s.set.Load()
		vs := make([]stack.Value, 0, len(set.order)+1)
		vs = append(vs, stack.ObjectValue(s.device))
		for _, o := range set.order {
			vs = append(vs, stack.ObjectValue(o))
		}
		return array(ref, vs)
	case stack.PropPropertyList:
		return s.propertyListValue(ref)
	case stack.PropMaxAPDULengthAccepted:
		return scalar(ref, stack.Unsigned(uint64(n.link.MaxAPDU())))
	case stack.PropSegmentationSupported:
		return scalar(ref, stack.Enumerated(uint64(stack.NoSegmentation)))
	case stack.PropAPDUTimeout:
		return scalar(ref, stack.Unsigned(uint64(n.cfg.APDUTimeout/time.Millisecond)))
	case stack.PropNumberOfAPDURetries:
		return scalar(ref, stack.Unsigned(uint64(n.cfg.Retries)))
	case stack.PropDeviceAddressBinding:
		// This server initiates requests only to its COV subscribers,
		// whose addresses come with their requests: no static bindings.
		return nil, nil
	case stack.PropDatabaseRevision:
		return scalar(ref, stack.Unsigned(uint64(s.dbRev.Load())))
	}
	return nil, errUnknownProperty
}

// write handles a WriteProperty: only present-value of a writable served
// object; a commandable one through its priority array.
func (s *Server) write(ctx context.Context, from Address, w stack.PropertyValue) error {
	if w.Object == s.device {
		return errWriteDenied
	}
	obj := s.object(w.Object)
	if obj == nil {
		return errUnknownObject
	}
	props, _ := s.propertyList(w.Object)
	known := false
	for _, p := range props {
		known = known || p == w.Property
	}
	if !known {
		return errUnknownProperty
	}
	if w.Property != stack.PropPresentValue || !obj.Writable {
		return errWriteDenied
	}
	if w.Index != stack.NoIndex {
		return errNotArray
	}
	if len(w.Values) != 1 {
		return errBadType
	}
	req := WriteRequest{Object: obj.ID, From: from}
	if w.Values[0].Type == stack.TypeNull {
		if !obj.Commandable {
			return errBadType
		}
		req.Relinquish = true
	} else {
		v, err := obj.decode(w.Values[0])
		if err != nil {
			return err
		}
		req.Value = v
	}
	if !obj.Commandable {
		req.Effective = req.Value
		return obj.Source.Write(ctx, req)
	}
	req.Priority = w.Priority
	if req.Priority == 0 {
		req.Priority = 16 // clause 19.2.2: a write without priority is at 16
	}
	// The array changes only once the field write succeeded, so a read of
	// priority-array never shows a command the field refused. Writes to
	// one object are serialised by obj.mu for that reason.
	obj.mu.Lock()
	defer obj.mu.Unlock()
	next := obj.prio
	if req.Relinquish {
		next[req.Priority-1] = nil
	} else {
		v := req.Value
		next[req.Priority-1] = &v
	}
	req.Effective, req.Released = obj.RelinquishDefault, true
	for _, p := range next {
		if p != nil {
			req.Effective, req.Released = *p, false
			break
		}
	}
	if err := obj.Source.Write(ctx, req); err != nil {
		return err
	}
	obj.prio = next
	s.Changed(obj.ID)
	return nil
}
