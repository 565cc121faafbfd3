package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rewriteFrom edits event seq with edit and recomputes the chain from it
// to the head with the project's own hashing, as an attacker holding the
// database file (but not the audit key) can: every hash and the recorded
// head verify afterwards. The events' stored MACs are kept as they were.
func rewriteFrom(t *testing.T, s *Store, seq uint64, edit func(e *AuditEvent)) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, in := tx.Bucket(bucketAudit), tx.Bucket(bucketInternal)
		prev := make([]byte, 32)
		if k, v := b.Cursor().Seek(u64(seq - 1)); k != nil && seq > 1 {
			var e storedEvent
			_ = json.Unmarshal(v, &e)
			prev = mustHex(e.Hash)
		}
		c := b.Cursor()
		var updates [][2][]byte
		for k, v := c.Seek(u64(seq)); k != nil; k, v = c.Next() {
			var e storedEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Seq == seq {
				edit(&e.AuditEvent)
			}
			sum := ChainHash(prev, e.AuditEvent)
			e.Hash = hex.EncodeToString(sum)
			nv, _ := json.Marshal(e)
			updates = append(updates, [2][]byte{clone(k), nv})
			prev = sum
		}
		for _, u := range updates {
			if err := b.Put(u[0], u[1]); err != nil {
				return err
			}
		}
		return in.Put(keyAuditHash, prev)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dropOldest removes events 1..n and, when hide is set, makes every record
// agree: the anchor, the count and the eviction counter, as if they had
// been evicted.
func dropOldest(t *testing.T, s *Store, n uint64, hide bool) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, in := tx.Bucket(bucketAudit), tx.Bucket(bucketInternal)
		var e storedEvent
		_ = json.Unmarshal(b.Get(u64(n)), &e)
		for seq := uint64(1); seq <= n; seq++ {
			if err := b.Delete(u64(seq)); err != nil {
				return err
			}
		}
		if err := in.Put(keyAuditAnchor, append(u64(n), mustHex(e.Hash)...)); err != nil {
			return err
		}
		if !hide {
			return nil
		}
		_ = putUint(in, keyAuditCount, getUint(in, keyAuditCount)-n)
		return putUint(in, keyAuditEvicted, n)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustCheckpoint(t *testing.T, s *Store) Checkpoint {
	t.Helper()
	cp, made, err := s.Checkpoint()
	if err != nil || !made {
		t.Fatalf("checkpoint: made %v, %v", made, err)
	}
	return cp
}

func wantChainError(t *testing.T, err error, seq string) {
	t.Helper()
	if !errors.Is(err, ErrAuditChain) || !strings.Contains(err.Error(), "at seq "+seq+":") {
		t.Fatalf("verify: %v; want an audit chain error at seq %s", err, seq)
	}
}

func TestCheckpointSignsHeadAndVerifyReportsTheRest(t *testing.T) {
	s := openTest(t, Options{})
	if _, made, err := s.Checkpoint(); made || err != nil {
		t.Fatalf("checkpoint of an empty chain: made %v, %v", made, err)
	}
	appendN(t, s, 10)
	cp := mustCheckpoint(t, s)
	if cp.Seq != 10 || cp.First != 1 || cp.Evicted != 0 || cp.KeyedFrom != 1 || cp.Alg != "ed25519" || cp.Key != s.AuditKeyID() {
		t.Fatalf("checkpoint %+v", cp)
	}
	if err := cp.Verify(s.AuditPublicKey()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if _, made, _ := s.Checkpoint(); made {
		t.Error("a second checkpoint of the same head was made")
	}
	res, err := s.VerifyAudit()
	if err != nil || res.Checkpoints != 1 || res.Keyed != 10 || len(res.Unproven) != 0 {
		t.Fatalf("verify at the checkpoint: %+v %v", res, err)
	}
	appendN(t, s, 5)
	res, err = s.VerifyAudit()
	if err != nil || len(res.Unproven) != 1 || !strings.Contains(res.Unproven[0], "events 11..15 are after the last checkpoint (seq 10") ||
		!strings.Contains(res.Unproven[0], "valid MAC") {
		t.Fatalf("verify after the checkpoint: %+v %v", res, err)
	}
}

func TestVerifyCatchesRewrittenHistory(t *testing.T) {
	s := openTest(t, Options{})
	appendN(t, s, 20)
	mustCheckpoint(t, s)
	appendN(t, s, 5)
	rewriteFrom(t, s, 7, func(e *AuditEvent) { e.Actor = "u-attacker" })
	_, err := s.VerifyAudit()
	wantChainError(t, err, "7")
	if !strings.Contains(err.Error(), "MAC does not match") {
		t.Errorf("error %q does not say why", err)
	}
	// The gateway refuses to sign the altered chain.
	if _, _, err := s.Checkpoint(); !errors.Is(err, ErrAuditChain) {
		t.Fatalf("checkpoint of an altered chain: %v", err)
	}
}

func TestVerifyCatchesRewriteThatStripsMACs(t *testing.T) {
	s := openTest(t, Options{})
	appendN(t, s, 20)
	mustCheckpoint(t, s)
	// The attacker drops the MACs and claims the events were never keyed.
	rewriteFrom(t, s, 12, func(e *AuditEvent) { e.Result = "denied" })
	_ = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		c := b.Cursor()
		var kv [][2][]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var e storedEvent
			_ = json.Unmarshal(v, &e)
			e.MAC = ""
			nv, _ := json.Marshal(e)
			kv = append(kv, [2][]byte{clone(k), nv})
		}
		for _, x := range kv {
			_ = b.Put(x[0], x[1])
		}
		return putUint(tx.Bucket(bucketInternal), keyAuditKeyedFrom, 21)
	})
	_, err := s.VerifyAudit()
	wantChainError(t, err, "1")
	if !strings.Contains(err.Error(), "keying record was altered") {
		t.Errorf("error %q", err)
	}
}

