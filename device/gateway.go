package device

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/store"
)

// SiteDoc is the config document that holds the site.
const SiteDoc = "site"

// metaGatewayID is the store metadata key of the gateway id.
const metaGatewayID = "gateway_id"

// Actor is who does something: an account id and role, never a name or a
// contact detail, because audit records hold no personal data.
type Actor struct {
	ID   string
	Role string
}

// LocalActor is the operator of an offline command on the gateway itself:
// whoever can run it has physical access.
var LocalActor = Actor{ID: "local", Role: "local"}

// SystemActor is the gateway acting on its own (start-up, sync).
var SystemActor = Actor{ID: "system", Role: "system"}

// Audit results.
const (
	ResultOK        = "ok"
	ResultDenied    = "denied"
	ResultFailed    = "failed"
	ResultUnchanged = "unchanged"
)

// GatewayOptions configure a Gateway.
type GatewayOptions struct {
	// GatewayID is used on first start when the store has no id yet. Empty:
	// a random id is generated. A different id on a later start is an error.
	GatewayID string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logs is the in-memory system log the console shows (default: a ring
	// of 1,000 records that nothing writes to).
	Logs *LogRing
}

// Gateway is the runtime object that the console, the CLI and the uplink
// talk to: it reads and changes the site as an actor, writes the audit
// trail and queues what the cloud must hear. It is safe for concurrent use.
type Gateway struct {
	st      *store.Store
	id      string
	now     func() time.Time
	started time.Time

	bus  *bus
	sess sessions
	logs *LogRing

	fieldMu  sync.RWMutex
	field    fieldState
	uplink   Uplink
	firmware FirmwareUpdater
	network  Network

	healthMu      sync.Mutex
	healthSources []HealthSource
	guards        []SiteGuard
	observers     []SiteObserver

	mu   sync.RWMutex
	site *Site
	rev  uint64
}

// NewGateway loads the gateway's identity and site from st, creating the
// gateway id on first start.
func NewGateway(st *store.Store, o GatewayOptions) (*Gateway, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logs == nil {
		o.Logs = NewLogRing(1000)
	}
	g := &Gateway{st: st, now: o.Now, started: o.Now(), bus: newBus(), logs: o.Logs}
	g.sess.open = map[uint64]sessionEntry{}
	err := st.Update(func(tx *store.Tx) error {
		id := string(tx.Meta(metaGatewayID))
		switch {
		case id == "" && o.GatewayID != "":
			if err := ValidateGatewayID(o.GatewayID); err != nil {
				return err
			}
			id = o.GatewayID
		case id == "":
			id = newGatewayID()
		case o.GatewayID != "" && o.GatewayID != id:
			return fmt.Errorf("--gateway-id %s does not match this data directory's gateway id %s; omit the flag or use another data directory", o.GatewayID, id)
		default:
			return nil
		}
		if err := tx.PutMeta(metaGatewayID, []byte(id)); err != nil {
			return err
		}
		_, err := tx.AppendAudit(store.AuditEvent{Actor: SystemActor.ID, Role: SystemActor.Role, Action: "gateway.create", Target: id, Result: ResultOK})
		return err
	})
	if err != nil {
		return nil, err
	}
	raw, _ := st.Meta(metaGatewayID)
	g.id = string(raw)
	site, rev, err := loadSite(st)
	if err != nil {
		return nil, err
	}
	g.site, g.rev = site, rev
	// Every committed audit event, whoever wrote it, goes to live screens.
	st.OnAudit(func(e store.AuditEvent) { g.Publish(Event{Kind: EventAudit, Audit: e}) })
	o.Logs.setNotify(func(r LogRecord) { g.Publish(Event{Kind: EventLog, Log: r}) })
	return g, nil
}

// Logs returns the system log records kept in memory, oldest first.
func (g *Gateway) Logs() []LogRecord { return g.logs.Records() }

// ValidateGatewayID checks a provisioned gateway id: it becomes part of MQTT
// topics and the TLS identity, so it is restricted to a safe alphabet.
func ValidateGatewayID(id string) error {
	if len(id) < 3 || len(id) > 64 {
		return fmt.Errorf("gateway id %q must be 3..64 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("gateway id %q may only hold lower-case letters, digits and '-'", id)
		}
	}
	return nil
}

func newGatewayID() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no look-alikes
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	var sb strings.Builder
	sb.WriteString("sg-")
	for _, c := range b {
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String()
}

func loadSite(st *store.Store) (*Site, uint64, error) {
	r, err := st.Config(SiteDoc)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultSite(), 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var s Site
	if err := json.Unmarshal(r.Body, &s); err != nil {
		return nil, 0, fmt.Errorf("stored site revision %d is unreadable: %w", r.Rev, err)
	}
	s.ApplyDefaults()
	return &s, r.Rev, nil
}

// ID returns the gateway id.
func (g *Gateway) ID() string { return g.id }

// Store returns the gateway's store, for the subsystems that own their data.
func (g *Gateway) Store() *store.Store { return g.st }

// Started returns when this Gateway was created.
func (g *Gateway) Started() time.Time { return g.started }

// Now returns the gateway's clock reading.
func (g *Gateway) Now() time.Time { return g.now() }

// Site returns a copy of the current site and its revision (0 when the
// site was never configured).
func (g *Gateway) Site() (*Site, uint64) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.site.Clone(), g.rev
}

