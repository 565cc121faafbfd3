package cloudsync_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/cloudsync/broker"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus/sim"
	"github.com/sitegate/sitegate/device/telemetry"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func needTool(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				tb.Fatalf("%s is required in CI (.ci/run installs it): %v", n, err)
			}
			tb.Skipf("%s not installed", n)
		}
	}
}

// mosquitto runs a real Mosquitto broker that requires client
// certificates from the demo CA.
type mosquitto struct {
	addr  string
	files broker.Files
	cmd   *exec.Cmd
	log   string // the broker's log file, subscriptions included

	subscribers int
}

func startMosquitto(tb testing.TB) *mosquitto {
	tb.Helper()
	needTool(tb, "mosquitto", "mosquitto_sub")
	dir := tb.TempDir()
	files, err := broker.EnsurePKI(filepath.Join(dir, "pki"), "gw-mosq")
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	// "user root": run as root (CI), mosquitto would switch to its own
	// user and lose access to the test's private files.
	conf := fmt.Sprintf(`per_listener_settings true
user root
listener %s 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 0
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
`, port, files.CA, files.ServerCert, files.ServerKey)
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("mosquitto", "-c", confPath)
	logPath := filepath.Join(dir, "mosquitto.log")
	out, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	m := &mosquitto{addr: addr, files: files, cmd: cmd, log: logPath}
	devicetest.Eventually(tb, 10*time.Second, func() string { return "mosquitto to start: " + m.logText() }, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return m
}

func (m *mosquitto) logText() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}

// subscribe runs mosquitto_sub and counts messages by seq: JSON messages
// by their "seq", telemetry/v2 blocks by the seqs inside.
func (m *mosquitto) subscribe(tb testing.TB, topic string) *seqCounter {
	tb.Helper()
	_, port, _ := net.SplitHostPort(m.addr)
	// The broker logs "<client id> <qos> <filter>" for each subscription.
	// Each subscriber has its own client id: a second client with the same
	// id would take the first one's session over.
	m.subscribers++
	id := fmt.Sprintf("test-subscriber-%d", m.subscribers)
	subscribed := func() int { return strings.Count(m.logText(), id+" 1 "+topic+"\n") }
	before := subscribed()
	// One line per message: the topic and the payload in hex (blocks are
	// binary).
	cmd := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "--cafile", m.files.CA, "--cert", m.files.ClientCert,
		"--key", m.files.ClientKey, "-i", id, "-q", "1", "-t", topic, "-F", "%t %x")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &seqCounter{seen: map[uint64]int{}}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			topic, hexPayload, _ := strings.Cut(sc.Text(), " ")
			payload, err := hex.DecodeString(hexPayload)
			if err != nil {
				continue
			}
			if strings.HasSuffix(topic, "/"+cloudsync.TopicTelemetryV2) {
				if b, err := telemetry.DecodeBlock(payload); err == nil {
					c.add(b.Seqs, b.Len(), len(payload), len(topic))
				}
				continue
			}
			var msg struct {
				Seq      uint64            `json:"seq"`
				Seqs     []uint64          `json:"seqs"`
				Readings []json.RawMessage `json:"readings"`
			}
			if json.Unmarshal(payload, &msg) == nil && msg.Seq > 0 {
				if len(msg.Seqs) == 0 {
					msg.Seqs = []uint64{msg.Seq}
				}
				c.add(msg.Seqs, len(msg.Readings), len(payload), len(topic))
			}
		}
	}()
	devicetest.Eventually(tb, 10*time.Second, func() string { return "mosquitto_sub's subscription in the broker log:\n" + m.logText() },
		func() bool { return subscribed() > before })
	return c
}

type seqCounter struct {
	mu   sync.Mutex
	seen map[uint64]int
	// Of the telemetry messages:
	messages int
	readings int
	bytes    int // payloads and MQTT PUBLISH headers, before TLS
}

