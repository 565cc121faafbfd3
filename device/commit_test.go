package device_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/telemetry"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// commitSite has devices dev-1..dev-n with points p0..p{points-1}; mod
// changes the site before it is applied.
func commitSite(t testing.TB, gw *device.Gateway, n, points int, mod func(*device.Site)) {
	t.Helper()
	if err := applyCommitSite(gw, n, points, mod); err != nil {
		t.Fatal(err)
	}
}

func applyCommitSite(gw *device.Gateway, n, points int, mod func(*device.Site)) error {
	s, rev := gw.Site()
	s.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:1502", Timeout: device.Duration(500 * time.Millisecond)}}
	s.Modbus.Devices = nil
	for d := 1; d <= n; d++ {
		dev := device.Device{Name: fmt.Sprintf("dev-%d", d), Bus: "plant", UnitID: d, Interval: device.Duration(time.Second)}
		for p := range points {
			dev.Points = append(dev.Points, device.Point{Name: fmt.Sprintf("p%d", p), Table: device.TableHolding, Address: 2 * p, Type: device.TypeFloat32})
		}
		s.Modbus.Devices = append(s.Modbus.Devices, dev)
	}
	if mod != nil {
		mod(s)
	}
	s.ApplyDefaults()
	_, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: rev}, s)
	return err
}

func record(t testing.TB, gw *device.Gateway, dev string, ts time.Time, values ...field.Value) {
	t.Helper()
	var rs []field.Reading
	for i, v := range values {
		rs = append(rs, field.Reading{Device: dev, Point: fmt.Sprintf("p%d", i), Value: v, Quality: field.QualityGood, TS: ts})
	}
	if err := gw.FieldSink().Record(field.Status{Device: dev, State: field.StateOnline}, rs); err != nil {
		t.Fatal(err)
	}
}

