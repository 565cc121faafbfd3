package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// SecretKeyFile is the secret store's key file in the data directory,
// beside the database: a copy of the database alone reveals no secret.
// `sitegate wipe` destroys it first.
const SecretKeyFile = "secrets.key"

// Bounds of the secret store: names are short identifiers, values are
// credentials (a PIN, a passphrase of at most 63 characters, a TOTP seed),
// never bulk data.
const (
	MaxSecretName = 128
	MaxSecretSize = 4096
)

// ErrSecretUnavailable means a stored secret cannot be decrypted: the key
// that encrypted it is gone (the key file was lost or replaced) or the
// record was altered. The secret has to be set again.
var ErrSecretUnavailable = errors.New("secret cannot be decrypted")

// ErrBadSecretRecord means a stored secret record or the key file is not
// in the format this package writes.
var ErrBadSecretRecord = errors.New("bad secret-store record")

// Record layout, binary: format (1 byte, 1), key id (4 bytes), the
// secret's version (8 bytes), nonce (12 bytes), AES-256-GCM ciphertext
// with its 16-byte tag. The additional data binds the record to its name,
// version and key, so a record moved to another name does not decrypt.
const (
	secretFormat    = 1
	secretHeader    = 1 + 4 + 8 + 12
	secretKeySize   = 32
	secretMinRecord = secretHeader + 16
)

// secretRecord is one decoded record of bucketSecrets.
type secretRecord struct {
	keyID   uint32
	version uint64
	nonce   []byte
	sealed  []byte
}

func decodeSecretRecord(b []byte) (secretRecord, error) {
	if len(b) < secretMinRecord || len(b) > secretMinRecord+MaxSecretSize {
		return secretRecord{}, fmt.Errorf("%w: %d bytes", ErrBadSecretRecord, len(b))
	}
	if b[0] != secretFormat {
		return secretRecord{}, fmt.Errorf("%w: format %d", ErrBadSecretRecord, b[0])
	}
	r := secretRecord{
		keyID:   binary.BigEndian.Uint32(b[1:5]),
		version: binary.BigEndian.Uint64(b[5:13]),
		nonce:   clone(b[13:25]),
		sealed:  clone(b[25:]),
	}
	if r.keyID == 0 || r.version == 0 {
		return secretRecord{}, fmt.Errorf("%w: key id %d, version %d", ErrBadSecretRecord, r.keyID, r.version)
	}
	return r, nil
}

func (r secretRecord) encode() []byte {
	b := make([]byte, secretHeader, secretHeader+len(r.sealed))
	b[0] = secretFormat
	binary.BigEndian.PutUint32(b[1:5], r.keyID)
	binary.BigEndian.PutUint64(b[5:13], r.version)
	copy(b[13:25], r.nonce)
	return append(b, r.sealed...)
}

func secretAAD(name string, version uint64, keyID uint32) []byte {
	aad := append([]byte("sitegate secret v1\x00"), name...)
	aad = append(aad, 0)
	aad = binary.BigEndian.AppendUint64(aad, version)
	return binary.BigEndian.AppendUint32(aad, keyID)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealSecret(key []byte, keyID uint32, name string, version uint64, value []byte) (secretRecord, error) {
	aead, err := newGCM(key)
	if err != nil {
		return secretRecord{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return secretRecord{}, err
	}
	return secretRecord{keyID: keyID, version: version, nonce: nonce,
		sealed: aead.Seal(nil, nonce, value, secretAAD(name, version, keyID))}, nil
}

func openSecret(key []byte, name string, r secretRecord) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(r.nonce) != aead.NonceSize() {
		return nil, ErrBadSecretRecord
	}
	return aead.Open(nil, r.nonce, r.sealed, secretAAD(name, r.version, r.keyID))
}

// Key file: a header line, then one line per key, "ID BASE64". Normally
// one key; two while a rotation is under way.
const secretKeyHeader = "sitegate secret-store keys v1"

// maxSecretKeys bounds the keys of a key file.
const maxSecretKeys = 4

func encodeSecretKeys(keys map[uint32][]byte) []byte {
	ids := make([]uint32, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b bytes.Buffer
	b.WriteString(secretKeyHeader + "\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d %s\n", id, base64.StdEncoding.EncodeToString(keys[id]))
	}
	return b.Bytes()
}

func parseSecretKeys(raw []byte) (map[uint32][]byte, error) {
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) == 0 || lines[0] != secretKeyHeader {
		return nil, fmt.Errorf("%w: the key file does not start with %q", ErrBadSecretRecord, secretKeyHeader)
	}
	if len(lines)-1 > maxSecretKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrBadSecretRecord, len(lines)-1, maxSecretKeys)
	}
	keys := map[uint32][]byte{}
	for i, line := range lines[1:] {
		idText, keyText, ok := strings.Cut(line, " ")
		id, err := strconv.ParseUint(idText, 10, 32)
		if !ok || err != nil || id == 0 || strconv.FormatUint(id, 10) != idText {
			return nil, fmt.Errorf("%w: line %d has no key id", ErrBadSecretRecord, i+2)
		}
		key, err := base64.StdEncoding.Strict().DecodeString(keyText)
		if err != nil || len(key) != secretKeySize {
			return nil, fmt.Errorf("%w: line %d: the key is not %d bytes of base64", ErrBadSecretRecord, i+2, secretKeySize)
		}
		if _, dup := keys[uint32(id)]; dup {
			return nil, fmt.Errorf("%w: key %d given twice", ErrBadSecretRecord, id)
		}
		keys[uint32(id)] = key
	}
	return keys, nil
}

