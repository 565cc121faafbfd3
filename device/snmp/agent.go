package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/sitegate/sitegate/device"
)

// Bounds of the requests sent to an agent.
const (
	// MaxOIDsPerRequest bounds the OIDs of one GET: small agents (UPS
	// cards, PDUs) answer tooBig or nothing to long requests.
	MaxOIDsPerRequest = 16
	// MaxRepetitions is the GETBULK max-repetitions of a walk: rows asked
	// per request.
	MaxRepetitions = 25
	// MaxWalkRows bounds an exec `snmp walk`.
	MaxWalkRows = 1000
	// MaxResponseBytes is the largest answer read: gosnmp's receive buffer,
	// the largest UDP datagram. A longer answer cannot arrive.
	MaxResponseBytes = 65535
	// MaxVarsPerResponse bounds the varbinds taken from one answer: an
	// agent that answers a GETBULK with more than it was asked for is cut.
	MaxVarsPerResponse = MaxRepetitions * 2
)

// Errors of the agent side.
var (
	// ErrTimeout means the agent did not answer in time after every retry.
	ErrTimeout = errors.New("no answer from the agent (timeout)")
	// ErrAuth means the agent refused the v3 credentials.
	ErrAuth = errors.New("the agent refused the SNMPv3 credentials")
	// ErrAgent means the agent answered with an error status.
	ErrAgent = errors.New("the agent answered with an error")
	// ErrGarbled means the agent's answer is not SNMP gosnmp can decode.
	ErrGarbled = errors.New("the agent's answer is not valid SNMP")
	// ErrWalkLoop means a walk's OIDs did not increase: a broken agent.
	ErrWalkLoop = errors.New("the agent's walk does not advance (its OIDs do not increase)")
)

// errKind names the Status.Errors bucket of err.
func errKind(err error) string {
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrAgent):
		return "agent"
	case errors.Is(err, ErrWalkLoop):
		return "walk"
	case errors.Is(err, ErrGarbled):
		return "decode"
	case errors.Is(err, ErrNoSuchObject):
		return "no_such_object"
	}
	return "connection"
}

// agent is one device's gosnmp session; its methods take turns.
type agent struct {
	turn     chan struct{} // one request at a time; taking it heeds ctx
	mu       sync.Mutex    // the figures below
	dev      device.SNMPDevice
	g        *gosnmp.GoSNMP // nil until connected
	requests uint64         // requests sent (under mu)
	latency  time.Duration  // of the last request answered (under mu)
}

func newAgent(d device.SNMPDevice) *agent { return &agent{dev: d, turn: make(chan struct{}, 1)} }

// take waits for the agent's turn, or for ctx to end.
func (a *agent) take(ctx context.Context) error {
	select {
	case a.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *agent) give() { <-a.turn }

// session builds the gosnmp session of d; it does not connect.
func session(d device.SNMPDevice) (*gosnmp.GoSNMP, error) {
	host, portText, err := net.SplitHostPort(d.EffectiveAddress())
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", d.Address, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("address %q: port: %w", d.Address, err)
	}
	g := &gosnmp.GoSNMP{
		Target:         host,
		Port:           uint16(port),
		Transport:      "udp",
		Timeout:        d.EffectiveTimeout(),
		Retries:        d.EffectiveRetries(),
		MaxOids:        MaxOIDsPerRequest,
		MaxRepetitions: MaxRepetitions,
		// No Logger: gosnmp's debug output would print packets, and with
		// them communities.
	}
	switch d.Version {
	case device.SNMPv2c:
		g.Version = gosnmp.Version2c
		g.Community = d.Community.Reveal()
	case device.SNMPv3:
		if d.User == nil {
			return nil, errors.New("v3 device without a user")
		}
		u := d.User
		sp := &gosnmp.UsmSecurityParameters{UserName: u.Name, AuthenticationPassphrase: u.AuthKey.Reveal()}
		switch u.Auth {
		case device.SNMPAuthSHA256:
			sp.AuthenticationProtocol = gosnmp.SHA256
		case device.SNMPAuthSHA512:
			sp.AuthenticationProtocol = gosnmp.SHA512
		default:
			return nil, fmt.Errorf("v3 user %q has no authentication protocol", u.Name)
		}
		g.MsgFlags = gosnmp.AuthNoPriv
		switch u.Priv {
		case device.SNMPPrivAES128:
			sp.PrivacyProtocol, g.MsgFlags = gosnmp.AES, gosnmp.AuthPriv
		case device.SNMPPrivAES256:
			sp.PrivacyProtocol, g.MsgFlags = gosnmp.AES256, gosnmp.AuthPriv
		}
		if g.MsgFlags == gosnmp.AuthPriv {
			sp.PrivacyPassphrase = u.PrivKey.Reveal()
		}
		g.Version, g.SecurityModel, g.SecurityParameters = gosnmp.Version3, gosnmp.UserSecurityModel, sp
		g.ContextName = u.ContextName
	default:
		return nil, fmt.Errorf("unknown SNMP version %v", d.Version)
	}
	return g, nil
}

