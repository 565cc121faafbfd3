package wifi

import (
	"errors"
	"fmt"

	"github.com/sitegate/sitegate/device"
)

// ErrNeedsPhysicalAccess refuses a remote change that would re-enable a
// permanently disabled radio. Errors returned by CheckRadioChange wrap it.
var ErrNeedsPhysicalAccess = errors.New("needs physical access")

// Radio names the gateway's radios as the CLI and the audit trail write
// them.
type Radio string

// The radios that can be disabled permanently.
const (
	RadioWiFi Radio = "wifi"
	RadioLoRa Radio = "lora"
)

// Radios lists every radio, in the order of the site file.
func Radios() []Radio { return []Radio{RadioWiFi, RadioLoRa} }

// ParseRadio returns the radio called s (wifi, lora).
func ParseRadio(s string) (Radio, error) {
	switch Radio(s) {
	case RadioWiFi, RadioLoRa:
		return Radio(s), nil
	}
	return "", fmt.Errorf("unknown radio %q (valid: wifi, lora)", s)
}

// Title is the radio's name in sentences: Wi-Fi, LoRa.
func (r Radio) Title() string {
	if r == RadioLoRa {
		return "LoRa"
	}
	return "Wi-Fi"
}

// PermanentlyDisabled reports whether the radio is permanently disabled in
// s (a nil site has nothing disabled).
func (r Radio) PermanentlyDisabled(s *device.Site) bool {
	if s == nil {
		return false
	}
	if r == RadioLoRa {
		return s.LoRa.PermanentlyDisabled
	}
	return s.WiFi.PermanentlyDisabled
}

// SetPermanentlyDisabled sets the radio's permanently_disabled flag in s.
// Clearing it leaves enabled false: turning the radio on is a separate,
// ordinary change.
func (r Radio) SetPermanentlyDisabled(s *device.Site, v bool) {
	if r == RadioLoRa {
		s.LoRa.PermanentlyDisabled = v
		if v {
			s.LoRa.Enabled = false
		}
		return
	}
	s.WiFi.PermanentlyDisabled = v
	if v {
		s.WiFi.Enabled = false
	}
}

// LockoutMessage is what a remote actor is told when a change would
// re-enable r.
func (r Radio) LockoutMessage() string {
	return fmt.Sprintf("re-enabling %s after a permanent disable needs physical access: run `sitegate radio enable %s --data DIR` on the stopped gateway", r.Title(), r)
}

// RadioLockoutError is the refusal of a change that re-enables a
// permanently disabled radio. It wraps ErrNeedsPhysicalAccess.
type RadioLockoutError struct {
	Radio Radio
}

func (e *RadioLockoutError) Error() string { return e.Radio.LockoutMessage() }

// Unwrap returns ErrNeedsPhysicalAccess.
func (e *RadioLockoutError) Unwrap() error { return ErrNeedsPhysicalAccess }

// CheckRadioChange refuses a change from old to next that sets
// wifi.permanently_disabled or lora.permanently_disabled from true back to
// false, unless actor is device.LocalActor (the offline CLI on the gateway
// itself). Disabling is always allowed. It has the signature of a
// device.SiteGuard: register it with Gateway.AddSiteGuard so that every
// path that applies a site runs it. When both radios would be re-enabled
// the error names both (errors.Join of two *RadioLockoutError).
func CheckRadioChange(old, next *device.Site, actor device.Actor) error {
	if actor == device.LocalActor || next == nil {
		return nil
	}
	var errs []error
	for _, r := range Radios() {
		if r.PermanentlyDisabled(old) && !r.PermanentlyDisabled(next) {
			errs = append(errs, &RadioLockoutError{Radio: r})
		}
	}
	return errors.Join(errs...)
}

// RadioAuditEvent is one audit event that a site change implies.
type RadioAuditEvent struct {
	Action device.Action // radio.disable or radio.enable
	Target string        // wifi or lora
	Detail string
}

// RadioAuditEvents returns the audit events a change from old to next
// implies: radio.disable for each radio that becomes permanently disabled,
// radio.enable for each that stops being so. Audit them as the actor who
// applied the change, after it was stored.
func RadioAuditEvents(old, next *device.Site) []RadioAuditEvent {
	var out []RadioAuditEvent
	for _, r := range Radios() {
		was, is := r.PermanentlyDisabled(old), r.PermanentlyDisabled(next)
		switch {
		case !was && is:
			out = append(out, RadioAuditEvent{Action: "radio.disable", Target: string(r), Detail: r.Title() + " permanently disabled; re-enabling needs physical access"})
		case was && !is:
			out = append(out, RadioAuditEvent{Action: "radio.enable", Target: string(r), Detail: r.Title() + " may be enabled again by configuration"})
		}
	}
	return out
}

// Auditor is the part of device.Gateway that AuditRadioChange needs.
type Auditor interface {
	AuditDetail(actor device.Actor, action device.Action, target string, result device.Result, detail string) error
}

// AuditRadioChange audits RadioAuditEvents(old, next) as actor, with
// result ok. Call it after the change was stored.
func AuditRadioChange(a Auditor, actor device.Actor, old, next *device.Site) error {
	var errs []error
	for _, e := range RadioAuditEvents(old, next) {
		errs = append(errs, a.AuditDetail(actor, e.Action, e.Target, device.ResultOK, e.Detail))
	}
	return errors.Join(errs...)
}
