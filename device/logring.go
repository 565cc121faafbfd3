package device

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LogRecord is one system log line kept for the console and `logs`.
type LogRecord struct {
	Time    time.Time `json:"ts"`
	Level   string    `json:"level"`
	Message string    `json:"msg"`
	Attrs   string    `json:"attrs,omitempty"` // key=value pairs, as the text log shows them
}

// String formats the record as one log line.
func (r LogRecord) String() string {
	s := r.Time.UTC().Format(time.DateTime) + " " + r.Level + " " + r.Message
	if r.Attrs != "" {
		s += " " + r.Attrs
	}
	return s
}

// LogRing keeps the newest system log records in memory and passes every
// record on to another handler. The gateway's console reads it; it holds
// only what the process logged (never secrets: nothing logs them).
type LogRing struct {
	mu      sync.Mutex
	records []LogRecord
	next    int
	full    bool
	notify  func(LogRecord)
}

// NewLogRing returns a ring holding the newest size records.
func NewLogRing(size int) *LogRing {
	if size < 1 {
		size = 1
	}
	return &LogRing{records: make([]LogRecord, size)}
}

func (r *LogRing) add(rec LogRecord) {
	r.mu.Lock()
	r.records[r.next] = rec
	r.next = (r.next + 1) % len(r.records)
	if r.next == 0 {
		r.full = true
	}
	notify := r.notify
	r.mu.Unlock()
	if notify != nil {
		notify(rec)
	}
}

// Records returns the kept records, oldest first.
func (r *LogRing) Records() []LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]LogRecord(nil), r.records[:r.next]...)
	}
	out := append([]LogRecord(nil), r.records[r.next:]...)
	return append(out, r.records[:r.next]...)
}

func (r *LogRing) setNotify(fn func(LogRecord)) {
	r.mu.Lock()
	r.notify = fn
	r.mu.Unlock()
}

// Handler returns a slog.Handler that records into the ring and forwards to
// next.
func (r *LogRing) Handler(next slog.Handler) slog.Handler {
	return &ringHandler{ring: r, next: next}
}

type ringHandler struct {
	ring   *LogRing
	next   slog.Handler
	prefix string // attributes added with WithAttrs, formatted
	group  string
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	rec.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	h.ring.add(LogRecord{Time: rec.Time, Level: rec.Level.String(), Message: rec.Message, Attrs: strings.TrimSpace(b.String())})
	return h.next.Handle(ctx, rec)
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			writeAttr(b, key, ga)
		}
		return
	}
	v := a.Value.String()
	if strings.ContainsAny(v, " \t\"=") {
		v = fmt.Sprintf("%q", v)
	}
	b.WriteString(" " + key + "=" + v)
}

func (h *ringHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		writeAttr(&b, h.group, a)
	}
	return &ringHandler{ring: h.ring, next: h.next.WithAttrs(attrs), prefix: b.String(), group: h.group}
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &ringHandler{ring: h.ring, next: h.next.WithGroup(name), prefix: h.prefix, group: g}
}
