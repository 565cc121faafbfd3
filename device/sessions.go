package device

import (
	"sort"
	"sync"
	"time"
)

// SessionInfo describes one open console or exec session.
type SessionInfo struct {
	ID      uint64
	Actor   Actor
	Remote  string
	Kind    string // "console" or "exec"
	Started time.Time
}

type sessionEntry struct {
	info SessionInfo
	end  func(reason string)
}

type sessions struct {
	mu   sync.Mutex
	next uint64
	open map[uint64]sessionEntry
}

// OpenSession registers a session. end is called (at most once, from any
// goroutine) when the gateway must end it, e.g. because its account was
// locked or withdrew its privacy acceptance. The returned func unregisters
// it.
func (g *Gateway) OpenSession(info SessionInfo, end func(reason string)) (SessionInfo, func()) {
	g.sess.mu.Lock()
	g.sess.next++
	info.ID = g.sess.next
	if info.Started.IsZero() {
		info.Started = g.now()
	}
	g.sess.open[info.ID] = sessionEntry{info: info, end: end}
	g.sess.mu.Unlock()
	g.Publish(Event{Kind: EventSession})
	return info, func() {
		g.sess.mu.Lock()
		delete(g.sess.open, info.ID)
		g.sess.mu.Unlock()
		g.Publish(Event{Kind: EventSession})
	}
}

// Sessions lists the open sessions, oldest first.
func (g *Gateway) Sessions() []SessionInfo {
	g.sess.mu.Lock()
	defer g.sess.mu.Unlock()
	out := make([]SessionInfo, 0, len(g.sess.open))
	for _, e := range g.sess.open {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// EndSessions ends every open session of account id (every session when id
// is empty) with reason and returns how many it ended.
func (g *Gateway) EndSessions(accountID, reason string) int {
	g.sess.mu.Lock()
	var ends []func(string)
	for _, e := range g.sess.open {
		if (accountID == "" || e.info.Actor.ID == accountID) && e.end != nil {
			ends = append(ends, e.end)
		}
	}
	g.sess.mu.Unlock()
	for _, end := range ends {
		end(reason)
	}
	return len(ends)
}
