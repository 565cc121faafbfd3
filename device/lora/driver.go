package lora

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// Bounds and defaults of the driver.
const (
	// MaxFrames bounds the recent frames kept for `lora frames` and the
	// console: about 200 bytes each.
	MaxFrames = 1000
	// DefaultRetry is how long the driver waits before it opens the packet
	// forwarder's socket again after a failure (the port is taken, the
	// server failed).
	DefaultRetry = 10 * time.Second
	// DefaultCheckEvery is how often devices are checked for silence.
	DefaultCheckEvery = 5 * time.Second
	// DegradedAfter and OfflineAfter are the silences, in expected uplink
	// intervals, after which a device is degraded and offline.
	DegradedAfter = 2.5
	OfflineAfter  = 5.0
	// NetID is the embedded network server's: 000000, one of the two the
	// LoRa Alliance keeps for private networks. DevAddrs are allocated in
	// it.
	NetID lorawan.NetID = 0
	// KVNamespace is where the network server's state lives in the
	// gateway's database.
	KVNamespace = "lora"
)

// Options tune a Driver; the zero value is the production behaviour.
type Options struct {
	Logger *slog.Logger
	// Clock times the silence rule, the retries and the readings (the
	// system clock).
	Clock clockwork.Clock
	// Listen opens the packet forwarder's socket on the site's address
	// (net.ListenPacket "udp"). Tests bind 127.0.0.1:0 through it.
	Listen func(address string) (net.PacketConn, error)
	// Dial opens forward mode's connections to the remote network server
	// ((&net.Dialer{}).DialContext).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Limits bound what the packet forwarder server accepts beyond the
	// site's gateway EUI (the semtech defaults).
	Limits semtech.Limits
	// Retry (DefaultRetry), CheckEvery (DefaultCheckEvery).
	Retry      time.Duration
	CheckEvery time.Duration
	// DedupWindow is the network server's (ns.DefaultDedupWindow).
	DedupWindow time.Duration
}

// Driver is the LoRaWAN driver of the field layer (see the package doc).
// Its methods are safe for concurrent use.
type Driver struct {
	gw   *device.Gateway
	sink field.Sink
	kv   kvStore
	o    Options
	log  *slog.Logger

	applyMu sync.Mutex // serialises apply: starting and stopping instances
	// recMu orders what is recorded in the field layer: an uplink and a
	// silence verdict of the same device never overtake each other.
	recMu sync.Mutex

	mu      sync.Mutex
	ctx     context.Context // Run's; nil when not running
	started time.Time
	conf    radioConf // the applied configuration
	inst    *instance // nil when not running (disabled, failed)
	lastErr error     // why inst is nil while it should run
	retryAt time.Time
	devices map[string]*devState // by name; embedded mode only
	order   []string             // device names in site order

	frames frameLog
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
		o.Listen = func(addr string) (net.PacketConn, error) { return net.ListenPacket("udp", addr) }
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = DefaultCheckEvery
	}
	return &Driver{gw: gw, sink: gw.FieldSink(), kv: kvStore{gw.KV(KVNamespace)}, o: o, log: o.Logger,
		devices: map[string]*devState{}, frames: newFrameLog(MaxFrames)}
}

// From returns the LoRa driver running for gw, if any: what the console
// and the exec commands query. It takes anything that holds the field
// layer (a *device.Gateway, or the narrower interfaces of the console), so
// that they need not name the concrete gateway.
func From(gw interface{ Field() *field.Hub }) (*Driver, bool) {
	return field.DriverAs[*Driver](gw.Field(), field.LoRa)
}

// Protocol implements field.Driver.
func (d *Driver) Protocol() field.Protocol { return field.LoRa }

// Run runs the site's lora section until ctx ends, following its changes;
// it returns nil then. While it runs, the field layer routes LoRa reads
// and writes here.
func (d *Driver) Run(ctx context.Context) error {
	sub := d.gw.SubscribeTo(16, device.EventSite) // not woken by every device cycle
	defer sub.Close()
	d.mu.Lock()
	d.ctx, d.started = ctx, d.o.Clock.Now()
	d.mu.Unlock()
	check := d.o.Clock.NewTicker(d.o.CheckEvery)
	defer check.Stop()
	d.apply()
	detach := d.gw.Field().Attach(d)
	defer func() {
		detach()
		d.mu.Lock()
		old := d.inst
		d.inst, d.ctx, d.conf = nil, nil, radioConf{}
		d.mu.Unlock()
		if old != nil {
			old.stop()
		}
		d.frames.closeSubscribers()
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
				d.apply()
			}
		case <-check.C():
			d.checkSilence()
			if d.due() {
				d.apply()
			}
		}
	}
}

// radioConf is what the socket and the servers behind it are built from:
// a change of any of it opens them afresh.
type radioConf struct {
	running bool
	mode    device.LoRaMode
	address string
	remote  string // forward mode
	gateway lorawan.EUI64
}

func confOf(l device.LoRa) (radioConf, error) {
	c := radioConf{running: l.Running(), mode: l.EffectiveMode(), address: l.EffectivePacketForwarder()}
	if !c.running {
		return radioConf{address: c.address}, nil
	}
	if c.mode == device.LoRaForward {
		c.remote = l.NetworkServer
	}
	eui, err := lorawan.ParseEUI64(l.GatewayEUI)
	if err != nil {
		return c, fmt.Errorf("lora.gateway_eui: %w", err)
	}
	c.gateway = eui
	return c, nil
}

// due reports whether an instance should run but does not, and its retry
// is due (or the running one has failed).
func (d *Driver) due() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inst != nil {
		return d.inst.failed() != nil
	}
	return d.conf.running && !d.o.Clock.Now().Before(d.retryAt)
}

