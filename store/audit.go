package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AuditEvent is one entry of the tamper-evident audit chain. Actor is an
// account id (never a name or contact detail); Action is a dotted name such
// as "config.change".
type AuditEvent struct {
	Seq    uint64    `json:"seq"`
	TS     time.Time `json:"ts"`
	Actor  string    `json:"actor"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Result string    `json:"result"`
	Detail string    `json:"detail,omitempty"`
	Hash   string    `json:"hash"`
}

// canonicalEvent fixes the bytes that are hashed: every field but the hash,
// in this order, the time in UTC with nanoseconds. encoding/json writes
// struct fields in declaration order and escapes strings deterministically.
type canonicalEvent struct {
	Seq    uint64 `json:"seq"`
	TS     string `json:"ts"`
	Actor  string `json:"actor"`
	Role   string `json:"role"`
	Action string `json:"action"`
	Target string `json:"target"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// Canonical returns the bytes of e that the chain hashes.
func (e AuditEvent) Canonical() []byte {
	b, _ := json.Marshal(canonicalEvent{
		Seq: e.Seq, TS: e.TS.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Role: e.Role,
		Action: e.Action, Target: e.Target, Result: e.Result, Detail: e.Detail,
	})
	return b
}

// ChainHash returns SHA-256(prev ‖ canonical(e)).
func ChainHash(prev []byte, e AuditEvent) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(e.Canonical())
	return h.Sum(nil)
}

// MaxAuditField bounds each text field of an audit event.
const MaxAuditField = 4096

// ErrAuditChain means the audit chain does not verify.
var ErrAuditChain = errors.New("audit chain broken")

// storedEvent is an event as stored: the event and its MAC, which never
// leaves the store (the cloud cannot check it without the key).
type storedEvent struct {
	AuditEvent
	MAC string `json:"mac,omitempty"`
}

