package bacnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet/mstp"
	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
)

// Bounds and defaults of the driver.
const (
	// DefaultRetry is how long a link that could not open (the port is
	// taken, the address is not on the gateway yet, the serial line is
	// missing) waits before it is opened again.
	DefaultRetry = 10 * time.Second
	// DefaultOfflineAfter is how many cycles in a row that read nothing
	// mark a device offline.
	DefaultOfflineAfter = 3
	// DefaultMaxBackoff bounds the poll period of an offline device.
	DefaultMaxBackoff = time.Minute
	// DefaultCOVRetry is how long a point whose subscription the device
	// refused is polled before COV is asked again.
	DefaultCOVRetry = 10 * time.Minute
	// MaxCOVQueue bounds the COV notifications waiting to be recorded;
	// beyond it they are dropped and counted (State.COVDropped): the
	// receive goroutine never waits for the database.
	MaxCOVQueue = 1024
	// MaxDescribing bounds the devices a discovery describes at once.
	MaxDescribing = 8
	// DiscoverTimeout bounds a discovery asked for by a person (console or
	// exec): the I-Am wait, then the reads describing each device that
	// answered (MaxDescribing at once, each with the site's APDU timeout
	// and retries).
	DiscoverTimeout = 2 * time.Minute
	// ObjectsTimeout bounds reading a device's objects (up to MaxObjects,
	// by ReadPropertyMultiple).
	ObjectsTimeout = time.Minute
	// IPLink is the name of the BACnet/IP link (MS/TP links are named by
	// their bus).
	IPLink = device.BACnetIPBus
)

// Options tune a Driver; the zero value is the production behaviour.
type Options struct {
	Logger *slog.Logger
	// Clock runs the poll schedule and stamps readings (the system clock).
	Clock clockwork.Clock
	// Listen opens the BACnet/IP sockets (ListenUDP). Tests bind port 0
	// through it.
	Listen ListenFunc
	// Interfaces lists the gateway's network interfaces (net.Interfaces),
	// where the site's address or interface is looked up.
	Interfaces func() ([]net.Interface, error)
	// OpenSerial opens an MS/TP line at a baud rate, 8N1 (a serial port;
	// tests open pseudo-terminals).
	OpenSerial func(path string, baud int) (io.ReadWriteCloser, error)
	// OfflineAfter, MaxBackoff, Retry, COVRetry: see the defaults.
	OfflineAfter int
	MaxBackoff   time.Duration
	Retry        time.Duration
	COVRetry     time.Duration
	// DiscoverWait is how long a discovery collects I-Ams (default the
	// site's APDU timeout).
	DiscoverWait time.Duration
	// Version is the gateway's software version, served as the Device
	// object's firmware-revision and application-software-version.
	Version string
	// COVInterval is how often the gateway's served objects are checked
	// for changes beyond those the readings announce (node default).
	COVInterval time.Duration
}

// Driver is the BACnet driver of the field layer (see the package doc).
// Its methods are safe for concurrent use.
type Driver struct {
	gw   *device.Gateway
	sink field.Sink
	o    Options
	log  *slog.Logger

	applyMu sync.Mutex // serialises apply

	mu      sync.Mutex
	ctx     context.Context             // Run's; nil when not running
	links   map[string]*link            // by name: IPLink and the MS/TP buses
	pollers map[string]*poller          // by device name
	order   []string                    // device names in site order
	served  map[string][]stack.ObjectID // served objects by the site device they show
	gen     uint64                      // link generations handed out
	wg      sync.WaitGroup              // pollers and links

	covs       chan covEvent
	targets    sync.Map // covKey → *covTarget
	covDropped atomic.Uint64
	covUnknown atomic.Uint64
}

var (
	_ field.Driver     = (*Driver)(nil)
	_ field.Discoverer = (*Driver)(nil)
)

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
	if o.Interfaces == nil {
		o.Interfaces = net.Interfaces
	}
	if o.OpenSerial == nil {
		o.OpenSerial = OpenSerial
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = DefaultOfflineAfter
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.COVRetry <= 0 {
		o.COVRetry = DefaultCOVRetry
	}
	if o.Version == "" {
		o.Version = "sitegate"
	}
	return &Driver{gw: gw, sink: gw.FieldSink(), o: o, log: o.Logger,
		links: map[string]*link{}, pollers: map[string]*poller{}, served: map[string][]stack.ObjectID{}}
}

