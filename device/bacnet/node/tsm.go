package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// The client side of the transaction state machine (clause 5.4.4): one
// transaction per confirmed request, keyed by the device's address and an
// invoke id unique among that device's pending requests. The requesting
// goroutine owns the timer and the retries; the receive goroutine fills in
// the answer and reassembles segmented ComplexACKs.

type txnKey struct {
	peer   Address
	invoke uint8
}

type reply struct {
	apdu    stack.APDU
	payload []byte
	err     error
}

type txn struct {
	key     txnKey
	service uint8
	done    chan reply // buffered 1; written once under tsm.mu
	// Reassembly of a segmented ComplexACK.
	segmenting  bool
	expect      uint8 // next sequence number
	windowStart uint8
	window      uint8
	buf         []byte
	lastSeg     time.Time
}

type tsm struct {
	mu      sync.Mutex
	max     int
	next    uint8
	pending map[txnKey]*txn
}

func (t *tsm) init(max int) {
	t.max = max
	t.pending = make(map[txnKey]*txn)
}

// add registers a transaction with a free invoke id for peer.
func (t *tsm) add(peer Address, service uint8) (*txn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) >= t.max {
		return nil, ErrBusy
	}
	for i := 0; i < 256; i++ {
		id := t.next
		t.next++
		k := txnKey{peer, id}
		if _, used := t.pending[k]; used {
			continue
		}
		x := &txn{key: k, service: service, done: make(chan reply, 1)}
		t.pending[k] = x
		return x, nil
	}
	return nil, ErrBusy // 256 requests pending to one device
}

func (t *tsm) remove(x *txn) {
	t.mu.Lock()
	if t.pending[x.key] == x {
		delete(t.pending, x.key)
	}
	t.mu.Unlock()
}

// finish delivers r and forgets x; the caller holds t.mu.
func (t *tsm) finish(x *txn, r reply) {
	delete(t.pending, x.key)
	select {
	case x.done <- r:
	default:
	}
}

// request sends a confirmed request and waits for its answer, sending it
// again after each APDU timeout up to Retries times. The answer's payload
// is the whole (reassembled) service ack.
func (n *Node) request(ctx context.Context, to Address, service stack.ConfirmedService, body []byte) (stack.APDU, error) {
	if n.ended.Load() {
		return stack.APDU{}, ErrNotRunning
	}
	if to.IsBroadcast() {
		return stack.APDU{}, fmt.Errorf("%s to a broadcast address: %w", service, ErrConfig)
	}
	x, err := n.tsm.add(to, uint8(service))
	if err != nil {
		n.c.busy.Add(1)
		return stack.APDU{}, fmt.Errorf("%s to %s: %w", service, to, err)
	}
	defer n.tsm.remove(x)
	apdu, err := stack.AppendAPDU(make([]byte, 0, len(body)+4), stack.APDU{
		Type: stack.PDUConfirmedRequest, SegmentedAccepted: true,
		MaxSegments: stack.EncodeMaxSegments(DefaultMaxSegments),
		MaxAPDU:     stack.EncodeMaxAPDU(n.link.MaxAPDU()),
		InvokeID:    x.key.invoke, Service: uint8(service), Payload: body,
	})
	if err != nil {
		return stack.APDU{}, err
	}
	if limit := n.peerMaxAPDU(to); len(apdu) > limit {
		return stack.APDU{}, fmt.Errorf("%s to %s: %d octets, device takes %d: %w", service, to, len(apdu), limit, ErrAPDUTooLong)
	}
	timeout := n.cfg.APDUTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	if err := n.sendAPDU(to, true, apdu); err != nil {
		return stack.APDU{}, fmt.Errorf("%s to %s: %w", service, to, err)
	}
	retries := 0
	for {
		select {
		case <-ctx.Done():
			return stack.APDU{}, ctx.Err()
		case r := <-x.done:
			if r.err != nil {
				return stack.APDU{}, fmt.Errorf("%s to %s: %w", service, to, r.err)
			}
			r.apdu.Payload = r.payload
			return r.apdu, answerError(r.apdu)
		case <-timer.C:
		}
		n.tsm.mu.Lock()
		segmenting, last := x.segmenting, x.lastSeg
		n.tsm.mu.Unlock()
		if segmenting {
			// A segmented answer is under way: wait for segments, never
			// resend the request (the device would start over).
			if idle := n.now().Sub(last); idle < timeout {
				timer.Reset(timeout - idle)
				continue
			}
			n.c.segmentTimeouts.Add(1)
			return stack.APDU{}, fmt.Errorf("%s to %s: %w", service, to, ErrSegmentTimeout)
		}
		if retries >= n.cfg.Retries {
			n.c.timeouts.Add(1)
			return stack.APDU{}, fmt.Errorf("%s to %s after %d tries of %s: %w", service, to, retries+1, timeout, ErrTimeout)
		}
		retries++
		n.c.retries.Add(1)
		if err := n.sendAPDU(to, true, apdu); err != nil {
			return stack.APDU{}, fmt.Errorf("%s to %s: %w", service, to, err)
		}
		timer.Reset(timeout)
	}
}

