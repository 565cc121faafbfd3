// Package cloudsync is the gateway's uplink: MQTT v5 over mutual TLS to one
// configured broker, draining the outbox at least once, publishing health
// and audit records, receiving desired configuration and reporting
// conflicts.
//
// # Topics
//
// Everything lives under sitegate/v1/{gateway_id}/ (the README's MQTT
// contract): telemetry/v2 (the default) or telemetry (with the site's
// uplink.telemetry_format: json), health, alerts, audit (from the outbox,
// each with the record's gateway-wide seq), status (retained, and the last
// will), config/reported (retained), config/desired (subscribed) and
// config/result.
//
// # Telemetry
//
// The outbox holds one telemetry frame per group commit (package device).
// The drain merges consecutive frames into one telemetry.Block and sends it
// when its oldest frame has waited uplink.batch_max_age (default 10 s), or
// sooner when the next frame would make it larger than MaxBlockFrameBytes
// of frames (a backlog after an outage goes out in full blocks). On
// telemetry/v2 the payload is the block's encoding (package
// device/telemetry, which the cloud imports to decode it; the seqs of its
// frames are inside). On telemetry it is Block.JSON: {"seq" (the last),
// "seqs" (all), "gateway", "readings": [...]}. JSON telemetry records
// queued by a gateway before group commit are sent as they are, on
// telemetry.
//
// # Audit records
//
// An audit record is {"seq","events":[...],"checkpoints":[...]}: the events
// not sent yet, oldest first, and the signed checkpoints of the chain head
// (store.Checkpoint: seq, hash, first, evicted, capacity, keyed_from, ts,
// alg, key, sig) whose event is in this record or an earlier one.
// "checkpoints" is left out when there is none; a record may hold
// checkpoints only. The cloud verifies them with the gateway's audit public
// key (`sitegate audit key`).
//
// # Desired configuration
//
// A config/desired message is handled once: its rev is recorded when it
// was valid (applied, or a conflict); an invalid one never moves the
// recorded revision, whatever rev it claims, and is remembered by its
// digest so that the retained copy is not answered again at reconnect. A
// conflict's cloud site is kept with its secrets in the secret store.
//
// # Delivery
//
// Messages are published with QoS 1 in seq order, at most Window at a time,
// and the records they carry are removed from the outbox only after their
// PUBACK (a block's every seq). After a reconnect, or a restart of the
// gateway, the drain starts again from the oldest record still queued, so
// the cloud may see a record twice (at most about Window messages'
// worth) but never misses one; it de-duplicates by seq.
//
// # Caveats
//
//   - Within a window, records are published concurrently: the broker may
//     receive them slightly out of seq order. Consumers order by seq.
//   - A frame that cannot be decoded (a damaged store) is logged and left
//     queued until the outbox evicts it, so that the rest keeps flowing.
//   - A block that is re-sent after a reconnect may group its frames
//     differently (frames already delivered merged with new ones), and a
//     block's samples are merged per series: seqs tell the cloud which
//     frames it has seen (gaps, duplicates), readings are de-duplicated by
//     series, time, quality and error.
//   - Without a broker (no --broker) the producers still run: the outbox
//     fills, bounded, evicting oldest first and counting it.
package cloudsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/sitegate/sitegate/device"
)

// Config configures an Uplink.
type Config struct {
	Gateway *device.Gateway
	// Store is the gateway's database as far as the uplink needs it (the
	// *store.Store the gateway was opened on): the outbox it drains and
	// the records of its own state. It is given, not reached through the
	// gateway, so that what the uplink may touch is named here.
	Store Store
	// Broker is mqtts://HOST:PORT; empty runs offline (producers only).
	Broker string
	// TLS is the client's TLS configuration (LoadTLS builds it).
	TLS    *tls.Config
	Logger *slog.Logger
	// ClockSynced tells whether the clock is known to be synchronised,
	// for the clock gate on certificate validity errors.
	ClockSynced func() bool
	// Window bounds the records in flight (default 32).
	Window int
	// HealthEvery is the health period (default 60 s); health is also
	// sent when its state changes.
	HealthEvery time.Duration
	// AuditEvery is how often new audit events are batched (default 5 s).
	AuditEvery time.Duration
	// BatchMaxAge overrides the site's uplink.batch_max_age when set
	// (benchmarks and tests).
	BatchMaxAge time.Duration
	// Demo allows an administrator to cut and restore the uplink.
	Demo bool
	// KeepAlive in seconds (default 30); SessionExpiry in seconds
	// (default one day).
	KeepAlive     uint16
	SessionExpiry uint32
	// Dial, when set, makes the broker's TCP connection (the endpoints
	// allow-list's DialContext); TLS runs over it (dial.go).
	Dial DialFunc
}

