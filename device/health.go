package device

import "time"

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
	Modbus    ModbusHealth `json:"modbus"`
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
}

// Health samples the gateway's health now.
func (g *Gateway) Health() Health {
	now := g.now()
	site, rev := g.Site()
	a := g.st.AuditStats()
	o := g.st.OutboxStats()
	return Health{
		GatewayID: g.id,
		Site:      site.Site.Name,
		SiteRev:   rev,
		Time:      now.UTC(),
		UptimeS:   int64(now.Sub(g.started).Seconds()),
		Sessions:  len(g.Sessions()),
		Store: StoreHealth{
			SizeBytes: g.st.Size(), AuditEvents: a.Count, AuditCapacity: a.Capacity,
			AuditEvicted: a.Evicted, AuditLastSeq: a.LastSeq, AuditNearFull: a.NearlyFull(),
		},
		Outbox: OutboxHealth{
			Depth: o.Depth, Capacity: o.Capacity, OldestAgeS: int64(o.OldestAge(now).Seconds()),
			Evicted: o.Evicted, NearFull: o.NearlyFull(),
		},
		Modbus: g.modbusHealth(),
	}
}
