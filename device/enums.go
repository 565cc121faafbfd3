package device

import (
	"fmt"
	"strings"
)

// enumDef describes one name-based enum: the value i is called names[i]. An
// empty names[0] marks the zero value as "not set"; otherwise the zero value
// is a real value (the default).
type enumDef[T ~uint8] struct {
	typ   string // Go type name, for String of out-of-range values
	what  string // what a value is, in error messages
	names []string
}

func (e enumDef[T]) known(v T) bool {
	return int(v) < len(e.names) && e.names[v] != ""
}

func (e enumDef[T]) name(v T) string {
	if int(v) < len(e.names) {
		return e.names[v]
	}
	return fmt.Sprintf("%s(%d)", e.typ, uint8(v))
}

// valid lists the valid names, comma separated, for error messages.
func (e enumDef[T]) valid() string {
	var out []string
	for _, n := range e.names {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// parse accepts a name in any case, because installers type these by hand.
func (e enumDef[T]) parse(s string) (T, error) {
	for i, n := range e.names {
		if n != "" && strings.EqualFold(n, s) {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (valid: %s)", e.what, s, e.valid())
}

func (e enumDef[T]) marshal(v T) ([]byte, error) {
	if int(v) < len(e.names) {
		return []byte(e.names[v]), nil
	}
	return nil, fmt.Errorf("cannot encode %s: %d is not a valid %s", e.typ, uint8(v), e.what)
}

// unmarshal turns empty text into the zero value so that an unset field
// written out and read back stays unset.
func (e enumDef[T]) unmarshal(text []byte, v *T) error {
	if len(text) == 0 {
		*v = 0
		return nil
	}
	p, err := e.parse(string(text))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// RegisterTable is one of the four Modbus data tables.
type RegisterTable uint8

// Register tables. The zero value means "not set".
const (
	TableCoil     RegisterTable = iota + 1 // read/write bits (function codes 1, 5, 15)
	TableDiscrete                          // read-only bits (function code 2)
	TableInput                             // read-only registers (function code 4)
	TableHolding                           // read/write registers (function codes 3, 6, 16)
)

var registerTables = enumDef[RegisterTable]{"RegisterTable", "register table", []string{"", "coil", "discrete", "input", "holding"}}

// ParseRegisterTable returns the table called s (coil, discrete, input,
// holding).
func ParseRegisterTable(s string) (RegisterTable, error) { return registerTables.parse(s) }

// String returns the table's name as written in site files.
func (t RegisterTable) String() string { return registerTables.name(t) }

// MarshalText encodes the table by name.
func (t RegisterTable) MarshalText() ([]byte, error) { return registerTables.marshal(t) }

// UnmarshalText decodes a table name; empty text means "not set".
func (t *RegisterTable) UnmarshalText(text []byte) error { return registerTables.unmarshal(text, t) }

// IsBit reports whether the table holds single bits (coil, discrete) rather
// than 16-bit registers.
func (t RegisterTable) IsBit() bool { return t == TableCoil || t == TableDiscrete }

// Writable reports whether Modbus allows writing to the table.
func (t RegisterTable) Writable() bool { return t == TableCoil || t == TableHolding }

// DataType is how the raw bits or registers of a point are interpreted.
type DataType uint8

// Data types. The zero value means "not set".
const (
	TypeBool DataType = iota + 1
	TypeInt16
	TypeUint16
	TypeInt32
	TypeUint32
	TypeInt64
	TypeUint64
	TypeFloat32
	TypeFloat64
)

var dataTypes = enumDef[DataType]{"DataType", "data type", []string{"", "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"}}

// ParseDataType returns the data type called s (bool, int16, uint16, int32,
// uint32, int64, uint64, float32, float64).
func ParseDataType(s string) (DataType, error) { return dataTypes.parse(s) }

// String returns the type's name as written in site files.
func (t DataType) String() string { return dataTypes.name(t) }

// MarshalText encodes the type by name.
func (t DataType) MarshalText() ([]byte, error) { return dataTypes.marshal(t) }

// UnmarshalText decodes a type name; empty text means "not set".
func (t *DataType) UnmarshalText(text []byte) error { return dataTypes.unmarshal(text, t) }

// Registers returns how many 16-bit registers (or, for Bool, bits) one value
// of the type occupies: 1 for bool and 16-bit types, 2 for 32-bit, 4 for
// 64-bit, and 0 for an unset or unknown type.
func (t DataType) Registers() int {
	switch t {
	case TypeBool, TypeInt16, TypeUint16:
		return 1
	case TypeInt32, TypeUint32, TypeFloat32:
		return 2
	case TypeInt64, TypeUint64, TypeFloat64:
		return 4
	}
	return 0
}

// ByteOrder says how the bytes of a register value are arranged on the wire.
// The letters name the bytes of the value from most to least significant, in
// the order the device sends them.
type ByteOrder uint8

// Byte orders. The zero value is OrderABCD, the Modbus standard big-endian order.
const (
	OrderABCD ByteOrder = iota // big-endian words, big-endian bytes (the default)
	OrderCDAB                  // little-endian words, big-endian bytes ("word swap")
	OrderBADC                  // big-endian words, little-endian bytes ("byte swap")
	OrderDCBA                  // little-endian words and bytes
)

var byteOrders = enumDef[ByteOrder]{"ByteOrder", "byte order", []string{"ABCD", "CDAB", "BADC", "DCBA"}}

// ParseByteOrder returns the byte order called s (ABCD, CDAB, BADC, DCBA).
func ParseByteOrder(s string) (ByteOrder, error) { return byteOrders.parse(s) }

// String returns the order's name as written in site files.
func (o ByteOrder) String() string { return byteOrders.name(o) }

// MarshalText encodes the order by name.
func (o ByteOrder) MarshalText() ([]byte, error) { return byteOrders.marshal(o) }

// UnmarshalText decodes an order name; empty text means OrderABCD.
func (o *ByteOrder) UnmarshalText(text []byte) error { return byteOrders.unmarshal(text, o) }

// Parity is the parity bit setting of a serial line.
type Parity uint8

// Parities. The zero value means "not set" (ApplyDefaults makes it even).
const (
	ParityNone Parity = iota + 1
	ParityEven
	ParityOdd
)

var parities = enumDef[Parity]{"Parity", "parity", []string{"", "none", "even", "odd"}}

// ParseParity returns the parity called s (none, even, odd).
func ParseParity(s string) (Parity, error) { return parities.parse(s) }

// String returns the parity's name as written in site files.
func (p Parity) String() string { return parities.name(p) }

// MarshalText encodes the parity by name.
func (p Parity) MarshalText() ([]byte, error) { return parities.marshal(p) }

// UnmarshalText decodes a parity name; empty text means "not set".
func (p *Parity) UnmarshalText(text []byte) error { return parities.unmarshal(text, p) }

// BusKind is the transport of a Modbus bus.
type BusKind uint8

// Bus kinds. The zero value means "not set".
const (
	BusRTU BusKind = iota + 1 // Modbus RTU over a serial line (RS-485)
	BusTCP                    // Modbus TCP
)

var busKinds = enumDef[BusKind]{"BusKind", "bus kind", []string{"", "rtu", "tcp"}}

// ParseBusKind returns the bus kind called s (rtu, tcp).
func ParseBusKind(s string) (BusKind, error) { return busKinds.parse(s) }

// String returns the kind's name as written in site files.
func (k BusKind) String() string { return busKinds.name(k) }

// MarshalText encodes the kind by name.
func (k BusKind) MarshalText() ([]byte, error) { return busKinds.marshal(k) }

// UnmarshalText decodes a kind name; empty text means "not set".
func (k *BusKind) UnmarshalText(text []byte) error { return busKinds.unmarshal(text, k) }

// LinkKind is a kind of WAN uplink.
type LinkKind uint8

// Link kinds. The zero value means "not set".
const (
	LinkCellular LinkKind = iota + 1
	LinkEthernet
	LinkWiFi
)

var linkKinds = enumDef[LinkKind]{"LinkKind", "link", []string{"", "cellular", "ethernet", "wifi"}}

// ParseLinkKind returns the link kind called s (cellular, ethernet, wifi).
func ParseLinkKind(s string) (LinkKind, error) { return linkKinds.parse(s) }

// String returns the kind's name as written in site files.
func (k LinkKind) String() string { return linkKinds.name(k) }

// MarshalText encodes the kind by name.
func (k LinkKind) MarshalText() ([]byte, error) { return linkKinds.marshal(k) }

// UnmarshalText decodes a kind name; empty text means "not set".
func (k *LinkKind) UnmarshalText(text []byte) error { return linkKinds.unmarshal(text, k) }

// Role is an account role. Roles are granted explicitly; see README requirement 2.
type Role uint8

// Roles, from most to least privileged. The zero value means "not set".
const (
	RoleAdmin     Role = iota + 1 // users and everything else
	RoleInstaller                 // configure the site
	RoleSupport                   // read-only: health, logs, config view
	RoleViewer                    // dashboard only
)

var roles = enumDef[Role]{"Role", "role", []string{"", "admin", "installer", "support", "viewer"}}

// ParseRole returns the role called s (admin, installer, support, viewer).
func ParseRole(s string) (Role, error) { return roles.parse(s) }

// String returns the role's name as written in site files.
func (r Role) String() string { return roles.name(r) }

// MarshalText encodes the role by name.
func (r Role) MarshalText() ([]byte, error) { return roles.marshal(r) }

// UnmarshalText decodes a role name; empty text means "not set".
func (r *Role) UnmarshalText(text []byte) error { return roles.unmarshal(text, r) }

// WiFiSecurity is the Wi-Fi authentication scheme.
type WiFiSecurity uint8

// Wi-Fi security schemes. The zero value means "not set".
const (
	SecurityWPA2PSK WiFiSecurity = iota + 1 // WPA2 personal (pre-shared key)
	SecurityWPA3SAE                         // WPA3 personal (simultaneous authentication of equals)
)

var wifiSecurities = enumDef[WiFiSecurity]{"WiFiSecurity", "wifi security", []string{"", "wpa2-psk", "wpa3-sae"}}

// ParseWiFiSecurity returns the scheme called s (wpa2-psk, wpa3-sae).
func ParseWiFiSecurity(s string) (WiFiSecurity, error) { return wifiSecurities.parse(s) }

// String returns the scheme's name as written in site files.
func (w WiFiSecurity) String() string { return wifiSecurities.name(w) }

// MarshalText encodes the scheme by name.
func (w WiFiSecurity) MarshalText() ([]byte, error) { return wifiSecurities.marshal(w) }

// UnmarshalText decodes a scheme name; empty text means "not set".
func (w *WiFiSecurity) UnmarshalText(text []byte) error { return wifiSecurities.unmarshal(text, w) }

// LoRaRegion is a LoRaWAN regional parameters channel plan.
type LoRaRegion uint8

// LoRaWAN regions, as named in the LoRaWAN Regional Parameters. The zero
// value means "not set".
const (
	RegionEU868 LoRaRegion = iota + 1
	RegionUS915
	RegionCN779
	RegionEU433
	RegionAU915
	RegionCN470
	RegionAS923
	RegionAS923_2
	RegionAS923_3
	RegionAS923_4
	RegionKR920
	RegionIN865
	RegionRU864
)

var loraRegions = enumDef[LoRaRegion]{"LoRaRegion", "LoRa region", []string{"", "EU868", "US915", "CN779", "EU433", "AU915", "CN470", "AS923", "AS923-2", "AS923-3", "AS923-4", "KR920", "IN865", "RU864"}}

// ParseLoRaRegion returns the region called s (EU868, US915, ...; any case).
func ParseLoRaRegion(s string) (LoRaRegion, error) { return loraRegions.parse(s) }

// String returns the region's name as written in site files.
func (r LoRaRegion) String() string { return loraRegions.name(r) }

// MarshalText encodes the region by name.
func (r LoRaRegion) MarshalText() ([]byte, error) { return loraRegions.marshal(r) }

// UnmarshalText decodes a region name; empty text means "not set".
func (r *LoRaRegion) UnmarshalText(text []byte) error { return loraRegions.unmarshal(text, r) }

// Rotate says whether the gateway rotates between its two SIMs.
type Rotate uint8

// SIM rotation settings. The zero value is RotateOff.
const (
	RotateOff    Rotate = iota // use the other SIM only on failover
	RotateWeekly               // switch SIMs weekly when both are usable
)

var rotations = enumDef[Rotate]{"Rotate", "rotate setting", []string{"off", "weekly"}}

// ParseRotate returns the rotation setting called s (off, weekly).
func ParseRotate(s string) (Rotate, error) { return rotations.parse(s) }

// String returns the setting's name as written in site files.
func (r Rotate) String() string { return rotations.name(r) }

// MarshalText encodes the setting by name.
func (r Rotate) MarshalText() ([]byte, error) { return rotations.marshal(r) }

// UnmarshalText decodes a setting name; empty text means off.
func (r *Rotate) UnmarshalText(text []byte) error { return rotations.unmarshal(text, r) }
