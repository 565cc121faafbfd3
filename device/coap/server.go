package coap

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/udp"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// CipherSuites are the DTLS 1.2 PSK suites the server offers, in order of
// preference: the ones both pion/dtls and OpenSSL (libcoap's
// coap-client-openssl) agree on, checked by the interop test. CCM_8 is
// RFC 7252's mandatory suite for PSK; GCM and CBC serve clients whose
// OpenSSL security level leaves CCM_8 out.
var CipherSuites = []dtls.CipherSuiteID{
	dtls.TLS_PSK_WITH_AES_128_CCM_8,
	dtls.TLS_PSK_WITH_AES_128_GCM_SHA256,
	dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
}

// Bounds of the server, the defaults of Limits.
const (
	// MaxHandshakes bounds the handshakes in progress at once: each
	// holds a goroutine and some state until it ends or times out.
	MaxHandshakes = 64
	// MaxHandshakesPerAddr bounds them per source IP address, so that one
	// host cannot take every slot.
	MaxHandshakesPerAddr = 4
	// MaxSessions bounds the established sessions (one per sensor
	// identity: a sensor's new session ends its older one).
	MaxSessions = 1024
	// HandshakeTimeout ends a handshake that has not finished: a
	// spoofed source never answers the cookie.
	HandshakeTimeout = 10 * time.Second
	// SessionIdle ends a session that received nothing for this long.
	SessionIdle = 30 * time.Minute
	// ReplayWindow is the DTLS anti-replay window in records (RFC 6347
	// section 4.1.2.6).
	ReplayWindow = 64
	// MaxMessageSize bounds a CoAP message the server reads: a body of
	// MaxBodySize and its header and options.
	MaxMessageSize = MaxBodySize + 256
	// IdentityHint is the PSK identity hint the server sends.
	IdentityHint = "sitegate"
)

// Limits bound what the server accepts; zero fields take the defaults
// above.
type Limits struct {
	Handshakes        int
	HandshakesPerAddr int
	Sessions          int
	HandshakeTimeout  time.Duration
	SessionIdle       time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Handshakes, MaxHandshakes)
	def(&l.HandshakesPerAddr, MaxHandshakesPerAddr)
	def(&l.Sessions, MaxSessions)
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = HandshakeTimeout
	}
	if l.SessionIdle <= 0 {
		l.SessionIdle = SessionIdle
	}
	return l
}

// instance is one listening socket, the handshakes admitted on it and
// the CoAP server behind them.
type instance struct {
	d       *Driver
	address string // as configured
	ln      net.Listener
	lim     Limits
	ready   chan net.Conn // handshaken sessions for the CoAP server
	done    chan struct{} // closed by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	handshakes int
	perAddr    map[netip.Addr]int
	sessions   map[*session]struct{}
	byIdentity map[string]*session
	serveErr   error
}

// start opens the socket on address and starts the gate and the CoAP
// server.
func (d *Driver) start(ctx context.Context, address string) (*instance, error) {
	ua, err := net.ResolveUDPAddr("udp", d.o.Bind(address))
	if err != nil {
		return nil, fmt.Errorf("coap listen %s: %w", address, err)
	}
	lim := d.o.Limits.withDefaults()
	lc := udp.ListenConfig{Backlog: lim.Handshakes, AcceptFilter: isClientHello}
	ln, err := lc.Listen("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("coap listen %s: %w", address, err)
	}
	ictx, cancel := context.WithCancel(ctx)
	in := &instance{d: d, address: address, ln: ln, lim: lim, ready: make(chan net.Conn, lim.Handshakes),
		done: make(chan struct{}), cancel: cancel, perAddr: map[netip.Addr]int{},
		sessions: map[*session]struct{}{}, byIdentity: map[string]*session{}}
	srv := coapdtls.NewServer(
		options.WithContext(ictx),
		options.WithMux(d.router()),
		options.WithMaxMessageSize(MaxMessageSize),
		// Bodies fit one message; nothing is reassembled from blocks.
		options.WithBlockwise(false, blockwise.SZX1024, time.Second),
		options.WithInactivityMonitor(lim.SessionIdle, func(cc *udpclient.Conn) { _ = cc.Close() }),
		options.WithErrors(func(err error) { d.log.Debug("coap: server", "err", err) }),
	)
	in.wg.Add(2)
	go func() {
		defer in.wg.Done()
		in.acceptLoop(ictx)
	}()
	go func() {
		defer in.wg.Done()
		if err := srv.Serve(in); err != nil {
			in.mu.Lock()
			in.serveErr = err
			in.mu.Unlock()
		}
	}()
	return in, nil
}

