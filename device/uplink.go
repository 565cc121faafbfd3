package device

import (
	"context"
	"errors"
	"io"
	"time"
)

// UplinkStatus is the cloud connection as the console and `sync status`
// show it.
type UplinkStatus struct {
	Configured  bool      `json:"configured"` // a broker was given
	Connected   bool      `json:"connected"`
	Broker      string    `json:"broker,omitempty"`
	LastPublish time.Time `json:"last_publish,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Cut         bool      `json:"cut,omitempty"` // the demo uplink was cut by an administrator
	Published   uint64    `json:"published"`     // outbox records delivered since start
	// Rate is messages per second over the last minutes, oldest first, one
	// value per 10 s.
	Rate []float64 `json:"rate,omitempty"`
}

// SyncConflict is a desired configuration from the cloud that was made
// against an older revision than the gateway's: nothing was applied, an
// installer decides.
type SyncConflict struct {
	DesiredRev uint64    `json:"rev"`       // the cloud's revision of the desired config
	BaseRev    uint64    `json:"base_rev"`  // what the cloud based it on
	LocalRev   uint64    `json:"local_rev"` // the gateway's revision when it arrived
	Received   time.Time `json:"received"`
	Site       *Site     `json:"-"` // the cloud's site
}

// Uplink is what the console and exec commands ask of the cloud
// connection, through the Gateway.
type Uplink interface {
	Status() UplinkStatus
	// Conflict returns the pending conflict, if any.
	Conflict() (SyncConflict, bool)
	// ResolveConflict settles the pending conflict as actor: apply the
	// cloud's site with apply (which does the caller's permission checks),
	// or keep the local one and report it again.
	ResolveConflict(actor Actor, takeCloud bool, apply func(cloud *Site) error) error
	// SetCut cuts (true) or restores the demo uplink.
	SetCut(actor Actor, cut bool) error
}

// ErrNoUplink means the gateway runs without a cloud connection.
var ErrNoUplink = errors.New("no uplink is configured: start the gateway with --broker")

// SetUplink attaches the cloud connection (done by the daemon at start).
func (g *Gateway) SetUplink(u Uplink) {
	g.fieldMu.Lock()
	g.uplink = u
	g.fieldMu.Unlock()
}

// Uplink returns the cloud connection, or nil.
func (g *Gateway) Uplink() Uplink {
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	return g.uplink
}

// FirmwareUpdater is what an administrator's session may do with firmware
// through the Gateway: read the state and apply an uploaded image (never
// pin a vendor key: that needs physical access).
type FirmwareUpdater interface {
	Info() FirmwareInfo
	// Apply verifies and installs an image read from r into the inactive
	// slot; it runs at the next start. It returns the image's version.
	Apply(ctx context.Context, r io.Reader, actor Actor, progress func(done, total int64)) (string, error)
}

// SetFirmware attaches the firmware manager (done by the daemon at start).
func (g *Gateway) SetFirmware(f FirmwareUpdater) {
	g.fieldMu.Lock()
	g.firmware = f
	g.fieldMu.Unlock()
}

// Firmware returns the firmware manager, or nil.
func (g *Gateway) Firmware() FirmwareUpdater {
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	return g.firmware
}