func (c *seqCounter) add(seqs []uint64, readings, size, topicLen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range seqs {
		c.seen[s]++
	}
	if readings == 0 {
		return // health, audit, config/reported
	}
	c.messages++
	c.readings += readings
	// Fixed header (type and up to 3 length bytes), topic length and
	// topic, packet id, and an empty property length (MQTT v5, QoS 1).
	c.bytes += size + 1 + lengthBytes(size+topicLen+5) + 2 + topicLen + 2 + 1
}

func lengthBytes(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16384:
		return 2
	case n < 2097152:
		return 3
	}
	return 4
}

func (c *seqCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// telemetryRecord is one device cycle of n readings in the JSON layout
// telemetry records had before group commit (still drained as they are).
func telemetryRecord(n int) []byte {
	type reading struct {
		Device  string      `json:"device"`
		Point   string      `json:"point"`
		Value   field.Value `json:"value"`
		Quality string      `json:"quality"`
		TS      time.Time   `json:"ts"`
	}
	rs := make([]reading, n)
	ts := time.Date(2026, 11, 27, 10, 0, 0, 123000000, time.UTC)
	for i := range rs {
		rs[i] = reading{Device: "ahu-1", Point: fmt.Sprintf("point_%02d", i), Value: field.Number(21.5 + float64(i)/10), Quality: "good", TS: ts}
	}
	b, _ := json.Marshal(struct {
		Gateway  string    `json:"gateway"`
		Readings []reading `json:"readings"`
	}{"gw-mosq", rs})
	return b
}

func TestAgainstMosquitto(t *testing.T) {
	m := startMosquitto(t)
	sub := m.subscribe(t, "sitegate/v1/+/telemetry")
	st := storetest.New(t)
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-mosq"})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([][]byte, 500)
	for i := range batch {
		batch[i] = telemetryRecord(10)
	}
	if _, err := st.Enqueue("telemetry", batch...); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := cloudsync.LoadTLS(m.files.CA, m.files.ClientCert, m.files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	up, err := cloudsync.New(cloudsync.Config{Gateway: gw, Store: st, Broker: "mqtts://" + m.addr, TLS: tlsCfg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, up)
	waitFor(t, "500 telemetry messages through Mosquitto", func() bool { return sub.count() >= 500 })
	waitFor(t, "outbox drained", func() bool { return st.OutboxStats().Depth <= 2 })
	if !strings.Contains(up.Status().Broker, "127.0.0.1") {
		t.Fatalf("status %+v", up.Status())
	}
}

// BenchmarkDrainToMosquitto measures the backlog drain to a local
// Mosquitto (QoS 1, mutual TLS, 64 messages in flight) after an outage of
// the site: 100 devices × 20 float32 points polled every second,
// committed as one frame per second, 60 s of it. It reports readings per
// second delivered, the bytes per reading on the wire (payload and MQTT
// header, before TLS) in both formats, and for compact also the bytes per
// reading of blocks of 10 frames (uplink.batch_max_age's default, what a
// live site sends), with what a 100-point site polled every 10 s sends in a
// month at that size.
func BenchmarkDrainToMosquitto(b *testing.B) {
	m := startMosquitto(b)
	const devices, secs = 100, 60
	points, value := simWorkload(b)
	for _, format := range []device.TelemetryFormat{device.TelemetryCompact, device.TelemetryJSON} {
		b.Run("format="+format.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				gwID := fmt.Sprintf("gw-bench-%s%d", format, i)
				sub := m.subscribe(b, "sitegate/v1/"+gwID+"/#")
				st := storetest.New(b)
				gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: gwID})
				if err != nil {
					b.Fatal(err)
				}
				readingsSite(b, gw, devices, points, func(s *device.Site) { s.Uplink.TelemetryFormat = format })
				commitSeconds(b, gw, devices, points, 0, secs, value)
				if format == device.TelemetryCompact && i == 0 {
					b.ReportMetric(liveBlockBytes(b, st, 10), "bytes/reading@10s")
					b.ReportMetric(monthly100at10s(b, points, value), "MiB/month-100pts@10s")
				}
				tlsCfg, _ := cloudsync.LoadTLS(m.files.CA, m.files.ClientCert, m.files.ClientKey)
				up, err := cloudsync.New(cloudsync.Config{Gateway: gw, Store: st, Broker: "mqtts://" + m.addr, TLS: tlsCfg, Logger: quiet, Window: 64, BatchMaxAge: 100 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- up.Run(ctx) }()
				devicetest.Eventually(b, 2*time.Minute, "the outbox to drain", func() bool { return st.OutboxStats().Items == 0 })
				elapsed := time.Since(start)
				cancel()
				<-done
				b.ReportMetric(float64(devices*len(points)*secs)/elapsed.Seconds(), "readings/s")
				devicetest.Eventually(b, 10*time.Second, "every reading at the subscriber", func() bool {
					sub.mu.Lock()
					defer sub.mu.Unlock()
					return sub.readings >= devices*len(points)*secs
				})
				sub.mu.Lock()
				b.ReportMetric(float64(sub.bytes)/float64(sub.readings), "bytes/reading")
				b.ReportMetric(float64(sub.readings)/float64(sub.messages), "readings/message")
				sub.mu.Unlock()
			}
		})
	}
}

