package lora

import (
	"fmt"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// ServerState is what the packet forwarder server is doing.
type ServerState string

// Server states.
const (
	ServerOff       ServerState = "off"       // lora disabled, or disabled for good
	ServerListening ServerState = "listening" // the socket is open
	ServerFailed    ServerState = "failed"    // it should run but cannot (Error says why); retried
)

// Concentrator is the packet forwarder side: what the console's LoRa tab
// shows at the top. Counters are those of the current socket (Since).
type Concentrator struct {
	State ServerState `json:"state"`
	Mode  string      `json:"mode,omitempty"` // embedded or forward
	// Address is the configured one; Listening the socket's own.
	Address   string    `json:"address,omitempty"`
	Listening string    `json:"listening,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Error     string    `json:"error,omitempty"`
	// GatewayEUI is the only gateway accepted (lora.gateway_eui).
	GatewayEUI string `json:"gateway_eui,omitempty"`
	// Forwarders are the packet forwarders heard (at most the configured
	// gateway; others are refused and counted in Server.UnknownGateway).
	Forwarders []semtech.ForwarderStatus `json:"forwarders"`
	// LastPushData and LastPullData are the latest of any forwarder.
	LastPushData time.Time `json:"last_push_data,omitzero"`
	LastPullData time.Time `json:"last_pull_data,omitzero"`
	// Received counts the uplinks (rxpk) received; Forwarded those handed
	// on: to the embedded network server (CRC good), or PUSH_DATA relayed
	// to the remote network server in forward mode.
	Received   uint64 `json:"received"`
	Forwarded  uint64 `json:"forwarded"`
	Duplicates uint64 `json:"duplicates"`
	CRCErrors  uint64 `json:"crc_errors"`
	// Server counts the datagrams, and everything refused (malformed,
	// broken JSON, bad rxpk, unknown gateway, rate limited).
	Server semtech.Stats `json:"server"`
	// NetworkServer is set in embedded mode (MIC failures, replays, joins,
	// downlinks), Relay in forward mode (buffering, the remote's state).
	NetworkServer *ns.Stats           `json:"network_server,omitempty"`
	Relay         *semtech.RelayStats `json:"relay,omitempty"`
}

// Concentrator returns the packet forwarder side's state.
func (d *Driver) Concentrator() Concentrator {
	d.mu.Lock()
	inst, lastErr, conf := d.inst, d.lastErr, d.conf
	d.mu.Unlock()
	c := Concentrator{State: ServerOff, Address: conf.address}
	if conf.running {
		c.Mode, c.GatewayEUI = conf.mode.String(), conf.gateway.String()
		c.State = ServerFailed
		if lastErr != nil {
			c.Error = lastErr.Error()
		} else if inst == nil {
			c.Error = "not started yet"
		}
	}
	if inst == nil {
		return c
	}
	if err := inst.failed(); err != nil {
		c.Error = err.Error()
	} else {
		c.State = ServerListening
	}
	c.Mode, c.Address, c.Listening, c.Since = inst.mode.String(), inst.address, inst.listening, inst.since
	switch {
	case inst.srv != nil:
		c.Server, c.Forwarders = inst.srv.Stats(), inst.srv.Forwarders()
		st := inst.ns.Stats()
		c.NetworkServer = &st
		c.Received, c.CRCErrors = c.Server.RXPackets, c.Server.CRCErrors
		c.Forwarded, c.Duplicates = st.Received, st.Duplicates
	case inst.relay != nil:
		rs := inst.relay.Stats()
		c.Relay, c.Server, c.Forwarders = &rs, rs.Stats, inst.relay.Forwarders()
		c.Received, c.CRCErrors, c.Forwarded = rs.RXPackets, rs.CRCErrors, rs.Forwarded
	}
	for _, f := range c.Forwarders {
		if f.LastPush.After(c.LastPushData) {
			c.LastPushData = f.LastPush
		}
		if f.LastPull.After(c.LastPullData) {
			c.LastPullData = f.LastPull
		}
	}
	return c
}

// DeviceState is one device of the embedded network server as `lora
// devices` and the console show it: the radio side (join state, DevAddr,
// frame counters, last uplink, RSSI/SNR) and the field side (state,
// errors).
type DeviceState struct {
	ns.DeviceStatus
	// JoinState is "joined" (an OTAA session), "not joined", or "abp".
	JoinState string          `json:"join_state"`
	Class     string          `json:"class"`
	Codec     string          `json:"codec"`
	Interval  device.Duration `json:"interval"` // expected between uplinks
	// State, Since, Errors and LastError are the device's field status.
	State     field.State       `json:"state"`
	Since     time.Time         `json:"since,omitzero"`
	Errors    map[string]uint64 `json:"errors"`
	LastError string            `json:"last_error,omitempty"`
}

// Devices returns the embedded network server's devices in site order
// (none in forward mode). While the server does not run, the radio side
// holds only what the site says.
func (d *Driver) Devices() []DeviceState {
	d.mu.Lock()
	inst := d.inst
	out := make([]DeviceState, 0, len(d.order))
	for _, name := range d.order {
		ds := d.devices[name]
		st := ds.st.Clone()
		out = append(out, DeviceState{Class: ds.class.String(), Codec: ds.codecName, Interval: device.Duration(ds.interval),
			State: st.State, Since: st.Since, Errors: st.Errors, LastError: st.LastError,
			DeviceStatus: ns.DeviceStatus{Name: name}})
		if eui, err := lorawan.ParseEUI64(ds.devEUI); err == nil {
			out[len(out)-1].DevEUI = eui
		}
	}
	d.mu.Unlock()
	radio := map[string]ns.DeviceStatus{}
	if inst != nil && inst.ns != nil {
		for _, s := range inst.ns.Devices() {
			radio[s.Name] = s
		}
	}
	site, _ := d.gw.Site()
	for i := range out {
		if s, ok := radio[out[i].Name]; ok {
			out[i].DeviceStatus = s
		} else {
			for _, sd := range site.LoRa.Devices {
				if sd.Name == out[i].Name {
					out[i].Activation = sd.Activation.String()
				}
			}
		}
		switch {
		case out[i].Activation == "abp":
			out[i].JoinState = "abp"
		case out[i].Joined:
			out[i].JoinState = "joined"
		default:
			out[i].JoinState = "not joined"
		}
	}
	return out
}

// Frames returns up to n of the most recent frames, oldest first (n <= 0:
// every frame kept, at most MaxFrames).
func (d *Driver) Frames(n int) []Frame { return d.frames.last(n) }

// SubscribeFrames returns a live feed of frames with room for buffer of
// them (`lora frames --follow`). Close it when done.
func (d *Driver) SubscribeFrames(buffer int) *FrameSubscription { return d.frames.subscribe(buffer) }

// Plan returns the effective channel plan of the site's region, the one
// the embedded network server uses (EU868: the three default channels and
// the receive windows).
func (d *Driver) Plan() (band.Plan, error) {
	if inst := d.running(); inst != nil && inst.ns != nil {
		return inst.ns.Plan(), nil
	}
	site, _ := d.gw.Site()
	if r := site.LoRa.Region; r != 0 && r != device.RegionEU868 {
		return band.Plan{}, fmt.Errorf("region %s: only EU868's channel plan is known here", r)
	}
	return band.EU868()
}

// Configure implements Backend: the driver follows the site itself.
func (d *Driver) Configure(device.LoRa) error { return nil }

// Status implements Backend for Radio, which asks only while LoRa is
// enabled: running once a packet forwarder has been heard, no
// concentrator before that or while the socket cannot be opened.
func (d *Driver) Status() Status {
	c := d.Concentrator()
	st := Status{State: StateNoConcentrator, RxPackets: c.Received, TxPackets: c.Server.TxSent}
	switch {
	case c.State != ServerListening:
		st.Detail = "packet forwarder server not running: " + c.Error
	case len(c.Forwarders) == 0:
		st.Detail = fmt.Sprintf("%s mode; listening on %s, no packet forwarder heard yet", c.Mode, c.Listening)
	default:
		st.State = StateRunning
		last := c.LastPushData
		if c.LastPullData.After(last) {
			last = c.LastPullData
		}
		st.Detail = fmt.Sprintf("%s mode on %s; packet forwarder last heard %s ago", c.Mode, c.Listening, time.Since(last).Round(time.Second))
	}
	return st
}
