package device

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// Quality says how far a reading can be trusted.
type Quality string

// Qualities of DESIGN.md's machine-readable outputs.
const (
	QualityGood  Quality = "good"  // read in the last cycle
	QualityStale Quality = "stale" // the last value, but the last cycle could not read it
	QualityError Quality = "error" // the device refuses this point; Error says why
)

// Value is a point's value: a number or, for coils and discrete inputs, a
// bool. The zero Value is "no value" and encodes as JSON null.
type Value struct {
	Num    float64
	Bool   bool
	IsBool bool
	Valid  bool
}

// Number returns a numeric Value.
func Number(v float64) Value { return Value{Num: v, Valid: true} }

// Boolean returns a bool Value.
func Boolean(b bool) Value { return Value{Bool: b, IsBool: true, Valid: true} }

// MarshalJSON writes a number, true/false, or null.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case !v.Valid:
		return []byte("null"), nil
	case v.IsBool:
		return json.Marshal(v.Bool)
	case math.IsNaN(v.Num) || math.IsInf(v.Num, 0):
		// JSON has no NaN; a device sending one has no usable value.
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(v.Num, 'g', -1, 64)), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *Value) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*v = Value{}
	case "true", "false":
		*v = Boolean(string(b) == "true")
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return err
		}
		*v = Number(f)
	}
	return nil
}

// String formats the value for people (empty for no value).
func (v Value) String() string {
	switch {
	case !v.Valid:
		return ""
	case v.IsBool:
		return strconv.FormatBool(v.Bool)
	}
	return strconv.FormatFloat(v.Num, 'g', 7, 64)
}

// Reading is one point's value at a time (binding JSON field names).
type Reading struct {
	Device  string    `json:"device"`
	Point   string    `json:"point"`
	Value   Value     `json:"value"`
	Unit    string    `json:"unit,omitempty"`
	Quality Quality   `json:"quality"`
	Error   string    `json:"error,omitempty"`
	TS      time.Time `json:"ts"`
}

// DeviceState is a polled device's connection state.
type DeviceState string

// Device states.
const (
	DeviceUnknown DeviceState = "unknown" // not polled yet
	DeviceOnline  DeviceState = "online"
	DeviceOffline DeviceState = "offline" // consecutive cycles failed; polled with backoff
)

// DeviceStatus is a device's state and statistics.
type DeviceStatus struct {
	Device      string            `json:"device"`
	Bus         string            `json:"bus"`
	State       DeviceState       `json:"state"`
	Since       time.Time         `json:"since"`        // when State last changed
	LastPoll    time.Time         `json:"last_poll"`    // end of the last cycle
	Requests    uint64            `json:"requests"`     // requests sent
	Errors      map[string]uint64 `json:"errors"`       // failed requests by kind (timeout, exception, crc, framing, connection)
	LastLatency time.Duration     `json:"last_latency"` // of the last successful request
	LastError   string            `json:"last_error,omitempty"`
	SuccessRate float64           `json:"success_rate"` // successful requests / requests, 0..1
	NextPoll    time.Time         `json:"next_poll"`
}

// telemetryPayload is a telemetry outbox record: the uplink adds "seq".
type telemetryPayload struct {
	Gateway  string             `json:"gateway"`
	Readings []telemetryReading `json:"readings"`
}

// telemetryReading is a reading as the MQTT contract sends it: the fields
// of DESIGN.md (no unit: the cloud has the site), the error only when
// there is one, and the time to the millisecond. Every byte counts on a
// metered SIM.
type telemetryReading struct {
	Device  string    `json:"device"`
	Point   string    `json:"point"`
	Value   Value     `json:"value"`
	Quality Quality   `json:"quality"`
	Error   string    `json:"error,omitempty"`
	TS      time.Time `json:"ts"`
}

// fieldState is the gateway's view of the field: latest readings and
// device statuses, as the poller reports them.
type fieldState struct {
	readings map[string]map[string]Reading // device → point → reading
	status   map[string]DeviceStatus
	bus      FieldBus
}

// RecordPoll stores one device's cycle: its status, its latest readings
// (for the console and `modbus read`), and one telemetry outbox record
// with every reading of the cycle.
func (g *Gateway) RecordPoll(status DeviceStatus, readings []Reading) error {
	g.fieldMu.Lock()
	if g.field.readings == nil {
		g.field.readings = map[string]map[string]Reading{}
		g.field.status = map[string]DeviceStatus{}
	}
	latest := g.field.readings[status.Device]
	if latest == nil {
		latest = map[string]Reading{}
		g.field.readings[status.Device] = latest
	}
	for _, r := range readings {
		latest[r.Point] = r
	}
	g.field.status[status.Device] = status
	g.fieldMu.Unlock()
	g.Publish(Event{Kind: EventReadings, Device: status.Device})
	if len(readings) == 0 {
		return nil
	}
	tr := make([]telemetryReading, len(readings))
	for i, r := range readings {
		tr[i] = telemetryReading{Device: r.Device, Point: r.Point, Value: r.Value, Quality: r.Quality, Error: r.Error, TS: r.TS.Truncate(time.Millisecond)}
	}
	payload, err := json.Marshal(telemetryPayload{Gateway: g.id, Readings: tr})
	if err != nil {
		return err
	}
	_, err = g.st.Enqueue("telemetry", payload)
	return err
}

