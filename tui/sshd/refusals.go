package sshd

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
)

// The system log keeps a bounded number of lines in memory (`ssh gw logs`),
// so a brute force or a flood must not be able to write a line per refused
// attempt and push everything else out. Refusals are summed per address
// and reason over a window: the first one of each is logged as it happens,
// the rest as one line at the end of the window ("412 refused from
// 10.0.0.7 in the last 10 s").
const (
	// refusalWindow is the period over which refusals are summed.
	refusalWindow = 10 * time.Second
	// maxRefusalSources bounds the address and reason pairs logged on
	// their own in one window; refusals beyond them are summed in one
	// line for all other addresses. At most 2×16+1 lines per window.
	maxRefusalSources = 16
)

type refusalKey struct{ remote, reason string }

// refusalLog sums repeated refusals into one line per address and window.
type refusalLog struct {
	log *slog.Logger
	clk clockwork.Clock

	mu     sync.Mutex
	start  time.Time          // of the current window
	counts map[refusalKey]int // refusals after the first of each pair
	others int                // refusals of pairs beyond maxRefusalSources
}

func newRefusalLog(log *slog.Logger, clk clockwork.Clock) *refusalLog {
	return &refusalLog{log: log, clk: clk, start: clk.Now(), counts: map[refusalKey]int{}}
}

// note records one refusal of remote for reason; the first of its pair in
// the window is logged now, with attrs.
func (r *refusalLog) note(remote, reason string, attrs ...any) {
	r.mu.Lock()
	lines := r.rollLocked(false)
	k := refusalKey{remote, reason}
	n, seen := r.counts[k]
	logNow := false
	switch {
	case seen:
		r.counts[k] = n + 1
	case len(r.counts) >= maxRefusalSources:
		r.others++
	default:
		r.counts[k] = 0
		logNow = true
	}
	r.mu.Unlock()
	r.emit(lines)
	if logNow {
		r.log.Warn(reason, append([]any{"remote", remote}, attrs...)...)
	}
}

// summary is one line to log at the end of a window.
type summary struct {
	msg  string
	args []any
}

// rollLocked ends the window when it is over (or when force), returning
// the summaries to log.
func (r *refusalLog) rollLocked(force bool) []summary {
	now := r.clk.Now()
	elapsed := now.Sub(r.start)
	if !force && elapsed < refusalWindow {
		return nil
	}
	secs := max(int((elapsed+time.Second/2)/time.Second), 1)
	var out []summary
	for k, n := range r.counts {
		if n > 0 {
			out = append(out, summary{fmt.Sprintf("%d refused from %s in the last %d s", n, k.remote, secs), []any{"reason", k.reason, "remote", k.remote, "count", n}})
		}
	}
	if r.others > 0 {
		out = append(out, summary{fmt.Sprintf("%d refused from other addresses in the last %d s", r.others, secs), []any{"count", r.others}})
	}
	r.start, r.counts, r.others = now, map[refusalKey]int{}, 0
	return out
}

func (r *refusalLog) emit(lines []summary) {
	for _, l := range lines {
		r.log.Warn(l.msg, l.args...)
	}
}

// flush ends the window now if it is over.
func (r *refusalLog) flush() {
	r.mu.Lock()
	lines := r.rollLocked(false)
	r.mu.Unlock()
	r.emit(lines)
}

// run writes the summaries of every window until ctx ends, then those of
// the last one.
func (r *refusalLog) run(ctx context.Context) {
	t := r.clk.NewTicker(refusalWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.mu.Lock()
			lines := r.rollLocked(true)
			r.mu.Unlock()
			r.emit(lines)
			return
		case <-t.C():
			r.flush()
		}
	}
}
