package store

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Record is one queued outbox message.
type Record struct {
	Seq     uint64    // gateway-wide, strictly increasing, never reused
	Stream  string    // e.g. "telemetry", "audit"
	TS      time.Time // when it was enqueued
	Payload []byte
}

// MaxPayload bounds one outbox payload.
const MaxPayload = 1 << 20

// Record value layout: 8-byte Unix nanoseconds, 1-byte stream length, the
// stream name, then the payload. Binary, because the outbox is the store's
// hottest path.
func encodeRecord(ts time.Time, stream string, payload []byte) []byte {
	v := make([]byte, 9+len(stream)+len(payload))
	binary.BigEndian.PutUint64(v, uint64(ts.UnixNano()))
	v[8] = byte(len(stream))
	copy(v[9:], stream)
	copy(v[9+len(stream):], payload)
	return v
}

func decodeRecord(k, v []byte) (Record, error) {
	seq := binary.BigEndian.Uint64(k)
	if len(v) < 9 || len(v) < 9+int(v[8]) {
		return Record{}, fmt.Errorf("outbox record %d: %w: %d bytes is too short", seq, ErrCorrupt, len(v))
	}
	n := int(v[8])
	return Record{
		Seq:     seq,
		TS:      time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(),
		Stream:  string(v[9 : 9+n]),
		Payload: clone(v[9+n:]),
	}, nil
}

// Enqueue appends one record per payload to stream and returns the sequence
// number of the first; the rest follow consecutively. When the outbox is over
// capacity the oldest records (of any stream) are evicted and counted.
func (t *Tx) Enqueue(stream string, payloads ...[]byte) (uint64, error) {
	if stream == "" || len(stream) > 255 {
		return 0, fmt.Errorf("enqueue: %w: stream name must be 1..255 bytes", ErrInvalid)
	}
	for _, p := range payloads {
		if len(p) > MaxPayload {
			return 0, fmt.Errorf("enqueue on %s: %w: a payload of %d bytes is over the %d byte limit", stream, ErrInvalid, len(p), MaxPayload)
		}
	}
	in := t.internal()
	b := t.tx.Bucket(bucketOutbox)
	b.FillPercent = 1 // keys only ever grow: pack pages full
	seq := getUint(in, keyOutboxSeq)
	first := seq + 1
	now := t.s.opts.Now()
	for _, p := range payloads {
		seq++
		if err := b.Put(u64(seq), encodeRecord(now, stream, p)); err != nil {
			return 0, fmt.Errorf("enqueue on %s: %w", stream, err)
		}
	}
	if err := putUint(in, keyOutboxSeq, seq); err != nil {
		return 0, err
	}
	depth := getUint(in, keyOutboxDepth) + uint64(len(payloads))
	if over := int64(depth) - int64(t.s.opts.OutboxCapacity); over > 0 {
		c := b.Cursor()
		var evicted uint64
		for k, _ := c.First(); k != nil && evicted < uint64(over); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return 0, err
			}
			evicted++
		}
		depth -= evicted
		if err := putUint(in, keyOutboxEvicted, getUint(in, keyOutboxEvicted)+evicted); err != nil {
			return 0, err
		}
	}
	if err := putUint(in, keyOutboxDepth, depth); err != nil {
		return 0, err
	}
	return first, nil
}

// Peek returns up to max records with Seq > after, in sequence order, and
// stops early once maxBytes of payload are collected (maxBytes <= 0: no byte
// bound; at least one record is returned when any is queued).
func (t *Tx) Peek(after uint64, max, maxBytes int) ([]Record, error) {
	c := t.tx.Bucket(bucketOutbox).Cursor()
	var out []Record
	size := 0
	for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
		r, err := decodeRecord(k, v)
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
	n := 0
	for _, seq := range seqs {
		k := u64(seq)
		if b.Get(k) == nil {
			continue
		}
		if err := b.Delete(k); err != nil {
			return n, err
		}
		n++
	}
	in := t.internal()
	depth := getUint(in, keyOutboxDepth)
	if uint64(n) >= depth {
		depth = 0
	} else {
		depth -= uint64(n)
	}
	return n, putUint(in, keyOutboxDepth, depth)
}

// OutboxStats describes the queue.
type OutboxStats struct {
	Depth     uint64    // records queued
	Capacity  uint64    // most records queued before eviction
	HighWater uint64    // Depth at or above which health should warn
	Evicted   uint64    // records evicted since the store was created
	LastSeq   uint64    // the last sequence number assigned
	Oldest    time.Time // enqueue time of the oldest queued record (zero when empty)
}

// OldestAge returns how long the oldest record has waited at now.
func (o OutboxStats) OldestAge(now time.Time) time.Duration {
	if o.Oldest.IsZero() {
		return 0
	}
	return now.Sub(o.Oldest)
}

// NearlyFull reports whether the queue has reached its high-water mark.
func (o OutboxStats) NearlyFull() bool { return o.Depth >= o.HighWater }

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
	}
	if k, v := t.tx.Bucket(bucketOutbox).Cursor().First(); k != nil {
		if r, err := decodeRecord(k, v); err == nil {
			st.Oldest = r.TS
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
