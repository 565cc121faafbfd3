package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"time"
)

// VerifyOptions tune VerifyAuditWith.
type VerifyOptions struct {
	// PublicKeys are further keys that may have signed checkpoints, beside
	// the store's own audit key: the cloud's copy of the gateway's key, or
	// an earlier key of this gateway.
	PublicKeys [][]byte
}

// VerifyResult is what VerifyAudit found: what it checked, and what it
// could not prove.
type VerifyResult struct {
	Checked   uint64 // events whose hash was recomputed
	FirstSeq  uint64 // first retained sequence number (0 when empty)
	LastSeq   uint64 // last sequence number
	Evicted   uint64 // events evicted earlier, by the store's count
	Keyed     uint64 // events whose MAC was checked
	KeyedFrom uint64 // first seq keyed with the current audit key (0: none)
	// Checkpoints is how many stored checkpoints had their signature
	// checked and matched the chain; Last is the newest (nil: none).
	Checkpoints int
	Last        *Checkpoint
	// Unproven says, one sentence each, what the verification could not
	// prove (events after the last checkpoint, events without a MAC, keys
	// that are not available, evicted events).
	Unproven []string
}

// VerifyAudit verifies the chain with the store's own audit key; see
// VerifyAuditWith.
func (t *Tx) VerifyAudit() (VerifyResult, error) { return t.VerifyAuditWith(VerifyOptions{}) }

// VerifyAuditWith walks the chain from its anchor (or the genesis) and
// checks: every hash and link; every event's MAC from the seq the audit
// key keyed on; that the first retained seq and the anchor agree with the
// eviction count; every stored checkpoint's signature, that it matches the
// event it names and that the counters only grow; that no more events
// were evicted since a checkpoint than its free capacity allows; and that
// no checkpoint names an event beyond the head. The first problem, in seq
// order, is an error wrapping ErrAuditChain that names its seq. What
// could not be proven is listed in the result.
func (t *Tx) VerifyAuditWith(o VerifyOptions) (VerifyResult, error) {
	return t.verifyAudit(verifyScope{keys: t.s.publicKeys(o.PublicKeys), notes: true})
}

// verifyScope is what verifyAudit covers: everything, or what follows the
// checkpoint from (when the store signs the next one).
type verifyScope struct {
	from  *Checkpoint
	keys  map[string][]byte // public keys by KeyID
	notes bool              // collect what cannot be proven
}

func (s *Store) publicKeys(extra [][]byte) map[string][]byte {
	keys := map[string][]byte{}
	if s.auditKey != nil {
		keys[KeyID(s.auditKey.PublicKey())] = s.auditKey.PublicKey()
	}
	for _, k := range extra {
		keys[KeyID(k)] = k
	}
	return keys
}

func chainError(seq uint64, format string, args ...any) error {
	return fmt.Errorf("%w at seq %d: "+format, append([]any{ErrAuditChain, seq}, args...)...)
}

func stamp(c *Checkpoint) string { return c.TS.UTC().Format(time.RFC3339) }

