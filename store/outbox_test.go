package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestOutboxSeqAcrossStreamsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	s, err := store.Open(dir, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Enqueue("telemetry", []byte("a"), []byte("b"), []byte("c"))
	if err != nil || first != 1 {
		t.Fatalf("first enqueue: %d %v", first, err)
	}
	clock.t = clock.t.Add(time.Minute)
	if first, _ = s.Enqueue("audit", []byte("d")); first != 4 {
		t.Fatalf("second stream continues the sequence: got %d", first)
	}
	if _, err := s.Ack(1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = storetest.Open(t, dir, store.Options{Now: clock.Now})
	if first, _ = s.Enqueue("health", []byte("e")); first != 5 {
		t.Fatalf("after restart with an empty queue the sequence must go on: got %d", first)
	}
	recs, err := s.Peek(0, 10, 0)
	if err != nil || len(recs) != 1 || recs[0].Seq != 5 || recs[0].Stream != "health" || string(recs[0].Payload) != "e" || !recs[0].TS.Equal(clock.t) {
		t.Fatalf("peek: %+v %v", recs, err)
	}
}

func TestOutboxPeekAckDepthAge(t *testing.T) {
	clock := &fakeClock{time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	s := storetest.New(t, store.Options{Now: clock.Now})
	for i := 0; i < 5; i++ {
		if _, err := s.Enqueue("telemetry", []byte(fmt.Sprintf("r%d", i))); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(10 * time.Second)
	}
	st := s.OutboxStats()
	if st.Depth != 5 || st.OldestAge(clock.t) != 50*time.Second {
		t.Fatalf("stats: %+v age %v", st, st.OldestAge(clock.t))
	}
	recs, _ := s.Peek(2, 2, 0)
	if len(recs) != 2 || recs[0].Seq != 3 || recs[1].Seq != 4 {
		t.Fatalf("peek after 2: %+v", recs)
	}
	recs, _ = s.Peek(0, 10, 5)
	if len(recs) != 2 {
		t.Fatalf("peek bounded to 5 bytes of 2-byte payloads: %d records", len(recs))
	}
	if n, _ := s.Ack(1, 3, 99); n != 2 {
		t.Fatalf("ack counted %d", n)
	}
	if n, _ := s.Ack(1); n != 0 {
		t.Fatalf("second ack of the same record counted %d", n)
	}
	st = s.OutboxStats()
	if st.Depth != 3 || st.OldestAge(clock.t) != 40*time.Second {
		t.Fatalf("after ack: %+v age %v", st, st.OldestAge(clock.t))
	}
	recs, _ = s.Peek(0, 10, 0)
	if len(recs) != 3 || recs[0].Seq != 2 || recs[1].Seq != 4 {
		t.Fatalf("remaining: %+v", recs)
	}
	if _, err := s.Enqueue("", []byte("x")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty stream: %v", err)
	}
	if _, err := s.Enqueue("t", make([]byte, store.MaxPayload+1)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("oversized payload: %v", err)
	}
}

func TestOutboxEvictsOldestAndCounts(t *testing.T) {
	s := storetest.New(t, store.Options{OutboxCapacity: 10})
	for i := 0; i < 8; i++ {
		if _, err := s.Enqueue("telemetry", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.OutboxStats(); !st.NearlyFull() || st.Evicted != 0 {
		t.Fatalf("8 of 10: %+v", st)
	}
	batch := make([][]byte, 7)
	for i := range batch {
		batch[i] = []byte{byte(100 + i)}
	}
	if _, err := s.Enqueue("telemetry", batch...); err != nil {
		t.Fatal(err)
	}
	st := s.OutboxStats()
	if st.Depth != 10 || st.Evicted != 5 || st.LastSeq != 15 {
		t.Fatalf("after 15 of 10: %+v", st)
	}
	recs, _ := s.Peek(0, 100, 0)
	if len(recs) != 10 || recs[0].Seq != 6 || recs[9].Seq != 15 {
		t.Fatalf("oldest were not evicted first: first %d last %d", recs[0].Seq, recs[len(recs)-1].Seq)
	}
}
