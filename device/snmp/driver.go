package snmp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
)

// Defaults of the driver.
const (
	// DefaultOfflineAfter is how many cycles in a row that read nothing
	// mark a device offline.
	DefaultOfflineAfter = 3
	// DefaultMaxBackoff bounds the poll period of an offline device
	// (never below its interval).
	DefaultMaxBackoff = 5 * time.Minute
)

// ListenFunc opens the trap receiver's socket.
type ListenFunc func(ctx context.Context, addr string) (net.PacketConn, error)

// ListenUDP is the production ListenFunc.
func ListenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, "udp", addr)
}

// Options tune a Driver; the zero value is the production behaviour.
type Options struct {
	Logger *slog.Logger
	// Clock runs the poll schedule and stamps readings (the system clock).
	Clock clockwork.Clock
	// Listen opens the trap receiver's socket (ListenUDP); tests bind
	// port 0 through it.
	Listen ListenFunc
	// OfflineAfter, MaxBackoff: see the defaults.
	OfflineAfter int
	MaxBackoff   time.Duration
}

// Driver is the SNMP driver of the field layer (see the package doc). Its
// methods are safe for concurrent use.
type Driver struct {
	gw   *device.Gateway
	sink field.Sink
	o    Options
	log  *slog.Logger

	applyMu sync.Mutex // serialises apply

	mu      sync.Mutex
	ctx     context.Context    // Run's; nil when not running
	pollers map[string]*poller // by device name
	wg      sync.WaitGroup     // pollers and the trap receiver
	traps   *receiver          // nil without trap_listen

	alerts alertBook
}

var _ field.Driver = (*Driver)(nil)

// NewDriver returns a driver for gw; Run runs it.
func NewDriver(gw *device.Gateway, o Options) *Driver {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	if o.Listen == nil {
		o.Listen = ListenUDP
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = DefaultOfflineAfter
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	return &Driver{gw: gw, sink: gw.FieldSink(), o: o, log: o.Logger, pollers: map[string]*poller{},
		alerts: alertBook{live: map[alertKey]device.Alert{}}}
}

// From returns the SNMP driver running for gw, if any: what the exec
// commands query. It takes anything that holds the field layer (a
// *device.Gateway, or the console's narrower interfaces).
func From(gw interface{ Field() *field.Hub }) (*Driver, bool) {
	return field.DriverAs[*Driver](gw.Field(), field.SNMP)
}

// Protocol implements field.Driver.
func (d *Driver) Protocol() field.Protocol { return field.SNMP }

// Run polls the site's snmp devices and runs the trap receiver until ctx
// ends, following site changes; it returns nil then.
func (d *Driver) Run(ctx context.Context) error {
	// Site events only: every device cycle of the site must not wake it.
	sub := d.gw.SubscribeTo(16, device.EventSite)
	defer sub.Close()
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	d.apply()
	detach := d.gw.Field().Attach(d)
	defer func() {
		detach()
		d.shutdown()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-sub.C():
			if !ok {
				return nil
			}
			d.apply()
		}
	}
}

func (d *Driver) shutdown() {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.mu.Lock()
	ps := slices.Collect(maps.Values(d.pollers))
	d.pollers = map[string]*poller{}
	r := d.traps
	d.traps = nil
	d.ctx = nil
	d.mu.Unlock()
	stopPollers(ps)
	if r != nil {
		r.stop()
	}
	d.wg.Wait()
}

func stopPollers(ps []*poller) {
	for _, p := range ps {
		p.cancel()
	}
	for _, p := range ps {
		<-p.done
	}
}

// apply makes the running pollers and receiver those of the current site:
// a device whose settings changed is restarted, one that is gone stopped.
func (d *Driver) apply() {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return
	}
	site, _ := d.gw.Site()
	n := site.SNMP
	want := map[string]device.SNMPDevice{}
	for _, dev := range n.Devices {
		want[dev.Name] = dev
	}
	var stop []*poller
	var start []*poller
	d.mu.Lock()
	for name, p := range d.pollers {
		dev, ok := want[name]
		if !ok || fingerprint(dev) != p.conf {
			stop = append(stop, p)
			delete(d.pollers, name)
		}
	}
	for name, dev := range want {
		if _, ok := d.pollers[name]; ok {
			continue
		}
		p := newPoller(d, dev, fingerprint(dev))
		d.pollers[name] = p
		start = append(start, p)
	}
	d.mu.Unlock()
	stopPollers(stop)
	for _, p := range start {
		pctx, cancel := context.WithCancel(ctx)
		p.cancel = cancel
		d.wg.Add(1)
		go func() { defer d.wg.Done(); p.run(pctx) }()
	}
	d.alerts.forget(want)
	d.applyTraps(ctx, n)
}

