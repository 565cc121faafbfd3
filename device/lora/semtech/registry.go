package semtech

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// Default bounds. A site's concentrator is one forwarder sending a few
// datagrams a second; the bounds leave room for a handful and for bursts,
// and stop a runaway one from costing the others their share.
const (
	// DefaultMaxForwarders bounds the forwarder table.
	DefaultMaxForwarders = 16
	// DefaultRate is the sustained datagrams per second one source address
	// may send; DefaultBurst the bucket's depth.
	DefaultRate  = 100
	DefaultBurst = 200
	// MaxSources bounds the rate buckets kept; the stalest is dropped for a
	// new source when full.
	MaxSources = 64
)

// Limits bound what the servers accept. The zero value means the defaults
// and any gateway.
type Limits struct {
	// Gateways, when not empty, are the only gateway EUIs accepted; others
	// are counted (UnknownGateway) and dropped.
	Gateways []lorawan.EUI64
	// MaxForwarders bounds the forwarder table (DefaultMaxForwarders).
	MaxForwarders int
	// Rate (datagrams/s) and Burst bound each source address
	// (DefaultRate, DefaultBurst).
	Rate  float64
	Burst int
}

func (l Limits) withDefaults() Limits {
	if l.MaxForwarders <= 0 {
		l.MaxForwarders = DefaultMaxForwarders
	}
	if l.Rate <= 0 {
		l.Rate = DefaultRate
	}
	if l.Burst <= 0 {
		l.Burst = DefaultBurst
	}
	return l
}

// ForwarderStatus is what is known of one packet forwarder.
type ForwarderStatus struct {
	GatewayEUI lorawan.EUI64 `json:"gateway_eui"`
	// PushAddr sent the last PUSH_DATA; PullAddr the last PULL_DATA, and
	// downlinks go there.
	PushAddr string    `json:"push_addr,omitempty"`
	PullAddr string    `json:"pull_addr,omitempty"`
	LastPush time.Time `json:"last_push_data,omitzero"`
	LastPull time.Time `json:"last_pull_data,omitzero"`
	// LastStat is the last stat report, received at LastStatAt.
	LastStat   *Stat     `json:"last_stat,omitempty"`
	LastStatAt time.Time `json:"last_stat_at,omitzero"`
	// RXPackets counts rxpk objects received (CRC errors included).
	RXPackets uint64 `json:"rx_packets"`
	// CRCErrors counts rxpk whose stat is not 1 (CRC bad, or no CRC).
	CRCErrors uint64 `json:"crc_errors"`
	// BadPackets counts refused rxpk (broken base64, wrong size).
	BadPackets  uint64 `json:"bad_packets"`
	RateLimited uint64 `json:"rate_limited"`
	TxSent      uint64 `json:"tx_sent"`
	TxAcked     uint64 `json:"tx_acked"`
	TxFailed    uint64 `json:"tx_failed"`
	// LastTxError is the verdict of the last TX_ACK.
	LastTxError string `json:"last_tx_error,omitempty"`

	pullAddr net.Addr
}

// Stats are a server's counters since it was created.
type Stats struct {
	Datagrams uint64 `json:"datagrams"`
	// Malformed datagrams: truncated, wrong version, unknown or misdirected type.
	Malformed uint64 `json:"malformed"`
	// BadJSON counts PUSH_DATA and TX_ACK whose object does not parse.
	BadJSON uint64 `json:"bad_json"`
	// BadRXPK counts rxpk objects refused (base64, size, shape).
	BadRXPK           uint64 `json:"bad_rxpk"`
	UnknownGateway    uint64 `json:"unknown_gateway"`
	TooManyForwarders uint64 `json:"too_many_forwarders"`
	RateLimited       uint64 `json:"rate_limited"`
	// RXPackets counts rxpk received; CRCErrors those with stat != 1.
	RXPackets   uint64 `json:"rx_packets"`
	CRCErrors   uint64 `json:"crc_errors"`
	StatReports uint64 `json:"stat_reports"`
	TxSent      uint64 `json:"tx_sent"`
	TxAcked     uint64 `json:"tx_acked"`
	TxFailed    uint64 `json:"tx_failed"`
}

type bucket struct {
	tokens float64
	last   time.Time
}

// registry is the state both servers share: forwarders, rate buckets and
// counters. Its methods are safe for concurrent use.
type registry struct {
	limits  Limits
	allowed map[lorawan.EUI64]bool // nil: any
	now     func() time.Time

	mu      sync.Mutex
	fwd     map[lorawan.EUI64]*ForwarderStatus
	buckets map[string]*bucket
	stats   Stats
}

func newRegistry(l Limits, now func() time.Time) *registry {
	l = l.withDefaults()
	r := &registry{limits: l, now: now, fwd: map[lorawan.EUI64]*ForwarderStatus{}, buckets: map[string]*bucket{}}
	if now == nil {
		r.now = time.Now
	}
	if len(l.Gateways) > 0 {
		r.allowed = map[lorawan.EUI64]bool{}
		for _, g := range l.Gateways {
			r.allowed[g] = true
		}
	}
	return r
}

