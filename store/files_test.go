package store_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/store"
)

func TestWriteSecretFileAndShred(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := store.WriteSecretFile(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteSecretFile(path, []byte("second")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if err != nil || string(b) != "second" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file %q mode %v err %v", b, fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	// Keep a second name for the inode to see what Shred leaves in it.
	link := filepath.Join(dir, "link")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	if err := store.Shred(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("shredded file still exists")
	}
	if rest, _ := os.ReadFile(link); bytes.Contains(rest, []byte("second")) {
		t.Fatal("the secret is still in the file's blocks")
	}
	if err := store.Shred(path); err != nil {
		t.Fatalf("shredding a missing file: %v", err)
	}
}

// A writer that fails leaves the old file as it was and no temporary
// file; CreateFile never replaces a file.
func TestWriteFileFailureAndCreateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "image")
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := store.WriteFile(path, 0o644, write("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("signing failed")
	err := store.WriteFile(path, 0o644, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("after a failed write the file holds %q", b)
	}
	key := filepath.Join(dir, "vendor.key")
	if err := store.CreateFile(key, 0o600, write("k1")); err != nil {
		t.Fatal(err)
	}
	err = store.CreateFile(key, 0o600, write("k2"))
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), key+" already exists") {
		t.Fatalf("creating over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(key); string(b) != "k1" {
		t.Fatalf("an existing file was replaced: %q", b)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
