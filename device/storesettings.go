package device

import (
	"math"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// StoreSettings are the site file's store section: how readings are kept
// until the uplink has delivered them.
type StoreSettings struct {
	// CommitInterval is how often the readings of every device are
	// committed together, as one compressed frame (100ms..10s, default
	// 1s). At most one interval of readings is lost on power loss.
	CommitInterval Duration `yaml:"commit_interval" json:"commit_interval"`
	// OutboxMaxMB bounds what waits for the uplink, in MiB (1..1048576,
	// default 1024); the gateway never uses more than half of the data
	// directory's free space for it. Oldest records are evicted first, and
	// counted.
	OutboxMaxMB int `yaml:"outbox_max_mb" json:"outbox_max_mb"`
}

// UplinkSettings are the site file's uplink section: how telemetry goes to
// the cloud. Where the broker is and the credentials are provisioning
// (sitegate run flags), not site settings.
type UplinkSettings struct {
	// TelemetryFormat chooses the telemetry topic: compact (the default:
	// telemetry/v2, binary blocks of package telemetry) or json (the
	// telemetry topic of the JSON contract).
	TelemetryFormat TelemetryFormat `yaml:"telemetry_format" json:"telemetry_format"`
	// BatchMaxAge is how long a committed frame may wait to be sent with
	// the next ones as one block (1s..10m, default 10s). Longer batches
	// cost fewer bytes per reading.
	BatchMaxAge Duration `yaml:"batch_max_age" json:"batch_max_age"`
}

// TelemetryFormat is how telemetry is published.
type TelemetryFormat uint8

// Telemetry formats. The zero value means "not set" (the default, compact).
const (
	TelemetryCompact TelemetryFormat = iota + 1 // sitegate/v1/{gateway}/telemetry/v2: telemetry.Block payloads
	TelemetryJSON                               // sitegate/v1/{gateway}/telemetry: the JSON contract
)

var telemetryFormats = enumDef[TelemetryFormat]{"TelemetryFormat", "telemetry format", []string{"", "compact", "json"}}

// ParseTelemetryFormat returns the format called s (compact, json).
func ParseTelemetryFormat(s string) (TelemetryFormat, error) { return telemetryFormats.parse(s) }

// String returns the format's name.
func (f TelemetryFormat) String() string { return telemetryFormats.name(f) }

// MarshalText encodes the format's name.
func (f TelemetryFormat) MarshalText() ([]byte, error) { return telemetryFormats.marshal(f) }

// UnmarshalText parses a format name; empty text leaves it unset.
func (f *TelemetryFormat) UnmarshalText(text []byte) error {
	return telemetryFormats.unmarshal(text, f)
}

// Defaults of the store and uplink sections.
const (
	DefaultCommitInterval  = Duration(time.Second)
	DefaultOutboxMaxMB     = 1024
	DefaultTelemetryFormat = TelemetryCompact
	DefaultBatchMaxAge     = Duration(10 * time.Second)
)

// Ranges of the store and uplink sections and of report by exception.
var (
	commitIntervalRange = [2]Duration{Duration(100 * time.Millisecond), Duration(10 * time.Second)}
	outboxMaxMBRange    = [2]int{1, 1 << 20}
	batchMaxAgeRange    = [2]Duration{Duration(time.Second), Duration(10 * time.Minute)}
	heartbeatRange      = [2]Duration{Duration(time.Second), Duration(24 * time.Hour)}
)

func (s *Site) applyStoreDefaults() {
	if s.Store.CommitInterval == 0 {
		s.Store.CommitInterval = DefaultCommitInterval
	}
	if s.Store.OutboxMaxMB == 0 {
		s.Store.OutboxMaxMB = DefaultOutboxMaxMB
	}
	if s.Uplink.TelemetryFormat == 0 {
		s.Uplink.TelemetryFormat = DefaultTelemetryFormat
	}
	if s.Uplink.BatchMaxAge == 0 {
		s.Uplink.BatchMaxAge = DefaultBatchMaxAge
	}
}

func (s *Site) validateStore(v *problems) {
	checkDuration(v, "store.commit_interval", s.Store.CommitInterval, commitIntervalRange)
	checkInt(v, "store.outbox_max_mb", s.Store.OutboxMaxMB, outboxMaxMBRange)
	if !telemetryFormats.known(s.Uplink.TelemetryFormat) {
		v.add("uplink.telemetry_format", "%s is not a telemetry format (valid: %s)", describeEnum(telemetryFormats, s.Uplink.TelemetryFormat), telemetryFormats.valid())
	}
	checkDuration(v, "uplink.batch_max_age", s.Uplink.BatchMaxAge, batchMaxAgeRange)
}

// validateReport checks a point's report-by-exception settings.
func (p *Point) validateReport(v *problems, path string) {
	if p.Deadband != nil {
		if d := *p.Deadband; d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
			v.add(joinPath(path, "deadband"), "must be a finite number of at least 0 (the change, in the point's unit, that is reported)")
		}
	}
	if p.Heartbeat != 0 {
		checkDuration(v, joinPath(path, "heartbeat"), p.Heartbeat, heartbeatRange)
	}
}

// ReportsByException reports whether the point's readings are sent only on
// change (Deadband, Heartbeat).
func (p Point) ReportsByException() bool { return p.Deadband != nil || p.Heartbeat != 0 }

// report is the point's report by exception for the field layer.
func (p Point) report() field.Report {
	if !p.ReportsByException() {
		return field.Report{}
	}
	r := field.Report{ByException: true, Heartbeat: p.Heartbeat.Std()}
	if p.Deadband != nil {
		r.Deadband = *p.Deadband
	}
	return r
}

// UplinkSettings returns the site's uplink section (without copying the
// rest of the site: the uplink reads it often).
func (g *Gateway) UplinkSettings() UplinkSettings {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.site.Uplink
}
