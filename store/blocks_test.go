package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func randomPayload(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Payloads of every size around the part boundaries come back whole, in
// order, across a restart; acknowledging them gives every byte back.
func TestBlocksRoundTripAndAccounting(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 2000, 2014, 2015, 4030, 6000, 60_000, store.MaxPayload}
	var want [][]byte
	var items uint64
	for i, n := range sizes {
		p := randomPayload(r, n)
		want = append(want, p)
		if _, err := s.EnqueueBlock("telemetry", i*10, p); err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		items += uint64(i * 10)
	}
	if _, err := s.Enqueue("health", []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = storetest.Open(t, dir)
	recs, err := s.Peek(0, 100, 0)
	if err != nil || len(recs) != len(sizes)+1 {
		t.Fatalf("peek: %d records, %v", len(recs), err)
	}
	for i, rec := range recs[:len(sizes)] {
		if rec.Seq != uint64(i+1) || rec.Stream != "telemetry" || rec.Items != uint64(i*10) || !bytes.Equal(rec.Payload, want[i]) {
			t.Fatalf("record %d: seq %d stream %s items %d, %d bytes (want %d)", i, rec.Seq, rec.Stream, rec.Items, len(rec.Payload), len(want[i]))
		}
	}
	// Peek after a record with parts starts at the next record.
	if later, _ := s.Peek(8, 10, 0); len(later) != 2 || later[0].Seq != 9 {
		t.Fatalf("peek after 8: %+v", later)
	}
	st := s.OutboxStats()
	if st.Depth != uint64(len(sizes)+1) || st.Items != items || st.ItemsEnqueued != items || st.Bytes < uint64(store.MaxPayload) {
		t.Fatalf("stats %+v", st)
	}
	seqs := make([]uint64, len(recs))
	for i, rec := range recs {
		seqs[i] = rec.Seq
	}
	if n, err := s.Ack(seqs...); err != nil || n != len(seqs) {
		t.Fatalf("ack: %d %v", n, err)
	}
	st = s.OutboxStats()
	if st.Depth != 0 || st.Items != 0 || st.Bytes != 0 || st.ItemsEnqueued != items {
		t.Fatalf("after acknowledging everything: %+v", st)
	}
	if recs, _ := s.Peek(0, 10, 0); len(recs) != 0 {
		t.Fatalf("%d records left (parts without heads?)", len(recs))
	}
}

// Over the byte bound the oldest records go first, whole, and what they
// held is counted; the newest record always stays.
func TestBlocksEvictOldestByBytes(t *testing.T) {
	s := storetest.New(t)
	s.SetOutboxMaxBytes(store.MinOutboxMaxBytes) // 64 KiB
	r := rand.New(rand.NewPCG(3, 4))
	const size, items = 6000, 2000
	for i := 0; i < 40; i++ {
		if _, err := s.EnqueueBlock("telemetry", items, randomPayload(r, size)); err != nil {
			t.Fatal(err)
		}
		if st := s.OutboxStats(); st.Bytes > st.MaxBytes {
			t.Fatalf("after %d: %d bytes over the bound %d", i, st.Bytes, st.MaxBytes)
		}
	}
	st := s.OutboxStats()
	recs, _ := s.Peek(0, 100, 0)
	if uint64(len(recs)) != st.Depth || st.Evicted+st.Depth != 40 || st.EvictedItems != st.Evicted*items || st.Items != st.Depth*items {
		t.Fatalf("stats %+v, %d records", st, len(recs))
	}
	for i, rec := range recs {
		if rec.Seq != 40-st.Depth+uint64(i)+1 {
			t.Fatalf("record %d has seq %d: not the newest kept", i, rec.Seq)
		}
	}
	if !st.NearlyFull() {
		t.Fatalf("a full outbox is not nearly full: %+v", st)
	}
	// One record larger than the bound evicts everything else but stays.
	if _, err := s.EnqueueBlock("telemetry", 1, randomPayload(r, 100_000)); err != nil {
		t.Fatal(err)
	}
	if st := s.OutboxStats(); st.Depth != 1 || st.Items != 1 {
		t.Fatalf("after an oversized record: %+v", st)
	}
}

// Shared values stay while a record enqueued under them is queued.
func TestSharedValuesFollowTheRecords(t *testing.T) {
	s := storetest.New(t)
	put := func(key, value string) {
		t.Helper()
		if err := s.Update(func(tx *store.Tx) error { return tx.PutShared([]byte(key), []byte(value)) }); err != nil {
			t.Fatal(err)
		}
	}
	has := func(key string) bool {
		_, err := s.Shared([]byte(key))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	enqueue := func(n int) (seqs []uint64) {
		for range n {
			seq, err := s.EnqueueBlock("telemetry", 1, []byte("frame"))
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, seq)
		}
		return seqs
	}
	put("A", "dict a")
	a := enqueue(3)
	put("B", "dict b")
	b := enqueue(2)
	if v, err := s.Shared([]byte("A")); err != nil || string(v) != "dict a" || !has("B") {
		t.Fatalf("A = %q, %v", v, err)
	}
	if _, err := s.Ack(a[:2]...); err != nil {
		t.Fatal(err)
	}
	if !has("A") {
		t.Fatal("A removed while a record enqueued under it is queued")
	}
	if _, err := s.Ack(a[2]); err != nil {
		t.Fatal(err)
	}
	if has("A") || !has("B") {
		t.Fatalf("after A's records: A %v, B %v", has("A"), has("B"))
	}
	// The current value stays when the outbox empties; A put again is
	// current again.
	if _, err := s.Ack(b...); err != nil {
		t.Fatal(err)
	}
	put("A", "dict a")
	enqueue(1)
	if !has("A") || has("B") {
		t.Fatalf("after A again: A %v, B %v", has("A"), has("B"))
	}
	err := s.Update(func(tx *store.Tx) error { return tx.PutShared(nil, []byte("x")) })
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty key: %v", err)
	}
}

func BenchmarkEnqueueBlock(b *testing.B) {
	for _, size := range []int{6000, 24000} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			s := storetest.New(b)
			p := randomPayload(rand.New(rand.NewPCG(5, 6)), size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := s.EnqueueBlock("telemetry", 2000, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
