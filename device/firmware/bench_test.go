package firmware

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkVerify256MiB verifies a 256 MiB image from a file, as Boot does,
// and reports throughput (MB/s) and the peak heap while verifying
// (peak-heap-MiB, sampled every millisecond; base-heap-MiB is the heap
// before the first verification): it must stay flat however large the
// image is.
func BenchmarkVerify256MiB(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	pub, priv := newKey(b)
	// The payload is generated straight to disk and signed streaming, so
	// not even the benchmark holds it in memory.
	payloadPath := filepath.Join(dir, "payload.bin")
	pf, err := os.Create(payloadPath)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(pf, 1<<20)
	rng := rand.NewChaCha8([32]byte{42})
	chunk := make([]byte, 1<<20)
	for written := 0; written < size; written += len(chunk) {
		_, _ = rng.Read(chunk)
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	imagePath := filepath.Join(dir, "image.sgfw")
	out, err := os.Create(imagePath)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Sign(out, pf, priv, Manifest{Version: "1.0.0", MinVersion: "1.0.0"}); err != nil {
		b.Fatal(err)
	}
	pf.Close()
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(payloadPath); err != nil {
		b.Fatal(err)
	}

	runtime.GC()
	base := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(imagePath)
		if err != nil {
			b.Fatal(err)
		}
		m, err := Verify(f, pub)
		f.Close()
		if err != nil || m.Size != size {
			b.Fatalf("verify: %v (%d bytes)", err, m.Size)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(base[0].Value.Uint64())/(1<<20), "base-heap-MiB")
}