// simWorkload is the measured site's field: the points of
// testdata/profiles/meter-20-float32.yaml, valued as `sitegate sim modbus`
// serves them (every unit id the same model, read at its own time).
func simWorkload(b *testing.B) ([]device.Point, valueFunc) {
	raw, err := os.ReadFile("../testdata/profiles/meter-20-float32.yaml")
	if err != nil {
		b.Fatal(err)
	}
	prof, err := device.ParseProfileYAML(raw)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	clock := sim.NewManualClock(t0)
	model, err := sim.NewModel(prof.Points, sim.WithClock(clock.Now), sim.WithEpoch(t0.Add(-time.Hour)))
	if err != nil {
		b.Fatal(err)
	}
	return prof.Points, func(_, p int, ts time.Time) float64 {
		clock.Set(ts)
		v, _ := model.Value(prof.Points[p].Name)
		return v
	}
}

// liveBlockBytes encodes the queued frames in blocks of n, as a live site
// sends them at batch_max_age n seconds, and returns the bytes per reading
// (payload and MQTT header) it would send.
func liveBlockBytes(b *testing.B, st *store.Store, n int) float64 {
	recs, err := st.Peek(0, 1<<20, 0)
	if err != nil {
		b.Fatal(err)
	}
	fr := device.NewFrameReader(st)
	var enc telemetry.Encoder
	var blk *telemetry.Block
	var bytes, readings int
	topic := len("sitegate/v1/gw-bench-compact0/" + cloudsync.TopicTelemetryV2)
	flush := func() {
		if blk == nil {
			return
		}
		p, err := enc.AppendBlock(nil, blk)
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(p) + 1 + lengthBytes(len(p)+topic+5) + 2 + topic + 2 + 1
		readings += blk.Len()
		blk = nil
	}
	for _, r := range recs {
		if !device.IsFrame(r) {
			continue
		}
		f, d, err := fr.Read(r)
		if err != nil {
			b.Fatal(err)
		}
		if blk == nil {
			blk = &telemetry.Block{Gateway: "gw-bench-compact0"}
		}
		if err := blk.AddFrame(r.Seq, d, f); err != nil {
			b.Fatal(err)
		}
		if len(blk.Seqs) == n {
			flush()
		}
	}
	flush()
	return float64(bytes) / float64(readings)
}

// monthly100at10s is what a site of 100 points (5 devices of the
// workload's 20) polled every 10 s sends in 30 days with the default
// batch_max_age: one block of one cycle per device every 10 s.
func monthly100at10s(b *testing.B, points []device.Point, value valueFunc) float64 {
	st := storetest.New(b)
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-bench-compact0"})
	if err != nil {
		b.Fatal(err)
	}
	readingsSite(b, gw, 5, points, nil)
	commitCycles(b, gw, 5, points, 0, 60, 10*time.Second, value)
	perReading := liveBlockBytes(b, st, 1)
	return perReading * 100 * (30 * 24 * 3600 / 10) / (1 << 20)
}