// answerError turns an Error, Reject or Abort answer into its Go error.
func answerError(a stack.APDU) error {
	switch a.Type {
	case stack.PDUError:
		return &stack.PropertyError{Class: a.ErrorClass, Code: a.ErrorCode}
	case stack.PDUReject:
		return &RejectError{Reason: stack.RejectReason(a.Reason)}
	case stack.PDUAbort:
		return &AbortError{Reason: stack.AbortReason(a.Reason), Server: a.Server}
	}
	return nil
}

// answer handles every APDU that answers a transaction.
func (t *tsm) answer(n *Node, from Address, a stack.APDU) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.pending[txnKey{from, a.InvokeID}]
	if x == nil || a.Type == stack.PDUSegmentAck {
		// A Segment-ACK would answer a segmented request; this node sends none.
		n.c.unknownInvoke.Add(1)
		return
	}
	switch a.Type {
	case stack.PDUSimpleAck, stack.PDUError:
		if a.Service != x.service {
			n.c.unknownInvoke.Add(1)
			return
		}
		t.finish(x, reply{apdu: a})
	case stack.PDUReject, stack.PDUAbort:
		t.finish(x, reply{apdu: a})
	case stack.PDUComplexAck:
		if a.Service != x.service {
			n.c.unknownInvoke.Add(1)
			return
		}
		if !a.Segmented {
			t.finish(x, reply{apdu: a, payload: append([]byte(nil), a.Payload...)})
			return
		}
		t.segment(n, x, a)
	}
}

// segment takes one segment of a ComplexACK (clause 5.4.4, SEGMENTED_CONF):
// in order it is kept and acknowledged at the end of each window;
// out of order it is refused with a negative Segment-ACK naming the last
// segment kept, so the device resends from there.
func (t *tsm) segment(n *Node, x *txn, a stack.APDU) {
	if !x.segmenting {
		if a.SequenceNum != 0 {
			n.c.malformed.Add(1)
			return
		}
		x.segmenting = true
		x.window = a.WindowSize
		if x.window == 0 || x.window > DefaultWindow {
			x.window = DefaultWindow
		}
	}
	if a.SequenceNum != x.expect {
		n.segmentAck(x, true, x.expect-1)
		return
	}
	if len(x.buf)+len(a.Payload) > MaxReassembly {
		n.c.reassemblyOverf.Add(1)
		b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUAbort, InvokeID: x.key.invoke, Reason: uint8(stack.AbortBufferOverflow)})
		_ = n.sendAPDU(x.key.peer, false, b)
		t.finish(x, reply{err: fmt.Errorf("more than %d octets: %w", MaxReassembly, ErrReplyTooLarge)})
		return
	}
	n.c.segmentsReceived.Add(1)
	x.buf = append(x.buf, a.Payload...)
	x.lastSeg = n.now()
	x.expect++
	if !a.MoreFollows {
		n.segmentAck(x, false, a.SequenceNum)
		a.Segmented, a.MoreFollows = false, false
		t.finish(x, reply{apdu: a, payload: x.buf})
		return
	}
	if a.SequenceNum-x.windowStart+1 >= x.window {
		n.segmentAck(x, false, a.SequenceNum)
		x.windowStart = a.SequenceNum + 1
	}
}

func (n *Node) segmentAck(x *txn, nak bool, seq uint8) {
	b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUSegmentAck, NAK: nak, InvokeID: x.key.invoke, SequenceNum: seq, WindowSize: x.window})
	_ = n.sendAPDU(x.key.peer, false, b)
}
