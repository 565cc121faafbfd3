package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
)

// endpoint owns one link (a TCP address or a serial line) with one
// goroutine: every request to any unit behind it goes through that
// goroutine, one at a time — a link has one unit id and one request in
// flight at a time, so serialising here is what makes sharing it correct.
// The same goroutine runs the poll cycles of the endpoint's devices: one
// timer for all of them, and a cycle's requests need no hand-over between
// goroutines. Devices of one interval are polled on the same grid of
// instants (multiples of the interval), back to back, so a bus wakes the
// gateway once per interval, not once per device.
type endpoint struct {
	key     string
	link    link
	log     *slog.Logger
	clock   clockwork.Clock
	pollers []*poller // set before run; each poller's next is the owner's
	jobs    chan *job
	quit    chan struct{}
	done    chan struct{}

	// Reconnection backoff after connection failures (owner goroutine only).
	backoff time.Duration
	retryAt time.Time
	lastErr error
}

// job is one request (or a short exchange) run on the owner goroutine.
type job struct {
	ctx     context.Context
	unit    byte
	timeout time.Duration
	fn      func(l link) error
	result  chan error // buffered: the owner never blocks on a caller that gave up
}

// errStopped means the endpoint was closed (topology change or shutdown).
var errStopped = errors.New("the bus was reconfigured or stopped")

const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// newEndpoint returns an endpoint for l; run serves it.
func newEndpoint(key string, l link, log *slog.Logger, clk clockwork.Clock) *endpoint {
	return &endpoint{key: key, link: l, log: log, clock: clk, jobs: make(chan *job), quit: make(chan struct{}), done: make(chan struct{})}
}

// run serves requests and polls the endpoint's devices until ctx ends or
// stop is called; it closes the link when it returns.
func (e *endpoint) run(ctx context.Context) {
	defer close(e.done)
	defer e.link.close()
	var tick <-chan time.Time
	var timer clockwork.Timer
	if len(e.pollers) > 0 {
		// The first cycles come at once: the installer sees values within
		// a second, and the devices are on their grid from the next one.
		now := e.clock.Now()
		for _, p := range e.pollers {
			p.next = now
		}
		timer = e.clock.NewTimer(0)
		defer timer.Stop()
		tick = timer.C()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.quit:
			return
		case j := <-e.jobs:
			j.result <- e.serve(j.ctx, j.unit, j.timeout, j.fn)
		case <-tick:
			timer.Reset(e.cycleDue(ctx))
		}
	}
}

// cycleDue runs the cycle of every device that is due, in site order,
// and returns the time until the next one is. Requests of the console
// waiting meanwhile are served between two devices' cycles.
func (e *endpoint) cycleDue(ctx context.Context) time.Duration {
	for _, p := range e.pollers {
		if ctx.Err() != nil {
			return 0
		}
		if e.clock.Now().Before(p.next) {
			continue
		}
		p.next = p.cycle(ctx)
		select {
		case j := <-e.jobs:
			j.result <- e.serve(j.ctx, j.unit, j.timeout, j.fn)
		default:
		}
	}
	next := e.pollers[0].next
	for _, p := range e.pollers[1:] {
		if p.next.Before(next) {
			next = p.next
		}
	}
	return max(next.Sub(e.clock.Now()), 0)
}

// serve runs fn on the link for unit; it is called on the owner goroutine
// only (run, or a cycle run by it).
func (e *endpoint) serve(ctx context.Context, unit byte, timeout time.Duration, fn func(l link) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wait := time.Until(e.retryAt); wait > 0 {
		return &RequestError{Kind: KindConnection, Err: fmt.Errorf("%v (retrying in %s)", e.lastErr, wait.Round(100*time.Millisecond))}
	}
	e.link.setUnit(unit)
	e.link.setTimeout(timeout)
	err := classify(fn(e.link))
	if err == nil {
		e.backoff = 0
		return nil
	}
	switch err.Kind {
	case KindException:
		// The device answered: the link is fine.
		e.backoff = 0
	case KindConnection:
		e.link.reset()
		e.backoff = min(max(e.backoff*2, minBackoff), maxBackoff)
		e.retryAt = time.Now().Add(e.backoff)
		e.lastErr = err.Err
		e.log.Warn("modbus connection failed", "endpoint", e.key, "err", err.Err, "retry_in", e.backoff.String())
	default:
		// Timeouts and malformed answers: a late or partial reply may
		// still arrive; drop the connection (TCP) or resynchronise the
		// line (RTU) so it is not taken as the next answer.
		e.link.reset()
	}
	return err
}

// do runs fn for unit on the owner goroutine and returns its classified
// error (a *RequestError), or the context's error. It is for callers on
// other goroutines (the console); a cycle calls serve.
func (e *endpoint) do(ctx context.Context, unit byte, timeout time.Duration, fn func(l link) error) error {
	j := &job{ctx: ctx, unit: unit, timeout: timeout, fn: fn, result: make(chan error, 1)}
	select {
	case e.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.quit:
		return errStopped
	}
	select {
	case err := <-j.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return errStopped
	}
}

// stop ends the owner goroutine and closes the link.
func (e *endpoint) stop() {
	close(e.quit)
	<-e.done
}