func TestVerifyWithoutTheKeyStillCatchesRewriteAtCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 10)
	mustCheckpoint(t, s)
	pub := s.AuditPublicKey()
	rewriteFrom(t, s, 4, func(e *AuditEvent) { e.Target = "x" })
	s.Close()
	// A copy without the key file: signatures checked with the public key
	// the cloud holds, MACs not at all.
	if err := os.Remove(filepath.Join(dir, AuditKeyFile)); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, Options{NoNewKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := os.Stat(filepath.Join(dir, AuditKeyFile)); err == nil {
		t.Fatal("NoNewKeys created an audit key")
	}
	_, err = c.VerifyAuditWith(VerifyOptions{PublicKeys: [][]byte{pub}})
	wantChainError(t, err, "1")
	if !strings.Contains(err.Error(), "events 1..10 do not match the checkpoint") {
		t.Errorf("error %q", err)
	}
}

func TestVerifyCatchesDroppedOldestEvents(t *testing.T) {
	t.Run("anchor moved", func(t *testing.T) {
		s := openTest(t, Options{})
		appendN(t, s, 10)
		dropOldest(t, s, 3, false)
		_, err := s.VerifyAudit()
		wantChainError(t, err, "1")
		if !strings.Contains(err.Error(), "0 events are counted as evicted") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("every counter made to agree", func(t *testing.T) {
		s := openTest(t, Options{})
		appendN(t, s, 10)
		mustCheckpoint(t, s)
		appendN(t, s, 2)
		dropOldest(t, s, 3, true)
		_, err := s.VerifyAudit()
		wantChainError(t, err, "1")
		if !strings.Contains(err.Error(), "events 1..3 were removed from the start") || !strings.Contains(err.Error(), "at most 0 could have been evicted") {
			t.Errorf("error %q", err)
		}
	})
}

func TestVerifyCatchesEventsRemovedFromTheEnd(t *testing.T) {
	s := openTest(t, Options{})
	appendN(t, s, 10)
	mustCheckpoint(t, s)
	_ = s.db.Update(func(tx *bolt.Tx) error {
		b, in := tx.Bucket(bucketAudit), tx.Bucket(bucketInternal)
		var e storedEvent
		_ = json.Unmarshal(b.Get(u64(8)), &e)
		_ = b.Delete(u64(9))
		_ = b.Delete(u64(10))
		_ = putUint(in, keyAuditSeq, 8)
		_ = putUint(in, keyAuditCount, 8)
		return in.Put(keyAuditHash, mustHex(e.Hash))
	})
	_, err := s.VerifyAudit()
	wantChainError(t, err, "9")
}

func TestVerifyCatchesForgedCheckpoint(t *testing.T) {
	s := openTest(t, Options{})
	appendN(t, s, 10)
	mustCheckpoint(t, s)
	_ = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints)
		cp, _ := DecodeCheckpoint(b.Get(u64(10)))
		cp.Evicted, cp.First = 2, 3
		v, _ := json.Marshal(cp)
		return b.Put(u64(10), v)
	})
	_, err := s.VerifyAudit()
	wantChainError(t, err, "10")
	if !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("error %q", err)
	}
}

func TestCheckpointsThroughEvictionVerify(t *testing.T) {
	s := openTest(t, Options{AuditCapacity: 10})
	for range 5 {
		appendN(t, s, 7)
		mustCheckpoint(t, s)
	}
	res, err := s.VerifyAudit()
	if err != nil || res.FirstSeq != 26 || res.Evicted != 25 {
		t.Fatalf("verify: %+v %v", res, err)
	}
	var cps []Checkpoint
	_ = s.View(func(tx *Tx) (err error) { cps, err = tx.Checkpoints(0, 0); return })
	// Checkpoints of evicted events go, except the newest.
	if len(cps) != 2 || cps[0].Seq != 28 || cps[1].Seq != 35 {
		t.Fatalf("kept checkpoints %+v", cps)
	}
	if !strings.Contains(strings.Join(res.Unproven, "\n"), "events 1..25 were evicted") {
		t.Errorf("unproven: %q", res.Unproven)
	}
}