// apply brings the running instance in line with the site: a new
// instance when the radio configuration changed (or the last one failed),
// else the devices and codecs updated in place.
func (d *Driver) apply() {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	site, _ := d.gw.Site()
	l := site.LoRa
	conf, confErr := confOf(l)
	devs := nsDevices(l, d.log)

	d.mu.Lock()
	ctx := d.ctx
	if ctx == nil || ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	d.setDevicesLocked(l)
	old := d.inst
	failed := old != nil && old.failed() != nil
	retry := old == nil && conf.running && !d.o.Clock.Now().Before(d.retryAt)
	if conf == d.conf && !failed && !retry {
		d.mu.Unlock()
		if old != nil && old.ns != nil {
			if err := old.ns.SetDevices(devs); err != nil {
				d.log.Error("lora: devices not applied", "err", err)
			}
		}
		return
	}
	if failed {
		d.lastErr = old.failed()
	}
	d.inst, d.conf = nil, conf
	d.mu.Unlock()

	if old != nil {
		old.stop()
		d.log.Info("lora: packet forwarder server stopped", "address", old.address)
	}
	if !conf.running {
		d.mu.Lock()
		d.lastErr = nil
		d.mu.Unlock()
		return
	}
	var started *instance
	err := confErr
	if err == nil {
		started, err = d.start(ctx, conf, devs)
	}
	d.mu.Lock()
	d.inst = started
	if err != nil {
		d.lastErr, d.retryAt = err, d.o.Clock.Now().Add(d.o.Retry)
		d.log.Error("lora: packet forwarder server not started; retrying", "address", conf.address, "err", err, "retry_in", d.o.Retry)
	} else {
		d.lastErr = nil
		d.log.Info("lora: packet forwarder server started", "mode", conf.mode.String(), "address", started.listening, "devices", len(devs))
	}
	d.mu.Unlock()
}

// instance is one packet forwarder socket and the servers behind it.
type instance struct {
	mode      device.LoRaMode
	address   string // as configured
	listening string // as bound
	since     time.Time
	conn      net.PacketConn
	srv       *semtech.Server // embedded
	ns        *ns.Server      // embedded
	relay     *semtech.Relay  // forward
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu  sync.Mutex
	err error // the first server that failed
}

func (i *instance) failed() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.err
}

// run runs fn until the instance stops; a failure stops the instance and
// is kept for the driver to see.
func (i *instance) run(ctx context.Context, fn func(context.Context) error) {
	i.wg.Add(1)
	go func() {
		defer i.wg.Done()
		if err := fn(ctx); err != nil {
			i.mu.Lock()
			if i.err == nil {
				i.err = err
			}
			i.mu.Unlock()
			i.cancel()
		}
	}()
}

// stop ends the servers, waits for them and closes the socket.
func (i *instance) stop() {
	i.cancel()
	i.wg.Wait()
	i.conn.Close()
}

// start opens the socket and starts the servers of conf's mode.
func (d *Driver) start(ctx context.Context, conf radioConf, devs []ns.Device) (*instance, error) {
	conn, err := d.o.Listen(conf.address)
	if err != nil {
		return nil, fmt.Errorf("listen for the packet forwarder on %s: %w", conf.address, err)
	}
	ictx, cancel := context.WithCancel(ctx)
	inst := &instance{mode: conf.mode, address: conf.address, listening: conn.LocalAddr().String(), since: d.o.Clock.Now(), conn: conn, cancel: cancel}
	limits := d.o.Limits
	limits.Gateways = []lorawan.EUI64{conf.gateway}
	log := d.log.With("component", "lora")
	fail := func(err error) (*instance, error) {
		cancel()
		conn.Close()
		return nil, err
	}
	switch conf.mode {
	case device.LoRaEmbedded:
		plan, err := band.EU868()
		if err != nil {
			return fail(err)
		}
		var nsrv *ns.Server
		srv, err := semtech.NewServer(semtech.Config{Conn: conn, Limits: limits, Log: log,
			// nsrv is set before srv runs.
			OnRx: func(rx semtech.Rx) { nsrv.HandleRx(rx) }})
		if err != nil {
			return fail(err)
		}
		nsrv, err = ns.New(ns.Config{Plan: plan, NetID: NetID, Devices: devs, Store: d.kv, TX: srv,
			OnUplink: d.onUplink, OnFrame: d.onFrame, DedupWindow: d.o.DedupWindow, Log: log})
		if err != nil {
			return fail(fmt.Errorf("embedded network server: %w", err))
		}
		inst.srv, inst.ns = srv, nsrv
		inst.run(ictx, srv.Run)
		inst.run(ictx, nsrv.Run)
	case device.LoRaForward:
		relay, err := semtech.NewRelay(semtech.RelayConfig{Conn: conn, Remote: conf.remote, Dial: d.o.Dial, Limits: limits, Log: log})
		if err != nil {
			return fail(fmt.Errorf("forward to %s: %w", conf.remote, err))
		}
		inst.relay = relay
		inst.run(ictx, relay.Run)
	default:
		return fail(fmt.Errorf("lora.mode %s: %w", conf.mode, errors.ErrUnsupported))
	}
	return inst, nil
}

// running returns the instance now running, or nil.
func (d *Driver) running() *instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inst
}

// kvStore keeps the network server's state in the gateway's database.
type kvStore struct{ kv device.KV }

func (s kvStore) Get(key string) ([]byte, error) {
	v, err := s.kv.Get(key)
	if errors.Is(err, device.ErrNoValue) {
		return nil, fmt.Errorf("%s: %w", key, ns.ErrNotFound)
	}
	return v, err
}

func (s kvStore) Put(key string, value []byte) error { return s.kv.Put(key, value) }
