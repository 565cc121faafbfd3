package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Outbox blocks: records that hold many items (a group commit of readings)
// and are accounted in bytes as well as in records.
//
// # Layout
//
// A record is stored as a head under its 8-byte seq and, when its payload
// does not fit in the head, as parts under seq ‖ 2-byte part number
// (1, 2, ...), which sort right after the head and before the next seq.
// Every value is at most partLimit bytes, so that two fit in one page:
// appending to the outbox then rewrites at most the last, partly filled leaf
// page, whatever the payload's size (bbolt splits a leaf only beyond four
// elements, so a 6 KB value in a leaf with three others made every commit
// rewrite 24 KB).
//
//	head (key: 8-byte seq)
//	  8 bytes  enqueue time, Unix nanoseconds, big endian
//	  byte     0 (marks this layout: the first layout put the stream's
//	           length, 1..255, here)
//	  byte     stream length n, then n bytes of stream name
//	  uvarint  items the payload holds (0: not counted)
//	  uvarint  parts that follow the head
//	  ...      the payload's first bytes
//	part (key: 8-byte seq ‖ 2-byte part number)
//	  ...      the payload's next bytes
//
// Records written by the first layout (8-byte time, stream length, stream,
// payload, all in one value) are still read; they count no items.

// Keys in bucketInternal for the byte and item accounting (schema 2).
var (
	keyOutboxBytes        = []byte("outbox_bytes")         // keys and values of every queued head and part
	keyOutboxItems        = []byte("outbox_items")         // items of the queued records
	keyOutboxItemsTotal   = []byte("outbox_items_total")   // items ever enqueued
	keyOutboxEvictedItems = []byte("outbox_evicted_items") // items of evicted records
)

// bucketShared holds values records refer to (a dictionary of the names
// readings use): key → 8-byte seq from which the value is the current one ‖
// value.
var bucketShared = []byte("outbox_shared")

// Bounds of the byte accounting.
const (
	// DefaultOutboxMaxBytes is the outbox's default size bound: 1 GiB.
	DefaultOutboxMaxBytes = 1 << 30
	// MinOutboxMaxBytes is the smallest bound SetOutboxMaxBytes accepts.
	MinOutboxMaxBytes = 64 << 10
	// MaxSharedValue bounds one shared value.
	MaxSharedValue = 8 << 20
	// maxParts bounds the parts of one record (the part number is 2 bytes).
	maxParts = 1<<16 - 1
)

// migrateOutboxBytes (schema 2) counts the bytes of the records queued
// before byte accounting existed, and creates the shared values' bucket.
func migrateOutboxBytes(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketShared); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketShared, err)
	}
	var n uint64
	c := tx.Bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n += uint64(len(k) + len(v))
	}
	return putUint(tx.Bucket(bucketInternal), keyOutboxBytes, n)
}

// partLimit is the largest value the outbox stores: two of them and their
// element headers fit in one page.
func (t *Tx) partLimit() int {
	const pageHeader, elementHeader, partKey = 16, 16, 10
	return (t.tx.DB().Info().PageSize-pageHeader)/2 - elementHeader - partKey
}

func partKey(seq uint64, part int) []byte {
	k := make([]byte, 10)
	binary.BigEndian.PutUint64(k, seq)
	binary.BigEndian.PutUint16(k[8:], uint16(part))
	return k
}

// head is what a record's head value says.
type head struct {
	ts     time.Time
	stream string
	items  uint64
	parts  int
	first  []byte // the payload's bytes in the head
	legacy bool   // the first layout
}

func decodeHead(k, v []byte) (head, error) {
	seq := binary.BigEndian.Uint64(k)
	bad := func(why string) (head, error) {
		return head{}, fmt.Errorf("outbox record %d: %w: %s", seq, ErrCorrupt, why)
	}
	if len(v) < 10 {
		return bad(fmt.Sprintf("%d bytes is too short", len(v)))
	}
	h := head{ts: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()}
	if v[8] != 0 {
		n := int(v[8])
		if len(v) < 9+n {
			return bad("the stream name is cut")
		}
		h.stream, h.first, h.legacy = string(v[9:9+n]), v[9+n:], true
		return h, nil
	}
	n := int(v[9])
	rest := v[10:]
	if n == 0 || len(rest) < n {
		return bad("the stream name is cut")
	}
	h.stream, rest = string(rest[:n]), rest[n:]
	items, l := binary.Uvarint(rest)
	if l <= 0 {
		return bad("the item count is cut")
	}
	rest = rest[l:]
	parts, l := binary.Uvarint(rest)
	if l <= 0 || parts > maxParts {
		return bad("the part count is cut or too large")
	}
	h.items, h.parts, h.first = items, int(parts), rest[l:]
	return h, nil
}

