package cloudsync_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/telemetry"
)

// floatPoints are n float32 points p0..p{n-1}.
func floatPoints(n int) []device.Point {
	out := make([]device.Point, n)
	for p := range out {
		out[p] = device.Point{Name: fmt.Sprintf("p%d", p), Table: device.TableInput, Address: 2 * p, Type: device.TypeFloat32}
	}
	return out
}

// readingsSite gives the gateway devices dev-1..dev-n with points.
func readingsSite(t testing.TB, gw *device.Gateway, n int, points []device.Point, mod func(*device.Site)) {
	t.Helper()
	s, rev := gw.Site()
	s.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:1502", Timeout: device.Duration(500 * time.Millisecond)}}
	s.Modbus.Devices = nil
	for d := 1; d <= n; d++ {
		s.Modbus.Devices = append(s.Modbus.Devices, device.Device{Name: fmt.Sprintf("dev-%d", d), Bus: "plant", UnitID: d, Interval: device.Duration(time.Second), Points: points})
	}
	if mod != nil {
		mod(s)
	}
	s.ApplyDefaults()
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, s); err != nil {
		t.Fatal(err)
	}
}

// valueFunc is point p's value on device d at ts.
type valueFunc func(d, p int, ts time.Time) float64

func slowValues(d, p int, ts time.Time) float64 {
	return float64(float32(230 + float64(p) + 2*float64((ts.Unix()+int64(d))%60)/60))
}

// commitSeconds records secs seconds of every device's cycles (each device
// polled once a second, a few milliseconds after the one before), one
// group commit per second.
func commitSeconds(t testing.TB, gw *device.Gateway, n int, points []device.Point, from, secs int, value valueFunc) {
	t.Helper()
	commitCycles(t, gw, n, points, from, secs, time.Second, value)
}

// commitCycles records cycles from..from+count-1 of every device, one
// every period, and commits after each.
func commitCycles(t testing.TB, gw *device.Gateway, n int, points []device.Point, from, count int, period time.Duration, value valueFunc) {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	rs := make([]field.Reading, len(points))
	for c := from; c < from+count; c++ {
		for d := 1; d <= n; d++ {
			ts := t0.Add(time.Duration(c)*period + time.Duration(d*7)*time.Millisecond)
			for p := range rs {
				rs[p] = field.Reading{Device: fmt.Sprintf("dev-%d", d), Point: points[p].Name, Value: field.Number(value(d, p, ts)), Quality: field.QualityGood, TS: ts}
			}
			if err := gw.FieldSink().Record(field.Status{Device: rs[0].Device, State: field.StateOnline}, rs); err != nil {
				t.Fatal(err)
			}
		}
		if err := gw.Committer().Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// Frames queued during an outage go out as few compact blocks, each
// carrying the seqs of its frames; after the PUBACKs the outbox is empty.
func TestTelemetryBlocksOnV2(t *testing.T) {
	e := newEnv(t)
	readingsSite(t, e.gw, 10, floatPoints(20), nil)
	commitSeconds(t, e.gw, 10, floatPoints(20), 0, 30, slowValues)
	frames := e.st.OutboxStats().Depth
	e.startUplink(func(c *cloudsync.Config) { c.BatchMaxAge = 200 * time.Millisecond })
	topic := "sitegate/v1/gw-sync/" + cloudsync.TopicTelemetryV2
	waitFor(t, "the outbox to drain", func() bool { return e.st.OutboxStats().Items == 0 })
	seqs := map[uint64]int{}
	readings := map[string]bool{}
	msgs := e.got.get(topic)
	for _, p := range msgs {
		b, err := telemetry.DecodeBlock(p)
		if err != nil {
			t.Fatal(err)
		}
		if b.Gateway != "gw-sync" {
			t.Fatalf("block of gateway %q", b.Gateway)
		}
		for _, s := range b.Seqs {
			seqs[s]++
		}
		for _, r := range b.Readings() {
			readings[fmt.Sprint(r.Series, r.Time)] = true
		}
	}
	if len(readings) != 30*10*20 {
		t.Fatalf("%d distinct readings arrived, want %d", len(readings), 30*10*20)
	}
	if len(msgs) >= 30 || len(seqs) != 30 {
		t.Fatalf("%d messages for %d frames (%d queued records); want the frames batched", len(msgs), len(seqs), frames)
	}
	if n := e.up.Status().Published; n == 0 {
		t.Fatalf("status %+v", e.up.Status())
	}
	if len(e.got.get("sitegate/v1/gw-sync/telemetry")) != 0 {
		t.Fatal("JSON telemetry sent with the compact format")
	}
}

// With telemetry_format: json the readings go to the telemetry topic in
// the JSON contract, with seq (the last) and seqs (all) for de-duplication.
func TestTelemetryJSONFormat(t *testing.T) {
	e := newEnv(t)
	readingsSite(t, e.gw, 2, floatPoints(5), func(s *device.Site) { s.Uplink.TelemetryFormat = device.TelemetryJSON })
	commitSeconds(t, e.gw, 2, floatPoints(5), 0, 5, slowValues)
	e.startUplink(func(c *cloudsync.Config) { c.BatchMaxAge = 50 * time.Millisecond })
	topic := "sitegate/v1/gw-sync/telemetry"
	waitFor(t, "the outbox to drain", func() bool { return e.st.OutboxStats().Items == 0 })
	n := 0
	for _, p := range e.got.get(topic) {
		var m struct {
			Seq      uint64   `json:"seq"`
			Seqs     []uint64 `json:"seqs"`
			Gateway  string   `json:"gateway"`
			Readings []struct {
				Device, Point, Quality string
				Value                  *float64
				TS                     time.Time
			} `json:"readings"`
		}
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatal(err)
		}
		if m.Gateway != "gw-sync" || m.Seq != m.Seqs[len(m.Seqs)-1] || m.Readings[0].Quality != "good" || m.Readings[0].Value == nil || m.Readings[0].TS.IsZero() {
			t.Fatalf("message %s", p)
		}
		n += len(m.Readings)
	}
	if n != 5*2*5 {
		t.Fatalf("%d readings on the JSON topic", n)
	}
	if len(e.got.get("sitegate/v1/gw-sync/"+cloudsync.TopicTelemetryV2)) != 0 {
		t.Fatal("compact telemetry sent with the json format")
	}
}

// Frames committed while the uplink is up wait for batch_max_age and then
// go together.
func TestTelemetryBatchMaxAge(t *testing.T) {
	e := newEnv(t)
	readingsSite(t, e.gw, 2, floatPoints(2), nil)
	e.startUplink(func(c *cloudsync.Config) { c.BatchMaxAge = 400 * time.Millisecond })
	waitFor(t, "connected", func() bool { return e.up.Status().Connected })
	topic := "sitegate/v1/gw-sync/" + cloudsync.TopicTelemetryV2
	for sec := range 4 {
		commitSeconds(t, e.gw, 2, floatPoints(2), sec, 1, slowValues)
	}
	waitFor(t, "the frames to go", func() bool { return e.st.OutboxStats().Items == 0 })
	total := 0
	for _, p := range e.got.get(topic) {
		b, err := telemetry.DecodeBlock(p)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b.Seqs)
	}
	if msgs := len(e.got.get(topic)); total != 4 || msgs > 2 {
		t.Fatalf("%d frames in %d messages; want 4 in one or two", total, msgs)
	}
}
