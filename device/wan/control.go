package wan

import (
	"context"
	"errors"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/wifi"
)

// Control is what console sessions may use of the network subsystems
// (device.Network), through the Gateway.
type Control struct {
	m       *Manager
	scanner wifi.Scanner
	lora    *lora.Radio
}

// NewControl combines the WAN manager, a Wi-Fi scanner and the LoRa radio.
func NewControl(m *Manager, scanner wifi.Scanner, radio *lora.Radio) *Control {
	return &Control{m: m, scanner: scanner, lora: radio}
}

// SIMs returns the SIMs and this month's usage.
func (c *Control) SIMs() []device.SIMInfo {
	var out []device.SIMInfo
	for _, u := range c.m.Usage() {
		out = append(out, device.SIMInfo{Slot: u.Slot, APN: u.APN, Active: u.Active, Usable: u.Usable, UsedMB: u.UsedMB, LimitMB: u.LimitMB})
	}
	return out
}

// ScanWiFi lists networks in range, strongest first.
func (c *Control) ScanWiFi(ctx context.Context) ([]device.WiFiNetwork, error) {
	found, err := c.scanner.Scan(ctx)
	var out []device.WiFiNetwork
	for _, f := range found {
		sec := "open"
		if len(f.Security) > 0 {
			sec = f.Security[0].String()
		}
		out = append(out, device.WiFiNetwork{SSID: f.SSID, Signal: f.Signal, Security: sec})
	}
	return out, err
}

// LoRa describes the radio's state in one line.
func (c *Control) LoRa() string {
	if c.lora == nil {
		return "not available"
	}
	st := c.lora.Status()
	s := string(st.State)
	if st.Detail != "" {
		s += ": " + st.Detail
	}
	return s
}

// SetLinkReachable cuts or restores a simulated link.
func (c *Control) SetLinkReachable(name string, up bool) error {
	s, ok := c.m.Backend().(*Sim)
	if !ok {
		return errors.New("links can only be cut on the sim network backend (sitegate run --net sim)")
	}
	return s.SetReachable(name, up)
}

// RiskyChanges lists what in a change could cut off the session making it.
func (c *Control) RiskyChanges(current, next *device.Site) []string {
	return RiskyChanges(current, next)
}
