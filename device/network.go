package device

import "context"

// SIMInfo is one SIM's state and this month's data use.
type SIMInfo struct {
	Slot    int     `json:"slot"`
	APN     string  `json:"apn"`
	Active  bool    `json:"active"`
	Usable  bool    `json:"usable"`
	UsedMB  float64 `json:"used_mb"`
	LimitMB int     `json:"limit_mb,omitempty"`
}

// WiFiNetwork is a network in range.
type WiFiNetwork struct {
	SSID     string `json:"ssid"`
	Signal   int    `json:"signal"` // dBm
	Security string `json:"security"`
}

// Network is what sessions ask of the WAN, Wi-Fi and LoRa subsystems,
// through the Gateway.
type Network interface {
	// SIMs returns the SIMs and their usage.
	SIMs() []SIMInfo
	// ScanWiFi lists the Wi-Fi networks in range.
	ScanWiFi(ctx context.Context) ([]WiFiNetwork, error)
	// LoRa describes the LoRa radio's state in one line.
	LoRa() string
	// SetLinkReachable makes a simulated link (ethernet, wifi, cellular,
	// cellular.sim1, cellular.sim2) unreachable or reachable again; only
	// the sim backend has it.
	SetLinkReachable(name string, reachable bool) error
	// RiskyChanges lists what in a change could cut off the session that
	// makes it (priority, Ethernet addressing, the Wi-Fi in use): such a
	// change is applied on probation.
	RiskyChanges(current, next *Site) []string
}

// SetNetwork attaches the network subsystems (done by the daemon at start).
func (g *Gateway) SetNetwork(n Network) {
	g.fieldMu.Lock()
	g.network = n
	g.fieldMu.Unlock()
}

// Network returns the network subsystems, or nil.
func (g *Gateway) Network() Network {
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	return g.network
}
