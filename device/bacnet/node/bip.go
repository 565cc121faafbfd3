package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// BACnet/IP defaults (Annex J).
const (
	// DefaultPort is the BACnet/IP UDP port, 0xBAC0.
	DefaultPort = 47808
	// BIPMaxAPDU is the largest APDU over BACnet/IP.
	BIPMaxAPDU = 1476
	// DefaultFDTTL is the time-to-live asked of a BBMD when registering as
	// a foreign device.
	DefaultFDTTL = 300 * time.Second
	// MinFDTTL keeps a mistyped TTL from turning re-registration into a flood.
	MinFDTTL = 30 * time.Second
	// fdRetry is how soon a refused or unanswered registration is retried.
	fdRetry = 10 * time.Second
)

// BIPConfig configures a BACnet/IP data link.
type BIPConfig struct {
	// Conn is the UDP socket, bound by the caller to the configured
	// address (tests bind 127.0.0.1:0). The link reads and writes it but
	// does not close it.
	Conn net.PacketConn
	// Broadcast is where a local broadcast goes (the subnet's broadcast
	// address and port). Zero: broadcasts are not sent, only directed
	// requests, unless BBMD is set.
	Broadcast netip.AddrPort
	// BBMD, when set, makes this node a foreign device of that BBMD: it
	// registers (and re-registers at half the TTL) and sends broadcasts as
	// Distribute-Broadcast-To-Network through it.
	BBMD netip.AddrPort
	// TTL asked of the BBMD. Default DefaultFDTTL, at least MinFDTTL.
	TTL time.Duration
	// BroadcastConn, when set, is a second, receive-only socket bound to
	// the subnet's broadcast address on Conn's port. On Linux a socket
	// bound to a unicast address receives no broadcasts, and binding the
	// wildcard address instead would open the port on every interface
	// (README requirement 13). The link does not close it either.
	BroadcastConn net.PacketConn
	Logger        *slog.Logger
}

// BIP is a BACnet/IP data link (Annex J) on a UDP socket.
type BIP struct {
	cfg  BIPConfig
	self netip.AddrPort
	log  *slog.Logger

	registered atomic.Bool
	regResult  chan stack.BVLCResultCode

	framesIn, framesOut, malformed, dropped atomic.Uint64
	bufs                                    sync.Pool
	// deliverMu keeps deliver on one goroutine at a time (DataLink's
	// contract) while two sockets are read.
	deliverMu sync.Mutex
}

// NewBIP checks cfg and returns the link; nothing is sent before Run.
func NewBIP(cfg BIPConfig) (*BIP, error) {
	if cfg.Conn == nil {
		return nil, fmt.Errorf("bacnet/ip: no socket: %w", ErrConfig)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultFDTTL
	}
	if cfg.TTL < MinFDTTL || cfg.TTL > 65535*time.Second {
		return nil, fmt.Errorf("bacnet/ip: foreign-device ttl %s outside %s..18h12m15s: %w", cfg.TTL, MinFDTTL, ErrConfig)
	}
	if cfg.BBMD.IsValid() && !cfg.BBMD.Addr().Unmap().Is4() {
		return nil, fmt.Errorf("bacnet/ip: bbmd %s is not IPv4: %w", cfg.BBMD, ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &BIP{cfg: cfg, log: cfg.Logger, regResult: make(chan stack.BVLCResultCode, 1)}
	if ua, ok := cfg.Conn.LocalAddr().(*net.UDPAddr); ok {
		b.self = ua.AddrPort()
	}
	b.bufs.New = func() any { s := make([]byte, 0, stack.MaxBVLCLength); return &s }
	return b, nil
}

// MaxAPDU is BIPMaxAPDU.
func (b *BIP) MaxAPDU() int { return BIPMaxAPDU }

// LocalAddr is the address peers reach this node at.
func (b *BIP) LocalAddr() netip.AddrPort { return b.self }

// Registered reports whether the BBMD accepted the last registration.
func (b *BIP) Registered() bool { return b.registered.Load() }

// LinkStats returns the link's counters.
func (b *BIP) LinkStats() LinkStats {
	return LinkStats{FramesIn: b.framesIn.Load(), FramesOut: b.framesOut.Load(),
		Malformed: b.malformed.Load(), Dropped: b.dropped.Load()}
}

// Send sends one NPDU: unicast to a six-octet B/IP address, or broadcast
// (local, or through the BBMD for a foreign device) when dst is empty.
func (b *BIP) Send(dst []byte, npdu []byte) error {
	v := stack.BVLC{Function: stack.BVLCOriginalUnicastNPDU, NPDU: npdu}
	var to netip.AddrPort
	switch {
	case len(dst) == 6:
		to = stack.DecodeIPMAC(dst)
	case len(dst) != 0:
		return fmt.Errorf("bacnet/ip send: %d-octet address is not B/IP: %w", len(dst), ErrConfig)
	case b.cfg.BBMD.IsValid():
		v.Function, to = stack.BVLCDistributeBroadcast, b.cfg.BBMD
	case b.cfg.Broadcast.IsValid():
		v.Function, to = stack.BVLCOriginalBroadcastNPDU, b.cfg.Broadcast
	default:
		return fmt.Errorf("bacnet/ip send: broadcast with neither a broadcast address nor a bbmd configured: %w", ErrConfig)
	}
	return b.write(v, to)
}

func (b *BIP) write(v stack.BVLC, to netip.AddrPort) error {
	bp := b.bufs.Get().(*[]byte)
	defer b.bufs.Put(bp)
	out, err := stack.AppendBVLC((*bp)[:0], v)
	if err != nil {
		return fmt.Errorf("bacnet/ip send: %w", err)
	}
	*bp = out
	if _, err := b.cfg.Conn.WriteTo(out, net.UDPAddrFromAddrPort(to)); err != nil {
		return fmt.Errorf("bacnet/ip send to %s: %w", to, err)
	}
	b.framesOut.Add(1)
	return nil
}

// Run reads the socket until ctx ends; with a BBMD it also keeps the
// foreign-device registration alive.
func (b *BIP) Run(ctx context.Context, deliver func(src, npdu []byte)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	conns := []net.PacketConn{b.cfg.Conn}
	if b.cfg.BroadcastConn != nil {
		conns = append(conns, b.cfg.BroadcastConn)
	}
	// Unblock ReadFrom when ctx ends: a deadline in the past.
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Unix(1, 0))
		}
	}()
	if b.cfg.BBMD.IsValid() {
		wg.Add(1)
		go func() { defer wg.Done(); b.register(ctx) }()
	}
	// The broadcast socket's reader ends the link when it fails, as the
	// main one does.
	var readers sync.WaitGroup
	var bcastErr error
	for _, c := range conns[1:] {
		readers.Add(1)
		go func() {
			defer readers.Done()
			if bcastErr = b.read(ctx, c, deliver); bcastErr != nil {
				cancel()
			}
		}()
	}
	err := b.read(ctx, conns[0], deliver)
	cancel()
	readers.Wait()
	if err == nil {
		err = bcastErr
	}
	return err
}

