package device

import (
	"fmt"
	"log/slog"
)

// SecretPlaceholder stands for a stored secret in exported site files. An
// import that carries it keeps the stored value (see Site.KeepSecrets).
const SecretPlaceholder = "<set>"

// Secret is a credential in the site file (a SIM PIN, the Wi-Fi passphrase).
//
// Printing or logging a Secret shows only whether it is set: String,
// GoString, Format (every fmt verb) and LogValue give SecretPlaceholder, or ""
// when empty. Reveal returns the value itself. JSON and YAML encoding write the
// clear value, because the store needs it; anything that leaves the gateway
// goes through Site.Redacted first.
type Secret string

// Reveal returns the clear value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret has a value (the placeholder counts).
func (s Secret) IsSet() bool { return s != "" }

// IsPlaceholder reports whether s is SecretPlaceholder rather than a value.
func (s Secret) IsPlaceholder() bool { return s == SecretPlaceholder }

// String returns SecretPlaceholder, or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return SecretPlaceholder
}

// GoString is String, so that %#v does not reveal the value either.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb (%v, %s, %q, %x, %d, ...): without it,
// verbs that fmt considers invalid for a string would print the raw value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue makes slog record SecretPlaceholder instead of the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
