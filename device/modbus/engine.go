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
}

// Engine polls every Modbus device of the gateway's site and follows the
// site as it changes. It implements device.FieldBus for the console.
type Engine struct {
	gw   *device.Gateway
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	applied   []byte               // the modbus section the running topology was built from
	endpoints map[string]*endpoint // by endpoint key
	busEP     map[string]*endpoint // by bus name
	pollers   map[string]*poller   // by device name
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	sub     *device.Subscription
	watchWG sync.WaitGroup
}

// New returns an engine for gw; Start begins polling.
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
	return &Engine{gw: gw, opts: o, log: o.Logger}
}

// Start builds the topology from the current site and polls it; later site
// revisions are applied without a restart.
func (e *Engine) Start() {
	e.sub = e.gw.Subscribe(16)
	e.apply()
	e.watchWG.Add(1)
	go func() {
		defer e.watchWG.Done()
		for ev := range e.sub.C() {
			if ev.Kind == device.EventSite || e.sub.Missed() > 0 {
				e.apply()
			}
		}
	}()
	e.gw.SetFieldBus(e)
}

// Stop stops polling and closes every connection.
func (e *Engine) Stop() {
	e.gw.SetFieldBus(nil)
	if e.sub != nil {
		e.sub.Close()
		e.watchWG.Wait()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopLocked()
	e.applied = nil
}

func (e *Engine) stopLocked() {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
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
	conf, _ := json.Marshal(site.Modbus)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.applied != nil && bytes.Equal(conf, e.applied) {
		return
	}
	e.stopLocked()
	e.applied = conf
	ctx, cancel := context.WithCancel(context.Background())
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
			ep = newEndpoint(key, l, e.log)
			e.endpoints[key] = ep
		}
		e.busEP[b.Name] = ep
	}
	keep := map[string]bool{}
	for _, d := range site.Modbus.Devices {
		bus, ok := site.Modbus.FindBus(d.Bus)
		if !ok {
			continue // validation refuses this; never poll a device without a bus
		}
		keep[d.Name] = true
		p := newPoller(e, d, bus, e.busEP[d.Bus])
		e.pollers[d.Name] = p
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			p.run(ctx)
		}()
	}
	e.gw.ForgetDevices(keep)
	e.log.Info("modbus topology applied", "buses", len(site.Modbus.Buses), "devices", len(site.Modbus.Devices), "connections", len(e.endpoints))
}

// lookup returns a device's poller.
func (e *Engine) lookup(name string) (*poller, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pollers[name]
	if !ok {
		return nil, fmt.Errorf("no Modbus device %q in the site", name)
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
