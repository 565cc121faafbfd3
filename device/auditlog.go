package device

import (
	"time"

	"github.com/sitegate/sitegate/store"
)

// AuditRecord is one event of the tamper-evident audit chain (binding JSON
// fields: seq, ts, actor, role, action, target, result, hash).
type AuditRecord = store.AuditEvent

// AuditFilter selects audit records: after a sequence number, at most a
// number of them, the newest ones.
type AuditFilter = store.AuditFilter

// AuditReader reads the audit log, oldest first.
type AuditReader interface {
	ListAudit(f AuditFilter) ([]AuditRecord, error)
}

// AuditLog returns the reader of the gateway's audit log.
func (g *Gateway) AuditLog() AuditReader { return g.st }

// SiteRevision is one stored revision of the site, without its body.
type SiteRevision struct {
	Rev    uint64
	Author string // the account id (or local/system) that stored it
	Time   time.Time
}

// SiteHistory returns the newest stored revisions of the site, newest
// first, at most limit of them (0: all that are kept).
func (g *Gateway) SiteHistory(limit int) ([]SiteRevision, error) {
	hist, err := g.st.ConfigHistory(SiteDoc, limit)
	if err != nil {
		return nil, err
	}
	out := make([]SiteRevision, len(hist))
	for i, r := range hist {
		out[i] = SiteRevision{Rev: r.Rev, Author: r.Author, Time: r.Time}
	}
	return out, nil
}

// OutboxFigures returns the uplink queue's figures now (the outbox part of
// Health, without sampling the rest).
func (g *Gateway) OutboxFigures() OutboxHealth {
	o := g.st.OutboxStats()
	out := OutboxHealth{Depth: o.Depth, Capacity: o.Capacity, OldestAgeS: int64(o.OldestAge(g.now()).Seconds()),
		Evicted: o.Evicted, NearFull: o.NearlyFull()}
	g.commit.fillOutbox(&out, o)
	return out
}
