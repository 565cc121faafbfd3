package device

import (
	"errors"
	"time"
)

// Remote access by consent (issue 17): an administrator opens a support
// window; the vendor's VPN runs only inside it (device/support).

// Audit actions of the support window.
const (
	ActionSupportOpen  Action = "support.open"  // detail: how long, until when
	ActionSupportClose Action = "support.close" // detail: closed by hand or at its end
)

// MaxSupportWindow is the longest support window: three days.
const MaxSupportWindow = 72 * time.Hour

// MinSupportWindow is the shortest one.
const MinSupportWindow = time.Minute

// Errors of the support window.
var (
	// ErrNoSupport means the gateway runs no support window (no VPN
	// configuration in its data directory).
	ErrNoSupport = errors.New("remote support is not set up on this gateway (no support/client.ovpn in the data directory)")
	// ErrSupportClosed means no support window is open.
	ErrSupportClosed = errors.New("no support window is open")
)

// SupportWindow is the remote-access window as the console and exec
// commands use it.
type SupportWindow interface {
	// Open opens the window for d (MinSupportWindow..MaxSupportWindow),
	// or moves the end of an open one; audited support.open.
	Open(actor Actor, d time.Duration) (SupportStatus, error)
	// Close ends it now; audited support.close.
	Close(actor Actor) error
	Status() SupportStatus
}

// SupportStatus is the window and its VPN, as `support status --json`
// shows it.
type SupportStatus struct {
	Open     bool      `json:"open"`
	Until    time.Time `json:"until,omitzero"`
	By       string    `json:"by,omitempty"` // account id of who opened it
	Since    time.Time `json:"since,omitzero"`
	State    string    `json:"state"` // OpenVPN's state (CONNECTED ...), or "stopped"
	LocalIP  string    `json:"local_ip,omitempty"`
	Remote   string    `json:"remote,omitempty"`
	BytesIn  uint64    `json:"bytes_in"`
	BytesOut uint64    `json:"bytes_out"`
	Error    string    `json:"error,omitempty"`
}

// SetSupport attaches the support window (sitegate run does).
func (g *Gateway) SetSupport(s SupportWindow) {
	g.fieldMu.Lock()
	g.support = s
	g.fieldMu.Unlock()
}

// Support returns the support window, or nil.
func (g *Gateway) Support() SupportWindow {
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	return g.support
}
