package semtech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// Forward mode defaults. The buffer rides out a remote network server's
// restart or a short uplink failover (tens of seconds); longer outages
// lose the oldest uplinks first, counted.
const (
	// DefaultMaxBuffered bounds the PUSH_DATA awaiting the remote's
	// PUSH_ACK, per forwarder.
	DefaultMaxBuffered = 512
	// DefaultMaxAge is how long a PUSH_DATA is kept for the remote.
	DefaultMaxAge = 2 * time.Minute
	// DefaultAckTimeout is how long the remote has to acknowledge a
	// PUSH_DATA before it is sent again.
	DefaultAckTimeout = 2 * time.Second
	// DefaultRemoteTimeout is how long without a datagram from the remote
	// before it counts as down. Forwarders send PULL_DATA every 10 s by
	// default, and each gets a PULL_ACK.
	DefaultRemoteTimeout = 30 * time.Second
	// DefaultDialTimeout bounds resolving and dialling the remote.
	DefaultDialTimeout = 5 * time.Second
	// MaxResendPerTick bounds the buffered PUSH_DATA re-sent per forwarder
	// and tick, so a recovering remote gets the backlog in steps.
	MaxResendPerTick = 32
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Conn is where the forwarders send; the relay does not close it. Required.
	Conn net.PacketConn
	// Remote is the network server, host:port (UDP). Required.
	Remote string
	// Dial opens the connection to the remote, one per forwarder so that
	// the remote's answers can be told apart ((&net.Dialer{}).DialContext).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	Limits
	// MaxBuffered, MaxAge, AckTimeout and RemoteTimeout: see the defaults.
	MaxBuffered   int
	MaxAge        time.Duration
	AckTimeout    time.Duration
	RemoteTimeout time.Duration
	Now           func() time.Time
	Log           *slog.Logger
}

// RelayStats are the forward mode's counters.
type RelayStats struct {
	// Stats counts what came from the forwarders.
	Stats
	// Forwarded counts PUSH_DATA sent to the remote (first sending).
	Forwarded uint64 `json:"forwarded"`
	// Acked counts PUSH_DATA the remote acknowledged.
	Acked uint64 `json:"acked"`
	// Resent counts PUSH_DATA sent again for want of an acknowledgement.
	Resent uint64 `json:"resent"`
	// Buffered is how many PUSH_DATA await the remote now.
	Buffered int `json:"buffered"`
	// DroppedOverflow and DroppedExpired count buffered PUSH_DATA given up
	// (buffer full, or older than MaxAge).
	DroppedOverflow uint64 `json:"dropped_overflow"`
	DroppedExpired  uint64 `json:"dropped_expired"`
	// PullRelayed counts PULL_DATA and TX_ACK sent to the remote.
	PullRelayed uint64 `json:"pull_relayed"`
	// Downlinks counts PULL_RESP relayed to forwarders.
	Downlinks uint64 `json:"downlinks"`
	// RemoteErrors counts failed dials, writes and reads on the remote side;
	// RemoteMalformed datagrams from the remote that were not understood.
	RemoteErrors    uint64 `json:"remote_errors"`
	RemoteMalformed uint64 `json:"remote_malformed"`
	// RemoteUp is whether the remote answered within RemoteTimeout, at
	// LastRemote.
	RemoteUp   bool      `json:"remote_up"`
	LastRemote time.Time `json:"last_remote,omitzero"`
}

type pendingPush struct {
	token    uint16
	data     []byte
	first    time.Time
	sent     time.Time
	attempts int
}

// link is one forwarder's path to the remote.
type link struct {
	eui      lorawan.EUI64
	conn     net.Conn // nil until dialled
	pushAddr net.Addr
	pullAddr net.Addr
	pending  []pendingPush // oldest first
}

// Relay is the forward mode: datagrams from forwarders go to the remote
// network server unchanged, its answers come back to them.
type Relay struct {
	cfg  RelayConfig
	reg  *registry
	kick chan struct{}

	mu     sync.Mutex
	links  map[lorawan.EUI64]*link
	st     RelayStats
	closed bool
	wg     sync.WaitGroup
}

// NewRelay checks cfg and returns a Relay.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Conn == nil {
		return nil, errors.New("lora relay: no connection configured")
	}
	if _, _, err := net.SplitHostPort(cfg.Remote); err != nil {
		return nil, fmt.Errorf("lora relay: network server %q: %w", cfg.Remote, err)
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{}).DialContext
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.RemoteTimeout <= 0 {
		cfg.RemoteTimeout = DefaultRemoteTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Relay{cfg: cfg, reg: newRegistry(cfg.Limits, cfg.Now), kick: make(chan struct{}, 1), links: map[lorawan.EUI64]*link{}}, nil
}

