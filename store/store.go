package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the data directory.
const FileName = "sitegate.db"

// Errors returned by this package. Callers test them with errors.Is; the
// returned errors wrap them with the path or name concerned.
var (
	// ErrInUse means another process holds the data directory's database.
	ErrInUse = errors.New("data directory in use")
	// ErrCorrupt means the database file is damaged or not a sitegate store.
	ErrCorrupt = errors.New("store is damaged")
	// ErrNotFound means the document, user or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNameTaken means another user record already has that name.
	ErrNameTaken = errors.New("name already taken")
	// ErrTooNew means the store was written by a newer sitegate.
	ErrTooNew = errors.New("store schema is newer than this program")
	// ErrInvalid means an argument was unusable (empty name, oversized value).
	ErrInvalid = errors.New("invalid argument")
)

// Default bounds. They keep a gateway's disk use predictable for weeks of
// offline operation.
const (
	DefaultOutboxCapacity = 1_000_000
	DefaultAuditCapacity  = 200_000
	// ConfigHistory is how many revisions of each document are kept.
	ConfigHistory = 50
	// HighWaterPercent is the fill level at which Stats reports a bound as
	// nearly full, so that health can warn before anything is evicted.
	HighWaterPercent = 80
)

// Options tune a store. The zero value is usable.
type Options struct {
	// Now returns the current time; tests inject a fake clock. Default time.Now.
	Now func() time.Time
	// OutboxCapacity bounds the number of queued records. Default DefaultOutboxCapacity.
	OutboxCapacity int
	// OutboxMaxBytes bounds the queued records' bytes (SetOutboxMaxBytes
	// changes it later). Default DefaultOutboxMaxBytes.
	OutboxMaxBytes int64
	// AuditCapacity bounds the number of retained audit events. Default DefaultAuditCapacity.
	AuditCapacity int
	// LockTimeout is how long Open waits for another process to release the
	// file. Default one second.
	LockTimeout time.Duration
	// AuditKey signs checkpoints and keys events. Default: the file key
	// DIR/AuditKeyFile, created on first open.
	AuditKey AuditSigner
	// NoNewKeys keeps Open from creating missing key files (the audit key,
	// the secret-store key): for verifying a copy of a data directory,
	// which must not gain a key of its own.
	NoNewKeys bool
	// CheckpointEvery is how many events may follow a checkpoint before
	// RunCheckpoints signs the next one. Default CheckpointEvery.
	CheckpointEvery int
}

// Store is an open sitegate database. It is safe for concurrent use.
type Store struct {
	// gate lets Compact swap db: every transaction holds it shared.
	gate    sync.RWMutex
	db      *bolt.DB
	dir     string
	path    string
	opts    Options
	onAudit atomic.Pointer[func(AuditEvent)]
	// outboxMax is the outbox's byte bound (blocks.go).
	outboxMax atomic.Int64

	auditKey AuditSigner   // nil when the directory has none (NoNewKeys)
	lastCP   atomic.Uint64 // seq of the newest checkpoint
	cpWake   chan struct{} // CheckpointEvery events since the last checkpoint

	secrets secretKeys // the secret store's keys (secrets.go)
}

// OnAudit registers fn to be called with every audit event after the
// transaction that appended it has committed (never for a rolled-back one).
// fn runs on the committing goroutine and must not block or write to the
// store. A later call replaces fn; nil removes it.
func (s *Store) OnAudit(fn func(AuditEvent)) {
	if fn == nil {
		s.onAudit.Store(nil)
		return
	}
	s.onAudit.Store(&fn)
}

