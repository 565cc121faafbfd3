package device

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
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
	// Serial is the certificate serial of an actor who logged in with an
	// SSH user certificate (ID "cert:KEYID"); every audit event of such an
	// actor records it (site_access.go).
	Serial uint64
}

// LocalActor is the operator of an offline command on the gateway itself:
// whoever can run it has physical access.
var LocalActor = Actor{ID: "local", Role: "local"}

// SystemActor is the gateway acting on its own (start-up, sync).
var SystemActor = Actor{ID: "system", Role: "system"}

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
	// Clock runs the gateway's own timers (a change on probation). Default
	// clockwork.System; when Now is nil it is also the clock.
	Clock clockwork.Clock
	// Logger receives what the gateway logs itself (a probation that
	// rolled back, or could not; a group commit of readings that failed).
	// Default: the Logs ring only.
	Logger *slog.Logger
	// Heavy bounds heavy operations (site-file decodes, scans, firmware);
	// zero fields take the defaults.
	Heavy LimiterOptions
}

// Gateway is the runtime object that the console, the CLI and the uplink
// talk to: it reads and changes the site as an actor, writes the audit
// trail and queues what the cloud must hear. It is safe for concurrent use.
type Gateway struct {
	st      *store.Store
	id      string
	now     func() time.Time
	clk     clockwork.Clock
	log     *slog.Logger
	started time.Time

	bus   *bus
	sess  sessions
	logs  *LogRing
	heavy *Limiter

	field  *field.Hub
	commit *Committer
	prob   probations // the change on probation (probation.go)

	fieldMu  sync.RWMutex // guards the attached subsystems below
	uplink   Uplink
	firmware FirmwareUpdater
	network  Network
	support  SupportWindow
	reports  *ReportKey // signs commissioning reports (report.go)

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
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	if o.Now == nil {
		o.Now = o.Clock.Now
	}
	if o.Logs == nil {
		o.Logs = NewLogRing(1000)
	}
	if o.Logger == nil {
		o.Logger = slog.New(o.Logs.Handler(slog.DiscardHandler))
	}
	g := &Gateway{st: st, now: o.Now, clk: o.Clock, log: o.Logger, started: o.Now(), bus: newBus(), logs: o.Logs, heavy: NewLimiter(o.Heavy)}

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
		_, err := tx.AppendAudit(auditEvent(SystemActor, ActionGatewayCreate, id, ResultOK, ""))
		return err
	})
	if err != nil {
		return nil, err
	}
	raw, _ := st.Meta(metaGatewayID)
	g.id = string(raw)
	if _, err := migrateSiteSecrets(st); err != nil {
		return nil, err
	}
	site, rev, lost, err := loadSite(st)
	if err != nil {
		return nil, err
	}
	if lost != nil {
		// The gateway still starts: the secrets have to be set again.
		_ = g.AuditDetail(SystemActor, ActionSecretLost, fmt.Sprintf("site@%d", rev), ResultFailed, truncate(lost.Error()+"; set them again", store.MaxAuditField))
	}
	g.site, g.rev = site, rev
	g.commit = newCommitter(st, site)
	g.commit.SetLogger(o.Logger)
	g.field = field.NewHub(field.HubOptions{
		Readings: g.commit.Add,
		Notify:   func(device string) { g.Publish(Event{Kind: EventReadings, Device: device}) },
	})
	g.field.SetTopology(site.FieldDevices())
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

// loadSite reads the current site with its secrets from the secret store.
// Secrets that cannot be read any more come back empty, and lost says
// which (see OpenSite).
func loadSite(st *store.Store) (site *Site, rev uint64, lost error, err error) {
	err = st.View(func(tx *store.Tx) error {
		r, err := tx.Config(SiteDoc)
		if errors.Is(err, store.ErrNotFound) {
			site = DefaultSite()
			return nil
		}
		if err != nil {
			return err
		}
		rev = r.Rev
		site, err = OpenSite(tx, r.Body)
		if errors.Is(err, ErrSecretLost) {
			lost, err = err, nil
		}
		if err != nil {
			return fmt.Errorf("stored site revision %d is unreadable: %w", r.Rev, err)
		}
		site.ApplyDefaults()
		return nil
	})
	return site, rev, lost, err
}

// Heavy returns the limiter every path that runs a heavy operation (config
// diff and import, bus scans, firmware applies) acquires first, so that
// they are bounded per user and in total whoever starts them.
func (g *Gateway) Heavy() *Limiter { return g.heavy }

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

