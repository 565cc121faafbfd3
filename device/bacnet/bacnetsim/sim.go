// Package bacnetsim is a simulated BACnet device on the gateway's own
// stack (package node's server): inputs whose values move, commandable
// objects with a priority array, COV, all on any data link. `sitegate
// sim bacnet`, the demo and the driver's tests use it.
//
// # Objects
//
// Defaults is an air-handling unit's controller: supply, return and
// outside air temperatures and a filter alarm that move, and a setpoint,
// a cooling valve, a supply fan and an operating mode to command. Spec
// builds any other analog, binary or multi-state object. Inputs move
// every Config.Step; commandable objects hold what the winning priority
// commands (the relinquish default when none); non-commandable values
// move like inputs until a client writes them.
//
// # Caveats
//
//   - Values move on a schedule, not with physics: a setpoint does not
//     pull the supply temperature.
//   - Only the properties package node serves (no event reporting, no
//     trend logs, no segmentation).
package bacnetsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// Defaults of a simulated device.
const (
	// DefaultStep is how often moving values move.
	DefaultStep = time.Second
	// DefaultPeriod is the period of a moving value's swing.
	DefaultPeriod = 2 * time.Minute
	// MaxObjects bounds a simulated device's objects.
	MaxObjects = node.MaxServedObjects
)

// Spec describes one simulated object.
type Spec struct {
	ID    stack.ObjectID
	Name  string
	Units stack.Units
	// States of a multi-state object.
	States []string
	// Commandable: a priority array; outputs always are, inputs never.
	Commandable bool
	// Base and Swing: a moving value swings Base ± Swing (binary: toggles,
	// multi-state: steps through its states).
	Base, Swing float64
	// Default is the relinquish default of a commandable object.
	Default float64
	// COVIncrement of an analog object (0: every change).
	COVIncrement float64
}

// Config configures a simulated device.
type Config struct {
	Instance uint32
	Name     string
	// Link is the data link it is reached on (node.NewBIP, mstp.New).
	Link node.DataLink
	// Objects (Defaults when nil).
	Objects []Spec
	// Step and Period: see the defaults.
	Step, Period time.Duration
	// Now is the clock the values move by (time.Now).
	Now func() time.Time
	// NoCOV: the device rejects SubscribeCOV, as many small controllers
	// do, and is polled.
	NoCOV bool
}

// Defaults are the objects of a simulated air-handling unit controller.
func Defaults() []Spec {
	degC, pct := stack.UnitsDegreesCelsius, stack.UnitsPercent
	return []Spec{
		{ID: oid(stack.ObjectAnalogInput, 1), Name: "supply-air-temp", Units: degC, Base: 16, Swing: 2, COVIncrement: 0.1},
		{ID: oid(stack.ObjectAnalogInput, 2), Name: "return-air-temp", Units: degC, Base: 22, Swing: 1, COVIncrement: 0.1},
		{ID: oid(stack.ObjectAnalogInput, 3), Name: "outside-air-temp", Units: degC, Base: 8, Swing: 5, COVIncrement: 0.2},
		{ID: oid(stack.ObjectBinaryInput, 1), Name: "filter-alarm", Swing: 1},
		{ID: oid(stack.ObjectAnalogValue, 1), Name: "supply-setpoint", Units: degC, Commandable: true, Default: 18},
		{ID: oid(stack.ObjectAnalogOutput, 1), Name: "cooling-valve", Units: pct, Commandable: true},
		{ID: oid(stack.ObjectBinaryOutput, 1), Name: "supply-fan", Commandable: true},
		{ID: oid(stack.ObjectMultiStateValue, 1), Name: "operating-mode", States: []string{"off", "heat", "cool", "auto"}, Commandable: true, Default: 4},
	}
}

func oid(t stack.ObjectType, i uint32) stack.ObjectID { return stack.ObjectID{Type: t, Instance: i} }

// SpecFor is a plain simulated object of the given identifier: a moving
// input or value, or a commandable one when commandable (outputs always).
func SpecFor(id stack.ObjectID, name string, commandable bool) Spec {
	s := Spec{ID: id, Name: name, Commandable: commandable}
	switch id.Type {
	case stack.ObjectAnalogInput, stack.ObjectAnalogOutput, stack.ObjectAnalogValue:
		s.Units, s.Base, s.Swing, s.COVIncrement = stack.UnitsDegreesCelsius, 20, 3, 0.1
		s.Default = 20
	case stack.ObjectBinaryInput, stack.ObjectBinaryOutput, stack.ObjectBinaryValue:
		s.Swing = 1
	case stack.ObjectMultiStateInput, stack.ObjectMultiStateOutput, stack.ObjectMultiStateValue:
		s.States, s.Swing, s.Default = []string{"off", "low", "high"}, 1, 1
	}
	switch id.Type {
	case stack.ObjectAnalogOutput, stack.ObjectBinaryOutput, stack.ObjectMultiStateOutput:
		s.Commandable = true
	case stack.ObjectAnalogInput, stack.ObjectBinaryInput, stack.ObjectMultiStateInput:
		s.Commandable = false
	}
	return s
}

