package device

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// The SNMP part of the site: the agents the gateway polls as an SNMP
// manager (v2c or v3 USM), their points by OID (scalars, and table columns
// walked into one point per row), and the trap receiver with the rules that
// turn traps into alerts. The section is omitted from site files that do
// not use it. Communities and v3 keys are secrets, handled like the Wi-Fi
// passphrase: never exported, shown or logged.

// SNMP is the site's snmp section.
type SNMP struct {
	// TrapListen is the UDP address the trap receiver listens on (an IP
	// address and port, e.g. 0.0.0.0:162). No receiver runs without it
	// (README requirement 13).
	TrapListen string `yaml:"trap_listen,omitempty" json:"trap_listen,omitempty"`
	// TrapCommunity is the community v2c traps must carry. Without it a
	// trap must carry the community of the device it comes from.
	TrapCommunity Secret `yaml:"trap_community,omitempty" json:"trap_community,omitempty"`
	// TrapRules turn traps into alerts, first match wins.
	TrapRules []SNMPTrapRule `yaml:"trap_rules,omitempty" json:"trap_rules,omitempty"`
	// Devices are the agents the gateway polls.
	Devices []SNMPDevice `yaml:"devices,omitempty" json:"devices,omitempty"`
}

// SNMPVersion is the protocol version a device is polled with.
type SNMPVersion uint8

// SNMP versions. The zero value means "not set" (a device needs one).
const (
	SNMPv2c SNMPVersion = iota + 1 // community-based; GETBULK
	SNMPv3                         // user-based security model (RFC 3414)
)

var snmpVersions = enumDef[SNMPVersion]{"SNMPVersion", "SNMP version", []string{"", "v2c", "v3"}}

// ParseSNMPVersion returns the version called s (v2c, v3; any case).
func ParseSNMPVersion(s string) (SNMPVersion, error) { return snmpVersions.parse(s) }

// String returns the version's name as written in site files.
func (x SNMPVersion) String() string { return snmpVersions.name(x) }

// MarshalText encodes the version by name.
func (x SNMPVersion) MarshalText() ([]byte, error) { return snmpVersions.marshal(x) }

// UnmarshalText decodes a version name; empty text means "not set".
func (x *SNMPVersion) UnmarshalText(text []byte) error { return snmpVersions.unmarshal(text, x) }

// SNMPAuth is a v3 authentication protocol (HMAC-SHA-2, RFC 7860).
type SNMPAuth uint8

// Authentication protocols. The zero value means "not set"; a v3 user
// needs one (the gateway never sends unauthenticated v3 requests).
const (
	SNMPAuthSHA256 SNMPAuth = iota + 1 // usmHMAC192SHA256AuthProtocol
	SNMPAuthSHA512                     // usmHMAC384SHA512AuthProtocol
)

var snmpAuths = enumDef[SNMPAuth]{"SNMPAuth", "SNMPv3 authentication protocol", []string{"", "sha256", "sha512"}}

// ParseSNMPAuth returns the protocol called s (sha256, sha512).
func ParseSNMPAuth(s string) (SNMPAuth, error) { return snmpAuths.parse(s) }

// String returns the protocol's name as written in site files.
func (a SNMPAuth) String() string { return snmpAuths.name(a) }

// MarshalText encodes the protocol by name.
func (a SNMPAuth) MarshalText() ([]byte, error) { return snmpAuths.marshal(a) }

// UnmarshalText decodes a protocol name; empty text means "not set".
func (a *SNMPAuth) UnmarshalText(text []byte) error { return snmpAuths.unmarshal(text, a) }

// SNMPPriv is a v3 privacy (encryption) protocol.
type SNMPPriv uint8

// Privacy protocols. The zero value means "none" (authNoPriv: values
// travel in clear, authenticated).
const (
	SNMPPrivAES128 SNMPPriv = iota + 1 // usmAesCfb128Protocol (RFC 3826)
	SNMPPrivAES256                     // AES-256-CFB with Blumenthal key extension (net-snmp's AES-256)
)

var snmpPrivs = enumDef[SNMPPriv]{"SNMPPriv", "SNMPv3 privacy protocol", []string{"", "aes128", "aes256"}}

// ParseSNMPPriv returns the protocol called s (aes128, aes256).
func ParseSNMPPriv(s string) (SNMPPriv, error) { return snmpPrivs.parse(s) }

// String returns the protocol's name as written in site files.
func (p SNMPPriv) String() string { return snmpPrivs.name(p) }

// MarshalText encodes the protocol by name.
func (p SNMPPriv) MarshalText() ([]byte, error) { return snmpPrivs.marshal(p) }

