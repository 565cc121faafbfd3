package devicetest

import (
	"context"
	"sync"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// Gateway returns a gateway (id gw-test) on a real bbolt file in the
// test's temporary directory, with site stored (defaults applied) as the
// local actor. The store closes when the test ends, after the cleanups
// registered later, such as the drivers started with Start.
func Gateway(tb testing.TB, site *device.Site) *device.Gateway {
	tb.Helper()
	st, err := store.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		tb.Fatal(err)
	}
	site.ApplyDefaults()
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: gw.Rev()}, site); err != nil {
		tb.Fatal(err)
	}
	return gw
}

// Start runs r like Run and returns a function that stops it: it cancels
// r's context and waits for Run to return, failing the test if Run
// returned an error. It may be called more than once; the test's cleanup
// calls it too.
func Start(tb testing.TB, r Runner) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("%T.Run: %v", r, err)
		}
	})
	tb.Cleanup(stop)
	return stop
}
