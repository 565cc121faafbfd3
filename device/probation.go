package device

import (
	"errors"
	"sync"
	"time"
)

// ProbationWindow is how long a change that could cut off the session that
// made it (priority, Ethernet addressing, the Wi-Fi in use) waits for a
// confirmation before it rolls back by itself.
const ProbationWindow = 2 * time.Minute

// ErrNoProbation means no change is on probation.
var ErrNoProbation = errors.New("no change is on probation")

// ProbationState is the change on probation, as the console shows it, and
// how the last one ended.
type ProbationState struct {
	Active    bool
	What      string    // what the change was and which settings make it risky
	By        Actor     // who made it
	Deadline  time.Time // when it rolls back unless confirmed
	Remaining time.Duration
	Last      ProbationOutcome // the last probation that ended (zero: none yet)
}

// ProbationOutcome is how a probation ended.
type ProbationOutcome struct {
	What       string
	Ended      time.Time
	Confirmed  bool
	Expired    bool  // nobody confirmed it in time
	RolledBack bool  // the change was undone
	Err        error // why the rollback failed (a *RevertConflictError names the settings), or nil
}

// probations is the gateway's change on probation. It belongs to the
// gateway, not to a session: the session that made the change may be the
// one it cut off.
type probations struct {
	mu   sync.Mutex
	cur  *probation
	last ProbationOutcome
}

type probation struct {
	what          string
	by            Actor
	before, after *Site
	deadline      time.Time
	done          chan struct{} // closed when settled
	settled       bool
}

// StartProbation puts the change that turned before into after (already
// stored by actor) on probation: unless ConfirmProbation comes within
// ProbationWindow, RevertChange undoes it (only it: what others changed
// meanwhile stays). A newer probation supersedes a running one, which is
// then kept. Audited config.probation.
func (g *Gateway) StartProbation(actor Actor, before, after *Site, what string) error {
	p := &probation{what: what, by: actor, before: before.Clone(), after: after.Clone(),
		deadline: g.now().Add(ProbationWindow), done: make(chan struct{})}
	g.prob.mu.Lock()
	if old := g.prob.cur; old != nil && !old.settled {
		old.settled = true
		close(old.done)
	}
	g.prob.cur = p
	g.prob.mu.Unlock()
	timer := g.clk.NewTimer(ProbationWindow)
	// The countdown ends with the probation: at the deadline, or when it
	// is confirmed, rolled back or superseded.
	go func() {
		defer timer.Stop()
		select {
		case <-timer.C():
			g.settleProbation(p, SystemActor, true)
		case <-p.done:
		}
	}()
	g.Publish(Event{Kind: EventProbation, Detail: what})
	return g.AuditDetail(actor, ActionConfigProbation, "site", ResultOK, truncate(what, 200))
}

// ConfirmProbation keeps the change on probation. Audited config.confirm.
func (g *Gateway) ConfirmProbation(actor Actor) error {
	g.prob.mu.Lock()
	p := g.prob.cur
	if p == nil || p.settled {
		g.prob.mu.Unlock()
		return ErrNoProbation
	}
	p.settled = true
	close(p.done)
	g.prob.last = ProbationOutcome{What: p.what, Ended: g.now(), Confirmed: true}
	g.prob.mu.Unlock()
	g.Publish(Event{Kind: EventProbation, Detail: "confirmed"})
	return g.AuditDetail(actor, ActionConfigConfirm, "site", ResultOK, truncate(p.what, 200))
}

// RollbackProbation undoes the change on probation now, as actor. It
// returns the rollback's error (a *RevertConflictError when a later change
// touched the same settings: nothing is changed then).
func (g *Gateway) RollbackProbation(actor Actor) error {
	g.prob.mu.Lock()
	p := g.prob.cur
	g.prob.mu.Unlock()
	if p == nil {
		return ErrNoProbation
	}
	return g.settleProbation(p, actor, false)
}

// settleProbation rolls p back once, records how it ended, logs and
// audits a failure.
func (g *Gateway) settleProbation(p *probation, actor Actor, expired bool) error {
	g.prob.mu.Lock()
	if p.settled {
		g.prob.mu.Unlock()
		return ErrNoProbation
	}
	p.settled = true
	close(p.done)
	g.prob.mu.Unlock()

	// Outside the lock: the revert is an ordinary site change.
	_, err := g.RevertChange(actor, ActionConfigRollback, p.before, p.after)
	out := ProbationOutcome{What: p.what, Ended: g.now(), Expired: expired, RolledBack: err == nil, Err: err}
	switch {
	case err != nil:
		g.log.Error("probation rollback failed: the change stays", "change", p.what, "err", err)
		var conflict *RevertConflictError
		if errors.As(err, &conflict) {
			// RevertChange stored nothing, so nothing was audited yet.
			_ = g.AuditDetail(actor, ActionConfigRollback, "site", ResultFailed, truncate(err.Error(), 200))
		}
	case expired:
		g.log.Warn("change rolled back: not confirmed in time", "change", p.what)
	default:
		g.log.Info("change rolled back", "change", p.what, "by", actor.ID)
	}
	g.prob.mu.Lock()
	g.prob.last = out
	g.prob.mu.Unlock()
	g.Publish(Event{Kind: EventProbation, Detail: "ended"})
	return err
}

// Probation returns the change on probation, if any, and how the last one
// ended.
func (g *Gateway) Probation() ProbationState {
	g.prob.mu.Lock()
	defer g.prob.mu.Unlock()
	st := ProbationState{Last: g.prob.last}
	if p := g.prob.cur; p != nil && !p.settled {
		st.Active, st.What, st.By, st.Deadline = true, p.what, p.by, p.deadline
		st.Remaining = max(0, p.deadline.Sub(g.now()))
	}
	return st
}
