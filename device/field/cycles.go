package field

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
)

// MaxFirstCycleDelay bounds how long a device waits for its first cycle.
const MaxFirstCycleDelay = 2 * time.Second

// RunCycles runs a device's poll cycles until ctx ends. The first comes
// after a random delay of up to a quarter of interval, at most
// MaxFirstCycleDelay — devices do not all start at once, yet the
// installer sees values within seconds; each next one after the delay the
// cycle before returned.
func RunCycles(ctx context.Context, clk clockwork.Clock, interval time.Duration, cycle func(context.Context) time.Duration) {
	spread := min(interval/4, MaxFirstCycleDelay)
	timer := clk.NewTimer(time.Duration(rand.Int64N(int64(max(spread, 0)) + 1)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		next := cycle(ctx)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(next)
	}
}
