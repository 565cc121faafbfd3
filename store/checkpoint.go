package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Checkpoint bounds: how long the newest events may go without a signed
// checkpoint. RunCheckpoints signs one when CheckpointEvery events have
// followed the last one, every CheckpointInterval while new events
// arrive, when it starts (covering what offline commands appended) and
// when it stops (a clean shutdown). A checkpoint is 300 bytes; at the
// default audit capacity there are at most about 200 of them beside
// 200,000 events.
const (
	CheckpointEvery    = 1000
	CheckpointInterval = 5 * time.Minute
)

// checkpointDomain separates checkpoint signatures from every other use of
// the key, and versions their format.
const checkpointDomain = "sitegate audit checkpoint v1\n"

// maxCheckpoint bounds an encoded checkpoint: DecodeCheckpoint refuses
// anything longer before parsing it.
const maxCheckpoint = 1024

// Checkpoint is a signed statement about the audit chain at one moment:
// its head (the newest event's seq and hash) and its eviction record. The
// gateway stores every checkpoint and publishes it with the audit stream,
// so that the cloud holds evidence the database cannot take back.
type Checkpoint struct {
	Seq       uint64    `json:"seq"`        // the chain head: the newest event
	Hash      string    `json:"hash"`       // that event's chain hash, hex
	First     uint64    `json:"first"`      // the first retained seq (Evicted+1)
	Evicted   uint64    `json:"evicted"`    // events evicted so far
	Capacity  uint64    `json:"capacity"`   // the chain's capacity when signed
	KeyedFrom uint64    `json:"keyed_from"` // first seq whose event carries a MAC of this key (0: none)
	TS        time.Time `json:"ts"`         // when it was signed (gateway clock, UTC)
	Alg       string    `json:"alg"`        // signature algorithm: ed25519
	Key       string    `json:"key"`        // KeyID of the signing key
	Sig       string    `json:"sig"`        // base64 signature over Signed()
}

// Signed returns the bytes a checkpoint's signature covers: a domain and
// version line, then every field but the signature as canonical JSON.
func (c Checkpoint) Signed() []byte {
	body, _ := json.Marshal(struct {
		Seq       uint64 `json:"seq"`
		Hash      string `json:"hash"`
		First     uint64 `json:"first"`
		Evicted   uint64 `json:"evicted"`
		Capacity  uint64 `json:"capacity"`
		KeyedFrom uint64 `json:"keyed_from"`
		TS        string `json:"ts"`
		Alg       string `json:"alg"`
		Key       string `json:"key"`
	}{c.Seq, c.Hash, c.First, c.Evicted, c.Capacity, c.KeyedFrom, c.TS.UTC().Format(time.RFC3339Nano), c.Alg, c.Key})
	return append([]byte(checkpointDomain), body...)
}

// Verify checks the checkpoint's signature with pub (an ed25519 public
// key whose KeyID is c.Key).
func (c Checkpoint) Verify(pub []byte) error {
	if c.Alg != "ed25519" {
		return fmt.Errorf("signature algorithm %q is not supported", c.Alg)
	}
	if len(pub) != ed25519.PublicKeySize || KeyID(pub) != c.Key {
		return fmt.Errorf("the checkpoint names key %s, not this key", c.Key)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("the signature is not 64 bytes of base64")
	}
	if !ed25519.Verify(pub, c.Signed(), sig) {
		return errors.New("the signature does not match")
	}
	return nil
}

// ErrBadCheckpoint means a checkpoint record cannot be decoded.
var ErrBadCheckpoint = errors.New("bad checkpoint")

