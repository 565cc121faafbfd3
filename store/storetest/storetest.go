// Package storetest opens real stores in temporary directories for tests and
// checks them when the test ends.
package storetest

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/sitegate/sitegate/store"
)

// New opens a store in a fresh t.TempDir(). When the test ends it verifies
// the audit chain and closes the store, failing the test on any error.
func New(t testing.TB, opts ...store.Options) *store.Store {
	t.Helper()
	return Open(t, t.TempDir(), opts...)
}

// Open opens the store in dir with the same checks on cleanup as New.
func Open(t testing.TB, dir string, opts ...store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(dir, opts...)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.VerifyAudit(); err != nil {
			t.Errorf("audit chain at end of test: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Encodings returns the forms a secret could take in a database file: as
// is, and base64 (standard and URL alphabets) at each of the three
// alignments a value can have inside a longer base64-encoded blob (Go's
// JSON writes []byte, such as a config revision's body, as base64). Of the
// base64 forms only the characters that depend on the secret alone are
// kept; a form shorter than 8 characters is left out (too short to mean
// anything in a file of random pages).
func Encodings(secret string) [][]byte {
	out := [][]byte{[]byte(secret)}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := range 3 {
			padded := append(make([]byte, shift), secret...)
			full := enc.EncodeToString(padded)
			// Skip the group shared with the bytes before the secret, drop
			// the one shared with the bytes after it.
			start := 0
			if shift > 0 {
				start = 4
			}
			end := len(padded) / 3 * 4
			if end-start >= 8 {
				out = append(out, []byte(full[start:end]))
			}
		}
	}
	return out
}

// ScanForSecrets fails the test for every secret found, in any of its
// Encodings, in the regular files of dir.
func ScanForSecrets(t testing.TB, dir string, secrets []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			for i, needle := range Encodings(s) {
				if bytes.Contains(raw, needle) {
					t.Errorf("%s holds secret %q (form %d: %q)", e.Name(), s, i, needle)
				}
			}
		}
	}
}
