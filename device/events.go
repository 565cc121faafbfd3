package device

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitegate/sitegate/store"
)

// EventKind tells what an Event carries.
type EventKind int

// Event kinds.
const (
	EventAudit     EventKind = iota + 1 // Audit is set
	EventLog                            // Log is set
	EventSite                           // the site changed; Rev is set
	EventSession                        // a console session opened or closed
	EventReadings                       // a device finished a poll cycle; Device is set
	EventNetwork                        // the active uplink or a link's state changed; Detail says how
	EventAlert                          // an alert was raised or cleared; Detail names the rule
	EventUplink                         // the cloud connection changed state
	EventFirmware                       // firmware apply progress; Detail says what happened
	EventProbation                      // a change went on probation or its probation ended; see Gateway.Probation
)

// Event is something live screens and followers want to hear about.
type Event struct {
	Kind   EventKind
	Time   time.Time
	Audit  store.AuditEvent
	Log    LogRecord
	Rev    uint64
	Device string
	Detail string
}

// Subscription receives events. A subscriber that does not keep up loses
// events rather than slowing the gateway: Missed says how many.
type Subscription struct {
	c      chan Event
	kinds  uint64 // bit k set: kind k is delivered; 0: every kind
	missed atomic.Uint64
	bus    *bus
	once   sync.Once
}

// C returns the channel events arrive on. It is closed by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Missed returns how many events were dropped because the buffer was full,
// and resets the count.
func (s *Subscription) Missed() uint64 { return s.missed.Swap(0) }

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.c)
	})
}

type bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

func newBus() *bus { return &bus{subs: map[*Subscription]struct{}{}} }

func (b *bus) subscribe(buffer int, kinds ...EventKind) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	s := &Subscription{c: make(chan Event, buffer), bus: b}
	for _, k := range kinds {
		s.kinds |= 1 << uint(k)
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// publish delivers ev to every subscriber without ever blocking.
func (b *bus) publish(ev Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.kinds != 0 && s.kinds&(1<<uint(ev.Kind)) == 0 {
			continue
		}
		select {
		case s.c <- ev:
		default:
			s.missed.Add(1)
		}
	}
}

// Subscribe returns a subscription with room for buffer events. Close it
// when done.
func (g *Gateway) Subscribe(buffer int) *Subscription { return g.bus.subscribe(buffer) }

// SubscribeTo is Subscribe for the given kinds only. A follower that does
// not show readings should not be woken by every device cycle (hundreds a
// second on a large site); Missed counts only events of its kinds.
func (g *Gateway) SubscribeTo(buffer int, kinds ...EventKind) *Subscription {
	return g.bus.subscribe(buffer, kinds...)
}

// Publish sends an event to every subscriber without blocking.
func (g *Gateway) Publish(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = g.now()
	}
	g.bus.publish(ev)
}
