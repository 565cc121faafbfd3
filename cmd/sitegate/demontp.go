package main

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"time"
)

// The demo's time source. The demo must not contact anything off the
// machine, yet its clock should show as synchronised the way a
// commissioned gateway's does: a small NTP server (RFC 5905, server mode)
// on loopback answers from this machine's own clock, and the demo site
// names it as its only server.

// Bounds of the demo NTP server.
const (
	// demoNTPAddr is the demo site's time server (testdata/sites/demo.yaml).
	demoNTPAddr = "127.0.0.1:15123"
	// ntpPacket is the size of an NTP packet without extensions.
	ntpPacket = 48
	// ntpEpochOffset is 1900-01-01 to 1970-01-01 in seconds.
	ntpEpochOffset = 2208988800
)

// ntpReply answers one client request read at received, or false when req
// is not an NTP client request (too short, or not mode 3).
func ntpReply(req []byte, received, now time.Time) ([]byte, bool) {
	if len(req) < ntpPacket || req[0]&0x07 != 3 {
		return nil, false
	}
	version := req[0] >> 3 & 0x07
	if version < 1 || version > 4 {
		return nil, false
	}
	out := make([]byte, ntpPacket)
	out[0] = version<<3 | 4 // no leap warning, the client's version, server
	out[1] = 3              // stratum: below a server that has a reference
	out[2] = req[2]         // the client's poll interval
	out[3] = 0xEC           // precision 2^-20 s
	// Root delay 0; root dispersion 1/64 s: a clock of this machine.
	binary.BigEndian.PutUint32(out[8:], 1<<10)
	copy(out[12:16], []byte{127, 0, 0, 1}) // reference id: the local clock
	putNTPTime(out[16:], now.Add(-time.Second))
	copy(out[24:32], req[40:48]) // origin: the client's transmit time
	putNTPTime(out[32:], received)
	putNTPTime(out[40:], now)
	return out, true
}

func putNTPTime(b []byte, t time.Time) {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint32(b, uint32(secs))
	binary.BigEndian.PutUint32(b[4:], uint32(frac))
}

// demoNTP is the demo's NTP server.
type demoNTP struct {
	conn net.PacketConn
}

// listenDemoNTP binds the demo's NTP server on addr; a taken port is
// logged and the demo runs without it (its clock then shows
// unsynchronised).
func listenDemoNTP(log *slog.Logger, addr string) *demoNTP {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		log.Warn("demo: no local time server; the clock shows unsynchronised", "address", addr, "err", err)
		return nil
	}
	return &demoNTP{conn: c}
}

// Addr is where the server listens.
func (n *demoNTP) Addr() string { return n.conn.LocalAddr().String() }

// Run answers requests until ctx ends.
func (n *demoNTP) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { n.conn.Close() })
	defer stop()
	buf := make([]byte, 512)
	for {
		k, from, err := n.conn.ReadFrom(buf)
		received := time.Now()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if reply, ok := ntpReply(buf[:k], received, time.Now()); ok {
			_, _ = n.conn.WriteTo(reply, from)
		}
	}
}
