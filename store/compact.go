package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	bolt "go.etcd.io/bbolt"
)

// compactSuffix names the file Compact builds beside the database.
const compactSuffix = ".compact"

// compactTxSize bounds what one transaction of Compact copies.
const compactTxSize = 16 << 20

// Compact rewrites the database into a new file that holds only live data
// and puts it in the old one's place: the pages bbolt freed, which may
// still hold old values (a secret stored in clear by an older sitegate,
// say), are gone. The old file is overwritten with random bytes before its
// blocks are released. Compact waits for every transaction to end and
// holds new ones back until it is done; it needs free space for a second
// copy of the live data. It must not be called from inside a transaction.
//
// The lock on the data directory is held throughout: the new file is
// opened (and locked) before it replaces the old one.
func (s *Store) Compact() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	tmp := s.path + compactSuffix
	_ = os.Remove(tmp)
	dst, err := openBolt(tmp, s.opts.LockTimeout)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	abandon := func(err error) error {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", s.path, err)
	}
	if err := guard(func() error { return bolt.Compact(dst, s.db, compactTxSize) }); err != nil {
		return abandon(err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return abandon(err)
	}
	old, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return abandon(err)
	}
	defer old.Close()
	if err := os.Rename(tmp, s.path); err != nil {
		return abandon(err)
	}
	SyncDir(s.dir)
	// The new file is in place and durable (every bbolt commit syncs):
	// the old one, now without a name, can go.
	cerr := s.db.Close()
	s.db = dst
	werr := overwrite(old)
	return errors.Join(cerr, werr)
}

// removeCompactLeftover removes what an interrupted Compact left: a copy
// of live data only, never the database itself.
func removeCompactLeftover(path string) error {
	err := os.Remove(path + compactSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
