package sshd

import (
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
)

// Limits bound what one client can cost the gateway before it has logged
// in. They exist so that a flood from a few addresses never locks others
// out: each address gets its own small budget, the global caps sit well
// above one address's share, and when the door fills up, addresses that
// hold no unauthenticated connection yet go first.
type Limits struct {
	MaxAuthTries int           // authentication attempts per connection
	LoginGrace   time.Duration // time from connect to authenticated
	// VersionTimeout is the time from connect to the client's SSH version
	// line. Every real client sends it at once; a connection that sends
	// nothing is dropped long before the login grace.
	VersionTimeout time.Duration
	MaxUnauth      int // unauthenticated connections, all addresses (MaxStartups "full")
	MaxUnauthPerIP int // unauthenticated connections per address
	// EarlyDropStart is the number of unauthenticated connections from
	// which a new connection from an address that already holds one is
	// refused at random (MaxStartups "start"): with probability
	// EarlyDropRate there, rising linearly to 1 at MaxUnauth. Addresses
	// holding none are never dropped at random, and when the door is full
	// they take the oldest slot of the address holding the most.
	EarlyDropStart int
	EarlyDropRate  float64 // MaxStartups "rate", as a fraction (0.3 = 30 %)
	AttemptRate    float64 // password/code attempts per second per address (refill)
	AttemptBurst   int     // attempts an address may make at once
	MaxArgs        int     // exec: arguments
	MaxArgBytes    int     // exec: total bytes of the command line
}

// DefaultLimits are the production bounds.
var DefaultLimits = Limits{
	MaxAuthTries:   3,
	LoginGrace:     30 * time.Second,
	VersionTimeout: 5 * time.Second,
	MaxUnauth:      64,
	MaxUnauthPerIP: 8,
	EarlyDropStart: 16,
	EarlyDropRate:  0.3,
	AttemptRate:    1,
	AttemptBurst:   6,
	MaxArgs:        64,
	MaxArgBytes:    4096,
}

// Penalties, in the spirit of OpenSSH's PerSourcePenalties: an address
// whose connections stall accrues penalty time, which runs down in real
// time; once what is left reaches penaltyMin, the address is refused until
// it has run down. Only stalls are penalised — wrong passwords already
// spend the address's attempt budget, and a client that merely disconnects
// (ssh-keyscan, a port check) costs nothing.
const (
	// penaltyNoVersion: a connection dropped for sending no version line
	// within VersionTimeout.
	penaltyNoVersion = 10 * time.Second
	// penaltyGrace: a connection cut at the login grace (OpenSSH's
	// grace-exceeded default).
	penaltyGrace = 20 * time.Second
	// penaltyMin is the accrued penalty from which an address is refused
	// (OpenSSH's default min).
	penaltyMin = 15 * time.Second
	// penaltyMax caps the accrued penalty (OpenSSH's default max).
	penaltyMax = 10 * time.Minute
)

// maxTrackedAddresses bounds the per-address table (budgets, penalties,
// slots), as OpenSSH's max-sources does. When it is full even after
// forgetting idle addresses, connections from new addresses are refused.
const maxTrackedAddresses = 65536

// withDefaults fills the zero fields of l from DefaultLimits.
func withDefaults(l Limits) Limits {
	orInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	orDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	orFloat := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	d := DefaultLimits
	orInt(&l.MaxAuthTries, d.MaxAuthTries)
	orInt(&l.MaxUnauth, d.MaxUnauth)
	orInt(&l.MaxUnauthPerIP, d.MaxUnauthPerIP)
	orInt(&l.EarlyDropStart, d.EarlyDropStart)
	orInt(&l.AttemptBurst, d.AttemptBurst)
	orInt(&l.MaxArgs, d.MaxArgs)
	orInt(&l.MaxArgBytes, d.MaxArgBytes)
	orDur(&l.LoginGrace, d.LoginGrace)
	orDur(&l.VersionTimeout, d.VersionTimeout)
	orFloat(&l.AttemptRate, d.AttemptRate)
	orFloat(&l.EarlyDropRate, d.EarlyDropRate)
	l.EarlyDropStart = min(l.EarlyDropStart, l.MaxUnauth)
	l.EarlyDropRate = min(l.EarlyDropRate, 1)
	return l
}

