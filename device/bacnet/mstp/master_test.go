//go:build linux

package mstp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
)

const wait = 10 * time.Second

// bus is the far end of the line, where the test's own masters live.
type bus struct {
	t      testing.TB
	f      *os.File
	frames chan Frame
	wmu    sync.Mutex
}

func newBus(t testing.TB, f *os.File) *bus {
	b := &bus{t: t, f: f, frames: make(chan Frame, 256)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var d Decoder
		buf := make([]byte, 512)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
					return
				}
				return
			}
			for _, c := range buf[:n] {
				if fr, ok, _ := d.Feed(c); ok {
					fr.Data = append([]byte(nil), fr.Data...)
					b.frames <- fr
				}
			}
		}
	}()
	t.Cleanup(func() { _ = f.SetReadDeadline(time.Unix(1, 0)); <-done })
	return b
}

func (b *bus) send(fr Frame) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	out, err := AppendFrame(nil, fr)
	if err != nil {
		b.t.Error(err)
		return
	}
	if _, err := b.f.Write(out); err != nil {
		b.t.Error(err)
	}
}

// harness is an MS/TP master (one or several stations) written for the
// test: it passes the token around its stations and the node under test,
// polls for masters while it is alone, answers polls for its stations,
// and answers data requests at once or with Reply Postponed. It is
// deliberately simple and independent of the Link's state machine.
type harness struct {
	b        *bus
	node     uint8
	max      uint8
	usage    time.Duration
	mu       sync.Mutex
	stations []uint8 // present test stations, sorted
	joined   bool
	postpone bool
	outbox   map[uint8][]Frame
	seen     []Frame // everything the node sent
	quiet    atomic.Bool
	hold     atomic.Bool // keep the token and go silent (a lost token)
}

func (h *harness) saw(pred func(Frame) bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.seen, pred)
}

func (h *harness) addStation(s uint8) {
	h.mu.Lock()
	h.stations = append(h.stations, s)
	slices.Sort(h.stations)
	h.mu.Unlock()
}

func (h *harness) present(s uint8) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.stations, s)
}

// successor is the next station of the ring after s.
func (h *harness) successor(s uint8) uint8 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ring := append([]uint8(nil), h.stations...)
	if h.joined {
		ring = append(ring, h.node)
	}
	slices.Sort(ring)
	for _, r := range ring {
		if r > s {
			return r
		}
	}
	return ring[0]
}

// recv is the next frame from the node, recorded; false after timeout.
func (h *harness) recv(ctx context.Context, timeout time.Duration) (Frame, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-h.b.frames:
		h.mu.Lock()
		h.seen = append(h.seen, f)
		h.mu.Unlock()
		return f, true
	case <-t.C:
	case <-ctx.Done():
	}
	return Frame{}, false
}

// answer handles a frame from the node addressed to a test station.
func (h *harness) answer(f Frame) {
	if !h.present(f.Dest) {
		return
	}
	switch f.Type {
	case PollForMaster:
		h.b.send(Frame{Type: ReplyToPollForMaster, Dest: f.Src, Src: f.Dest})
	case DataExpectingReply:
		reply := Frame{Type: DataNotExpectingReply, Dest: f.Src, Src: f.Dest, Data: append([]byte("re:"), f.Data...)}
		h.mu.Lock()
		postpone := h.postpone
		if postpone {
			h.outbox[f.Dest] = append(h.outbox[f.Dest], reply)
		}
		h.mu.Unlock()
		if postpone {
			h.b.send(Frame{Type: ReplyPostponed, Dest: f.Src, Src: f.Dest})
		} else {
			h.b.send(reply)
		}
	}
}

func (h *harness) run(ctx context.Context) {
	h.mu.Lock()
	holder := h.stations[0]
	h.mu.Unlock()
	nodeHas, usedHeld := false, false
	for ctx.Err() == nil {
		if h.quiet.Load() {
			h.recv(ctx, 20*time.Millisecond)
			nodeHas = false
			continue
		}
		if !nodeHas {
			if h.hold.Load() {
				// Take the token up (a poll of an absent station shows
				// the node it was received), then fall silent with it.
				if !usedHeld {
					h.b.send(Frame{Type: PollForMaster, Dest: 6, Src: holder})
					usedHeld = true
				}
				h.recv(ctx, 20*time.Millisecond)
				continue
			}
			usedHeld = false
			h.mu.Lock()
			out := h.outbox[holder]
			h.outbox[holder] = nil
			joined := h.joined
			h.mu.Unlock()
			for _, f := range out {
				h.b.send(f)
				if f.Type == DataExpectingReply {
					// Wait for the node's answer, as a requester does.
					for {
						r, ok := h.recv(ctx, 500*time.Millisecond)
						if !ok || (r.Src == f.Dest && (r.Type == DataNotExpectingReply || r.Type == ReplyPostponed)) {
							break
						}
					}
				}
			}
			if !joined {
				// Alone: poll the node's address, as a sole master polls.
				h.b.send(Frame{Type: PollForMaster, Dest: h.node, Src: holder})
				if r, ok := h.recv(ctx, h.usage); ok && r.Type == ReplyToPollForMaster && r.Src == h.node {
					h.mu.Lock()
					h.joined = true
					h.mu.Unlock()
				} else {
					continue
				}
			}
			next := h.successor(holder)
			h.b.send(Frame{Type: Token, Dest: next, Src: holder})
			if next == h.node {
				nodeHas = true
			} else {
				holder = next
			}
			continue
		}
		f, ok := h.recv(ctx, time.Second)
		if !ok {
			nodeHas = false // the node lost it: start over from our side
			continue
		}
		h.answer(f)
		if f.Type == Token && h.present(f.Dest) {
			holder, nodeHas = f.Dest, false
		}
	}
}