// DecodeCheckpoint parses a checkpoint (as stored, or as published in an
// audit record) strictly: unknown fields, a missing signature, a malformed
// hash or key id, or counters that contradict each other are errors. It
// does not check the signature (Verify does).
func DecodeCheckpoint(b []byte) (Checkpoint, error) {
	if len(b) > maxCheckpoint {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes is over the %d byte bound", ErrBadCheckpoint, len(b), maxCheckpoint)
	}
	var c Checkpoint
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if dec.More() {
		return Checkpoint{}, fmt.Errorf("%w: data after the object", ErrBadCheckpoint)
	}
	switch {
	case c.Seq == 0:
		return Checkpoint{}, fmt.Errorf("%w: seq 0 (a checkpoint covers at least one event)", ErrBadCheckpoint)
	case len(c.Hash) != 2*sha256.Size || !isHex(c.Hash):
		return Checkpoint{}, fmt.Errorf("%w: hash is not 64 hex digits", ErrBadCheckpoint)
	case len(c.Key) != 16 || !isHex(c.Key):
		return Checkpoint{}, fmt.Errorf("%w: key id is not 16 hex digits", ErrBadCheckpoint)
	case c.Alg == "" || c.Sig == "":
		return Checkpoint{}, fmt.Errorf("%w: no signature", ErrBadCheckpoint)
	case c.Evicted >= c.Seq || c.First != c.Evicted+1:
		return Checkpoint{}, fmt.Errorf("%w: first retained seq %d, %d evicted and head %d contradict each other", ErrBadCheckpoint, c.First, c.Evicted, c.Seq)
	case c.KeyedFrom > c.Seq+1:
		return Checkpoint{}, fmt.Errorf("%w: keyed from seq %d, after its head %d", ErrBadCheckpoint, c.KeyedFrom, c.Seq)
	}
	return c, nil
}

// isHex reports whether s is lower-case hex, as hex.EncodeToString writes
// it: a checkpoint in any other spelling did not come from a gateway.
func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && s == strings.ToLower(s)
}