// Open opens or creates the store in dir. The directory is created (or
// tightened) to mode 0700 and the file to 0600. A damaged file gives an error
// wrapping ErrCorrupt that names the file and what to do; a file held by
// another process gives ErrInUse within Options.LockTimeout.
func Open(dir string, options ...Options) (*Store, error) {
	var o Options
	if len(options) > 0 {
		o = options[0]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OutboxCapacity <= 0 {
		o.OutboxCapacity = DefaultOutboxCapacity
	}
	if o.AuditCapacity <= 0 {
		o.AuditCapacity = DefaultAuditCapacity
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = CheckpointEvery
	}
	if dir == "" {
		return nil, fmt.Errorf("open store: %w: no data directory given", ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	// MkdirAll keeps an existing directory's mode; the data directory holds
	// keys and credentials, so nobody else may list or enter it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return nil, corrupt(path, errors.New("not a regular file"))
		}
		if fi.Mode().Perm() != 0o600 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("restrict %s: %w", path, err)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	db, err := openBolt(path, o.LockTimeout)
	if err == nil {
		// Only with the lock held: the leftover could be a running
		// Compact's file.
		if rerr := removeCompactLeftover(path); rerr != nil {
			_ = db.Close()
			return nil, fmt.Errorf("remove the leftover of an interrupted compaction: %w", rerr)
		}
	}
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("data directory %s is in use by a running gateway: stop it first, or use another --data directory: %w", dir, ErrInUse)
		}
		return nil, corrupt(path, err)
	}
	s := &Store{db: db, dir: dir, path: path, opts: o, cpWake: make(chan struct{}, 1)}
	if o.OutboxMaxBytes <= 0 {
		o.OutboxMaxBytes = DefaultOutboxMaxBytes
	}
	s.SetOutboxMaxBytes(o.OutboxMaxBytes)
	if err := s.checkIntegrity(); err != nil {
		_ = db.Close()
		return nil, corrupt(path, err)
	}
	if err := s.migrate(); err != nil {
		_ = db.Close()
		return nil, err
	}
	// Keys are read with the database's lock held, so two processes never
	// race to create them.
	if err := s.openKeys(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openKeys loads the audit key and the secret-store key and brings the
// chain's keying record up to date.
func (s *Store) openKeys() error {
	s.auditKey = s.opts.AuditKey
	if s.auditKey == nil {
		k, err := LoadAuditKey(s.dir, !s.opts.NoNewKeys)
		switch {
		case errors.Is(err, ErrNoAuditKey):
		case err != nil:
			return err
		default:
			s.auditKey = k
		}
	}
	if err := s.secrets.load(s); err != nil {
		return err
	}
	var last uint64
	_ = s.View(func(tx *Tx) error {
		if k, _ := tx.tx.Bucket(bucketCheckpoints).Cursor().Last(); k != nil {
			last = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	s.lastCP.Store(last)
	if s.auditKey == nil || s.opts.NoNewKeys {
		return nil
	}
	return s.recordAuditKey()
}

func corrupt(path string, cause error) error {
	return fmt.Errorf("%w: %s cannot be read (%v); move the file aside and restore a backup, or remove it to start with an empty store", ErrCorrupt, path, cause)
}

// openBolt opens the file, turning panics and memory faults that bbolt may
// hit on a damaged file into errors.
func openBolt(path string, timeout time.Duration) (db *bolt.DB, err error) {
	err = guard(func() error {
		var oerr error
		db, oerr = bolt.Open(path, 0o600, &bolt.Options{
			Timeout: timeout,
			// The freelist is rebuilt on open instead of being written on
			// every commit: commits stay small, which is what the outbox's
			// write rate needs.
			NoFreelistSync: true,
			FreelistType:   bolt.FreelistMapType,
		})
		return oerr
	})
	return db, err
}

// guard runs fn with memory faults turned into panics and panics into errors.
// A truncated file makes bbolt touch mapped pages past the end of the file,
// which is a fault (SIGBUS), not an ordinary panic. The work runs on its own
// goroutine because SetPanicOnFault is per goroutine.
func guard(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("internal structure is broken: %v", r)
			}
		}()
		done <- fn()
	}()
	return <-done
}

// checkIntegrity verifies that every page the file claims is present and
// that bbolt's structures are consistent.
func (s *Store) checkIntegrity() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	return guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			if tx.Size() > fi.Size() {
				return fmt.Errorf("file is truncated: %d bytes, the database needs %d", fi.Size(), tx.Size())
			}
			var problems []string
			for err := range tx.Check() {
				problems = append(problems, err.Error())
				if len(problems) == 3 {
					break
				}
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			return nil
		})
	})
}

// Close closes the database file.
func (s *Store) Close() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	return s.db.Close()
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.opts.Now() }

// Size returns the database file size in bytes.
func (s *Store) Size() int64 {
	var n int64
	_ = s.View(func(tx *Tx) error { n = tx.tx.Size(); return nil })
	return n
}

// Update runs fn in one read-write transaction. If fn returns an error,
// nothing it did is kept; otherwise everything is committed durably before
// Update returns. fn must not keep the Tx after it returns, and must not
// start another transaction of this store.
//
// A transaction that changes secrets rotates the secret-store key: the new
// key file is written before the first change, and the old key is
// destroyed once the transaction has committed (see PutSecret).
func (s *Store) Update(fn func(tx *Tx) error) (err error) {
	s.gate.RLock()
	defer s.gate.RUnlock()
	var t *Tx
	defer func() {
		if t != nil && t.rot != nil {
			s.secrets.finish(s, t.rot)
		}
	}()
	return s.db.Update(func(btx *bolt.Tx) error {
		t = &Tx{tx: btx, s: s}
		return fn(t)
	})
}

// View runs fn in a read-only transaction that sees one consistent state.
func (s *Store) View(fn func(tx *Tx) error) error {
	s.gate.RLock()
	defer s.gate.RUnlock()
	// Before the snapshot is taken: the keys of its records stay known.
	defer s.secrets.reading()()
	return s.db.View(func(btx *bolt.Tx) error {
		return fn(&Tx{tx: btx, s: s})
	})
}

// Tx is a transaction. Its methods read and write within that transaction;
// write methods fail on a read-only transaction.
type Tx struct {
	tx  *bolt.Tx
	s   *Store
	rot *rotation // the secret-store key rotation this transaction started
}

