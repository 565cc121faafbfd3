package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendN(t *testing.T, s *Store, n int) {
	t.Helper()
	err := s.Update(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			if _, err := tx.AppendAudit(AuditEvent{Actor: "u1", Role: "admin", Action: "login.success", Target: fmt.Sprintf("session-%d", i), Result: "ok"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditAppendAssignsSeqAndChainsHashes(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 123, time.FixedZone("CET", 3600))
	s := openTest(t, Options{Now: func() time.Time { return now }})
	a, err := s.AppendAudit(AuditEvent{Actor: "u1", Role: "admin", Action: "user.create", Target: "u2", Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AppendAudit(AuditEvent{Actor: "u1", Role: "admin", Action: "user.delete", Target: "u2", Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 1 || b.Seq != 2 {
		t.Fatalf("seqs %d, %d", a.Seq, b.Seq)
	}
	if !a.TS.Equal(now) || a.TS.Location() != time.UTC {
		t.Errorf("ts = %v, want %v in UTC", a.TS, now)
	}
	genesis := make([]byte, 32)
	wantA := ChainHash(genesis, a)
	if fmt.Sprintf("%x", wantA) != a.Hash {
		t.Errorf("first hash %s, want SHA-256(zero ‖ canonical) %x", a.Hash, wantA)
	}
	if fmt.Sprintf("%x", ChainHash(wantA, b)) != b.Hash {
		t.Errorf("second hash does not chain on the first")
	}
	if !strings.Contains(string(a.Canonical()), `"action":"user.create"`) || strings.Contains(string(a.Canonical()), "hash") {
		t.Errorf("canonical form %s", a.Canonical())
	}
	res, err := s.VerifyAudit()
	if err != nil || res.Checked != 2 || res.LastSeq != 2 {
		t.Fatalf("verify: %+v %v", res, err)
	}
	list, err := s.ListAudit(AuditFilter{})
	if err != nil || len(list) != 2 || list[1].Hash != b.Hash {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, err := s.AppendAudit(AuditEvent{Actor: "u1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("event without action: %v", err)
	}
	if _, err := s.AppendAudit(AuditEvent{Action: "x", Detail: strings.Repeat("d", MaxAuditField+1)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized field: %v", err)
	}
}

func TestAuditListFilters(t *testing.T) {
	s := openTest(t, Options{})
	appendN(t, s, 10)
	got, _ := s.ListAudit(AuditFilter{AfterSeq: 7})
	if len(got) != 3 || got[0].Seq != 8 {
		t.Errorf("after 7: %d events from %d", len(got), got[0].Seq)
	}
	got, _ = s.ListAudit(AuditFilter{Limit: 3, Newest: true})
	if len(got) != 3 || got[0].Seq != 8 || got[2].Seq != 10 {
		t.Errorf("newest 3: %+v", got)
	}
	got, _ = s.ListAudit(AuditFilter{Limit: 2})
	if len(got) != 2 || got[0].Seq != 1 {
		t.Errorf("first 2: %+v", got)
	}
}

// rawAudit edits the stored bytes the way an attacker with the file would.
func rawAudit(t *testing.T, s *Store, fn func(b *bolt.Bucket)) {
	t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error { fn(tx.Bucket(bucketAudit)); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyNamesFirstTamperedEvent(t *testing.T) {
	cases := map[string]struct {
		tamper  func(b *bolt.Bucket)
		wantSeq string
	}{
		"content edited": {func(b *bolt.Bucket) {
			var e AuditEvent
			_ = json.Unmarshal(b.Get(u64(5)), &e)
			e.Actor = "u-attacker"
			v, _ := json.Marshal(e)
			_ = b.Put(u64(5), v)
		}, "seq 5"},
		"content and own hash edited": {func(b *bolt.Bucket) {
			var e AuditEvent
			_ = json.Unmarshal(b.Get(u64(4)), &e)
			e.Result = "ok-ish"
			e.Hash = fmt.Sprintf("%x", ChainHash(make([]byte, 32), e))
			v, _ := json.Marshal(e)
			_ = b.Put(u64(4), v)
		}, "seq 4"},
		"event removed":      {func(b *bolt.Bucket) { _ = b.Delete(u64(6)) }, "seq 7"},
		"last event removed": {func(b *bolt.Bucket) { _ = b.Delete(u64(10)) }, "seq 10"},
		"garbage value":      {func(b *bolt.Bucket) { _ = b.Put(u64(3), []byte("{")) }, "seq 3"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := openTest(t, Options{})
			appendN(t, s, 10)
			rawAudit(t, s, c.tamper)
			_, err := s.VerifyAudit()
			if !errors.Is(err, ErrAuditChain) {
				t.Fatalf("verify after tampering: %v", err)
			}
			if !strings.Contains(err.Error(), c.wantSeq+":") {
				t.Errorf("error %q does not name %s", err, c.wantSeq)
			}
		})
	}
}

func TestAuditCapacityEvictsOldestAndStillVerifies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir, Options{AuditCapacity: 10})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 7)
	st := s.AuditStats()
	if st.Count != 7 || st.HighWater != 8 || st.NearlyFull() {
		t.Fatalf("after 7 of 10: %+v", st)
	}
	appendN(t, s, 1)
	if !s.AuditStats().NearlyFull() {
		t.Fatalf("8 of 10 should be at the high-water mark: %+v", s.AuditStats())
	}
	appendN(t, s, 17)
	st = s.AuditStats()
	if st.Count != 10 || st.Evicted != 15 || st.LastSeq != 25 {
		t.Fatalf("after 25 of 10: %+v", st)
	}
	s.Close()
	s, err = Open(dir, Options{AuditCapacity: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.VerifyAudit()
	if err != nil || res.FirstSeq != 16 || res.Checked != 10 {
		t.Fatalf("verify after eviction: %+v %v", res, err)
	}
	// Tampering with the first retained event is still caught: the anchor
	// holds the evicted predecessor's hash.
	rawAudit(t, s, func(b *bolt.Bucket) {
		var e AuditEvent
		_ = json.Unmarshal(b.Get(u64(16)), &e)
		e.Target = "edited"
		v, _ := json.Marshal(e)
		_ = b.Put(u64(16), v)
	})
	if _, err := s.VerifyAudit(); err == nil || !strings.Contains(err.Error(), "seq 16:") {
		t.Fatalf("tampered first retained event: %v", err)
	}
}

func TestSchemaTooNewIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.db.Update(func(tx *bolt.Tx) error {
		return putUint(tx.Bucket(bucketInternal), keySchema, uint64(SchemaVersion()+1))
	})
	s.Close()
	_, err = Open(dir)
	if !errors.Is(err, ErrTooNew) || !strings.Contains(err.Error(), "run a newer sitegate") {
		t.Fatalf("open newer schema: %v", err)
	}
}

func TestOnAuditFiresAfterCommitOnly(t *testing.T) {
	s := openTest(t, Options{})
	var got []string
	s.OnAudit(func(e AuditEvent) { got = append(got, fmt.Sprintf("%d %s", e.Seq, e.Action)) })
	_ = s.Update(func(tx *Tx) error {
		_, _ = tx.AppendAudit(AuditEvent{Action: "rolled.back"})
		return errors.New("abort")
	})
	if _, err := s.AppendAudit(AuditEvent{Action: "kept"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "1 kept" {
		t.Fatalf("hook saw %v", got)
	}
}