// secretKeys holds the secret store's keys in memory.
type secretKeys struct {
	// rotMu is held from a transaction's first secret change until its
	// key file is final, so that rotations never interleave.
	rotMu sync.Mutex
	mu    sync.RWMutex
	path  string
	// keys holds the key in use, a rotation's new key, and the keys
	// before them that a read transaction still open may need: one that
	// began before a rotation committed sees records of the key it began
	// with. Only the key in use is ever kept at rest.
	keys map[uint32][]byte
	max  uint32 // the largest id ever seen, so that ids are never reused
	// epoch is the key in use as of the last committed rotation; open
	// counts the read transactions open, by the epoch they began in.
	epoch uint32
	open  map[uint32]int
}

// reading registers a read transaction about to begin: until the
// returned func runs, the key it may find records of stays in memory.
func (k *secretKeys) reading() (done func()) {
	k.mu.Lock()
	if k.open == nil { // before load: Open's own early reads
		k.open = map[uint32]int{}
	}
	e := k.epoch
	k.open[e]++
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.open[e]--; k.open[e] <= 0 {
			delete(k.open, e)
			k.prune()
		}
	}
}

// prune forgets the keys no open read transaction and no record in use
// can need: those older than the oldest epoch a reader began in. k.mu is
// held.
func (k *secretKeys) prune() {
	oldest := k.epoch
	for e := range k.open {
		oldest = min(oldest, e)
	}
	for id := range k.keys {
		if id < oldest {
			delete(k.keys, id)
		}
	}
}

// rotation is a key change under way in one write transaction.
type rotation struct {
	oldID, newID uint32
	old, new     []byte // old is nil when there was no key
	committed    bool
}

func (k *secretKeys) key(id uint32) []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[id]
}

// load reads the key file and drops the keys of an interrupted rotation:
// whichever key the database says is in use stays, the other goes.
func (k *secretKeys) load(s *Store) error {
	k.path = filepath.Join(s.dir, SecretKeyFile)
	k.keys, k.open = map[uint32][]byte{}, map[uint32]int{}
	raw, err := readKeyFile(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read secret-store key: %w", err)
	}
	keys, err := parseSecretKeys(raw)
	if err != nil {
		return fmt.Errorf("secret-store key %s: %w; move it aside to start without the stored secrets", k.path, err)
	}
	for id := range keys {
		k.max = max(k.max, id)
	}
	var inUse uint32
	_ = s.View(func(tx *Tx) error { inUse = uint32(getUint(tx.internal(), keySecretKeyID)); return nil })
	if key, ok := keys[inUse]; ok {
		k.keys[inUse] = key
	}
	k.epoch = inUse
	if len(keys) != len(k.keys) && !s.opts.NoNewKeys {
		if err := writeKeyFile(k.path, k.keys); err != nil {
			return fmt.Errorf("finish an interrupted secret-store key rotation: %w", err)
		}
	}
	return nil
}