func (t *Tx) verifyAudit(sc verifyScope) (VerifyResult, error) {
	in := t.internal()
	head := getUint(in, keyAuditSeq)
	evicted := getUint(in, keyAuditEvicted)
	keyedFrom := getUint(in, keyAuditKeyedFrom)
	capacity := uint64(t.s.opts.AuditCapacity)
	res := VerifyResult{Evicted: evicted, KeyedFrom: keyedFrom}
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }

	// The eviction record: events 1..evicted went, oldest first, and the
	// last of them anchors the chain.
	anchorSeq, anchorHash := uint64(0), make([]byte, sha256.Size)
	if a := in.Get(keyAuditAnchor); len(a) >= 8 {
		anchorSeq, anchorHash = binary.BigEndian.Uint64(a[:8]), clone(a[8:])
	}
	if anchorSeq != evicted {
		return res, chainError(min(anchorSeq, evicted)+1, "the eviction record is inconsistent: %d events are counted as evicted, but the chain is anchored on event %d (the oldest events were removed, or the count altered)", evicted, anchorSeq)
	}
	events := t.tx.Bucket(bucketAudit).Cursor()
	if k, _ := events.First(); k != nil {
		if first := binary.BigEndian.Uint64(k); first > evicted+1 {
			return res, chainError(evicted+1, "%s missing: %d events are counted as evicted, so the log must start at seq %d (the oldest events were removed)", span(evicted+1, first-1, "is", "are"), evicted, evicted+1)
		}
	}

	// Checkpoints: signatures, monotonic counters, eviction bounds.
	var cps []Checkpoint
	if sc.from != nil {
		cps = []Checkpoint{*sc.from}
	} else {
		var err error
		if cps, err = t.Checkpoints(0, 0); err != nil {
			return res, err
		}
	}
	unknown := map[string]int{}
	bySeq := map[uint64]*Checkpoint{}
	for i := range cps {
		cp := &cps[i]
		if sc.from == nil {
			if pub, ok := sc.keys[cp.Key]; !ok {
				unknown[cp.Key]++
			} else if err := cp.Verify(pub); err != nil {
				return res, chainError(cp.Seq, "the checkpoint signed at %s does not verify: %v (it was forged or altered)", stamp(cp), err)
			}
		}
		if i > 0 {
			prev := &cps[i-1]
			if cp.Evicted < prev.Evicted || cp.KeyedFrom < prev.KeyedFrom {
				return res, chainError(cp.Seq, "the checkpoint signed at %s counts fewer evictions or an earlier keying than the one before it (the checkpoints were altered)", stamp(cp))
			}
			if prev.Capacity == cp.Capacity {
				if err := evictionBound(prev, cp.Seq, cp.Evicted, cp.Capacity); err != nil {
					return res, err
				}
			}
		}
		if cp.Seq > head {
			return res, chainError(head+1, "%s removed from the end: the checkpoint signed at %s vouches for a chain up to seq %d", span(head+1, cp.Seq, "was", "were"), stamp(cp), cp.Seq)
		}
		if cp.Evicted > evicted {
			return res, chainError(evicted+1, "the checkpoint signed at %s counted %d evicted events, the store only %d (the eviction count was lowered)", stamp(cp), cp.Evicted, evicted)
		}
		bySeq[cp.Seq] = cp
	}
	var last *Checkpoint
	rekeyed := false
	if len(cps) > 0 {
		last = &cps[len(cps)-1]
		// Keying starts again only after a key change, which comes after
		// every checkpoint signed with the old key.
		// Keying starts again only with an audit.key event after every
		// checkpoint signed with the old key (the walk checks the event).
		if keyedFrom != last.KeyedFrom && (keyedFrom <= last.Seq || keyedFrom > head) {
			return res, chainError(max(1, min(keyedFrom, last.KeyedFrom)), "the keying record was altered: the checkpoint signed at %s says events from seq %d carry MACs, the store says from seq %d", stamp(last), last.KeyedFrom, keyedFrom)
		}
		rekeyed = keyedFrom != last.KeyedFrom
		if last.Capacity == capacity {
			if err := evictionBound(last, head, evicted, capacity); err != nil {
				return res, err
			}
		} else if sc.notes {
			note("the capacity changed from %d to %d events since the last checkpoint: whether the %d events evicted since were due cannot be proven", last.Capacity, capacity, evicted-last.Evicted)
		}
	}

	// MACs can be checked when the store holds the key that keyed the chain.
	macKey := t.s.auditKey
	if macKey != nil && KeyID(macKey.PublicKey()) != string(in.Get(keyAuditKeyID)) {
		macKey = nil
	}

	// The walk: from the anchor, or for an incremental check from the
	// checkpoint it extends.
	prev, expect := anchorHash, anchorSeq+1
	k, v := events.First()
	if f := sc.from; f != nil && f.Seq >= expect {
		k, v = events.Seek(u64(f.Seq))
		if k == nil || binary.BigEndian.Uint64(k) != f.Seq {
			return res, chainError(f.Seq, "the event the last checkpoint (signed at %s) names is gone", stamp(f))
		}
		e, err := decodeStored(k, v)
		if err != nil || e.Hash != f.Hash {
			return res, chainError(f.Seq, "it does not match the last checkpoint, signed at %s (the log was rewritten before it)", stamp(f))
		}
		prev, expect = mustHex(f.Hash), f.Seq+1
		k, v = events.Next()
	}
	rangeStart := expect // first seq since the previous checkpoint
	for ; k != nil; k, v = events.Next() {
		seq := binary.BigEndian.Uint64(k)
		e, err := decodeStored(k, v)
		if err != nil {
			return res, chainError(seq, "the stored event is not readable")
		}
		if seq != expect || e.Seq != seq {
			return res, chainError(seq, "expected event %d next (an event was removed or inserted)", expect)
		}
		sum := ChainHash(prev, e.AuditEvent)
		if hex.EncodeToString(sum) != e.Hash {
			return res, chainError(seq, "its hash does not match its content or its predecessor")
		}
		if rekeyed && seq == keyedFrom && e.Action != "audit.key" {
			return res, chainError(seq, "the keying record was altered: keying starts again at seq %d, which is not an audit.key event", seq)
		}
		if macKey != nil && keyedFrom > 0 && seq >= keyedFrom {
			if e.MAC == "" {
				return res, chainError(seq, "it carries no MAC, although every event from seq %d on is keyed (it was written without the audit key)", keyedFrom)
			}
			var stored [sha256.Size]byte
			if n, err := hex.Decode(stored[:], []byte(e.MAC)); err != nil || n != len(stored) || !hmac.Equal(stored[:], macKey.MAC(macInput(seq, sum))) {
				return res, chainError(seq, "its MAC does not match: the event was altered, and the chain recomputed, without the audit key")
			}
			res.Keyed++
		}
		if cp := bySeq[seq]; cp != nil {
			if !bytes.Equal(mustHex(cp.Hash), sum) {
				if rangeStart == seq {
					return res, chainError(seq, "it does not match the checkpoint signed at %s (the event was altered and the chain recomputed)", stamp(cp))
				}
				return res, chainError(rangeStart, "%s not match the checkpoint signed at %s: one of them was altered and the chain recomputed", span(rangeStart, seq, "does", "do"), stamp(cp))
			}
			if sc.from == nil {
				if _, ok := sc.keys[cp.Key]; ok {
					res.Checkpoints++
				}
			}
			rangeStart = seq + 1
		}
		if res.FirstSeq == 0 {
			res.FirstSeq = seq
		}
		res.LastSeq = seq
		res.Checked++
		prev = sum
		expect++
	}
	if head != expect-1 {
		return res, chainError(expect, "the chain ends at %d but %d events were written (events were removed from the end)", expect-1, head)
	}
	if h := in.Get(keyAuditHash); head > 0 && !bytes.Equal(h, prev) {
		return res, chainError(head, "the last event does not match the recorded chain head")
	}
	res.Last = last
	if !sc.notes {
		return res, nil
	}

	// What the checks above could not prove.
	if t.s.auditKey == nil {
		note("this data directory has no audit key (%s): event MACs were not checked, and checkpoint signatures only with the keys given", AuditKeyFile)
	} else if macKey == nil && keyedFrom > 0 {
		note("the audit key here (%s) is not the one that keyed the chain (%s): event MACs were not checked", KeyID(t.s.auditKey.PublicKey()), in.Get(keyAuditKeyID))
	}
	ids := make([]string, 0, len(unknown))
	for id := range unknown {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		note("%d checkpoint(s) signed by key %s could not be checked: that public key is not available (give it with --public-key)", unknown[id], id)
	}
	if res.FirstSeq > 0 && (keyedFrom == 0 || keyedFrom > res.FirstSeq) {
		end := res.LastSeq
		if keyedFrom > 0 {
			end = min(end, keyedFrom-1)
		}
		note("%s no MAC (from before the audit key): integrity rests on the hash chain and on the checkpoints that cover it", span(res.FirstSeq, end, "carries", "carry"))
	}
	switch {
	case head == 0:
	case last == nil:
		note("no signed checkpoint yet: that no event was removed from the end, or evicted early, rests on the database alone")
	case last.Seq < head:
		if macKey != nil && keyedFrom > 0 && keyedFrom <= last.Seq+1 {
			note("%s after the last checkpoint (seq %d, signed at %s): each carries a valid MAC, but that none was removed from the end rests on the database alone", span(last.Seq+1, head, "is", "are"), last.Seq, stamp(last))
		} else {
			note("%s after the last checkpoint (seq %d, signed at %s): integrity rests on the hash chain only", span(last.Seq+1, head, "is", "are"), last.Seq, stamp(last))
		}
	}
	if evicted > 0 {
		note("events 1..%d were evicted to stay within the capacity of %d events: they are no longer here (the cloud keeps what was sent)", evicted, capacity)
	}
	res.Unproven = notes
	return res, nil
}

