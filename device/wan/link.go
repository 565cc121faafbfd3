package wan

import (
	"context"
	"errors"
	"fmt"

	"github.com/sitegate/sitegate/device"
)

// State is a link's state as health reports it.
type State uint8

// Link states.
const (
	StateDisabled State = iota // not used: not enabled in the site, or not in wan.priority
	StateDown                  // enabled, but its probes fail (or it was not probed yet)
	StateUp                    // reaches the internet
)

var stateNames = []string{"disabled", "down", "up"}

// String returns disabled, down or up, as health --json writes them.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText encodes the state by name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Link is one uplink as a backend sees it.
type Link struct {
	Kind      device.LinkKind
	Interface string // the site's interface for the link (eth0, wlan0, wwan0)
	SIM       int    // cellular: the active SIM slot (1 or 2), 0 when none
}

// Name returns the link's name: ethernet, wifi or cellular.
func (l Link) Name() string { return l.Kind.String() }

// Counters are an interface's byte counters since some unknown origin:
// only differences between two readings count, and a reading lower than
// the one before means the counters were reset (or wrapped).
type Counters struct {
	RxBytes, TxBytes uint64
}

// LinkStatus is what a backend knows of a link beyond its probes.
type LinkStatus struct {
	Signal *int   // dBm, when known
	Detail string // e.g. "ModemManager not available (mmcli not found)"
}

// Backend carries out the manager's decisions on a host: it probes links,
// orders the default routes, switches SIMs and reads counters. The
// manager serialises every call except Probe and Status, which run for
// all links at once.
type Backend interface {
	// Name is sim or linux.
	Name() string
	// Configure applies the site's link settings (the Wi-Fi network, the
	// radios' on/off state). The manager calls it at the first round and
	// whenever the wan, cellular or wifi sections change.
	Configure(ctx context.Context, site *device.Site) error
	// Probe returns nil when the link reaches at least one of targets
	// (host:port) by TCP before ctx ends.
	Probe(ctx context.Context, l Link, targets []string) error
	// Status reports the link's signal and anything the operator should
	// know (a missing tool, a missing interface).
	Status(ctx context.Context, l Link) LinkStatus
	// SelectSIM makes the modem use sim (l.SIM is sim.Slot).
	SelectSIM(ctx context.Context, l Link, sim device.SIM) error
	// Route makes traffic prefer the links in order: the first is the
	// active uplink and gets the lowest default-route metric.
	Route(ctx context.Context, order []Link) error
	// Counters reads the link's interface byte counters.
	Counters(ctx context.Context, l Link) (Counters, error)
}

// ErrNotAvailable is wrapped by backend errors for a facility the host
// lacks (ModemManager for SIM switching, wpa_cli for Wi-Fi).
var ErrNotAvailable = errors.New("not available on this gateway")

// ErrUnreachable is what a sim link made unreachable answers to probes.
var ErrUnreachable = errors.New("link made unreachable (sim link down)")

// LinkNames are the names `sim link down|up NAME` accepts.
func LinkNames() []string {
	return []string{"ethernet", "wifi", "cellular", "cellular.sim1", "cellular.sim2"}
}

// allKinds lists the link kinds in the default priority order.
var allKinds = device.DefaultPriority()