// Bucket names, all created by the first migration.
var (
	bucketInternal  = []byte("store")      // counters and heads owned by this package
	bucketMeta      = []byte("meta")       // caller metadata
	bucketConfig    = []byte("config")     // one nested bucket per document
	bucketUsers     = []byte("users")      // id → user record
	bucketUserNames = []byte("user_names") // name → id
	bucketAudit     = []byte("audit")      // seq → event
	bucketOutbox    = []byte("outbox")     // seq → record
	// Schema 2.
	bucketCheckpoints = []byte("audit_checkpoints") // seq of the chain head → signed checkpoint
	bucketSecrets     = []byte("secrets")           // name → encrypted secret
)

// Keys in bucketInternal.
var (
	keySchema        = []byte("schema_version")
	keyConfigRev     = []byte("config_rev")
	keyOutboxSeq     = []byte("outbox_seq")
	keyOutboxDepth   = []byte("outbox_depth")
	keyOutboxEvicted = []byte("outbox_evicted")
	keyAuditSeq      = []byte("audit_seq")
	keyAuditHash     = []byte("audit_hash")
	keyAuditAnchor   = []byte("audit_anchor") // seq and hash of the last evicted event
	keyAuditCount    = []byte("audit_count")
	keyAuditEvicted  = []byte("audit_evicted")
	// Schema 2.
	keyAuditKeyID     = []byte("audit_key_id")     // KeyID of the key that MACs new events
	keyAuditKeyedFrom = []byte("audit_keyed_from") // first seq MACed with that key (0: none)
	keySecretKeyID    = []byte("secret_key_id")    // id of the secret-store key in use
	keySecretVersion  = []byte("secret_version")   // the latest secret version assigned
)

// migration moves the schema from version-1 to version. Migrations run in
// order, all pending ones in one transaction.
type migration struct {
	version int
	name    string
	apply   func(tx *bolt.Tx) error
}

var migrations = []migration{
	{1, "create buckets", func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketInternal, bucketMeta, bucketConfig, bucketUsers, bucketUserNames, bucketAudit, bucketOutbox} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{2, "outbox byte accounting and shared values", migrateOutboxBytes},
	{3, "audit checkpoints and the secret store", func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCheckpoints, bucketSecrets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
}

// SchemaVersion is the schema this program writes.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

func (s *Store) migrate() error {
	// Most opens find the schema current: check in a read transaction so
	// that opening a store (an offline command, a refused wipe) writes
	// nothing.
	current := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketInternal); b != nil {
			current = int(getUint(b, keySchema)) == SchemaVersion()
		}
		return nil
	})
	if current {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		current := 0
		if b := tx.Bucket(bucketInternal); b != nil {
			current = int(getUint(b, keySchema))
		}
		latest := SchemaVersion()
		if current > latest {
			return fmt.Errorf("open store %s: %w: it has schema %d, this sitegate knows up to %d; run a newer sitegate", s.path, ErrTooNew, current, latest)
		}
		for _, m := range migrations {
			if m.version <= current {
				continue
			}
			if err := m.apply(tx); err != nil {
				return fmt.Errorf("migrate store to schema %d (%s): %w", m.version, m.name, err)
			}
		}
		if current == latest {
			return nil
		}
		return putUint(tx.Bucket(bucketInternal), keySchema, uint64(latest))
	})
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getUint(b *bolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *bolt.Bucket, key []byte, v uint64) error {
	return b.Put(key, u64(v))
}

// countKeys counts by walking: bbolt's Bucket.Stats reads committed pages
// only and misses what the current write transaction added.
func countKeys(c *bolt.Cursor) int {
	n := 0
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (t *Tx) internal() *bolt.Bucket { return t.tx.Bucket(bucketInternal) }

// Meta returns the caller metadata value for key, or nil when unset.
func (t *Tx) Meta(key string) []byte {
	return clone(t.tx.Bucket(bucketMeta).Get([]byte(key)))
}

// PutMeta sets a caller metadata value.
func (t *Tx) PutMeta(key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("put meta: %w: empty key", ErrInvalid)
	}
	return t.tx.Bucket(bucketMeta).Put([]byte(key), value)
}

// DeleteMeta removes a caller metadata value.
func (t *Tx) DeleteMeta(key string) error {
	return t.tx.Bucket(bucketMeta).Delete([]byte(key))
}

// DeleteMeta removes a caller metadata value in its own transaction.
func (s *Store) DeleteMeta(key string) error {
	return s.Update(func(tx *Tx) error { return tx.DeleteMeta(key) })
}

// Meta returns the caller metadata value for key, or nil when unset.
func (s *Store) Meta(key string) ([]byte, error) {
	var v []byte
	err := s.View(func(tx *Tx) error { v = tx.Meta(key); return nil })
	return v, err
}

// PutMeta sets a caller metadata value in its own transaction.
func (s *Store) PutMeta(key string, value []byte) error {
	return s.Update(func(tx *Tx) error { return tx.PutMeta(key, value) })
}

// MetaKeys returns the metadata keys that start with prefix, in order, at
// most limit of them (limit <= 0: all).
func (t *Tx) MetaKeys(prefix string, limit int) []string {
	var out []string
	c := t.tx.Bucket(bucketMeta).Cursor()
	p := []byte(prefix)
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out
}
