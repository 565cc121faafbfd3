package snmp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
)

// MaxTextBytes bounds the octets of a value kept as text (`snmp get`, enum
// matching, row names): an agent's 64 KiB sysDescr is cut, not copied.
const MaxTextBytes = 1024

// Errors of values.
var (
	// ErrNoSuchObject means the agent has no such object or instance
	// (or the walk ran off the end of its MIB view).
	ErrNoSuchObject = errors.New("the agent has no such object (check the OID, and that the agent's view includes it)")
	// ErrNotNumber means the value does not read as a number.
	ErrNotNumber = errors.New("the value is not a number")
	// ErrNotCounter means convert: rate was given a value that is not a
	// Counter32 or Counter64.
	ErrNotCounter = errors.New("convert: rate needs a Counter32 or Counter64")
	// ErrNotHWAddr means convert: hwaddr was given something that is not
	// 6 octets.
	ErrNotHWAddr = errors.New("convert: hwaddr needs a 6-octet MAC address")
	// ErrNotInEnum means an enum conversion met a value it does not map.
	ErrNotInEnum = errors.New("the value is not in the point's enum")
)

// Var is one varbind as the gateway understands it.
type Var struct {
	OID  string `json:"oid"`  // without the leading dot
	Type string `json:"type"` // the SMI type: Integer, OctetString, Counter32, …
	// Text is the value as people read it: decimal integers, printable
	// octet strings as text (others as hex, aa:bb:…), dotted OIDs.
	Text string `json:"value"`
	// Num is the value as a number where it is one (integers, gauges,
	// counters, timeticks).
	Num *float64 `json:"number,omitempty"`
	// counter and bits: a Counter32/Counter64's exact value and width.
	counter uint64
	bits    uint8
	raw     []byte // octet strings, at most MaxTextBytes
	missing bool   // noSuchObject, noSuchInstance, endOfMibView
}

// decodeVar turns a gosnmp varbind into a Var. It never fails: a value
// gosnmp could not type is kept as text.
func decodeVar(p gosnmp.SnmpPDU) Var {
	v := Var{OID: strings.TrimPrefix(p.Name, "."), Type: typeName(p.Type)}
	num := func(f float64) { v.Num = &f; v.Text = strconv.FormatFloat(f, 'f', -1, 64) }
	switch p.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		v.missing, v.Text = true, v.Type
		return v
	case gosnmp.Null:
		v.Text = "null"
		return v
	}
	switch x := p.Value.(type) {
	case int:
		num(float64(x))
	case int64:
		num(float64(x))
	case uint:
		num(float64(x))
		v.counter = uint64(x)
	case uint32:
		num(float64(x))
		v.counter = uint64(x)
	case uint64:
		num(float64(x))
		v.counter = x
		// float64 loses the low bits of a large Counter64: the text keeps them.
		v.Text = strconv.FormatUint(x, 10)
	case float32:
		num(float64(x))
	case float64:
		num(x)
	case []byte:
		b := x
		if len(b) > MaxTextBytes {
			b = b[:MaxTextBytes]
		}
		v.raw = append([]byte(nil), b...)
		v.Text = octetText(b)
	case string:
		v.Text = truncateText(strings.TrimPrefix(x, "."))
		if p.Type == gosnmp.OctetString {
			v.raw = []byte(v.Text)
		}
	case nil:
		v.Text = ""
	default:
		v.Text = truncateText(fmt.Sprint(x))
	}
	switch p.Type {
	case gosnmp.Counter32:
		v.bits = 32
	case gosnmp.Counter64:
		v.bits = 64
	}
	if v.Num != nil && (math.IsNaN(*v.Num) || math.IsInf(*v.Num, 0)) {
		v.Num = nil
	}
	return v
}