// SiteGuard vets a change of the site by actor before it is stored, beyond
// validation: a rule that depends on the old site or on who makes the
// change (a radio disabled permanently may only be re-enabled with physical
// access). A non-nil error refuses the change and is shown to the actor.
type SiteGuard func(current, next *Site, actor Actor) error

// AddSiteGuard registers a guard that every ApplySite runs, whatever the
// path (console, exec import, cloud sync, offline CLI).
func (g *Gateway) AddSiteGuard(fn SiteGuard) {
	g.healthMu.Lock()
	g.guards = append(g.guards, fn)
	g.healthMu.Unlock()
}

// SiteObserver hears about a change of the site by actor after it was
// stored (e.g. to audit what the change means: radio.disable).
type SiteObserver func(previous, next *Site, actor Actor)

// AddSiteObserver registers an observer that every successful ApplySite
// calls.
func (g *Gateway) AddSiteObserver(fn SiteObserver) {
	g.healthMu.Lock()
	g.observers = append(g.observers, fn)
	g.healthMu.Unlock()
}

// Change is the outcome of ApplySite.
type Change struct {
	Rev       uint64 // the site's revision after the change
	Unchanged bool   // the new site equals the current one; nothing was stored
}

// ApplySite validates next and, when it differs from the current site,
// stores it as a new revision authored by actor. The revision, its audit
// event (action, e.g. "config.change" or "config.import") and the
// config/reported outbox record commit in one transaction. Secrets given as
// "<set>" keep their stored values. A site that does not validate is
// refused with every problem and nothing is stored.
func (g *Gateway) ApplySite(actor Actor, next *Site, action string) (Change, error) {
	ch, previous, stored, err := g.applySite(actor, next, action)
	if err != nil || ch.Unchanged {
		return ch, err
	}
	// Observers and subscribers run after the site lock is released: they
	// may read the site.
	g.healthMu.Lock()
	observers := append([]SiteObserver(nil), g.observers...)
	g.healthMu.Unlock()
	for _, fn := range observers {
		fn(previous.Clone(), stored.Clone(), actor)
	}
	g.Publish(Event{Kind: EventSite, Rev: ch.Rev})
	return ch, nil
}