// UnmarshalText decodes a protocol name; empty text means "none".
func (p *SNMPPriv) UnmarshalText(text []byte) error { return snmpPrivs.unmarshal(text, p) }

// SNMPConvert is how an agent's value becomes a point's value.
type SNMPConvert uint8

// Conversions. The zero value takes the value as the agent types it:
// integers, gauges, counters and timeticks as numbers, octet strings that
// read as a number as numbers, other octet strings, object identifiers
// and IP addresses as text.
const (
	SNMPConvertRate   SNMPConvert = iota + 1 // a Counter32/Counter64 as change per second, wraps and resets handled
	SNMPConvertHWAddr                        // a 6-octet MAC address as its 48-bit number (shown as aa:bb:…)
	SNMPConvertEnum                          // the value looked up in enum
	SNMPConvertText                          // the value as text, as `snmp get` prints it, even when it reads as a number
)

var snmpConverts = enumDef[SNMPConvert]{"SNMPConvert", "SNMP conversion", []string{"", "rate", "hwaddr", "enum", "text"}}

// ParseSNMPConvert returns the conversion called s (rate, hwaddr, enum, text).
func ParseSNMPConvert(s string) (SNMPConvert, error) { return snmpConverts.parse(s) }

// String returns the conversion's name as written in site files.
func (c SNMPConvert) String() string { return snmpConverts.name(c) }

// MarshalText encodes the conversion by name.
func (c SNMPConvert) MarshalText() ([]byte, error) { return snmpConverts.marshal(c) }

// UnmarshalText decodes a conversion name; empty text means "as a number".
func (c *SNMPConvert) UnmarshalText(text []byte) error { return snmpConverts.unmarshal(text, c) }

// SNMPTrapAction is what a trap rule does to its alert.
type SNMPTrapAction uint8

// Trap actions. The zero value means raise.
const (
	SNMPTrapRaise SNMPTrapAction = iota
	SNMPTrapClear
)

var snmpTrapActions = enumDef[SNMPTrapAction]{"SNMPTrapAction", "trap action", []string{"raise", "clear"}}

// ParseSNMPTrapAction returns the action called s (raise, clear).
func ParseSNMPTrapAction(s string) (SNMPTrapAction, error) { return snmpTrapActions.parse(s) }

// String returns the action's name as written in site files.
func (a SNMPTrapAction) String() string { return snmpTrapActions.name(a) }

// MarshalText encodes the action by name.
func (a SNMPTrapAction) MarshalText() ([]byte, error) { return snmpTrapActions.marshal(a) }

// UnmarshalText decodes an action name; empty text means raise.
func (a *SNMPTrapAction) UnmarshalText(text []byte) error {
	return snmpTrapActions.unmarshal(text, a)
}

// SNMPDevice is one SNMP agent and the points read from it.
type SNMPDevice struct {
	Name string `yaml:"name" json:"name"` // unique across the site
	// Address is the agent's host:port (port 161 when left out).
	Address string      `yaml:"address" json:"address"`
	Version SNMPVersion `yaml:"version" json:"version"`
	// Community is the v2c read community (a secret).
	Community Secret `yaml:"community,omitempty" json:"community,omitempty"`
	// User is the v3 USM user.
	User *SNMPUser `yaml:"user,omitempty" json:"user,omitempty"`
	// Interval is the poll period, 1s..24h, default 30s.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Timeout is how long one request waits for its answer, 100ms..30s,
	// default 2s; Retries how often it is sent again, 0..10, default 1.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Retries *int     `yaml:"retries,omitempty" json:"retries,omitempty"`
	// Profile adds the points of a built-in profile (ups-mib, if-mib,
	// host-resources; site_snmp_profiles.go) before the device's own.
	Profile string      `yaml:"profile,omitempty" json:"profile,omitempty"`
	Points  []SNMPPoint `yaml:"points,omitempty" json:"points,omitempty"`
}

// SNMPUser is an SNMPv3 user of the user-based security model. The keys
// are passphrases (RFC 3414 password-to-key), 8..256 characters, secrets.
type SNMPUser struct {
	Name    string   `yaml:"name" json:"name"`
	Auth    SNMPAuth `yaml:"auth" json:"auth"`
	AuthKey Secret   `yaml:"auth_key" json:"auth_key"`
	Priv    SNMPPriv `yaml:"priv,omitempty" json:"priv,omitempty"`
	PrivKey Secret   `yaml:"priv_key,omitempty" json:"priv_key,omitempty"`
	// ContextName is the v3 context (empty: the default context).
	ContextName string `yaml:"context_name,omitempty" json:"context_name,omitempty"`
}