// refusal is why the limiter refused a connection or an attempt.
type refusal int

const (
	admitted          refusal = iota
	refusedPerAddress         // the address holds MaxUnauthPerIP slots
	refusedPenalised          // the address is serving a penalty
	refusedEarlyDrop          // random early drop of an address already holding a slot
	refusedFull               // every slot is taken by addresses holding as few
	refusedTable              // the per-address table is full
	refusedAttempts           // the address's attempt budget is spent
)

var refusalNames = map[refusal]string{
	admitted:          "admitted",
	refusedPerAddress: "too many unauthenticated connections from this address",
	refusedPenalised:  "address penalised for stalled connections",
	refusedEarlyDrop:  "the door is busy and this address already has a connection logging in",
	refusedFull:       "too many unauthenticated connections",
	refusedTable:      "too many client addresses to track",
	refusedAttempts:   "too many attempts from this address",
}

func (r refusal) String() string { return refusalNames[r] }

// limiter tracks unauthenticated connections, attempt budgets and
// penalties per source address.
type limiter struct {
	l    Limits
	clk  clockwork.Clock
	rand func() float64 // [0,1), for the early drop

	mu      sync.Mutex
	unauth  int
	perIP   map[string]*ipState
	holders map[*ipState]struct{} // addresses holding unauthenticated slots
	seq     uint64                // admission order, to find the oldest slot
	lastGC  time.Time
	refused uint64
	evicted uint64
}

type ipState struct {
	conns   []*trackedConn // unauthenticated, oldest first
	tokens  float64
	updated time.Time
	hashing chan struct{} // one password check at a time per address
	// penaltyUntil is when the accrued penalty has run down; blockedUntil
	// when the address is admitted again.
	penaltyUntil time.Time
	blockedUntil time.Time
}

