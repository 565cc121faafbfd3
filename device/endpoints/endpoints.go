package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
)

// Bounds of the allow-list.
const (
	// MaxAddrsPerName is how many addresses one name may open; a name with
	// more (a DNS answer of hundreds) keeps the first ones and is reported
	// truncated.
	MaxAddrsPerName = 16
	// MaxNames is how many names are resolved: the site's own bound.
	MaxNames = device.MaxEndpoints
	// MinTTL and MaxTTL clamp the TTL of an answer: a TTL of 0 would make
	// the gateway ask all the time, a TTL of a week would keep an address
	// the name has long left.
	MinTTL = 30 * time.Second
	MaxTTL = time.Hour
	// RetryAfter is when a name that did not resolve is asked again.
	RetryAfter = 30 * time.Second
	// LookupTimeout bounds one name's lookup on all resolvers.
	LookupTimeout = 5 * time.Second
	// Grace is how much longer than its TTL an address stays allowed (the
	// firewall's element timeout), so that the refresh made at the TTL
	// lands before the element expires.
	Grace = 30 * time.Second
)

// Errors of the allow-list and its lookups.
var (
	// ErrNotAllowed means a destination is not in the site's endpoints;
	// the error names what to add.
	ErrNotAllowed = errors.New("not in the site's endpoints")
	// ErrNotResolved means an allowed name has no address yet (its lookup
	// failed or has not happened).
	ErrNotResolved = errors.New("endpoint has no address yet")
	// ErrNoAddress means the name exists but has no A or AAAA record.
	ErrNoAddress = errors.New("no address")
	// ErrNoSuchName means the DNS says the name does not exist.
	ErrNoSuchName = errors.New("no such name")
	// ErrBadName means a host is not a DNS name.
	ErrBadName = errors.New("not a DNS name")
	// ErrBadAnswer means a DNS answer could not be used.
	ErrBadAnswer = errors.New("bad DNS answer")
	// ErrNoResolvers means there is no DNS server to ask.
	ErrNoResolvers = errors.New("no DNS resolvers configured (nameserver in /etc/resolv.conf)")
)

// Options configure a List.
type Options struct {
	// Gateway, when set, gives the list its endpoints: Run follows the
	// site's changes.
	Gateway *device.Gateway
	// Resolvers are the DNS servers asked, in order; default the system's
	// (SystemResolvers).
	Resolvers []netip.AddrPort
	// Clock is the time source (default the system clock).
	Clock  clockwork.Clock
	Logger *slog.Logger
	// OnChange is called (from Run) after the addresses changed or were
	// refreshed: the firewall replaces its table.
	OnChange func()
}

// Address is one allowed address and how long it stays allowed.
type Address struct {
	Addr    netip.Addr
	Timeout time.Duration // TTL + Grace; 0: for good (an IP endpoint)
}

// List is the site's allow-list of endpoints with what their names
// resolve to. It is safe for concurrent use.
type List struct {
	o      Options
	clk    clockwork.Clock
	log    *slog.Logger
	wake   chan struct{}
	mu     sync.Mutex
	eps    []device.Endpoint
	dirty  bool              // Set changed the list since the last refresh
	byName map[string]*entry // lower-case host without the final dot
}

type entry struct {
	host      string
	addrs     []netip.Addr
	ttl       time.Duration
	expires   time.Time // when to ask again
	truncated bool
	err       error
	literal   bool // the host is an IP address
}

// New returns an empty List (it allows everything until Set gives it
// endpoints).
func New(o Options) *List {
	l := &List{o: o, clk: o.Clock, log: o.Logger, wake: make(chan struct{}, 1), byName: map[string]*entry{}}
	if l.clk == nil {
		l.clk = clockwork.System
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l
}

func key(host string) string { return strings.ToLower(strings.TrimSuffix(host, ".")) }

// Set makes eps the allow-list (the site's endpoints). Names already
// resolved keep their addresses; new ones are resolved by Run at once.
func (l *List) Set(eps []device.Endpoint) {
	if len(eps) > MaxNames {
		eps = eps[:MaxNames]
	}
	l.mu.Lock()
	l.eps = slices.Clone(eps)
	next := map[string]*entry{}
	for _, e := range eps {
		k := key(e.Host)
		if _, ok := next[k]; ok {
			continue
		}
		if old, ok := l.byName[k]; ok {
			next[k] = old
			continue
		}
		en := &entry{host: k}
		if a, err := netip.ParseAddr(k); err == nil {
			en.addrs, en.literal = []netip.Addr{a.Unmap()}, true
		}
		next[k] = en
	}
	l.byName, l.dirty = next, true
	l.mu.Unlock()
	l.kick()
}

func (l *List) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Enforced reports whether the list restricts anything: a site without
// endpoints allows every destination.
func (l *List) Enforced() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.eps) > 0
}