// From returns the BACnet driver running for gw, if any: what the console
// and the exec commands query. It takes anything that holds the field
// layer (a *device.Gateway, or the narrower interfaces of the console).
func From(gw interface{ Field() *field.Hub }) (*Driver, bool) {
	return field.DriverAs[*Driver](gw.Field(), field.BACnet)
}

// Protocol implements field.Driver.
func (d *Driver) Protocol() field.Protocol { return field.BACnet }

// Run runs the site's bacnet section until ctx ends, following its
// changes; it returns nil then. While it runs, the field layer routes
// BACnet reads, writes and discovery here.
func (d *Driver) Run(ctx context.Context) error {
	// Site events re-apply the site (a missed one too). Readings events
	// tell a served object's COV subscribers at once; the driver listens
	// to them only while it serves objects, so that a site without
	// bacnet.serve is not woken by every device cycle. A missed readings
	// event only delays a notification to the periodic COV check.
	sub := d.gw.SubscribeTo(16, device.EventSite)
	defer sub.Close()
	var readings *device.Subscription
	defer func() {
		if readings != nil {
			readings.Close()
		}
	}()
	follow := func() {
		d.mu.Lock()
		serving := len(d.served) > 0
		d.mu.Unlock()
		switch {
		case serving && readings == nil:
			readings = d.gw.SubscribeTo(256, device.EventReadings)
		case !serving && readings != nil:
			readings.Close()
			readings = nil
		}
	}
	covs := make(chan covEvent, MaxCOVQueue)
	covDone := make(chan struct{})
	d.mu.Lock()
	d.ctx, d.covs = ctx, covs
	d.mu.Unlock()
	go func() { defer close(covDone); d.dispatchCOV(ctx, covs) }()
	check := d.o.Clock.NewTicker(min(d.o.Retry, 5*time.Second))
	defer check.Stop()
	d.apply()
	follow()
	detach := d.gw.Field().Attach(d)
	defer func() {
		detach()
		d.shutdown()
		<-covDone
	}()
	for {
		var readingsC <-chan device.Event // nil while nothing is served: never ready
		if readings != nil {
			readingsC = readings.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-sub.C():
			if !ok {
				return nil
			}
			d.apply()
			follow()
		case ev, ok := <-readingsC:
			if !ok {
				return nil
			}
			d.readingsChanged(ev.Device)
		case <-check.C():
			if d.due() {
				d.apply()
				follow()
			}
		}
	}
}

// shutdown stops every poller, then every link, and forgets them.
func (d *Driver) shutdown() {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.mu.Lock()
	pollers, links := d.pollers, d.links
	d.pollers, d.links, d.order, d.ctx = map[string]*poller{}, map[string]*link{}, nil, nil
	d.mu.Unlock()
	all := make([]*poller, 0, len(pollers))
	for _, p := range pollers {
		all = append(all, p)
	}
	stopPollers(all)
	for _, l := range links {
		l.stop()
	}
	d.wg.Wait()
}

// due reports whether a failed link's retry is due.
func (d *Driver) due() bool {
	now := d.o.Clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.links {
		if l.failed() != nil && !now.Before(l.retryAt) {
			return true
		}
	}
	return false
}

