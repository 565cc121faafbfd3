package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// endpoint owns one link (a TCP address or a serial line) with one
// goroutine: every request to any unit behind it goes through that
// goroutine, one at a time. goburrow's handlers take one unit id at a time
// and its RTU transport is not safe for concurrent use, so serialising here
// is what makes sharing them correct.
type endpoint struct {
	key  string
	link link
	log  *slog.Logger
	jobs chan *job
	quit chan struct{}
	done chan struct{}

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

func newEndpoint(key string, l link, log *slog.Logger) *endpoint {
	e := &endpoint{key: key, link: l, log: log, jobs: make(chan *job), quit: make(chan struct{}), done: make(chan struct{})}
	go e.run()
	return e
}

func (e *endpoint) run() {
	defer close(e.done)
	defer e.link.close()
	for {
		select {
		case <-e.quit:
			return
		case j := <-e.jobs:
			j.result <- e.serve(j)
		}
	}
}

func (e *endpoint) serve(j *job) error {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	if wait := time.Until(e.retryAt); wait > 0 {
		return &RequestError{Kind: KindConnection, Err: fmt.Errorf("%v (retrying in %s)", e.lastErr, wait.Round(100*time.Millisecond))}
	}
	e.link.setUnit(j.unit)
	e.link.setTimeout(j.timeout)
	err := classify(j.fn(e.link))
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
// error (a *RequestError), or the context's error.
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
