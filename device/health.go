package device

import (
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// Health is the gateway's health report: the `health --json` object. Later
// subsystems add their sections.
type Health struct {
	GatewayID string       `json:"gateway_id"`
	Site      string       `json:"site"`
	SiteRev   uint64       `json:"site_rev"`
	Time      time.Time    `json:"ts"`
	UptimeS   int64        `json:"uptime_s"`
	Sessions  int          `json:"sessions"`
	Store     StoreHealth  `json:"store"`
	Outbox    OutboxHealth `json:"outbox"`
	Field     FieldHealth  `json:"field"`
	Modbus    field.Counts `json:"modbus"` // the Modbus share of Field (kept for older consumers)
	Clock     ClockHealth  `json:"clock"`
	WAN       WANHealth    `json:"wan"`
	Uplink    UplinkHealth `json:"uplink"`
	Firmware  FirmwareInfo `json:"firmware"`
	System    SystemHealth `json:"system"`
	Alerts    []Alert      `json:"alerts"`

	// Firewall is the firewall and the endpoints (site_firewall.go).
	Firewall FirewallHealth `json:"firewall"`
	CoAP     *CoAPHealth    `json:"coap,omitempty"` // when the coap driver runs (site_coap.go)
}

// FieldHealth is the field devices' part of health: online out of total,
// in all and per protocol.
type FieldHealth = field.Summary

// SystemHealth is the gateway process and its data directory (filled by
// device/health).
type SystemHealth struct {
	Starts         uint64 `json:"starts"` // starts since the data directory was created
	StartsLastHour int    `json:"starts_last_hour"`
	StartsLastDay  int    `json:"starts_last_day"`
	MemoryBytes    uint64 `json:"memory_bytes"`
	Goroutines     int    `json:"goroutines"`
	DataBytes      int64  `json:"data_bytes"`
	DiskFreeBytes  uint64 `json:"disk_free_bytes"`
}

// ClockHealth is time keeping's part of health (filled by device/clock).
type ClockHealth struct {
	Synced   bool      `json:"synced"`
	OffsetMS float64   `json:"offset_ms"`
	Source   string    `json:"source"` // the NTP server of the last valid answer, or "none"
	Stratum  int       `json:"stratum,omitempty"`
	LastSync time.Time `json:"last_sync,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// WANHealth is the uplink selection's part of health (filled by device/wan).
type WANHealth struct {
	Active string       `json:"active"` // the active link's name, or "offline"
	Links  []LinkHealth `json:"links"`
}

// LinkHealth is one WAN link.
type LinkHealth struct {
	Name    string  `json:"name"`             // ethernet, wifi, cellular
	State   string  `json:"state"`            // up, down, disabled
	Signal  *int    `json:"signal,omitempty"` // dBm where known
	SIM     int     `json:"sim,omitempty"`    // cellular: active SIM slot
	UsageMB float64 `json:"usage_mb,omitempty"`
	LimitMB int     `json:"limit_mb,omitempty"`
	Detail  string  `json:"detail,omitempty"`
}

// UplinkHealth is the cloud connection's part of health (filled by cloudsync).
type UplinkHealth struct {
	Connected   bool      `json:"connected"`
	Broker      string    `json:"broker,omitempty"`
	LastPublish time.Time `json:"last_publish,omitzero"`
	Error       string    `json:"error,omitempty"`
}

// FirmwareInfo is the running firmware (filled by device/firmware).
type FirmwareInfo struct {
	Version string `json:"version"`
	Slot    string `json:"slot,omitempty"`
	Floor   string `json:"floor,omitempty"` // anti-rollback floor
}

// Alert is a raised health alert.
type Alert struct {
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"` // info, warning, critical
	Since    time.Time `json:"since"`
	Detail   string    `json:"detail,omitempty"`
}

// HealthSource fills its part of a health report. Subsystems register one
// with AddHealthSource; it must be quick and must not block.
type HealthSource func(h *Health)

// AddHealthSource registers a subsystem's part of health.
func (g *Gateway) AddHealthSource(fn HealthSource) {
	g.healthMu.Lock()
	g.healthSources = append(g.healthSources, fn)
	g.healthMu.Unlock()
}

// StoreHealth is the database's part of health.
type StoreHealth struct {
	SizeBytes     int64  `json:"size_bytes"`
	AuditEvents   uint64 `json:"audit_events"`
	AuditCapacity uint64 `json:"audit_capacity"`
	AuditEvicted  uint64 `json:"audit_evicted"`
	AuditLastSeq  uint64 `json:"audit_last_seq"`
	AuditNearFull bool   `json:"audit_near_full"`
}

// OutboxHealth is the uplink queue's part of health.
type OutboxHealth struct {
	Depth      uint64 `json:"depth"`
	Capacity   uint64 `json:"capacity"`
	OldestAgeS int64  `json:"oldest_age_s"`
	Evicted    uint64 `json:"evicted"`
	NearFull   bool   `json:"near_full"`
	// The size bound and readings (commit.go).
	Bytes             uint64   `json:"bytes"`                          // queued
	MaxBytes          uint64   `json:"max_bytes"`                      // store.outbox_max_mb, at most half the free space
	Readings          uint64   `json:"readings"`                       // queued
	EvictedReadings   uint64   `json:"evicted_readings"`               // in evicted records
	Suppressed        uint64   `json:"suppressed"`                     // since start: report by exception
	Dropped           uint64   `json:"dropped"`                        // since start: lost to failing commits
	IngestBytesPerS   float64  `json:"ingest_bytes_per_s"`             // the last ten minutes
	OutageHoursLeft   *float64 `json:"outage_hours_left,omitempty"`    // the room left at that rate
	OutageHoursPerGiB *float64 `json:"outage_hours_per_gib,omitempty"` // hours of outage 1 GiB holds at that rate
}

// Health samples the gateway's health now.
func (g *Gateway) Health() Health {
	now := g.now()
	// The name only: cloning the whole site on every health sample costs
	// more than the rest of it on a large site.
	g.mu.RLock()
	name, rev := g.site.Site.Name, g.rev
	g.mu.RUnlock()
	a := g.st.AuditStats()
	h := Health{
		GatewayID: g.id,
		Site:      name,
		SiteRev:   rev,
		Time:      now.UTC(),
		UptimeS:   int64(now.Sub(g.started).Seconds()),
		Sessions:  len(g.Sessions()),
		Store: StoreHealth{
			SizeBytes: g.st.Size(), AuditEvents: a.Count, AuditCapacity: a.Capacity,
			AuditEvicted: a.Evicted, AuditLastSeq: a.LastSeq, AuditNearFull: a.NearlyFull(),
		},
		Outbox: g.OutboxFigures(),
		Field:  g.field.Summary(),
		Clock:  ClockHealth{Source: "none"},
		WAN:    WANHealth{Active: "unknown", Links: []LinkHealth{}},
		Alerts: []Alert{},
	}
	g.healthMu.Lock()
	sources := append([]HealthSource(nil), g.healthSources...)
	g.healthMu.Unlock()
	h.Modbus = h.Field.Protocols[field.Modbus.String()]
	for _, fn := range sources {
		fn(&h)
	}
	return h
}
