package ns

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// Bounds and defaults.
const (
	// DefaultDedupWindow is how long copies of a frame are gathered from
	// several demodulators before it is processed. RX1 opens 1 s after
	// the uplink, so the window must leave time to answer.
	DefaultDedupWindow = 200 * time.Millisecond
	// RecentWindow is how long a processed frame's copies are still
	// recognised as duplicates: shorter than the earliest retransmission of
	// a confirmed uplink (RX2 + ACK_TIMEOUT, at least 3 s), which must get
	// its acknowledgement again.
	RecentWindow = time.Second
	// MaxRecent bounds the frames remembered for RecentWindow.
	MaxRecent = 4096
	// MaxPendingRx bounds the uplinks queued between HandleRx and Run;
	// beyond it they are dropped and counted.
	MaxPendingRx = 1024
	// MaxQueue bounds the application downlinks queued per device.
	MaxQueue = 8
	// MaxDevNonces bounds the used DevNonces kept per device.
	MaxDevNonces = 1024
	// DefaultTxLead is how long before a window opens the downlink must be
	// handed to the packet forwarder (its just-in-time queue needs some).
	DefaultTxLead = 100 * time.Millisecond
)

// Errors returned by Enqueue, New and SetDevices.
var (
	// ErrUnknownDevice means no device of that name.
	ErrUnknownDevice = errors.New("unknown device")
	// ErrQueueFull means the device's downlink queue holds MaxQueue already.
	ErrQueueFull = errors.New("downlink queue full")
	// ErrPort means an application port outside 1..223.
	ErrPort = errors.New("application port outside 1..223")
	// ErrTooLong means a downlink payload longer than any data rate allows.
	ErrTooLong = errors.New("downlink payload too long")
)

// Transmitter sends downlinks through a gateway; *semtech.Server is one.
type Transmitter interface {
	Send(gw lorawan.EUI64, tx semtech.TXPK) (uint16, error)
}

// Uplink is an application payload received from a device.
type Uplink struct {
	Device    string          `json:"device"`
	DevEUI    lorawan.EUI64   `json:"dev_eui"`
	DevAddr   lorawan.DevAddr `json:"dev_addr"`
	FPort     uint8           `json:"fport"`
	Payload   []byte          `json:"payload"`
	FCnt      uint32          `json:"fcnt"`
	Confirmed bool            `json:"confirmed"`
	// RSSI, SNR and Gateway are the best copy's; Gateways is how many
	// demodulators heard the frame.
	RSSI      int           `json:"rssi"`
	SNR       float64       `json:"snr"`
	Frequency uint32        `json:"frequency_hz"`
	DataRate  string        `json:"data_rate"`
	Gateway   lorawan.EUI64 `json:"gateway"`
	Gateways  int           `json:"gateways"`
	Time      time.Time     `json:"time"`
}

// Config configures a Server.
type Config struct {
	// Plan is the channel plan (band.EU868()).
	Plan band.Plan
	// NetID is the network's identifier; DevAddrs are allocated within it.
	NetID lorawan.NetID
	// Devices is the device list (see CheckDevices).
	Devices []Device
	// Store keeps sessions and DevNonces. Required.
	Store Store
	// TX sends downlinks. Required.
	TX Transmitter
	// OnUplink receives each application payload, on Run's goroutine.
	OnUplink func(Uplink)
	// OnFrame receives every frame processed, with its verdict, on Run's
	// goroutine (for a frame log); optional.
	OnFrame func(Frame)
	// DedupWindow (DefaultDedupWindow), TxLead (DefaultTxLead).
	DedupWindow time.Duration
	TxLead      time.Duration
	// RX1DROffset is given to devices in the join accept (0..5).
	RX1DROffset uint8
	// PreferRX2 answers in RX2 even when RX1 would be in time.
	PreferRX2 bool
	// Now is the clock (time.Now); Rand the source of DevAddrs (crypto/rand).
	Now  func() time.Time
	Rand io.Reader
	Log  *slog.Logger
}

