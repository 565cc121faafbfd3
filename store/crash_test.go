package store_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sitegate/sitegate/store"
)

const crashChildEnv = "SITEGATE_STORE_CRASH_CHILD"

// crashChild writes in a loop until it is killed. After each commit returns
// it prints what is now durable: "commit SEQ_FIRST SEQ_LAST AUDIT REV" for a
// change, "acked UPTO" after removing records up to UPTO ("acking UPTO"
// before: killed in between, the removal may or may not have committed).
func crashChild(dir string) {
	s, err := store.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		var first, last, audit, rev uint64
		err := s.Update(func(tx *store.Tx) error {
			r, err := tx.PutConfig("site", "crash", []byte(strconv.Itoa(i)))
			if err != nil {
				return err
			}
			e, err := tx.AppendAudit(store.AuditEvent{Actor: "crash", Role: "test", Action: "config.change", Target: "site", Result: "ok"})
			if err != nil {
				return err
			}
			payloads := make([][]byte, 1+i%20)
			for j := range payloads {
				payloads[j] = []byte(fmt.Sprintf("reading %d/%d", i, j))
			}
			if first, err = tx.Enqueue("telemetry", payloads...); err != nil {
				return err
			}
			// A group commit of readings, stored in parts.
			last, err = tx.EnqueueBlock("telemetry", 100, crashBlock(first+uint64(len(payloads)), 4000+i%9*1000))
			audit, rev = e.Seq, r.Rev
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child update:", err)
			os.Exit(4)
		}
		fmt.Fprintf(out, "commit %d %d %d %d\n", first, last, audit, rev)
		out.Flush()
		if i%7 == 6 {
			// Drain like the uplink would: acknowledge the oldest few.
			recs, err := s.Peek(0, 25, 0)
			if err != nil || len(recs) == 0 {
				continue
			}
			seqs := make([]uint64, len(recs))
			for j, r := range recs {
				seqs[j] = r.Seq
			}
			fmt.Fprintf(out, "acking %d\n", seqs[len(seqs)-1])
			out.Flush()
			if _, err := s.Ack(seqs...); err != nil {
				fmt.Fprintln(os.Stderr, "child ack:", err)
				os.Exit(5)
			}
			fmt.Fprintf(out, "acked %d\n", seqs[len(seqs)-1])
			out.Flush()
		}
	}
}

// crashBlock is the payload of the block record seq: n bytes that say
// which record they belong to, so that a part from another record shows.
func crashBlock(seq uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq + uint64(i)/1000)
	}
	return b
}

// TestCrashRecovery kills a writing child process with SIGKILL twenty times.
// After each kill the store must open, its chain verify, its sequence
// numbers only grow, every committed record be present unless acknowledged,
// and every acknowledged record be gone.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	dir := t.TempDir()
	var (
		committed = map[uint64]bool{} // outbox seqs whose commit returned
		ackedUpTo uint64
		acking    uint64 // an acknowledgement under way when the child died
		maxSeq    uint64
		maxAudit  uint64
		maxRev    uint64
	)
	for round := 0; round < 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 5 + rand.IntN(60)
		sc := bufio.NewScanner(stdout)
		lines := 0
		killed := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch f[0] {
			case "commit":
				first, _ := strconv.ParseUint(f[1], 10, 64)
				last, _ := strconv.ParseUint(f[2], 10, 64)
				audit, _ := strconv.ParseUint(f[3], 10, 64)
				rev, _ := strconv.ParseUint(f[4], 10, 64)
				if first <= maxSeq || audit <= maxAudit || rev <= maxRev {
					t.Fatalf("round %d: sequence went back: outbox %d after %d, audit %d after %d, rev %d after %d", round, first, maxSeq, audit, maxAudit, rev, maxRev)
				}
				for s := first; s <= last; s++ {
					committed[s] = true
				}
				maxSeq, maxAudit, maxRev = last, audit, rev
			case "acking":
				acking, _ = strconv.ParseUint(f[1], 10, 64)
			case "acked":
				ackedUpTo, _ = strconv.ParseUint(f[1], 10, 64)
				acking = 0
			}
			lines++
			if lines == killAfter && !killed {
				// Kill while the child is in the middle of its next writes.
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child stopped by itself after %d lines: %s", round, lines, stderr.String())
		}

		s, err := store.Open(dir)
		if err != nil {
			t.Fatalf("round %d: open after SIGKILL: %v", round, err)
		}
		if _, err := s.VerifyAudit(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st := s.OutboxStats()
		audit := s.AuditStats()
		recs, err := s.Peek(0, 1<<30, 0)
		if err != nil {
			t.Fatal(err)
		}
		present := map[uint64]bool{}
		for _, r := range recs {
			present[r.Seq] = true
			if r.Items > 0 && !bytes.Equal(r.Payload, crashBlock(r.Seq, len(r.Payload))) {
				t.Fatalf("round %d: block record %d (%d bytes) came back damaged", round, r.Seq, len(r.Payload))
			}
		}
		// An acknowledgement the child died in is one transaction: it
		// committed entirely (its records are gone) or not at all.
		if acking > ackedUpTo {
			gone := true
			for seq := range committed {
				if seq > ackedUpTo && seq <= acking && present[seq] {
					gone = false
				}
			}
			if gone {
				ackedUpTo = acking
			}
		}
		acking = 0
		for seq := range committed {
			if seq > ackedUpTo && !present[seq] {
				t.Fatalf("round %d: committed record %d is missing", round, seq)
			}
			if seq <= ackedUpTo && present[seq] {
				t.Fatalf("round %d: acknowledged record %d came back", round, seq)
			}
		}
		if st.Depth != uint64(len(recs)) {
			t.Fatalf("round %d: depth %d but %d records", round, st.Depth, len(recs))
		}
		if st.LastSeq < maxSeq || audit.LastSeq < maxAudit {
			t.Fatalf("round %d: store's last seq %d/%d is behind committed %d/%d", round, st.LastSeq, audit.LastSeq, maxSeq, maxAudit)
		}
		// A commit that landed after the last line we read is fine; its
		// numbers become the floor for the next round.
		maxSeq, maxAudit = st.LastSeq, audit.LastSeq
		var rev uint64
		_ = s.View(func(tx *store.Tx) error { rev = tx.ConfigRevision(); return nil })
		maxRev = rev
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
