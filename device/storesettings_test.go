package device

import (
	"math"
	"strings"
	"testing"
	"time"
)

// The store and uplink sections and report by exception: defaults, bounds
// with their paths, and the YAML names.
func TestStoreSettings(t *testing.T) {
	d := DefaultSite()
	if d.Store.CommitInterval != DefaultCommitInterval || d.Store.OutboxMaxMB != 1024 || d.Uplink.TelemetryFormat != TelemetryCompact || d.Uplink.BatchMaxAge != sec(10*time.Second) {
		t.Fatalf("defaults: %+v %+v", d.Store, d.Uplink)
	}
	neg, nan := -1.0, math.NaN()
	zero := 0.0
	tests := []struct {
		name   string
		mutate func(s *Site)
		path   string // "" for a good case
		frag   string
	}{
		{"commit 100ms", func(s *Site) { s.Store.CommitInterval = sec(100 * time.Millisecond) }, "", ""},
		{"commit 10s", func(s *Site) { s.Store.CommitInterval = sec(10 * time.Second) }, "", ""},
		{"commit 50ms", func(s *Site) { s.Store.CommitInterval = sec(50 * time.Millisecond) }, "store.commit_interval", "50ms is outside 100ms..10s"},
		{"commit 11s", func(s *Site) { s.Store.CommitInterval = sec(11 * time.Second) }, "store.commit_interval", "outside 100ms..10s"},
		{"outbox -1", func(s *Site) { s.Store.OutboxMaxMB = -1 }, "store.outbox_max_mb", "-1 is outside 1..1048576"},
		{"format unknown", func(s *Site) { s.Uplink.TelemetryFormat = 9 }, "uplink.telemetry_format", "9 is not a telemetry format (valid: compact, json)"},
		{"batch 0.5s", func(s *Site) { s.Uplink.BatchMaxAge = sec(500 * time.Millisecond) }, "uplink.batch_max_age", "outside 1s..10m"},
		{"deadband 0", func(s *Site) { s.Modbus.Devices[1].Points[1].Deadband = &zero }, "", ""},
		{"deadband negative", func(s *Site) { s.Modbus.Devices[1].Points[1].Deadband = &neg }, "modbus.devices[1].points[1].deadband", "at least 0"},
		{"deadband NaN", func(s *Site) { s.Modbus.Devices[1].Points[1].Deadband = &nan }, "modbus.devices[1].points[1].deadband", "finite"},
		{"heartbeat 100ms", func(s *Site) { s.Modbus.Devices[1].Points[1].Heartbeat = sec(100 * time.Millisecond) }, "modbus.devices[1].points[1].heartbeat", "outside 1s..24h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := siteFromFile(t, "full.yaml")
			tt.mutate(s)
			ps := validationProblems(t, s.Validate())
			if tt.path == "" {
				if len(ps) > 0 {
					t.Fatalf("want no problem, got:\n%v", &ValidationError{ps})
				}
				return
			}
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Message, tt.frag) {
				t.Fatalf("want one problem at %s (...%s...), got:\n%v", tt.path, tt.frag, &ValidationError{ps})
			}
		})
	}

	// The YAML names, and what the field layer is told.
	s, err := ParseSite([]byte("site: {name: x}\nstore: {commit_interval: 250ms, outbox_max_mb: 64}\nuplink: {telemetry_format: JSON, batch_max_age: 1m}\n" +
		"modbus:\n  buses: [{name: b, kind: tcp, address: \"127.0.0.1:1502\"}]\n  devices:\n    - {name: d, bus: b, unit_id: 1, interval: 5s, points: [{name: t, table: input, address: 0, type: int16, deadband: 0.5, heartbeat: 15m}, {name: u, table: input, address: 1, type: int16}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Store.CommitInterval != sec(250*time.Millisecond) || s.Store.OutboxMaxMB != 64 || s.Uplink.TelemetryFormat != TelemetryJSON || s.Uplink.BatchMaxAge != sec(time.Minute) {
		t.Fatalf("parsed %+v %+v", s.Store, s.Uplink)
	}
	pts := s.FieldDevices()[0].Points
	if r := pts[0].Report; !r.ByException || r.Deadband != 0.5 || r.Heartbeat != 15*time.Minute || pts[1].Report.ByException {
		t.Fatalf("reports %+v %+v", pts[0].Report, pts[1].Report)
	}
	if _, err := ParseSite([]byte("site: {name: x}\nuplink: {telemetry_format: protobuf}\n")); err == nil || !strings.Contains(err.Error(), "uplink.telemetry_format") {
		t.Fatalf("unknown format: %v", err)
	}
	// Profile entries report by exception too, and a device using the
	// profile gets it.
	prof, err := ParseProfileYAML([]byte("name: rbe\ndescription: x\npoints:\n  - {name: t, table: input, address: 0, type: int16, scale: 0.1, deadband: 0.2, heartbeat: 10m}\n"))
	if err != nil || *prof.Points[0].Deadband != 0.2 || prof.Points[0].Heartbeat != sec(10*time.Minute) {
		t.Fatalf("profile: %+v %v", prof, err)
	}
	if _, err := ParseProfileYAML([]byte("name: rbe\ndescription: x\npoints:\n  - {name: t, table: input, address: 0, type: int16, deadband: -1}\n")); err == nil || !strings.Contains(err.Error(), "points[0].deadband") {
		t.Fatalf("profile with a negative deadband: %v", err)
	}
	if f, err := ParseTelemetryFormat("compact"); err != nil || f.String() != "compact" {
		t.Fatalf("parse compact: %v %v", f, err)
	}
}
