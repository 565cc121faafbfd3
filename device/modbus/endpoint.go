package modbus

import (
	"context"
	"encoding/binary"
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
	// inFlight is how many requests a cycle burst may have outstanding on
	// a TCP connection (the bus's max_in_flight, 1..MaxInFlight).
	inFlight int
	jobs     chan *job
	quit     chan struct{}
	done     chan struct{}

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
	if tl, ok := e.link.(*tcpLink); ok && e.inFlight > 1 {
		e.prefetch(ctx, tl)
	}
	for _, p := range e.pollers {
		if ctx.Err() != nil {
			return 0
		}
		if e.clock.Now().Before(p.next) {
			continue
		}
		p.next = p.cycle(ctx)
		p.pre = nil
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

// prefetch sends the first planned read of every device that is due in
// batches of e.inFlight requests on the connection (the bus's
// max_in_flight), so that the cycles that run next find their first
// answer already there: a burst of devices costs a few writes and reads
// instead of a round trip each. A batch waits for each answer up to the
// longest timeout of its devices. Whatever the batch did not answer, the
// cycle asks again alone.
func (e *endpoint) prefetch(ctx context.Context, l *tcpLink) {
	now := e.clock.Now()
	batch := make([]*batchReq, 0, e.inFlight)
	var timeout time.Duration
	flush := func() {
		if len(batch) == 0 || ctx.Err() != nil || time.Now().Before(e.retryAt) {
			return
		}
		l.setTimeout(timeout)
		if err := l.exchangeBatch(batch); err != nil {
			_ = e.settle(classify(err))
		} else {
			e.backoff = 0
		}
		batch, timeout = batch[:0], 0
	}
	for _, p := range e.pollers {
		if now.Before(p.next) {
			continue
		}
		r, ok := p.firstRead()
		if !ok {
			continue
		}
		p.pre = &p.preReq
		p.pre.read, p.pre.sent = r, time.Now()
		p.pre.unit, p.pre.fc = p.unit, readFunction(r.Table)
		binary.BigEndian.PutUint16(p.pre.buf[0:], r.Address)
		binary.BigEndian.PutUint16(p.pre.buf[2:], r.Count)
		p.pre.data = p.pre.buf[:]
		p.pre.answered = false
		batch = append(batch, &p.pre.batchReq)
		timeout = max(timeout, p.timeout())
		if len(batch) == e.inFlight {
			flush()
		}
	}
	flush()
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
	return e.settle(classify(fn(e.link)))
}

// settle keeps the link in order after an exchange that ended with err
// (nil: a good one) and returns err.
func (e *endpoint) settle(err *RequestError) error {
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
