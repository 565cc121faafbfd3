// Package clockwork is the gateway's one injectable time source: every
// package that makes timing decisions (pollers, probes, rules, lockouts,
// rate limits, the simulator) reads a Clock, so tests drive time with a
// Fake instead of sleeping.
//
// # Caveats
//
//   - A Fake fires tickers and timers only inside Advance; code that waits
//     for a tick while the test waits for that code deadlocks. Tests wait
//     for the loop to be waiting (Waiters) before advancing.
//   - Set moves the wall clock without firing anything, as an NTP step
//     does; periodic timers restart their period from the new time.
package clockwork

import (
	"sync"
	"time"
)

// Clock is a time source.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d, dropping ticks a slow
	// reader misses (like time.Ticker). d must be positive.
	NewTicker(d time.Duration) Ticker
	// NewTimer returns a timer that fires once after d (like time.Timer).
	NewTimer(d time.Duration) Timer
}

// Ticker is a stoppable, resettable source of ticks.
type Ticker interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// Timer fires once; Reset arms it again.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// System is the real clock.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time                   { return time.Now() }
func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }
func (systemClock) NewTimer(d time.Duration) Timer   { return systemTimer{time.NewTimer(d)} }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time   { return s.t.C }
func (s systemTicker) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTicker) Stop()                 { s.t.Stop() }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time   { return s.t.C }
func (s systemTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTimer) Stop()                 { s.t.Stop() }

// Fake is a Clock that moves only when told to. Its tickers and timers fire
// during Advance, each delivery like the real ones' (a buffer of one; a
// tick nobody took is dropped). Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
	fired   int
}

// NewFake returns a fake clock reading t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the time forward by d, firing every tick and timer due on
// the way, in order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		var next *fakeWaiter
		for _, w := range f.waiters {
			if w.armed && !w.next.After(end) && (next == nil || w.next.Before(next.next)) {
				next = w
			}
		}
		if next == nil {
			break
		}
		f.now = next.next
		f.fired++
		select {
		case next.c <- f.now:
		default:
		}
		if next.period > 0 {
			next.next = next.next.Add(next.period)
		} else {
			next.armed = false
		}
	}
	f.now = end
}

// Add is Advance: it reads better where a test only moves time.
func (f *Fake) Add(d time.Duration) { f.Advance(d) }

// Set moves the time to t (forward or back) without firing anything: a
// wall-clock step, as when NTP corrects the clock.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
	for _, w := range f.waiters {
		if w.period > 0 {
			w.next = t.Add(w.period)
		}
	}
}

// NewTicker returns a ticker that fires during Advance.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clockwork: non-positive ticker period")
	}
	return f.add(d, d)
}

// NewTimer returns a timer that fires during Advance.
func (f *Fake) NewTimer(d time.Duration) Timer { return f.add(d, 0) }

func (f *Fake) add(d, period time.Duration) *fakeWaiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{clock: f, c: make(chan time.Time, 1), period: period, next: f.now.Add(d), armed: true}
	f.waiters = append(f.waiters, w)
	return w
}

// Waiters returns how many tickers and timers are armed, so that a test
// can wait for a loop to have started before advancing the time.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.waiters {
		if w.armed {
			n++
		}
	}
	return n
}

// Next returns how long until the next armed ticker or timer fires, so
// that a test can see what a loop is waiting for; false when none is armed.
func (f *Fake) Next() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next *fakeWaiter
	for _, w := range f.waiters {
		if w.armed && (next == nil || w.next.Before(next.next)) {
			next = w
		}
	}
	if next == nil {
		return 0, false
	}
	return next.next.Sub(f.now), true
}

// Fired returns how many ticks and timers have come due so far (delivered
// or dropped), so that a test can tell that nothing was due without
// waiting.
func (f *Fake) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

type fakeWaiter struct {
	clock  *Fake
	c      chan time.Time
	period time.Duration // 0: a timer
	next   time.Time
	armed  bool
}

func (w *fakeWaiter) C() <-chan time.Time { return w.c }

func (w *fakeWaiter) Reset(d time.Duration) {
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	if w.period > 0 {
		w.period = d
	}
	w.next, w.armed = w.clock.now.Add(d), true
}

func (w *fakeWaiter) Stop() {
	w.clock.mu.Lock()
	w.armed = false
	w.clock.mu.Unlock()
}