// SNMPPoint is a scalar OID, or a table column walked into one point per
// row.
type SNMPPoint struct {
	// Name is unique within the device. The points of a walk are called
	// NAME.ROW, ROW the row's index-column value (or its index).
	Name string `yaml:"name" json:"name"`
	// OID is a scalar's instance, e.g. 1.3.6.1.2.1.1.3.0 (sysUpTime.0).
	OID string `yaml:"oid,omitempty" json:"oid,omitempty"`
	// Walk is a table column, e.g. 1.3.6.1.2.1.2.2.1.10 (ifInOctets).
	Walk string `yaml:"walk,omitempty" json:"walk,omitempty"`
	// Index names the walk's rows by another column of the same table: a
	// column OID or a known name (ifDescr, ifName, ifAlias,
	// hrStorageDescr, hrDeviceDescr, hrSWRunName, entPhysicalName).
	// Without it rows are named by their index.
	Index string `yaml:"index,omitempty" json:"index,omitempty"`
	// MaxRows bounds the walk, 1..MaxSNMPWalkRows, default
	// DefaultSNMPWalkRows; rows beyond it are left out and counted.
	MaxRows int         `yaml:"max_rows,omitempty" json:"max_rows,omitempty"`
	Convert SNMPConvert `yaml:"convert,omitempty" json:"convert,omitempty"`
	// Scale multiplies the (converted) value; not with hwaddr or enum.
	Scale *float64 `yaml:"scale,omitempty" json:"scale,omitempty"`
	// Enum maps the agent's values to the point's; with convert: enum.
	Enum      []SNMPEnum `yaml:"enum,omitempty" json:"enum,omitempty"`
	Unit      string     `yaml:"unit,omitempty" json:"unit,omitempty"`
	Precision int        `yaml:"precision,omitempty" json:"precision,omitempty"` // significant digits shown, 1..17
}

// SNMPEnum is one entry of an enum conversion: the agent's value (an
// integer or text, as `snmp get` writes it) and the point's value (a
// number, or true/false).
type SNMPEnum struct {
	Agent string `yaml:"agent" json:"agent"`
	Value string `yaml:"value" json:"value"`
}

// SNMPTrapRule turns a trap into an alert: a trap whose snmpTrapOID is
// Trap (and, with Match, which carries a matching varbind; with Device,
// which comes from that device) raises or clears the alert
// "snmp.trap.OID" of the device it came from.
type SNMPTrapRule struct {
	Trap   string         `yaml:"trap" json:"trap"`
	Device string         `yaml:"device,omitempty" json:"device,omitempty"`
	Match  *SNMPVarMatch  `yaml:"match,omitempty" json:"match,omitempty"`
	Action SNMPTrapAction `yaml:"action,omitempty" json:"action,omitempty"`
	// Alert is the trap OID whose alert a clear rule clears (linkUp clears
	// linkDown's); a raise rule raises its own trap's, always.
	Alert string `yaml:"alert,omitempty" json:"alert,omitempty"`
	// Severity of a raised alert: info, warning (default) or critical.
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
}

// SNMPVarMatch matches a trap's varbind: one whose OID is OID or below it
// (a column matches each of its rows), with the value Value as `snmp get`
// writes it (an empty Value matches any value).
type SNMPVarMatch struct {
	OID   string `yaml:"oid" json:"oid"`
	Value string `yaml:"value,omitempty" json:"value,omitempty"`
}

// ActionSNMPTrap is the audit action of a trap that raised or cleared an
// alert of a device.
const ActionSNMPTrap Action = "snmp.trap"

// SNMPTrapAlertPrefix starts the rule name of every trap alert:
// snmp.trap.1.3.6.1.6.3.1.1.5.3 (linkDown).
const SNMPTrapAlertPrefix = "snmp.trap."

// SNMP defaults and limits.
const (
	DefaultSNMPPort     = 161
	DefaultSNMPInterval = Duration(30 * time.Second)
	DefaultSNMPTimeout  = Duration(2 * time.Second)
	DefaultSNMPRetries  = 1
	// DefaultSNMPWalkRows is the rows a walk reads when it names no
	// max_rows: a 48-port switch and its uplinks.
	DefaultSNMPWalkRows = 64
	// MaxSNMPWalkRows bounds one walk point's rows.
	MaxSNMPWalkRows = 512
	// MaxSNMPDevices bounds the agents of a site (one poller each).
	MaxSNMPDevices = 2000
	// MaxSNMPPoints bounds one device's points, walk rows included
	// (field.MaxPointsPerDevice).
	MaxSNMPPoints = field.MaxPointsPerDevice
	// MaxSNMPTrapRules bounds the trap rules.
	MaxSNMPTrapRules = 256
	// MaxSNMPEnum bounds an enum's entries.
	MaxSNMPEnum = 64
	// MaxOIDLength bounds an OID's sub-identifiers (RFC 2578: 128).
	MaxOIDLength = 128
	// MinSNMPKeyLength is the shortest v3 passphrase (RFC 3414 11.2);
	// MaxSNMPSecretLength the longest community or passphrase.
	MinSNMPKeyLength    = 8
	MaxSNMPSecretLength = 256
)

