// Package loratest holds what the LoRa packages' tests share: running a
// Run(ctx) method for the length of a test, and UDP sockets on loopback.
package loratest

import (
	"context"
	"net"
	"testing"
)

// Run runs run on its own goroutine until the test ends, then cancels its
// context, waits for it and fails the test if it returned an error.
func Run(tb testing.TB, run func(context.Context) error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}

// ListenUDP returns a UDP socket on 127.0.0.1 with a port of the system's
// choosing, closed when the test ends.
func ListenUDP(tb testing.TB) net.PacketConn {
	tb.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
