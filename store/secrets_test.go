package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestSecretPutGetVersionsAndDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Secret("site/wifi.passphrase"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset secret: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SecretKeyFile)); err == nil {
		t.Fatal("a key file exists before the first secret")
	}
	v1, err := s.PutSecret("site/wifi.passphrase", []byte("correct horse"))
	if err != nil || v1 != 1 {
		t.Fatalf("put: %d %v", v1, err)
	}
	if v, err := s.PutSecret("site/wifi.passphrase", []byte("correct horse")); err != nil || v != 1 {
		t.Fatalf("same value again: version %d %v", v, err)
	}
	if v, err := s.PutSecret("site/wifi.passphrase", []byte("battery staple")); err != nil || v != 2 {
		t.Fatalf("new value: version %d %v", v, err)
	}
	fi, err := os.Stat(filepath.Join(dir, SecretKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, v, err := s.Secret("site/wifi.passphrase")
	if err != nil || string(got) != "battery staple" || v != 2 {
		t.Fatalf("after reopening: %q v%d %v", got, v, err)
	}
	if err := s.DeleteSecret("site/wifi.passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Secret("site/wifi.passphrase"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted secret: %v", err)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", MaxSecretName+1), "nul\x00"} {
		if _, err := s.PutSecret(bad, []byte("v")); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, err := s.PutSecret("big", make([]byte, MaxSecretSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized value: %v", err)
	}
}

func keyFileKeys(t *testing.T, dir string) map[uint32][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := parseSecretKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestEveryChangeRotatesTheKeyAndDestroysTheOldOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var old, sealed [][]byte
	for i, v := range []string{"one", "two", "three"} {
		if _, err := s.PutSecret("a", []byte(v)); err != nil {
			t.Fatal(err)
		}
		_ = s.View(func(tx *Tx) error {
			rec, _ := decodeSecretRecord(tx.tx.Bucket(bucketSecrets).Get([]byte("a")))
			sealed = append(sealed, rec.sealed)
			return nil
		})
		if _, err := s.PutSecret("b", []byte("stays the same")); err != nil {
			t.Fatal(err)
		}
		keys := keyFileKeys(t, dir)
		if len(keys) != 1 {
			t.Fatalf("change %d: %d keys in the file", i, len(keys))
		}
		for _, k := range keys {
			old = append(old, k)
		}
	}
	db, _ := os.ReadFile(filepath.Join(dir, FileName))
	file, _ := os.ReadFile(filepath.Join(dir, SecretKeyFile))
	for i, k := range old[:len(old)-1] {
		if bytes.Contains(db, k) || bytes.Contains(file, k) {
			t.Errorf("old key %d is still on disk", i)
		}
	}
	// Measured, not asserted: bbolt leaves replaced records in freed pages,
	// so old ciphertext may still be in the file; its key is gone.
	lingering := 0
	for _, c := range sealed[:len(sealed)-1] {
		if bytes.Contains(db, c) {
			lingering++
		}
	}
	t.Logf("old ciphertexts still in the database file: %d of %d (their keys: 0 of %d left)", lingering, len(sealed)-1, len(old)-1)
	if got, _, err := s.Secret("b"); err != nil || string(got) != "stays the same" {
		t.Fatalf("re-encrypted secret: %q %v", got, err)
	}
}

func TestRolledBackSecretChangeKeepsTheOldKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutSecret("a", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	before := keyFileKeys(t, dir)
	err = s.Update(func(tx *Tx) error {
		if _, err := tx.PutSecret("a", []byte("never")); err != nil {
			return err
		}
		return errors.New("abort")
	})
	if err == nil {
		t.Fatal("no error")
	}
	after := keyFileKeys(t, dir)
	if len(after) != 1 || !equalKeys(before, after) {
		t.Fatalf("key file changed by a rolled-back transaction: %d keys", len(after))
	}
	if got, _, err := s.Secret("a"); err != nil || string(got) != "kept" {
		t.Fatalf("after rollback: %q %v", got, err)
	}
}

func equalKeys(a, b map[uint32][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for id, k := range a {
		if !bytes.Equal(b[id], k) {
			return false
		}
	}
	return true
}

func TestInterruptedRotationIsFinishedAtOpen(t *testing.T) {
	for _, committed := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "data")
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutSecret("a", []byte("v")); err != nil {
			t.Fatal(err)
		}
		keys := keyFileKeys(t, dir)
		var inUse uint32
		for id := range keys {
			inUse = id
		}
		// A crash after the key file got the new key beside the old one:
		// before the commit the database still uses the old key, after it
		// the new one.
		keys[inUse+1] = bytes.Repeat([]byte{7}, secretKeySize)
		if committed {
			_ = s.db.Update(func(tx *bolt.Tx) error {
				return putUint(tx.Bucket(bucketInternal), keySecretKeyID, uint64(inUse+1))
			})
		}
		if err := WriteSecretFile(filepath.Join(dir, SecretKeyFile), encodeSecretKeys(keys)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		left := keyFileKeys(t, dir)
		want := inUse
		if committed {
			want++
		}
		if _, ok := left[want]; len(left) != 1 || !ok {
			t.Errorf("committed=%v: keys %v left, want only %d", committed, len(left), want)
		}
		s.Close()
	}
}

func TestSecretRecordIsBoundToItsNameAndKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSecret("a", []byte("alpha")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSecret("b", []byte("bravo")); err != nil {
		t.Fatal(err)
	}
	_ = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecrets)
		return b.Put([]byte("b"), clone(b.Get([]byte("a"))))
	})
	if _, _, err := s.Secret("b"); !errors.Is(err, ErrSecretUnavailable) {
		t.Fatalf("record moved to another name: %v", err)
	}
	s.Close()
	if err := os.Remove(filepath.Join(dir, SecretKeyFile)); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Secret("a"); !errors.Is(err, ErrSecretUnavailable) || !strings.Contains(err.Error(), "set the secret again") {
		t.Fatalf("lost key file: %v", err)
	}
	// Setting it again works, and keeps counting versions.
	if v, err := s.PutSecret("a", []byte("alpha 2")); err != nil || v != 3 {
		t.Fatalf("set again: v%d %v", v, err)
	}
}

