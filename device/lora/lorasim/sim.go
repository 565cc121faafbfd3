package lorasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/payload"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// Defaults.
const (
	DefaultInterval     = 10 * time.Second
	DefaultPullInterval = 5 * time.Second
	DefaultStatInterval = 30 * time.Second
	DefaultJoinRetry    = 10 * time.Second
	DefaultFPort        = 2
	// MaxSensors bounds one simulator.
	MaxSensors = 1000
	// tick is how often the simulator looks at its schedule; uplinks are
	// due at most this late.
	tick = 10 * time.Millisecond
)

// Sensor is one simulated device.
type Sensor struct {
	Name            string
	DevEUI, JoinEUI lorawan.EUI64
	AppKey          lorawan.Key
	// Interval between uplinks (DefaultInterval).
	Interval time.Duration
	// FPort of the uplinks (DefaultFPort).
	FPort uint8
	// Confirmed makes every uplink a confirmed one.
	Confirmed bool
	// DevNonce is the last DevNonce the sensor used: its first join
	// request sends the next one. A simulator started again should not
	// begin where the last one did, since the network server refuses used
	// nonces (a real device keeps its counter across power cycles).
	DevNonce lorawan.DevNonce
}

// Config configures a Simulator.
type Config struct {
	// Server is the packet forwarder server's address (host:port, UDP).
	Server     string
	GatewayEUI lorawan.EUI64
	Sensors    []Sensor
	// Plan gives the channels and data rates (band.EU868()).
	Plan band.Plan
	// DataRate of the uplinks (DR5, SF7BW125).
	DataRate uint8
	// PullInterval, StatInterval, JoinRetry: see the defaults.
	PullInterval time.Duration
	StatInterval time.Duration
	JoinRetry    time.Duration
	// TmstOffset starts the concentrator counter there.
	TmstOffset uint32
	// Payload makes sensor i's n-th payload (Cayenne LPP temperature and
	// humidity when nil).
	Payload func(i int, n uint32) []byte
	Log     *slog.Logger
}

// SensorStatus is what a simulated sensor has done.
type SensorStatus struct {
	Name         string
	Joined       bool
	DevAddr      lorawan.DevAddr
	DevNonce     lorawan.DevNonce // the last one sent
	JoinRequests uint64
	FCntUp       uint32 // next uplink counter
	FCntDown     uint32 // next downlink counter expected
	Uplinks      uint64
	Acks         uint64 // confirmed uplinks acknowledged
	Downlinks    uint64 // downlinks with an application payload
	LastDownlink []byte
	LastFPort    uint8
	WindowMisses uint64 // downlinks outside the sensor's windows
}

// Stats are the forwarder side's counters.
type Stats struct {
	PushSent, PushAcked uint64
	PullSent, PullAcked uint64
	PullResp, TxAcks    uint64
	// Unmatched counts downlinks no sensor could authenticate.
	Unmatched uint64
	Malformed uint64
}

// sent is an uplink's end (tmst) and frequency, where its windows are.
type sent struct {
	tmst uint32
	freq float64
}

// recentUplinks is how many uplinks' windows a sensor keeps open.
const recentUplinks = 4

type sensorState struct {
	cfg    Sensor
	index  int
	st     SensorStatus
	keys   lorawan.SessionKeys
	next   time.Time // when the next join request or uplink is due
	rx1    time.Duration
	rx1Off uint8
	// window is the tmst of the last uplink's end and whether it was a join.
	// recent are the sensor's last uplinks, newest last: with the short
	// intervals of tests a downlink may come after the next uplink left.
	recent     []sent
	lastJoin   bool
	waitingAck bool
}

// Simulator is a simulated packet forwarder with its sensors.
type Simulator struct {
	cfg   Config
	start time.Time

	mu      sync.Mutex
	sensors []*sensorState
	stats   Stats
	token   uint16
}

