package device

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// HeavyOp is an operation costly enough that the gateway bounds how many
// run at once: decoding a site file, scanning a bus, applying firmware.
type HeavyOp int

// Heavy operations.
const (
	OpDiff     HeavyOp = iota + 1 // config diff: decode a site file, encode both sides
	OpImport                      // config import: decode, validate and store a site file
	OpScan                        // a bus scan: long, mostly waiting on the bus
	OpFirmware                    // a firmware apply: streams the image, little memory
	OpProfile                     // a register-map import: parse and validate a CSV
	OpReport                      // a commissioning report: the site, live values and the audit range
)

var heavyOpNames = map[HeavyOp]string{OpDiff: "config diff", OpImport: "config import", OpScan: "bus scan", OpFirmware: "firmware apply",
	OpProfile: "profile import", OpReport: "commissioning report"}

// String names the operation as the console does.
func (o HeavyOp) String() string {
	if n, ok := heavyOpNames[o]; ok {
		return n
	}
	return fmt.Sprintf("HeavyOp(%d)", int(o))
}

// ParseHeavyOp reads a name written by String.
func ParseHeavyOp(s string) (HeavyOp, error) {
	for o, n := range heavyOpNames {
		if n == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("heavy operation %q: use config diff, config import, bus scan, firmware apply, profile import or commissioning report", s)
}

// Cost is how many of the limiter's slots op takes: importing the largest
// plausible site takes about 145 MiB of heap for a moment (about 180 MiB
// at MaxSiteNodes), so one of those runs at a time; a scan or a firmware
// apply costs little memory, so two run at once.
func (o HeavyOp) Cost() int {
	if o == OpDiff || o == OpImport {
		return 2
	}
	return 1
}

// Default bounds of a Limiter, sized for a gateway with two cores and a
// memory limit of 224 MiB.
const (
	DefaultHeavySlots   = 2 // one site-file operation, or two scans or firmware applies
	DefaultHeavyPerUser = 1 // operations one user may have running or waiting
	DefaultHeavyQueue   = 8 // callers that may wait for a slot at once
)

// ErrBusy means a heavy operation was refused because too many are
// running or waiting; the caller may try again later.
var ErrBusy = errors.New("too many heavy operations")

// BusyError is a refused heavy operation and why.
type BusyError struct {
	Op     HeavyOp
	Reason string
}

func (e *BusyError) Error() string { return fmt.Sprintf("%s refused: %s", e.Op, e.Reason) }

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// LimiterOptions bound a Limiter; zero fields take the defaults.
type LimiterOptions struct {
	Slots   int // total cost of the operations running at once
	PerUser int // operations one user may have running or waiting
	Queue   int // callers waiting for slots at once
}

// Limiter bounds heavy operations per user and in total. A user with an
// operation running or waiting is refused another at once (ErrBusy), so
// one user cannot fill the queue; the others wait for slots in arrival
// order, a large operation at the head holding back smaller ones behind it
// so that it is never starved. It is safe for concurrent use.
type Limiter struct {
	o       LimiterOptions
	mu      sync.Mutex
	used    int
	running int
	users   map[string]int
	queue   []*heavyWaiter
}

type heavyWaiter struct {
	cost  int
	ready chan struct{} // closed when the slots are granted
}

// NewLimiter returns a limiter with bounds o.
func NewLimiter(o LimiterOptions) *Limiter {
	if o.Slots <= 0 {
		o.Slots = DefaultHeavySlots
	}
	if o.PerUser <= 0 {
		o.PerUser = DefaultHeavyPerUser
	}
	if o.Queue <= 0 {
		o.Queue = DefaultHeavyQueue
	}
	return &Limiter{o: o, users: map[string]int{}}
}

// Acquire waits until op may run for user (an account id) and returns the
// function that ends it, which must be called exactly once (more calls do
// nothing). It refuses at once with a *BusyError when user already has
// PerUser operations running or waiting, or Queue callers are waiting; and
// it gives up when ctx ends, with ctx's error.
func (l *Limiter) Acquire(ctx context.Context, user string, op HeavyOp) (release func(), err error) {
	cost := min(op.Cost(), l.o.Slots)
	l.mu.Lock()
	if l.users[user] >= l.o.PerUser {
		l.mu.Unlock()
		return nil, &BusyError{Op: op, Reason: "another heavy operation of yours is still running; wait for it to finish"}
	}
	if len(l.queue) == 0 && l.used+cost <= l.o.Slots {
		l.users[user]++
		l.used += cost
		l.running++
		l.mu.Unlock()
		return l.releaser(user, cost), nil
	}
	if len(l.queue) >= l.o.Queue {
		l.mu.Unlock()
		return nil, &BusyError{Op: op, Reason: fmt.Sprintf("%d heavy operations are waiting already; try again in a moment", len(l.queue))}
	}
	w := &heavyWaiter{cost: cost, ready: make(chan struct{})}
	l.users[user]++
	l.queue = append(l.queue, w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return l.releaser(user, cost), nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-w.ready:
		// Granted while giving up: hand the slots on.
		l.finish(user, cost)
	default:
		for i, q := range l.queue {
			if q == w {
				l.queue = append(l.queue[:i], l.queue[i+1:]...)
				break
			}
		}
		l.drop(user)
		l.grant() // the head may have changed
	}
	return nil, fmt.Errorf("%s: waited for a free slot: %w", op, ctx.Err())
}

func (l *Limiter) releaser(user string, cost int) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.finish(user, cost)
		})
	}
}

// finish returns a running operation's slots and starts whoever can run.
func (l *Limiter) finish(user string, cost int) {
	l.used -= cost
	l.running--
	l.drop(user)
	l.grant()
}

func (l *Limiter) drop(user string) {
	if l.users[user]--; l.users[user] <= 0 {
		delete(l.users, user)
	}
}

// grant starts waiters in order while the head fits.
func (l *Limiter) grant() {
	for len(l.queue) > 0 && l.used+l.queue[0].cost <= l.o.Slots {
		w := l.queue[0]
		l.queue = l.queue[1:]
		l.used += w.cost
		l.running++
		close(w.ready)
	}
}

// LimiterStats are a limiter's figures.
type LimiterStats struct {
	Running int // operations running
	Waiting int // callers waiting
	Used    int // slots in use
	Slots   int // slots in all
}

// Stats returns the current figures.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LimiterStats{Running: l.running, Waiting: len(l.queue), Used: l.used, Slots: l.o.Slots}
}
