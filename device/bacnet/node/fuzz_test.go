package node

import (
	"context"
	"testing"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// sink is a data link that drops what it is given.
type sink struct{}

func (sink) Send([]byte, []byte) error { return nil }
func (sink) Run(ctx context.Context, _ func(src, npdu []byte)) error {
	<-ctx.Done()
	return nil
}
func (sink) MaxAPDU() int         { return BIPMaxAPDU }
func (sink) LinkStats() LinkStats { return LinkStats{} }

// FuzzSegments feeds arbitrary segment sequences to the reassembly of one
// pending transaction: whatever arrives, it never panics, never keeps more
// than MaxReassembly octets, and finishes at most once.
func FuzzSegments(f *testing.F) {
	// Each segment: flags (bit 0 more-follows), sequence number, window,
	// payload length, payload.
	f.Add([]byte{1, 0, 2, 3, 'a', 'b', 'c', 1, 1, 2, 1, 'd', 0, 2, 2, 1, 'e'})
	f.Add([]byte{1, 0, 4, 1, 'x', 1, 2, 4, 1, 'y', 0, 1, 4, 0})
	f.Add([]byte{1, 5, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := New(Config{Link: sink{}})
		if err != nil {
			t.Fatal(err)
		}
		peer := Address{MAC: "\x7f\x00\x00\x01\xba\xc0"}
		x, err := n.tsm.add(peer, uint8(stack.ServiceReadProperty))
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 255*255)
		for len(in) >= 4 {
			l := int(in[3])
			a := stack.APDU{Type: stack.PDUComplexAck, Segmented: true, MoreFollows: in[0]&1 != 0,
				InvokeID: x.key.invoke, SequenceNum: in[1], WindowSize: in[2], Service: uint8(stack.ServiceReadProperty)}
			in = in[4:]
			// Short inputs stand for long segments, so the bound is reached.
			a.Payload = payload[:min(l*64, len(payload))]
			n.tsm.answer(n, peer, a)
			n.tsm.mu.Lock()
			if len(x.buf) > MaxReassembly {
				t.Fatalf("reassembly holds %d octets", len(x.buf))
			}
			n.tsm.mu.Unlock()
		}
		select {
		case r := <-x.done:
			if r.err == nil && len(r.payload) > MaxReassembly {
				t.Fatalf("answer of %d octets", len(r.payload))
			}
			select {
			case <-x.done:
				t.Fatal("finished twice")
			default:
			}
		default:
		}
	})
}
