package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitegate/sitegate/cloudsync/broker"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/modbus/sim"
	"github.com/sitegate/sitegate/device/telemetry"
	"github.com/sitegate/sitegate/store"
)

// seqLog records every seq and every reading the broker delivered,
// counting duplicates: JSON records by their "seq", telemetry/v2 blocks by
// the seqs and readings inside.
type seqLog struct {
	mu       sync.Mutex
	seen     map[uint64]int
	readings map[string]int // device/point@ms
	blocks   int
	resent   int // blocks that carried a seq delivered before
}

func (l *seqLog) add(topic string, payload []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.HasSuffix(topic, "/telemetry/v2") {
		b, err := telemetry.DecodeBlock(payload)
		if err != nil {
			panic(fmt.Sprintf("the broker delivered a block that does not decode: %v", err))
		}
		l.blocks++
		again := false
		for _, s := range b.Seqs {
			again = again || l.seen[s] > 0
			l.seen[s]++
		}
		if again {
			l.resent++
		}
		for _, r := range b.Readings() {
			l.readings[readingKey(r)]++
		}
		return
	}
	var m struct {
		Seq uint64 `json:"seq"`
	}
	if json.Unmarshal(payload, &m) != nil || m.Seq == 0 {
		return // status messages have no seq
	}
	l.seen[m.Seq]++
}

// readingKey identifies a reading: a point's time, and its quality and
// error, because a failed cycle repeats the last value with its time as
// stale (the poll settings make two failures in a row, which would repeat
// one reading exactly, unlikely).
func readingKey(r telemetry.Reading) string {
	return fmt.Sprintf("%s/%s@%d %s %s", r.Device, r.Point, r.Time, r.Quality, r.Error)
}

func (l *seqLog) snapshot() map[uint64]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[uint64]int, len(l.seen))
	for k, v := range l.seen {
		out[k] = v
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestOutageLosesNothing: the broker stops while readings keep coming, the
// gateway is killed with SIGKILL and restarted during the outage, the
// broker returns: every seq and every committed reading arrives on the
// compact topic, none is missing, and duplicates stay within the in-flight
// window per interruption.
func TestOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := broker.EnsurePKI(filepath.Join(dir, "pki"), "gw-outage")
	if err != nil {
		t.Fatal(err)
	}
	// A simulated device that keeps producing readings.
	srv := sim.NewServer(nil, sim.DefaultModel(), sim.WithLogger(quietLog()))
	simAddr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	site := fmt.Sprintf(`site: {name: Outage test}
access: {require_2fa: []}
store: {commit_interval: 200ms}
uplink: {batch_max_age: 1s}
modbus:
  buses:
    - {name: plant, kind: tcp, address: "%s", timeout: 400ms}
  devices:
    - name: meter
      bus: plant
      unit_id: 1
      interval: 500ms
      points:
        - {name: a, table: holding, address: 0, type: uint16}
        - {name: b, table: input, address: 1, type: uint16}
`, simAddr)
	siteFile := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(siteFile, []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "config", "import", "--data", data, siteFile); r.code != 0 {
		t.Fatal(r)
	}

	brokerAddr := freePort(t)
	log := &seqLog{seen: map[uint64]int{}, readings: map[string]int{}}
	startBroker := func() *broker.Broker {
		b, err := broker.Start(files, broker.Options{Address: brokerAddr})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Server().Subscribe("sitegate/v1/#", 1, func(cl *mqtt.Client, sub packets.Subscription, pk packets.Packet) {
			log.add(pk.TopicName, pk.Payload)
		}); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := startBroker()
	defer func() { b.Close() }()

	args := []string{"--broker", "mqtts://" + brokerAddr, "--ca", files.CA, "--cert", files.ClientCert, "--key", files.ClientKey}
	gw, _ := startDaemon(t, data, args...)
	waitCond(t, 30*time.Second, "telemetry before the outage", func() bool { return len(log.snapshot()) > 10 })

	// Outage: the broker goes away, readings keep coming.
	var beforeTop uint64
	for s := range log.snapshot() {
		beforeTop = max(beforeTop, s)
	}
	b.Close()
	time.Sleep(1500 * time.Millisecond)
	// The gateway dies hard during the outage and comes back.
	if err := gw.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = gw.Wait()
	gw, _ = startDaemon(t, data, args...)
	time.Sleep(1500 * time.Millisecond)
	// The broker returns.
	b = startBroker()

	// The backlog drains: wait until everything queued before the broker
	// came back has arrived (readings keep coming meanwhile), then stop
	// the gateway cleanly.
	waitCond(t, 60*time.Second, "the backlog to drain", func() bool {
		seen := log.snapshot()
		// The records of the outage were written while the broker was
		// away; they go first when it returns. Once well past them the
		// seen set has no hole below its top (minus what is in flight),
		// the backlog is through.
		var top uint64
		for s := range seen {
			top = max(top, s)
		}
		if top < beforeTop+25 {
			return false
		}
		for s := uint64(1); s+5 < top; s++ {
			if seen[s] == 0 {
				return false
			}
		}
		return true
	})
	if err := gw.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = gw.Wait()

	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := st.OutboxStats()
	queued, _ := st.Peek(0, 1<<20, 0)
	left := map[uint64]bool{}
	fr := device.NewFrameReader(st)
	log.mu.Lock()
	defer log.mu.Unlock()
	leftReadings := 0
	for _, r := range queued {
		left[r.Seq] = true
		if device.IsFrame(r) {
			rs, err := fr.Readings(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range rs {
				if log.readings[readingKey(x)] == 0 {
					leftReadings++
				}
			}
		}
	}
	seen := log.seen
	duplicates := 0
	for _, n := range seen {
		duplicates += n - 1
	}
	var missing []uint64
	for s := uint64(1); s <= o.LastSeq; s++ {
		if seen[s] == 0 && !left[s] {
			missing = append(missing, s)
		}
	}
	dupReadings := 0
	cycles := map[string]int{} // device@ms → points
	for k, n := range log.readings {
		dupReadings += n - 1
		name, at, _ := strings.Cut(k, "@")
		dev, _, _ := strings.Cut(name, "/")
		cycles[dev+"@"+at]++ // at holds the quality and error too
	}
	t.Logf("%d records written, %d delivered in %d blocks, %d still queued at stop, %d duplicate seqs in %d re-sent blocks; "+
		"%d readings committed, %d delivered, %d queued, %d delivered twice",
		o.LastSeq, len(seen), log.blocks, len(left), duplicates, log.resent, o.ItemsEnqueued, len(log.readings), leftReadings, dupReadings)
	if len(missing) > 0 {
		t.Fatalf("%d records lost, e.g. seq %v", len(missing), missing[:min(len(missing), 10)])
	}
	if o.Evicted != 0 {
		t.Fatalf("%d records evicted", o.Evicted)
	}
	// Readings, not just seqs: every reading committed arrived once at
	// least or is still queued, and no cycle arrived in part.
	if got := uint64(len(log.readings) + leftReadings); got != o.ItemsEnqueued {
		t.Fatalf("%d readings committed, but %d delivered and %d queued", o.ItemsEnqueued, len(log.readings), leftReadings)
	}
	for c, n := range cycles {
		if n != 2 {
			t.Fatalf("cycle %s arrived with %d of its 2 points", c, n)
		}
	}
	// Two interruptions (broker stop, SIGKILL), at most a window of
	// messages each.
	if log.resent > 2*32 {
		t.Fatalf("%d blocks re-sent, more than the in-flight window per interruption", log.resent)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitCond(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	devicetest.Eventually(t, d, what, cond)
}