// ForgetDevices drops readings and statuses of devices not in keep (after
// a topology change removed them).
func (g *Gateway) ForgetDevices(keep map[string]bool) {
	g.fieldMu.Lock()
	defer g.fieldMu.Unlock()
	for d := range g.field.readings {
		if !keep[d] {
			delete(g.field.readings, d)
		}
	}
	for d := range g.field.status {
		if !keep[d] {
			delete(g.field.status, d)
		}
	}
}

// Readings returns the latest readings of a device in the site's point
// order; false when the site has no such device. Points never read yet are
// included with no value and quality stale.
func (g *Gateway) Readings(deviceName string) ([]Reading, bool) {
	site, _ := g.Site()
	dev, ok := site.Modbus.FindDevice(deviceName)
	if !ok {
		return nil, false
	}
	g.fieldMu.RLock()
	latest := g.field.readings[deviceName]
	out := make([]Reading, 0, len(latest))
	for _, p := range dev.EffectivePoints() {
		r, ok := latest[p.Name]
		if !ok {
			r = Reading{Device: deviceName, Point: p.Name, Unit: p.Unit, Quality: QualityStale, Error: "not read yet"}
		}
		out = append(out, r)
	}
	g.fieldMu.RUnlock()
	return out, true
}

// DeviceStatuses returns the status of every device of the site, in site
// order.
func (g *Gateway) DeviceStatuses() []DeviceStatus {
	site, _ := g.Site()
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	out := make([]DeviceStatus, 0, len(site.Modbus.Devices))
	for _, d := range site.Modbus.Devices {
		st, ok := g.field.status[d.Name]
		if !ok {
			st = DeviceStatus{Device: d.Name, Bus: d.Bus, State: DeviceUnknown}
		}
		out = append(out, st)
	}
	return out
}

// ScanResult is a unit found by a bus scan.
type ScanResult struct {
	UnitID   uint8  `json:"unit_id"`
	Vendor   string `json:"vendor,omitempty"`
	Product  string `json:"product,omitempty"`
	Revision string `json:"revision,omitempty"`
	How      string `json:"how"` // "identification", "register" or "exception N"
}

// ScanProgress reports a scan's progress.
type ScanProgress struct {
	UnitID uint8 // the unit just probed
	Done   int   // units probed so far
	Total  int   // units to probe
	Found  int   // units found so far
}

// RawRead is the decode lab's request: registers or bits as the device
// holds them, without a point.
type RawRead struct {
	Device  string
	Table   RegisterTable
	Address uint16
	Count   uint16
}

// FieldBus is what the console and exec commands ask of the field
// protocol engine, through the Gateway (the console never talks to buses
// itself).
type FieldBus interface {
	// Scan probes unit ids first..last on bus.
	Scan(ctx context.Context, bus string, first, last uint8, progress func(ScanProgress)) ([]ScanResult, error)
	// ReadRaw reads registers (words) or bits now.
	ReadRaw(ctx context.Context, r RawRead) (words []uint16, bits []bool, err error)
	// Write writes a value to a writable point now.
	Write(ctx context.Context, deviceName, point string, v Value) error
}

// ErrNoFieldBus means the gateway runs without a field protocol engine.
var ErrNoFieldBus = errors.New("no field bus engine is running")

// SetFieldBus attaches the engine (done by the daemon at start).
func (g *Gateway) SetFieldBus(fb FieldBus) {
	g.fieldMu.Lock()
	g.field.bus = fb
	g.fieldMu.Unlock()
}

// FieldBus returns the engine, or nil.
func (g *Gateway) FieldBus() FieldBus {
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	return g.field.bus
}

// ModbusHealth is the field part of health.
type ModbusHealth struct {
	DevicesOnline int `json:"devices_online"`
	DevicesTotal  int `json:"devices_total"`
}

func (g *Gateway) modbusHealth() ModbusHealth {
	st := g.DeviceStatuses()
	h := ModbusHealth{DevicesTotal: len(st)}
	for _, s := range st {
		if s.State == DeviceOnline {
			h.DevicesOnline++
		}
	}
	return h
}
