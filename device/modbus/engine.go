package modbus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/goburrow/serial"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
)

// Options tune an Engine; the zero value is the production behaviour.
type Options struct {
	Logger *slog.Logger
	// OpenSerial opens a serial line (default goburrow/serial). Tests open
	// pseudo-terminals through it.
	OpenSerial func(*serial.Config) (io.ReadWriteCloser, error)
	// OfflineAfter consecutive failed cycles mark a device offline (default 3).
	OfflineAfter int
	// MaxBackoff bounds the poll interval of an offline device (default 1 min).
	MaxBackoff time.Duration
	// RetryIsolatedEvery is how many cycles pass before points isolated by
	// an exception are tried again (default 30).
	RetryIsolatedEvery int
	// Clock is the time source (default the system clock).
	Clock clockwork.Clock
}

// Engine is the Modbus driver of the field layer: it polls every Modbus
// device of the gateway's site, follows the site as it changes, and
// answers on-demand reads, writes, scans and the decode lab's raw reads.
type Engine struct {
	gw   *device.Gateway
	sink field.Sink
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	ctx       context.Context      // Run's context; endpoints run under a child of it
	applied   []byte               // the modbus section the running topology was built from
	endpoints map[string]*endpoint // by endpoint key
	busEP     map[string]*endpoint // by bus name
	pollers   map[string]*poller   // by device name
	cancel    context.CancelFunc
}

var _ field.Discoverer = (*Engine)(nil)

// New returns an engine for gw; Run polls.
func New(gw *device.Gateway, o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = 3
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.RetryIsolatedEvery <= 0 {
		o.RetryIsolatedEvery = 30
	}
	if o.OpenSerial == nil {
		o.OpenSerial = openSerial
	}
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	return &Engine{gw: gw, sink: gw.FieldSink(), opts: o, log: o.Logger}
}

// Protocol implements field.Driver.
func (e *Engine) Protocol() field.Protocol { return field.Modbus }

// Run builds the topology from the current site and polls it until ctx
// ends; later site revisions are applied without a restart. While it runs,
// the gateway's field layer routes Modbus reads, writes and scans here.
func (e *Engine) Run(ctx context.Context) error {
	sub := e.gw.SubscribeTo(16, device.EventSite)
	defer sub.Close()
	e.mu.Lock()
	e.ctx = ctx
	e.mu.Unlock()
	e.apply()
	detach := e.gw.Field().Attach(e)
	defer func() {
		detach()
		e.mu.Lock()
		defer e.mu.Unlock()
		e.stopLocked()
		e.applied = nil
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C():
			if !ok {
				return nil
			}
			if ev.Kind == device.EventSite || sub.Missed() > 0 {
				e.apply()
			}
		}
	}
}

func (e *Engine) stopLocked() {
	if e.cancel != nil {
		e.cancel()
	}
	for _, ep := range e.endpoints {
		ep.stop()
	}
	e.endpoints, e.busEP, e.pollers, e.cancel = nil, nil, nil, nil
}

// endpointKey identifies the physical connection of a bus: TCP buses with
// the same address share one connection, as do RTU buses on one line.
func endpointKey(b device.Bus) string {
	if b.Kind == device.BusTCP {
		return "tcp " + b.Address
	}
	return "rtu " + b.Device
}

// apply rebuilds the topology when the site's modbus section changed.
// Rebuilding everything is simple and safe: a change costs one cycle of
// each device, never a restart of the gateway.
func (e *Engine) apply() {
	site, _ := e.gw.Site()
	// The site's profiles are part of what the devices are polled for.
	conf, _ := json.Marshal([]any{site.Modbus, site.Profiles})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.applied != nil && bytes.Equal(conf, e.applied) {
		return
	}
	if e.ctx == nil || e.ctx.Err() != nil {
		return
	}
	e.stopLocked()
	e.applied = conf
	ctx, cancel := context.WithCancel(e.ctx)
	e.cancel = cancel
	e.endpoints = map[string]*endpoint{}
	e.busEP = map[string]*endpoint{}
	e.pollers = map[string]*poller{}
	for _, b := range site.Modbus.Buses {
		key := endpointKey(b)
		ep, ok := e.endpoints[key]
		if !ok {
			var l link
			if b.Kind == device.BusTCP {
				l = newTCPLink(b.Address, b.Timeout.Std())
			} else {
				l = newRTULink(b, b.Timeout.Std(), e.opts.OpenSerial)
			}
			ep = newEndpoint(key, l, e.log, e.opts.Clock)
			ep.inFlight = MaxInFlight // lowered to the buses' bound below
			e.endpoints[key] = ep
		}
		// Buses that share a connection share its bound: the lowest.
		ep.inFlight = min(ep.inFlight, b.EffectiveMaxInFlight())
		e.busEP[b.Name] = ep
	}
	for _, d := range site.Modbus.Devices {
		bus, ok := site.Modbus.FindBus(d.Bus)
		if !ok {
			continue // validation refuses this; never poll a device without a bus
		}
		ep := e.busEP[d.Bus]
		p := newPoller(e, d, site.EffectivePoints(d), bus, ep)
		e.pollers[d.Name] = p
		ep.pollers = append(ep.pollers, p)
	}
	for _, ep := range e.endpoints {
		go ep.run(ctx)
	}
	e.log.Info("modbus topology applied", "buses", len(site.Modbus.Buses), "devices", len(site.Modbus.Devices), "connections", len(e.endpoints))
}

// lookup returns a device's poller.
func (e *Engine) lookup(name string) (*poller, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pollers[name]
	if !ok {
		return nil, fmt.Errorf("%w %q among the Modbus devices of the site", field.ErrNoDevice, name)
	}
	return p, nil
}

func (e *Engine) busEndpoint(name string) (*endpoint, device.Bus, error) {
	site, _ := e.gw.Site()
	b, ok := site.Modbus.FindBus(name)
	e.mu.Lock()
	ep := e.busEP[name]
	e.mu.Unlock()
	if !ok || ep == nil {
		return nil, device.Bus{}, fmt.Errorf("no Modbus bus %q in the site", name)
	}
	return ep, b, nil
}