// putRecord stores one record as a head and parts and returns the bytes it
// took (keys and values).
func (t *Tx) putRecord(b *bolt.Bucket, seq uint64, ts time.Time, stream string, items uint64, payload []byte) (uint64, error) {
	limit := t.partLimit()
	hdr := make([]byte, 0, 10+len(stream)+2*binary.MaxVarintLen64)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(ts.UnixNano()))
	hdr = append(hdr, 0, byte(len(stream)))
	hdr = append(hdr, stream...)
	hdr = binary.AppendUvarint(hdr, items)
	// The head holds what fits after its header (at least one byte, so
	// that a long stream name cannot make the parts endless).
	inHead := min(len(payload), max(limit-len(hdr)-binary.MaxVarintLen16, 1))
	rest := payload[inHead:]
	parts := (len(rest) + limit - 1) / limit
	if parts > maxParts {
		return 0, fmt.Errorf("enqueue on %s: %w: a payload of %d bytes needs more than %d parts", stream, ErrInvalid, len(payload), maxParts)
	}
	hdr = binary.AppendUvarint(hdr, uint64(parts))
	v := append(hdr, payload[:inHead]...)
	if err := b.Put(u64(seq), v); err != nil {
		return 0, err
	}
	size := uint64(8 + len(v))
	for i := 1; len(rest) > 0; i++ {
		n := min(len(rest), limit)
		if err := b.Put(partKey(seq, i), rest[:n]); err != nil {
			return 0, err
		}
		size += uint64(10 + n)
		rest = rest[n:]
	}
	return size, nil
}

// readRecord assembles the record whose head the cursor is on and leaves
// the cursor on its last part.
func readRecord(c *bolt.Cursor, k, v []byte) (Record, error) {
	h, err := decodeHead(k, v)
	if err != nil {
		return Record{}, err
	}
	seq := binary.BigEndian.Uint64(k)
	r := Record{Seq: seq, Stream: h.stream, TS: h.ts, Items: h.items}
	if h.parts == 0 {
		r.Payload = clone(h.first)
		if r.Payload == nil {
			r.Payload = []byte{}
		}
		return r, nil
	}
	var buf bytes.Buffer
	buf.Write(h.first)
	for i := 1; i <= h.parts; i++ {
		pk, pv := c.Next()
		if !bytes.Equal(pk, partKey(seq, i)) {
			return Record{}, fmt.Errorf("outbox record %d: %w: part %d of %d is missing", seq, ErrCorrupt, i, h.parts)
		}
		buf.Write(pv)
	}
	r.Payload = buf.Bytes()
	return r, nil
}

// removed is what deleting records took away.
type removed struct {
	records, items, bytes uint64
}

// deleteRecord removes the record seq (head and parts) if it is queued.
func deleteRecord(b *bolt.Bucket, seq uint64) (removed, error) {
	k := u64(seq)
	v := b.Get(k)
	if v == nil {
		return removed{}, nil
	}
	h, err := decodeHead(k, v)
	if err != nil {
		return removed{}, err
	}
	r := removed{records: 1, items: h.items, bytes: uint64(len(k) + len(v))}
	if err := b.Delete(k); err != nil {
		return removed{}, err
	}
	for i := 1; i <= h.parts; i++ {
		pk := partKey(seq, i)
		pv := b.Get(pk)
		if pv == nil {
			return removed{}, fmt.Errorf("outbox record %d: %w: part %d of %d is missing", seq, ErrCorrupt, i, h.parts)
		}
		r.bytes += uint64(len(pk) + len(pv))
		if err := b.Delete(pk); err != nil {
			return removed{}, err
		}
	}
	return r, nil
}

// enqueue appends records (items[i] items in payloads[i]) and evicts the
// oldest records while the outbox is over its record or byte bound.
func (t *Tx) enqueue(stream string, items []uint64, payloads [][]byte) (uint64, error) {
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
	var size, count uint64
	for i, p := range payloads {
		seq++
		n, err := t.putRecord(b, seq, now, stream, items[i], p)
		if err != nil {
			return 0, fmt.Errorf("enqueue on %s: %w", stream, err)
		}
		size += n
		count += items[i]
	}
	depth := getUint(in, keyOutboxDepth) + uint64(len(payloads))
	bytesQueued := getUint(in, keyOutboxBytes) + size
	itemsQueued := getUint(in, keyOutboxItems) + count
	// Oldest first, whatever the stream; the newest record always stays.
	maxBytes := uint64(t.s.OutboxMaxBytes())
	var ev removed
	c := b.Cursor()
	for depth-ev.records > 1 && (depth-ev.records > uint64(t.s.opts.OutboxCapacity) || bytesQueued-ev.bytes > maxBytes) {
		k, _ := c.First()
		if k == nil || len(k) != 8 {
			return 0, fmt.Errorf("evict: %w: the oldest outbox key is not a record head", ErrCorrupt)
		}
		r, err := deleteRecord(b, binary.BigEndian.Uint64(k))
		if err != nil {
			return 0, err
		}
		ev.records, ev.items, ev.bytes = ev.records+r.records, ev.items+r.items, ev.bytes+r.bytes
	}
	if ev.records > 0 {
		if err := addUint(in, keyOutboxEvicted, ev.records); err != nil {
			return 0, err
		}
		if err := addUint(in, keyOutboxEvictedItems, ev.items); err != nil {
			return 0, err
		}
	}
	for _, kv := range []struct {
		key []byte
		v   uint64
	}{
		{keyOutboxSeq, seq}, {keyOutboxDepth, depth - ev.records}, {keyOutboxBytes, bytesQueued - ev.bytes},
		{keyOutboxItems, itemsQueued - ev.items}, {keyOutboxItemsTotal, getUint(in, keyOutboxItemsTotal) + count},
	} {
		if err := putUint(in, kv.key, kv.v); err != nil {
			return 0, err
		}
	}
	if ev.records > 0 {
		if err := t.pruneShared(); err != nil {
			return 0, err
		}
	}
	return first, nil
}