// apply brings links, pollers and served objects in line with the site.
// A link is opened afresh when its settings changed or its retry is due;
// a poller when its device changed; the served objects are replaced in
// place.
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
	b := site.BACnet
	now := d.o.Clock.Now()

	want := map[string][]byte{}
	if b.UsesIP() {
		want[IPLink] = ipConf(b)
	}
	for _, m := range b.MSTP {
		want[m.Name] = mstpConf(b, m)
	}
	objects, byDevice, servedConf := d.servedObjects(site)
	d.mu.Lock()
	var stop []*link
	for name, l := range d.links {
		conf, ok := want[name]
		if !ok || !bytes.Equal(conf, l.conf) || l.failed() != nil && !now.Before(l.retryAt) {
			stop = append(stop, l)
		}
	}
	d.mu.Unlock()
	// Forgotten only once closed: State never shows a port gone that is
	// still open.
	for _, l := range stop {
		l.stop()
		d.mu.Lock()
		delete(d.links, l.name)
		d.mu.Unlock()
		d.log.Info("bacnet: link stopped", "link", l.name)
	}
	for name, conf := range want {
		d.mu.Lock()
		_, have := d.links[name]
		if !have {
			d.gen++
		}
		gen := d.gen
		d.mu.Unlock()
		if have {
			continue
		}
		var l *link
		if name == IPLink {
			l = d.startIP(ctx, b, conf, gen, objects, servedConf)
		} else {
			m, _ := b.FindMSTP(name)
			l = d.startMSTP(ctx, b, m, conf, gen)
		}
		d.mu.Lock()
		d.links[name] = l
		d.mu.Unlock()
	}
	d.mu.Lock()
	ip := d.links[IPLink]
	d.served = byDevice
	d.mu.Unlock()
	if ip != nil && ip.srv != nil && !bytes.Equal(ip.servedConf, servedConf) {
		if err := ip.srv.SetObjects(objects); err != nil {
			d.log.Error("bacnet: served objects not applied", "err", err)
		} else {
			ip.servedConf = servedConf
			d.log.Info("bacnet: served objects applied", "objects", len(objects))
		}
	}
	d.applyPollers(ctx, b)
}

// applyPollers keeps the pollers of unchanged devices and starts or stops
// the others.
func (d *Driver) applyPollers(ctx context.Context, b device.BACnet) {
	confs := make(map[string][]byte, len(b.Devices))
	order := make([]string, 0, len(b.Devices))
	for _, dev := range b.Devices {
		c, _ := json.Marshal(dev)
		confs[dev.Name] = c
		order = append(order, dev.Name)
	}
	d.mu.Lock()
	var stop []*poller
	for name, p := range d.pollers {
		if c, ok := confs[name]; !ok || !bytes.Equal(c, p.conf) {
			stop = append(stop, p)
			delete(d.pollers, name)
		}
	}
	d.mu.Unlock()
	stopPollers(stop)
	started := 0
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dev := range b.Devices {
		if _, ok := d.pollers[dev.Name]; ok {
			continue
		}
		p := newPoller(d, dev, confs[dev.Name])
		pctx, cancel := context.WithCancel(ctx)
		p.cancel = cancel
		d.pollers[dev.Name] = p
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer close(p.done)
			p.run(pctx)
		}()
		started++
	}
	d.order = order
	if started > 0 || len(stop) > 0 {
		d.log.Info("bacnet: devices applied", "devices", len(b.Devices), "started", started, "stopped", len(stop))
	}
}

func stopPollers(ps []*poller) {
	for _, p := range ps {
		p.cancel()
	}
	for _, p := range ps {
		<-p.done
	}
}

// ipConf is what the BACnet/IP link is built from: a change of any of it
// opens the port afresh. The served objects are not in it (they change in
// place).
func ipConf(b device.BACnet) []byte {
	c, _ := json.Marshal(struct {
		Address, Interface, Broadcast, BBMD, Name string
		Port, Retries                             int
		Instance                                  *int
		TTL, Timeout                              device.Duration
	}{b.Address, b.Interface, b.Broadcast, b.BBMD, b.EffectiveDeviceName(), b.EffectivePort(), b.EffectiveRetries(),
		b.DeviceInstance, b.EffectiveBBMDTTL(), b.EffectiveAPDUTimeout()})
	return c
}

func mstpConf(b device.BACnet, m device.MSTPBus) []byte {
	c, _ := json.Marshal(struct {
		Bus     device.MSTPBus
		Retries int
		Timeout device.Duration
	}{m, b.EffectiveRetries(), b.EffectiveAPDUTimeout()})
	return c
}

// link is one data link and the node on it: BACnet/IP (with the
// gateway's server) or an MS/TP bus. A link that could not open is kept
// with its error until its retry.
type link struct {
	name       string
	kind       string // "bacnet/ip" or "mstp"
	gen        uint64 // changes with every opening: subscriptions die with a node
	conf       []byte
	since      time.Time
	node       *node.Node
	bip        *node.BIP
	ms         *mstp.Link
	srv        *node.Server
	servedConf []byte
	socks      *Sockets
	port       io.Closer
	bbmd       netip.AddrPort
	cancel     context.CancelFunc
	done       chan struct{}
	retryAt    time.Time

	pids atomic.Uint32 // subscriber process ids handed out on this node

	mu  sync.Mutex
	err error // why it is not running
}

