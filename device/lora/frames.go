package lora

import (
	"sync"
	"sync/atomic"

	"github.com/sitegate/sitegate/device/lora/ns"
)

// Frame is one frame the embedded network server processed, numbered in
// the order it was processed (Seq counts from 1 since the driver was
// made, so a follower can tell what it missed).
type Frame struct {
	Seq uint64 `json:"seq"`
	ns.Frame
}

// frameLog is a ring of the recent frames with live subscribers. The
// fan-out never blocks the network server: a subscriber that does not keep
// up loses frames, counted (like device.Subscription).
type frameLog struct {
	mu   sync.Mutex
	ring []Frame // len grows to cap, then wraps at next
	next int
	seq  uint64
	subs map[*FrameSubscription]struct{}
}

func newFrameLog(n int) frameLog {
	return frameLog{ring: make([]Frame, 0, n), subs: map[*FrameSubscription]struct{}{}}
}

func (l *frameLog) add(fr ns.Frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	f := Frame{Seq: l.seq, Frame: fr}
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, f)
	} else {
		l.ring[l.next] = f
		l.next = (l.next + 1) % len(l.ring)
	}
	for s := range l.subs {
		select {
		case s.c <- f:
		default:
			s.missed.Add(1)
		}
	}
}

// last returns up to n frames, oldest first (n <= 0: all kept).
func (l *frameLog) last(n int) []Frame {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := make([]Frame, 0, len(l.ring))
	all = append(all, l.ring[l.next:]...)
	all = append(all, l.ring[:l.next]...)
	if n > 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}

func (l *frameLog) subscribe(buffer int) *FrameSubscription {
	s := &FrameSubscription{c: make(chan Frame, max(buffer, 1)), log: l}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	return s
}

// closeSubscribers ends every subscription: the driver stopped.
func (l *frameLog) closeSubscribers() {
	l.mu.Lock()
	subs := l.subs
	l.subs = map[*FrameSubscription]struct{}{}
	l.mu.Unlock()
	for s := range subs {
		s.once.Do(func() { close(s.c) })
	}
}

// FrameSubscription receives frames as they are processed. Close it when
// done; C is closed then, and when the driver stops.
type FrameSubscription struct {
	c      chan Frame
	missed atomic.Uint64
	log    *frameLog
	once   sync.Once
}

// C returns the channel frames arrive on.
func (s *FrameSubscription) C() <-chan Frame { return s.c }

// Missed returns how many frames were dropped because the buffer was
// full, and resets the count.
func (s *FrameSubscription) Missed() uint64 { return s.missed.Swap(0) }

// Close ends the subscription and closes C.
func (s *FrameSubscription) Close() {
	s.log.mu.Lock()
	delete(s.log.subs, s)
	s.log.mu.Unlock()
	s.once.Do(func() { close(s.c) })
}