func typeName(t gosnmp.Asn1BER) string {
	switch t {
	case gosnmp.Integer:
		return "Integer"
	case gosnmp.OctetString:
		return "OctetString"
	case gosnmp.ObjectIdentifier:
		return "ObjectIdentifier"
	case gosnmp.IPAddress:
		return "IpAddress"
	case gosnmp.Counter32:
		return "Counter32"
	case gosnmp.Gauge32:
		return "Gauge32"
	case gosnmp.TimeTicks:
		return "TimeTicks"
	case gosnmp.Counter64:
		return "Counter64"
	case gosnmp.Uinteger32:
		return "Unsigned32"
	case gosnmp.Opaque, gosnmp.OpaqueFloat, gosnmp.OpaqueDouble:
		return "Opaque"
	case gosnmp.Null:
		return "Null"
	case gosnmp.Boolean:
		return "Boolean"
	case gosnmp.NoSuchObject:
		return "noSuchObject"
	case gosnmp.NoSuchInstance:
		return "noSuchInstance"
	case gosnmp.EndOfMibView:
		return "endOfMibView"
	}
	return "type(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// octetText writes printable UTF-8 as it is (trailing NULs dropped, which
// many agents add) and anything else as colon-separated hex.
func octetText(b []byte) string {
	t := strings.TrimRight(string(b), "\x00")
	if utf8.ValidString(t) && !strings.ContainsFunc(t, func(r rune) bool { return !unicode.IsPrint(r) && r != '\t' }) {
		return t
	}
	return hwText(b)
}

func hwText(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

func truncateText(s string) string { return truncateTo(s, MaxTextBytes) }

// sample is a counter's value and when it was read.
type sample struct {
	v    uint64
	bits uint8
	at   time.Time
}

// counterRate is the change per second from prev to cur. ok is false for
// the first sample, after a reset (the agent restarted, or the counter fell
// by more than half its range, which no single wrap explains), or when no
// time passed; why then says which.
func counterRate(prev, cur sample, restarted bool) (rate float64, ok bool, why string) {
	switch {
	case prev.at.IsZero():
		return 0, false, "first sample: the rate follows next cycle"
	case restarted:
		return 0, false, "the agent restarted (sysUpTime went back): counters reset; the rate follows next cycle"
	case prev.bits != cur.bits:
		return 0, false, "the counter changed width: the rate follows next cycle"
	}
	dt := cur.at.Sub(prev.at).Seconds()
	if dt <= 0 {
		return 0, false, "no time passed since the last sample"
	}
	var delta uint64
	switch {
	case cur.v >= prev.v:
		delta = cur.v - prev.v
	case cur.bits == 32:
		delta = cur.v + (1 << 32) - prev.v
		if delta > 1<<31 {
			return 0, false, "the counter fell: reset; the rate follows next cycle"
		}
	default:
		delta = cur.v - prev.v // modulo 2^64: one wrap
		if delta > 1<<63 {
			return 0, false, "the counter fell: reset; the rate follows next cycle"
		}
	}
	return float64(delta) / dt, true, ""
}

// convertValue turns a Var into a point's value by the point's conversion
// (not rate: the poller keeps the samples rates need) and scale.
func convertValue(v Var, p device.SNMPPoint) (field.Value, error) {
	if v.missing {
		return field.Value{}, ErrNoSuchObject
	}
	switch p.Convert {
	case device.SNMPConvertHWAddr:
		if len(v.raw) != 6 {
			return field.Value{}, fmt.Errorf("%w (got %s %q)", ErrNotHWAddr, v.Type, v.Text)
		}
		var n uint64
		for _, c := range v.raw {
			n = n<<8 | uint64(c)
		}
		return field.Number(float64(n)), nil
	case device.SNMPConvertEnum:
		for _, e := range p.Enum {
			if e.Agent == v.Text {
				return field.ParseValue(e.Value)
			}
		}
		return field.Value{}, fmt.Errorf("%w: %q", ErrNotInEnum, v.Text)
	case device.SNMPConvertRate:
		return field.Value{}, ErrNotCounter // handled by the poller
	case device.SNMPConvertText:
		return field.Text(v.Text), nil
	}
	f, err := number(v)
	switch {
	case err == nil:
		return field.Number(scaled(f, p)), nil
	case textual(v) && p.Scale == nil:
		return field.Text(v.Text), nil
	case textual(v):
		return field.Value{}, fmt.Errorf("%w (%s %q): scale applies to numbers only", ErrNotNumber, v.Type, shortText(v.Text))
	}
	return field.Value{}, err
}

// Readable reports whether a point on this varbind reads a value without
// a conversion: a number, or a text (octet strings, OIDs, IP addresses);
// not a missing object or a Null.
func (v Var) Readable() bool { return !v.missing && (v.Num != nil || textual(v)) }

// textual reports whether a value that is not a number is read as text
// without a conversion: octet strings (sysName, sysDescr, a MAC address
// as aa:bb:…), object identifiers (sysObjectID) and IP addresses.
func textual(v Var) bool {
	switch v.Type {
	case "OctetString", "ObjectIdentifier", "IpAddress":
		return true
	}
	return false
}

func scaled(f float64, p device.SNMPPoint) float64 {
	if p.Scale != nil {
		return f * *p.Scale
	}
	return f
}

// number is a Var's numeric value: numbers as they are, octet strings
// that read as a number (some agents report "23.5").
func number(v Var) (float64, error) {
	if v.Num != nil {
		return *v.Num, nil
	}
	if v.Type == "OctetString" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%w (%s %q): use convert: enum, hwaddr or text", ErrNotNumber, v.Type, shortText(v.Text))
}

func shortText(s string) string {
	if len(s) > 40 {
		return truncateTo(s, 40) + "…"
	}
	return s
}

func truncateTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// rowLabel makes a point-name part of a walk row's label: letters,
// digits, '_', '.', '-' kept, anything else '_', at most max bytes.
func rowLabel(s string, max int) string {
	var sb strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if sb.Len() >= max {
			break
		}
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'):
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}
