package store

import (
	"bytes"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A store of schema 1 (records in the first layout) opens: the migration
// counts the queued bytes, the old records read, acknowledge and evict like
// new ones.
func TestBlocksMigrateFirstLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	old := [][]byte{[]byte(`{"gateway":"gw","readings":[]}`), bytes.Repeat([]byte("x"), 9000)}
	var size uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for i, p := range old {
			v := append(u64(uint64(ts.UnixNano())), byte(len("telemetry")))
			v = append(append(v, "telemetry"...), p...)
			if err := b.Put(u64(uint64(i+1)), v); err != nil {
				return err
			}
			size += uint64(8 + len(v))
		}
		in := tx.Bucket(bucketInternal)
		for _, kv := range []struct {
			k []byte
			v uint64
		}{{keyOutboxSeq, 2}, {keyOutboxDepth, 2}, {keyOutboxBytes, 0}, {keySchema, 1}} {
			if err := putUint(in, kv.k, kv.v); err != nil {
				return err
			}
		}
		return tx.DeleteBucket(bucketShared)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.OutboxStats()
	if st.Bytes != size || st.Depth != 2 || !st.Oldest.Equal(ts) {
		t.Fatalf("after migration: %+v, want %d bytes", st, size)
	}
	recs, err := s.Peek(0, 10, 0)
	if err != nil || len(recs) != 2 || !bytes.Equal(recs[1].Payload, old[1]) || recs[0].Stream != "telemetry" || recs[0].Items != 0 {
		t.Fatalf("peek: %+v %v", recs, err)
	}
	if _, err := s.Enqueue("health", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(1, 2); err != nil {
		t.Fatal(err)
	}
	if st := s.OutboxStats(); st.Depth != 1 || st.Bytes == 0 || st.Bytes > 64 {
		t.Fatalf("after acknowledging the old records: %+v", st)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutShared([]byte("k"), []byte("v")) }); err != nil {
		t.Fatalf("shared bucket after migration: %v", err)
	}
}

// FuzzDecodeHead: a damaged record head is an error, never a panic.
func FuzzDecodeHead(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 't', 'e', 'l', 'e', 'm', 'e', 't', 'r', 'y', 5, 2, 'a'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 4, 'a', 'b', 'c', 'd', 'p'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'x', 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v []byte) {
		h, err := decodeHead(u64(7), v)
		if err != nil {
			return
		}
		if h.stream == "" && !h.legacy || h.parts > maxParts || len(h.first) > len(v) {
			t.Fatalf("accepted %x as %+v", v, h)
		}
	})
}
