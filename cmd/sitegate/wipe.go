package main

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/store"
)

// wipeMetaGatewayID is the store metadata key under which device keeps the
// gateway id (device/gateway.go). Wipe reads it directly rather than
// through device.NewGateway, which would create an id and write to the
// store before anything is confirmed.
const wipeMetaGatewayID = "gateway_id"

// wipeChunk bounds the memory used to overwrite one file: firmware slots
// can be larger than memory.
const wipeChunk = 1 << 20

func newWipeCmd(s streams) *cobra.Command {
	var dir, confirm string
	cmd := &cobra.Command{
		Use:   "wipe --data DIR --confirm GATEWAY-ID",
		Short: "Securely erase a stopped gateway's data, keys and credentials (disposal)",
		Long: `Erase everything in a stopped gateway's data directory before the device is
disposed of or returned: the database (site, accounts, audit trail, queued
telemetry), the secret-store and audit keys (erased first), the SSH host key,
the setup token, firmware slots, certificates and any other file. Every regular file is overwritten with random bytes of its own
size, synced to disk and removed; then the directories are removed, the data
directory included. Symbolic links are removed, never followed, and nothing
outside the directory is touched. The command prints each file it erased.

The gateway must be stopped, and --confirm must repeat its exact id (shown by
"health" and on the console's dashboard); otherwise nothing is erased.

This is a local command for someone with physical access to the gateway: it is
not one of the SSH console's commands and cannot be run over SSH.

Overwriting erases the data from the file system. On flash storage with wear
levelling, or on a copy-on-write file system, old copies may survive in blocks
the file system no longer uses; an encrypted data partition whose key is
destroyed gives the stronger guarantee.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWipe(dir, confirm, s.out)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory of the stopped gateway to erase")
	cmd.Flags().StringVar(&confirm, "confirm", "", "the gateway's id, repeated to confirm the erasure")
	return cmd
}

// wipeReport is what an erasure did.
type wipeReport struct {
	files, links, others, dirs int
	bytes                      int64
	failed                     []string
}

func (r *wipeReport) fail(path string, err error) {
	r.failed = append(r.failed, fmt.Sprintf("%s: %v", path, err))
}

func runWipe(dir, confirm string, out io.Writer) error {
	if dir == "" {
		return usagef("--data is required: the data directory of the stopped gateway to erase")
	}
	if confirm == "" {
		return usagef("--confirm GATEWAY-ID is required: repeat the id of the gateway whose data is to be erased (shown by \"health\" and on the dashboard); nothing was erased")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data directory %s does not exist: give the --data of an existing gateway", dir)
	case err != nil:
		return fmt.Errorf("data directory %s: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: give the data directory itself, not a link to it; nothing was erased", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory: give the --data of a gateway; nothing was erased", dir)
	}
	// Opening the store of a directory without one would create it: refuse
	// anything that is not a gateway's data directory before that.
	if dbi, err := os.Lstat(filepath.Join(root, store.FileName)); err != nil || !dbi.Mode().IsRegular() {
		return fmt.Errorf("%s holds no sitegate database (%s): it is not a gateway's data directory; nothing was erased", dir, store.FileName)
	}
	// NoNewKeys: a refused wipe must leave the directory as it was.
	st, err := store.Open(root, store.Options{NoNewKeys: true})
	if err != nil {
		return fmt.Errorf("%w (nothing was erased)", err)
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	id, err := st.Meta(wipeMetaGatewayID)
	if err != nil {
		return fmt.Errorf("read the gateway id: %w; nothing was erased", err)
	}
	if len(id) == 0 {
		return fmt.Errorf("%s has no gateway id (the gateway was never started), so there is nothing to confirm against; nothing was erased", dir)
	}
	if subtle.ConstantTimeCompare([]byte(confirm), id) != 1 {
		return fmt.Errorf("--confirm %q is not the id of the gateway in %s: nothing was erased (the id is shown by \"health\" and on the dashboard)", confirm, dir)
	}

	// The store stays open while its files are erased: its lock keeps a
	// gateway from starting on the directory meanwhile. bbolt maps the file
	// read-only and writes only in transactions, so overwriting it under
	// the open handle is safe, and closing it afterwards writes nothing.
	// The keys go first: once they are gone, the secrets in whatever an
	// interrupted wipe, or a flash's spare blocks, keep of the database
	// cannot be read.
	rep := &wipeReport{}
	for _, name := range []string{store.SecretKeyFile, store.AuditKeyFile} {
		path := filepath.Join(root, name)
		if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
			continue // absent, or not a file: the walk below deals with it
		}
		n, err := shredFile(path)
		if err != nil {
			rep.fail(path, err)
			continue
		}
		rep.files++
		rep.bytes += n
		fmt.Fprintf(out, "erased %s (%d bytes; key, erased first)\n", path, n)
	}
	eraseTree(root, out, rep)
	closed = true
	if err := st.Close(); err != nil {
		rep.fail(store.FileName, fmt.Errorf("close: %w", err))
	}
	store.SyncDir(filepath.Dir(root))

	gone := "is gone"
	if _, err := os.Lstat(root); err == nil {
		gone = "still exists"
	}
	parts := []string{fmt.Sprintf("%s (%s) overwritten with random bytes and removed", plural(rep.files, "file"), humanBytes(rep.bytes))}
	if rep.links > 0 {
		parts = append(parts, plural(rep.links, "symbolic link")+" removed")
	}
	if rep.others > 0 {
		parts = append(parts, plural(rep.others, "special file")+" removed")
	}
	parts = append(parts, plural(rep.dirs, "directory")+" removed")
	fmt.Fprintf(out, "wiped gateway %s: %s; %s %s\n", id, strings.Join(parts, ", "), root, gone)
	if len(rep.failed) > 0 {
		return fmt.Errorf("%d item(s) could not be erased, so the data directory is only partly erased:\n  %s", len(rep.failed), strings.Join(rep.failed, "\n  "))
	}
	return nil
}

// eraseTree overwrites and removes every regular file under root, removes
// every other entry without following it, then the directories deepest
// first and root last. It goes on past failures, so that as much as
// possible is erased, and reports them.
func eraseTree(root string, out io.Writer, rep *wipeReport) {
	var dirs []string
	// WalkDir does not follow symbolic links (not even to directories), so
	// the walk never leaves root.
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			rep.fail(path, err)
			return nil
		}
		switch t := d.Type(); {
		case d.IsDir():
			dirs = append(dirs, path)
		case t.IsRegular():
			n, err := shredFile(path)
			if err != nil {
				rep.fail(path, err)
				return nil
			}
			rep.files++
			rep.bytes += n
			fmt.Fprintf(out, "erased %s (%d bytes)\n", path, n)
		case t&fs.ModeSymlink != 0:
			if err := os.Remove(path); err != nil {
				rep.fail(path, err)
				return nil
			}
			rep.links++
			fmt.Fprintf(out, "removed symbolic link %s (not followed)\n", path)
		default:
			// Sockets, pipes and device nodes hold no data of their own;
			// opening one could block or reach a device, so only the entry
			// goes.
			if err := os.Remove(path); err != nil {
				rep.fail(path, err)
				return nil
			}
			rep.others++
			fmt.Fprintf(out, "removed %s (%s)\n", path, specialKind(t))
		}
		return nil
	})
	for _, dir := range slices.Backward(dirs) {
		if err := os.Remove(dir); err != nil {
			rep.fail(dir, err)
			continue
		}
		rep.dirs++
		store.SyncDir(filepath.Dir(dir))
	}
}

// shredFile overwrites a regular file in place with random bytes of its
// size, syncs it and removes it, returning the size. It differs from
// store.Shred, which it would otherwise reuse, in two ways a disposal
// needs: it never follows a symbolic link (the file must still be the one
// the walk found when it is opened), and it overwrites in bounded chunks
// rather than holding the whole file in memory.
//
// The file is overwritten in place, not replaced, so its blocks (and every
// hard link to it) hold random bytes afterwards.
func shredFile(path string) (int64, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return 0, err
	}
	if !before.Mode().IsRegular() {
		return 0, errors.New("no longer a regular file; left alone")
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	if !os.SameFile(before, fi) || !fi.Mode().IsRegular() {
		f.Close()
		return 0, errors.New("replaced while being erased (a link?); left alone")
	}
	size := fi.Size()
	buf := make([]byte, min(size, wipeChunk))
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		_, _ = rand.Read(buf[:n]) // crypto/rand never fails on supported systems
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			f.Close()
			return 0, fmt.Errorf("overwrite: %w", err)
		}
		off += int64(n)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Remove(path); err != nil {
		return 0, fmt.Errorf("overwritten but not removed: %w", err)
	}
	return size, nil
}

// plural writes "1 file", "2 files", "1 directory", "2 directories".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// specialKind names a file type that is neither regular, a directory nor a
// link.
func specialKind(t fs.FileMode) string {
	switch {
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeDevice != 0:
		return "device node"
	}
	return "special file"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
