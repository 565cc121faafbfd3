package wan

import (
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"

	"github.com/sitegate/sitegate/device"
)

// ProbationWindow is how long a risky network change waits for the
// installer's confirmation before it rolls back.
const ProbationWindow = 2 * time.Minute

// RiskyChanges lists the parts of a site change that could cut off the
// session that makes it, by path: wan.priority, wan.probe (targets no
// link reaches make every link down), wan.ethernet, and the connection
// settings of wifi and cellular. An empty list means the change cannot
// disconnect anyone and needs no probation.
func RiskyChanges(old, next *device.Site) []string {
	if old == nil || next == nil {
		return nil
	}
	var out []string
	add := func(path string, changed bool) {
		if changed {
			out = append(out, path)
		}
	}
	add("wan.priority", !slices.Equal(old.WAN.Priority, next.WAN.Priority))
	add("wan.probe", !reflect.DeepEqual(old.WAN.Probe, next.WAN.Probe))
	add("wan.ethernet", old.WAN.Ethernet != next.WAN.Ethernet)
	ow, nw := old.WiFi, next.WiFi
	add("wifi", ow.Enabled != nw.Enabled || ow.PermanentlyDisabled != nw.PermanentlyDisabled || ow.Interface != nw.Interface ||
		ow.SSID != nw.SSID || ow.Security != nw.Security || (nw.Passphrase != ow.Passphrase && !nw.Passphrase.IsPlaceholder()))
	oc, nc := old.Cellular, next.Cellular
	simsChanged := len(oc.SIMs) != len(nc.SIMs)
	for i := 0; !simsChanged && i < len(nc.SIMs); i++ {
		o, n := oc.SIMs[i], nc.SIMs[i]
		simsChanged = o.Slot != n.Slot || o.APN != n.APN || (n.PIN != o.PIN && !n.PIN.IsPlaceholder())
	}
	add("cellular", oc.Enabled != nc.Enabled || oc.Interface != nc.Interface || simsChanged)
	return out
}

// Probation is a change applied on trial: unless Confirm is called within
// its window, it calls its rollback function. Safe for concurrent use.
type Probation struct {
	clk      clockwork.Clock
	deadline time.Time
	ticker   clockwork.Ticker
	rollback func() error

	mu      sync.Mutex
	settled bool
	rolled  bool
	err     error
	done    chan struct{}
}

// StartProbation starts the countdown of a change that was just applied:
// after window (measured on clk), rollback runs unless Confirm came first.
// rollback should re-apply the site as it was (for example
// gw.ApplySite(device.Edit{Actor: actor, Action: "config.rollback", Base: gw.Rev()}, previous)).
func StartProbation(clk clockwork.Clock, window time.Duration, rollback func() error) *Probation {
	if clk == nil {
		clk = clockwork.System
	}
	p := &Probation{clk: clk, deadline: clk.Now().Add(window), ticker: clk.NewTicker(window), rollback: rollback, done: make(chan struct{})}
	go func() {
		select {
		case <-p.ticker.C():
			p.settle(true)
		case <-p.done:
		}
		p.ticker.Stop()
	}()
	return p
}

// settle ends the probation once; with roll set it runs the rollback.
func (p *Probation) settle(roll bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.settled {
		return false
	}
	p.settled, p.rolled = true, roll
	if roll {
		p.err = p.rollback()
	}
	close(p.done)
	return true
}

// Confirm keeps the change. It reports false when the probation had
// already ended (rolled back, or confirmed before).
func (p *Probation) Confirm() bool { return p.settle(false) }

// Cancel rolls back at once, as the expiry would.
func (p *Probation) Cancel() error {
	p.settle(true)
	_, err := p.Result()
	return err
}

// Remaining returns the time left before the rollback (0 once settled),
// for the console's countdown.
func (p *Probation) Remaining() time.Duration {
	p.mu.Lock()
	settled := p.settled
	p.mu.Unlock()
	if settled {
		return 0
	}
	return max(0, p.deadline.Sub(p.clk.Now()))
}

// Done is closed when the probation is confirmed or rolled back.
func (p *Probation) Done() <-chan struct{} { return p.done }

// Result reports whether the change was rolled back and the rollback's
// error; both are zero while the probation runs or after a confirmation.
func (p *Probation) Result() (rolledBack bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rolled, p.err
}