// read reads one socket until ctx ends.
func (b *BIP) read(ctx context.Context, c net.PacketConn, deliver func(src, npdu []byte)) error {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFrom(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("bacnet/ip receive on %s: %w", c.LocalAddr(), err)
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			b.malformed.Add(1)
			continue
		}
		b.framesIn.Add(1)
		b.deliverMu.Lock()
		b.handle(ua.AddrPort(), buf[:n], deliver)
		b.deliverMu.Unlock()
	}
}

func (b *BIP) handle(from netip.AddrPort, frame []byte, deliver func(src, npdu []byte)) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	v, err := stack.DecodeBVLC(frame)
	if err != nil {
		b.malformed.Add(1)
		b.log.Debug("bacnet/ip: dropped frame", "from", from, "err", err)
		return
	}
	switch v.Function {
	case stack.BVLCOriginalUnicastNPDU, stack.BVLCOriginalBroadcastNPDU:
		if from == b.self {
			b.dropped.Add(1) // our own broadcast, looped back
			return
		}
		mac, err := stack.IPMAC(from)
		if err != nil {
			b.malformed.Add(1)
			return
		}
		deliver(mac, v.NPDU)
	case stack.BVLCForwardedNPDU:
		if v.Origin == b.self {
			b.dropped.Add(1)
			return
		}
		mac, err := stack.IPMAC(v.Origin)
		if err != nil {
			b.malformed.Add(1)
			return
		}
		deliver(mac, v.NPDU)
	case stack.BVLCResult:
		if b.cfg.BBMD.IsValid() && from == b.cfg.BBMD {
			select {
			case b.regResult <- v.Result:
			default:
			}
			return
		}
		b.dropped.Add(1)
	default:
		// This node is not a BBMD: refuse its functions cleanly, as J.2
		// asks of a node that does not support them.
		b.dropped.Add(1)
		if nak, ok := stack.NAKFor(v.Function); ok {
			_ = b.write(stack.BVLC{Function: stack.BVLCResult, Result: nak}, from)
		}
	}
}

// reregisterAfter is when an accepted registration is renewed: at half the
// TTL. J.5.2.3 gives the BBMD 30 s of grace beyond the TTL; renewing at half
// leaves room for lost packets and a retry or two before the entry expires.
func reregisterAfter(ttl time.Duration) time.Duration { return ttl / 2 }

// register keeps the foreign-device registration alive: at start, then
// at reregisterAfter the TTL.
func (b *BIP) register(ctx context.Context) {
	ttl := uint16(b.cfg.TTL / time.Second)
	next := time.NewTimer(0)
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
			if err := b.write(stack.BVLC{Function: stack.BVLCRegisterForeignDevice, TTL: ttl}, b.cfg.BBMD); err != nil {
				b.log.Warn("bacnet/ip: foreign-device registration not sent", "bbmd", b.cfg.BBMD, "err", err)
			}
			// Until an answer: retry soon.
			next.Reset(fdRetry)
		case res := <-b.regResult:
			if res == stack.ResultSuccessful {
				if !b.registered.Swap(true) {
					b.log.Info("bacnet/ip: registered as foreign device", "bbmd", b.cfg.BBMD, "ttl", b.cfg.TTL)
				}
				next.Reset(reregisterAfter(b.cfg.TTL))
				continue
			}
			b.registered.Store(false)
			b.log.Warn("bacnet/ip: bbmd refused foreign-device registration", "bbmd", b.cfg.BBMD, "result", res)
			next.Reset(fdRetry)
		}
	}
}