// finish ends a rotation after its transaction: committed, the key file
// keeps only the new key and the old one is destroyed; rolled back, only
// the old one. Either way the file written first (with both) is
// overwritten in place before it is released.
func (k *secretKeys) finish(s *Store, r *rotation) {
	defer k.rotMu.Unlock()
	if !r.committed {
		k.mu.Lock()
		delete(k.keys, r.newID)
		k.mu.Unlock()
		keep := map[uint32][]byte{}
		if r.old != nil {
			keep[r.oldID] = r.old
		}
		// A failure leaves both keys in the file; the next open drops the
		// one the database does not use.
		_ = writeKeyFile(k.path, keep)
		return
	}
	k.mu.Lock()
	k.epoch = r.newID
	k.prune()
	k.mu.Unlock()
	_ = writeKeyFile(k.path, map[uint32][]byte{r.newID: r.new})
}

// writeKeyFile replaces the key file atomically and then overwrites the
// replaced file's blocks, so that a key dropped from the file does not
// survive in them.
func writeKeyFile(path string, keys map[uint32][]byte) error {
	old, _ := os.OpenFile(path, os.O_WRONLY, 0)
	var err error
	if len(keys) == 0 {
		if old != nil {
			err = os.Remove(path)
		}
	} else {
		err = WriteSecretFile(path, encodeSecretKeys(keys))
	}
	if old != nil {
		if err == nil {
			_ = overwrite(old)
		}
		old.Close()
	}
	return err
}