// Device is a simulated BACnet device.
type Device struct {
	cfg     Config
	srv     *node.Server
	n       *node.Node
	objects []*object
	byID    map[stack.ObjectID]*object
	start   time.Time
}

// object is one simulated object and its Source.
type object struct {
	Spec
	phase float64 // of its swing, so that objects do not move in step

	mu      sync.Mutex
	value   float64
	fault   bool
	written bool // a client wrote a non-commandable value: it stops moving
}

func (o *object) Read(context.Context) (node.Reading, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return node.Reading{Value: o.value, Fault: o.fault}, nil
}

func (o *object) Write(_ context.Context, w node.WriteRequest) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.value, o.written = w.Effective, true
	return nil
}

// New builds the device; Run serves it.
func New(cfg Config) (*Device, error) {
	if cfg.Link == nil {
		return nil, fmt.Errorf("bacnetsim: no data link: %w", node.ErrConfig)
	}
	if cfg.Objects == nil {
		cfg.Objects = Defaults()
	}
	if len(cfg.Objects) > MaxObjects {
		return nil, fmt.Errorf("bacnetsim: %d objects, more than %d: %w", len(cfg.Objects), MaxObjects, node.ErrConfig)
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("sim-%d", cfg.Instance)
	}
	if cfg.Step <= 0 {
		cfg.Step = DefaultStep
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Device{cfg: cfg, byID: map[stack.ObjectID]*object{}, start: cfg.Now()}
	var objs []node.Object
	for i, s := range cfg.Objects {
		o := &object{Spec: s, phase: float64(i) * 0.7}
		o.value = o.at(0)
		if s.Commandable || isOutput(s.ID.Type) {
			o.value = s.Default
		}
		d.objects = append(d.objects, o)
		d.byID[s.ID] = o
		objs = append(objs, node.Object{ID: s.ID, Name: s.Name, Units: s.Units, States: s.States,
			Commandable: s.Commandable, RelinquishDefault: s.Default, COVIncrement: s.COVIncrement, Source: o})
	}
	var err error
	if d.srv, err = node.NewServer(node.ServerConfig{Instance: cfg.Instance, Name: cfg.Name, VendorName: "sitegate simulator",
		ModelName: "bacnetsim AHU controller", VendorID: 0, Objects: objs, COVInterval: cfg.Step, NoCOV: cfg.NoCOV}); err != nil {
		return nil, err
	}
	if d.n, err = node.New(node.Config{Link: cfg.Link, Server: d.srv}); err != nil {
		return nil, err
	}
	return d, nil
}

func isOutput(t stack.ObjectType) bool {
	return t == stack.ObjectAnalogOutput || t == stack.ObjectBinaryOutput || t == stack.ObjectMultiStateOutput
}

// at is where a moving object is t into its swing.
func (o *object) at(t time.Duration) float64 {
	return o.atFrac(t.Seconds())
}

func (o *object) atFrac(sec float64) float64 {
	const period = 120.0
	x := math.Sin(2*math.Pi*sec/period + o.phase)
	switch {
	case len(o.States) > 0:
		n := float64(len(o.States))
		return 1 + math.Mod(math.Floor((x+1)/2*n+0.5), n)
	case o.ID.Type == stack.ObjectBinaryInput || o.ID.Type == stack.ObjectBinaryOutput || o.ID.Type == stack.ObjectBinaryValue:
		if x > 0.9 {
			return 1
		}
		return 0
	}
	return math.Round((o.Base+o.Swing*x)*100) / 100
}

// Node returns the device's node (its counters, its I-Am table).
func (d *Device) Node() *node.Node { return d.n }

// Run serves the device and moves its values until ctx ends.
func (d *Device) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); d.move(ctx) }()
	err := d.n.Run(ctx)
	cancel()
	return err
}

func (d *Device) move(ctx context.Context) {
	t := time.NewTicker(d.cfg.Step)
	defer t.Stop()
	scale := DefaultPeriod.Seconds() / d.cfg.Period.Seconds()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sec := d.cfg.Now().Sub(d.start).Seconds() * scale
		for _, o := range d.objects {
			if o.Commandable || isOutput(o.ID.Type) {
				continue
			}
			o.mu.Lock()
			moved := false
			if !o.written {
				v := o.atFrac(sec)
				moved, o.value = v != o.value, v
			}
			o.mu.Unlock()
			if moved {
				d.srv.Changed(o.ID)
			}
		}
	}
}

// ErrNoObject means the device has no such object.
var ErrNoObject = errors.New("bacnetsim: no such object")

// Set sets an object's value (and fault flag) as the field would, and
// tells its COV subscribers: what tests change to see a reading move.
// The value stops moving by itself.
func (d *Device) Set(id stack.ObjectID, v float64, fault bool) error {
	o := d.byID[id]
	if o == nil {
		return fmt.Errorf("%s: %w", id, ErrNoObject)
	}
	o.mu.Lock()
	o.value, o.fault, o.written = v, fault, true
	o.mu.Unlock()
	d.srv.Changed(id)
	return nil
}

// Value returns an object's present value.
func (d *Device) Value(id stack.ObjectID) (float64, error) {
	o := d.byID[id]
	if o == nil {
		return 0, fmt.Errorf("%s: %w", id, ErrNoObject)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value, nil
}
