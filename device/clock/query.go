package clock

import (
	"context"
	"net"
	"time"

	"github.com/beevik/ntp"
)

// NetQuery asks an NTP server over the network: NTPv4 over UDP, port 123
// unless the address names one. It gives up when ctx ends (name lookup
// included); without a deadline on ctx it waits DefaultTimeout.
func NetQuery(ctx context.Context, server string) (*ntp.Response, error) {
	return DialQuery(nil)(ctx, server)
}

// DialQuery is NetQuery with dial making the UDP socket (nil: a
// net.Dialer), e.g. the endpoints allow-list's DialContext, which refuses
// servers the site does not list.
func DialQuery(dial func(ctx context.Context, network, address string) (net.Conn, error)) QueryFunc {
	if dial == nil {
		dial = new(net.Dialer).DialContext
	}
	return func(ctx context.Context, server string) (*ntp.Response, error) { return dialQuery(ctx, server, dial) }
}

func dialQuery(ctx context.Context, server string, dial func(ctx context.Context, network, address string) (net.Conn, error)) (*ntp.Response, error) {
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	stop := func() bool { return false }
	opt := ntp.QueryOptions{
		Timeout: timeout,
		Dialer: func(_, remote string) (net.Conn, error) {
			c, err := dial(ctx, "udp", remote)
			if err != nil {
				return nil, err
			}
			// Cancelling ctx ends a pending read at once rather than at the
			// deadline, so Stop does not wait for a silent server. The
			// connection itself goes to the library unwrapped: it reads
			// kernel receive timestamps only from a *net.UDPConn.
			stop = context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
			return c, nil
		},
	}
	r, err := ntp.QueryWithOptions(server, opt)
	stop()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return r, err
}
