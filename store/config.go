package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Revision is one stored version of a config document.
type Revision struct {
	Doc    string    // document name
	Rev    uint64    // store-wide revision number, strictly increasing
	Author string    // actor id of whoever made the change
	Time   time.Time // when it was stored
	Body   []byte    // the document, opaque to the store
}

type revisionValue struct {
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
	Body   []byte    `json:"body"`
}

// MaxDocumentSize bounds one config document.
const MaxDocumentSize = 8 << 20

// PutConfig stores body as the new current revision of doc, authored by
// author. It assigns the next store-wide revision number and keeps the last
// ConfigHistory revisions of the document.
func (t *Tx) PutConfig(doc, author string, body []byte) (Revision, error) {
	if doc == "" {
		return Revision{}, fmt.Errorf("put config: %w: empty document name", ErrInvalid)
	}
	if len(body) > MaxDocumentSize {
		return Revision{}, fmt.Errorf("put config %q: %w: %d bytes is over the %d byte limit", doc, ErrInvalid, len(body), MaxDocumentSize)
	}
	b, err := t.tx.Bucket(bucketConfig).CreateBucketIfNotExists([]byte(doc))
	if err != nil {
		return Revision{}, fmt.Errorf("put config %q: %w", doc, err)
	}
	in := t.internal()
	rev := getUint(in, keyConfigRev) + 1
	if err := putUint(in, keyConfigRev, rev); err != nil {
		return Revision{}, err
	}
	r := Revision{Doc: doc, Rev: rev, Author: author, Time: t.s.opts.Now().UTC(), Body: clone(body)}
	v, err := json.Marshal(revisionValue{Author: r.Author, Time: r.Time, Body: r.Body})
	if err != nil {
		return Revision{}, err
	}
	if err := b.Put(u64(rev), v); err != nil {
		return Revision{}, fmt.Errorf("put config %q: %w", doc, err)
	}
	// Trim the oldest revisions beyond the history bound.
	c := b.Cursor()
	n := countKeys(c)
	for k, _ := c.First(); k != nil && n > ConfigHistory; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return Revision{}, err
		}
		n--
	}
	return r, nil
}

func decodeRevision(doc string, k, v []byte) (Revision, error) {
	var rv revisionValue
	if err := json.Unmarshal(v, &rv); err != nil {
		return Revision{}, fmt.Errorf("config %q revision %d: %w: %v", doc, binary.BigEndian.Uint64(k), ErrCorrupt, err)
	}
	return Revision{Doc: doc, Rev: binary.BigEndian.Uint64(k), Author: rv.Author, Time: rv.Time, Body: rv.Body}, nil
}

func (t *Tx) configBucket(doc string) *bolt.Bucket {
	return t.tx.Bucket(bucketConfig).Bucket([]byte(doc))
}

// Config returns the current revision of doc, or ErrNotFound.
func (t *Tx) Config(doc string) (Revision, error) {
	b := t.configBucket(doc)
	if b == nil {
		return Revision{}, fmt.Errorf("config %q: %w", doc, ErrNotFound)
	}
	k, v := b.Cursor().Last()
	if k == nil {
		return Revision{}, fmt.Errorf("config %q: %w", doc, ErrNotFound)
	}
	return decodeRevision(doc, k, v)
}

// ConfigHistory returns up to limit revisions of doc, newest first
// (limit <= 0 means all that are kept).
func (t *Tx) ConfigHistory(doc string, limit int) ([]Revision, error) {
	b := t.configBucket(doc)
	if b == nil {
		return nil, nil
	}
	var out []Revision
	c := b.Cursor()
	for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		r, err := decodeRevision(doc, k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ConfigRevision returns the latest revision number assigned in the store
// (0 before the first PutConfig).
func (t *Tx) ConfigRevision() uint64 {
	return getUint(t.internal(), keyConfigRev)
}

// Config returns the current revision of doc, or ErrNotFound.
func (s *Store) Config(doc string) (Revision, error) {
	var r Revision
	err := s.View(func(tx *Tx) (err error) { r, err = tx.Config(doc); return })
	return r, err
}

// ConfigHistory returns up to limit revisions of doc, newest first.
func (s *Store) ConfigHistory(doc string, limit int) ([]Revision, error) {
	var rs []Revision
	err := s.View(func(tx *Tx) (err error) { rs, err = tx.ConfigHistory(doc, limit); return })
	return rs, err
}

// PutConfig stores a new revision of doc in its own transaction.
func (s *Store) PutConfig(doc, author string, body []byte) (Revision, error) {
	var r Revision
	err := s.Update(func(tx *Tx) (err error) { r, err = tx.PutConfig(doc, author, body); return })
	return r, err
}

// ReplaceConfigBody rewrites the body of a kept revision of doc in place,
// keeping its number, author and time: for a migration that must take data
// out of the history (secrets stored in clear by an older sitegate). It
// returns ErrNotFound when the revision is not kept. The old body stays in
// a freed page until Compact.
func (t *Tx) ReplaceConfigBody(doc string, rev uint64, body []byte) error {
	if len(body) > MaxDocumentSize {
		return fmt.Errorf("replace config %q revision %d: %w: %d bytes is over the %d byte limit", doc, rev, ErrInvalid, len(body), MaxDocumentSize)
	}
	b := t.configBucket(doc)
	if b == nil {
		return fmt.Errorf("config %q: %w", doc, ErrNotFound)
	}
	v := b.Get(u64(rev))
	if v == nil {
		return fmt.Errorf("config %q revision %d: %w", doc, rev, ErrNotFound)
	}
	r, err := decodeRevision(doc, u64(rev), v)
	if err != nil {
		return err
	}
	nv, err := json.Marshal(revisionValue{Author: r.Author, Time: r.Time, Body: body})
	if err != nil {
		return err
	}
	return b.Put(u64(rev), nv)
}
