package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func TestOpenCreatesPrivateDirectoryAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, store.FileName), 0o600)
}

func TestOpenTightensLooseModes(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, store.FileName), 0o644); err != nil {
		t.Fatal(err)
	}
	s = storetest.Open(t, dir)
	assertMode(t, dir, 0o700)
	assertMode(t, s.Path(), 0o600)
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}

func TestSecondOpenFailsFastWithInUse(t *testing.T) {
	dir := t.TempDir()
	storetest.Open(t, dir)
	start := time.Now()
	_, err := store.Open(dir)
	elapsed := time.Since(start)
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("data directory %s is in use by a running gateway", dir)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	// The bound is the contract ("within a second"), not a speed target.
	if elapsed > 3*time.Second {
		t.Errorf("second open took %v", elapsed)
	}
}

func TestOpenDamagedFiles(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"random bytes": func(t *testing.T, path string) {
			writeFile(t, path, bytes.Repeat([]byte("not a database "), 4096))
		},
		"too short": func(t *testing.T, path string) {
			writeFile(t, path, []byte("sitegate"))
		},
		"truncated": func(t *testing.T, path string) {
			fillStore(t, filepath.Dir(path))
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
		"meta pages overwritten": func(t *testing.T, path string) {
			fillStore(t, filepath.Dir(path))
			overwrite(t, path, 0, bytes.Repeat([]byte{0xAB}, 8192))
		},
		"data page overwritten": func(t *testing.T, path string) {
			fillStore(t, filepath.Dir(path))
			fi, _ := os.Stat(path)
			// Scribble over a page in the middle of the file: its header no
			// longer describes a valid branch, leaf or freelist page.
			overwrite(t, path, (fi.Size()/2)&^4095, bytes.Repeat([]byte{0xFF}, 4096))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, store.FileName)
			damage(t, path)
			s, err := store.Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("damaged store opened without error")
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore a backup") {
				t.Errorf("error %q should name the file and what to do", err)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func fillStore(t *testing.T, dir string) {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	payloads := make([][]byte, 2000)
	for i := range payloads {
		payloads[i] = bytes.Repeat([]byte{byte(i)}, 100)
	}
	if _, err := s.Enqueue("telemetry", payloads...); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaVersionRecordedAndReopenable(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = storetest.Open(t, dir)
	if store.SchemaVersion() < 1 {
		t.Fatal("no schema version")
	}
	if _, err := s.Config("missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing doc: %v", err)
	}
}

func TestMeta(t *testing.T) {
	s := storetest.New(t)
	if v, _ := s.Meta("gateway_id"); v != nil {
		t.Fatalf("unset meta = %q", v)
	}
	if err := s.PutMeta("gateway_id", []byte("gw-1")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("gateway_id"); string(v) != "gw-1" {
		t.Fatalf("meta = %q", v)
	}
	if err := s.PutMeta("", nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty key: %v", err)
	}
}

func TestConfigRevisionsAndHistory(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := 0; i < 60; i++ {
		doc := "site"
		if i%3 == 0 {
			doc = "other"
		}
		r, err := s.PutConfig(doc, "u-1", []byte(fmt.Sprintf("body %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Rev <= last {
			t.Fatalf("revision %d after %d: not monotonic", r.Rev, last)
		}
		last = r.Rev
	}
	s.Close()
	s = storetest.Open(t, dir)
	cur, err := s.Config("site")
	if err != nil {
		t.Fatal(err)
	}
	if string(cur.Body) != "body 59" || cur.Author != "u-1" || !cur.Time.Equal(now) || cur.Rev != 60 {
		t.Fatalf("current = %+v", cur)
	}
	hist, err := s.ConfigHistory("site", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 40 {
		t.Fatalf("history of 40 puts has %d entries", len(hist))
	}
	for i := 0; i < 50; i++ {
		if _, err := s.PutConfig("site", "u-2", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	hist, _ = s.ConfigHistory("site", 0)
	if len(hist) != store.ConfigHistory {
		t.Fatalf("history has %d entries, want %d", len(hist), store.ConfigHistory)
	}
	if hist[0].Rev <= hist[1].Rev {
		t.Fatalf("history not newest first: %d, %d", hist[0].Rev, hist[1].Rev)
	}
	if r, err := s.PutConfig("site", "u-2", make([]byte, store.MaxDocumentSize+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("oversized document: %v %+v", err, r)
	}
}

func TestUsers(t *testing.T) {
	s := storetest.New(t)
	err := s.Update(func(tx *store.Tx) error {
		if err := tx.PutUser(store.UserRecord{ID: "u1", Name: "alice", Data: []byte("a")}); err != nil {
			return err
		}
		return tx.PutUser(store.UserRecord{ID: "u2", Name: "bob", Data: []byte("b")})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *store.Tx) error {
		return tx.PutUser(store.UserRecord{ID: "u3", Name: "alice"})
	})
	if !errors.Is(err, store.ErrNameTaken) {
		t.Fatalf("duplicate name: %v", err)
	}
	// Rename frees the old name.
	err = s.Update(func(tx *store.Tx) error {
		if err := tx.PutUser(store.UserRecord{ID: "u1", Name: "alicia", Data: []byte("a2")}); err != nil {
			return err
		}
		return tx.PutUser(store.UserRecord{ID: "u3", Name: "alice"})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *store.Tx) error {
		u, err := tx.UserByName("alicia")
		if err != nil || u.ID != "u1" || string(u.Data) != "a2" {
			t.Errorf("by name: %+v %v", u, err)
		}
		users, err := tx.Users()
		if err != nil {
			return err
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		if strings.Join(names, ",") != "alice,alicia,bob" || tx.UserCount() != 3 {
			t.Errorf("users = %v", names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *store.Tx) error { return tx.DeleteUser("u2") }); err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *store.Tx) error {
		if _, err := tx.UserByName("bob"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted user by name: %v", err)
		}
		if _, err := tx.User("u2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted user: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A config change, its audit event and its outbox record commit together or
// not at all.
func TestChangeAuditOutboxInOneTransaction(t *testing.T) {
	s := storetest.New(t)
	change := func(fail bool) error {
		return s.Update(func(tx *store.Tx) error {
			r, err := tx.PutConfig("site", "u1", []byte("name: A"))
			if err != nil {
				return err
			}
			if _, err := tx.AppendAudit(store.AuditEvent{Actor: "u1", Role: "installer", Action: "config.change", Target: fmt.Sprintf("site@%d", r.Rev), Result: "ok"}); err != nil {
				return err
			}
			if _, err := tx.Enqueue("config/reported", []byte(`{"rev":1}`)); err != nil {
				return err
			}
			if fail {
				return errors.New("validation failed late")
			}
			return nil
		})
	}
	if err := change(true); err == nil {
		t.Fatal("failing change reported success")
	}
	if _, err := s.Config("site"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("config kept after rollback: %v", err)
	}
	if a := s.AuditStats(); a.Count != 0 || a.LastSeq != 0 {
		t.Errorf("audit kept after rollback: %+v", a)
	}
	if o := s.OutboxStats(); o.Depth != 0 || o.LastSeq != 0 {
		t.Errorf("outbox kept after rollback: %+v", o)
	}
	if err := change(false); err != nil {
		t.Fatal(err)
	}
	r, err := s.Config("site")
	if err != nil || r.Rev != 1 {
		t.Errorf("config after commit: %+v %v", r, err)
	}
	if a := s.AuditStats(); a.Count != 1 {
		t.Errorf("audit after commit: %+v", a)
	}
	if o := s.OutboxStats(); o.Depth != 1 || o.LastSeq != 1 {
		t.Errorf("outbox after commit: %+v", o)
	}
}