// queued decodes every telemetry frame in the outbox.
func queued(t testing.TB, st *store.Store) (frames int, readings []telemetry.Reading) {
	t.Helper()
	recs, err := st.Peek(0, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	fr := device.NewFrameReader(st)
	for _, r := range recs {
		if !device.IsFrame(r) {
			continue
		}
		rs, err := fr.Readings(r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Items != uint64(len(rs)) {
			t.Fatalf("record %d says %d items, holds %d readings", r.Seq, r.Items, len(rs))
		}
		frames++
		readings = append(readings, rs...)
	}
	return frames, readings
}

// Every device's cycles of one interval become one frame in one record,
// whatever the number of cycles; the readings come back exactly.
func TestGroupCommitOneFramePerInterval(t *testing.T) {
	gw, st := newGateway(t)
	commitSite(t, gw, 3, 4, nil)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	before := st.OutboxStats().LastSeq
	for c := range 5 {
		for d := 1; d <= 3; d++ {
			record(t, gw, fmt.Sprintf("dev-%d", d), t0.Add(time.Duration(c)*time.Second+time.Duration(d)*time.Millisecond),
				field.Number(float64(c)), field.Number(math.NaN()), field.Boolean(c%2 == 0), field.Value{})
		}
	}
	if st.OutboxStats().LastSeq != before {
		t.Fatal("readings were queued before the commit")
	}
	if err := gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	frames, rs := queued(t, st)
	if frames != 1 || len(rs) != 5*3*4 {
		t.Fatalf("%d frames, %d readings; want 1 frame of 60", frames, len(rs))
	}
	if st.OutboxStats().LastSeq != before+1 {
		t.Fatalf("one commit queued %d records", st.OutboxStats().LastSeq-before)
	}
	r := rs[len(rs)-1]
	if r.Time != t0.Add(4*time.Second+3*time.Millisecond).UnixMilli() || r.Device != "dev-3" {
		t.Fatalf("last reading %+v", r)
	}
	for _, r := range rs {
		switch r.Point {
		case "p1":
			if !math.IsNaN(r.Value.Num) || r.Value.Kind != telemetry.KindNumber {
				t.Fatalf("NaN came back as %+v", r.Value)
			}
		case "p3":
			if r.Value.Kind != telemetry.KindAbsent {
				t.Fatalf("no value came back as %+v", r.Value)
			}
		}
	}
	// Nothing pending: no transaction at all.
	if err := gw.Committer().Flush(); err != nil || st.OutboxStats().LastSeq != before+1 {
		t.Fatalf("an empty commit wrote: %v", err)
	}
	if s := gw.Committer().Stats(); s.Commits != 1 || s.Readings != 60 || s.Bytes == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// The dictionary is stored once; a site change that adds points grows
// it, and frames written before still decode.
func TestGroupCommitDictionaryFollowsTheSite(t *testing.T) {
	gw, st := newGateway(t)
	commitSite(t, gw, 2, 2, nil)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	record(t, gw, "dev-1", t0, field.Number(1), field.Number(2))
	if err := gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	record(t, gw, "dev-2", t0.Add(time.Second), field.Number(3), field.Number(4))
	if err := gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	commitSite(t, gw, 2, 3, nil)
	record(t, gw, "dev-2", t0.Add(2*time.Second), field.Number(5), field.Number(6), field.Number(7))
	if err := gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	frames, rs := queued(t, st)
	if frames != 3 || len(rs) != 7 || rs[6].Point != "p2" || rs[6].Value.Num != 7 {
		t.Fatalf("%d frames, readings %+v", frames, rs)
	}
	recs, _ := st.Peek(0, 100, 0)
	ids := map[telemetry.DictID]bool{}
	for _, r := range recs {
		if device.IsFrame(r) {
			h, _ := telemetry.ReadFrameHeader(r.Payload)
			ids[h.Dict] = true
		}
	}
	if len(ids) != 2 {
		t.Fatalf("%d dictionaries for two site shapes", len(ids))
	}
}

// Report by exception: suppressed readings are counted, not queued; the
// latest value still shows every reading.
func TestReportByException(t *testing.T) {
	gw, st := newGateway(t)
	commitSite(t, gw, 1, 3, func(s *device.Site) {
		db := 0.5
		pts := s.Modbus.Devices[0].Points
		pts[0].Deadband = &db                                // p0: moves of more than 0.5
		pts[1].Heartbeat = device.Duration(10 * time.Second) // p1: changes, and every 10 s
		// p2: every reading
	})
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	steps := []struct {
		p0, p1 float64
	}{{10, 1}, {10.2, 1}, {10.4, 1}, {10.6, 2}, {10.7, 2}, {11.2, 2}}
	for i, s := range steps {
		record(t, gw, "dev-1", t0.Add(time.Duration(i)*time.Second), field.Number(s.p0), field.Number(s.p1), field.Number(float64(i)))
		if rs, _ := gw.Readings("dev-1"); rs[0].Value.Num != s.p0 {
			t.Fatalf("step %d: latest p0 = %v", i, rs[0].Value.Num)
		}
	}
	// p1 unchanged past its heartbeat is sent again; a quality change
	// always is.
	record(t, gw, "dev-1", t0.Add(14*time.Second), field.Number(11.2), field.Number(2), field.Number(9))
	rs := []field.Reading{{Device: "dev-1", Point: "p0", Value: field.Number(11.2), Quality: field.QualityStale, Error: "timeout", TS: t0.Add(15 * time.Second)}}
	if err := gw.FieldSink().Record(field.Status{Device: "dev-1"}, rs); err != nil {
		t.Fatal(err)
	}
	if err := gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	_, got := queued(t, st)
	sent := map[string][]float64{}
	for _, r := range got {
		sent[r.Point] = append(sent[r.Point], r.Value.Num)
	}
	want := map[string][]float64{
		"p0": {10, 10.6, 11.2, 11.2}, // 10.2, 10.4, 10.7 and 11.2 at +14 s within 0.5; 11.2 stale
		"p1": {1, 2, 2},              // the second 2 at +14 s: heartbeat
		"p2": {0, 1, 2, 3, 4, 5, 9},
	}
	for p, w := range want {
		if fmt.Sprint(sent[p]) != fmt.Sprint(w) {
			t.Errorf("%s sent %v, want %v", p, sent[p], w)
		}
	}
	h := gw.Health()
	if h.Outbox.Suppressed != 8 || h.Outbox.Readings != uint64(len(got)) {
		t.Fatalf("health outbox %+v, want 8 suppressed and %d readings", h.Outbox, len(got))
	}
}

// Run commits on the site's interval and commits what is left when it
// stops; the outbox section of health says how long an outage it holds.
func TestCommitterRunsOnTheInterval(t *testing.T) {
	gw, st := newGateway(t)
	commitSite(t, gw, 1, 2, func(s *device.Site) { s.Store.CommitInterval = device.Duration(100 * time.Millisecond) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Committer().Run(ctx) }()
	t0 := time.Now()
	for i := range 3 {
		record(t, gw, "dev-1", t0.Add(time.Duration(i)*time.Millisecond), field.Number(1), field.Number(2))
		n := i + 1
		devicetest.Eventually(t, 5*time.Second, "a commit", func() bool { f, _ := queued(t, st); return f == n })
	}
	record(t, gw, "dev-1", t0.Add(time.Second), field.Number(3), field.Number(4))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, rs := queued(t, st); len(rs) != 8 {
		t.Fatalf("%d readings after stop, want 8 (the last cycle flushed)", len(rs))
	}
	h := gw.Health()
	o := h.Outbox
	if o.Bytes == 0 || o.MaxBytes == 0 || o.MaxBytes > 1024<<20 || o.Readings != 8 || o.OutageHoursLeft == nil || *o.OutageHoursLeft <= 0 {
		t.Fatalf("health outbox %+v", o)
	}
	if gw.Committer().Interval() != 100*time.Millisecond {
		t.Fatalf("interval %v", gw.Committer().Interval())
	}
}

// A committer that is not running commits by itself at its bound, so that
// memory stays bounded.
func TestCommitterBoundsPendingReadings(t *testing.T) {
	gw, st := newGateway(t)
	commitSite(t, gw, 1, 100, nil)
	vals := make([]field.Value, 100)
	for i := range vals {
		vals[i] = field.Number(float64(i))
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for c := 0; c*100 < device.MaxPendingReadings; c++ {
		record(t, gw, "dev-1", t0.Add(time.Duration(c)*time.Second), vals...)
	}
	if o := st.OutboxStats(); o.Depth == 0 || o.Items < device.MaxPendingReadings {
		t.Fatalf("after %d readings: %+v", device.MaxPendingReadings, o)
	}
}

// BenchmarkGroupCommit is the cost of the site (100 devices × 20
// float32 points, every second) in the gateway beyond polling: the hub,
// the frame, the durable commit. One iteration is one second of the site.
func BenchmarkGroupCommit(b *testing.B) {
	st := storetest.New(b)
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-bench"})
	if err != nil {
		b.Fatal(err)
	}
	commitSite(b, gw, 100, 20, nil)
	vals := make([]field.Value, 20)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	sec := 0
	for b.Loop() {
		for d := 1; d <= 100; d++ {
			for p := range vals {
				vals[p] = field.Number(float64(float32(230 + 5*math.Sin(float64(sec+d+p)/60))))
			}
			record(b, gw, fmt.Sprintf("dev-%d", d), t0.Add(time.Duration(sec)*time.Second+time.Duration(d)*7*time.Millisecond), vals...)
		}
		if err := gw.Committer().Flush(); err != nil {
			b.Fatal(err)
		}
		sec++
	}
	s := gw.Committer().Stats()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(s.Readings), "ns/reading")
	b.ReportMetric(float64(s.Bytes)/float64(s.Readings), "frame-B/reading")
}

// Text readings (SNMP's sysName) are stored and queued like numbers; a
// deadband does not apply to them: a text is reported when it changes or
// its heartbeat is due.
func TestTextReadingsAreCommitted(t *testing.T) {
	gw, st := newGateway(t)
	commitSite(t, gw, 1, 2, func(s *device.Site) {
		db := 0.5
		s.Modbus.Devices[0].Points[0].Deadband = &db
	})
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i, name := range []string{"ups-1", "ups-1", "UPS 1", "ups-1"} {
		record(t, gw, "dev-1", t0.Add(time.Duration(i)*time.Second), field.Text(name), field.Number(float64(i)))
	}
	if rs, _ := gw.Readings("dev-1"); !rs[0].Value.IsText || rs[0].Value.Text != "ups-1" {
		t.Fatalf("latest p0 = %+v", rs[0].Value)
	}
	if err := gw.Committer().Flush(); err != nil {
		t.Fatal(err)
	}
	_, got := queued(t, st)
	var sent []string
	for _, r := range got {
		if r.Point == "p0" {
			if r.Value.Kind != telemetry.KindText {
				t.Fatalf("p0 came back as %+v", r.Value)
			}
			sent = append(sent, r.Value.Text)
		}
	}
	if fmt.Sprint(sent) != "[ups-1 UPS 1 ups-1]" {
		t.Fatalf("p0 sent %q", sent)
	}
}
