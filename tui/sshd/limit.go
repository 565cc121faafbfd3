package sshd

import (
	"net"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
)

// Limits bound what one client can cost the gateway before it has logged
// in. They exist so that a flood from one address never slows other users:
// each address gets its own small budget, and the global caps sit well
// above one address's share.
type Limits struct {
	MaxAuthTries   int           // authentication attempts per connection
	LoginGrace     time.Duration // time from connect to authenticated
	MaxUnauth      int           // unauthenticated connections, all addresses
	MaxUnauthPerIP int           // unauthenticated connections per address
	AttemptRate    float64       // password/code attempts per second per address (refill)
	AttemptBurst   int           // attempts an address may make at once
	MaxArgs        int           // exec: arguments
	MaxArgBytes    int           // exec: total bytes of the command line
}

// DefaultLimits are the production bounds.
var DefaultLimits = Limits{
	MaxAuthTries:   3,
	LoginGrace:     30 * time.Second,
	MaxUnauth:      64,
	MaxUnauthPerIP: 8,
	AttemptRate:    1,
	AttemptBurst:   6,
	MaxArgs:        64,
	MaxArgBytes:    4096,
}

// withDefaults fills the zero fields of l from DefaultLimits.
func withDefaults(l Limits) Limits {
	orInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	d := DefaultLimits
	orInt(&l.MaxAuthTries, d.MaxAuthTries)
	orInt(&l.MaxUnauth, d.MaxUnauth)
	orInt(&l.MaxUnauthPerIP, d.MaxUnauthPerIP)
	orInt(&l.AttemptBurst, d.AttemptBurst)
	orInt(&l.MaxArgs, d.MaxArgs)
	orInt(&l.MaxArgBytes, d.MaxArgBytes)
	if l.LoginGrace <= 0 {
		l.LoginGrace = d.LoginGrace
	}
	if l.AttemptRate <= 0 {
		l.AttemptRate = d.AttemptRate
	}
	return l
}

// limiter tracks unauthenticated connections and attempt budgets per
// source address.
type limiter struct {
	l   Limits
	clk clockwork.Clock

	mu      sync.Mutex
	unauth  int
	perIP   map[string]*ipState
	lastGC  time.Time
	refused uint64
}

type ipState struct {
	unauth  int
	tokens  float64
	updated time.Time
	hashing chan struct{} // one password check at a time per address
}

func newLimiter(l Limits, clk clockwork.Clock) *limiter {
	return &limiter{l: l, clk: clk, perIP: map[string]*ipState{}}
}

// ipOf returns the address a client's budget is kept under: its IPv4
// address, or its IPv6 /64 (one host usually holds a whole /64, so
// counting single IPv6 addresses would give it unlimited budgets).
func ipOf(addr net.Addr) string {
	var ip net.IP
	if tcp, ok := addr.(*net.TCPAddr); ok {
		ip = tcp.IP
	} else if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		ip = net.ParseIP(host)
	}
	if ip == nil {
		return addr.String()
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

func (l *limiter) state(ip string) *ipState {
	st, ok := l.perIP[ip]
	if !ok {
		st = &ipState{tokens: float64(l.l.AttemptBurst), updated: l.clk.Now(), hashing: make(chan struct{}, 1)}
		l.perIP[ip] = st
	}
	return st
}

// admit reserves an unauthenticated slot for a new connection from ip. It
// returns false when the address or the gateway is at its cap.
func (l *limiter) admit(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc()
	st := l.state(ip)
	if st.unauth >= l.l.MaxUnauthPerIP || l.unauth >= l.l.MaxUnauth {
		l.refused++
		return false
	}
	st.unauth++
	l.unauth++
	return true
}

// release gives back an unauthenticated slot (on login or disconnect).
func (l *limiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.perIP[ip]; ok && st.unauth > 0 {
		st.unauth--
		l.unauth--
	}
}

// attempt spends one attempt token of ip, refilled at AttemptRate per
// second up to AttemptBurst. It returns false when none is left.
func (l *limiter) attempt(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(ip)
	now := l.clk.Now()
	st.tokens += now.Sub(st.updated).Seconds() * l.l.AttemptRate
	if max := float64(l.l.AttemptBurst); st.tokens > max {
		st.tokens = max
	}
	st.updated = now
	if st.tokens < 1 {
		l.refused++
		return false
	}
	st.tokens--
	return true
}

// hashSlot returns the per-address channel that serialises password checks
// from one address, so it can hold at most one of the hasher's global slots.
func (l *limiter) hashSlot(ip string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state(ip).hashing
}

// gcEvery is how often admit forgets idle addresses.
const gcEvery = time.Minute

// gc forgets idle addresses so the table cannot grow without bound.
func (l *limiter) gc() {
	now := l.clk.Now()
	if now.Sub(l.lastGC) < gcEvery {
		return
	}
	l.lastGC = now
	for ip, st := range l.perIP {
		full := st.tokens+now.Sub(st.updated).Seconds()*l.l.AttemptRate >= float64(l.l.AttemptBurst)
		if st.unauth == 0 && full && len(st.hashing) == 0 {
			delete(l.perIP, ip)
		}
	}
}

// Refused returns how many connections and attempts the limits refused.
func (l *limiter) Refused() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}