// nextPID is a process id for a new subscription on the link's node,
// never 0 (which asks the node to choose).
func (l *link) nextPID() uint32 {
	for {
		if id := l.pids.Add(1); id != 0 {
			return id
		}
	}
}

func (l *link) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *link) setErr(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
}

// stop ends the node and closes what the link opened.
func (l *link) stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
	if l.socks != nil {
		_ = l.socks.Close()
	}
	if l.port != nil {
		_ = l.port.Close()
	}
}

// running returns the node, or nil and why there is none.
func (l *link) running() (*node.Node, error) {
	if err := l.failed(); err != nil {
		return nil, err
	}
	return l.node, nil
}

func (d *Driver) failedLink(name, kind string, conf []byte, gen uint64, err error) *link {
	l := &link{name: name, kind: kind, gen: gen, conf: conf, since: d.o.Clock.Now(), err: err, retryAt: d.o.Clock.Now().Add(d.o.Retry)}
	d.log.Error("bacnet: link not started; retrying", "link", name, "err", err, "retry_in", d.o.Retry)
	return l
}

// startIP opens the BACnet/IP port where the site says, with the
// gateway's Device object serving the site's served objects.
func (d *Driver) startIP(ctx context.Context, b device.BACnet, conf []byte, gen uint64, objects []node.Object, servedConf []byte) *link {
	const kind = "bacnet/ip"
	fail := func(err error) *link { return d.failedLink(IPLink, kind, conf, gen, err) }
	if b.DeviceInstance == nil {
		return fail(errors.New("bacnet.device_instance is not set"))
	}
	bind, err := ResolveBinding(b, d.o.Interfaces)
	if err != nil {
		return fail(err)
	}
	socks, err := OpenSockets(ctx, d.o.Listen, bind)
	if err != nil {
		return fail(err)
	}
	l := &link{name: IPLink, kind: kind, gen: gen, conf: conf, since: d.o.Clock.Now(), socks: socks, servedConf: servedConf}
	if b.BBMD != "" {
		if l.bbmd, err = device.ParseBACnetAddress(b.BBMD); err != nil {
			socks.Close()
			return fail(err)
		}
	}
	log := d.log.With("component", "bacnet", "link", IPLink)
	l.bip, err = node.NewBIP(node.BIPConfig{Conn: socks.Unicast, BroadcastConn: socks.Broadcast, Broadcast: socks.BroadcastAddr,
		BBMD: l.bbmd, TTL: b.EffectiveBBMDTTL().Std(), Logger: log})
	if err == nil {
		l.srv, err = node.NewServer(node.ServerConfig{Instance: uint32(*b.DeviceInstance), Name: b.EffectiveDeviceName(),
			VendorName: "sitegate", ModelName: "sitegate gateway", FirmwareRevision: d.o.Version, ApplicationVersion: d.o.Version,
			Description: "BACnet/IP side of a sitegate gateway", Objects: objects, COVInterval: d.o.COVInterval})
	}
	if err == nil {
		l.node, err = node.New(node.Config{Link: l.bip, Server: l.srv, OnCOV: func(c node.COV) { d.onCOV(l, c) },
			APDUTimeout: b.EffectiveAPDUTimeout().Std(), Retries: retries(b), Now: d.o.Clock.Now, Logger: log})
	}
	if err != nil {
		socks.Close()
		return fail(err)
	}
	d.runLink(ctx, l)
	msg := []any{"address", socks.Local.String(), "instance", *b.DeviceInstance, "served", len(objects)}
	if socks.BroadcastErr != nil {
		msg = append(msg, "broadcasts", socks.BroadcastErr.Error())
	} else {
		msg = append(msg, "broadcast", socks.BroadcastAddr.String())
	}
	if l.bbmd.IsValid() {
		msg = append(msg, "bbmd", l.bbmd.String())
	}
	d.log.Info("bacnet: BACnet/IP port open", msg...)
	return l
}

// retries is the node's Retries for the site: the node reads 0 as its
// default and a negative number as none.
func retries(b device.BACnet) int {
	if r := b.EffectiveRetries(); r > 0 {
		return r
	}
	return -1
}