// inbound is a datagram from a forwarder, admitted.
type inbound struct {
	pkt  Packet
	push Push // for PUSH_DATA: the good rxpk, with CRC errors removed
	at   time.Time
}

// admit checks a datagram from a forwarder and records it: header, rate,
// gateway, JSON. Refused datagrams change nothing but the counters.
func (r *registry) admit(addr net.Addr, b []byte) (inbound, error) {
	now := r.now()
	in := inbound{at: now}
	p, err := DecodePacket(b)
	if err == nil && !p.Type.FromForwarder() {
		err = fmt.Errorf("%s from a forwarder: %w", p.Type, ErrType)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Datagrams++
	if err != nil {
		r.stats.Malformed++
		return in, err
	}
	in.pkt = p
	if !r.take(addr.String(), now) {
		r.stats.RateLimited++
		if f := r.fwd[p.GatewayEUI]; f != nil {
			f.RateLimited++
		}
		return in, fmt.Errorf("%s from %s: %w", p.Type, addr, ErrRateLimited)
	}
	if r.allowed != nil && !r.allowed[p.GatewayEUI] {
		r.stats.UnknownGateway++
		return in, fmt.Errorf("gateway %s: %w", p.GatewayEUI, ErrUnknownGateway)
	}
	var push Push
	var txErr TxError
	switch p.Type {
	case PushData:
		if push, err = DecodePush(p.JSON); err != nil {
			r.stats.BadJSON++
			return in, err
		}
	case TxAck:
		if txErr, err = DecodeTxAck(p.JSON); err != nil && txErr == 0 {
			r.stats.BadJSON++
			return in, err
		}
	}
	f := r.fwd[p.GatewayEUI]
	if f == nil {
		if len(r.fwd) >= r.limits.MaxForwarders {
			r.stats.TooManyForwarders++
			return in, fmt.Errorf("gateway %s: %d known: %w", p.GatewayEUI, len(r.fwd), ErrTooManyForwarders)
		}
		f = &ForwarderStatus{GatewayEUI: p.GatewayEUI}
		r.fwd[p.GatewayEUI] = f
	}
	switch p.Type {
	case PullData:
		f.LastPull, f.PullAddr, f.pullAddr = now, addr.String(), addr
	case TxAck:
		if txErr == TxNone {
			r.stats.TxAcked++
			f.TxAcked++
		} else {
			r.stats.TxFailed++
			f.TxFailed++
		}
		f.LastTxError = txErr.String()
	case PushData:
		f.LastPush, f.PushAddr = now, addr.String()
		r.stats.BadRXPK += uint64(len(push.Refused))
		f.BadPackets += uint64(len(push.Refused))
		if push.Stat != nil {
			r.stats.StatReports++
			st := *push.Stat
			f.LastStat, f.LastStatAt = &st, now
		}
		good := push.RXPK[:0]
		for _, rx := range push.RXPK {
			r.stats.RXPackets++
			f.RXPackets++
			if rx.Stat != CRCOK {
				r.stats.CRCErrors++
				f.CRCErrors++
				continue
			}
			good = append(good, rx)
		}
		push.RXPK = good
		in.push = push
	}
	return in, nil
}

// take spends one token of addr's bucket.
func (r *registry) take(addr string, now time.Time) bool {
	b := r.buckets[addr]
	if b == nil {
		if len(r.buckets) >= MaxSources {
			var stalest string
			for k, v := range r.buckets {
				if stalest == "" || v.last.Before(r.buckets[stalest].last) {
					stalest = k
				}
			}
			delete(r.buckets, stalest)
		}
		b = &bucket{tokens: float64(r.limits.Burst), last: now}
		r.buckets[addr] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(r.limits.Burst), b.tokens+el*r.limits.Rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// pullAddr returns where the gateway's downlinks go.
func (r *registry) pullAddr(gw lorawan.EUI64) (net.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.fwd[gw]
	if f == nil || f.pullAddr == nil {
		return nil, fmt.Errorf("gateway %s: %w", gw, ErrNoDownlinkPath)
	}
	return f.pullAddr, nil
}

func (r *registry) countTx(gw lorawan.EUI64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.TxSent++
	if f := r.fwd[gw]; f != nil {
		f.TxSent++
	}
}

func (r *registry) snapshot() (Stats, []ForwarderStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ForwarderStatus, 0, len(r.fwd))
	for _, f := range r.fwd {
		c := *f
		if f.LastStat != nil {
			st := *f.LastStat
			c.LastStat = &st
		}
		c.pullAddr = nil
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ForwarderStatus) int { return slices.Compare(a.GatewayEUI[:], b.GatewayEUI[:]) })
	return r.stats, out
}