// New checks cfg and returns a Simulator.
func New(cfg Config) (*Simulator, error) {
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		return nil, fmt.Errorf("lora simulator: server %q: %w", cfg.Server, err)
	}
	if len(cfg.Sensors) == 0 || len(cfg.Sensors) > MaxSensors {
		return nil, fmt.Errorf("lora simulator: %d sensors, want 1..%d", len(cfg.Sensors), MaxSensors)
	}
	if cfg.Plan.Region == "" {
		p, err := band.EU868()
		if err != nil {
			return nil, err
		}
		cfg.Plan = p
	}
	if cfg.DataRate == 0 {
		cfg.DataRate = 5
	}
	if _, err := cfg.Plan.DataRate(cfg.DataRate); err != nil {
		return nil, fmt.Errorf("lora simulator: %w", err)
	}
	if cfg.PullInterval <= 0 {
		cfg.PullInterval = DefaultPullInterval
	}
	if cfg.StatInterval <= 0 {
		cfg.StatInterval = DefaultStatInterval
	}
	if cfg.JoinRetry <= 0 {
		cfg.JoinRetry = DefaultJoinRetry
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Simulator{cfg: cfg}
	for i, c := range cfg.Sensors {
		if c.AppKey.IsZero() {
			return nil, fmt.Errorf("lora simulator: sensor %d (%s) has no app key", i, c.Name)
		}
		if c.Interval <= 0 {
			c.Interval = DefaultInterval
		}
		if c.FPort == 0 {
			c.FPort = DefaultFPort
		}
		s.sensors = append(s.sensors, &sensorState{cfg: c, index: i, st: SensorStatus{Name: c.Name, DevNonce: c.DevNonce}})
	}
	return s, nil
}

// Run plays the forwarder until ctx ends; it returns nil then.
func (s *Simulator) Run(ctx context.Context) error {
	var d net.Dialer
	up, err := d.DialContext(ctx, "udp", s.cfg.Server)
	if err != nil {
		return fmt.Errorf("lora simulator: %w", err)
	}
	down, err := d.DialContext(ctx, "udp", s.cfg.Server)
	if err != nil {
		up.Close()
		return fmt.Errorf("lora simulator: %w", err)
	}
	s.mu.Lock()
	s.start = time.Now()
	// Spread the sensors' first join requests over the first interval.
	for i, ss := range s.sensors {
		ss.next = s.start.Add(time.Duration(i) * ss.cfg.Interval / time.Duration(len(s.sensors)) / 4)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range []net.Conn{up, down} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.read(c, down)
		}()
	}
	err = s.loop(ctx, up, down)
	up.Close()
	down.Close()
	wg.Wait()
	return err
}

