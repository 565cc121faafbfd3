package wan

import (
	"sync"
	"time"
)

// Clock is the manager's time: every timing decision (probe rounds,
// failover_after, weekly rotation, calendar months) reads it, so tests
// drive time with a FakeClock instead of sleeping.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d, dropping ticks a slow
	// reader misses (like time.Ticker).
	NewTicker(d time.Duration) Ticker
}

// Ticker is a stoppable, resettable source of ticks.
type Ticker interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker is time.NewTicker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time   { return s.t.C }
func (s systemTicker) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTicker) Stop()                 { s.t.Stop() }

// FakeClock is a Clock that moves only when told to. Its tickers fire
// during Advance, each tick delivered like time.Ticker's (a buffer of one;
// a tick nobody took is dropped). Safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
	fired   int
}

// NewFakeClock returns a fake clock reading t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now returns the fake time.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the time forward by d, firing every tick due on the way in
// order.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		var next *fakeTicker
		for _, t := range f.tickers {
			if !t.stopped && !t.next.After(end) && (next == nil || t.next.Before(next.next)) {
				next = t
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
		next.next = next.next.Add(next.period)
	}
	f.now = end
}

// Set moves the time to t (forward or back) without firing tickers: a
// wall-clock step, as when NTP corrects the clock.
func (f *FakeClock) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	for _, tk := range f.tickers {
		tk.next = t.Add(tk.period)
	}
	f.mu.Unlock()
}

// NewTicker returns a ticker that fires during Advance.
func (f *FakeClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("wan: non-positive ticker period")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{clock: f, c: make(chan time.Time, 1), period: d, next: f.now.Add(d)}
	f.tickers = append(f.tickers, t)
	return t
}

// Tickers returns how many tickers are running, so that a test can wait
// for a loop to have started before advancing the time.
func (f *FakeClock) Tickers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.tickers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// Fired returns how many ticks have come due so far (delivered or
// dropped), so that a test can tell that no tick was due without waiting.
func (f *FakeClock) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

type fakeTicker struct {
	clock   *FakeClock
	c       chan time.Time
	period  time.Duration
	next    time.Time
	stopped bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Reset(d time.Duration) {
	t.clock.mu.Lock()
	t.period, t.next, t.stopped = d, t.clock.now.Add(d), false
	t.clock.mu.Unlock()
}

func (t *fakeTicker) Stop() {
	t.clock.mu.Lock()
	t.stopped = true
	t.clock.mu.Unlock()
}