// Edit says who changes the site, how the change is called in the audit
// log, and which revision it was made from.
type Edit struct {
	Actor  Actor
	Action Action // e.g. config.change, config.import, sync.applied
	// Base is the site revision the change was made from (0: the site was
	// never configured). A change whose Base is not the current revision is
	// refused with a *StaleError, unless Force.
	Base uint64
	// Force applies the change over a newer revision; the audit event
	// says so.
	Force bool
	// Guard vets this change like the registered guards, inside the same
	// lock (a rule about who makes it, e.g. tui/access's roles).
	Guard SiteGuard
}

// ErrStale means a change was based on a revision of the site that is no
// longer the current one: someone else changed the site meanwhile.
var ErrStale = errors.New("the site changed since this change was based on it")

// StaleError is a refused stale change: what it was based on, and who
// changed what since.
type StaleError struct {
	Base    uint64    // the revision the change was based on
	Current uint64    // the current revision
	Author  string    // actor id of the current revision
	Time    time.Time // when the current revision was stored
	Changed []string  // site paths that differ between Base and Current (empty when Base is no longer kept)
}

func (e *StaleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the site changed since this change was based on it (revision %d, now %d", e.Base, e.Current)
	if e.Author != "" {
		fmt.Fprintf(&b, ", by %s at %s", e.Author, e.Time.UTC().Format(time.RFC3339))
	}
	b.WriteString(")")
	if len(e.Changed) > 0 {
		b.WriteString("; changed: " + strings.Join(e.Changed, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrStale) true.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// ApplySite validates next and, when it differs from the current site,
// stores it as a new revision authored by e.Actor — if e.Base is still the
// current revision, checked inside the transaction that writes it. The
// revision, its audit event (e.Action) and the config/reported outbox
// record commit in one transaction. Secrets given as "<set>" keep their
// stored values. A site that does not validate is refused with every
// problem, a stale one with a *StaleError; nothing is stored then.
//
// Every change of the site goes through here: console edits, exec and
// offline imports, the cloud's desired configuration, probation rollbacks.
func (g *Gateway) ApplySite(e Edit, next *Site) (Change, error) {
	ch, previous, stored, err := g.applySite(e, next)
	if err != nil || ch.Unchanged {
		return ch, err
	}
	// Observers and subscribers run after the site lock is released: they
	// may read the site.
	g.healthMu.Lock()
	observers := append([]SiteObserver(nil), g.observers...)
	g.healthMu.Unlock()
	for _, fn := range observers {
		fn(previous.Clone(), stored.Clone(), e.Actor)
	}
	g.Publish(Event{Kind: EventSite, Rev: ch.Rev})
	return ch, nil
}

// EditSite applies fn to a copy of the current site and stores the result
// based on the revision it was read at (see ApplySite). It suits changes
// made on the spot; a change a person prepared from an earlier reading must
// pass that reading's revision to ApplySite instead.
func (g *Gateway) EditSite(actor Actor, action Action, fn func(s *Site) error) (Change, error) {
	s, rev := g.Site()
	if err := fn(s); err != nil {
		return Change{Rev: rev}, err
	}
	return g.ApplySite(Edit{Actor: actor, Action: action, Base: rev}, s)
}

// applySite stores a change under the site lock and returns the previous
// and the stored site.
func (g *Gateway) applySite(e Edit, next *Site) (Change, *Site, *Site, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := fmt.Sprintf("site@%d", g.rev)
	if !e.Force && e.Base != g.rev {
		err := g.staleError(e.Base)
		_ = g.AuditDetail(e.Actor, e.Action, target, ResultDenied, truncate(err.Error(), 200))
		return Change{Rev: g.rev}, nil, nil, err
	}
	next = next.Clone()
	next.Revision = nil
	if err := CheckSite(next, g.site); err != nil {
		return Change{Rev: g.rev}, nil, nil, err
	}
	g.healthMu.Lock()
	guards := append([]SiteGuard(nil), g.guards...)
	g.healthMu.Unlock()
	if e.Guard != nil {
		// Who may make the change is decided before what it may change.
		guards = append([]SiteGuard{e.Guard}, guards...)
	}
	for _, guard := range guards {
		if err := guard(g.site, next, e.Actor); err != nil {
			_ = g.AuditDetail(e.Actor, e.Action, target, ResultDenied, truncate(err.Error(), 200))
			return Change{Rev: g.rev}, nil, nil, err
		}
	}
	body, err := json.Marshal(next)
	if err != nil {
		return Change{}, nil, nil, err
	}
	current, _ := json.Marshal(g.site)
	if g.rev > 0 && bytes.Equal(body, current) {
		err := g.Audit(e.Actor, e.Action, target, ResultUnchanged)
		return Change{Rev: g.rev, Unchanged: true}, nil, nil, err
	}
	detail := ""
	if e.Force && e.Base != g.rev {
		detail = fmt.Sprintf("forced over revision %d (based on %d)", g.rev, e.Base)
	}
	var rev uint64
	err = g.st.Update(func(tx *store.Tx) error {
		// The check that counts: inside the transaction that writes.
		var cur uint64
		if r, err := tx.Config(SiteDoc); err == nil {
			cur = r.Rev
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !e.Force && cur != e.Base {
			return &StaleError{Base: e.Base, Current: cur}
		}
		// The revision refers to the secret store; it never holds a secret.
		sealed, err := SealSite(tx, next, SiteSecretPrefix)
		if err != nil {
			return err
		}
		r, err := tx.PutConfig(SiteDoc, e.Actor.ID, sealed)
		if err != nil {
			return err
		}
		rev = r.Rev
		if _, err := tx.AppendAudit(auditEvent(e.Actor, e.Action, fmt.Sprintf("site@%d", rev), ResultOK, detail)); err != nil {
			return err
		}
		reported, err := json.Marshal(struct {
			Rev  uint64 `json:"rev"`
			Site *Site  `json:"site"`
		}{rev, next.Redacted()})
		if err != nil {
			return err
		}
		_, err = tx.Enqueue(string(StreamConfigReported), reported)
		return err
	})
	if err != nil {
		return Change{Rev: g.rev}, nil, nil, fmt.Errorf("store site: %w", err)
	}
	previous := g.site
	g.site, g.rev = next, rev
	g.field.SetTopology(next.FieldDevices())
	g.commit.setSite(next)
	return Change{Rev: rev}, previous, next, nil
}

// staleError says who changed what since base.
func (g *Gateway) staleError(base uint64) *StaleError {
	e := &StaleError{Base: base, Current: g.rev}
	hist, _ := g.st.ConfigHistory(SiteDoc, 0)
	var baseBody []byte
	for _, r := range hist {
		if r.Rev == g.rev {
			e.Author, e.Time = r.Author, r.Time
			if base == 0 {
				baseBody, _ = json.Marshal(DefaultSite())
			}
		}
		if r.Rev == base {
			baseBody = r.Body
		}
	}
	if baseBody != nil && len(hist) > 0 {
		e.Changed = ChangedPaths(baseBody, hist[0].Body, 12)
	}
	return e
}

// ImportYAML parses a site file and applies it (see ApplySite). A file that
// carries `revision: N` (config export writes it) is based on revision N;
// one without is based on the current revision. Decoding and validation
// problems are reported together.
func (g *Gateway) ImportYAML(e Edit, data []byte) (Change, error) {
	current, rev := g.Site()
	s, err := ImportSiteYAML(data, current)
	if err != nil {
		return Change{Rev: rev}, err
	}
	e.Base = rev
	if s.Revision != nil {
		e.Base = *s.Revision
	}
	ch, err := g.ApplySite(e, s)
	var stale *StaleError
	if errors.As(err, &stale) && s.Revision != nil {
		return ch, &ImportStaleError{StaleError: stale}
	}
	return ch, err
}

// ImportStaleError is a site file exported at an older revision.
type ImportStaleError struct{ *StaleError }

func (e *ImportStaleError) Error() string {
	msg := fmt.Sprintf("the site changed since this file was exported (revision %d, now %d): run config diff, or import with --force", e.Base, e.Current)
	if len(e.Changed) > 0 {
		msg += "; changed since: " + strings.Join(e.Changed, ", ")
	}
	return msg
}

// Unwrap gives the StaleError.
func (e *ImportStaleError) Unwrap() error { return e.StaleError }

// ExportYAML returns the current site as a site file, secrets as "<set>".
func (g *Gateway) ExportYAML() ([]byte, error) {
	s, rev := g.Site()
	if rev > 0 {
		s.Revision = &rev
	}
	return EncodeSiteYAML(s)
}

// Audit appends one event by actor.
func (g *Gateway) Audit(actor Actor, action Action, target string, result Result) error {
	return g.AuditDetail(actor, action, target, result, "")
}

// AuditDetail appends one event by actor with a detail (never a secret or
// personal data).
func (g *Gateway) AuditDetail(actor Actor, action Action, target string, result Result, detail string) error {
	_, err := g.st.AppendAudit(auditEvent(actor, action, target, result, detail))
	return err
}

// AuditEvent builds the store's record of an audit event, for subsystems
// that append it inside their own transaction.
func AuditEvent(actor Actor, action Action, target string, result Result, detail string) store.AuditEvent {
	return auditEvent(actor, action, target, result, detail)
}

// auditEvent builds the store's record of an audit event.
func auditEvent(actor Actor, action Action, target string, result Result, detail string) store.AuditEvent {
	detail = actor.certDetail(detail)
	return store.AuditEvent{Actor: actor.ID, Role: actor.Role, Action: string(action), Target: target, Result: string(result), Detail: detail}
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

// Rev returns the site's current revision (0 when never configured).
func (g *Gateway) Rev() uint64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.rev
}
