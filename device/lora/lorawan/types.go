package lorawan

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Errors returned by this package. Callers test them with errors.Is; the
// returned errors wrap them with what was being decoded.
var (
	// ErrTruncated means a frame or field is shorter than its format needs.
	ErrTruncated = errors.New("truncated")
	// ErrTooLong means a frame is longer than any LoRaWAN frame can be.
	ErrTooLong = errors.New("too long")
	// ErrMType means the frame is not of the message type the call decodes.
	ErrMType = errors.New("wrong message type")
	// ErrMajor means the frame is of a LoRaWAN major version other than R1.
	ErrMajor = errors.New("unsupported LoRaWAN major version")
	// ErrMIC means the message integrity code does not match: wrong key,
	// wrong frame counter, or a forged or damaged frame.
	ErrMIC = errors.New("MIC mismatch")
	// ErrFOptsPort0 means a frame carries MAC commands both in FOpts and on
	// port 0, which the specification forbids.
	ErrFOptsPort0 = errors.New("FOpts present with FPort 0")
	// ErrUnknownMAC means a MAC command identifier this package does not
	// know; the commands after it cannot be delimited.
	ErrUnknownMAC = errors.New("unknown MAC command")
	// ErrReplay means a frame counter that was already used.
	ErrReplay = errors.New("frame counter replayed")
	// ErrFCntExhausted means the 32-bit frame counter would roll over: the
	// session must be renewed (a new join, or new ABP keys).
	ErrFCntExhausted = errors.New("frame counter exhausted")
	// ErrInvalid means a value cannot be encoded (out of range, too long).
	ErrInvalid = errors.New("invalid value")
	// ErrSyntax means text is not an EUI, DevAddr, NetID or key.
	ErrSyntax = errors.New("syntax error")
)

// EUI64 is an IEEE EUI-64: a DevEUI or a JoinEUI (AppEUI in 1.0.2), held
// as printed on a label; the wire carries it little-endian.
type EUI64 [8]byte

// ParseEUI64 accepts 16 hex digits, optionally grouped with ':' or '-'.
func ParseEUI64(s string) (EUI64, error) {
	var e EUI64
	if err := parseHex(e[:], s, "EUI-64"); err != nil {
		return e, err
	}
	return e, nil
}

// String is 16 lower-case hex digits, the site file's form.
func (e EUI64) String() string { return hex.EncodeToString(e[:]) }

// MarshalText writes String.
func (e EUI64) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText parses what MarshalText writes.
func (e *EUI64) UnmarshalText(b []byte) error {
	v, err := ParseEUI64(string(b))
	*e = v
	return err
}

// putLE writes e little-endian, as on the wire.
func (e EUI64) putLE(b []byte) {
	for i := range 8 {
		b[i] = e[7-i]
	}
}

func eui64LE(b []byte) EUI64 {
	var e EUI64
	for i := range 8 {
		e[i] = b[7-i]
	}
	return e
}

// DevAddr is a device's 32-bit network address.
type DevAddr uint32

// ParseDevAddr accepts 8 hex digits (26011bda).
func ParseDevAddr(s string) (DevAddr, error) {
	var b [4]byte
	if err := parseHex(b[:], s, "DevAddr"); err != nil {
		return 0, err
	}
	return DevAddr(binary.BigEndian.Uint32(b[:])), nil
}

// String is 8 lower-case hex digits.
func (a DevAddr) String() string { return fmt.Sprintf("%08x", uint32(a)) }

// MarshalText writes String.
func (a DevAddr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses what MarshalText writes.
func (a *DevAddr) UnmarshalText(b []byte) error {
	v, err := ParseDevAddr(string(b))
	*a = v
	return err
}

// NwkID returns the 7 most significant bits, the network identifier of
// LoRaWAN 1.0.x (the 7 least significant bits of the NetID).
func (a DevAddr) NwkID() uint8 { return uint8(a >> 25) }

// NetID is a 24-bit network identifier.
type NetID uint32

// MaxNetID is the largest NetID (24 bits).
const MaxNetID = 1<<24 - 1

// String is 6 lower-case hex digits.
func (n NetID) String() string { return fmt.Sprintf("%06x", uint32(n)) }

// ParseNetID accepts 6 hex digits.
func ParseNetID(s string) (NetID, error) {
	var b [3]byte
	if err := parseHex(b[:], s, "NetID"); err != nil {
		return 0, err
	}
	return NetID(uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])), nil
}

// JoinNonce is the network's 24-bit nonce in a join accept (AppNonce in
// 1.0.2, JoinNonce in 1.0.4).
type JoinNonce uint32

// MaxJoinNonce is the largest JoinNonce (24 bits).
const MaxJoinNonce = 1<<24 - 1

// DevNonce is the device's 16-bit nonce in a join request.
type DevNonce uint16

// KeySize is the size of an AES-128 key in bytes.
const KeySize = 16

// Key is an AES-128 key: an AppKey, NwkSKey or AppSKey. Printing,
// marshalling or logging a Key never shows its value (see the package
// documentation, "Secrets").
type Key [KeySize]byte

// placeholder stands for a key's value wherever it would be shown; it is
// the project's secret placeholder.
const placeholder = "<set>"

// ParseKey accepts 32 hex digits. The error never repeats the text.
func ParseKey(s string) (Key, error) {
	var k Key
	clean := strings.TrimSpace(s)
	if len(clean) != 2*KeySize {
		return k, fmt.Errorf("key has %d characters, want %d hex digits: %w", len(clean), 2*KeySize, ErrSyntax)
	}
	if _, err := hex.Decode(k[:], []byte(clean)); err != nil {
		return Key{}, fmt.Errorf("key is not hex (32 hex digits): %w", ErrSyntax)
	}
	return k, nil
}

// IsZero reports whether the key is all zeros (unset).
func (k Key) IsZero() bool { return k == Key{} }

// Reveal returns the key as 32 hex digits. Call it only to store the key.
func (k Key) Reveal() string { return hex.EncodeToString(k[:]) }

// String returns "<set>", or "" for the zero key.
func (k Key) String() string {
	if k.IsZero() {
		return ""
	}
	return placeholder
}

// GoString is String, so that %#v does not reveal the key.
func (k Key) GoString() string { return k.String() }

// Format writes String for every verb: without it %x would print the bytes.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", k.String())
		return
	}
	fmt.Fprint(f, k.String())
}

// MarshalText writes String, so JSON and YAML never carry the key.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LogValue makes slog record String.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

func parseHex(dst []byte, s, what string) error {
	clean := strings.NewReplacer(":", "", "-", "", " ", "").Replace(strings.TrimSpace(s))
	if len(clean) != 2*len(dst) {
		return fmt.Errorf("%s %q: want %d hex digits: %w", what, s, 2*len(dst), ErrSyntax)
	}
	if _, err := hex.Decode(dst, []byte(clean)); err != nil {
		return fmt.Errorf("%s %q: not hex: %w", what, s, ErrSyntax)
	}
	return nil
}