// storedFields is storedEvent flattened, which encoding/json decodes
// faster than an embedded struct (verification decodes every event).
type storedFields struct {
	Seq    uint64    `json:"seq"`
	TS     time.Time `json:"ts"`
	Actor  string    `json:"actor"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Result string    `json:"result"`
	Detail string    `json:"detail,omitempty"`
	Hash   string    `json:"hash"`
	MAC    string    `json:"mac,omitempty"`
}

// macInput is what an event's MAC covers: its seq and its chain hash,
// which covers its content and every event before it.
func macInput(seq uint64, hash []byte) []byte {
	return append(u64(seq), hash...)
}

// AppendAudit adds e to the chain, assigning Seq, TS (when zero) and Hash,
// and returns the stored event. With an audit key the event is also keyed
// (a MAC over its seq and hash, kept with it). When the chain is at
// capacity the oldest event is evicted and becomes the chain's anchor, so
// the rest still verifies; evictions are counted in AuditStats.
func (t *Tx) AppendAudit(e AuditEvent) (AuditEvent, error) {
	for _, f := range []string{e.Actor, e.Role, e.Action, e.Target, e.Result, e.Detail} {
		if len(f) > MaxAuditField {
			return AuditEvent{}, fmt.Errorf("append audit %s: %w: a field is over %d bytes", e.Action, ErrInvalid, MaxAuditField)
		}
	}
	if e.Action == "" {
		return AuditEvent{}, fmt.Errorf("append audit: %w: empty action", ErrInvalid)
	}
	in := t.internal()
	e.Seq = getUint(in, keyAuditSeq) + 1
	if e.TS.IsZero() {
		e.TS = t.s.opts.Now()
	}
	e.TS = e.TS.UTC()
	prev := in.Get(keyAuditHash)
	if prev == nil {
		prev = make([]byte, sha256.Size)
	}
	sum := ChainHash(prev, e)
	e.Hash = hex.EncodeToString(sum)
	rec := storedEvent{AuditEvent: e}
	if k := t.s.auditKey; k != nil {
		if from := getUint(in, keyAuditKeyedFrom); from > 0 && e.Seq >= from {
			rec.MAC = hex.EncodeToString(k.MAC(macInput(e.Seq, sum)))
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return AuditEvent{}, err
	}
	b := t.tx.Bucket(bucketAudit)
	b.FillPercent = 1 // append-only keys: pack pages full
	if err := b.Put(u64(e.Seq), v); err != nil {
		return AuditEvent{}, err
	}
	if err := putUint(in, keyAuditSeq, e.Seq); err != nil {
		return AuditEvent{}, err
	}
	if err := in.Put(keyAuditHash, sum); err != nil {
		return AuditEvent{}, err
	}
	count := getUint(in, keyAuditCount) + 1
	c := b.Cursor()
	evicted := false
	for count > uint64(t.s.opts.AuditCapacity) {
		k, v := c.First()
		old, err := decodeAudit(k, v)
		if err != nil {
			return AuditEvent{}, err
		}
		anchor := append(u64(old.Seq), mustHex(old.Hash)...)
		if err := in.Put(keyAuditAnchor, anchor); err != nil {
			return AuditEvent{}, err
		}
		if err := c.Delete(); err != nil {
			return AuditEvent{}, err
		}
		count--
		evicted = true
		if err := putUint(in, keyAuditEvicted, getUint(in, keyAuditEvicted)+1); err != nil {
			return AuditEvent{}, err
		}
	}
	if err := putUint(in, keyAuditCount, count); err != nil {
		return AuditEvent{}, err
	}
	if evicted {
		if err := t.dropOldCheckpoints(getUint(in, keyAuditEvicted) + 1); err != nil {
			return AuditEvent{}, err
		}
	}
	if e.Seq >= t.s.lastCP.Load()+uint64(t.s.opts.CheckpointEvery) {
		t.tx.OnCommit(func() {
			select {
			case t.s.cpWake <- struct{}{}:
			default:
			}
		})
	}
	if fn := t.s.onAudit.Load(); fn != nil {
		t.tx.OnCommit(func() { (*fn)(e) })
	}
	return e, nil
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		// An unparsable hash is kept as its raw text so that verification
		// reports the mismatch instead of this function hiding it.
		return []byte(s)
	}
	return b
}

func decodeAudit(k, v []byte) (AuditEvent, error) {
	e, err := decodeStored(k, v)
	return e.AuditEvent, err
}

func decodeStored(k, v []byte) (storedEvent, error) {
	var f storedFields
	if err := json.Unmarshal(v, &f); err != nil {
		return storedEvent{}, fmt.Errorf("audit event %d: %w: %v", binary.BigEndian.Uint64(k), ErrAuditChain, err)
	}
	return storedEvent{AuditEvent: AuditEvent{Seq: f.Seq, TS: f.TS, Actor: f.Actor, Role: f.Role, Action: f.Action,
		Target: f.Target, Result: f.Result, Detail: f.Detail, Hash: f.Hash}, MAC: f.MAC}, nil
}

// AuditFilter selects events for ListAudit.
type AuditFilter struct {
	AfterSeq uint64 // only events with Seq > AfterSeq
	Limit    int    // at most this many (0: no limit)
	Newest   bool   // the newest Limit events (still returned oldest first)
}

// ListAudit returns stored events in sequence order.
func (t *Tx) ListAudit(f AuditFilter) ([]AuditEvent, error) {
	b := t.tx.Bucket(bucketAudit)
	c := b.Cursor()
	var out []AuditEvent
	if f.Newest && f.Limit > 0 {
		for k, v := c.Last(); k != nil && len(out) < f.Limit; k, v = c.Prev() {
			if binary.BigEndian.Uint64(k) <= f.AfterSeq {
				break
			}
			e, err := decodeAudit(k, v)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out, nil
	}
	for k, v := c.Seek(u64(f.AfterSeq + 1)); k != nil && (f.Limit <= 0 || len(out) < f.Limit); k, v = c.Next() {
		e, err := decodeAudit(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// AuditStats describes the chain's fill level.
type AuditStats struct {
	Count     uint64 // events retained
	Capacity  uint64 // most events retained before eviction
	HighWater uint64 // Count at or above which health should warn
	Evicted   uint64 // events evicted since the store was created
	LastSeq   uint64 // sequence number of the newest event
}

// NearlyFull reports whether the chain has reached its high-water mark.
func (a AuditStats) NearlyFull() bool { return a.Count >= a.HighWater }

// AuditStats returns the chain's figures.
func (t *Tx) AuditStats() AuditStats {
	in := t.internal()
	capacity := uint64(t.s.opts.AuditCapacity)
	return AuditStats{
		Count:     getUint(in, keyAuditCount),
		Capacity:  capacity,
		HighWater: capacity * HighWaterPercent / 100,
		Evicted:   getUint(in, keyAuditEvicted),
		LastSeq:   getUint(in, keyAuditSeq),
	}
}

// AppendAudit appends one event in its own transaction.
func (s *Store) AppendAudit(e AuditEvent) (AuditEvent, error) {
	var out AuditEvent
	err := s.Update(func(tx *Tx) (err error) { out, err = tx.AppendAudit(e); return })
	return out, err
}

// ListAudit returns stored events in sequence order.
func (s *Store) ListAudit(f AuditFilter) ([]AuditEvent, error) {
	var out []AuditEvent
	err := s.View(func(tx *Tx) (err error) { out, err = tx.ListAudit(f); return })
	return out, err
}

// AuditStats returns the chain's figures.
func (s *Store) AuditStats() AuditStats {
	var a AuditStats
	_ = s.View(func(tx *Tx) error { a = tx.AuditStats(); return nil })
	return a
}