// devState is one device's state.
type devState struct {
	dev    Device
	rec    record
	nonces []lorawan.DevNonce
	queue  []queued
	macAns []lorawan.MACCommand // answers for the next downlink
	st     DeviceStatus
}

type queued struct {
	port    uint8
	payload []byte
}

// Server is the embedded network server.
type Server struct {
	cfg  Config
	rx   chan semtech.Rx
	kick chan struct{}

	setMu  sync.Mutex // serialises SetDevices
	mu     sync.Mutex
	byEUI  map[lorawan.EUI64]*devState
	byName map[string]*devState
	byAddr map[lorawan.DevAddr][]*devState
	stats  Stats

	// Run's own state: frames being gathered and those recently processed.
	pending     []*gather
	index       map[string]*gather
	recent      map[string]time.Time
	recentOrder []string
}

// New checks cfg, loads every device's state from the store and returns
// a Server. A damaged stored record is an error (wrapping ErrCorrupt).
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.TX == nil {
		return nil, errors.New("lora network server: a store and a transmitter are required")
	}
	if cfg.Plan.Region == "" {
		p, err := band.EU868()
		if err != nil {
			return nil, err
		}
		cfg.Plan = p
	}
	if cfg.RX1DROffset > cfg.Plan.MaxRX1DROffset {
		return nil, fmt.Errorf("lora network server: rx1 dr offset %d, at most %d", cfg.RX1DROffset, cfg.Plan.MaxRX1DROffset)
	}
	if cfg.NetID > lorawan.MaxNetID {
		return nil, fmt.Errorf("lora network server: net id %#x is wider than 24 bits", uint32(cfg.NetID))
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.TxLead <= 0 {
		cfg.TxLead = DefaultTxLead
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{cfg: cfg, rx: make(chan semtech.Rx, MaxPendingRx), kick: make(chan struct{}, 1),
		index: map[string]*gather{}, recent: map[string]time.Time{}}
	if err := s.SetDevices(cfg.Devices); err != nil {
		return nil, err
	}
	return s, nil
}

// SetDevices replaces the device list. Devices whose identity and keys
// are unchanged keep their state (session, queue, status); others start
// from what the store has for them.
func (s *Server) SetDevices(devs []Device) error {
	if err := CheckDevices(devs); err != nil {
		return fmt.Errorf("lora network server: %w", err)
	}
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.mu.Lock()
	old := s.byEUI
	s.mu.Unlock()
	byEUI := make(map[lorawan.EUI64]*devState, len(devs))
	kept := map[*devState]Device{}
	for _, d := range devs {
		if d.Class == 0 {
			d.Class = ClassA
		}
		if o := old[d.DevEUI]; o != nil && sameIdentity(o.dev, d) {
			// Renamed or recoded: the state carries over (updated below,
			// under the lock, as Run reads it).
			kept[o] = d
			byEUI[d.DevEUI] = o
			continue
		}
		ds, err := s.load(d)
		if err != nil {
			return fmt.Errorf("lora network server: device %s: %w", d.Name, err)
		}
		byEUI[d.DevEUI] = ds
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ds, d := range kept {
		ds.dev, ds.st.Name = d, d.Name
	}
	s.byEUI = byEUI
	s.byName = make(map[string]*devState, len(byEUI))
	s.byAddr = make(map[lorawan.DevAddr][]*devState, len(byEUI))
	for _, ds := range byEUI {
		s.byName[ds.dev.Name] = ds
		if ds.rec.HasSession {
			a := ds.rec.Session.DevAddr
			s.byAddr[a] = append(s.byAddr[a], ds)
		}
	}
	return nil
}

// sameIdentity reports whether two descriptions of a device share the
// same session inputs (so its state carries over).
func sameIdentity(a, b Device) bool {
	return a.DevEUI == b.DevEUI && a.Activation == b.Activation && a.JoinEUI == b.JoinEUI && a.AppKey == b.AppKey &&
		a.DevAddr == b.DevAddr && a.NwkSKey == b.NwkSKey && a.AppSKey == b.AppSKey
}

// load builds a device's state from the store.
func (s *Server) load(d Device) (*devState, error) {
	ds := &devState{dev: d}
	ds.st.Name, ds.st.DevEUI, ds.st.Activation = d.Name, d.DevEUI, d.Activation.String()
	err := s.get(sessionKey(d.DevEUI), func(b []byte) (err error) {
		ds.rec, err = decodeRecord(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch d.Activation {
	case OTAA:
		err := s.get(devNonceKey(d.DevEUI), func(b []byte) (err error) {
			ds.nonces, err = decodeNonces(b)
			return err
		})
		if err != nil {
			return nil, err
		}
	case ABP:
		// The site's keys make the session; stored counters carry over
		// only if they belong to the same keys.
		want := session{DevAddr: d.DevAddr, Keys: lorawan.SessionKeys{NwkSKey: d.NwkSKey, AppSKey: d.AppSKey}, RX2DataRate: s.cfg.Plan.RX2DataRate, RxDelay: 1}
		if !ds.rec.HasSession || ds.rec.Session.DevAddr != want.DevAddr || ds.rec.Session.Keys != want.Keys {
			ds.rec = record{HasSession: true, Session: want}
		}
	}
	ds.st.Joined = ds.rec.HasSession
	return ds, nil
}

// get decodes the stored value of key with decode; a key without a value
// leaves things as they are.
func (s *Server) get(key string, decode func([]byte) error) error {
	b, err := s.cfg.Store.Get(key)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("load %s: %w", key, err)
	}
	if err := decode(b); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// HandleRx queues an uplink for Run. It never blocks: when the queue is
// full the uplink is dropped and counted. Pass it as semtech.Config.OnRx.
func (s *Server) HandleRx(rx semtech.Rx) {
	select {
	case s.rx <- rx:
	default:
		s.mu.Lock()
		s.stats.Dropped++
		s.mu.Unlock()
	}
}

// Run processes uplinks until ctx ends; it returns nil then.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var due <-chan time.Time
		if len(s.pending) > 0 {
			// The window is kept on the monotonic clock; Config.Now only
			// stamps what is reported.
			t.Reset(time.Until(s.pending[0].due))
			due = t.C
		}
		select {
		case <-ctx.Done():
			return nil
		case rx := <-s.rx:
			s.gatherRx(rx)
		case <-due:
			s.flush(time.Now())
		}
	}
}

// Plan returns the effective channel plan.
func (s *Server) Plan() band.Plan { return s.cfg.Plan }

// Enqueue queues an application downlink for device name, sent after its
// next uplink.
func (s *Server) Enqueue(name string, port uint8, payload []byte) error {
	if port < 1 || port > 223 {
		return fmt.Errorf("enqueue for %s: port %d: %w", name, port, ErrPort)
	}
	if len(payload) > band.MaxAppPayload {
		return fmt.Errorf("enqueue for %s: %d bytes, at most %d: %w", name, len(payload), band.MaxAppPayload, ErrTooLong)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.byName[name]
	if ds == nil {
		return fmt.Errorf("enqueue for %s: %w", name, ErrUnknownDevice)
	}
	if len(ds.queue) >= MaxQueue {
		return fmt.Errorf("enqueue for %s: %w", name, ErrQueueFull)
	}
	ds.queue = append(ds.queue, queued{port: port, payload: slices.Clone(payload)})
	ds.st.QueueLength = len(ds.queue)
	return nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Devices returns every device's status, by name.
func (s *Server) Devices() []DeviceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeviceStatus, 0, len(s.byEUI))
	for _, ds := range s.byEUI {
		st := ds.st
		st.Joined = ds.rec.HasSession
		if ds.rec.HasSession {
			st.DevAddr = ds.rec.Session.DevAddr.String()
			st.FCntUp, st.FCntDown = ds.rec.Session.FCntUp, ds.rec.Session.FCntDown
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b DeviceStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
