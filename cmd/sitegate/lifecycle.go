package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
)

// service is one long-running part of the gateway.
type service struct {
	name string
	run  func(ctx context.Context) error
}

// runServices starts services in order, each under its own context, and
// runs them until ctx ends or one of them fails. Then it stops them in the
// reverse order, each given the rest of grace: the SSH door closes before
// the uplink says goodbye, and the uplink before the field drivers and the
// store behind them. It returns the first failure, if any.
func runServices(ctx context.Context, log *slog.Logger, grace time.Duration, services []service) error {
	g, gctx := errgroup.WithContext(ctx)
	type running struct {
		service
		cancel context.CancelFunc
		done   chan struct{}
	}
	started := make([]running, 0, len(services))
	// Services outlive ctx until their turn to stop comes.
	base := context.WithoutCancel(ctx)
	for _, s := range services {
		sctx, cancel := context.WithCancel(base)
		r := running{service: s, cancel: cancel, done: make(chan struct{})}
		started = append(started, r)
		g.Go(func() error {
			defer close(r.done)
			if err := r.run(sctx); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			if sctx.Err() == nil {
				return fmt.Errorf("%s stopped by itself", r.name)
			}
			return nil
		})
	}
	<-gctx.Done()
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	var late []string
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		r.cancel()
		select {
		case <-r.done:
		case <-deadline.C:
			late = append(late, r.name)
		}
	}
	if len(late) > 0 {
		log.Warn("services did not stop within the grace period", "services", late, "grace", grace.String())
		return fmt.Errorf("%v did not stop within %s", late, grace)
	}
	return g.Wait()
}
