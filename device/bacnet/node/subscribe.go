package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// COV subscription bounds.
const (
	// MaxSubscriptions bounds this client's COV subscriptions.
	MaxSubscriptions = 4096
	// DefaultLifetime of a subscription; it is renewed at half of it.
	DefaultLifetime = 5 * time.Minute
	// MinLifetime keeps renewal from becoming a flood.
	MinLifetime = 2 * time.Second
	// renewRetry is how soon a failed renewal is tried again.
	renewRetry = 10 * time.Second
	// maxRenewing bounds renewals in flight, so a dead device's timeouts
	// do not hold up the renewal of every other.
	maxRenewing = 8
)

// SubscribeOptions tune a COV subscription.
type SubscribeOptions struct {
	// Confirmed asks for ConfirmedCOVNotifications (acknowledged by this
	// node) instead of unconfirmed ones.
	Confirmed bool
	// Lifetime of the subscription at the device; this node renews it at
	// half the lifetime until Unsubscribe. Default DefaultLifetime.
	Lifetime time.Duration
	// ProcessID, when set, is the subscriber-process-identifier to use
	// (unique among this node's subscriptions): a caller that routes
	// notifications by it knows it before the first notification, which
	// the device may send before its acknowledgement is read. 0: the node
	// picks one.
	ProcessID uint32
}

// Subscription is one COV subscription this node keeps alive.
type Subscription struct {
	// ProcessID identifies the subscription in notifications.
	ProcessID uint32
	Device    Address
	Object    stack.ObjectID
	Confirmed bool
	Lifetime  time.Duration

	mu       sync.Mutex
	renewAt  time.Time
	renewing bool
	err      error
}

// Err is the error of the last renewal, nil when the device accepted it.
// A driver falls back to polling while it is set.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

type clientSubs struct {
	mu     sync.Mutex
	next   uint32
	byID   map[uint32]*Subscription
	active chan struct{}
}

func (c *clientSubs) init() {
	c.byID = make(map[uint32]*Subscription)
	c.next = 1
	c.active = make(chan struct{}, maxRenewing)
}

// Subscribe subscribes to COV notifications of obj at dev. The first
// subscription is sent now and its refusal returned (a device without COV
// answers with an Error or Reject: poll it instead); the node renews it
// before every lifetime ends.
func (n *Node) Subscribe(ctx context.Context, dev Address, obj stack.ObjectID, opts SubscribeOptions) (*Subscription, error) {
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Lifetime < MinLifetime || opts.Lifetime > 0xFFFFFFFF*time.Second {
		return nil, fmt.Errorf("subscribe %s: lifetime %s is below %s: %w", obj, opts.Lifetime, MinLifetime, ErrConfig)
	}
	n.subs.mu.Lock()
	if len(n.subs.byID) >= MaxSubscriptions {
		n.subs.mu.Unlock()
		return nil, fmt.Errorf("subscribe %s: %d subscriptions already: %w", obj, MaxSubscriptions, ErrBusy)
	}
	id := opts.ProcessID
	if id == 0 {
		for {
			id = n.subs.next
			n.subs.next++
			if n.subs.next == 0 {
				n.subs.next = 1
			}
			if n.subs.byID[id] == nil {
				break
			}
		}
	} else if n.subs.byID[id] != nil {
		n.subs.mu.Unlock()
		return nil, fmt.Errorf("subscribe %s: process id %d is in use: %w", obj, id, ErrConfig)
	}
	s := &Subscription{ProcessID: id, Device: dev, Object: obj, Confirmed: opts.Confirmed, Lifetime: opts.Lifetime}
	n.subs.mu.Unlock()
	if err := n.sendSubscribe(ctx, s, false); err != nil {
		return nil, err
	}
	n.subs.mu.Lock()
	n.subs.byID[id] = s
	n.subs.mu.Unlock()
	return s, nil
}

// Unsubscribe cancels a subscription at the device and stops renewing it.
func (n *Node) Unsubscribe(ctx context.Context, s *Subscription) error {
	n.subs.mu.Lock()
	delete(n.subs.byID, s.ProcessID)
	n.subs.mu.Unlock()
	return n.sendSubscribe(ctx, s, true)
}

// Subscriptions lists the subscriptions being kept alive.
func (n *Node) Subscriptions() []*Subscription {
	n.subs.mu.Lock()
	defer n.subs.mu.Unlock()
	out := make([]*Subscription, 0, len(n.subs.byID))
	for _, s := range n.subs.byID {
		out = append(out, s)
	}
	return out
}

func (n *Node) sendSubscribe(ctx context.Context, s *Subscription, cancel bool) error {
	n.use(s.Device)
	body, err := stack.AppendSubscribeCOV(nil, stack.SubscribeCOV{ProcessID: s.ProcessID, Object: s.Object,
		Cancel: cancel, Confirmed: s.Confirmed, Lifetime: uint32(s.Lifetime / time.Second)})
	if err != nil {
		return err
	}
	a, err := n.request(ctx, s.Device, stack.ServiceSubscribeCOV, body)
	if err == nil && a.Type != stack.PDUSimpleAck {
		err = fmt.Errorf("answered with %s: %w", a.Type, stack.ErrBadTag)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		s.renewAt = n.now().Add(renewRetry)
		return fmt.Errorf("subscribe-cov %s at %s: %w", s.Object, s.Device, err)
	}
	s.err = nil
	s.renewAt = n.now().Add(s.Lifetime / 2)
	return nil
}

// renewSubscriptions starts the renewal of every subscription due.
func (n *Node) renewSubscriptions(ctx context.Context) {
	now := n.now()
	for _, s := range n.Subscriptions() {
		s.mu.Lock()
		due := !s.renewing && !now.Before(s.renewAt)
		if due {
			s.renewing = true
		}
		s.mu.Unlock()
		if !due {
			continue
		}
		select {
		case n.subs.active <- struct{}{}:
		default:
			s.mu.Lock()
			s.renewing = false
			s.mu.Unlock()
			continue // next tick
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() { <-n.subs.active }()
			err := n.sendSubscribe(ctx, s, false)
			s.mu.Lock()
			s.renewing = false
			s.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				n.log.Warn("bacnet: cov subscription not renewed", "device", s.Device, "object", s.Object, "err", err)
			}
		}()
	}
}