func (s *Simulator) loop(ctx context.Context, up, down net.Conn) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	var nextPull, nextStat time.Time
	for {
		now := time.Now()
		if !now.Before(nextPull) {
			s.sendPull(down)
			nextPull = now.Add(s.cfg.PullInterval)
		}
		var stat *semtech.Stat
		if !now.Before(nextStat) {
			stat = &semtech.Stat{Time: now.UTC().Format("2006-01-02 15:04:05 MST"), RXNb: 1, RXOK: 1, RXFW: 1, ACKR: 100}
			nextStat = now.Add(s.cfg.StatInterval)
		}
		if rx := s.due(now); len(rx) > 0 || stat != nil {
			s.push(up, rx, stat)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tmst is the concentrator's counter now.
func (s *Simulator) tmst(now time.Time) uint32 {
	return s.cfg.TmstOffset + uint32(now.Sub(s.start)/time.Microsecond)
}

// due builds the rxpk of every sensor whose join request or uplink is due.
func (s *Simulator) due(now time.Time) []semtech.RXPK {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []semtech.RXPK
	dr, _ := s.cfg.Plan.DataRate(s.cfg.DataRate)
	for _, ss := range s.sensors {
		if now.Before(ss.next) {
			continue
		}
		var phy []byte
		if !ss.st.Joined {
			ss.st.DevNonce++
			ss.st.JoinRequests++
			phy = lorawan.JoinRequestFrame{JoinEUI: ss.cfg.JoinEUI, DevEUI: ss.cfg.DevEUI, DevNonce: ss.st.DevNonce}.Encode(ss.cfg.AppKey)
			ss.next = now.Add(s.cfg.JoinRetry)
			ss.lastJoin = true
		} else {
			var pl []byte
			if s.cfg.Payload != nil {
				pl = s.cfg.Payload(ss.index, ss.st.FCntUp)
			} else {
				pl = defaultPayload(ss.index, ss.st.FCntUp)
			}
			mt := lorawan.UnconfirmedDataUp
			if ss.cfg.Confirmed {
				mt = lorawan.ConfirmedDataUp
				ss.waitingAck = true
			}
			b, err := lorawan.Data{MType: mt, DevAddr: ss.st.DevAddr, FCnt: ss.st.FCntUp, HasPort: true, FPort: ss.cfg.FPort, Payload: pl}.Encode(ss.keys)
			if err != nil {
				s.cfg.Log.Debug("lora simulator: uplink", "sensor", ss.cfg.Name, "err", err)
				ss.next = now.Add(ss.cfg.Interval)
				continue
			}
			phy = b
			ss.st.FCntUp++
			ss.st.Uplinks++
			ss.next = now.Add(ss.cfg.Interval)
			ss.lastJoin = false
		}
		ch := s.cfg.Plan.Channels[ss.index%len(s.cfg.Plan.Channels)]
		u := sent{tmst: s.tmst(now), freq: semtech.HzToMHz(ch.Frequency)}
		if ss.lastJoin {
			ss.recent = ss.recent[:0]
		}
		ss.recent = append(ss.recent, u)
		if len(ss.recent) > recentUplinks {
			ss.recent = ss.recent[1:]
		}
		out = append(out, semtech.RXPK{Time: now.UTC().Format(time.RFC3339Nano), Tmst: u.tmst, Freq: semtech.HzToMHz(ch.Frequency),
			Chan: uint8(ch.Index), Stat: semtech.CRCOK, Modu: "LORA", Datr: semtech.DataRate{LoRa: dr.Name()}, Codr: "4/5",
			RSSI: -60 - ss.index%40, LSNR: 7.5 - float64(ss.index%10), Size: uint16(len(phy)), Data: phy})
	}
	return out
}

// defaultPayload is a slowly moving temperature and humidity.
func defaultPayload(i int, n uint32) []byte {
	phase := float64(n)/10 + float64(i)
	return payload.LPP{}.Temperature(1, 21+2*math.Sin(phase)).Humidity(2, 45+10*math.Cos(phase/2))
}

func (s *Simulator) nextToken() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token++
	return s.token
}

func (s *Simulator) push(up net.Conn, rx []semtech.RXPK, stat *semtech.Stat) {
	// Semtech's forwarder puts at most a few packets in one datagram; so
	// do we, to keep each under a typical MTU.
	const perDatagram = 8
	for first := true; first || len(rx) > 0; first = false {
		n := min(len(rx), perDatagram)
		body := struct {
			RXPK []semtech.RXPK `json:"rxpk,omitempty"`
			Stat *semtech.Stat  `json:"stat,omitempty"`
		}{RXPK: rx[:n], Stat: stat}
		rx, stat = rx[n:], nil
		js, err := json.Marshal(body)
		if err != nil {
			continue
		}
		b, _ := semtech.Packet{Token: s.nextToken(), Type: semtech.PushData, GatewayEUI: s.cfg.GatewayEUI, JSON: js}.AppendBinary(nil)
		if _, err := up.Write(b); err == nil {
			s.count(func(st *Stats) { st.PushSent++ })
		}
	}
}

func (s *Simulator) sendPull(down net.Conn) {
	b, _ := semtech.Packet{Token: s.nextToken(), Type: semtech.PullData, GatewayEUI: s.cfg.GatewayEUI}.AppendBinary(nil)
	if _, err := down.Write(b); err == nil {
		s.count(func(st *Stats) { st.PullSent++ })
	}
}

func (s *Simulator) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// read handles what the server sends on c until c is closed.
func (s *Simulator) read(c, down net.Conn) {
	buf := make([]byte, semtech.MaxDatagram)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP "port unreachable" while the server is not up yet.
			continue
		}
		p, err := semtech.DecodePacket(buf[:n])
		if err != nil {
			s.count(func(st *Stats) { st.Malformed++ })
			continue
		}
		switch p.Type {
		case semtech.PushAck:
			s.count(func(st *Stats) { st.PushAcked++ })
		case semtech.PullAck:
			s.count(func(st *Stats) { st.PullAcked++ })
		case semtech.PullResp:
			s.count(func(st *Stats) { st.PullResp++ })
			verdict := s.downlink(p.JSON)
			b, _ := semtech.Packet{Token: p.Token, Type: semtech.TxAck, GatewayEUI: s.cfg.GatewayEUI, JSON: semtech.EncodeTxAck(verdict)}.AppendBinary(nil)
			if _, err := down.Write(b); err == nil {
				s.count(func(st *Stats) { st.TxAcks++ })
			}
		default:
			s.count(func(st *Stats) { st.Malformed++ })
		}
	}
}

