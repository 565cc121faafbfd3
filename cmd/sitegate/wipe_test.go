package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/sitegate/sitegate/store"
)

// wipeCLI runs `sitegate wipe ARGS` in-process through the real root
// command. Should the root not list wipe yet, it is added to a fresh root
// and the exit status is mapped as executeContext maps it.
func wipeCLI(t *testing.T, args ...string) result {
	t.Helper()
	args = append([]string{"wipe"}, args...)
	probe := newRoot(streams{})
	if c, _, err := probe.Find(args[:1]); err == nil && c.Name() == "wipe" {
		return sitegate(t, "", args...)
	}
	var out, errb bytes.Buffer
	s := streams{strings.NewReader(""), &out, &errb}
	root := newRoot(s)
	root.AddCommand(newWipeCmd(s))
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(context.Background())
	code := exitOK
	switch {
	case err != nil && isUsage(err):
		fmt.Fprintf(&errb, "sitegate: %v\nUsage: %s\n", err, cmd.UseLine())
		code = exitUsage
	case err != nil:
		fmt.Fprintf(&errb, "sitegate: %v\n", err)
		code = exitFailure
	}
	return result{code, out.String(), errb.String()}
}

// snapshot describes every entry under dir (without following links), so
// that a test can tell whether anything changed. A database is described
// by its contents (site, users, audit trail) rather than its bytes: opening
// a store commits a (no-op) schema check, which rewrites bbolt's meta page.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			snap[rel] = "link " + target
		case d.IsDir():
			snap[rel] = fmt.Sprintf("dir %v", fi.Mode())
		case d.Name() == store.FileName:
			var sb strings.Builder
			for _, args := range [][]string{{"config", "export"}, {"user", "list", "--json"}, {"audit", "list", "--json"}} {
				r := sitegate(t, "", append(args, "--data", filepath.Dir(path))...)
				sb.WriteString(r.stdout + r.stder)
			}
			sum := sha256.Sum256([]byte(sb.String()))
			snap[rel] = fmt.Sprintf("store %v %s", fi.Mode(), hex.EncodeToString(sum[:]))
		default:
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			snap[rel] = fmt.Sprintf("file %v %s", fi.Mode(), hex.EncodeToString(sum[:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed: %q → %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared", k)
		}
	}
}

// stoppedGateway starts the real daemon on dir once (so that it writes its
// database, SSH host key and setup token) and stops it.
func stoppedGateway(t *testing.T, dir, id string) {
	t.Helper()
	cmd, _ := startDaemon(t, dir, "--gateway-id", id)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v", err)
	}
}