var (
	snmpIntervalRange = [2]Duration{Duration(time.Second), Duration(24 * time.Hour)}
	snmpTimeoutRange  = [2]Duration{Duration(100 * time.Millisecond), Duration(30 * time.Second)}
	snmpRetriesRange  = [2]int{0, 10}
	snmpSeverities    = []string{"info", "warning", "critical"}
)

// SNMPIndexColumns are the index-column names a walk point may give
// instead of an OID.
var SNMPIndexColumns = map[string]string{
	"ifDescr":         "1.3.6.1.2.1.2.2.1.2",
	"ifName":          "1.3.6.1.2.1.31.1.1.1.1",
	"ifAlias":         "1.3.6.1.2.1.31.1.1.1.18",
	"hrStorageDescr":  "1.3.6.1.2.1.25.2.3.1.3",
	"hrDeviceDescr":   "1.3.6.1.2.1.25.3.2.1.3",
	"hrSWRunName":     "1.3.6.1.2.1.25.4.2.1.2",
	"entPhysicalName": "1.3.6.1.2.1.47.1.1.1.1.7",
}

// ParseOID checks a dotted numeric OID (a leading dot is allowed) and
// returns it without the leading dot.
func ParseOID(s string) (string, error) {
	t := strings.TrimPrefix(s, ".")
	if t == "" {
		return "", fmt.Errorf("%q is not an OID: write dotted numbers, e.g. 1.3.6.1.2.1.1.3.0", s)
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > MaxOIDLength {
		return "", fmt.Errorf("%q is not an OID: it needs 2..%d numbers (e.g. 1.3.6.1.2.1.1.3.0)", s, MaxOIDLength)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || !isDigits(p, 1, 10) {
			return "", fmt.Errorf("%q is not an OID: %q is not a number in 0..4294967295 (names such as sysUpTime are not resolved; write the numbers)", s, p)
		}
		if i == 0 && n > 2 {
			return "", fmt.Errorf("%q is not an OID: it must start with 0, 1 or 2", s)
		}
	}
	return t, nil
}

// EffectiveAddress returns the agent's host:port, port 161 when left out.
func (d SNMPDevice) EffectiveAddress() string {
	if _, _, err := net.SplitHostPort(d.Address); err == nil {
		return d.Address
	}
	return net.JoinHostPort(strings.Trim(d.Address, "[]"), strconv.Itoa(DefaultSNMPPort))
}

// EffectiveInterval returns the poll period, 30s when unset.
func (d SNMPDevice) EffectiveInterval() time.Duration {
	if d.Interval == 0 {
		return time.Duration(DefaultSNMPInterval)
	}
	return time.Duration(d.Interval)
}

// EffectiveTimeout returns the request timeout, 2s when unset.
func (d SNMPDevice) EffectiveTimeout() time.Duration {
	if d.Timeout == 0 {
		return time.Duration(DefaultSNMPTimeout)
	}
	return time.Duration(d.Timeout)
}

// EffectiveRetries returns the retries, 1 when unset.
func (d SNMPDevice) EffectiveRetries() int {
	if d.Retries == nil {
		return DefaultSNMPRetries
	}
	return *d.Retries
}

// IsWalk reports whether the point is a walked table column.
func (p SNMPPoint) IsWalk() bool { return p.Walk != "" }

// BaseOID returns the point's OID or walk column without a leading dot.
func (p SNMPPoint) BaseOID() string {
	if p.IsWalk() {
		return strings.TrimPrefix(p.Walk, ".")
	}
	return strings.TrimPrefix(p.OID, ".")
}

// IndexOID returns the walk's naming column as an OID, "" when rows are
// named by their index.
func (p SNMPPoint) IndexOID() string {
	if oid, ok := SNMPIndexColumns[p.Index]; ok {
		return oid
	}
	return strings.TrimPrefix(p.Index, ".")
}

// EffectiveMaxRows returns the walk's row bound.
func (p SNMPPoint) EffectiveMaxRows() int {
	if p.MaxRows == 0 {
		return DefaultSNMPWalkRows
	}
	return p.MaxRows
}

// AlertOID returns the trap OID whose alert the rule raises or clears.
func (r SNMPTrapRule) AlertOID() string {
	if r.Action == SNMPTrapClear && r.Alert != "" {
		return strings.TrimPrefix(r.Alert, ".")
	}
	return strings.TrimPrefix(r.Trap, ".")
}

// EffectiveSeverity returns the severity, warning when unset.
func (r SNMPTrapRule) EffectiveSeverity() string {
	if r.Severity == "" {
		return "warning"
	}
	return r.Severity
}

// FindDevice returns the SNMP device called name.
func (s SNMP) FindDevice(name string) (SNMPDevice, bool) {
	i := slices.IndexFunc(s.Devices, func(d SNMPDevice) bool { return d.Name == name })
	if i < 0 {
		return SNMPDevice{}, false
	}
	return s.Devices[i], true
}

func (s *SNMP) applyDefaults() {
	for i := range s.Devices {
		d := &s.Devices[i]
		if d.Interval == 0 {
			d.Interval = DefaultSNMPInterval
		}
		if d.Timeout == 0 {
			d.Timeout = DefaultSNMPTimeout
		}
		if d.Retries == nil {
			r := DefaultSNMPRetries
			d.Retries = &r
		}
	}
}

func (s SNMP) clone() SNMP {
	s.TrapRules = cloneSlice(s.TrapRules)
	for i := range s.TrapRules {
		s.TrapRules[i].Match = clonePtr(s.TrapRules[i].Match)
	}
	s.Devices = cloneSlice(s.Devices)
	for i := range s.Devices {
		d := &s.Devices[i]
		d.User = clonePtr(d.User)
		d.Retries = clonePtr(d.Retries)
		d.Points = cloneSlice(d.Points)
		for j := range d.Points {
			p := &d.Points[j]
			p.Scale = clonePtr(p.Scale)
			p.Enum = cloneSlice(p.Enum)
		}
	}
	return s
}

func (s *SNMP) redact() {
	s.TrapCommunity = redactSecret(s.TrapCommunity)
	for i := range s.Devices {
		d := &s.Devices[i]
		d.Community = redactSecret(d.Community)
		if d.User != nil {
			d.User.AuthKey, d.User.PrivKey = redactSecret(d.User.AuthKey), redactSecret(d.User.PrivKey)
		}
	}
}

func (s SNMP) hasPlaceholders() bool {
	return s.TrapCommunity.IsPlaceholder() || slices.ContainsFunc(s.Devices, func(d SNMPDevice) bool {
		return d.Community.IsPlaceholder() || d.User != nil && (d.User.AuthKey.IsPlaceholder() || d.User.PrivKey.IsPlaceholder())
	})
}

// secretSlots lists the section's secrets for the secret store, named by
// device name.
func (s *SNMP) secretSlots() []secretSlot {
	out := []secretSlot{{path: "snmp.trap_community", name: "snmp.trap_community", field: &s.TrapCommunity}}
	for i := range s.Devices {
		d := &s.Devices[i]
		p, n := pathf("snmp.devices[%d]", i), "snmp."+d.Name
		out = append(out, secretSlot{path: p + ".community", name: n + ".community", field: &d.Community})
		if d.User != nil {
			out = append(out,
				secretSlot{path: p + ".user.auth_key", name: n + ".auth_key", field: &d.User.AuthKey},
				secretSlot{path: p + ".user.priv_key", name: n + ".priv_key", field: &d.User.PrivKey})
		}
	}
	return out
}

// keepSecrets resolves the placeholders of the section's secrets from
// stored, matching devices by name and then by address (a device keeps
// its credentials when renamed or moved, not both at once), and returns
// the resolved section; problems go to v. s is not changed.
func (s SNMP) keepSecrets(stored *Site, v *problems, msg string) SNMP {
	out := s.clone()
	var old SNMP
	if stored != nil {
		old = stored.SNMP
	}
	keep := func(path string, sec *Secret, have Secret) {
		if !sec.IsPlaceholder() {
			return
		}
		if !have.IsSet() || have.IsPlaceholder() {
			v.add(path, "%s", msg)
			return
		}
		*sec = have
	}
	keep("snmp.trap_community", &out.TrapCommunity, old.TrapCommunity)
	for i := range out.Devices {
		d := &out.Devices[i]
		j := slices.IndexFunc(old.Devices, func(o SNMPDevice) bool { return o.Name == d.Name })
		if j < 0 {
			j = slices.IndexFunc(old.Devices, func(o SNMPDevice) bool { return o.Address == d.Address })
		}
		var o SNMPDevice
		if j >= 0 {
			o = old.Devices[j]
		}
		p := pathf("snmp.devices[%d]", i)
		keep(p+".community", &d.Community, o.Community)
		if d.User != nil {
			var ou SNMPUser
			if o.User != nil {
				ou = *o.User
			}
			keep(p+".user.auth_key", &d.User.AuthKey, ou.AuthKey)
			keep(p+".user.priv_key", &d.User.PrivKey, ou.PrivKey)
		}
	}
	return out
}

// fieldDevices returns the SNMP devices as the field layer sees them: the
// scalar points listed; a device with walk points names those itself
// (NAME.ROW), so it has dynamic points.
func (s SNMP) fieldDevices() []field.DeviceInfo {
	out := make([]field.DeviceInfo, 0, len(s.Devices))
	for _, d := range s.Devices {
		info := field.DeviceInfo{Name: d.Name, Protocol: field.SNMP, Bus: d.EffectiveAddress()}
		for _, p := range d.EffectivePoints() {
			if p.IsWalk() {
				info.DynamicPoints = true
				continue
			}
			info.Points = append(info.Points, field.PointInfo{Name: p.Name, Unit: p.Unit, Precision: p.Precision})
		}
		out = append(out, info)
	}
	return out
}

// validateSNMP checks the snmp section.
func (s *Site) validateSNMP(v *problems) {
	n := &s.SNMP
	const path = "snmp"
	if n.TrapListen != "" {
		if msg := trapListenProblem(n.TrapListen); msg != "" {
			v.add(joinPath(path, "trap_listen"), "%s", msg)
		}
	}
	checkSNMPSecret(v, joinPath(path, "trap_community"), n.TrapCommunity, 1, false, "")
	if len(n.Devices) > MaxSNMPDevices {
		v.add(joinPath(path, "devices"), "has %d devices; at most %d are allowed", len(n.Devices), MaxSNMPDevices)
	}
	names := map[string]int{}
	for i := range n.Devices {
		p := pathf("%s.devices[%d]", path, i)
		d := &n.Devices[i]
		checkUniqueName(v, p, "device", "devices", d.Name, i, names)
		d.validate(v, p)
	}
	if len(n.TrapRules) > 0 && n.TrapListen == "" {
		v.add(joinPath(path, "trap_rules"), "apply only with trap_listen: set the address the trap receiver listens on")
	}
	if len(n.TrapRules) > MaxSNMPTrapRules {
		v.add(joinPath(path, "trap_rules"), "has %d rules; at most %d are allowed", len(n.TrapRules), MaxSNMPTrapRules)
	}
	for i, r := range n.TrapRules {
		p := pathf("%s.trap_rules[%d]", path, i)
		checkOID(v, joinPath(p, "trap"), r.Trap, true)
		if r.Device != "" {
			if _, ok := names[r.Device]; !ok {
				v.add(joinPath(p, "device"), "no SNMP device is called %q%s", r.Device, didYouMean(r.Device, slices.Sorted(maps.Keys(names))))
			}
		}
		if r.Match != nil {
			checkOID(v, joinPath(p, "match.oid"), r.Match.OID, true)
			if r.Match.Value != "" {
				checkText(v, joinPath(p, "match.value"), r.Match.Value, 256, false)
			}
		}
		if !snmpTrapActions.known(r.Action) {
			v.add(joinPath(p, "action"), "%s is not a trap action (valid: %s)", describeEnum(snmpTrapActions, r.Action), snmpTrapActions.valid())
		}
		switch {
		case r.Action == SNMPTrapClear && r.Alert == "":
			v.add(joinPath(p, "alert"), "is required with action: clear (the trap OID whose alert this trap clears, e.g. linkDown 1.3.6.1.6.3.1.1.5.3)")
		case r.Action == SNMPTrapClear:
			checkOID(v, joinPath(p, "alert"), r.Alert, true)
		case r.Alert != "":
			v.add(joinPath(p, "alert"), "applies to clear rules only: a raise rule raises the alert of its own trap")
		}
		if r.Severity != "" && !slices.Contains(snmpSeverities, r.Severity) {
			v.add(joinPath(p, "severity"), "%q is not a severity (valid: %s)", r.Severity, strings.Join(snmpSeverities, ", "))
		}
	}
}

func (d *SNMPDevice) validate(v *problems, path string) {
	switch {
	case d.Address == "":
		v.add(joinPath(path, "address"), "is required (the agent's host:port, e.g. 192.168.10.40:161)")
	default:
		if msg := hostPortProblem(d.Address, false); msg != "" {
			v.add(joinPath(path, "address"), "%s", msg)
		}
	}
	ver := joinPath(path, "version")
	switch {
	case d.Version == 0:
		v.add(ver, "is required (%s)", snmpVersions.valid())
	case !snmpVersions.known(d.Version):
		v.add(ver, "%s is not an SNMP version (valid: %s)", describeEnum(snmpVersions, d.Version), snmpVersions.valid())
	}
	switch d.Version {
	case SNMPv2c:
		checkSNMPSecret(v, joinPath(path, "community"), d.Community, 1, true, "the agent's read community")
		if d.User != nil {
			v.add(joinPath(path, "user"), "applies to v3 devices only; remove it or set version: v3")
		}
	case SNMPv3:
		if d.Community.IsSet() {
			v.add(joinPath(path, "community"), "applies to v2c devices only; v3 authenticates with user")
		}
		if d.User == nil {
			v.add(joinPath(path, "user"), "is required with v3: {name, auth: sha256|sha512, auth_key, priv: aes128|aes256, priv_key}")
		} else {
			d.User.validate(v, joinPath(path, "user"))
		}
	}
	if d.Interval != 0 {
		checkDuration(v, joinPath(path, "interval"), d.Interval, snmpIntervalRange)
	}
	if d.Timeout != 0 {
		checkDuration(v, joinPath(path, "timeout"), d.Timeout, snmpTimeoutRange)
	}
	if d.Retries != nil {
		checkInt(v, joinPath(path, "retries"), *d.Retries, snmpRetriesRange)
	}
	checkSNMPProfile(v, joinPath(path, "profile"), d.Profile)
	names := map[string]int{}
	for i := range d.Points {
		p := pathf("%s.points[%d]", path, i)
		pt := &d.Points[i]
		checkUniqueName(v, p, "point", "points", pt.Name, i, names)
		pt.validate(v, p)
	}
	eff := d.EffectivePoints()
	for i, pt := range d.Points {
		for _, w := range eff {
			if w.IsWalk() && strings.HasPrefix(pt.Name, w.Name+".") {
				v.add(pathf("%s.points[%d].name", path, i), "%q would clash with the rows of walk point %q (named %s.ROW); choose another name", pt.Name, w.Name, w.Name)
				break
			}
		}
	}
	rows := 0
	for _, pt := range eff {
		if pt.IsWalk() {
			rows += pt.EffectiveMaxRows()
		} else {
			rows++
		}
	}
	if rows > MaxSNMPPoints {
		v.add(joinPath(path, "points"), "can make %d points (walks count max_rows each); at most %d are allowed per device", rows, MaxSNMPPoints)
	}
}

func (u *SNMPUser) validate(v *problems, path string) {
	switch {
	case u.Name == "":
		v.add(joinPath(path, "name"), "is required (the agent's v3 user name)")
	default:
		checkText(v, joinPath(path, "name"), u.Name, 32, true)
	}
	switch {
	case u.Auth == 0:
		v.add(joinPath(path, "auth"), "is required (%s): the gateway sends no unauthenticated v3 requests", snmpAuths.valid())
	case !snmpAuths.known(u.Auth):
		v.add(joinPath(path, "auth"), "%s is not an authentication protocol (valid: %s)", describeEnum(snmpAuths, u.Auth), snmpAuths.valid())
	}
	checkSNMPSecret(v, joinPath(path, "auth_key"), u.AuthKey, MinSNMPKeyLength, true, "the user's authentication passphrase")
	if u.Priv != 0 && !snmpPrivs.known(u.Priv) {
		v.add(joinPath(path, "priv"), "%s is not a privacy protocol (valid: %s)", describeEnum(snmpPrivs, u.Priv), snmpPrivs.valid())
	}
	switch {
	case u.Priv != 0:
		checkSNMPSecret(v, joinPath(path, "priv_key"), u.PrivKey, MinSNMPKeyLength, true, "the user's privacy passphrase")
	case u.PrivKey.IsSet():
		v.add(joinPath(path, "priv_key"), "applies only with priv (aes128 or aes256); set priv or remove the key")
	}
	if u.ContextName != "" {
		checkText(v, joinPath(path, "context_name"), u.ContextName, 32, false)
	}
}

func (p *SNMPPoint) validate(v *problems, path string) {
	switch {
	case p.OID == "" && p.Walk == "":
		v.add(joinPath(path, "oid"), "is required: a scalar's OID (oid: 1.3.6.1.2.1.1.3.0) or a table column to walk (walk: 1.3.6.1.2.1.2.2.1.10)")
	case p.OID != "" && p.Walk != "":
		v.add(joinPath(path, "walk"), "give oid or walk, not both")
	case p.OID != "":
		checkOID(v, joinPath(path, "oid"), p.OID, true)
	default:
		checkOID(v, joinPath(path, "walk"), p.Walk, true)
	}
	if !p.IsWalk() {
		if p.Index != "" {
			v.add(joinPath(path, "index"), "applies to walk points only")
		}
		if p.MaxRows != 0 {
			v.add(joinPath(path, "max_rows"), "applies to walk points only")
		}
	} else {
		if p.Index != "" {
			if _, known := SNMPIndexColumns[p.Index]; !known {
				if _, err := ParseOID(p.Index); err != nil {
					names := slices.Sorted(maps.Keys(SNMPIndexColumns))
					v.add(joinPath(path, "index"), "%q is neither a column OID nor a known column (%s)", p.Index, strings.Join(names, ", "))
				}
			}
		}
		if p.MaxRows != 0 {
			checkInt(v, joinPath(path, "max_rows"), p.MaxRows, [2]int{1, MaxSNMPWalkRows})
		}
	}
	if p.Convert != 0 && !snmpConverts.known(p.Convert) {
		v.add(joinPath(path, "convert"), "%s is not a conversion (valid: %s)", describeEnum(snmpConverts, p.Convert), snmpConverts.valid())
	}
	if p.Scale != nil {
		switch {
		case p.Convert == SNMPConvertHWAddr || p.Convert == SNMPConvertEnum || p.Convert == SNMPConvertText:
			v.add(joinPath(path, "scale"), "does not apply to convert: %s", p.Convert)
		case *p.Scale == 0 || math.IsNaN(*p.Scale) || math.IsInf(*p.Scale, 0):
			v.add(joinPath(path, "scale"), "must be a finite number other than 0")
		}
	}
	switch {
	case p.Convert == SNMPConvertEnum && len(p.Enum) == 0:
		v.add(joinPath(path, "enum"), "is required with convert: enum (e.g. [{agent: \"1\", value: true}, {agent: \"2\", value: false}])")
	case p.Convert != SNMPConvertEnum && len(p.Enum) > 0:
		v.add(joinPath(path, "enum"), "applies only with convert: enum")
	case len(p.Enum) > MaxSNMPEnum:
		v.add(joinPath(path, "enum"), "has %d entries; at most %d are allowed", len(p.Enum), MaxSNMPEnum)
	}
	seen := map[string]int{}
	for i, e := range p.Enum {
		ep := pathf("%s.enum[%d]", path, i)
		if j, dup := seen[e.Agent]; dup {
			v.add(joinPath(ep, "agent"), "%q is already mapped at enum[%d]", e.Agent, j)
		}
		seen[e.Agent] = i
		checkText(v, joinPath(ep, "agent"), e.Agent, 256, true)
		if _, err := field.ParseValue(e.Value); err != nil {
			v.add(joinPath(ep, "value"), "%s", err)
		}
	}
	if p.Unit != "" {
		checkText(v, joinPath(path, "unit"), p.Unit, MaxUnitLength, false)
	}
	if p.Precision != 0 {
		checkInt(v, joinPath(path, "precision"), p.Precision, precisionRange)
	}
}

// checkOID reports an OID that does not parse.
func checkOID(v *problems, path, s string, required bool) {
	if s == "" {
		if required {
			v.add(path, "is required (a dotted numeric OID, e.g. 1.3.6.1.2.1.1.3.0)")
		}
		return
	}
	if _, err := ParseOID(s); err != nil {
		v.add(path, "%s", err)
	}
}

// checkSNMPSecret checks a community or passphrase; the message never
// quotes it.
func checkSNMPSecret(v *problems, path string, s Secret, minLen int, required bool, what string) {
	switch {
	case !s.IsSet():
		if required {
			v.add(path, "is required (%s)", what)
		}
	case s.IsPlaceholder():
	case len(s.Reveal()) < minLen || len(s.Reveal()) > MaxSNMPSecretLength:
		v.add(path, "must be %d..%d characters (the given one has %d)", minLen, MaxSNMPSecretLength, len(s.Reveal()))
	case firstBad(s.Reveal(), func(r rune) bool { return r > ' ' && r < 0x7f }) >= 0:
		v.add(path, "must be printable ASCII without spaces")
	}
}

// trapListenProblem says what is wrong with the trap receiver's address,
// or "": it must be an IP address and a port (a host name could resolve to
// several addresses; the receiver listens on exactly one).
func trapListenProblem(s string) string {
	ap, err := netip.ParseAddrPort(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not an IP address and port, e.g. 0.0.0.0:162 or 127.0.0.1:1162", s)
	case ap.Port() == 0:
		return fmt.Sprintf("%q has port 0; give the port agents send traps to (usually 162)", s)
	}
	return ""
}
