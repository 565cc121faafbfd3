package device_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
)

func mustAcquire(t *testing.T, l *device.Limiter, user string, op device.HeavyOp) func() {
	t.Helper()
	release, err := l.Acquire(context.Background(), user, op)
	if err != nil {
		t.Fatalf("%s for %s: %v", op, user, err)
	}
	return release
}

// acquireLater starts Acquire on its own goroutine; the channel gets the
// release function (nil on error) once it returns.
func acquireLater(ctx context.Context, l *device.Limiter, user string, op device.HeavyOp) <-chan func() {
	ch := make(chan func(), 1)
	go func() {
		release, err := l.Acquire(ctx, user, op)
		if err != nil {
			release = nil
		}
		ch <- release
	}()
	return ch
}

func waiting(l *device.Limiter, n int) func() bool {
	return func() bool { return l.Stats().Waiting == n }
}

func TestLimiterRefusesASecondOperationOfOneUser(t *testing.T) {
	l := device.NewLimiter(device.LimiterOptions{})
	release := mustAcquire(t, l, "u-support", device.OpScan)
	_, err := l.Acquire(context.Background(), "u-support", device.OpDiff)
	var be *device.BusyError
	if !errors.Is(err, device.ErrBusy) || !errors.As(err, &be) || be.Op != device.OpDiff {
		t.Fatalf("second operation of one user: %v", err)
	}
	// Others are not held back by that user's refusals.
	other := mustAcquire(t, l, "u-admin", device.OpScan)
	other()
	release()
	release() // a second call does nothing
	if s := l.Stats(); s.Running != 0 || s.Used != 0 {
		t.Fatalf("stats after releasing: %+v", s)
	}
	mustAcquire(t, l, "u-support", device.OpDiff)()
}

func TestLimiterBoundsTotalCostAndKeepsArrivalOrder(t *testing.T) {
	l := device.NewLimiter(device.LimiterOptions{Slots: 2})
	scanA := mustAcquire(t, l, "a", device.OpScan)
	scanB := mustAcquire(t, l, "b", device.OpScan)
	ctx := context.Background()
	diff := acquireLater(ctx, l, "c", device.OpDiff) // needs both slots
	devicetest.Eventually(t, 5*time.Second, "the diff waiting", waiting(l, 1))
	scan := acquireLater(ctx, l, "d", device.OpScan) // would fit after one release, but the diff came first
	devicetest.Eventually(t, 5*time.Second, "the scan waiting behind it", waiting(l, 2))
	scanA()
	if s := l.Stats(); s.Waiting != 2 || s.Used != 1 {
		t.Fatalf("after one release: %+v (the later scan jumped the queue?)", s)
	}
	scanB()
	releaseDiff := <-diff
	if releaseDiff == nil {
		t.Fatal("the diff was refused")
	}
	if s := l.Stats(); s.Running != 1 || s.Used != 2 || s.Waiting != 1 {
		t.Fatalf("while the diff runs: %+v", s)
	}
	releaseDiff()
	if releaseScan := <-scan; releaseScan == nil {
		t.Fatal("the scan was refused")
	} else {
		releaseScan()
	}
}

func TestLimiterQueueIsBounded(t *testing.T) {
	l := device.NewLimiter(device.LimiterOptions{Slots: 1, Queue: 2})
	release := mustAcquire(t, l, "a", device.OpScan)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w1 := acquireLater(ctx, l, "b", device.OpScan)
	w2 := acquireLater(ctx, l, "c", device.OpScan)
	devicetest.Eventually(t, 5*time.Second, "two waiting", waiting(l, 2))
	if _, err := l.Acquire(ctx, "d", device.OpScan); !errors.Is(err, device.ErrBusy) {
		t.Fatalf("past the queue: %v", err)
	}
	release()
	// b and c queued in whichever order their goroutines ran: take the
	// grants as they come, each released to let the other in.
	for range 2 {
		var r func()
		select {
		case r = <-w1:
			w1 = nil
		case r = <-w2:
			w2 = nil
		}
		if r == nil {
			t.Fatal("a waiter was refused")
		}
		r()
	}
}

func TestLimiterWaitEndsWithTheContext(t *testing.T) {
	l := device.NewLimiter(device.LimiterOptions{Slots: 1})
	release := mustAcquire(t, l, "a", device.OpScan)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, "b", device.OpScan)
		errc <- err
	}()
	devicetest.Eventually(t, 5*time.Second, "b waiting", waiting(l, 1))
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if s := l.Stats(); s.Waiting != 0 || s.Running != 1 {
		t.Fatalf("after the cancelled wait: %+v", s)
	}
	release()
	// b gave up: it may ask again.
	mustAcquire(t, l, "b", device.OpScan)()
}

// Many users at once: the slots in use never exceed the bound, nobody's
// release is lost, and nothing is left running at the end.
func TestLimiterUnderContention(t *testing.T) {
	l := device.NewLimiter(device.LimiterOptions{Slots: 2, PerUser: 1, Queue: 64})
	var inUse, over atomic.Int64
	var wg sync.WaitGroup
	ops := []device.HeavyOp{device.OpDiff, device.OpImport, device.OpScan, device.OpFirmware}
	for u := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				op := ops[(u+i)%len(ops)]
				release, err := l.Acquire(context.Background(), string(rune('a'+u)), op)
				if err != nil {
					t.Error(err)
					return
				}
				if inUse.Add(int64(op.Cost())) > 2 {
					over.Add(1)
				}
				inUse.Add(-int64(op.Cost()))
				release()
			}
		}()
	}
	wg.Wait()
	if over.Load() > 0 {
		t.Fatalf("the slots were exceeded %d times", over.Load())
	}
	if s := l.Stats(); s.Running != 0 || s.Used != 0 || s.Waiting != 0 {
		t.Fatalf("left over: %+v", s)
	}
}

func TestHeavyOpNames(t *testing.T) {
	for _, op := range []device.HeavyOp{device.OpDiff, device.OpImport, device.OpScan, device.OpFirmware} {
		if got, err := device.ParseHeavyOp(op.String()); err != nil || got != op {
			t.Errorf("%v: %v %v", op, got, err)
		}
	}
	if _, err := device.ParseHeavyOp("dance"); err == nil {
		t.Error("an unknown operation parsed")
	}
}