// EnqueueBlock appends one record whose payload holds items items (a group
// commit of readings) and returns its seq. The outbox counts items queued,
// enqueued and evicted, so that health can say how many readings an
// eviction lost, not only how many records.
func (t *Tx) EnqueueBlock(stream string, items int, payload []byte) (uint64, error) {
	if items < 0 {
		return 0, fmt.Errorf("enqueue on %s: %w: negative item count", stream, ErrInvalid)
	}
	return t.enqueue(stream, []uint64{uint64(items)}, [][]byte{payload})
}

// EnqueueBlock appends one counted record in its own durable transaction;
// see Tx.EnqueueBlock.
func (s *Store) EnqueueBlock(stream string, items int, payload []byte) (uint64, error) {
	var seq uint64
	err := s.Update(func(tx *Tx) (err error) { seq, err = tx.EnqueueBlock(stream, items, payload); return })
	return seq, err
}

// SetOutboxMaxBytes sets the outbox's size bound (keys and values of the
// queued records) for the enqueues that follow; it never evicts by itself.
// Values below MinOutboxMaxBytes are raised to it.
func (s *Store) SetOutboxMaxBytes(n int64) { s.outboxMax.Store(max(n, MinOutboxMaxBytes)) }

// OutboxMaxBytes returns the outbox's size bound.
func (s *Store) OutboxMaxBytes() int64 { return s.outboxMax.Load() }

// PutShared stores a value that records refer to by key instead of
// carrying it (the names dictionary of telemetry frames). Values form one
// line of versions: the value put last is the current one, and an older
// value is kept as long as a record enqueued while it was current is
// queued, then removed. Putting a key again makes it current again.
func (t *Tx) PutShared(key, value []byte) error {
	if len(key) == 0 || len(key) > 255 || len(value) > MaxSharedValue {
		return fmt.Errorf("put shared value: %w: key must be 1..255 bytes and value at most %d", ErrInvalid, MaxSharedValue)
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(value)), getUint(t.internal(), keyOutboxSeq)+1)
	if err := t.tx.Bucket(bucketShared).Put(key, append(v, value...)); err != nil {
		return err
	}
	return t.pruneShared()
}

// Shared returns the shared value stored under key, or ErrNotFound.
func (t *Tx) Shared(key []byte) ([]byte, error) {
	v := t.tx.Bucket(bucketShared).Get(key)
	if len(v) < 8 {
		return nil, fmt.Errorf("shared value %x: %w", key, ErrNotFound)
	}
	return clone(v[8:]), nil
}

// Shared returns the shared value stored under key, or ErrNotFound.
func (s *Store) Shared(key []byte) ([]byte, error) {
	var v []byte
	err := s.View(func(tx *Tx) (err error) { v, err = tx.Shared(key); return })
	return v, err
}

// pruneShared removes the shared values that no queued record can need: a
// value stops being current when a later one is put, so it is needed only
// while records enqueued before that remain.
func (t *Tx) pruneShared() error {
	oldest := getUint(t.internal(), keyOutboxSeq) + 1
	if k, _ := t.tx.Bucket(bucketOutbox).Cursor().First(); k != nil {
		oldest = binary.BigEndian.Uint64(k[:8])
	}
	b := t.tx.Bucket(bucketShared)
	// The newest value current at or before the oldest record is still
	// needed; every value current before it is not.
	var floor uint64
	_ = b.ForEach(func(_, v []byte) error {
		if len(v) < 8 {
			return nil
		}
		if from := binary.BigEndian.Uint64(v); from <= oldest && from > floor {
			floor = from
		}
		return nil
	})
	var stale [][]byte
	_ = b.ForEach(func(k, v []byte) error {
		if len(v) >= 8 && binary.BigEndian.Uint64(v) < floor {
			stale = append(stale, clone(k))
		}
		return nil
	})
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func addUint(b *bolt.Bucket, key []byte, d uint64) error {
	return putUint(b, key, getUint(b, key)+d)
}
