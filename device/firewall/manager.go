package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/endpoints"
)

// Counter is one named counter's value.
type Counter = device.DropCounter

// Backend writes the table: Netfilter on Linux.
type Backend interface {
	Apply(sp *Spec, keep map[string]Counter) error
	Remove() error
	Exists() (bool, error)
	Counters() (map[string]Counter, error)
}

// ErrNoBackend means the firewall cannot run on this system.
var ErrNoBackend = errors.New("the firewall needs Linux nftables (sitegate run --net linux)")

// Options configure a Manager.
type Options struct {
	Gateway *device.Gateway
	// Endpoints is the allow-list whose addresses the output chain lets
	// out; nil: the output chain is open.
	Endpoints *endpoints.List
	// SSHAddr is the console's listen address (see BuildOptions).
	SSHAddr string
	// VPN is the support tunnel's interface (see BuildOptions).
	VPN string
	// Resolvers are the DNS servers the output chain lets the gateway ask
	// (default those of /etc/resolv.conf).
	Resolvers []netip.Addr
	// Backend writes the table (default Netfilter in the process's own
	// network namespace).
	Backend Backend
	Logger  *slog.Logger
}

// Manager keeps table inet sitegate equal to what the site allows.
type Manager struct {
	o    Options
	gw   *device.Gateway
	be   Backend
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	spec    *Spec // last applied; nil: no table
	enabled bool
	applied time.Time
	err     error
	checked bool // looked for a table left by an earlier run
}

// New returns a Manager; it changes nothing until Run. Turning the
// firewall on from a session goes on probation (see RiskyChanges).
func New(o Options) (*Manager, error) {
	if o.Gateway == nil {
		return nil, errors.New("firewall: no gateway")
	}
	m := &Manager{o: o, gw: o.Gateway, be: o.Backend, log: o.Logger, wake: make(chan struct{}, 1)}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.be == nil {
		nf, err := openDefault()
		if err != nil {
			return nil, err
		}
		m.be = nf
	}
	if m.o.Resolvers == nil {
		rs, err := endpoints.SystemResolvers()
		if err != nil {
			m.log.Warn("no DNS resolvers: the output chain lets no DNS out", "err", err)
		}
		for _, r := range rs {
			m.o.Resolvers = append(m.o.Resolvers, r.Addr())
		}
	}
	m.gw.AddSiteObserver(m.observe)
	return m, nil
}

// RiskyChanges lists what in a change of the site could cut off the
// session making it: turning the firewall on (the session's own traffic
// is allowed by design, but a console reached some other way than the
// configured SSH address would not be).
func RiskyChanges(old, next *device.Site) []string {
	if old != nil && next != nil && !old.Firewall.Enabled && next.Firewall.Enabled {
		return []string{"firewall.enabled"}
	}
	return nil
}

// observe puts a risky change made from a session on probation, and
// applies the change.
func (m *Manager) observe(prev, next *device.Site, actor device.Actor) {
	if r := RiskyChanges(prev, next); len(r) > 0 && actor != device.SystemActor && actor != device.LocalActor {
		if err := m.gw.StartProbation(actor, prev, next, "firewall turned on: "+r[0]); err != nil {
			m.log.Error("put the firewall change on probation", "err", err)
		}
	}
	m.Kick()
}

// Kick makes Run apply the site and the endpoints' addresses again (the
// endpoints list calls it when addresses change).
func (m *Manager) Kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run applies the site now and after every change of it or of the
// endpoints' addresses, until ctx ends. The table stays when Run ends:
// a gateway that stops keeps its firewall.
func (m *Manager) Run(ctx context.Context) error {
	for {
		m.apply()
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		}
	}
}

func (m *Manager) apply() {
	site, _ := m.gw.Site()
	if site == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enabled = site.Firewall.Enabled
	if !site.Firewall.Enabled {
		if m.spec == nil && !m.checked {
			// A table left by an earlier run, whose site has turned the
			// firewall off meanwhile, goes too.
			m.checked = true
			if ok, err := m.be.Exists(); err == nil && ok {
				m.spec = &Spec{}
			}
		}
		if m.spec != nil {
			m.err = m.be.Remove()
			if m.err == nil {
				m.log.Info("firewall off: table inet sitegate removed")
				m.spec = nil
			}
		}
		return
	}
	bo := BuildOptions{SSHAddr: m.o.SSHAddr, Resolvers: m.o.Resolvers, VPN: m.o.VPN}
	if l := m.o.Endpoints; l != nil {
		bo.Restrict, bo.Allow = l.Enforced(), l.Addresses()
	}
	sp, err := Build(site, bo)
	if err == nil {
		var keep map[string]Counter
		if keep, err = m.be.Counters(); err == nil {
			err = m.be.Apply(sp, keep)
		}
	}
	if err != nil {
		if m.err == nil || m.err.Error() != err.Error() {
			m.log.Error("firewall not applied", "err", err)
		}
		m.err = err
		return
	}
	if m.spec == nil || !reflect.DeepEqual(m.spec.In, sp.In) || m.spec.Restrict != sp.Restrict {
		m.log.Info("firewall applied", "open", fmt.Sprint(sp.In), "output_restricted", sp.Restrict, "allowed", len(sp.Allow))
	}
	m.spec, m.err, m.applied = sp, nil, time.Now()
}

// Health returns the firewall's part of health: per interface what is
// open and what was dropped, and the endpoints.
func (m *Manager) Health() device.FirewallHealth {
	m.mu.Lock()
	h := device.FirewallHealth{Enabled: m.enabled, Active: m.spec != nil, Applied: m.applied}
	if m.err != nil {
		h.Error = m.err.Error()
	}
	sp := m.spec
	m.mu.Unlock()
	if sp != nil {
		cs, err := m.be.Counters()
		if err != nil && h.Error == "" {
			h.Error = err.Error()
		}
		for _, i := range sp.Interfaces {
			h.Interfaces = append(h.Interfaces, device.FirewallInterface{Name: i.Name, Kind: string(i.Kind), OpenPorts: sp.OpenOn(i.Name),
				InDrops: cs[counterName("in", i.Name)], OutDrops: cs[counterName("out", i.Name)]})
		}
		in, out := cs[counterName("in", "")], cs[counterName("out", "")]
		h.OtherDrops = Counter{Packets: in.Packets + out.Packets, Bytes: in.Bytes + out.Bytes}
	}
	if l := m.o.Endpoints; l != nil {
		h.Endpoints = l.Health()
	}
	return h
}

// FillHealth is the Manager's health source.
func (m *Manager) FillHealth(h *device.Health) { h.Firewall = m.Health() }