// LoadTLS builds the client TLS configuration: TLS 1.2 or newer, the
// server verified against caFile, the device certificate presented.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, errors.New("--broker needs --ca, --cert and --key: the uplink always uses mutual TLS")
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load device certificate %s and key %s: %w", certFile, keyFile, err)
	}
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the device key %s is readable by others (mode %o): chmod 600 it", keyFile, fi.Mode().Perm())
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}

// Uplink is the cloud connection.
type Uplink struct {
	cfg    Config
	gw     *device.Gateway
	st     Store
	log    *slog.Logger
	prefix string
	url    *url.URL

	mu        sync.Mutex
	cm        *autopaho.ConnectionManager
	connected bool
	cut       bool
	lastErr   string
	lastPub   time.Time
	conflict  *device.SyncConflict
	rate      []float64
	published atomic.Uint64 // messages acknowledged
	readings  atomic.Uint64 // telemetry readings acknowledged

	ctx  context.Context // Run's; nil when not running (guarded by mu)
	wake chan struct{}   // a new connection: restart the drain
}

// New prepares an uplink; Run runs it.
func New(cfg Config) (*Uplink, error) {
	if cfg.Gateway == nil || cfg.Store == nil {
		return nil, errors.New("cloudsync: a gateway and its store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Window <= 0 {
		cfg.Window = 32
	}
	if cfg.HealthEvery <= 0 {
		cfg.HealthEvery = time.Minute
	}
	if cfg.AuditEvery <= 0 {
		cfg.AuditEvery = 5 * time.Second
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30
	}
	if cfg.SessionExpiry == 0 {
		cfg.SessionExpiry = 24 * 3600
	}
	if cfg.ClockSynced == nil {
		cfg.ClockSynced = func() bool { return false }
	}
	u := &Uplink{cfg: cfg, gw: cfg.Gateway, st: cfg.Store, log: cfg.Logger, prefix: "sitegate/v1/" + cfg.Gateway.ID() + "/", wake: make(chan struct{}, 1)}
	if cfg.Broker != "" {
		pu, err := url.Parse(cfg.Broker)
		if err != nil || pu.Scheme != "mqtts" || pu.Host == "" || pu.Port() == "" {
			return nil, fmt.Errorf("--broker %q: give mqtts://HOST:PORT (plain mqtt is not allowed: the uplink always uses TLS)", cfg.Broker)
		}
		if cfg.TLS == nil {
			return nil, errors.New("cloudsync: a broker needs a TLS configuration")
		}
		u.url = pu
	}
	if c, ok := loadConflict(cfg.Store); ok {
		u.conflict = &c
	}
	return u, nil
}

// Run connects (when a broker is configured), drains the outbox and
// produces health records until ctx ends; then it publishes the offline
// status, disconnects and waits for its goroutines.
func (u *Uplink) Run(ctx context.Context) error {
	u.mu.Lock()
	u.ctx = ctx
	u.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { u.produce(ctx) })
	wg.Go(func() { u.sampleRate(ctx) })
	if u.url != nil {
		wg.Go(func() { u.drain(ctx) })
		u.connect(ctx)
	}
	u.gw.SetUplink(u)
	u.gw.AddHealthSource(u.fillHealth)
	<-ctx.Done()
	u.gw.SetUplink(nil)
	u.mu.Lock()
	cm := u.cm
	u.ctx = nil
	u.mu.Unlock()
	if cm != nil {
		// ctx is done: the goodbye gets its own short deadline.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = u.publishStatus(sctx, cm, "offline")
		_ = cm.Disconnect(sctx)
		cancel()
	}
	wg.Wait()
	return nil
}

func (u *Uplink) topic(stream string) string { return u.prefix + stream }

// backoff grows to a minute, with jitter so a fleet coming back after an
// outage does not reconnect in step.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 6)
	d = min(d, time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (u *Uplink) connect(ctx context.Context) {
	will := fmt.Appendf(nil, `{"state":"offline","ts":%q}`, time.Now().UTC().Format(time.RFC3339))
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u.url},
		TlsCfg:                        u.cfg.TLS.Clone(),
		KeepAlive:                     u.cfg.KeepAlive,
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         u.cfg.SessionExpiry,
		ReconnectBackoff:              backoff,
		ConnectTimeout:                10 * time.Second,
		AttemptConnection:             u.attemptConnection(),
		WillMessage:                   &paho.WillMessage{Topic: u.topic("status"), QoS: 1, Retain: true, Payload: will},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			u.mu.Lock()
			u.connected, u.lastErr = true, ""
			u.mu.Unlock()
			u.log.Info("uplink connected", "broker", u.url.Host)
			u.gw.Publish(device.Event{Kind: device.EventUplink, Detail: "connected"})
			go u.onConnect(ctx, cm)
		},
		OnConnectionDown: func() bool {
			u.mu.Lock()
			u.connected = false
			cut := u.cut
			u.mu.Unlock()
			u.log.Warn("uplink disconnected", "broker", u.url.Host)
			u.gw.Publish(device.Event{Kind: device.EventUplink, Detail: "disconnected"})
			return !cut
		},
		OnConnectError: func(err error) {
			msg := u.explain(err)
			u.mu.Lock()
			changed := u.lastErr != msg
			u.lastErr = msg
			u.mu.Unlock()
			if changed {
				u.log.Warn("uplink connection failed", "broker", u.url.Host, "err", msg)
			}
		},
		ClientConfig: paho.ClientConfig{
			ClientID: u.gw.ID(),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				if pr.Packet.Topic == u.topic("config/desired") {
					u.onDesired(ctx, pr.Packet.Payload)
				}
				return true, nil
			}},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		u.mu.Lock()
		u.lastErr = err.Error()
		u.mu.Unlock()
		return
	}
	u.mu.Lock()
	u.cm = cm
	u.mu.Unlock()
}