func TestLostAuditKeyIsRecordedAndKeyingRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 4)
	old := s.AuditKeyID()
	s.Close()
	if err := os.Remove(filepath.Join(dir, AuditKeyFile)); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.AuditKeyID() == old {
		t.Fatal("the key did not change")
	}
	events, _ := s.ListAudit(AuditFilter{})
	if last := events[len(events)-1]; last.Action != "audit.key" || last.Seq != 5 || !strings.Contains(last.Detail, old) {
		t.Fatalf("last event %+v", last)
	}
	appendN(t, s, 2)
	res, err := s.VerifyAudit()
	if err != nil || res.KeyedFrom != 5 || res.Keyed != 3 {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if !strings.Contains(strings.Join(res.Unproven, "\n"), "events 1..4 carry no MAC") {
		t.Errorf("unproven: %q", res.Unproven)
	}
}

func TestAuditKeyFileIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(filepath.Join(dir, AuditKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	pub, err := ParsePublicKey(EncodePublicKey(s.AuditPublicKey()))
	if err != nil || KeyID(pub) != s.AuditKeyID() {
		t.Fatalf("public key round trip: %v", err)
	}
}

func TestRunCheckpointsSignsEveryNEventsAndAtStop(t *testing.T) {
	s := openTest(t, Options{CheckpointEvery: 5})
	appendN(t, s, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunCheckpoints(ctx, func(err error) { t.Error(err) }) }()
	last := func() uint64 {
		var cps []Checkpoint
		_ = s.View(func(tx *Tx) (err error) { cps, err = tx.Checkpoints(0, 0); return })
		if len(cps) == 0 {
			return 0
		}
		return cps[len(cps)-1].Seq
	}
	waitFor(t, func() bool { return last() == 2 }, "the checkpoint at start")
	appendN(t, s, 5)
	waitFor(t, func() bool { return last() == 7 }, "the checkpoint after 5 events")
	appendN(t, s, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if last() != 8 {
		t.Fatalf("no checkpoint at stop: last %d", last())
	}
}

// waitFor polls cond with a deadline (no sleeps as synchronisation: the
// poll ends as soon as the condition holds).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCheckpointSignedBytesAreStable(t *testing.T) {
	cp := Checkpoint{Seq: 42, Hash: strings.Repeat("ab", 32), First: 1, Capacity: 200000, KeyedFrom: 1,
		TS: time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC), Alg: "ed25519", Key: "0123456789abcdef"}
	want := "sitegate audit checkpoint v1\n" +
		`{"seq":42,"hash":"` + strings.Repeat("ab", 32) + `","first":1,"evicted":0,"capacity":200000,"keyed_from":1,"ts":"2026-12-01T10:00:00.000000005Z","alg":"ed25519","key":"0123456789abcdef"}`
	if got := string(cp.Signed()); got != want {
		t.Fatalf("signed bytes\n got %s\nwant %s", got, want)
	}
}

func TestDecodeCheckpointRefusesMalformed(t *testing.T) {
	good := Checkpoint{Seq: 3, Hash: strings.Repeat("0", 64), First: 1, Capacity: 10, KeyedFrom: 1, Alg: "ed25519", Key: "0123456789abcdef", Sig: "AA=="}
	raw, _ := json.Marshal(good)
	if _, err := DecodeCheckpoint(raw); err != nil {
		t.Fatalf("good: %v", err)
	}
	for name, edit := range map[string]func(c *Checkpoint){
		"seq 0":        func(c *Checkpoint) { c.Seq = 0 },
		"short hash":   func(c *Checkpoint) { c.Hash = "00" },
		"upper hex":    func(c *Checkpoint) { c.Hash = strings.Repeat("A", 64) },
		"bad key id":   func(c *Checkpoint) { c.Key = "zz" },
		"unsigned":     func(c *Checkpoint) { c.Sig = "" },
		"first wrong":  func(c *Checkpoint) { c.First = 2 },
		"all evicted":  func(c *Checkpoint) { c.Evicted, c.First = 3, 4 },
		"keyed future": func(c *Checkpoint) { c.KeyedFrom = 9 },
	} {
		c := good
		edit(&c)
		raw, _ := json.Marshal(c)
		if _, err := DecodeCheckpoint(raw); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := DecodeCheckpoint([]byte(`{"seq":1,"extra":1}`)); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("unknown field: %v", err)
	}
}