// isClientHello keeps the first datagram of a new source only when it is
// a DTLS handshake record holding a ClientHello: anything else gets no
// state at all.
func isClientHello(p []byte) bool {
	const recordHeader = 13
	return len(p) > recordHeader && p[0] == 22 && p[recordHeader] == 1
}

// stop ends the server, the handshakes and the sessions, waits for every
// goroutine and closes the socket.
func (in *instance) stop() {
	in.cancel()
	_ = in.Close()
	in.mu.Lock()
	all := make([]*session, 0, len(in.sessions))
	for s := range in.sessions {
		all = append(all, s)
	}
	in.mu.Unlock()
	for _, s := range all {
		_ = s.Close()
	}
	in.wg.Wait()
	for {
		select {
		case c := <-in.ready:
			_ = c.Close()
		default:
			return
		}
	}
}

// AcceptWithContext hands the CoAP server the next handshaken session.
func (in *instance) AcceptWithContext(ctx context.Context) (net.Conn, error) {
	select {
	case c := <-in.ready:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-in.done:
		return nil, coapnet.ErrListenerIsClosed
	}
}

// Close closes the socket for new handshakes (the CoAP server calls it
// when it stops).
func (in *instance) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	close(in.done)
	return in.ln.Close()
}

func (in *instance) acceptLoop(ctx context.Context) {
	for {
		raw, err := in.ln.Accept()
		if err != nil {
			return // closed
		}
		addr := addrOf(raw.RemoteAddr())
		if !in.admit(addr) {
			_ = raw.Close()
			in.d.refusal(CounterBusy, raw.RemoteAddr().String(), "", "handshake or session bound reached")
			continue
		}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			in.handshake(ctx, raw, addr)
		}()
	}
}

func addrOf(a net.Addr) netip.Addr {
	if ua, ok := a.(*net.UDPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ua.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// admit takes a handshake slot for addr, or says the bounds are full.
func (in *instance) admit(addr netip.Addr) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || in.handshakes >= in.lim.Handshakes || in.perAddr[addr] >= in.lim.HandshakesPerAddr ||
		len(in.sessions)+in.handshakes >= in.lim.Sessions {
		return false
	}
	in.handshakes++
	in.perAddr[addr]++
	return true
}

func (in *instance) release(addr netip.Addr) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.handshakes--
	if in.perAddr[addr]--; in.perAddr[addr] <= 0 {
		delete(in.perAddr, addr)
	}
}

// attempt is what one handshake's PSK lookup saw. pion calls the lookup
// on its own goroutine, which may outlive a timed-out HandshakeContext.
type attempt struct {
	mu       sync.Mutex
	identity string
	known    bool
	key      []byte
}

func (a *attempt) get() (identity string, known bool, key []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.identity, a.known, a.key
}

// discard is pion's logger: the driver logs what matters itself.
var discard = &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}

