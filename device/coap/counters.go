package coap

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Counter names one of the server's counters (health, `coap sensors`).
type Counter uint8

// Counters of the server. Refusals each have their own.
const (
	CounterHandshakes        Counter = iota // handshakes completed
	CounterUnknownIdentity                  // refused: the identity is no sensor of the site
	CounterBadKey                           // refused: a known identity whose handshake failed (a wrong key)
	CounterHandshakeFailed                  // refused: the handshake failed before an identity (no common suite, garbage)
	CounterHandshakeTimeout                 // refused: the handshake did not finish in time
	CounterBusy                             // refused: the handshake or session bounds were full
	CounterSessionsReplaced                 // a sensor's new session ended its older one
	CounterSessionsEnded                    // sessions ended by a site change (sensor removed, key changed)
	CounterBodies                           // readings bodies accepted
	CounterReadings                         // readings accepted into the field layer
	CounterMalformed                        // refused: a body that does not decode
	CounterTooLarge                         // refused: a body over MaxBodySize
	CounterUnsupportedFormat                // refused: neither JSON nor CBOR
	CounterStale                            // refused: a body with a time outside the accepted window
	CounterReplayed                         // dropped: readings not newer than one already accepted
	CounterUnknownPoint                     // dropped: readings of points the sensor does not list
	CounterBadRequest                       // refused: an unknown resource or method
	numCounters
)

var counterNames = [numCounters]string{"handshakes", "unknown_identity", "bad_key", "handshake_failed", "handshake_timeout",
	"busy", "sessions_replaced", "sessions_ended", "bodies", "readings", "malformed", "too_large",
	"unsupported_format", "stale", "replayed", "unknown_point", "bad_request"}

// String returns the counter's name as health spells it.
func (c Counter) String() string {
	if c < numCounters {
		return counterNames[c]
	}
	return "counter(" + strconv.Itoa(int(c)) + ")"
}

// ParseCounter returns the counter called s.
func ParseCounter(s string) (Counter, bool) {
	for i, n := range counterNames {
		if n == s {
			return Counter(i), true
		}
	}
	return 0, false
}

// counters are the server's counters since the driver started.
type counters [numCounters]atomic.Uint64

func (c *counters) add(k Counter, n uint64) { c[k].Add(n) }

func (c *counters) snapshot() map[string]uint64 {
	out := make(map[string]uint64, numCounters)
	for i := range c {
		out[Counter(i).String()] = c[i].Load()
	}
	return out
}

// MaxLogsPerSecond bounds the refusals logged per second: a flood is
// counted in full but logs only this many lines, and then one line that
// says how many were not logged.
const MaxLogsPerSecond = 10

// logLimiter drops log lines beyond MaxLogsPerSecond.
type logLimiter struct {
	mu      sync.Mutex
	window  time.Time
	n       int
	dropped int
}

// allow reports whether a line may be logged now, and how many lines were
// dropped in the last window (to be said once).
func (l *logLimiter) allow(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Second {
		dropped, l.dropped = l.dropped, 0
		l.window, l.n = now, 0
	}
	if l.n >= MaxLogsPerSecond {
		l.dropped++
		return false, 0
	}
	l.n++
	return true, dropped
}

// refusal logs one refusal, never with a secret: outside text (an unknown
// identity) is quoted and truncated.
func (d *Driver) refusal(c Counter, addr string, identity string, detail string) {
	d.stats.add(c, 1)
	ok, dropped := d.logs.allow(d.o.Clock.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		d.log.Warn("coap: refusals not logged (rate bound)", "count", dropped)
	}
	attrs := []any{"reason", c.String(), "remote", addr}
	if identity != "" {
		attrs = append(attrs, "identity", strconv.Quote(truncate(identity)))
	}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	d.log.Warn("coap: refused", attrs...)
}
