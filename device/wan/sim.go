package wan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"

	"github.com/sitegate/sitegate/device"
)

// Sim is the simulated network backend: links live in memory, a probe
// sends no traffic and succeeds unless the link was made unreachable, the
// cellular interface's counters grow while it carries traffic. It changes
// nothing on the host. Safe for concurrent use.
type Sim struct {
	clk clockwork.Clock

	mu          sync.Mutex
	unreachable map[string]bool
	sim         int
	simCfg      device.SIM
	active      device.LinkKind
	rx, tx      uint64
	last        time.Time
	activeRate  uint64 // bytes/s on the cellular link while it is the active uplink
	idleRate    uint64 // bytes/s otherwise (probes, keep-alives)
	configured  int
}

// SimOptions configure a Sim.
type SimOptions struct {
	Clock clockwork.Clock // default SystemClock; the manager's clock in tests
	// ActiveRate and IdleRate are the cellular link's traffic in bytes per
	// second while it is, or is not, the active uplink. Zero means the
	// defaults (4 kB/s and 100 B/s); negative means none.
	ActiveRate, IdleRate int
}

// NewSim returns a sim backend with every link reachable.
func NewSim(o SimOptions) *Sim {
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	rate := func(v, def int) uint64 {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return uint64(def)
		}
		return uint64(v)
	}
	return &Sim{clk: o.Clock, unreachable: map[string]bool{}, activeRate: rate(o.ActiveRate, 4000), idleRate: rate(o.IdleRate, 100)}
}

// Name is "sim".
func (s *Sim) Name() string { return "sim" }

// SetReachable makes a link reachable or not: name is one of LinkNames
// (ethernet, wifi, cellular, cellular.sim1, cellular.sim2). A cellular probe
// needs both cellular and the active SIM's name reachable.
func (s *Sim) SetReachable(name string, ok bool) error {
	if !slices.Contains(LinkNames(), name) {
		return fmt.Errorf("unknown link %q (valid: %s)", name, strings.Join(LinkNames(), ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		delete(s.unreachable, name)
	} else {
		s.unreachable[name] = true
	}
	return nil
}

// Reachable reports whether the named link was left reachable.
func (s *Sim) Reachable(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.unreachable[name]
}

// Configure records the call; the simulated links need no settings.
func (s *Sim) Configure(ctx context.Context, site *device.Site) error {
	s.mu.Lock()
	s.configured++
	s.mu.Unlock()
	return nil
}

// Probe succeeds unless the link (or the cellular link's SIM) was made
// unreachable.
func (s *Sim) Probe(ctx context.Context, l Link, targets []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unreachable[l.Name()] {
		return fmt.Errorf("%s: %w", l.Name(), ErrUnreachable)
	}
	if l.Kind == device.LinkCellular {
		name := fmt.Sprintf("cellular.sim%d", l.SIM)
		if s.unreachable[name] {
			return fmt.Errorf("%s: %w", name, ErrUnreachable)
		}
	}
	return nil
}

// Status gives plausible signals: Wi-Fi -54 dBm, cellular -83 dBm on SIM 1
// and -91 dBm on SIM 2.
func (s *Sim) Status(ctx context.Context, l Link) LinkStatus {
	var sig int
	switch l.Kind {
	case device.LinkWiFi:
		sig = -54
	case device.LinkCellular:
		sig = -83
		if l.SIM == 2 {
			sig = -91
		}
	default:
		return LinkStatus{}
	}
	return LinkStatus{Signal: &sig}
}

// SelectSIM records the slot and its settings.
func (s *Sim) SelectSIM(ctx context.Context, l Link, sim device.SIM) error {
	s.mu.Lock()
	s.sim, s.simCfg = l.SIM, sim
	s.mu.Unlock()
	return nil
}

// SelectedSIM returns the slot last selected.
func (s *Sim) SelectedSIM() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sim
}

// Route records the active link (the first of order).
func (s *Sim) Route(ctx context.Context, order []Link) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grow()
	s.active = 0
	if len(order) > 0 {
		s.active = order[0].Kind
	}
	return nil
}

// Routed returns the link Route last put first.
func (s *Sim) Routed() device.LinkKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Counters returns the cellular interface's counters, grown by the
// traffic since the last reading. Other links have none.
func (s *Sim) Counters(ctx context.Context, l Link) (Counters, error) {
	if l.Kind != device.LinkCellular {
		return Counters{}, fmt.Errorf("%s: the sim backend counts cellular traffic only", l.Name())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grow()
	return Counters{RxBytes: s.rx, TxBytes: s.tx}, nil
}

// grow adds the traffic since the last reading. Caller holds s.mu.
func (s *Sim) grow() {
	now := s.clk.Now()
	if !s.last.IsZero() && now.After(s.last) {
		rate := s.idleRate
		if s.active == device.LinkCellular {
			rate = s.activeRate
		}
		n := uint64(now.Sub(s.last).Seconds() * float64(rate))
		s.tx += n * 3 / 4 // telemetry goes up, acknowledgements come down
		s.rx += n - n*3/4
	}
	s.last = now
}

// AddTraffic adds n bytes to the cellular counters (received), as a burst.
func (s *Sim) AddTraffic(n uint64) {
	s.mu.Lock()
	s.grow()
	s.rx += n
	s.mu.Unlock()
}

// SetCounters overwrites the cellular counters, as a modem reset or a
// counter wrap would.
func (s *Sim) SetCounters(c Counters) {
	s.mu.Lock()
	s.grow()
	s.rx, s.tx = c.RxBytes, c.TxBytes
	s.mu.Unlock()
}