// applySite stores a change under the site lock and returns the previous
// and the stored site.
func (g *Gateway) applySite(actor Actor, next *Site, action string) (Change, *Site, *Site, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next = next.Clone()
	if err := CheckSite(next, g.site); err != nil {
		return Change{Rev: g.rev}, nil, nil, err
	}
	g.healthMu.Lock()
	guards := append([]SiteGuard(nil), g.guards...)
	g.healthMu.Unlock()
	for _, guard := range guards {
		if err := guard(g.site, next, actor); err != nil {
			_, _ = g.st.AppendAudit(store.AuditEvent{Actor: actor.ID, Role: actor.Role, Action: action, Target: fmt.Sprintf("site@%d", g.rev), Result: ResultDenied, Detail: truncate(err.Error(), 200)})
			return Change{Rev: g.rev}, nil, nil, err
		}
	}
	body, err := json.Marshal(next)
	if err != nil {
		return Change{}, nil, nil, err
	}
	current, _ := json.Marshal(g.site)
	if g.rev > 0 && bytes.Equal(body, current) {
		_, err := g.st.AppendAudit(store.AuditEvent{Actor: actor.ID, Role: actor.Role, Action: action, Target: fmt.Sprintf("site@%d", g.rev), Result: ResultUnchanged})
		return Change{Rev: g.rev, Unchanged: true}, nil, nil, err
	}
	var rev uint64
	err = g.st.Update(func(tx *store.Tx) error {
		r, err := tx.PutConfig(SiteDoc, actor.ID, body)
		if err != nil {
			return err
		}
		rev = r.Rev
		if _, err := tx.AppendAudit(store.AuditEvent{Actor: actor.ID, Role: actor.Role, Action: action, Target: fmt.Sprintf("site@%d", rev), Result: ResultOK}); err != nil {
			return err
		}
		reported, err := json.Marshal(struct {
			Rev  uint64 `json:"rev"`
			Site *Site  `json:"site"`
		}{rev, next.Redacted()})
		if err != nil {
			return err
		}
		_, err = tx.Enqueue("config/reported", reported)
		return err
	})
	if err != nil {
		return Change{Rev: g.rev}, nil, nil, fmt.Errorf("store site: %w", err)
	}
	previous := g.site
	g.site, g.rev = next, rev
	return Change{Rev: rev}, previous, next, nil
}

// ImportYAML parses a site file and applies it as actor (see ApplySite).
// Decoding and validation problems are reported together.
func (g *Gateway) ImportYAML(actor Actor, data []byte, action string) (Change, error) {
	current, rev := g.Site()
	s, err := ImportSiteYAML(data, current)
	if err != nil {
		return Change{Rev: rev}, err
	}
	return g.ApplySite(actor, s, action)
}

// ExportYAML returns the current site as a site file, secrets as "<set>".
func (g *Gateway) ExportYAML() ([]byte, error) {
	s, _ := g.Site()
	return EncodeSiteYAML(s)
}

// Audit appends one event by actor.
func (g *Gateway) Audit(actor Actor, action, target, result string) error {
	return g.AuditDetail(actor, action, target, result, "")
}

// AuditDetail appends one event by actor with a detail (never a secret or
// personal data).
func (g *Gateway) AuditDetail(actor Actor, action, target, result, detail string) error {
	_, err := g.st.AppendAudit(store.AuditEvent{Actor: actor.ID, Role: actor.Role, Action: action, Target: target, Result: result, Detail: detail})
	return err
}

// CheckSite prepares next to replace stored: it fills defaults, takes the
// stored secrets where next says "<set>" and validates the result. It
// returns every problem in one *ValidationError, or nil.
func CheckSite(next, stored *Site) error {
	next.ApplyDefaults()
	var problems []Problem
	if err := next.KeepSecrets(stored); err != nil {
		problems = append(problems, problemsOf(err)...)
	}
	if err := next.Validate(); err != nil {
		problems = append(problems, problemsOf(err)...)
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

func problemsOf(err error) []Problem {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	return []Problem{{Path: "", Message: err.Error()}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