// fingerprint is what a poller depends on: any change restarts it.
func fingerprint(dev device.SNMPDevice) string {
	b, _ := json.Marshal(dev) // secrets included: a new key restarts the session
	return string(b)
}

func (d *Driver) poller(name string) (*poller, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pollers[name]
	if !ok {
		return nil, fmt.Errorf("%w: no SNMP device is called %q", field.ErrNoDevice, name)
	}
	return p, nil
}

// Read implements field.Driver: it reads the device's points now (a walk
// point by its own name gives all its rows) and returns them in site
// order. The readings are not recorded.
func (d *Driver) Read(ctx context.Context, name string, points []string) ([]field.Reading, error) {
	p, err := d.poller(name)
	if err != nil {
		return nil, err
	}
	// A walk row (if_in.eth0) is read through its walk point (if_in).
	var only []string
	for _, want := range points {
		i := slices.IndexFunc(p.points, func(pt device.SNMPPoint) bool {
			return pt.Name == want || pt.IsWalk() && strings.HasPrefix(want, pt.Name+".")
		})
		if i < 0 {
			return nil, fmt.Errorf("device %s: %w %q", name, field.ErrNoPoint, want)
		}
		only = append(only, p.points[i].Name)
	}
	readings, _, err := p.cycle(ctx, only)
	if err != nil {
		return nil, err
	}
	if len(points) > 0 {
		readings = slices.DeleteFunc(readings, func(r field.Reading) bool {
			return !slices.ContainsFunc(points, func(want string) bool {
				return r.Point == want || slices.Contains(only, want) && strings.HasPrefix(r.Point, want+".")
			})
		})
	}
	return readings, nil
}

// Write implements field.Driver: SNMP points are read-only.
func (d *Driver) Write(ctx context.Context, w field.Write) error {
	if _, err := d.poller(w.Device); err != nil {
		return err
	}
	return fmt.Errorf("device %s: %w (SNMP points are read-only: the gateway sends no SET)", w.Device, field.ErrReadOnly)
}

// Get reads OIDs of a device now, in order (`snmp get`). OIDs are dotted
// numbers; at most MaxOIDsPerRequest go in one request.
func (d *Driver) Get(ctx context.Context, name string, oids []string) ([]Var, error) {
	p, err := d.poller(name)
	if err != nil {
		return nil, err
	}
	clean := make([]string, len(oids))
	for i, o := range oids {
		if clean[i], err = device.ParseOID(o); err != nil {
			return nil, err
		}
	}
	return p.ag.get(ctx, clean)
}

// Walk reads the subtree under oid with GETBULK (`snmp walk`), at most
// maxRows varbinds (1..MaxWalkRows); truncated says it stopped there with
// more to come.
func (d *Driver) Walk(ctx context.Context, name, oid string, maxRows int) (vars []Var, truncated bool, err error) {
	p, err := d.poller(name)
	if err != nil {
		return nil, false, err
	}
	root, err := device.ParseOID(oid)
	if err != nil {
		return nil, false, err
	}
	if maxRows < 1 || maxRows > MaxWalkRows {
		return nil, false, fmt.Errorf("a walk reads 1..%d varbinds, not %d", MaxWalkRows, maxRows)
	}
	return p.ag.walk(ctx, root, maxRows)
}

// Statuses returns the status of every polled device, by name.
func (d *Driver) Statuses() map[string]field.Status {
	d.mu.Lock()
	ps := slices.Collect(maps.Values(d.pollers))
	d.mu.Unlock()
	out := make(map[string]field.Status, len(ps))
	for _, p := range ps {
		out[p.dev.Name] = p.status()
	}
	return out
}