// Checkpoints returns stored checkpoints with a head after afterSeq, oldest
// first, at most limit (<= 0: all).
func (t *Tx) Checkpoints(afterSeq uint64, limit int) ([]Checkpoint, error) {
	var out []Checkpoint
	c := t.tx.Bucket(bucketCheckpoints).Cursor()
	for k, v := c.Seek(u64(afterSeq + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		cp, err := DecodeCheckpoint(v)
		if err != nil {
			return nil, fmt.Errorf("%w at seq %d: the stored checkpoint is not readable: %v", ErrAuditChain, binary.BigEndian.Uint64(k), err)
		}
		out = append(out, cp)
	}
	return out, nil
}

// dropOldCheckpoints removes checkpoints of events that were evicted
// (head before first), always keeping the newest checkpoint: they can no
// longer be compared with events, and keeping them would make the
// checkpoints grow without bound.
func (t *Tx) dropOldCheckpoints(first uint64) error {
	c := t.tx.Bucket(bucketCheckpoints).Cursor()
	lastKey, _ := c.Last()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < first && !bytes.Equal(k, lastKey); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// recordAuditKey brings the chain's keying record up to date with the
// audit key: on the first open with a key, events from the next seq on are
// keyed; when the key differs from the one that keyed the chain (its file
// was lost or replaced), an audit.key event says so and keying starts
// again after it, because the earlier MACs cannot be checked any more.
func (s *Store) recordAuditKey() error {
	id := KeyID(s.auditKey.PublicKey())
	var current string
	_ = s.View(func(tx *Tx) error { current = string(tx.internal().Get(keyAuditKeyID)); return nil })
	if current == id {
		return nil
	}
	return s.Update(func(tx *Tx) error {
		in := tx.internal()
		old := string(in.Get(keyAuditKeyID))
		if err := in.Put(keyAuditKeyID, []byte(id)); err != nil {
			return err
		}
		next := getUint(in, keyAuditSeq) + 1
		if old != "" {
			// The event itself is the first one keyed with the new key.
			if err := putUint(in, keyAuditKeyedFrom, next); err != nil {
				return err
			}
			_, err := tx.AppendAudit(AuditEvent{Actor: "system", Role: "system", Action: "audit.key", Target: id, Result: "ok",
				Detail: fmt.Sprintf("the audit key changed from %s (its file is gone): events before seq %d carry MACs that cannot be checked any more", old, next)})
			return err
		}
		return putUint(in, keyAuditKeyedFrom, next)
	})
}

// AuditKeyID returns the KeyID of the store's audit key, or "" without one.
func (s *Store) AuditKeyID() string {
	if s.auditKey == nil {
		return ""
	}
	return KeyID(s.auditKey.PublicKey())
}

// AuditPublicKey returns the audit key's public half, or nil without one.
func (s *Store) AuditPublicKey() []byte {
	if s.auditKey == nil {
		return nil
	}
	return s.auditKey.PublicKey()
}

// Checkpoint signs and stores a checkpoint of the chain head, unless there
// is nothing new since the last one (then it returns the last one and
// false). It first verifies what the new checkpoint vouches for beyond the
// last one — the events since, their MACs, and the eviction record — so
// that a database altered while the gateway was stopped is never signed;
// that failure wraps ErrAuditChain and names the first bad seq.
func (s *Store) Checkpoint() (Checkpoint, bool, error) {
	if s.auditKey == nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint: %w in %s", ErrNoAuditKey, s.dir)
	}
	// The events since the last checkpoint are verified in a read
	// transaction first, so that writers are not held up (the first
	// checkpoint of an upgraded gateway verifies the whole chain); the
	// write transaction then verifies only what was appended meanwhile.
	// Only this process can write the file (it holds the lock), so what the
	// read verified stays as it was.
	var verified *Checkpoint
	err := s.View(func(tx *Tx) error {
		last, err := tx.lastCheckpoint()
		if err != nil {
			return err
		}
		in := tx.internal()
		head := getUint(in, keyAuditSeq)
		if head == 0 || last != nil && last.Seq == head {
			return nil
		}
		if _, err := tx.verifyAudit(verifyScope{from: last, keys: tx.s.publicKeys(nil)}); err != nil {
			return fmt.Errorf("checkpoint refused: %w", err)
		}
		verified = tx.headState()
		return nil
	})
	if err != nil {
		return Checkpoint{}, false, err
	}
	var cp Checkpoint
	made := false
	err = s.Update(func(tx *Tx) error {
		in := tx.internal()
		head := getUint(in, keyAuditSeq)
		if head == 0 {
			return nil
		}
		last, err := tx.lastCheckpoint()
		if err != nil {
			return err
		}
		if last != nil && last.Seq == head {
			cp = *last
			return nil
		}
		from := last
		if verified != nil {
			from = verified
		}
		if from == nil || from.Seq != head {
			if _, err := tx.verifyAudit(verifyScope{from: from, keys: tx.s.publicKeys(nil)}); err != nil {
				return fmt.Errorf("checkpoint refused: %w", err)
			}
		}
		cp = *tx.headState()
		cp.TS, cp.Alg, cp.Key = s.opts.Now().UTC(), s.auditKey.Algorithm(), KeyID(s.auditKey.PublicKey())
		sig, err := s.auditKey.Sign(cp.Signed())
		if err != nil {
			return fmt.Errorf("sign checkpoint: %w", err)
		}
		cp.Sig = base64.StdEncoding.EncodeToString(sig)
		v, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		b := tx.tx.Bucket(bucketCheckpoints)
		b.FillPercent = 1
		if err := b.Put(u64(head), v); err != nil {
			return err
		}
		made = true
		return nil
	})
	if err != nil {
		return Checkpoint{}, false, err
	}
	if made {
		s.lastCP.Store(cp.Seq)
	}
	return cp, made, nil
}

// lastCheckpoint returns the newest stored checkpoint, or nil.
func (t *Tx) lastCheckpoint() (*Checkpoint, error) {
	k, v := t.tx.Bucket(bucketCheckpoints).Cursor().Last()
	if k == nil {
		return nil, nil
	}
	c, err := DecodeCheckpoint(v)
	if err != nil {
		return nil, fmt.Errorf("%w at seq %d: the stored checkpoint is not readable: %v", ErrAuditChain, binary.BigEndian.Uint64(k), err)
	}
	return &c, nil
}

// headState describes the chain head as a checkpoint would, unsigned.
func (t *Tx) headState() *Checkpoint {
	in := t.internal()
	c := &Checkpoint{
		Seq:       getUint(in, keyAuditSeq),
		Hash:      hex.EncodeToString(in.Get(keyAuditHash)),
		Evicted:   getUint(in, keyAuditEvicted),
		Capacity:  uint64(t.s.opts.AuditCapacity),
		KeyedFrom: getUint(in, keyAuditKeyedFrom),
	}
	c.First = c.Evicted + 1
	return c
}

// RunCheckpoints signs checkpoints until ctx ends: at once (covering the
// events offline commands appended), after every CheckpointEvery events,
// every CheckpointInterval while events arrive, and a last one when ctx
// ends (a clean shutdown). Failures go to report (a refused checkpoint
// means the chain was altered) and do not stop it.
func (s *Store) RunCheckpoints(ctx context.Context, report func(error)) error {
	if s.auditKey == nil {
		return fmt.Errorf("audit checkpoints: %w in %s", ErrNoAuditKey, s.dir)
	}
	sign := func() {
		if _, _, err := s.Checkpoint(); err != nil && report != nil {
			report(err)
		}
	}
	sign()
	tick := time.NewTicker(CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			sign()
			return nil
		case <-tick.C:
			sign()
		case <-s.cpWake:
			sign()
		}
	}
}