// Run resolves the names and refreshes each when its TTL runs out, until
// ctx ends.
func (l *List) Run(ctx context.Context) error {
	var siteC <-chan device.Event
	if gw := l.o.Gateway; gw != nil {
		sub := gw.SubscribeTo(16, device.EventSite)
		defer sub.Close()
		siteC = sub.C()
		if s, _ := gw.Site(); s != nil {
			l.Set(s.Endpoints)
		}
	}
	for {
		next, changed := l.refresh(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if changed && l.o.OnChange != nil {
			l.o.OnChange()
		}
		var tc <-chan time.Time
		stop := func() {}
		if !next.IsZero() {
			t := l.clk.NewTimer(max(time.Second, next.Sub(l.clk.Now())))
			tc, stop = t.C(), t.Stop
		}
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-l.wake:
		case <-tc:
		case _, ok := <-siteC:
			if !ok {
				siteC = nil
				continue
			}
			if s, _ := l.o.Gateway.Site(); s != nil {
				l.Set(s.Endpoints)
			}
		}
		stop()
	}
}

// refresh looks up every name that is due and returns when the next one
// is, and whether any address or timeout changed.
func (l *List) refresh(ctx context.Context) (next time.Time, changed bool) {
	now := l.clk.Now()
	l.mu.Lock()
	changed, l.dirty = l.dirty, false
	var due []string
	for k, e := range l.byName {
		if !e.literal && !e.expires.After(now) {
			due = append(due, k)
		}
	}
	l.mu.Unlock()
	slices.Sort(due)
	for _, k := range due {
		if ctx.Err() != nil {
			return time.Time{}, changed
		}
		a, err := l.resolve(ctx, k)
		l.mu.Lock()
		e, ok := l.byName[k]
		if !ok { // the site dropped it meanwhile
			l.mu.Unlock()
			continue
		}
		now = l.clk.Now()
		if err != nil {
			if e.err == nil || e.err.Error() != err.Error() {
				l.log.Warn("endpoint does not resolve", "host", k, "err", err)
			}
			// The addresses it had stay until their own timeout in the
			// firewall; the dialers no longer use them.
			e.err, e.addrs, e.expires = err, nil, now.Add(RetryAfter)
			changed = true
		} else {
			e.err, e.addrs, e.ttl, e.truncated = nil, a.addrs, clampTTL(a.ttl), a.truncated
			e.expires = now.Add(e.ttl)
			changed = true
			if a.truncated {
				l.log.Warn("endpoint has more addresses than allowed; keeping the first", "host", k, "kept", len(a.addrs), "max", MaxAddrsPerName)
			}
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	for _, e := range l.byName {
		if !e.literal && (next.IsZero() || e.expires.Before(next)) {
			next = e.expires
		}
	}
	l.mu.Unlock()
	return next, changed
}

func clampTTL(d time.Duration) time.Duration { return min(max(d, MinTTL), MaxTTL) }

func (l *List) resolve(ctx context.Context, host string) (answer, error) {
	servers := l.o.Resolvers
	if servers == nil {
		var err error
		if servers, err = SystemResolvers(); err != nil {
			return answer{}, err
		}
	}
	if len(servers) == 0 {
		return answer{}, ErrNoResolvers
	}
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		a, err := lookup(ctx, s, host, MaxAddrsPerName)
		if err == nil {
			return a, nil
		}
		if errors.Is(err, ErrNoSuchName) {
			return a, err // an authoritative no: the other servers would agree
		}
		errs = append(errs, err)
	}
	return answer{}, fmt.Errorf("resolve %s: %w", host, errors.Join(errs...))
}

// Addresses returns every allowed address with its timeout (for the
// firewall's output sets), sorted.
func (l *List) Addresses() []Address {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[netip.Addr]time.Duration{}
	for _, e := range l.byName {
		for _, a := range e.addrs {
			t := time.Duration(0)
			if !e.literal {
				t = e.ttl + Grace
			}
			if old, ok := seen[a]; ok && (old == 0 || old > t && t != 0) {
				continue
			}
			seen[a] = t
		}
	}
	out := make([]Address, 0, len(seen))
	for a, t := range seen {
		out = append(out, Address{a, t})
	}
	slices.SortFunc(out, func(x, y Address) int { return x.Addr.Compare(y.Addr) })
	return out
}

// Health returns the list as health shows it.
func (l *List) Health() []device.EndpointHealth {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]device.EndpointHealth, 0, len(l.eps))
	for _, ep := range l.eps {
		e := l.byName[key(ep.Host)]
		h := device.EndpointHealth{Host: ep.Host, Port: ep.Port, Proto: ep.Proto.String(), Addresses: []string{}}
		if e != nil {
			for _, a := range e.addrs {
				h.Addresses = append(h.Addresses, a.String())
			}
			if !e.literal {
				h.Expires = e.expires
			}
			h.Truncated = e.truncated
			switch {
			case e.err != nil:
				h.Error = e.err.Error()
			case !e.literal && e.expires.IsZero():
				h.Error = ErrNotResolved.Error()
			}
		}
		out = append(out, h)
	}
	return out
}

