package devicetest

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			time.Sleep(2 * time.Millisecond)
			n.Add(1)
		}
	}()
	if !Within(10*time.Second, func() bool { return n.Load() == 3 }) {
		t.Fatal("a condition that comes true was not seen")
	}
	if Within(20*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported as holding")
	}
	// The last check happens at the deadline: a condition that holds by
	// then counts.
	start := time.Now()
	if !Within(20*time.Millisecond, func() bool { return time.Since(start) >= 20*time.Millisecond }) {
		t.Fatal("a condition holding at the deadline was missed")
	}
}