// connect opens the session; called with the turn held.
func (a *agent) connect(ctx context.Context) error {
	if a.g != nil {
		return nil
	}
	g, err := session(a.dev)
	if err != nil {
		return err
	}
	g.Context = ctx
	if err := g.Connect(); err != nil {
		return fmt.Errorf("open %s: %w", a.dev.EffectiveAddress(), err)
	}
	a.g = g
	return nil
}

// reset drops the session (after an error that may have left it in a bad
// state: a late answer, a lost v3 engine time); called with the turn
// held.
func (a *agent) reset() {
	if a.g != nil && a.g.Conn != nil {
		_ = a.g.Conn.Close()
	}
	a.g = nil
}

func (a *agent) close() {
	a.turn <- struct{}{}
	a.reset()
	a.give()
}

// do runs one request with ctx as its deadline and classifies its error;
// called with the turn held.
func (a *agent) do(ctx context.Context, req func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error)) (*gosnmp.SnmpPacket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := a.connect(ctx); err != nil {
		return nil, err
	}
	a.g.Context = ctx
	// gosnmp looks at ctx only between attempts: closing the socket ends
	// a wait at once when ctx ends (shutdown, an exec session closed).
	conn := a.g.Conn
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	a.mu.Lock()
	a.requests++
	a.mu.Unlock()
	t0 := time.Now()
	pkt, err := req(a.g)
	if err == nil {
		a.mu.Lock()
		a.latency = time.Since(t0)
		a.mu.Unlock()
	}
	if err != nil {
		a.reset()
		err = classify(ctx, err)
		if errors.Is(err, ErrTimeout) {
			hint := "the community (an agent does not answer a wrong one)"
			if a.dev.Version == device.SNMPv3 {
				hint = "the privacy key and protocol (an agent does not answer what it cannot decrypt)"
			}
			err = fmt.Errorf("%w: check the address, that the agent is reachable, and %s", err, hint)
		}
		return nil, err
	}
	if pkt.Error != gosnmp.NoError {
		return pkt, fmt.Errorf("%w: %s (at varbind %d)", ErrAgent, pkt.Error, pkt.ErrorIndex)
	}
	return pkt, nil
}