// span names events a..b with the verb that goes with them: "event 4 is",
// "events 4..9 are".
func span(a, b uint64, one, many string) string {
	if a == b {
		return fmt.Sprintf("event %d %s", a, one)
	}
	return fmt.Sprintf("events %d..%d %s", a, b, many)
}

// evictionBound checks that no more events were evicted between checkpoint
// a and a later state (head, evicted) than a's free capacity allows:
// events are evicted only when an append finds the chain full.
func evictionBound(a *Checkpoint, head, evicted, capacity uint64) error {
	retained := a.Seq - a.Evicted
	free := uint64(0)
	if capacity > retained {
		free = capacity - retained
	}
	appended := head - a.Seq
	allowed := uint64(0)
	if appended > free {
		allowed = appended - free
	}
	if evicted-a.Evicted > allowed {
		return chainError(a.Evicted+allowed+1, "%s removed from the start: at the checkpoint signed at %s the chain held %d of %d events and %d were appended since, so at most %d could have been evicted", span(a.Evicted+allowed+1, evicted, "was", "were"), stamp(a), retained, capacity, appended, allowed)
	}
	return nil
}

// VerifyAudit verifies the whole chain in one read transaction with the
// store's own audit key.
func (s *Store) VerifyAudit() (VerifyResult, error) {
	return s.VerifyAuditWith(VerifyOptions{})
}

// VerifyAuditWith verifies the whole chain in one read transaction.
func (s *Store) VerifyAuditWith(o VerifyOptions) (VerifyResult, error) {
	var r VerifyResult
	err := s.View(func(tx *Tx) (err error) { r, err = tx.VerifyAuditWith(o); return })
	return r, err
}
