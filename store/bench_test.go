package store_test

import (
	"fmt"
	"testing"

	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// reading is the size of a typical telemetry record payload.
var reading = []byte(`{"device":"main-meter","point":"active_power","value":12.345,"quality":"good","ts":"2026-11-27T10:00:00Z"}`)

// BenchmarkEnqueue measures durable outbox ingest: each transaction commits
// (with fsync) a batch of records, as the poller does per device and cycle.
func BenchmarkEnqueue(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := storetest.New(b)
			payloads := make([][]byte, batch)
			for i := range payloads {
				payloads[i] = reading
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Enqueue("telemetry", payloads...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkConfigPut measures storing a 4 KiB site document revision.
func BenchmarkConfigPut(b *testing.B) {
	s := storetest.New(b)
	body := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.PutConfig("site", "u1", body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditAppend measures one audit event per durable transaction.
func BenchmarkAuditAppend(b *testing.B) {
	s := storetest.New(b, store.Options{AuditCapacity: 1 << 30})
	e := store.AuditEvent{Actor: "u-3f2a", Role: "installer", Action: "config.change", Target: "site", Result: "ok"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.AppendAudit(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAudit100k measures verifying a 100,000-event chain: hash
// chain and MACs, without checkpoints (/plain) and with one signed
// checkpoint every CheckpointEvery events, 100 in all (/checkpoints).
func BenchmarkVerifyAudit100k(b *testing.B) {
	for _, withCheckpoints := range []bool{false, true} {
		name := "plain"
		if withCheckpoints {
			name = "checkpoints"
		}
		b.Run(name, func(b *testing.B) {
			s := storetest.New(b, store.Options{AuditCapacity: 1 << 30})
			const n = 100_000
			for done := 0; done < n; done += store.CheckpointEvery {
				err := s.Update(func(tx *store.Tx) error {
					for i := 0; i < store.CheckpointEvery; i++ {
						if _, err := tx.AppendAudit(store.AuditEvent{Actor: "u-3f2a", Role: "installer", Action: "login.success", Target: fmt.Sprintf("session-%d", done+i), Result: "ok"}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if withCheckpoints {
					if _, _, err := s.Checkpoint(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := s.VerifyAudit()
				if err != nil || res.Checked != n || res.Keyed != n || withCheckpoints && res.Checkpoints != n/store.CheckpointEvery {
					b.Fatalf("verify: %+v %v", res, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCheckpoint measures signing one checkpoint after
// CheckpointEvery events: the verification of those events, the
// signature and the durable commit.
func BenchmarkCheckpoint(b *testing.B) {
	s := storetest.New(b, store.Options{AuditCapacity: 1 << 30})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		err := s.Update(func(tx *store.Tx) error {
			for j := 0; j < store.CheckpointEvery; j++ {
				if _, err := tx.AppendAudit(store.AuditEvent{Actor: "u-3f2a", Role: "installer", Action: "login.success", Target: "s", Result: "ok"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, made, err := s.Checkpoint(); err != nil || !made {
			b.Fatal(made, err)
		}
	}
}

// BenchmarkOpenLargeStore measures Open, including its integrity check, on
// a store holding a full default-sized outbox's worth of records (1M).
func BenchmarkOpenLargeStore(b *testing.B) {
	dir := b.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([][]byte, 10_000)
	for i := range batch {
		batch[i] = reading
	}
	for i := 0; i < 100; i++ {
		if _, err := s.Enqueue("telemetry", batch...); err != nil {
			b.Fatal(err)
		}
	}
	size := s.Size()
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := store.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}
