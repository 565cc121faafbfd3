package cloudsync_test

import (
	"bufio"
	"context"
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

// subscribe runs mosquitto_sub and counts messages by seq.
func (m *mosquitto) subscribe(tb testing.TB, topic string) *seqCounter {
	tb.Helper()
	_, port, _ := net.SplitHostPort(m.addr)
	// The broker logs "<client id> <qos> <filter>" for each subscription.
	subscribed := func() int { return strings.Count(m.logText(), "test-subscriber 1 "+topic+"\n") }
	before := subscribed()
	cmd := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "--cafile", m.files.CA, "--cert", m.files.ClientCert,
		"--key", m.files.ClientKey, "-i", "test-subscriber", "-q", "1", "-t", topic)
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
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var msg struct {
				Seq      uint64            `json:"seq"`
				Readings []json.RawMessage `json:"readings"`
			}
			if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Seq > 0 {
				c.add(msg.Seq, len(msg.Readings), len(sc.Bytes()))
			}
		}
	}()
	devicetest.Eventually(tb, 10*time.Second, func() string { return "mosquitto_sub's subscription in the broker log:\n" + m.logText() },
		func() bool { return subscribed() > before })
	return c
}

type seqCounter struct {
	mu       sync.Mutex
	seen     map[uint64]int
	readings int
	bytes    int
}

func (c *seqCounter) add(seq uint64, readings, size int) {
	c.mu.Lock()
	c.seen[seq]++
	c.readings += readings
	c.bytes += size
	c.mu.Unlock()
}

func (c *seqCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// telemetryRecord is one device cycle of n readings, as the poller queues
// it.
func telemetryRecord(n int) []byte {
	// What the gateway queues for a device cycle (see device.RecordPoll).
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
	up, err := cloudsync.New(cloudsync.Config{Gateway: gw, Broker: "mqtts://" + m.addr, TLS: tlsCfg, Logger: quiet})
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

// BenchmarkDrainToMosquitto measures readings per second delivered to a
// local Mosquitto (QoS 1, mutual TLS, each record a device cycle of 25
// readings), the bytes on the wire per reading, and what a 100-point site
// polled every 10 s sends in a month.
func BenchmarkDrainToMosquitto(b *testing.B) {
	m := startMosquitto(b)
	const perRecord = 25
	const records = 4000
	for i := 0; i < b.N; i++ {
		sub := m.subscribe(b, "sitegate/v1/+/telemetry")
		st := storetest.New(b)
		gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: fmt.Sprintf("gw-bench%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		payload := telemetryRecord(perRecord)
		batch := make([][]byte, 1000)
		for j := range batch {
			batch[j] = payload
		}
		for j := 0; j < records/len(batch); j++ {
			if _, err := st.Enqueue("telemetry", batch...); err != nil {
				b.Fatal(err)
			}
		}
		tlsCfg, _ := cloudsync.LoadTLS(m.files.CA, m.files.ClientCert, m.files.ClientKey)
		up, err := cloudsync.New(cloudsync.Config{Gateway: gw, Broker: "mqtts://" + m.addr, TLS: tlsCfg, Logger: quiet, Window: 64})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- up.Run(ctx) }()
		devicetest.Eventually(b, 2*time.Minute, "the outbox to drain", func() bool { return st.OutboxStats().Depth == 0 })
		elapsed := time.Since(start)
		cancel()
		<-done
		b.ReportMetric(float64(records*perRecord)/elapsed.Seconds(), "readings/s")
		sub.mu.Lock()
		if sub.readings > 0 {
			// Payload bytes plus MQTT PUBLISH overhead (fixed header,
			// topic, packet id), before TLS framing.
			perMsg := float64(sub.bytes)/float64(len(sub.seen)) + float64(2+2+len("sitegate/v1/gw-bench0/telemetry")+2+1)
			perReading := perMsg / perRecord
			b.ReportMetric(perReading, "bytes/reading")
			// 100 points every 10 s for 30 days, in records of 100.
			monthly := perReading * 100 * (30 * 24 * 3600 / 10)
			b.ReportMetric(monthly/(1<<20), "MiB/month-100pts@10s")
		}
		sub.mu.Unlock()
	}
}
