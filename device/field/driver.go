package field

import (
	"context"
	"errors"
)

// Driver is what every protocol driver implements.
type Driver interface {
	// Protocol names the protocol the driver speaks.
	Protocol() Protocol
	// Run runs the driver's part of the site until ctx ends, following
	// site changes without a restart, and reports each device cycle to its
	// Sink. It returns nil when ctx ends, an error only when it cannot run.
	Run(ctx context.Context) error
	// Read reads points of a device now (all of them when points is
	// empty), bypassing the schedule, and returns readings in point order.
	Read(ctx context.Context, device string, points []string) ([]Reading, error)
	// Write writes one value and returns once the device confirmed it.
	Write(ctx context.Context, w Write) error
}

// Discoverer is a Driver that can find devices.
type Discoverer interface {
	Discover(ctx context.Context, q Query, progress func(Progress)) ([]Found, error)
}

// Sink receives what a driver observes. Record may be called from many
// goroutines and does not block on slow consumers.
type Sink interface {
	// Record stores one device cycle: its status and the readings of the
	// cycle (latest values, live notification, telemetry). It keeps no
	// reference to readings: a driver may reuse the slice.
	Record(st Status, readings []Reading) error
}

// Errors of the field layer.
var (
	// ErrNoDevice means no device of the site has that name.
	ErrNoDevice = errors.New("no such device")
	// ErrNoPoint means the device has no point of that name.
	ErrNoPoint = errors.New("no such point")
	// ErrNoDriver means no driver runs for the device's protocol.
	ErrNoDriver = errors.New("no driver is running for this protocol")
	// ErrReadOnly means the point may not be written.
	ErrReadOnly = errors.New("point is read-only")
	// ErrNotSupported means the protocol cannot do what was asked.
	ErrNotSupported = errors.New("not supported by this protocol")
)
