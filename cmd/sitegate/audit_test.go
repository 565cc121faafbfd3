package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sitegate/sitegate/store"
)

// auditedDir makes a stopped gateway's data directory with some history:
// a site import and accounts, a signed checkpoint, then more events after
// it. It returns the directory.
func auditedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		if r := sitegate(t, "Tr4ns#Volt9\n", "user", "add", "--data", dir, name, "--role", "support", "--password-stdin"); r.code != 0 {
			t.Fatal(r)
		}
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if r := sitegate(t, "Tr4ns#Volt9\n", "user", "add", "--data", dir, "dave", "--role", "viewer", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	return dir
}

// copyDir copies a data directory's regular files: the evidence an
// investigator works on.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// storedAudit is an event as the store keeps it, MAC included.
type storedAudit struct {
	store.AuditEvent
	MAC string `json:"mac,omitempty"`
}

// tamper edits a database file with bbolt directly, as someone holding
// the file can; the buckets and keys are the store's.
func tamper(t *testing.T, dir string, fn func(audit, internal *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("audit")), tx.Bucket([]byte("store"))) }); err != nil {
		t.Fatal(err)
	}
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// rewriteEvent changes one event and recomputes the chain from it to the
// head with the project's own hashing (store.ChainHash), so that every
// hash and the recorded head agree again.
func rewriteEvent(t *testing.T, dir string, seq uint64, edit func(e *store.AuditEvent)) {
	t.Helper()
	tamper(t, dir, func(audit, in *bolt.Bucket) error {
		prev := make([]byte, 32)
		if seq > 1 {
			var e storedAudit
			_ = json.Unmarshal(audit.Get(seqKey(seq-1)), &e)
			prev, _ = hex.DecodeString(e.Hash)
		}
		var out [][2][]byte
		c := audit.Cursor()
		for k, v := c.Seek(seqKey(seq)); k != nil; k, v = c.Next() {
			var e storedAudit
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Seq == seq {
				edit(&e.AuditEvent)
			}
			sum := store.ChainHash(prev, e.AuditEvent)
			e.Hash = hex.EncodeToString(sum)
			nv, _ := json.Marshal(e)
			out = append(out, [2][]byte{append([]byte(nil), k...), nv})
			prev = sum
		}
		for _, kv := range out {
			if err := audit.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return in.Put([]byte("audit_hash"), prev)
	})
}

func TestAuditVerifyCatchesRewrittenHistoryInACopy(t *testing.T) {
	dir := auditedDir(t)
	if r := sitegate(t, "", "audit", "verify", "--data", dir); r.code != 0 {
		t.Fatalf("verify of the untouched directory: %+v", r)
	}
	for _, seq := range []uint64{2, 5} {
		c := copyDir(t, dir)
		rewriteEvent(t, c, seq, func(e *store.AuditEvent) { e.Actor = "u-someone-else" })
		r := sitegate(t, "", "audit", "verify", "--data", c)
		if r.code != exitFailure || !strings.Contains(r.stder, fmt.Sprintf("at seq %d:", seq)) {
			t.Fatalf("rewrite of seq %d: %+v", seq, r)
		}
	}
	// The investigator's copy without the key file: the cloud's public key
	// still catches a rewrite of what a checkpoint covers.
	pub := filepath.Join(t.TempDir(), "audit.pub")
	if r := sitegate(t, "", "audit", "key", "--data", dir); r.code != 0 || os.WriteFile(pub, []byte(r.stdout), 0o600) != nil {
		t.Fatalf("audit key: %+v", r)
	}
	c := copyDir(t, dir)
	if err := os.Remove(filepath.Join(c, store.AuditKeyFile)); err != nil {
		t.Fatal(err)
	}
	rewriteEvent(t, c, 3, func(e *store.AuditEvent) { e.Result = "denied" })
	r := sitegate(t, "", "audit", "verify", "--data", c, "--public-key", pub)
	if r.code != exitFailure || !strings.Contains(r.stder, "at seq 1:") || !strings.Contains(r.stder, "do not match the checkpoint") {
		t.Fatalf("rewrite checked with the public key only: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(c, store.AuditKeyFile)); err == nil {
		t.Fatal("audit verify created a key in the copy")
	}
}

func TestAuditVerifyCatchesDroppedOldestEvents(t *testing.T) {
	dir := auditedDir(t)
	c := copyDir(t, dir)
	// Drop events 1..3 and move the anchor onto event 3, as the store
	// would have after evicting them: this passed verify before.
	tamper(t, c, func(audit, in *bolt.Bucket) error {
		var e storedAudit
		_ = json.Unmarshal(audit.Get(seqKey(3)), &e)
		h, _ := hex.DecodeString(e.Hash)
		for seq := uint64(1); seq <= 3; seq++ {
			_ = audit.Delete(seqKey(seq))
		}
		return in.Put([]byte("audit_anchor"), append(seqKey(3), h...))
	})
	r := sitegate(t, "", "audit", "verify", "--data", c)
	if r.code != exitFailure || !strings.Contains(r.stder, "at seq 1: ") || !strings.Contains(r.stder, "the oldest events were removed") {
		t.Fatalf("dropped oldest events: %+v", r)
	}
}

func TestAuditVerifySaysWhatItCouldNotProve(t *testing.T) {
	dir := auditedDir(t)
	r := sitegate(t, "", "audit", "verify", "--data", dir)
	if r.code != 0 || !regexp.MustCompile(`signed checkpoints verified: 1, the last at seq (\d+)`).MatchString(r.stdout) ||
		!regexp.MustCompile(`not proven:\n  - events? \d+(\.\.\d+)? (is|are) after the last checkpoint \(seq \d+, signed at [^)]+\): each carries a valid MAC`).MatchString(r.stdout) {
		t.Fatalf("verify: %+v", r)
	}
}

func TestAuditKeyPrintsThePublicKey(t *testing.T) {
	dir := auditedDir(t)
	r := sitegate(t, "", "audit", "key", "--data", dir)
	pub, err := store.ParsePublicKey([]byte(r.stdout[strings.Index(r.stdout, "-----"):]))
	if r.code != 0 || err != nil {
		t.Fatalf("audit key: %+v %v", r, err)
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := st.AuditKeyID()
	st.Close()
	if store.KeyID(pub) != id || !strings.Contains(r.stdout, id) {
		t.Fatalf("printed key %s, store key %s", store.KeyID(pub), id)
	}
	r = sitegate(t, "", "audit", "key", "--data", dir, "--json")
	var j map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || j["key_id"] != id || j["alg"] != "ed25519" {
		t.Fatalf("--json: %+v %v", r, err)
	}
}

// The daemon sets its memory limit and signs a checkpoint when it stops,
// so nothing it audited is left after the last checkpoint.
func TestRunSetsMemoryLimitAndCheckpointsAtStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cmd, line := startDaemonLine(t, dir, "--memory-limit", "300MiB")
	if !strings.Contains(line, "memory_limit=300MiB memory_limit_from=--memory-limit") {
		t.Fatalf("start line: %s", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v", err)
	}
	r := sitegate(t, "", "audit", "verify", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "signed checkpoints verified") || strings.Contains(r.stdout, "after the last checkpoint") {
		t.Fatalf("verify after a clean stop: %+v", r)
	}
}

func TestMemoryLimitFlag(t *testing.T) {
	for in, want := range map[string]int64{"224MiB": 224 << 20, "1GiB": 1 << 30, "67108864": 64 << 20, "65536KiB": 64 << 20} {
		if got, err := parseMemoryLimit(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if v, err := parseMemoryLimit("off"); err != nil || formatSize(v) != "off" {
		t.Errorf("off: %d %v", v, err)
	}
	for _, bad := range []string{"", "12", "1MiB", "-5MiB", "lots", "1.5GiB", "9999999999TiB"} {
		if _, err := parseMemoryLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if r := sitegate(t, "", "run", "--data", t.TempDir(), "--memory-limit", "1MiB"); r.code != exitUsage || !strings.Contains(r.stder, "below 32MiB") {
		t.Errorf("tiny limit: %+v", r)
	}
	if got, from := applyMemoryLimit(memoryLimit{}); got != DefaultMemoryLimit || from != "default" {
		t.Errorf("default: %d %s", got, from)
	}
	t.Setenv("GOMEMLIMIT", "512MiB")
	if _, from := applyMemoryLimit(memoryLimit{}); from != "GOMEMLIMIT" {
		t.Errorf("with GOMEMLIMIT: %s", from)
	}
	if got, from := applyMemoryLimit(memoryLimit{bytes: 100 << 20, set: true}); got != 100<<20 || from != "--memory-limit" {
		t.Errorf("flag over GOMEMLIMIT: %d %s", got, from)
	}
}
