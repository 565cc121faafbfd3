package field_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// fakeDriver is a driver for the hub's routing, written for the test: it
// records what the hub asks.
type fakeDriver struct {
	proto  field.Protocol
	mu     sync.Mutex
	writes []field.Write
}

func (d *fakeDriver) Protocol() field.Protocol      { return d.proto }
func (d *fakeDriver) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (d *fakeDriver) Read(ctx context.Context, device string, points []string) ([]field.Reading, error) {
	var out []field.Reading
	for _, p := range points {
		out = append(out, field.Reading{Device: device, Point: p, Value: field.Number(1), Quality: field.QualityGood})
	}
	return out, nil
}
func (d *fakeDriver) Write(ctx context.Context, w field.Write) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes = append(d.writes, w)
	return nil
}

func topology() []field.DeviceInfo {
	return []field.DeviceInfo{
		{Name: "meter", Protocol: field.Modbus, Bus: "rs485", Points: []field.PointInfo{{Name: "power", Unit: "kW"}, {Name: "setpoint", Writable: true}}},
		{Name: "ahu", Protocol: field.BACnet, Bus: "ip", Points: []field.PointInfo{{Name: "supply"}}},
	}
}

func TestHubKeepsLatestStatusesAndTelemetry(t *testing.T) {
	var records [][]field.Reading
	var notified []string
	h := field.NewHub(field.HubOptions{
		Readings: func(rs []field.Reading) { records = append(records, slices.Clone(rs)) },
		Notify:   func(d string) { notified = append(notified, d) }})
	h.SetTopology(topology())
	rs, ok := h.Latest("meter")
	if !ok || len(rs) != 2 || rs[0].Quality != field.QualityStale || rs[0].Error != "not read yet" || rs[0].Unit != "kW" {
		t.Fatalf("before any cycle: %+v", rs)
	}
	ts := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	err := h.Record(field.Status{Device: "meter", State: field.StateOnline}, []field.Reading{{Device: "meter", Point: "power", Value: field.Number(3.5), Quality: field.QualityGood, TS: ts}})
	if err != nil {
		t.Fatal(err)
	}
	rs, _ = h.Latest("meter")
	if rs[0].Value.Num != 3.5 || rs[1].Quality != field.QualityStale {
		t.Fatalf("after a cycle: %+v", rs)
	}
	if len(records) != 1 || len(notified) != 1 {
		t.Fatalf("%d telemetry records, %d notifications", len(records), len(notified))
	}
	if r := records[0]; len(r) != 1 || r[0].Point != "power" || !r[0].TS.Equal(ts) || r[0].Value.Num != 3.5 {
		t.Fatalf("telemetry %+v", r)
	}
	// A device not in the topology (a site change raced the cycle).
	_ = h.Record(field.Status{Device: "gone"}, []field.Reading{{Device: "gone", Point: "x"}})
	if h.Dropped() != 1 || len(records) != 1 {
		t.Fatalf("dropped %d, records %d", h.Dropped(), len(records))
	}
	s := h.Summary()
	if s.DevicesTotal != 2 || s.DevicesOnline != 1 || s.Protocols["modbus"].DevicesOnline != 1 || s.Protocols["bacnet"].DevicesTotal != 1 {
		t.Fatalf("summary %+v", s)
	}
	st := h.Statuses()
	if st[0].Protocol != field.Modbus || st[1].State != field.StateUnknown || st[1].Protocol != field.BACnet {
		t.Fatalf("statuses %+v", st)
	}
	// A topology change forgets what is gone.
	h.SetTopology(topology()[1:])
	if _, ok := h.Latest("meter"); ok {
		t.Fatal("removed device still has readings")
	}
}

func TestHubRoutesReadsAndWritesByProtocol(t *testing.T) {
	h := field.NewHub(field.HubOptions{})
	h.SetTopology(topology())
	ctx := context.Background()
	if _, err := h.Read(ctx, "meter", nil); !errors.Is(err, field.ErrNoDriver) {
		t.Fatalf("read without a driver: %v", err)
	}
	mb := &fakeDriver{proto: field.Modbus}
	detach := h.Attach(mb)
	if _, err := h.Read(ctx, "nope", nil); !errors.Is(err, field.ErrNoDevice) {
		t.Fatalf("unknown device: %v", err)
	}
	if _, err := h.Read(ctx, "meter", []string{"nope"}); !errors.Is(err, field.ErrNoPoint) {
		t.Fatalf("unknown point: %v", err)
	}
	if rs, err := h.Read(ctx, "meter", []string{"power"}); err != nil || len(rs) != 1 {
		t.Fatalf("read: %v %v", rs, err)
	}
	if err := h.Write(ctx, field.Write{Device: "meter", Point: "power", Value: field.Number(1)}); !errors.Is(err, field.ErrReadOnly) {
		t.Fatalf("write read-only: %v", err)
	}
	if err := h.Write(ctx, field.Write{Device: "meter", Point: "setpoint", Value: field.Text("warm")}); !errors.Is(err, field.ErrNotSupported) {
		t.Fatalf("writing a text: %v", err)
	}
	if err := h.Write(ctx, field.Write{Device: "meter", Point: "setpoint", Value: field.Number(1), Priority: 17}); err == nil {
		t.Fatal("priority 17 accepted")
	}
	if err := h.Write(ctx, field.Write{Device: "meter", Point: "setpoint", Value: field.Number(1)}); err != nil || len(mb.writes) != 1 {
		t.Fatalf("write: %v", err)
	}
	if _, err := h.Read(ctx, "ahu", nil); !errors.Is(err, field.ErrNoDriver) {
		t.Fatalf("bacnet device routed elsewhere: %v", err)
	}
	if _, err := h.Discover(ctx, field.Modbus, field.Query{}, nil); !errors.Is(err, field.ErrNotSupported) {
		t.Fatalf("discover on a driver without discovery: %v", err)
	}
	detach()
	if h.Driver(field.Modbus) != nil {
		t.Fatal("detached driver still routed")
	}
}