func classify(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return fmt.Errorf("%w: unknown user name (usmStatsUnknownUserNames)", ErrAuth)
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return fmt.Errorf("%w: wrong authentication key or protocol (usmStatsWrongDigests)", ErrAuth)
	case errors.Is(err, gosnmp.ErrDecryption):
		return fmt.Errorf("%w: wrong privacy key or protocol (usmStatsDecryptionErrors)", ErrAuth)
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return fmt.Errorf("%w: the user does not allow this security level (usmStatsUnsupportedSecLevels)", ErrAuth)
	case strings.Contains(err.Error(), "not authentic"):
		// The agent's answer (its usmStatsWrongDigests report, or a
		// report keyed for another password) fails our digest check.
		return fmt.Errorf("%w: unknown user name, or wrong authentication key or protocol (the agent's answer is not authentic with this key)", ErrAuth)
	case strings.Contains(err.Error(), "sanity"), strings.Contains(err.Error(), "unable to decode"),
		strings.Contains(err.Error(), "unmarshal"), strings.Contains(err.Error(), "invalid"):
		return fmt.Errorf("%w: %v", ErrGarbled, err)
	case strings.Contains(err.Error(), "timeout"):
		return ErrTimeout
	case strings.Contains(err.Error(), "authenticat"):
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	return fmt.Errorf("request: %w", err)
}

// get reads oids (at most MaxOIDsPerRequest per request), in order.
func (a *agent) get(ctx context.Context, oids []string) ([]Var, error) {
	if err := a.take(ctx); err != nil {
		return nil, err
	}
	defer a.give()
	out := make([]Var, 0, len(oids))
	for start := 0; start < len(oids); start += MaxOIDsPerRequest {
		chunk := oids[start:min(start+MaxOIDsPerRequest, len(oids))]
		pkt, err := a.do(ctx, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) { return g.Get(chunk) })
		if err != nil {
			return out, err
		}
		if len(pkt.Variables) != len(chunk) {
			return out, fmt.Errorf("%w: %d varbinds for %d OIDs asked", ErrAgent, len(pkt.Variables), len(chunk))
		}
		for i, p := range pkt.Variables {
			v := decodeVar(p)
			if v.OID != chunk[i] {
				return out, fmt.Errorf("%w: answered %s for %s", ErrAgent, v.OID, chunk[i])
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// figures returns the requests sent and the last latency.
func (a *agent) figures() (uint64, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests, a.latency
}

// walk reads the subtree under root with GETBULK, at most maxRows
// varbinds; truncated says it stopped at the bound with more to come.
func (a *agent) walk(ctx context.Context, root string, maxRows int) (vars []Var, truncated bool, err error) {
	if err := a.take(ctx); err != nil {
		return nil, false, err
	}
	defer a.give()
	prefix := root + "."
	cur := root
	for len(vars) < maxRows {
		reps := uint32(min(MaxRepetitions, maxRows-len(vars)+1))
		pkt, err := a.do(ctx, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return g.GetBulk([]string{cur}, 0, reps)
		})
		if err != nil {
			return vars, false, err
		}
		if len(pkt.Variables) == 0 {
			return vars, false, nil
		}
		for _, p := range pkt.Variables[:min(len(pkt.Variables), MaxVarsPerResponse)] {
			v := decodeVar(p)
			if v.missing || !strings.HasPrefix(v.OID, prefix) {
				return vars, false, nil // past the subtree, or the end of the view
			}
			if !oidAfter(v.OID, cur) {
				return vars, false, fmt.Errorf("%w: %s after %s", ErrWalkLoop, v.OID, cur)
			}
			if len(vars) == maxRows {
				return vars, true, nil
			}
			vars = append(vars, v)
			cur = v.OID
		}
	}
	// Exactly maxRows read: is there more?
	pkt, err := a.do(ctx, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) { return g.GetNext([]string{cur}) })
	if err != nil {
		return vars, false, err
	}
	if len(pkt.Variables) > 0 {
		v := decodeVar(pkt.Variables[0])
		return vars, !v.missing && strings.HasPrefix(v.OID, prefix), nil
	}
	return vars, false, nil
}

// oidAfter reports whether OID a sorts after b (lexicographically by
// sub-identifier). Both are dotted numbers without a leading dot.
func oidAfter(a, b string) bool { return compareOID(a, b) > 0 }

func compareOID(a, b string) int {
	for a != "" && b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}