type delivered struct {
	mu   sync.Mutex
	got  [][2][]byte
	back func(src, npdu []byte)
}

func (d *delivered) deliver(src, npdu []byte) {
	d.mu.Lock()
	d.got = append(d.got, [2][]byte{append([]byte(nil), src...), append([]byte(nil), npdu...)})
	back := d.back
	d.mu.Unlock()
	if back != nil {
		back(src, npdu)
	}
}

func (d *delivered) has(src byte, data string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.got {
		if g[0][0] == src && string(g[1]) == data {
			return true
		}
	}
	return false
}

// testTiming is the standard's at 38400 baud.
var testTiming = StandardTiming(38400)

func startLink(t *testing.T, port *os.File, mac, max uint8, d *delivered, infoFrames ...int) *Link {
	t.Helper()
	cfg := Config{Port: port, MAC: mac, MaxMaster: max, Baud: 38400}
	if len(infoFrames) > 0 {
		cfg.MaxInfoFrames = infoFrames[0]
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, d.deliver) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("link run: %v", err)
			}
		case <-time.After(wait):
			t.Error("link did not stop")
		}
	})
	return l
}

func startHarness(t *testing.T, port *os.File, nodeMAC, max uint8, stations ...uint8) *harness {
	h := &harness{b: newBus(t, port), node: nodeMAC, max: max, usage: testTiming.UsageTimeout,
		stations: stations, outbox: map[uint8][]Frame{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func token(from, to uint8) func(Frame) bool {
	return func(f Frame) bool { return f.Type == Token && f.Src == from && f.Dest == to }
}

// npdu with the data-expecting-reply bit set or not.
func npdu(expecting bool, body string) []byte {
	c := byte(0)
	if expecting {
		c = 0x04
	}
	return append([]byte{0x01, c}, body...)
}

// The node answers the test master's poll, joins the ring, finds its
// successor by polling, and exchanges data both ways: a request answered
// with Reply Postponed, and a request it answers itself.
func TestJoinRingAndExchangeData(t *testing.T) {
	a, b := linePair(t)
	d := &delivered{}
	l := startLink(t, a, 3, 7, d)
	h := startHarness(t, b, 3, 7, 1)
	devicetest.Eventually(t, wait, "node passes the token to station 1", func() bool { return h.saw(token(3, 1)) })
	if st := l.Stats(); st.NextStation != 1 || st.TokensReceived == 0 || st.PollReplies == 0 {
		t.Fatalf("ring view %+v", st)
	}

	h.mu.Lock()
	h.postpone = true
	h.mu.Unlock()
	if err := l.Send([]byte{1}, npdu(true, "ask")); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, wait, "postponed reply delivered", func() bool { return d.has(1, "re:"+string(npdu(true, "ask"))) })
	if !h.saw(func(f Frame) bool { return f.Type == DataExpectingReply && f.Dest == 1 }) {
		t.Fatal("the request did not go out as data-expecting-reply")
	}

	d.mu.Lock()
	d.back = func(src, p []byte) {
		if len(p) > 2 && p[1]&0x04 != 0 {
			_ = l.Send(src, npdu(false, "answer"))
		}
	}
	d.mu.Unlock()
	h.mu.Lock()
	h.outbox[1] = append(h.outbox[1], Frame{Type: DataExpectingReply, Dest: 3, Src: 1, Data: npdu(true, "q")})
	h.mu.Unlock()
	devicetest.Eventually(t, wait, "node answers within the reply delay", func() bool {
		return h.saw(func(f Frame) bool {
			return f.Type == DataNotExpectingReply && f.Src == 3 && f.Dest == 1 && string(f.Data) == string(npdu(false, "answer"))
		})
	})
	// Broadcast data reaches the node too.
	h.mu.Lock()
	h.outbox[1] = append(h.outbox[1], Frame{Type: DataNotExpectingReply, Dest: Broadcast, Src: 1, Data: npdu(false, "all")})
	h.mu.Unlock()
	devicetest.Eventually(t, wait, "broadcast delivered", func() bool { return d.has(1, string(npdu(false, "all"))) })
}

// When every other master goes silent the node looks for a successor,
// declares itself sole master and keeps working; when the master comes
// back the node finds it by its maintenance polls. A token lost while the
// node is idle is regenerated after T_no_token.
func TestLostToken(t *testing.T) {
	a, b := linePair(t)
	d := &delivered{}
	l := startLink(t, a, 3, 7, d)
	h := startHarness(t, b, 3, 7, 1)
	devicetest.Eventually(t, wait, "ring formed", func() bool { return h.saw(token(3, 1)) })

	h.quiet.Store(true)
	devicetest.Eventually(t, wait, "sole master", func() bool { return l.Stats().SoleMaster })
	for _, s := range []uint8{4, 5, 6, 7, 0, 1, 2} {
		if !h.saw(func(f Frame) bool { return f.Type == PollForMaster && f.Dest == s && f.Src == 3 }) {
			t.Errorf("no poll for master %d while looking for a successor", s)
		}
	}
	// A sole master still sends its frames.
	if err := l.Send(nil, npdu(false, "alone")); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, wait, "sole master sends", func() bool {
		return h.saw(func(f Frame) bool {
			return f.Type == DataNotExpectingReply && string(f.Data) == string(npdu(false, "alone"))
		})
	})

	h.quiet.Store(false)
	devicetest.Eventually(t, wait, "master found again", func() bool { st := l.Stats(); return !st.SoleMaster && st.NextStation == 1 })

	// Now station 1 keeps the token and goes silent.
	lost := l.Stats().LostTokens
	h.hold.Store(true)
	devicetest.Eventually(t, wait, "token regenerated", func() bool { return l.Stats().LostTokens > lost })
	h.hold.Store(false)
	devicetest.Eventually(t, wait, "ring again", func() bool { return l.Stats().NextStation == 1 && !l.Stats().SoleMaster })
}

// A second master appearing on the line is found by the node's
// maintenance poll and becomes its successor.
func TestSecondMasterJoins(t *testing.T) {
	a, b := linePair(t)
	d := &delivered{}
	l := startLink(t, a, 3, 7, d)
	h := startHarness(t, b, 3, 7, 1)
	devicetest.Eventually(t, wait, "ring formed", func() bool { return h.saw(token(3, 1)) })
	h.addStation(5)
	devicetest.Eventually(t, wait, "node passes to station 5", func() bool { return h.saw(token(3, 5)) })
	if st := l.Stats(); st.NextStation != 5 {
		t.Fatalf("next station %d", st.NextStation)
	}
}

func TestConfigChecks(t *testing.T) {
	a, _ := linePair(t)
	for _, c := range []Config{
		{Port: a, MAC: 128},
		{Port: a, MAC: 10, MaxMaster: 5},
		{Port: a, MAC: 1, Baud: 12345},
		{MAC: 1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	tm := StandardTiming(9600)
	if tm.Turnaround < 4*time.Millisecond || tm.Turnaround > 5*time.Millisecond {
		t.Errorf("turnaround at 9600 baud %s, want 40 bit times (4.17 ms)", tm.Turnaround)
	}
}

// One token lets the node send at most max_info_frames frames.
func TestMaxInfoFrames(t *testing.T) {
	a, b := linePair(t)
	d := &delivered{}
	l := startLink(t, a, 3, 7, d, 2)
	h := startHarness(t, b, 3, 7, 1)
	devicetest.Eventually(t, wait, "ring formed", func() bool { return h.saw(token(3, 1)) })
	for i := 0; i < 5; i++ {
		if err := l.Send(nil, npdu(false, fmt.Sprint("f", i))); err != nil {
			t.Fatal(err)
		}
	}
	devicetest.Eventually(t, wait, "all five sent", func() bool {
		return h.saw(func(f Frame) bool {
			return f.Type == DataNotExpectingReply && string(f.Data) == string(npdu(false, "f4"))
		})
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	run, most := 0, 0
	for _, f := range h.seen {
		switch {
		case f.Type == DataNotExpectingReply && f.Src == 3:
			run++
			most = max(most, run)
		case f.Type == Token && f.Src == 3:
			run = 0
		}
	}
	if most != 2 {
		t.Fatalf("at most %d frames per token, want 2", most)
	}
}

// A port that fails ends Run with its error.
func TestRunEndsOnPortError(t *testing.T) {
	a, _ := linePair(t)
	l, err := New(Config{Port: a, MAC: 1, Baud: 9600})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), func(_, _ []byte) {}) }()
	a.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned no error for a closed port")
		}
	case <-time.After(wait):
		t.Fatal("Run did not end after its port failed")
	}
}