// startMSTP opens an MS/TP line and runs the master node on it.
func (d *Driver) startMSTP(ctx context.Context, b device.BACnet, m device.MSTPBus, conf []byte, gen uint64) *link {
	const kind = "mstp"
	if m.MAC == nil {
		return d.failedLink(m.Name, kind, conf, gen, errors.New("the bus has no mac"))
	}
	port, err := d.o.OpenSerial(m.Device, m.EffectiveBaud())
	if err != nil {
		return d.failedLink(m.Name, kind, conf, gen, fmt.Errorf("open %s: %w", m.Device, err))
	}
	log := d.log.With("component", "bacnet", "link", m.Name)
	l := &link{name: m.Name, kind: kind, gen: gen, conf: conf, since: d.o.Clock.Now(), port: port}
	l.ms, err = mstp.New(mstp.Config{Port: port, MAC: uint8(*m.MAC), MaxMaster: uint8(m.EffectiveMaxMaster()),
		MaxInfoFrames: m.EffectiveMaxInfoFrames(), Baud: m.EffectiveBaud(), Logger: log})
	if err == nil {
		l.node, err = node.New(node.Config{Link: l.ms, OnCOV: func(c node.COV) { d.onCOV(l, c) },
			APDUTimeout: b.EffectiveAPDUTimeout().Std(), Retries: retries(b), Now: d.o.Clock.Now, Logger: log})
	}
	if err != nil {
		port.Close()
		return d.failedLink(m.Name, kind, conf, gen, err)
	}
	d.runLink(ctx, l)
	d.log.Info("bacnet: MS/TP line open", "bus", m.Name, "device", m.Device, "baud", m.EffectiveBaud(), "mac", *m.MAC)
	return l
}

// runLink runs the link's node until the link stops; a node that ends by
// itself (the socket or the line failed) leaves its error for the retry.
func (d *Driver) runLink(ctx context.Context, l *link) {
	lctx, cancel := context.WithCancel(ctx)
	l.cancel, l.done = cancel, make(chan struct{})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(l.done)
		err := l.node.Run(lctx)
		if lctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the link ended")
		}
		d.mu.Lock()
		l.retryAt = d.o.Clock.Now().Add(d.o.Retry)
		d.mu.Unlock()
		l.setErr(err)
		d.log.Error("bacnet: link failed; retrying", "link", l.name, "err", err, "retry_in", d.o.Retry)
	}()
}

// link returns the named link, or an error saying why it does not run.
func (d *Driver) link(name string) (*link, *node.Node, error) {
	d.mu.Lock()
	l := d.links[name]
	d.mu.Unlock()
	if l == nil {
		return nil, nil, fmt.Errorf("bacnet link %s is not open", name)
	}
	n, err := l.running()
	if err != nil {
		return l, nil, fmt.Errorf("bacnet link %s is down: %w", name, err)
	}
	return l, n, nil
}

// poller returns a device's poller.
func (d *Driver) poller(name string) (*poller, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pollers[name]
	if !ok {
		return nil, fmt.Errorf("%w %q among the BACnet devices of the site", field.ErrNoDevice, name)
	}
	return p, nil
}

// covEvent is a notification on its way from a node's receive goroutine
// to the poller that subscribed.
type covEvent struct {
	link *link
	cov  node.COV
	at   time.Time
}

// covKey finds the subscription of a notification: process ids are
// unique per node, and a node per link generation.
type covKey struct {
	gen uint64
	pid uint32
}

type covTarget struct {
	p     *poller
	point int
}

// onCOV is a node's OnCOV: it must not block, so the notification is
// queued (or dropped and counted when the queue is full).
func (d *Driver) onCOV(l *link, c node.COV) {
	d.mu.Lock()
	ch := d.covs
	d.mu.Unlock()
	select {
	case ch <- covEvent{link: l, cov: c, at: d.o.Clock.Now()}:
	default:
		d.covDropped.Add(1)
	}
}

// dispatchCOV records queued notifications until ctx ends.
func (d *Driver) dispatchCOV(ctx context.Context, ch chan covEvent) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-ch:
			t, ok := d.targets.Load(covKey{ev.link.gen, ev.cov.Notification.ProcessID})
			if !ok {
				d.covUnknown.Add(1)
				continue
			}
			tg := t.(*covTarget)
			if !tg.p.onCOV(ev, tg.point) {
				d.covUnknown.Add(1)
			}
		}
	}
}
