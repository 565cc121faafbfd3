package wifi

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/sitegate/sitegate/device"
)

// PSK rounds and length of IEEE 802.11i, annex H.4.
const (
	pskIterations = 4096
	pskLength     = 32
)

// Errors of this package.
var (
	// ErrNotConfigured means the Wi-Fi section lacks what a network block
	// needs (SSID, security or passphrase), or the passphrase is still the
	// "<set>" placeholder.
	ErrNotConfigured = errors.New("wifi is not configured")
	// ErrNotConnected means the interface is not associated with a
	// network, so it has no signal to report.
	ErrNotConnected = errors.New("wifi is not connected")
	// ErrNotAvailable means the tool a request needs (iw, wpa_cli) is not
	// installed on this gateway.
	ErrNotAvailable = errors.New("not available on this gateway")
)

// PSK returns the WPA2 pre-shared key for a passphrase and SSID:
// PBKDF2-HMAC-SHA1(passphrase, ssid, 4096, 32). A passphrase of exactly 64
// hex digits is the key itself, as in wpa_supplicant. The passphrase is
// checked with the site's rules for wpa2-psk first.
func PSK(passphrase, ssid string) ([]byte, error) {
	if len(passphrase) == 64 && isHex(passphrase) {
		return hex.DecodeString(passphrase)
	}
	if err := CheckPassphrase(device.SecurityWPA2PSK, passphrase); err != nil {
		return nil, err
	}
	if err := CheckSSID(ssid); err != nil {
		return nil, err
	}
	return pbkdf2.Key(sha1.New, passphrase, []byte(ssid), pskIterations, pskLength)
}

func isHex(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
	}) < 0
}

// Check returns the problems of a wifi section, each with its path
// (wifi.ssid, wifi.passphrase, ...), using the site's own validation so
// that the console's forms and the site file agree. Nil means none.
func Check(w device.WiFi) []device.Problem {
	s := device.DefaultSite()
	s.WiFi = w
	s.ApplyDefaults()
	return s.ProblemsIn("wifi")
}

// field returns the problem of one field of an enabled wifi section as an
// error, or nil.
func field(w device.WiFi, path string) error {
	w.Enabled = true
	return device.ProblemAt(Check(w), path)
}

// CheckSSID reports what is wrong with an SSID (required, 1..32 bytes,
// printable), or nil.
func CheckSSID(ssid string) error {
	return field(device.WiFi{SSID: ssid}, "wifi.ssid")
}

// CheckPassphrase reports what is wrong with a passphrase for a security
// scheme (wpa2-psk: 8..63 printable ASCII or 64 hex digits; wpa3-sae: 8..63
// printable characters), or nil. The error never quotes the passphrase.
func CheckPassphrase(sec device.WiFiSecurity, passphrase string) error {
	if sec == 0 {
		return fmt.Errorf("wifi.security: is required (%s)", securityNames())
	}
	return field(device.WiFi{Security: sec, Passphrase: device.Secret(passphrase)}, "wifi.passphrase")
}

// Securities returns the schemes the site file supports, strongest first.
func Securities() []device.WiFiSecurity {
	return []device.WiFiSecurity{device.SecurityWPA3SAE, device.SecurityWPA2PSK}
}

func securityNames() string {
	var n []string
	for _, s := range Securities() {
		n = append(n, s.String())
	}
	return strings.Join(n, ", ")
}