func TestParseSecretKeysRefusesMalformed(t *testing.T) {
	good := encodeSecretKeys(map[uint32][]byte{3: bytes.Repeat([]byte{1}, 32)})
	if _, err := parseSecretKeys(good); err != nil {
		t.Fatalf("good: %v", err)
	}
	for name, raw := range map[string]string{
		"no header":  "3 AQEB\n",
		"short key":  secretKeyHeader + "\n3 AQEB\n",
		"id 0":       secretKeyHeader + "\n0 " + strings.Repeat("A", 43) + "=\n",
		"id padded":  secretKeyHeader + "\n03 " + strings.Repeat("A", 43) + "=\n",
		"duplicate":  secretKeyHeader + "\n3 " + strings.Repeat("A", 43) + "=\n3 " + strings.Repeat("A", 43) + "=\n",
		"empty line": secretKeyHeader + "\n\n",
	} {
		if _, err := parseSecretKeys([]byte(raw)); !errors.Is(err, ErrBadSecretRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCompactDropsFreedPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := []byte("clear-text-marker-0123456789")
	if err := s.PutMeta("legacy", marker); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("legacy", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	// Measured: bbolt keeps the replaced value in a freed page.
	lingered := bytes.Contains(raw, marker)
	t.Logf("replaced value still in the file before compaction: %v", lingered)
	appendN(t, s, 3)
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, marker) {
		t.Fatal("the replaced value survived compaction")
	}
	if v, _ := s.Meta("legacy"); string(v) != "replaced" {
		t.Fatalf("meta after compaction: %q", v)
	}
	if _, err := s.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1)
	if _, err := os.Stat(filepath.Join(dir, FileName+compactSuffix)); err == nil {
		t.Error("the compaction file was left behind")
	}
	// Still the only process on the directory.
	if _, err := Open(dir, Options{LockTimeout: 50e6}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second open after compaction: %v", err)
	}
}

func TestMigrationToSchema2CreatesBuckets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 2)
	// Back to what schema 1 wrote.
	_ = s.db.Update(func(tx *bolt.Tx) error {
		_ = tx.DeleteBucket(bucketCheckpoints)
		_ = tx.DeleteBucket(bucketSecrets)
		in := tx.Bucket(bucketInternal)
		_ = in.Delete(keyAuditKeyID)
		_ = in.Delete(keyAuditKeyedFrom)
		return putUint(in, keySchema, 1)
	})
	s.Close()
	_ = os.Remove(filepath.Join(dir, AuditKeyFile))
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutSecret("a", []byte("v")); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1)
	mustCheckpoint(t, s)
	res, err := s.VerifyAudit()
	if err != nil || res.KeyedFrom != 3 || !strings.Contains(strings.Join(res.Unproven, "\n"), "events 1..2 carry no MAC") {
		t.Fatalf("verify after migration: %+v %v", res, err)
	}
}

// Readers see a secret while it is being changed over and over: every read
// gives one of the values, never an error.
func TestSecretReadsDuringRotations(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.PutSecret("a", []byte("v0")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			if v, _, err := s.Secret("a"); err != nil || !strings.HasPrefix(string(v), "v") {
				errs <- fmt.Errorf("read %q: %v", v, err)
				return
			}
		}
	}()
	for i := range 50 {
		if _, err := s.PutSecret("a", []byte(fmt.Sprint("v", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// A read transaction that stays open across many rotations still reads
// the secret as its snapshot has it: the keys it needs stay in memory
// until it ends, and are forgotten then.
func TestLongReadOutlivesRotations(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.PutSecret("a", []byte("v0")); err != nil {
		t.Fatal(err)
	}
	// bbolt cannot grow its map while a read transaction is open (the
	// writer would wait for the reader, which waits for the writer): free
	// pages first, so that the rotations below reuse them.
	if err := s.PutMeta("test.pad", make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("test.pad", nil); err != nil {
		t.Fatal(err)
	}
	began, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.View(func(tx *Tx) error {
			close(began)
			<-release
			v, _, err := tx.Secret("a")
			if err == nil && string(v) != "v0" {
				err = fmt.Errorf("read %q in the old snapshot", v)
			}
			return err
		})
	}()
	<-began
	for i := range 10 {
		if _, err := s.PutSecret("a", []byte(fmt.Sprint("v", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the long read: %v", err)
	}
	s.secrets.mu.RLock()
	n := len(s.secrets.keys)
	s.secrets.mu.RUnlock()
	if n != 1 {
		t.Fatalf("%d keys in memory after the read ended, want only the one in use", n)
	}
}
