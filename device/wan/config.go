package wan

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"time"

	"github.com/sitegate/sitegate/device"
)

// config is the part of the site the manager acts on, with defaults
// applied and every link's enablement decided.
type config struct {
	interval      time.Duration
	downAfter     int
	upAfter       int
	targets       []string
	priority      []device.LinkKind          // as in wan.priority
	order         []device.LinkKind          // priority, then the links it omits
	disabled      map[device.LinkKind]string // why a link is disabled; absent: enabled
	iface         map[device.LinkKind]string
	sims          []device.SIM // by slot
	failoverAfter time.Duration
	rotate        device.Rotate
	loc           *time.Location
	key           [32]byte // of the sections the backend configures
}

func configOf(site *device.Site) config {
	s := site.Clone()
	s.ApplyDefaults()
	c := config{
		interval:      time.Duration(s.WAN.Probe.Interval),
		downAfter:     max(1, s.WAN.Probe.DownAfter),
		upAfter:       max(1, s.WAN.Probe.UpAfter),
		targets:       slices.Clone(s.WAN.Probe.Targets),
		disabled:      map[device.LinkKind]string{},
		failoverAfter: time.Duration(s.Cellular.FailoverAfter),
		rotate:        s.Cellular.Rotate,
		loc:           s.Clock.Location(),
		iface: map[device.LinkKind]string{
			device.LinkEthernet: s.WAN.Ethernet.Interface,
			device.LinkWiFi:     s.WiFi.Interface,
			device.LinkCellular: s.Cellular.Interface,
		},
	}
	if c.interval <= 0 {
		c.interval = time.Duration(device.DefaultProbeInterval)
	}
	if c.failoverAfter <= 0 {
		c.failoverAfter = time.Duration(device.DefaultFailoverAfter)
	}
	for _, k := range s.WAN.Priority {
		if slices.Contains(allKinds, k) && !slices.Contains(c.priority, k) {
			c.priority = append(c.priority, k)
		}
	}
	c.order = slices.Clone(c.priority)
	for _, k := range allKinds {
		if !slices.Contains(c.order, k) {
			c.order = append(c.order, k)
			c.disabled[k] = "not in wan.priority"
		}
	}
	switch {
	case s.WiFi.PermanentlyDisabled:
		c.disabled[device.LinkWiFi] = "permanently disabled"
	case !s.WiFi.Enabled:
		c.disabled[device.LinkWiFi] = "not enabled in the site"
	}
	c.sims = slices.Clone(s.Cellular.SIMs)
	slices.SortFunc(c.sims, func(a, b device.SIM) int { return a.Slot - b.Slot })
	switch {
	case !s.Cellular.Enabled:
		c.disabled[device.LinkCellular] = "not enabled in the site"
	case len(c.sims) == 0:
		c.disabled[device.LinkCellular] = "no SIM configured"
	}
	// The backend is reconfigured when these sections change. Only a hash
	// is kept: they hold the Wi-Fi passphrase and the SIM PINs.
	b, _ := json.Marshal(struct {
		WAN      device.WAN
		Cellular device.Cellular
		WiFi     device.WiFi
	}{s.WAN, s.Cellular, s.WiFi})
	c.key = sha256.Sum256(b)
	return c
}

func (c config) enabled(k device.LinkKind) bool {
	_, off := c.disabled[k]
	return !off
}

func (c config) sim(slot int) (device.SIM, bool) {
	for _, s := range c.sims {
		if s.Slot == slot {
			return s, true
		}
	}
	return device.SIM{}, false
}

// otherSlot returns the configured slot that is not slot, or 0.
func (c config) otherSlot(slot int) int {
	for _, s := range c.sims {
		if s.Slot != slot {
			return s.Slot
		}
	}
	return 0
}

// MaxDefaultProbeTimeout caps the default probe timeout. A link that
// silently drops packets is only known to fail when a probe times out, so
// the worst case from losing a link to failing over is down_after ×
// interval + the timeout: below a second, failover stays within
// down_after × interval + 1s, with time left to change the routes.
const MaxDefaultProbeTimeout = 800 * time.Millisecond

func (c config) probeTimeout(override time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	return min(c.interval/2, MaxDefaultProbeTimeout)
}