func newLimiter(l Limits, clk clockwork.Clock) *limiter {
	return &limiter{l: l, clk: clk, rand: rand.Float64, perIP: map[string]*ipState{}, holders: map[*ipState]struct{}{}}
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

// state returns the entry of ip, creating it; nil when the table is full.
func (l *limiter) state(ip string) *ipState {
	st, ok := l.perIP[ip]
	if ok {
		return st
	}
	if len(l.perIP) >= maxTrackedAddresses {
		l.gc(true)
		if len(l.perIP) >= maxTrackedAddresses {
			return nil
		}
	}
	st = &ipState{tokens: float64(l.l.AttemptBurst), updated: l.clk.Now(), hashing: make(chan struct{}, 1)}
	l.perIP[ip] = st
	return st
}

// admit reserves an unauthenticated slot for c. When the door is full and
// c's address holds fewer slots than the heaviest holder, it takes the
// oldest slot of that holder: admit returns that connection as victim, for
// the caller to close. Otherwise a full door refuses.
func (l *limiter) admit(c *trackedConn) (why refusal, victim *trackedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer func() {
		if why != admitted {
			l.refused++
		}
	}()
	l.gc(false)
	st := l.state(c.ip)
	if st == nil {
		return refusedTable, nil
	}
	now := l.clk.Now()
	if now.Before(st.blockedUntil) {
		return refusedPenalised, nil
	}
	held := len(st.conns)
	if held >= l.l.MaxUnauthPerIP {
		return refusedPerAddress, nil
	}
	switch {
	case l.unauth >= l.l.MaxUnauth:
		victim = l.heaviest()
		if victim == nil || len(victim.st.conns) <= held+1 {
			return refusedFull, nil
		}
		l.remove(victim)
		l.evicted++
	case held > 0 && l.unauth >= l.l.EarlyDropStart:
		if l.rand() < l.dropChance() {
			return refusedEarlyDrop, nil
		}
	}
	l.seq++
	c.seq = l.seq
	c.st = st
	st.conns = append(st.conns, c)
	l.holders[st] = struct{}{}
	l.unauth++
	return admitted, victim
}

// dropChance is the probability of refusing an address that already holds
// a slot: EarlyDropRate at EarlyDropStart, 1 at MaxUnauth.
func (l *limiter) dropChance() float64 {
	span := l.l.MaxUnauth - l.l.EarlyDropStart
	if span <= 0 {
		return 1
	}
	return l.l.EarlyDropRate + (1-l.l.EarlyDropRate)*float64(l.unauth-l.l.EarlyDropStart)/float64(span)
}

// heaviest returns the oldest unauthenticated connection of the address
// holding the most.
func (l *limiter) heaviest() *trackedConn {
	var best *trackedConn
	for st := range l.holders {
		c := st.conns[0]
		if best == nil || len(st.conns) > len(best.st.conns) || len(st.conns) == len(best.st.conns) && c.seq < best.seq {
			best = c
		}
	}
	return best
}

// remove gives back c's slot if it still holds one.
func (l *limiter) remove(c *trackedConn) {
	st := c.st
	if st == nil {
		return
	}
	i := slices.Index(st.conns, c)
	if i < 0 {
		return
	}
	st.conns = slices.Delete(st.conns, i, i+1)
	if len(st.conns) == 0 {
		delete(l.holders, st)
	}
	l.unauth--
}

// release gives back c's unauthenticated slot (on login or disconnect); a
// second call does nothing.
func (l *limiter) release(c *trackedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(c)
}

// penalise adds d to ip's accrued penalty; once what is left of it reaches
// penaltyMin the address is refused until it has run down.
func (l *limiter) penalise(ip string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(ip)
	if st == nil {
		return
	}
	now := l.clk.Now()
	from := st.penaltyUntil
	if from.Before(now) {
		from = now
	}
	until := from.Add(d)
	if cap := now.Add(penaltyMax); until.After(cap) {
		until = cap
	}
	st.penaltyUntil = until
	if until.Sub(now) >= penaltyMin {
		st.blockedUntil = until
	}
}

// refill brings st's attempt tokens up to now.
func (l *limiter) refill(st *ipState) {
	now := l.clk.Now()
	st.tokens += now.Sub(st.updated).Seconds() * l.l.AttemptRate
	if burst := float64(l.l.AttemptBurst); st.tokens > burst {
		st.tokens = burst
	}
	st.updated = now
}

// attempt spends one attempt token of ip, refilled at AttemptRate per
// second up to AttemptBurst. It returns false when none is left.
func (l *limiter) attempt(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(ip)
	if st == nil {
		l.refused++
		return false
	}
	l.refill(st)
	if st.tokens < 1 {
		l.refused++
		return false
	}
	st.tokens--
	return true
}

// retryAfter returns how long ip must wait for its next attempt token
// (zero when it has one), rounded up to whole seconds.
func (l *limiter) retryAfter(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.perIP[ip]
	if !ok {
		return 0
	}
	l.refill(st)
	if st.tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1-st.tokens)/l.l.AttemptRate)) * time.Second
}

// hashSlot returns the per-address channel that serialises password checks
// from one address, so it can hold at most one of the hasher's global slots.
func (l *limiter) hashSlot(ip string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.state(ip); st != nil {
		return st.hashing
	}
	return nil
}

// gcEvery is how often admit forgets idle addresses.
const gcEvery = time.Minute

// gc forgets idle addresses (no slot, a full budget, no hash running, no
// penalty left) so the table cannot grow without bound; force runs it now.
func (l *limiter) gc(force bool) {
	now := l.clk.Now()
	if !force && now.Sub(l.lastGC) < gcEvery {
		return
	}
	l.lastGC = now
	for ip, st := range l.perIP {
		full := st.tokens+now.Sub(st.updated).Seconds()*l.l.AttemptRate >= float64(l.l.AttemptBurst)
		if len(st.conns) == 0 && full && len(st.hashing) == 0 && !now.Before(st.penaltyUntil) {
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

// unauthenticated returns the slots held, in all and by ip.
func (l *limiter) unauthenticated(ip string) (total, byIP int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.perIP[ip]; ok {
		byIP = len(st.conns)
	}
	return l.unauth, byIP
}
