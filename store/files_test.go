package store_test

import (
	"bytes"
	"os"
	"path/filepath"
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