// rotation starts this transaction's key rotation, once: a new key is
// written beside the current one, every record is encrypted again with it,
// and after the commit the old key is destroyed (Update calls finish).
// Records whose key is already gone are left as they are.
func (t *Tx) rotation() (*rotation, error) {
	if t.rot != nil {
		return t.rot, nil
	}
	if !t.tx.Writable() {
		return nil, fmt.Errorf("change secret: %w: read-only transaction", ErrInvalid)
	}
	ks := &t.s.secrets
	ks.rotMu.Lock()
	in := t.internal()
	r := &rotation{oldID: uint32(getUint(in, keySecretKeyID))}
	r.old = ks.key(r.oldID)
	r.newID = max(ks.max, r.oldID) + 1
	r.new = make([]byte, secretKeySize)
	if _, err := rand.Read(r.new); err != nil {
		ks.rotMu.Unlock()
		return nil, err
	}
	// From here Update's finish releases rotMu and settles the key file.
	t.rot = r
	t.tx.OnCommit(func() { r.committed = true })
	both := map[uint32][]byte{r.newID: r.new}
	if r.old != nil {
		both[r.oldID] = r.old
	}
	if err := WriteSecretFile(ks.path, encodeSecretKeys(both)); err != nil {
		return nil, fmt.Errorf("write secret-store key: %w", err)
	}
	// Readers need the new key from the moment the commit is visible,
	// which is before Update's finish runs.
	ks.mu.Lock()
	ks.max = r.newID
	ks.keys[r.newID] = r.new
	ks.mu.Unlock()
	b := t.tx.Bucket(bucketSecrets)
	type entry struct {
		name  string
		value []byte
		ver   uint64
	}
	var again []entry
	err := b.ForEach(func(k, v []byte) error {
		rec, err := decodeSecretRecord(v)
		if err != nil || rec.keyID != r.oldID || r.old == nil {
			return nil
		}
		plain, err := openSecret(r.old, string(k), rec)
		if err != nil {
			return nil
		}
		again = append(again, entry{string(k), plain, rec.version})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range again {
		rec, err := sealSecret(r.new, r.newID, e.name, e.ver, e.value)
		if err != nil {
			return nil, err
		}
		if err := b.Put([]byte(e.name), rec.encode()); err != nil {
			return nil, err
		}
	}
	if err := putUint(in, keySecretKeyID, uint64(r.newID)); err != nil {
		return nil, err
	}
	return r, nil
}

func checkSecretName(name string) error {
	if name == "" || len(name) > MaxSecretName {
		return fmt.Errorf("secret name: %w: 1..%d bytes", ErrInvalid, MaxSecretName)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-/:@", c) >= 0) {
			return fmt.Errorf("secret name %q: %w: letters, digits and ._-/:@ only", name, ErrInvalid)
		}
	}
	return nil
}

// record reads and decrypts the record of name. It returns ErrNotFound
// when there is none.
func (t *Tx) secretRecord(name string) (secretRecord, []byte, error) {
	v := t.tx.Bucket(bucketSecrets).Get([]byte(name))
	if v == nil {
		return secretRecord{}, nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	rec, err := decodeSecretRecord(v)
	if err != nil {
		return secretRecord{}, nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var key []byte
	if t.rot != nil && rec.keyID == t.rot.newID {
		key = t.rot.new
	} else {
		key = t.s.secrets.key(rec.keyID)
	}
	if key == nil {
		return rec, nil, fmt.Errorf("secret %s: %w: the key that encrypted it is not in %s (lost or replaced); set the secret again", name, ErrSecretUnavailable, t.s.secrets.path)
	}
	plain, err := openSecret(key, name, rec)
	if err != nil {
		return rec, nil, fmt.Errorf("secret %s: %w: the record does not authenticate (altered)", name, ErrSecretUnavailable)
	}
	return rec, plain, nil
}

// Secret returns the value of the secret called name and its version
// (store-wide and never reused: every change gets a new one), ErrNotFound when it is not set,
// or ErrSecretUnavailable when it cannot be decrypted.
func (t *Tx) Secret(name string) ([]byte, uint64, error) {
	if err := checkSecretName(name); err != nil {
		return nil, 0, err
	}
	rec, plain, err := t.secretRecord(name)
	if err != nil {
		return nil, 0, err
	}
	return plain, rec.version, nil
}

// PutSecret stores value as the secret called name (letters, digits and
// ._-/:@, at most MaxSecretName bytes; the value at most MaxSecretSize)
// and returns its version. Storing the value it already has changes
// nothing and returns the same version; a new value gets a new version,
// greater than any before it in this store (also after a delete).
//
// Secrets are encrypted with AES-256-GCM under a key kept in
// DIR/SecretKeyFile, never in the database. A transaction that changes a
// secret rotates that key: every record is encrypted again under a new
// key, and the old key is overwritten on disk once the transaction has
// committed. bbolt never overwrites a page in place — a changed record
// goes to a new page and the old page joins the free list, where its bytes
// remain until the page is reused — so the old ciphertext may survive in
// the file for a while; without its key it cannot be read.
func (t *Tx) PutSecret(name string, value []byte) (uint64, error) {
	if err := checkSecretName(name); err != nil {
		return 0, err
	}
	if len(value) > MaxSecretSize {
		return 0, fmt.Errorf("secret %s: %w: %d bytes is over the %d byte bound", name, ErrInvalid, len(value), MaxSecretSize)
	}
	rec, plain, err := t.secretRecord(name)
	if err == nil && subtle.ConstantTimeCompare(plain, value) == 1 {
		return rec.version, nil
	}
	r, err := t.rotation()
	if err != nil {
		return 0, err
	}
	in := t.internal()
	version := getUint(in, keySecretVersion) + 1
	if err := putUint(in, keySecretVersion, version); err != nil {
		return 0, err
	}
	next, err := sealSecret(r.new, r.newID, name, version, value)
	if err != nil {
		return 0, err
	}
	if err := t.tx.Bucket(bucketSecrets).Put([]byte(name), next.encode()); err != nil {
		return 0, fmt.Errorf("put secret %s: %w", name, err)
	}
	return version, nil
}

// DeleteSecret removes the secret called name (nothing when it is not
// set). Like a change, it rotates the key, so the removed value cannot be
// decrypted from a free page afterwards.
func (t *Tx) DeleteSecret(name string) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketSecrets)
	if b.Get([]byte(name)) == nil {
		return nil
	}
	if _, err := t.rotation(); err != nil {
		return err
	}
	return b.Delete([]byte(name))
}

// SecretNames lists the names of stored secrets that start with prefix,
// in order.
func (t *Tx) SecretNames(prefix string) []string {
	var out []string
	c := t.tx.Bucket(bucketSecrets).Cursor()
	p := []byte(prefix)
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out
}

// PutSecret stores a secret in its own transaction (see Tx.PutSecret).
func (s *Store) PutSecret(name string, value []byte) (uint64, error) {
	var v uint64
	err := s.Update(func(tx *Tx) (err error) { v, err = tx.PutSecret(name, value); return })
	return v, err
}

// Secret reads a secret in its own transaction (see Tx.Secret).
func (s *Store) Secret(name string) ([]byte, uint64, error) {
	var value []byte
	var v uint64
	err := s.View(func(tx *Tx) (err error) { value, v, err = tx.Secret(name); return })
	return value, v, err
}

// DeleteSecret removes a secret in its own transaction.
func (s *Store) DeleteSecret(name string) error {
	return s.Update(func(tx *Tx) error { return tx.DeleteSecret(name) })
}
