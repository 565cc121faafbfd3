package semtech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// MaxPendingTx bounds the downlinks awaiting their TX_ACK; past it the
// oldest is forgotten (its TX_ACK, if it comes, is counted unmatched).
const MaxPendingTx = 256

// Rx is one uplink as a forwarder reported it, with a valid CRC.
type Rx struct {
	Gateway  lorawan.EUI64
	Received time.Time // when the datagram arrived here
	RXPK     RXPK
}

// TxResult is a forwarder's verdict on a downlink sent with Send.
type TxResult struct {
	Gateway lorawan.EUI64
	Token   uint16
	Error   TxError
	// Matched is false for a TX_ACK whose token no pending Send has.
	Matched bool
	// Sent is when Send sent the downlink (zero when not matched).
	Sent time.Time
}

// Config configures a Server.
type Config struct {
	// Conn is where forwarders send; the server reads and writes only it,
	// and does not close it. Required.
	Conn net.PacketConn
	Limits
	// OnRx receives each uplink with a valid CRC, on Run's goroutine: it
	// must not block (hand the value to a channel or queue).
	OnRx func(Rx)
	// OnTxAck receives each TX_ACK, on Run's goroutine; optional.
	OnTxAck func(TxResult)
	// Now is the clock (time.Now).
	Now func() time.Time
	// Log receives refused datagrams at debug level (slog.Default()).
	Log *slog.Logger
}

// Server is the network-server end of the protocol for the embedded mode.
// Run reads; Send, Stats and Forwarders may be called from any goroutine.
type Server struct {
	cfg Config
	reg *registry

	mu      sync.Mutex
	token   uint16
	pending map[uint16]TxResult
}

// NewServer checks cfg and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Conn == nil {
		return nil, errors.New("semtech server: no connection configured")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg, reg: newRegistry(cfg.Limits, cfg.Now), token: uint16(rand.Uint32()), pending: map[uint16]TxResult{}}, nil
}

// Run serves until ctx ends (then it returns nil) or reading fails.
func (s *Server) Run(ctx context.Context) error {
	return serve(ctx, s.cfg.Conn, func(addr net.Addr, b []byte) { s.handle(addr, b) })
}

// serve reads datagrams from conn and hands each to fn until ctx ends.
// Ending ctx sets a read deadline in the past, which unblocks ReadFrom.
func serve(ctx context.Context, conn net.PacketConn, fn func(net.Addr, []byte)) error {
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, MaxDatagram)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("read datagram: %w", err)
		}
		fn(addr, buf[:n])
	}
}

func (s *Server) handle(addr net.Addr, b []byte) {
	in, err := s.reg.admit(addr, b)
	if err != nil {
		s.cfg.Log.Debug("lora: datagram refused", "from", addr.String(), "err", err)
		return
	}
	switch in.pkt.Type {
	case PushData, PullData:
		if _, err := s.cfg.Conn.WriteTo(ack(in.pkt), addr); err != nil {
			s.cfg.Log.Debug("lora: ack not sent", "to", addr.String(), "err", err)
		}
		if s.cfg.OnRx != nil {
			for _, rx := range in.push.RXPK {
				s.cfg.OnRx(Rx{Gateway: in.pkt.GatewayEUI, Received: in.at, RXPK: rx})
			}
		}
	case TxAck:
		e, _ := DecodeTxAck(in.pkt.JSON)
		s.mu.Lock()
		res, ok := s.pending[in.pkt.Token]
		delete(s.pending, in.pkt.Token)
		s.mu.Unlock()
		res.Gateway, res.Token, res.Error, res.Matched = in.pkt.GatewayEUI, in.pkt.Token, e, ok
		if s.cfg.OnTxAck != nil {
			s.cfg.OnTxAck(res)
		}
	}
}

// Send asks gateway gw's forwarder to transmit tx, with a PULL_RESP to
// the address of its last PULL_DATA. It returns the token the TX_ACK will
// carry. tx.Size is set from tx.Data.
func (s *Server) Send(gw lorawan.EUI64, tx TXPK) (uint16, error) {
	addr, err := s.reg.pullAddr(gw)
	if err != nil {
		return 0, fmt.Errorf("send downlink: %w", err)
	}
	js, err := EncodePullResp(tx)
	if err != nil {
		return 0, fmt.Errorf("send downlink: %w", err)
	}
	s.mu.Lock()
	s.token++
	tok := s.token
	if len(s.pending) >= MaxPendingTx {
		var oldest uint16
		first := true
		for k, v := range s.pending {
			if first || v.Sent.Before(s.pending[oldest].Sent) {
				oldest, first = k, false
			}
		}
		delete(s.pending, oldest)
	}
	s.pending[tok] = TxResult{Gateway: gw, Token: tok, Sent: s.cfg.Now()}
	s.mu.Unlock()
	b, err := Packet{Token: tok, Type: PullResp, JSON: js}.AppendBinary(nil)
	if err != nil {
		return 0, fmt.Errorf("send downlink: %w", err)
	}
	if _, err := s.cfg.Conn.WriteTo(b, addr); err != nil {
		return 0, fmt.Errorf("send downlink to %s: %w", addr, err)
	}
	s.reg.countTx(gw)
	return tok, nil
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st, _ := s.reg.snapshot()
	return st
}

// Forwarders returns what is known of each forwarder, by gateway EUI.
func (s *Server) Forwarders() []ForwarderStatus {
	_, f := s.reg.snapshot()
	return f
}