// A populated data directory wiped with the right id is gone, and no inode
// that held its files still contains any known secret. The old inodes stay
// reachable through hard links made before the wipe: that is the remnant a
// raw scan of the disk would otherwise look for.
func TestWipeLeavesNoKnownPlaintext(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	const id = "gw-wipe-test"
	stoppedGateway(t, dir, id)
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	// A SIM PIN, so that the secret store has a key file to destroy.
	demo, err := os.ReadFile(repoFile(t, "testdata/sites/demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	withPIN := strings.Replace(string(demo), "{slot: 1, apn: internet,", `{slot: 1, apn: internet, pin: "48213957",`, 1)
	if r := sitegate(t, withPIN, "config", "import", "--data", dir, "-"); r.code != 0 || !strings.Contains(withPIN, "48213957") {
		t.Fatal(r)
	}
	if r := sitegate(t, "Tr4ns#Volt9\n", "user", "add", "--data", dir, "wipetester", "--role", "support", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}

	// Files a provisioned gateway may hold besides the database: a key, and
	// a firmware slot larger than one overwrite chunk with the secret at
	// its start, across a chunk boundary and at its end.
	secret := "wipe-test-secret-" + rand.Text()
	keyText := "-----BEGIN FAKE PRIVATE KEY-----\n" + secret + "\n-----END FAKE PRIVATE KEY-----\n"
	mustWrite(t, filepath.Join(dir, "certs", "device.key"), []byte(keyText))
	fw := bytes.Repeat([]byte{0x5a}, 3*wipeChunk+123)
	for _, off := range []int{0, wipeChunk - len(secret)/2, len(fw) - len(secret)} {
		copy(fw[off:], secret)
	}
	mustWrite(t, filepath.Join(dir, "firmware", "slot-a", "image.bin"), fw)
	mustWrite(t, filepath.Join(dir, "firmware", "empty"), nil)

	// Links that lead outside: removed, never followed.
	outsideFile := filepath.Join(base, "outside.txt")
	mustWrite(t, outsideFile, []byte("outside must survive "+secret))
	outsideDir := filepath.Join(base, "outside-dir")
	mustWrite(t, filepath.Join(outsideDir, "keep.txt"), []byte("keep "+secret))
	if err := os.Symlink(outsideFile, filepath.Join(dir, "certs", "ca.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outsideDir, filepath.Join(dir, "backup")); err != nil {
		t.Fatal(err)
	}
	outsideBefore := snapshot(t, base)

	// Known plaintexts, each checked to be in the directory now, so that
	// their absence afterwards means something.
	db, err := os.ReadFile(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	// Account records are stored as base64 of their JSON: find the one
	// holding the password hash; both forms must vanish.
	var record, hash []byte
	for _, m := range regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`).FindAllSubmatch(db, -1) {
		dec, err := base64.StdEncoding.DecodeString(string(m[1]))
		if h := regexp.MustCompile(`\$argon2id\$[A-Za-z0-9$=,+/]+`).Find(dec); err == nil && h != nil {
			record, hash = m[1], h
		}
	}
	if hash == nil {
		t.Fatal("no password hash found in the database")
	}
	known := map[string][]byte{
		"gateway id":     []byte(id),
		"site name":      []byte("Plant room, building A"),
		"user name":      []byte("wipetester"),
		"account record": record,
		"key":            []byte(secret),
	}
	// Not stored in this form, but no remnant may hold it either.
	absent := map[string][]byte{"password hash": hash}
	hostKey, err := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	// A line from the middle of the key: the first lines of every OpenSSH
	// ed25519 key are the same header.
	lines := bytes.Split(bytes.TrimSpace(hostKey), []byte("\n"))
	known["ssh host key"] = lines[len(lines)/2]
	if tok, err := os.ReadFile(filepath.Join(dir, "setup-token")); err == nil && len(bytes.TrimSpace(tok)) >= 8 {
		known["setup token"] = bytes.TrimSpace(tok)
	}

	// Hard links to every file keep the inodes after the wipe.
	links := filepath.Join(base, "links")
	if err := os.Mkdir(links, 0o700); err != nil {
		t.Fatal(err)
	}
	type linked struct {
		path string
		data []byte
	}
	var files []linked
	haystack := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		l := filepath.Join(links, fmt.Sprint(len(files)))
		if err := os.Link(path, l); err != nil {
			return err
		}
		files = append(files, linked{l, data})
		for name, p := range known {
			if bytes.Contains(data, p) {
				haystack[name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range known {
		if !haystack[name] {
			t.Fatalf("the %s is not in the data directory before the wipe; the test would prove nothing", name)
		}
	}

	before := snapshot(t, dir)
	for _, wrong := range []string{"gw-wipe-tes", "GW-WIPE-TEST", id + " ", "sg-other"} {
		r := wipeCLI(t, "--data", dir, "--confirm", wrong)
		if r.code != exitFailure || !strings.Contains(r.stder, "is not the id of the gateway") || !strings.Contains(r.stder, "nothing was erased") {
			t.Fatalf("wrong id %q: %+v", wrong, r)
		}
	}
	sameSnapshot(t, before, snapshot(t, dir))

	r := wipeCLI(t, "--data", dir, "--confirm", id)
	if r.code != exitOK {
		t.Fatalf("wipe: %+v", r)
	}
	t.Logf("sitegate wipe printed:\n%s", r.stdout)
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("data directory still there after the wipe: %v", err)
	}
	for _, f := range []string{store.FileName, "ssh_host_ed25519_key", "certs/device.key", "firmware/slot-a/image.bin", "firmware/empty"} {
		size := before[filepath.FromSlash(f)]
		if size == "" {
			t.Fatalf("%s was not in the directory", f)
		}
		if !strings.Contains(r.stdout, "erased "+filepath.Join(dir, f)+" (") {
			t.Errorf("output does not list %s:\n%s", f, r.stdout)
		}
	}
	// The keys are destroyed before anything else.
	out := strings.Split(r.stdout, "\n")
	for i, key := range []string{store.SecretKeyFile, store.AuditKeyFile} {
		if len(out) <= i || !strings.HasPrefix(out[i], "erased "+filepath.Join(dir, key)+" (") {
			t.Errorf("line %d of the output is not the erasure of %s:\n%s", i+1, key, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("erased %s (%d bytes)", filepath.Join(dir, "firmware", "slot-a", "image.bin"), len(fw))) {
		t.Errorf("output lacks the firmware image's size:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^wiped gateway gw-wipe-test: \d+ files \(.+\) overwritten with random bytes and removed, 2 symbolic links removed, \d+ directories removed; .* is gone$`).MatchString(r.stdout) {
		t.Errorf("summary line missing or wrong:\n%s", r.stdout)
	}

	for _, f := range files {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(f.data) {
			t.Errorf("%s: %d bytes after the wipe, %d before: overwrite in place, do not truncate", f.path, len(got), len(f.data))
		}
		if len(got) > 0 && bytes.Equal(got, f.data) {
			t.Errorf("%s was not overwritten", f.path)
		}
		for name, p := range known {
			absent[name] = p
		}
		for name, p := range absent {
			if bytes.Contains(got, p) {
				t.Errorf("the %s survives in a wiped file's inode (%s)", name, f.path)
			}
		}
	}
	// Nothing outside the data directory changed.
	after := snapshot(t, base)
	for k, v := range outsideBefore {
		if k == "data" || strings.HasPrefix(k, "data"+string(filepath.Separator)) {
			continue
		}
		if after[k] != v {
			t.Errorf("outside the data directory, %s changed: %q → %q", k, v, after[k])
		}
	}
}

func TestWipeRefusesRunningGateway(t *testing.T) {
	dir := t.TempDir()
	startDaemon(t, dir, "--gateway-id", "gw-wipe-run")
	r := wipeCLI(t, "--data", dir, "--confirm", "gw-wipe-run")
	if r.code != exitFailure || !strings.Contains(r.stder, "in use by a running gateway") || !strings.Contains(r.stder, "nothing was erased") {
		t.Fatalf("wipe of a running gateway: %+v", r)
	}
	for _, f := range []string{store.FileName, "ssh_host_ed25519_key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s touched while the gateway runs: %v", f, err)
		}
	}
}

func TestWipeUsageAndRefusals(t *testing.T) {
	dir := t.TempDir()
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	before := snapshot(t, dir)

	for _, args := range [][]string{
		{"--data", dir},
		{"--data", dir, "--confirm", ""},
		{"--confirm", "gw-x"},
		{"--data", dir, "--confirm", "gw-x", "extra"},
	} {
		r := wipeCLI(t, args...)
		if r.code != exitUsage || !strings.Contains(r.stder, "Usage: ") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, r.code, r.stder)
		}
	}
	if r := wipeCLI(t, "--data", dir); !strings.Contains(r.stder, "--confirm GATEWAY-ID is required") {
		t.Errorf("missing --confirm: %q", r.stder)
	}

	// Not a gateway's data directory: refused before a store is created.
	plain := t.TempDir()
	mustWrite(t, filepath.Join(plain, "precious.txt"), []byte("do not erase"))
	plainBefore := snapshot(t, plain)
	if r := wipeCLI(t, "--data", plain, "--confirm", "gw-x"); r.code != exitFailure || !strings.Contains(r.stder, "holds no sitegate database") {
		t.Errorf("plain directory: %+v", r)
	}
	sameSnapshot(t, plainBefore, snapshot(t, plain))

	missing := filepath.Join(t.TempDir(), "nope")
	if r := wipeCLI(t, "--data", missing, "--confirm", "gw-x"); r.code != exitFailure || !strings.Contains(r.stder, "does not exist") {
		t.Errorf("missing directory: %+v", r)
	}

	// A link to a data directory is not followed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if r := wipeCLI(t, "--data", link, "--confirm", "gw-x"); r.code != exitFailure || !strings.Contains(r.stder, "symbolic link") {
		t.Errorf("linked data directory: %+v", r)
	}
	sameSnapshot(t, before, snapshot(t, dir))

	help := wipeCLI(t, "--help")
	if help.code != 0 || !strings.Contains(help.stdout, "cannot be run over SSH") {
		t.Errorf("help: %+v", help)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