func TestCycleStateNeverOnlineWhenEveryReadFails(t *testing.T) {
	for _, c := range []struct {
		good, total, none int
		want              field.State
	}{
		{3, 3, 0, field.StateOnline},
		{2, 3, 0, field.StateDegraded},
		{0, 3, 1, field.StateDegraded},
		{0, 3, 3, field.StateOffline},
	} {
		if got := field.CycleState(c.good, c.total, c.none, 3); got != c.want {
			t.Errorf("CycleState(%d of %d, %d in a row) = %s, want %s", c.good, c.total, c.none, got, c.want)
		}
	}
}

func TestValueParseAndFormat(t *testing.T) {
	for in, want := range map[string]string{"on": "true", "false": "false", "21.5": "21.5", " -3 ": "-3"} {
		v, err := field.ParseValue(in)
		if err != nil || v.Format(0) != want {
			t.Errorf("ParseValue(%q) = %v, %v", in, v, err)
		}
	}
	for _, bad := range []string{"", "NaN", "inf", "warm"} {
		if _, err := field.ParseValue(bad); err == nil {
			t.Errorf("ParseValue(%q) accepted", bad)
		}
	}
	if got := field.Number(21.456789).Format(4); got != "21.46" {
		t.Errorf("Format(4) = %s", got)
	}
}

// Texts are printable UTF-8 of at most MaxTextLen bytes, strings in JSON.
func TestTextValues(t *testing.T) {
	for in, want := range map[string]string{
		"ups-1":                         "ups-1",
		"Kälteanlage":                   "Kälteanlage",
		"a\x1b[2Jb":                     "a\uFFFD[2Jb",
		"line\none\ttab":                "line one tab",
		"bad\xffbyte":                   "bad\uFFFDbyte",
		strings.Repeat("ü", 200):        strings.Repeat("ü", 127),
		strings.Repeat("a", 300) + "\n": strings.Repeat("a", field.MaxTextLen),
	} {
		v := field.Text(in)
		if !v.Valid || !v.IsText || v.Text != want || v.Format(0) != want || len(v.Text) > field.MaxTextLen {
			t.Errorf("Text(%q) = %+v, want %q", in, v, want)
		}
	}
	j, err := json.Marshal(field.Reading{Device: "ups-1", Point: "sysname", Value: field.Text(`ups "1"`), Quality: field.QualityGood})
	if err != nil || !strings.Contains(string(j), `"value":"ups \"1\""`) {
		t.Fatalf("JSON %s %v", j, err)
	}
	var back field.Reading
	if err := json.Unmarshal(j, &back); err != nil || back.Value != field.Text(`ups "1"`) {
		t.Fatalf("back from JSON: %+v %v", back, err)
	}
}

// A device that names its own points keeps what it sends, bounded.
func TestHubDynamicPoints(t *testing.T) {
	h := field.NewHub(field.HubOptions{})
	h.SetTopology([]field.DeviceInfo{{Name: "room-7", Protocol: field.LoRa, DynamicPoints: true, Points: []field.PointInfo{{Name: "battery"}}}})
	var rs []field.Reading
	for i := 0; i < field.MaxPointsPerDevice+10; i++ {
		rs = append(rs, field.Reading{Device: "room-7", Point: fmt.Sprintf("p%05d", i), Value: field.Number(float64(i)), Quality: field.QualityGood})
	}
	if err := h.Record(field.Status{Device: "room-7", State: field.StateOnline}, rs); err != nil {
		t.Fatal(err)
	}
	got, _ := h.Latest("room-7")
	if got[0].Point != "battery" || len(got) != field.MaxPointsPerDevice+1 || got[1].Point != "p00000" {
		t.Fatalf("%d readings, first %s, second %s", len(got), got[0].Point, got[1].Point)
	}
}

// A point a dynamic device has sent can be read by name.
func TestHubReadsDynamicPointsItHasSeen(t *testing.T) {
	h := field.NewHub(field.HubOptions{})
	h.SetTopology([]field.DeviceInfo{{Name: "room-7", Protocol: field.LoRa, DynamicPoints: true}})
	h.Attach(&fakeDriver{proto: field.LoRa})
	ctx := context.Background()
	if _, err := h.Read(ctx, "room-7", []string{"temperature_1"}); !errors.Is(err, field.ErrNoPoint) {
		t.Fatalf("never-seen point: %v", err)
	}
	_ = h.Record(field.Status{Device: "room-7"}, []field.Reading{{Device: "room-7", Point: "temperature_1", Quality: field.QualityGood}})
	if _, err := h.Read(ctx, "room-7", []string{"temperature_1"}); err != nil {
		t.Fatalf("seen point: %v", err)
	}
}