// downlink takes a PULL_RESP's packet as the sensor it is for would.
func (s *Simulator) downlink(js []byte) semtech.TxError {
	tx, err := semtech.DecodePullResp(js)
	if err != nil || tx.Tmst == nil {
		s.count(func(st *Stats) { st.Malformed++ })
		return semtech.TxNone
	}
	mt, err := lorawan.PeekMType(tx.Data)
	if err != nil {
		s.count(func(st *Stats) { st.Malformed++ })
		return semtech.TxNone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch mt {
	case lorawan.JoinAccept:
		for _, ss := range s.sensors {
			if ss.st.Joined {
				continue
			}
			ja, err := lorawan.DecodeJoinAccept(tx.Data, ss.cfg.AppKey)
			if err != nil {
				continue
			}
			if !s.inWindow(ss, tx, s.cfg.Plan.JoinAcceptDelay1, 0) {
				// A device hears only the windows of its last request.
				return semtech.TxNone
			}
			ss.keys = lorawan.DeriveSessionKeys(ss.cfg.AppKey, ja.AppNonce, ja.NetID, ss.st.DevNonce)
			ss.st.Joined, ss.st.DevAddr, ss.st.FCntUp, ss.st.FCntDown = true, ja.DevAddr, 0, 0
			ss.rx1 = time.Duration(max(ja.RxDelay, 1)) * time.Second
			ss.rx1Off = ja.DLSettings.RX1DROffset
			// The first uplink follows the join promptly, like real devices.
			ss.next = time.Now().Add(ss.cfg.Interval / 10)
			return semtech.TxNone
		}
	case lorawan.UnconfirmedDataDown, lorawan.ConfirmedDataDown:
		f, err := lorawan.DecodeData(tx.Data)
		if err != nil {
			break
		}
		for _, ss := range s.sensors {
			if !ss.st.Joined || ss.st.DevAddr != f.DevAddr {
				continue
			}
			fcnt, ok := lorawan.ReconstructFCnt(ss.st.FCntDown, f.FCnt)
			if !ok || f.CheckMIC(ss.keys.NwkSKey, fcnt) != nil {
				continue
			}
			if !s.inWindow(ss, tx, ss.rx1, ss.rx1Off) {
				return semtech.TxNone
			}
			ss.st.FCntDown = fcnt + 1
			if f.FCtrl.ACK && ss.waitingAck {
				ss.st.Acks++
				ss.waitingAck = false
			}
			if f.HasPort && f.FPort > 0 {
				ss.st.Downlinks++
				ss.st.LastDownlink, ss.st.LastFPort = f.Payload(ss.keys, fcnt), f.FPort
			}
			return semtech.TxNone
		}
	}
	s.stats.Unmatched++
	return semtech.TxNone
}

// inWindow reports whether a downlink is where the sensor listens after
// one of its recent uplinks, and counts it when not: RX1
// (delay after its last uplink's tmst, on that uplink's frequency, at its
// data rate minus the offset) or RX2 (one second later, on the plan's RX2
// frequency and data rate). Called with s.mu held.
func (s *Simulator) inWindow(ss *sensorState, tx semtech.TXPK, delay time.Duration, offset uint8) bool {
	if ss.lastJoin != (delay == s.cfg.Plan.JoinAcceptDelay1) {
		ss.st.WindowMisses++
		return false
	}
	rx1DR, _ := s.cfg.Plan.DataRate(s.cfg.Plan.RX1DataRate(s.cfg.DataRate, offset))
	rx2DR, _ := s.cfg.Plan.DataRate(s.cfg.Plan.RX2DataRate)
	for _, u := range ss.recent {
		rx1 := u.tmst + uint32(delay/time.Microsecond)
		switch {
		case *tx.Tmst == rx1 && tx.Freq == u.freq && tx.Datr.LoRa == rx1DR.Name():
			return true
		case *tx.Tmst == rx1+1_000_000 && tx.Freq == semtech.HzToMHz(s.cfg.Plan.RX2Frequency) && tx.Datr.LoRa == rx2DR.Name():
			return true
		}
	}
	ss.st.WindowMisses++
	return false
}

// Sensors returns each sensor's status.
func (s *Simulator) Sensors() []SensorStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SensorStatus, len(s.sensors))
	for i, ss := range s.sensors {
		out[i] = ss.st
		out[i].LastDownlink = append([]byte(nil), ss.st.LastDownlink...)
	}
	return out
}

// Stats returns the forwarder side's counters.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
