package clockwork_test

import (
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func TestFakeFiresTickersAndTimersInOrder(t *testing.T) {
	f := clockwork.NewFake(t0)
	tick := f.NewTicker(10 * time.Second)
	timer := f.NewTimer(15 * time.Second)
	if d, ok := f.Next(); !ok || d != 10*time.Second {
		t.Fatalf("Next = %v %v", d, ok)
	}
	f.Advance(9 * time.Second)
	select {
	case <-tick.C():
		t.Fatal("ticked early")
	default:
	}
	f.Advance(time.Second)
	if got := <-tick.C(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("tick at %v", got)
	}
	f.Advance(10 * time.Second) // the timer at 15 s and the ticker at 20 s
	if got := <-timer.C(); !got.Equal(t0.Add(15 * time.Second)) {
		t.Fatalf("timer at %v", got)
	}
	if got := <-tick.C(); !got.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("second tick at %v", got)
	}
	if f.Waiters() != 1 || f.Fired() != 3 {
		t.Fatalf("waiters %d fired %d", f.Waiters(), f.Fired())
	}
	timer.Reset(time.Second)
	f.Advance(time.Second)
	<-timer.C()
	tick.Stop()
	f.Advance(time.Hour)
	select {
	case <-tick.C():
		t.Fatal("a stopped ticker ticked")
	default:
	}
	if f.Waiters() != 0 {
		t.Fatalf("%d waiters after stops", f.Waiters())
	}
}

// A tick nobody takes is dropped, like time.Ticker's.
func TestFakeDropsMissedTicks(t *testing.T) {
	f := clockwork.NewFake(t0)
	tick := f.NewTicker(time.Second)
	f.Advance(5 * time.Second)
	<-tick.C()
	select {
	case <-tick.C():
		t.Fatal("missed ticks were queued")
	default:
	}
	if f.Fired() != 5 {
		t.Fatalf("fired %d", f.Fired())
	}
}

// Set steps the wall clock without firing; periods restart from there.
func TestFakeSetSteps(t *testing.T) {
	f := clockwork.NewFake(t0)
	tick := f.NewTicker(time.Minute)
	f.Set(t0.Add(-time.Hour))
	if !f.Now().Equal(t0.Add(-time.Hour)) || f.Fired() != 0 {
		t.Fatal("Set fired or did not move")
	}
	f.Advance(time.Minute)
	<-tick.C()
}
