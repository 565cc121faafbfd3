package ns

import (
	"time"

	"github.com/sitegate/sitegate/device/lora/semtech"
)

// gather is one frame being heard, with its best copy so far.
type gather struct {
	key    string
	due    time.Time // monotonic: when the window closes
	best   semtech.Rx
	copies int
}

// better reports whether a is a better reception than b: higher RSSI,
// then higher SNR.
func better(a, b semtech.RXPK) bool {
	if a.RSSI != b.RSSI {
		return a.RSSI > b.RSSI
	}
	return a.LSNR > b.LSNR
}

// gatherRx adds one reception: a new frame opens a window, a copy joins
// its frame's (or is dropped when the frame was processed moments ago).
func (s *Server) gatherRx(rx semtech.Rx) {
	s.mu.Lock()
	s.stats.Received++
	s.mu.Unlock()
	key := string(rx.RXPK.Data)
	if g := s.index[key]; g != nil {
		g.copies++
		if better(rx.RXPK, g.best.RXPK) {
			g.best = rx
		}
		s.count(func(st *Stats) { st.Duplicates++ })
		return
	}
	now := time.Now()
	if at, ok := s.recent[key]; ok && now.Sub(at) < RecentWindow {
		s.count(func(st *Stats) { st.Duplicates++ })
		return
	}
	g := &gather{key: key, due: now.Add(s.cfg.DedupWindow), best: rx, copies: 1}
	s.index[key] = g
	s.pending = append(s.pending, g)
}

// flush processes every frame whose window has closed by now.
func (s *Server) flush(now time.Time) {
	n := 0
	for n < len(s.pending) && !s.pending[n].due.After(now) {
		n++
	}
	done := s.pending[:n]
	s.pending = append(s.pending[:0:0], s.pending[n:]...)
	// recentOrder is oldest first: expire from its front.
	for len(s.recentOrder) > 0 && (now.Sub(s.recent[s.recentOrder[0]]) >= RecentWindow || len(s.recentOrder) >= MaxRecent) {
		delete(s.recent, s.recentOrder[0])
		s.recentOrder = s.recentOrder[1:]
	}
	for _, g := range done {
		delete(s.index, g.key)
		if _, ok := s.recent[g.key]; !ok {
			s.recentOrder = append(s.recentOrder, g.key)
		}
		s.recent[g.key] = now
		s.process(g.best, g.copies)
	}
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}
