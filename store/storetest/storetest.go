// Package storetest opens real stores in temporary directories for tests and
// checks them when the test ends.
package storetest

import (
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