// Run relays until ctx ends (then it returns nil) or reading the local
// connection fails. Every goroutine it starts has ended when it returns.
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.maintain(ctx)
	}()
	err := serve(ctx, r.cfg.Conn, r.fromForwarder)
	cancel()
	r.mu.Lock()
	r.closed = true
	for _, l := range r.links {
		if l.conn != nil {
			l.conn.Close()
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	if err != nil {
		return fmt.Errorf("lora relay: %w", err)
	}
	return nil
}

// fromForwarder handles one datagram from the local side.
func (r *Relay) fromForwarder(addr net.Addr, b []byte) {
	in, err := r.reg.admit(addr, b)
	if err != nil {
		r.cfg.Log.Debug("lora relay: datagram refused", "from", addr.String(), "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.links[in.pkt.GatewayEUI]
	if l == nil {
		l = &link{eui: in.pkt.GatewayEUI}
		r.links[l.eui] = l
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	switch in.pkt.Type {
	case PushData:
		l.pushAddr = addr
		if len(l.pending) >= r.cfg.MaxBuffered {
			l.pending = l.pending[1:]
			r.st.DroppedOverflow++
		}
		p := pendingPush{token: in.pkt.Token, data: append([]byte(nil), b...), first: in.at}
		if l.conn != nil {
			if _, err := l.conn.Write(p.data); err != nil {
				r.st.RemoteErrors++
			} else {
				p.sent, p.attempts = in.at, 1
				r.st.Forwarded++
			}
		}
		l.pending = append(l.pending, p)
	case PullData, TxAck:
		if in.pkt.Type == PullData {
			l.pullAddr = addr
		}
		if l.conn != nil {
			if _, err := l.conn.Write(b); err != nil {
				r.st.RemoteErrors++
			} else {
				r.st.PullRelayed++
			}
		}
	}
}

// maintain dials links, re-sends what the remote did not acknowledge and
// drops what is too old, every AckTimeout/2 and whenever a link appears.
func (r *Relay) maintain(ctx context.Context) {
	t := time.NewTicker(r.cfg.AckTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
		r.dialMissing(ctx)
		r.resend()
	}
}

func (r *Relay) dialMissing(ctx context.Context) {
	r.mu.Lock()
	var need []lorawan.EUI64
	for eui, l := range r.links {
		if l.conn == nil {
			need = append(need, eui)
		}
	}
	r.mu.Unlock()
	for _, eui := range need {
		dctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout)
		c, err := r.cfg.Dial(dctx, "udp", r.cfg.Remote)
		cancel()
		r.mu.Lock()
		if err != nil {
			r.st.RemoteErrors++
			r.mu.Unlock()
			r.cfg.Log.Debug("lora relay: dial network server", "remote", r.cfg.Remote, "err", err)
			continue
		}
		if r.closed {
			r.mu.Unlock()
			c.Close()
			return
		}
		l := r.links[eui]
		l.conn = c
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.fromRemote(l, c)
		}()
		r.mu.Unlock()
	}
}

func (r *Relay) resend() {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.links {
		keep := l.pending[:0]
		for _, p := range l.pending {
			if now.Sub(p.first) > r.cfg.MaxAge {
				r.st.DroppedExpired++
				continue
			}
			keep = append(keep, p)
		}
		l.pending = keep
		if l.conn == nil {
			continue
		}
		n := 0
		for i := range l.pending {
			p := &l.pending[i]
			if p.attempts > 0 && now.Sub(p.sent) < r.cfg.AckTimeout {
				continue
			}
			if n >= MaxResendPerTick {
				break
			}
			n++
			if _, err := l.conn.Write(p.data); err != nil {
				r.st.RemoteErrors++
				break
			}
			if p.attempts == 0 {
				r.st.Forwarded++
			} else {
				r.st.Resent++
			}
			p.attempts++
			p.sent = now
		}
	}
}

// fromRemote reads the remote's datagrams for one forwarder until c is
// closed.
func (r *Relay) fromRemote(l *link, c net.Conn) {
	buf := make([]byte, MaxDatagram)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A connected UDP socket reports the remote's ICMP "port
			// unreachable" here: the remote is down, not the socket.
			r.mu.Lock()
			r.st.RemoteErrors++
			closed := r.closed
			r.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		r.toForwarder(l, buf[:n])
	}
}

func (r *Relay) toForwarder(l *link, b []byte) {
	p, err := DecodePacket(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || p.Type.FromForwarder() {
		r.st.RemoteMalformed++
		return
	}
	r.st.LastRemote = r.cfg.Now()
	var to net.Addr
	switch p.Type {
	case PushAck:
		for i, q := range l.pending {
			if q.token != p.Token {
				continue
			}
			r.st.Acked++
			l.pending = append(l.pending[:i], l.pending[i+1:]...)
			// The forwarder gave up on a PUSH_DATA that had to be re-sent;
			// only the first sending's acknowledgement is its to see.
			if q.attempts == 1 {
				to = l.pushAddr
			}
			break
		}
	case PullAck:
		to = l.pullAddr
	case PullResp:
		to = l.pullAddr
		r.st.Downlinks++
	}
	if to == nil {
		return
	}
	if _, err := r.cfg.Conn.WriteTo(b, to); err != nil {
		r.cfg.Log.Debug("lora relay: to forwarder", "to", to.String(), "err", err)
	}
}

// Stats returns the relay's counters.
func (r *Relay) Stats() RelayStats {
	local, _ := r.reg.snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Stats = local
	for _, l := range r.links {
		st.Buffered += len(l.pending)
	}
	st.RemoteUp = !st.LastRemote.IsZero() && r.cfg.Now().Sub(st.LastRemote) < r.cfg.RemoteTimeout
	return st
}

// Forwarders returns what is known of each forwarder.
func (r *Relay) Forwarders() []ForwarderStatus {
	_, f := r.reg.snapshot()
	return f
}