// explain turns a connection error into what an installer should read.
// A certificate that looks expired or not yet valid while the clock is not
// known to be right is most likely the clock's fault (requirement 9).
func (u *Uplink) explain(err error) string {
	var cie x509.CertificateInvalidError
	if errors.As(err, &cie) && cie.Reason == x509.Expired && !u.cfg.ClockSynced() {
		return "clock not synchronised: the broker's certificate looks expired or not yet valid by the gateway's clock; check NTP (clock.ntp_servers)"
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) {
		return "the broker's certificate is not signed by the configured CA (--ca): refusing to connect"
	}
	var hie x509.HostnameError
	if errors.As(err, &hie) {
		return "the broker's certificate is not for " + u.url.Hostname() + ": refusing to connect"
	}
	msg := err.Error()
	if strings.Contains(msg, "protocol version") {
		return "the broker offers no TLS 1.2 or newer: refusing to connect"
	}
	return msg
}

// onConnect announces the gateway, subscribes to desired configuration
// and restarts the drain.
func (u *Uplink) onConnect(ctx context.Context, cm *autopaho.ConnectionManager) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := u.publishStatus(cctx, cm, "online"); err != nil {
		u.log.Warn("uplink: publish status", "err", err)
	}
	if _, err := cm.Subscribe(cctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: u.topic("config/desired"), QoS: 1}}}); err != nil {
		u.log.Warn("uplink: subscribe to desired configuration", "err", err)
	}
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

func (u *Uplink) publishStatus(ctx context.Context, cm *autopaho.ConnectionManager, state string) error {
	payload := fmt.Appendf(nil, `{"state":%q,"ts":%q}`, state, time.Now().UTC().Format(time.RFC3339))
	_, err := cm.Publish(ctx, &paho.Publish{Topic: u.topic("status"), QoS: 1, Retain: true, Payload: payload})
	return err
}

// Status reports the connection for the console and `sync status`.
func (u *Uplink) Status() device.UplinkStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := device.UplinkStatus{Configured: u.url != nil, Connected: u.connected && !u.cut, LastPublish: u.lastPub,
		LastError: u.lastErr, Cut: u.cut, Published: u.published.Load(), Rate: append([]float64(nil), u.rate...)}
	if u.url != nil {
		st.Broker = u.url.Host
	}
	return st
}

func (u *Uplink) fillHealth(h *device.Health) {
	st := u.Status()
	h.Uplink = device.UplinkHealth{Connected: st.Connected, Broker: st.Broker, LastPublish: st.LastPublish, Error: st.LastError}
}

// SetCut cuts or restores the demo uplink (administrators only; the
// caller checks the role).
func (u *Uplink) SetCut(actor device.Actor, cut bool) error {
	if !u.cfg.Demo {
		return errors.New("only the demo uplink can be cut and restored")
	}
	u.mu.Lock()
	if u.cut == cut {
		u.mu.Unlock()
		return nil
	}
	u.cut = cut
	cm, runCtx := u.cm, u.ctx
	u.mu.Unlock()
	action := device.ActionUplinkRestore
	if cut {
		action = device.ActionUplinkCut
		if cm != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = cm.Disconnect(ctx)
			cancel()
		}
	} else if runCtx != nil && runCtx.Err() == nil {
		u.connect(runCtx)
	}
	_ = u.gw.Audit(actor, action, "uplink", device.ResultOK)
	u.gw.Publish(device.Event{Kind: device.EventUplink, Detail: string(action)})
	return nil
}

// sampleRate keeps messages per second over the last five minutes.
func (u *Uplink) sampleRate(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	last := u.published.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := u.published.Load()
		u.mu.Lock()
		u.rate = append(u.rate, float64(now-last)/10)
		if len(u.rate) > 30 {
			u.rate = u.rate[len(u.rate)-30:]
		}
		u.mu.Unlock()
		last = now
	}
}
