package node

import (
	"context"
	"math"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// The server's COV reporting (clause 13.1): subscriptions from SubscribeCOV,
// checked every COVInterval and on Changed, notified when present-value
// moves by the COV increment (any change for binary and multi-state) or the
// status flags change.

func (s *Server) subscribe(from Address, req stack.SubscribeCOV) error {
	obj := s.object(req.Object)
	if obj == nil {
		if req.Object == s.device {
			return perr(stack.ErrorClassObject, stack.ErrorCodeOptionalNotSupported)
		}
		return errUnknownObject
	}
	key := covKey{sub: from, pid: req.ProcessID, object: req.Object}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Cancel {
		// Cancelling an unknown subscription succeeds (13.14.1.1.5).
		delete(s.subs, key)
		return nil
	}
	sub := s.subs[key]
	if sub == nil {
		if len(s.subs) >= s.cfg.MaxCOVSubscriptions {
			return perr(stack.ErrorClassResources, stack.ErrorCodeNoSpaceForObject)
		}
		sub = &covSub{}
		s.subs[key] = sub
	}
	sub.confirmed = req.Confirmed
	sub.sent = false // a renewed subscription is told the current value again
	sub.expires = time.Time{}
	if req.Lifetime != 0 {
		sub.expires = s.n.now().Add(time.Duration(req.Lifetime) * time.Second)
	}
	return nil
}

// run checks subscriptions until ctx ends.
func (s *Server) run(ctx context.Context) {
	t := time.NewTicker(s.cfg.COVInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.check(ctx, nil)
		case o := <-s.changed:
			s.check(ctx, &o)
		}
	}
}

type pendingNote struct {
	key       covKey
	confirmed bool
	body      []byte
}

// check notifies every subscriber of only (or of every object) whose value
// changed enough.
func (s *Server) check(ctx context.Context, only *stack.ObjectID) {
	now := s.n.now()
	type snap struct {
		key covKey
		sub covSub
	}
	var due []snap
	s.mu.Lock()
	for k, sub := range s.subs {
		if !sub.expires.IsZero() && now.After(sub.expires) {
			delete(s.subs, k)
			continue
		}
		if only == nil || k.object == *only {
			due = append(due, snap{k, *sub})
		}
	}
	s.mu.Unlock()
	readings := map[stack.ObjectID]Reading{}
	var notes []pendingNote
	for _, d := range due {
		obj := s.object(d.key.object)
		if obj == nil {
			continue // no longer served; SetObjects ended its subscriptions
		}
		r, ok := readings[obj.ID]
		if !ok {
			r, _ = s.reading(ctx, obj)
			readings[obj.ID] = r
		}
		flags := stack.StatusFlags{Fault: r.Fault}
		if d.sub.sent && flags == d.sub.flags && !moved(obj, d.sub.value, r.Value) {
			continue
		}
		remaining := uint32(0)
		if !d.sub.expires.IsZero() {
			remaining = uint32(math.Ceil(d.sub.expires.Sub(now).Seconds()))
		}
		body, err := stack.AppendCOVNotification(nil, stack.COVNotification{
			ProcessID: d.key.pid, Device: s.device, Object: obj.ID, TimeRemaining: remaining,
			Values: []stack.PropertyValue{
				{PropertyRef: stack.Ref(obj.ID, stack.PropPresentValue), Values: []stack.Value{obj.encode(r.Value)}},
				{PropertyRef: stack.Ref(obj.ID, stack.PropStatusFlags), Values: []stack.Value{stack.Bits(flags.BitString())}},
			}})
		if err != nil {
			continue
		}
		s.mu.Lock()
		if sub := s.subs[d.key]; sub != nil {
			sub.sent, sub.value, sub.flags = true, r.Value, flags
		}
		s.mu.Unlock()
		notes = append(notes, pendingNote{key: d.key, confirmed: d.sub.confirmed, body: body})
	}
	for _, p := range notes {
		s.notify(ctx, p)
	}
}

func moved(obj *served, last, now float64) bool {
	if obj.fam != famAnalog {
		a, b := obj.encode(last), obj.encode(now)
		return a.Unsigned != b.Unsigned
	}
	if obj.COVIncrement <= 0 {
		return last != now
	}
	return math.Abs(now-last) >= obj.COVIncrement
}

func (s *Server) notify(ctx context.Context, p pendingNote) {
	n := s.n
	if !p.confirmed {
		b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUUnconfirmedRequest, Service: uint8(stack.ServiceUnconfirmedCOVNotification), Payload: p.body})
		if n.sendAPDU(p.key.sub, false, b) == nil {
			n.c.covSent.Add(1)
		}
		return
	}
	select {
	case s.notifying <- struct{}{}:
	default:
		// Too many unacknowledged already: the subscriber gets the value
		// with the next change.
		n.c.covFailed.Add(1)
		s.unsend(p.key)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-s.notifying }()
		_, err := n.request(ctx, p.key.sub, stack.ServiceConfirmedCOVNotification, p.body)
		if err != nil {
			n.c.covFailed.Add(1)
			s.unsend(p.key)
			return
		}
		n.c.covSent.Add(1)
	}()
}

// unsend marks a subscription as not told, so the next check resends.
func (s *Server) unsend(k covKey) {
	s.mu.Lock()
	if sub := s.subs[k]; sub != nil {
		sub.sent = false
	}
	s.mu.Unlock()
}
