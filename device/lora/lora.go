package lora

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/sitegate/sitegate/device"
)

// State is what the LoRa radio is doing.
type State uint8

// Radio states.
const (
	StateDisabled            State = iota + 1 // the site does not enable LoRa
	StatePermanentlyDisabled                  // off until re-enabled with physical access
	StateNoConcentrator                       // enabled, but there is no concentrator hardware
	StateRunning                              // forwarding packets
)

var stateNames = []string{"", "disabled", "permanently disabled", "no concentrator", "running"}

// String returns the state as the console shows it.
func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText encodes the state by name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is the LoRa radio's state for health and the console.
type Status struct {
	State         State             `json:"state"`
	Region        device.LoRaRegion `json:"region,omitempty"`
	GatewayEUI    string            `json:"gateway_eui,omitempty"`
	NetworkServer string            `json:"network_server,omitempty"`
	RxPackets     uint64            `json:"rx_packets,omitempty"` // uplinks received since start
	TxPackets     uint64            `json:"tx_packets,omitempty"` // downlinks sent since start
	Detail        string            `json:"detail,omitempty"`
}

// Backend runs (or would run) the packet forwarder.
type Backend interface {
	// Configure applies an enabled lora section; a disabled one stops the
	// forwarder.
	Configure(l device.LoRa) error
	// Status reports the forwarder's state for the last Configure; only
	// StateNoConcentrator and StateRunning come from a backend.
	Status() Status
}

// Radio follows the site's lora section and reports the radio's status.
// It is safe for concurrent use.
type Radio struct {
	site func() *device.Site
	be   Backend

	mu      sync.Mutex
	applied *device.LoRa
	err     error
}

// New returns a Radio that reads the site with site (for example a
// function calling device.Gateway.Site) and drives be.
func New(site func() *device.Site, be Backend) *Radio {
	return &Radio{site: site, be: be}
}

// Status reads the site, brings the backend in line when the lora section
// changed, and reports the radio's state.
func (r *Radio) Status() Status {
	s := r.site()
	l := s.LoRa
	r.mu.Lock()
	if r.applied == nil || !reflect.DeepEqual(*r.applied, l) {
		cfg := l
		if l.PermanentlyDisabled {
			cfg.Enabled = false
		}
		r.err = r.be.Configure(cfg)
		r.applied = &l
	}
	err := r.err
	r.mu.Unlock()

	st := Status{Region: l.Region, GatewayEUI: l.GatewayEUI, NetworkServer: l.NetworkServer}
	switch {
	case l.PermanentlyDisabled:
		st.State = StatePermanentlyDisabled
		st.Detail = "re-enable on the gateway with `sitegate radio enable lora --data DIR`"
	case !l.Enabled:
		st.State = StateDisabled
	default:
		b := r.be.Status()
		st.State, st.RxPackets, st.TxPackets, st.Detail = b.State, b.RxPackets, b.TxPackets, b.Detail
		if err != nil {
			st.Detail = err.Error()
		}
	}
	return st
}

// Sim is a simulated concentrator: enabled, it is running and counts
// packets each time its status is read.
type Sim struct {
	mu      sync.Mutex
	enabled bool
	rx, tx  uint64
}

// Configure records whether the forwarder runs.
func (s *Sim) Configure(l device.LoRa) error {
	s.mu.Lock()
	s.enabled = l.Enabled
	s.mu.Unlock()
	return nil
}

// Status reports a running, simulated forwarder.
func (s *Sim) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled {
		return Status{State: StateDisabled}
	}
	s.rx += 3
	if s.rx%12 == 0 {
		s.tx++
	}
	return Status{State: StateRunning, RxPackets: s.rx, TxPackets: s.tx, Detail: "simulated concentrator"}
}

// DefaultConcentratorDevices are the device nodes a concentrator would use:
// SPI for SX1302 HATs, USB CDC for USB concentrators.
var DefaultConcentratorDevices = []string{"/dev/spidev0.0", "/dev/spidev1.0", "/dev/ttyACM0"}

// Linux reports the hardware's state: without a concentrator, enabled LoRa
// is StateNoConcentrator.
type Linux struct {
	// Devices are the device nodes to look for (DefaultConcentratorDevices
	// when nil).
	Devices []string
}

// Configure does nothing: there is no forwarder to start.
func (Linux) Configure(device.LoRa) error { return nil }

// Status reports StateNoConcentrator, saying what was looked for or found.
func (l Linux) Status() Status {
	devs := l.Devices
	if devs == nil {
		devs = DefaultConcentratorDevices
	}
	for _, d := range devs {
		if _, err := os.Stat(d); err == nil {
			return Status{State: StateNoConcentrator, Detail: "found " + d + ", but this gateway has no LoRa packet forwarder"}
		}
	}
	return Status{State: StateNoConcentrator, Detail: "no LoRa concentrator found (looked for " + strings.Join(devs, ", ") + ")"}
}

// Regions returns every LoRaWAN region the site file accepts, in the
// order of the regional parameters (for the console's picker).
func Regions() []device.LoRaRegion {
	var out []device.LoRaRegion
	for r := device.LoRaRegion(1); r != 0; r++ {
		if _, err := device.ParseLoRaRegion(r.String()); err != nil {
			break
		}
		out = append(out, r)
	}
	return out
}

// EUI is a 64-bit gateway EUI.
type EUI [8]byte

// ErrBadEUI means text is not a gateway EUI.
var ErrBadEUI = errors.New("not a gateway EUI (16 hex digits, e.g. 0016c001ff10a235)")

// ParseEUI accepts 16 hex digits, optionally grouped with ':' or '-' as
// printed on labels (00-16-C0-01-FF-10-A2-35).
func ParseEUI(s string) (EUI, error) {
	var e EUI
	clean := strings.NewReplacer(":", "", "-", "", " ", "").Replace(strings.TrimSpace(s))
	if len(clean) != 16 {
		return e, fmt.Errorf("%q is %w", s, ErrBadEUI)
	}
	if _, err := hex.Decode(e[:], []byte(clean)); err != nil {
		return e, fmt.Errorf("%q is %w", s, ErrBadEUI)
	}
	return e, nil
}

// String is the site file's form: 16 lower-case hex digits.
func (e EUI) String() string { return hex.EncodeToString(e[:]) }

// Check returns the problems of a lora section with their paths, using
// the site's own validation. Nil means none.
func Check(l device.LoRa) []device.Problem {
	s := device.DefaultSite()
	s.LoRa = l
	return s.ProblemsIn("lora")
}

// checkField returns the problem of one field of an enabled lora section as an
// error, or nil.
func checkField(l device.LoRa, path string) error {
	l.Enabled = true
	return device.ProblemAt(Check(l), path)
}

// CheckNetworkServer reports what is wrong with a network server address
// (host:port), or nil.
func CheckNetworkServer(s string) error {
	return checkField(device.LoRa{NetworkServer: s}, "lora.network_server")
}

// CheckGatewayEUI reports what is wrong with a gateway EUI as the site
// file holds it (16 hex digits), or nil.
func CheckGatewayEUI(s string) error {
	return checkField(device.LoRa{GatewayEUI: s}, "lora.gateway_eui")
}
