package field

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Protocol is a field protocol the gateway speaks.
type Protocol uint8

// Protocols, in the order the console lists them.
const (
	Modbus Protocol = iota + 1
	BACnet
	SNMP
	CoAP
	LoRa
)

var protocolNames = map[Protocol]string{Modbus: "modbus", BACnet: "bacnet", SNMP: "snmp", CoAP: "coap", LoRa: "lora"}

// Protocols returns every protocol in listing order.
func Protocols() []Protocol { return []Protocol{Modbus, BACnet, SNMP, CoAP, LoRa} }

// String returns the protocol's name as the site file and JSON spell it.
func (p Protocol) String() string {
	if s, ok := protocolNames[p]; ok {
		return s
	}
	return "protocol(" + strconv.Itoa(int(p)) + ")"
}

// ParseProtocol reads a protocol name.
func ParseProtocol(s string) (Protocol, error) {
	for p, n := range protocolNames {
		if strings.EqualFold(s, n) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown protocol %q: use modbus, bacnet, snmp, coap or lora", s)
}

// MarshalText writes the protocol's name.
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a protocol name.
func (p *Protocol) UnmarshalText(b []byte) error {
	v, err := ParseProtocol(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Quality says how far a reading can be trusted.
type Quality string

// Qualities of the machine-readable outputs (README, "Contracts").
const (
	QualityGood  Quality = "good"  // read in the last cycle
	QualityStale Quality = "stale" // the last value, but the last cycle could not read it
	QualityError Quality = "error" // the device refuses this point; Error says why
)

// Value is a point's value: a number, a bool or a text. The zero Value is
// "no value" and encodes as JSON null.
type Value struct {
	Num    float64
	Text   string
	Bool   bool
	IsBool bool
	IsText bool
	Valid  bool
}

// MaxTextLen bounds a text value in bytes: SNMP's DisplayString (RFC 2579)
// and BACnet's character strings of building gear fit; Text cuts longer
// ones at a character boundary.
const MaxTextLen = 255

// Number returns a numeric Value.
func Number(v float64) Value { return Value{Num: v, Valid: true} }

// Boolean returns a bool Value.
func Boolean(b bool) Value { return Value{Bool: b, IsBool: true, Valid: true} }

// Text returns a text Value: s as printable UTF-8 of at most MaxTextLen
// bytes. Bytes that are not UTF-8 and control characters (a device's
// escape sequences must never reach an installer's terminal) become
// U+FFFD; tabs and line ends become spaces.
func Text(s string) Value { return Value{Text: printable(s), IsText: true, Valid: true} }

func printable(s string) string {
	clean := utf8.ValidString(s) && len(s) <= MaxTextLen
	if clean {
		for _, r := range s {
			if unicode.IsControl(r) {
				clean = false
				break
			}
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case unicode.IsControl(r):
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > MaxTextLen {
			break
		}
		b.WriteRune(r) // invalid bytes come as RuneError already
	}
	return b.String()
}

// MarshalJSON writes a number, true/false, a string, or null.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case !v.Valid:
		return []byte("null"), nil
	case v.IsBool:
		return json.Marshal(v.Bool)
	case v.IsText:
		return json.Marshal(v.Text)
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
		if len(b) > 0 && b[0] == '"' {
			var t string
			if err := json.Unmarshal(b, &t); err != nil {
				return err
			}
			*v = Text(t)
			return nil
		}
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return err
		}
		*v = Number(f)
	}
	return nil
}

// String formats the value for people (empty for no value), with up to
// seven significant digits.
func (v Value) String() string { return v.Format(7) }

// Format formats the value with at most digits significant digits
// (digits <= 0: full precision).
func (v Value) Format(digits int) string {
	switch {
	case !v.Valid:
		return ""
	case v.IsBool:
		return strconv.FormatBool(v.Bool)
	case v.IsText:
		return v.Text
	case digits <= 0:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	}
	return strconv.FormatFloat(v.Num, 'g', digits, 64)
}

// ParseValue reads a value typed by a person: true/false/on/off or a
// number.
func ParseValue(s string) (Value, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on":
		return Boolean(true), nil
	case "false", "off":
		return Boolean(false), nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("%q is not a value: give a number, or true/false", s)
	}
	return Number(f), nil
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

// State is a device's connection state.
type State string

// Device states.
const (
	StateUnknown  State = "unknown"  // not polled yet
	StateOnline   State = "online"   // the last cycle read every point good
	StateDegraded State = "degraded" // the last cycle failed in part, or wholly but not yet often enough for offline
	StateOffline  State = "offline"  // consecutive cycles read nothing good; polled with backoff
)

// Status is a device's state and statistics.
type Status struct {
	Device      string            `json:"device"`
	Protocol    Protocol          `json:"protocol"`
	Bus         string            `json:"bus"`          // the bus, network or address the device is reached on
	State       State             `json:"state"`        //
	Since       time.Time         `json:"since"`        // when State last changed
	LastPoll    time.Time         `json:"last_poll"`    // end of the last cycle (or last message received)
	Requests    uint64            `json:"requests"`     // requests sent (or messages received)
	Errors      map[string]uint64 `json:"errors"`       // failed requests by kind (timeout, exception, crc, framing, connection, …)
	LastLatency time.Duration     `json:"last_latency"` // of the last successful request
	LastError   string            `json:"last_error,omitempty"`
	SuccessRate float64           `json:"success_rate"` // successful requests / requests, 0..1
	NextPoll    time.Time         `json:"next_poll,omitzero"`
}

// Failed returns the number of failed requests.
func (s Status) Failed() uint64 {
	var n uint64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// Clone returns a copy that shares no map with s.
func (s Status) Clone() Status {
	c := s
	c.Errors = make(map[string]uint64, len(s.Errors))
	for k, v := range s.Errors {
		c.Errors[k] = v
	}
	return c
}

// CycleState decides a device's state after a cycle from how many points it
// read good out of total, and how many cycles in a row read none
// (noneInRow, counting this one). A device whose every read fails is never
// online: it is degraded until offlineAfter such cycles, then offline.
func CycleState(good, total, noneInRow, offlineAfter int) State {
	switch {
	case total > 0 && good == total:
		return StateOnline
	case good > 0:
		return StateDegraded
	case noneInRow >= offlineAfter:
		return StateOffline
	}
	return StateDegraded
}

// DeviceInfo is a device of the site as the field layer sees it.
type DeviceInfo struct {
	Name     string      `json:"name"`
	Protocol Protocol    `json:"protocol"`
	Bus      string      `json:"bus"` // bus, network or address
	Points   []PointInfo `json:"points"`
	// DynamicPoints: the device names its points itself (a LoRaWAN
	// sensor's Cayenne LPP channels, a CoAP sensor's body): readings of
	// points not listed are kept too, after the listed ones, by name.
	DynamicPoints bool `json:"dynamic_points,omitempty"`
}

// PointInfo is a point of a device.
type PointInfo struct {
	Name     string `json:"name"`
	Unit     string `json:"unit,omitempty"`
	Writable bool   `json:"writable,omitempty"`
	// Precision is the significant digits the console shows (0: the
	// default, DefaultPrecision).
	Precision int `json:"precision,omitempty"`
	// Report says when readings of the point go to the cloud; the zero
	// value sends every one. The latest value and the console see every
	// reading whatever it says.
	Report Report `json:"report,omitzero"`
}

// Report is a point's report by exception: a reading is sent when it
// differs from the last one sent by more than Deadband (any change when 0;
// a bool, a quality or an error text when it changes), or when Heartbeat
// has passed since that one (0: never for that reason). A point that is not
// ByException sends every reading.
type Report struct {
	ByException bool          `json:"by_exception,omitempty"`
	Deadband    float64       `json:"deadband,omitempty"`
	Heartbeat   time.Duration `json:"heartbeat,omitempty"`
}

// DefaultPrecision is the significant digits the console shows a value
// with when its point says nothing.
const DefaultPrecision = 4

// Write is a confirmed write of a value to a point.
type Write struct {
	Device string
	Point  string
	Value  Value // Valid false: relinquish (write NULL) where the protocol has priorities
	// Priority is the command priority 1..16 where the protocol has one
	// (BACnet); 0 means the point's default.
	Priority int
}

// Query asks a driver to discover devices.
type Query struct {
	Target string // a bus name, a network or an address; protocol-specific
	From   int    // first id (unit id, instance) to probe; 0: the protocol's first
	To     int    // last id; 0: the protocol's last
}

// Found is a device a discovery found.
type Found struct {
	Protocol Protocol `json:"protocol"`
	Target   string   `json:"target"`            // the bus or network it was found on
	ID       int      `json:"id"`                // unit id, device instance, …
	Address  string   `json:"address,omitempty"` // where it answered, when not implied by Target
	Vendor   string   `json:"vendor,omitempty"`
	Model    string   `json:"model,omitempty"`
	Revision string   `json:"revision,omitempty"`
	Objects  int      `json:"objects,omitempty"` // points or objects it offers, where known
	How      string   `json:"how"`               // how it was recognised
}

// Progress reports a discovery's progress.
type Progress struct {
	Current int // the id just probed
	Done    int // ids probed so far
	Total   int // ids to probe (0: unknown)
	Found   int // devices found so far
}
