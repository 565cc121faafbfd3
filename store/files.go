package store

import (
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteSecretFile writes data to path with mode 0600 through WriteFile.
// For keys, tokens and other secrets of the data directory.
func WriteSecretFile(path string, data []byte) error {
	return WriteFile(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFile writes path through fn so that a crash or a failure leaves
// either the old file or the new one, never a mix: fn writes a temporary
// file in the same directory, created with mode; it is synced, renamed
// over path, and the directory is synced.
func WriteFile(path string, mode fs.FileMode, fn func(w io.Writer) error) error {
	return writeVia(path, mode, fn, os.Rename)
}

// CreateFile is WriteFile for a path that must not exist yet: the
// temporary file is hard-linked to path, so an existing file is never
// replaced and the error then wraps fs.ErrExist.
func CreateFile(path string, mode fs.FileMode, fn func(w io.Writer) error) error {
	err := writeVia(path, mode, fn, os.Link)
	if errors.Is(err, fs.ErrExist) {
		return existsError(path)
	}
	return err
}

// existsError says that CreateFile found its path taken; it is fs.ErrExist.
type existsError string

func (e existsError) Error() string {
	return string(e) + " already exists: it is never overwritten"
}

func (e existsError) Is(target error) bool { return target == fs.ErrExist }

// writeVia writes a synced temporary file next to path and hands it to
// commit (rename or link) under path's name.
func writeVia(path string, mode fs.FileMode, fn func(w io.Writer) error, commit func(tmp, path string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a rename this finds nothing; after a link it drops the extra name
	err = f.Chmod(mode)
	if err == nil {
		err = fn(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = commit(tmp, path)
	}
	if err != nil {
		return err
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// SyncDir makes a directory's entries durable: a file created, renamed or
// removed in it survives a power cut. Best effort, as not every file
// system can sync a directory.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Shred overwrites a file with random bytes, syncs it and removes it, so
// that its secret does not linger in the file's old blocks. A missing file
// is not an error.
func Shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	werr := overwrite(f)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return err
	}
	return os.Remove(path)
}

// shredChunk bounds the memory overwrite uses.
const shredChunk = 1 << 20

// overwrite writes random bytes over the whole of an open file, in place,
// and syncs it. It works on a file already renamed over or unlinked, which
// is how a replaced key file or database is erased after the replacement
// is durable.
func overwrite(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	buf := make([]byte, min(size, shredChunk))
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		_, _ = rand.Read(buf[:n]) // crypto/rand does not fail on supported systems
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
	return f.Sync()
}