// handshake runs one DTLS handshake and, when it succeeds, registers the
// session and hands it to the CoAP server.
func (in *instance) handshake(ctx context.Context, raw net.Conn, addr netip.Addr) {
	defer in.release(addr)
	d := in.d
	remote := raw.RemoteAddr().String()
	att := &attempt{}
	conn, err := dtls.ServerWithOptions(dtlsnet.PacketConnFromConn(raw), raw.RemoteAddr(),
		dtls.WithPSK(func(id []byte) ([]byte, error) {
			key, known := d.keyFor(string(id))
			att.mu.Lock()
			att.identity, att.key, att.known = string(id), key, known
			att.mu.Unlock()
			return key, nil
		}),
		dtls.WithPSKIdentityHint([]byte(IdentityHint)),
		dtls.WithCipherSuites(d.o.CipherSuites...),
		dtls.WithReplayProtectionWindow(ReplayWindow),
		dtls.WithLoggerFactory(discard),
	)
	if err != nil {
		_ = raw.Close()
		d.refusal(CounterHandshakeFailed, remote, "", err.Error())
		return
	}
	hctx, cancel := context.WithTimeout(ctx, in.lim.HandshakeTimeout)
	err = conn.HandshakeContext(hctx)
	cancel()
	identity, known, key := att.get()
	if err != nil {
		_ = conn.Close()
		if ctx.Err() != nil {
			return // shutting down
		}
		switch {
		case identity != "" && !known:
			d.refusal(CounterUnknownIdentity, remote, identity, "")
		case identity != "":
			d.sensorRefused(identity, CounterBadKey)
			d.refusal(CounterBadKey, remote, identity, "")
		case errors.Is(err, context.DeadlineExceeded):
			d.refusal(CounterHandshakeTimeout, remote, "", "")
		default:
			d.refusal(CounterHandshakeFailed, remote, "", err.Error())
		}
		return
	}
	if !known {
		// The dummy key matched: never, short of a broken random source.
		_ = conn.Close()
		d.refusal(CounterUnknownIdentity, remote, identity, "")
		return
	}
	s := &session{Conn: conn, in: in, identity: identity, key: key}
	old, ok := in.register(s)
	if !ok {
		_ = conn.Close()
		d.refusal(CounterBusy, remote, identity, "session bound reached")
		return
	}
	if old != nil {
		d.stats.add(CounterSessionsReplaced, 1)
		_ = old.Close()
	}
	d.stats.add(CounterHandshakes, 1)
	select {
	case in.ready <- s:
	case <-ctx.Done():
		_ = s.Close()
	}
}

// register adds s, returning the identity's older session to end; false
// when the session bound is full or the sensor changed meanwhile.
func (in *instance) register(s *session) (old *session, ok bool) {
	key, known := in.d.keyFor(s.identity)
	if !known || subtle.ConstantTimeCompare(key, s.key) != 1 {
		return nil, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || len(in.sessions) >= in.lim.Sessions {
		return nil, false
	}
	old = in.byIdentity[s.identity]
	in.sessions[s] = struct{}{}
	in.byIdentity[s.identity] = s
	return old, true
}

func (in *instance) unregister(s *session) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.sessions, s)
	if in.byIdentity[s.identity] == s {
		delete(in.byIdentity, s.identity)
	}
}

// endSessions ends the sessions whose identity no longer has the key it
// was established with (a sensor removed, or its key changed), and
// returns how many.
func (in *instance) endSessions() int {
	in.mu.Lock()
	var stale []*session
	for s := range in.sessions {
		key, known := in.d.keyFor(s.identity)
		if !known || subtle.ConstantTimeCompare(key, s.key) != 1 {
			stale = append(stale, s)
		}
	}
	in.mu.Unlock()
	for _, s := range stale {
		_ = s.Close()
	}
	return len(stale)
}

// counts returns the handshakes in progress and the sessions.
func (in *instance) counts() (handshakes, sessions int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.handshakes, len(in.sessions)
}

// session is an established DTLS session of a sensor. Embedding the
// net.Conn interface (not *dtls.Conn) hides the handshake method from the
// CoAP server: the handshake is done.
type session struct {
	net.Conn
	in       *instance
	identity string
	key      []byte
	once     sync.Once
}

// Close closes the session and frees its slot.
func (s *session) Close() error {
	err := s.Conn.Close()
	s.once.Do(func() { s.in.unregister(s) })
	return err
}