// Check says whether the gateway may contact address (host:port) over
// network (tcp, tcp4, tcp6, udp, ...): nil when the list is not enforced
// or lists it, else an error wrapping ErrNotAllowed that says what to add.
// An IP address is allowed when it is one an allowed name (with that port
// and protocol) resolves to.
func (l *List) Check(network, address string) error {
	_, err := l.allowed(network, address)
	return err
}

func (l *List) allowed(network, address string) (*entry, error) {
	host, portS, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", address, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, fmt.Errorf("check %s: port %q is not a number", address, portS)
	}
	proto := device.ProtoTCP
	if strings.HasPrefix(network, "udp") {
		proto = device.ProtoUDP
	}
	k := key(host)
	ip, ipErr := netip.ParseAddr(k)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.eps) == 0 {
		return nil, nil
	}
	for _, ep := range l.eps {
		if ep.Port != port || ep.Proto != proto {
			continue
		}
		e := l.byName[key(ep.Host)]
		if key(ep.Host) == k {
			return e, nil
		}
		if ipErr == nil && e != nil && slices.Contains(e.addrs, ip.Unmap()) {
			return &entry{host: k, addrs: []netip.Addr{ip.Unmap()}, literal: true}, nil
		}
	}
	return nil, &NotAllowedError{Network: network, Address: address, Endpoint: device.Endpoint{Host: host, Port: port, Proto: proto}}
}

// NotAllowedError is a refused destination.
type NotAllowedError struct {
	Network, Address string
	Endpoint         device.Endpoint
}

func (e *NotAllowedError) Error() string {
	ep := e.Endpoint
	add := fmt.Sprintf("{host: %s, port: %d}", ep.Host, ep.Port)
	if ep.Proto != device.ProtoTCP {
		add = fmt.Sprintf("{host: %s, port: %d, proto: %s}", ep.Host, ep.Port, ep.Proto)
	}
	return fmt.Sprintf("dial %s %s: %s (add %s to endpoints to allow it)", e.Network, e.Address, ErrNotAllowed, add)
}

func (e *NotAllowedError) Unwrap() error { return ErrNotAllowed }

// DialContext dials address if the list allows it. An allowed name is
// dialled at the addresses the list resolved it to (not looked up again),
// so the connection goes where the firewall lets it; with the list not
// enforced it is an ordinary dial.
func (l *List) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	e, err := l.allowed(network, address)
	if err != nil {
		return nil, err
	}
	if e == nil || e.literal {
		return d.DialContext(ctx, network, address)
	}
	_, port, _ := net.SplitHostPort(address)
	l.mu.Lock()
	addrs, rerr := slices.Clone(e.addrs), e.err
	l.mu.Unlock()
	if len(addrs) == 0 {
		if rerr == nil {
			rerr = ErrNotResolved
		}
		return nil, fmt.Errorf("dial %s %s: %w", network, address, rerr)
	}
	var errs []error
	for _, a := range addrs {
		if (strings.HasSuffix(network, "4") && !a.Is4()) || (strings.HasSuffix(network, "6") && !a.Is6()) {
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dial %s %s: %w", network, address, errors.Join(errs...))
}
