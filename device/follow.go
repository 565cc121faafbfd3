package device

import "context"

// followBuffer is how many events a follower may fall behind by; one that
// falls further behind applies the site again anyway.
const followBuffer = 16

// FollowSite calls apply once now and again after every change of the
// site (and after missed events, which may have been one), until ctx
// ends. It is the loop of a subsystem that keeps something in step with
// the site; apply runs on the caller's goroutine.
func (g *Gateway) FollowSite(ctx context.Context, apply func()) {
	// Site events only: a follower woken by every device cycle would cost
	// a goroutine wake-up per cycle, and an apply whenever a burst of
	// readings overflowed its buffer.
	sub := g.SubscribeTo(followBuffer, EventSite)
	defer sub.Close()
	apply()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sub.C():
			if !ok {
				return
			}
			apply() // site events only: a missed one is applied by this one
		}
	}
}
