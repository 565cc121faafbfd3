package cloudsync

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
)

// DialFunc makes a network connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// attemptConnection returns the broker dial through Config.Dial, or nil
// (autopaho's own) without one. The TLS handshake is the one autopaho
// makes: the same configuration, the broker's host name as server name.
func (u *Uplink) attemptConnection() func(context.Context, autopaho.ClientConfig, *url.URL) (net.Conn, error) {
	if u.cfg.Dial == nil {
		return nil
	}
	return func(ctx context.Context, cfg autopaho.ClientConfig, to *url.URL) (net.Conn, error) {
		conn, err := u.cfg.Dial(ctx, "tcp", to.Host)
		if err != nil {
			return nil, err
		}
		tc := cfg.TlsCfg.Clone()
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if tc.ServerName == "" {
			tc.ServerName = to.Hostname()
		}
		c := tls.Client(conn, tc)
		if err := c.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", to.Host, err)
		}
		return packets.NewThreadSafeConn(c), nil
	}
}
