// Package devicetest holds helpers for the gateway's tests: waiting for a
// condition with a deadline, the one way tests synchronise with work that
// runs in other goroutines or processes.
package devicetest

import (
	"context"
	"testing"
	"time"
)

// Eventually checks cond every few milliseconds until it holds, and fails
// the test with what was awaited once timeout has passed. what may be a
// func() string, to describe the state at the moment of failure.
func Eventually(tb testing.TB, timeout time.Duration, what any, cond func() bool) {
	tb.Helper()
	if !Within(timeout, cond) {
		desc := what
		if f, ok := what.(func() string); ok {
			desc = f()
		}
		tb.Fatalf("timed out after %s waiting for %v", timeout, desc)
	}
}

// Within checks cond until it holds (true) or timeout passes (false). It
// checks again after 1 ms, then backs off to one check every 50 ms, so a
// cheap condition is seen at once and an expensive one (a tmux screen
// capture, a query to the broker) does not crowd out the work awaited.
func Within(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	pause := time.Millisecond
	next := time.NewTimer(pause)
	defer next.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-next.C:
		}
		if pause < 50*time.Millisecond {
			pause *= 2
		}
		next.Reset(pause)
	}
	return true
}

// Runner is a long-running service.
type Runner interface {
	Run(ctx context.Context) error
}

// Run runs r until the test ends: its context is cancelled at cleanup, and
// the test waits for Run to return and fails if it returned an error.
func Run(tb testing.TB, r Runner) {
	tb.Helper()
	Start(tb, r)
}
