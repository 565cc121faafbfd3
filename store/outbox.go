package store

import (
	"fmt"
	"time"
)

// Record is one queued outbox message.
type Record struct {
	Seq     uint64    // gateway-wide, strictly increasing, never reused
	Stream  string    // e.g. "telemetry", "audit"
	TS      time.Time // when it was enqueued
	Items   uint64    // items the payload holds, as EnqueueBlock was told (0: not counted)
	Payload []byte
}

// MaxPayload bounds one outbox payload.
const MaxPayload = 1 << 20

// Enqueue appends one record per payload to stream and returns the sequence
// number of the first; the rest follow consecutively. When the outbox is over
// its record or byte bound the oldest records (of any stream) are evicted
// and counted. Records are stored as blocks.go describes.
func (t *Tx) Enqueue(stream string, payloads ...[]byte) (uint64, error) {
	return t.enqueue(stream, make([]uint64, len(payloads)), payloads)
}

// Peek returns up to max records with Seq > after, in sequence order, and
// stops early once maxBytes of payload are collected (maxBytes <= 0: no byte
// bound; at least one record is returned when any is queued).
func (t *Tx) Peek(after uint64, max, maxBytes int) ([]Record, error) {
	c := t.tx.Bucket(bucketOutbox).Cursor()
	var out []Record
	size := 0
	for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
		if len(k) != 8 {
			return nil, fmt.Errorf("outbox key %x: %w: a part without its record", k, ErrCorrupt)
		}
		r, err := readRecord(c, k, v)
		if err != nil {
			return nil, err
		}
		if maxBytes > 0 && len(out) > 0 && size+len(r.Payload) > maxBytes {
			break
		}
		size += len(r.Payload)
		out = append(out, r)
	}
	return out, nil
}

// Ack removes the records with the given sequence numbers and returns how
// many were still queued. Acknowledging an unknown or already removed
// record is not an error: delivery is at-least-once.
func (t *Tx) Ack(seqs ...uint64) (int, error) {
	b := t.tx.Bucket(bucketOutbox)
	var gone removed
	for _, seq := range seqs {
		r, err := deleteRecord(b, seq)
		if err != nil {
			return int(gone.records), err
		}
		gone.records, gone.items, gone.bytes = gone.records+r.records, gone.items+r.items, gone.bytes+r.bytes
	}
	if gone.records == 0 {
		return 0, nil
	}
	in := t.internal()
	for _, kv := range []struct {
		key []byte
		d   uint64
	}{{keyOutboxDepth, gone.records}, {keyOutboxItems, gone.items}, {keyOutboxBytes, gone.bytes}} {
		v := getUint(in, kv.key)
		if err := putUint(in, kv.key, v-min(v, kv.d)); err != nil {
			return int(gone.records), err
		}
	}
	return int(gone.records), t.pruneShared()
}

// OutboxStats describes the queue.
type OutboxStats struct {
	Depth     uint64    // records queued
	Capacity  uint64    // most records queued before eviction
	HighWater uint64    // Depth at or above which health should warn
	Evicted   uint64    // records evicted since the store was created
	LastSeq   uint64    // the last sequence number assigned
	Oldest    time.Time // enqueue time of the oldest queued record (zero when empty)

	Bytes         uint64 // keys and values of the queued records
	MaxBytes      uint64 // most Bytes before eviction (SetOutboxMaxBytes)
	Items         uint64 // items of the queued records (EnqueueBlock)
	ItemsEnqueued uint64 // items ever enqueued
	EvictedItems  uint64 // items of the evicted records
}

// OldestAge returns how long the oldest record has waited at now.
func (o OutboxStats) OldestAge(now time.Time) time.Duration {
	if o.Oldest.IsZero() {
		return 0
	}
	return now.Sub(o.Oldest)
}

// NearlyFull reports whether the queue has reached its high-water mark, in
// records or in bytes.
func (o OutboxStats) NearlyFull() bool {
	return o.Depth >= o.HighWater || o.Bytes >= o.MaxBytes/100*HighWaterPercent
}

// OutboxStats returns the queue's figures.
func (t *Tx) OutboxStats() OutboxStats {
	in := t.internal()
	capacity := uint64(t.s.opts.OutboxCapacity)
	st := OutboxStats{
		Depth:     getUint(in, keyOutboxDepth),
		Capacity:  capacity,
		HighWater: capacity * HighWaterPercent / 100,
		Evicted:   getUint(in, keyOutboxEvicted),
		LastSeq:   getUint(in, keyOutboxSeq),

		Bytes:         getUint(in, keyOutboxBytes),
		MaxBytes:      uint64(t.s.OutboxMaxBytes()),
		Items:         getUint(in, keyOutboxItems),
		ItemsEnqueued: getUint(in, keyOutboxItemsTotal),
		EvictedItems:  getUint(in, keyOutboxEvictedItems),
	}
	if k, v := t.tx.Bucket(bucketOutbox).Cursor().First(); k != nil {
		if h, err := decodeHead(k, v); err == nil {
			st.Oldest = h.ts
		}
	}
	return st
}

// Enqueue appends records in one durable transaction; see Tx.Enqueue.
func (s *Store) Enqueue(stream string, payloads ...[]byte) (uint64, error) {
	var first uint64
	err := s.Update(func(tx *Tx) (err error) { first, err = tx.Enqueue(stream, payloads...); return })
	return first, err
}

// Peek returns queued records after a sequence number; see Tx.Peek.
func (s *Store) Peek(after uint64, max, maxBytes int) ([]Record, error) {
	var out []Record
	err := s.View(func(tx *Tx) (err error) { out, err = tx.Peek(after, max, maxBytes); return })
	return out, err
}

// Ack removes acknowledged records in one transaction; see Tx.Ack.
func (s *Store) Ack(seqs ...uint64) (int, error) {
	var n int
	err := s.Update(func(tx *Tx) (err error) { n, err = tx.Ack(seqs...); return })
	return n, err
}

// OutboxStats returns the queue's figures.
func (s *Store) OutboxStats() OutboxStats {
	var o OutboxStats
	_ = s.View(func(tx *Tx) error { o = tx.OutboxStats(); return nil })
	return o
}
