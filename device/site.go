package device

import (
	"slices"
	"time"
)

// Site is the whole commissioning state of a site: the site file. The same
// struct is stored as JSON and exported as YAML; field names are the binding
// ones of the README's site file contract.
type Site struct {
	// Revision is the stored revision a site file was exported from
	// (`revision: N` at the top of the file). Importing the file is based
	// on it: a file exported before someone else's change is refused. It
	// is never stored.
	Revision *uint64  `yaml:"revision,omitempty" json:"-"`
	Site     SiteInfo `yaml:"site" json:"site"`         // the site's name
	Access   Access   `yaml:"access" json:"access"`     // login policy
	Clock    Clock    `yaml:"clock" json:"clock"`       // time sources and zone
	WAN      WAN      `yaml:"wan" json:"wan"`           // uplink priority, probing, Ethernet
	Cellular Cellular `yaml:"cellular" json:"cellular"` // mobile uplink and SIMs
	WiFi     WiFi     `yaml:"wifi" json:"wifi"`         // Wi-Fi client uplink
	LoRa     LoRa     `yaml:"lora" json:"lora"`         // LoRaWAN packet forwarder
	Modbus   Modbus   `yaml:"modbus" json:"modbus"`     // field buses, devices and points
	// Store and Uplink keep and send readings (storesettings.go).
	Store  StoreSettings  `yaml:"store" json:"store"`
	Uplink UplinkSettings `yaml:"uplink" json:"uplink"`
	// Profiles are the site's own register maps (imported from CSV or
	// written here), used like the built-in ones by `profile:`.
	Profiles []Profile `yaml:"profiles,omitempty" json:"profiles,omitempty"`

	// BACnet is BACnet/IP and MS/TP (site_bacnet.go); files that do not
	// use it leave it out.
	BACnet BACnet `yaml:"bacnet,omitempty" json:"bacnet,omitzero"`
	// Firewall and Endpoints: the host's packet filter and the only
	// destinations the gateway contacts (site_firewall.go).
	Firewall  Firewall   `yaml:"firewall,omitempty" json:"firewall,omitzero"`
	Endpoints []Endpoint `yaml:"endpoints,omitempty" json:"endpoints,omitempty"`
	// SNMP is the SNMP manager and trap receiver (site_snmp.go).
	SNMP SNMP `yaml:"snmp,omitempty" json:"snmp,omitzero"`

	// CoAP is the CoAP-over-DTLS server for sensors (site_coap.go).
	CoAP CoAP `yaml:"coap,omitempty" json:"coap,omitzero"`
}

// SiteInfo names the site.
type SiteInfo struct {
	Name string `yaml:"name" json:"name"` // 1..128 characters, no control characters
}

// Access is the login policy.
type Access struct {
	PasswordMaxLength int `yaml:"password_max_length" json:"password_max_length"` // 8..64, default 15
	// Require2FA lists the roles whose password logins need a TOTP code.
	// Absent (nil) means the secure default, admin and installer; an empty
	// list ([]) means no role needs it. Encoding keeps the difference.
	Require2FA  []Role   `yaml:"require_2fa" json:"require_2fa"`
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout"` // 1m..24h, default 15m
	// SSH user certificates of the organisation (site_access.go).
	SSHUserCAs         []string `yaml:"ssh_user_cas,omitempty" json:"ssh_user_cas,omitempty"`
	SSHCertMaxValidity Duration `yaml:"ssh_cert_max_validity,omitempty" json:"ssh_cert_max_validity,omitempty"`
	RevokedCertSerials []uint64 `yaml:"revoked_cert_serials,omitempty" json:"revoked_cert_serials,omitempty"`
	RevokedKeyIDs      []string `yaml:"revoked_key_ids,omitempty" json:"revoked_key_ids,omitempty"`
}

// Clock is time keeping.
type Clock struct {
	NTPServers []string `yaml:"ntp_servers,omitempty" json:"ntp_servers,omitempty"` // host or host:port
	Timezone   string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`       // IANA name; empty is UTC
}

// Location returns the clock's time zone; UTC when unset or unknown.
func (c Clock) Location() *time.Location {
	if c.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// WAN is uplink selection: which links to prefer and how to tell whether a
// link reaches the internet.
type WAN struct {
	Priority []LinkKind `yaml:"priority" json:"priority"` // most preferred first; default cellular, ethernet, wifi
	Probe    Probe      `yaml:"probe" json:"probe"`       // how to tell whether a link reaches the internet
	Ethernet Ethernet   `yaml:"ethernet" json:"ethernet"` // wired uplink addressing
}

// Probe checks a link by connecting to targets.
type Probe struct {
	Targets   []string `yaml:"targets,omitempty" json:"targets,omitempty"` // host:port
	Interval  Duration `yaml:"interval" json:"interval"`                   // 1s..10m, default 10s
	DownAfter int      `yaml:"down_after" json:"down_after"`               // failed probes before a link is down; 1..100, default 3
	UpAfter   int      `yaml:"up_after" json:"up_after"`                   // good probes before a link is up again; 1..100, default 5
}

// Ethernet is the wired uplink. An absent ethernet section means eth0 with
// DHCP.
type Ethernet struct {
	Interface string `yaml:"interface,omitempty" json:"interface,omitempty"` // default eth0
	DHCP      bool   `yaml:"dhcp" json:"dhcp"`                               // address by DHCP rather than Address and Gateway
	Address   string `yaml:"address,omitempty" json:"address,omitempty"`     // CIDR, e.g. 192.168.1.10/24; required without DHCP
	Gateway   string `yaml:"gateway,omitempty" json:"gateway,omitempty"`     // IP address of the default router
}

// Cellular is the mobile uplink with up to two SIMs.
type Cellular struct {
	Enabled       bool     `yaml:"enabled" json:"enabled"`                         // use the cellular link
	Interface     string   `yaml:"interface,omitempty" json:"interface,omitempty"` // default wwan0
	FailoverAfter Duration `yaml:"failover_after" json:"failover_after"`           // switch SIM after this long without internet; 30s..1h, default 3m
	Rotate        Rotate   `yaml:"rotate,omitempty" json:"rotate,omitempty"`       // off (the default) or weekly
	SIMs          []SIM    `yaml:"sims,omitempty" json:"sims,omitempty"`           // at most two, one per slot
}

// SIM is one SIM slot.
type SIM struct {
	Slot           int    `yaml:"slot" json:"slot"`                                             // 1 or 2
	APN            string `yaml:"apn" json:"apn"`                                               // 1..63 of letters, digits, '.', '-'
	PIN            Secret `yaml:"pin,omitempty" json:"pin,omitempty"`                           // 4..8 digits when set
	MonthlyLimitMB int    `yaml:"monthly_limit_mb,omitempty" json:"monthly_limit_mb,omitempty"` // data plan size for usage alarms; 0 = none
}

// WiFi is the Wi-Fi client uplink.
type WiFi struct {
	Enabled bool `yaml:"enabled" json:"enabled"` // use Wi-Fi as an uplink
	// PermanentlyDisabled turns the radio off until someone with physical
	// access re-enables it with `sitegate radio enable wifi`.
	PermanentlyDisabled bool         `yaml:"permanently_disabled" json:"permanently_disabled"`
	Interface           string       `yaml:"interface,omitempty" json:"interface,omitempty"`   // default wlan0
	SSID                string       `yaml:"ssid,omitempty" json:"ssid,omitempty"`             // 1..32 bytes
	Security            WiFiSecurity `yaml:"security,omitempty" json:"security,omitempty"`     // required when enabled
	Passphrase          Secret       `yaml:"passphrase,omitempty" json:"passphrase,omitempty"` // required when enabled; the rules depend on Security
}

// LoRa is the LoRaWAN packet forwarder.
type LoRa struct {
	Enabled bool `yaml:"enabled" json:"enabled"` // run the packet forwarder
	// PermanentlyDisabled turns the radio off until someone with physical
	// access re-enables it with `sitegate radio enable lora`.
	PermanentlyDisabled bool       `yaml:"permanently_disabled" json:"permanently_disabled"`
	Region              LoRaRegion `yaml:"region,omitempty" json:"region,omitempty"`                 // channel plan; required when enabled
	GatewayEUI          string     `yaml:"gateway_eui,omitempty" json:"gateway_eui,omitempty"`       // 16 hex digits
	NetworkServer       string     `yaml:"network_server,omitempty" json:"network_server,omitempty"` // host:port; forward mode
	// Mode: forward (the default) or embedded; see site_lora.go.
	Mode LoRaMode `yaml:"mode,omitempty" json:"mode,omitempty"`
	// PacketForwarder is where the concentrator's packet forwarder sends
	// (UDP, an IP address and port; default 127.0.0.1:1700).
	PacketForwarder string `yaml:"packet_forwarder,omitempty" json:"packet_forwarder,omitempty"`
	// AllowRemoteForwarder accepts a packet_forwarder address beyond
	// loopback: the protocol has no authentication.
	AllowRemoteForwarder bool         `yaml:"allow_remote_forwarder,omitempty" json:"allow_remote_forwarder,omitempty"`
	Devices              []LoRaDevice `yaml:"devices,omitempty" json:"devices,omitempty"` // embedded mode's devices
	Codecs               []LoRaCodec  `yaml:"codecs,omitempty" json:"codecs,omitempty"`   // declarative payload codecs
}

// Modbus is the field-bus topology: buses, and the devices polled on them.
type Modbus struct {
	Buses   []Bus    `yaml:"buses,omitempty" json:"buses,omitempty"`     // names unique
	Devices []Device `yaml:"devices,omitempty" json:"devices,omitempty"` // names unique; each on one of Buses
}

// FindBus returns the bus called name.
func (m Modbus) FindBus(name string) (Bus, bool) {
	for _, b := range m.Buses {
		if b.Name == name {
			return b, true
		}
	}
	return Bus{}, false
}

// FindDevice returns the device called name.
func (m Modbus) FindDevice(name string) (Device, bool) {
	for _, d := range m.Devices {
		if d.Name == name {
			return d, true
		}
	}
	return Device{}, false
}

// Bus is one Modbus line: a serial port (rtu) or a TCP endpoint (tcp).
// Device, Baud, Parity, DataBits and StopBits apply to rtu only, Address to
// tcp only.
type Bus struct {
	Name     string   `yaml:"name" json:"name"`                               // 1..64 of letters, digits, '_', '.', '-'; unique among buses
	Kind     BusKind  `yaml:"kind" json:"kind"`                               // rtu or tcp
	Device   string   `yaml:"device,omitempty" json:"device,omitempty"`       // serial device path, e.g. /dev/ttyS1
	Baud     int      `yaml:"baud,omitempty" json:"baud,omitempty"`           // 1200..115200, default 9600
	Parity   Parity   `yaml:"parity,omitempty" json:"parity,omitempty"`       // default even
	DataBits int      `yaml:"data_bits,omitempty" json:"data_bits,omitempty"` // 7 or 8, default 8
	StopBits int      `yaml:"stop_bits,omitempty" json:"stop_bits,omitempty"` // 1 or 2, default 1
	Address  string   `yaml:"address,omitempty" json:"address,omitempty"`     // host:port
	Timeout  Duration `yaml:"timeout" json:"timeout"`                         // per request; 10ms..30s, default 1s
	// MaxInFlight (tcp only) is how many requests the gateway may send on
	// the connection before their answers, when several devices' cycles
	// are due together: 1..16, default 1 (one at a time). Modbus TCP allows
	// more; set it only for a server that queues them (libmodbus, most TCP
	// gateways) — some embedded servers drop what arrives while they work.
	MaxInFlight int `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
}

// MaxBusInFlight bounds Bus.MaxInFlight.
const MaxBusInFlight = 16

// EffectiveMaxInFlight returns MaxInFlight, or its default 1 when unset.
func (b Bus) EffectiveMaxInFlight() int { return max(b.MaxInFlight, 1) }

// Device is one Modbus server (slave) on a bus and the points read from it.
type Device struct {
	Name         string   `yaml:"name" json:"name"`                           // 1..64 of letters, digits, '_', '.', '-'; unique among devices
	Bus          string   `yaml:"bus" json:"bus"`                             // name of a bus
	UnitID       int      `yaml:"unit_id" json:"unit_id"`                     // 1..247
	Interval     Duration `yaml:"interval" json:"interval"`                   // poll period; 100ms..24h, default 10s
	Timeout      Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"` // overrides the bus timeout when set
	MaxGap       *int     `yaml:"max_gap,omitempty" json:"max_gap,omitempty"` // unused registers one read may span; 0..125, default 16
	MaxRegisters int      `yaml:"max_registers" json:"max_registers"`         // registers per read; 1..125, default 125
	Profile      string   `yaml:"profile,omitempty" json:"profile,omitempty"` // a site or built-in profile, see Site.LookupProfile
	Points       []Point  `yaml:"points,omitempty" json:"points,omitempty"`   // extend or override the profile's points by name
}

// EffectiveMaxGap returns MaxGap, or its default 16 when unset.
func (d Device) EffectiveMaxGap() int {
	if d.MaxGap == nil {
		return DefaultMaxGap
	}
	return *d.MaxGap
}

// SetMaxGap sets MaxGap to n.
func (d *Device) SetMaxGap(n int) { d.MaxGap = &n }

// EffectiveTimeout returns the device's own timeout, or else the timeout of
// its bus b.
func (d Device) EffectiveTimeout(b Bus) Duration {
	if d.Timeout != 0 {
		return d.Timeout
	}
	if b.Timeout != 0 {
		return b.Timeout
	}
	return DefaultBusTimeout
}

// Point is one value of a device: where it lives and how to read it. The
// engineering value is raw * Scale() + Offset.
type Point struct {
	Name    string        `yaml:"name" json:"name"`                       // 1..64 of letters, digits, '_', '.', '-'; unique within the device
	Table   RegisterTable `yaml:"table" json:"table"`                     // coil, discrete, input or holding
	Address int           `yaml:"address" json:"address"`                 // 0-based protocol address, 0..65535
	Type    DataType      `yaml:"type" json:"type"`                       // bool for coil and discrete, a number type otherwise
	Order   ByteOrder     `yaml:"order,omitempty" json:"order,omitempty"` // default ABCD
	// ScaleFactor is the scale as written; nil means 1. Use Scale to read it.
	ScaleFactor *float64 `yaml:"scale,omitempty" json:"scale,omitempty"`
	Offset      float64  `yaml:"offset,omitempty" json:"offset,omitempty"`     // added after scaling
	Unit        string   `yaml:"unit,omitempty" json:"unit,omitempty"`         // engineering unit, e.g. degC, kWh, %
	Writable    bool     `yaml:"writable,omitempty" json:"writable,omitempty"` // coil and holding only
	// Precision is the significant digits the console shows (1..17; 0 is
	// the default, 4). JSON outputs always carry full precision.
	Precision int `yaml:"precision,omitempty" json:"precision,omitempty"`
	// Deadband and Heartbeat report by exception (storesettings.go): a
	// reading goes to the cloud when it moved more than Deadband from the
	// last one sent, or Heartbeat after it.
	Deadband  *float64 `yaml:"deadband,omitempty" json:"deadband,omitempty"`
	Heartbeat Duration `yaml:"heartbeat,omitempty" json:"heartbeat,omitempty"`
	// Description says what the point is, for people (a register map's
	// description column); at most 200 characters.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// Scale returns the scale factor, 1 when none is given.
func (p Point) Scale() float64 {
	if p.ScaleFactor == nil {
		return 1
	}
	return *p.ScaleFactor
}

// SetScale sets the scale factor to v.
func (p *Point) SetScale(v float64) { p.ScaleFactor = &v }

// Apply turns a raw value into the engineering value: raw * Scale() + Offset.
func (p Point) Apply(raw float64) float64 { return raw*p.Scale() + p.Offset }

// Defaults filled in by ApplyDefaults.
const (
	DefaultSiteName          = "Unnamed site"
	DefaultPasswordMaxLength = 15
	DefaultIdleTimeout       = Duration(15 * time.Minute)
	DefaultProbeInterval     = Duration(10 * time.Second)
	DefaultProbeDownAfter    = 3
	DefaultProbeUpAfter      = 5
	DefaultFailoverAfter     = Duration(3 * time.Minute)
	DefaultEthernetInterface = "eth0"
	DefaultCellularInterface = "wwan0"
	DefaultWiFiInterface     = "wlan0"
	DefaultBaud              = 9600
	DefaultParity            = ParityEven
	DefaultDataBits          = 8
	DefaultStopBits          = 1
	DefaultBusTimeout        = Duration(time.Second)
	DefaultPollInterval      = Duration(10 * time.Second)
	DefaultMaxGap            = 16
	DefaultMaxRegisters      = 125
)

// DefaultPriority is the default WAN link order.
func DefaultPriority() []LinkKind { return []LinkKind{LinkCellular, LinkEthernet, LinkWiFi} }

// DefaultRequire2FA is the default list of roles that need a second factor.
func DefaultRequire2FA() []Role { return []Role{RoleAdmin, RoleInstaller} }

// ApplyDefaults fills every unset field that has a default. It is
// idempotent, and leaves set fields alone even when they are invalid
// (Validate reports those). Serial settings are filled for rtu buses only.
func (s *Site) ApplyDefaults() {
	if s.Access.PasswordMaxLength == 0 {
		s.Access.PasswordMaxLength = DefaultPasswordMaxLength
	}
	if s.Access.Require2FA == nil {
		s.Access.Require2FA = DefaultRequire2FA()
	}
	if s.Access.IdleTimeout == 0 {
		s.Access.IdleTimeout = DefaultIdleTimeout
	}

	w := &s.WAN
	if len(w.Priority) == 0 {
		w.Priority = DefaultPriority()
	}
	if w.Probe.Interval == 0 {
		w.Probe.Interval = DefaultProbeInterval
	}
	if w.Probe.DownAfter == 0 {
		w.Probe.DownAfter = DefaultProbeDownAfter
	}
	if w.Probe.UpAfter == 0 {
		w.Probe.UpAfter = DefaultProbeUpAfter
	}
	if w.Ethernet == (Ethernet{}) {
		w.Ethernet.DHCP = true
	}
	if w.Ethernet.Interface == "" {
		w.Ethernet.Interface = DefaultEthernetInterface
	}

	if s.Cellular.Interface == "" {
		s.Cellular.Interface = DefaultCellularInterface
	}
	if s.Cellular.FailoverAfter == 0 {
		s.Cellular.FailoverAfter = DefaultFailoverAfter
	}
	if s.WiFi.Interface == "" {
		s.WiFi.Interface = DefaultWiFiInterface
	}
	s.LoRa.applyDefaults()
	s.applyStoreDefaults()
	s.BACnet.applyDefaults()
	s.SNMP.applyDefaults()
	s.CoAP.applyDefaults()

	for i := range s.Modbus.Buses {
		b := &s.Modbus.Buses[i]
		if b.Timeout == 0 {
			b.Timeout = DefaultBusTimeout
		}
		if b.Kind != BusRTU {
			continue
		}
		if b.Baud == 0 {
			b.Baud = DefaultBaud
		}
		if b.Parity == 0 {
			b.Parity = DefaultParity
		}
		if b.DataBits == 0 {
			b.DataBits = DefaultDataBits
		}
		if b.StopBits == 0 {
			b.StopBits = DefaultStopBits
		}
	}
	for i := range s.Modbus.Devices {
		d := &s.Modbus.Devices[i]
		if d.Interval == 0 {
			d.Interval = DefaultPollInterval
		}
		if d.MaxGap == nil {
			d.SetMaxGap(DefaultMaxGap)
		}
		if d.MaxRegisters == 0 {
			d.MaxRegisters = DefaultMaxRegisters
		}
	}
}

// DefaultSite returns the site of a freshly installed gateway: named
// DefaultSiteName, every default applied, pool.ntp.org as time source, no
// buses or devices, and cellular, Wi-Fi and LoRa disabled. It validates.
func DefaultSite() *Site {
	s := &Site{
		Site:  SiteInfo{Name: DefaultSiteName},
		Clock: Clock{NTPServers: []string{"pool.ntp.org"}},
	}
	s.ApplyDefaults()
	return s
}

// Clone returns a deep copy of s: no slice or pointer is shared.
func (s *Site) Clone() *Site {
	if s == nil {
		return nil
	}
	c := *s
	c.Access.Require2FA = cloneSlice(s.Access.Require2FA)
	c.Access.cloneCerts()
	c.Clock.NTPServers = cloneSlice(s.Clock.NTPServers)
	c.WAN.Priority = cloneSlice(s.WAN.Priority)
	c.WAN.Probe.Targets = cloneSlice(s.WAN.Probe.Targets)
	c.Cellular.SIMs = cloneSlice(s.Cellular.SIMs)
	c.LoRa = s.LoRa.clone()
	c.BACnet = s.BACnet.clone()
	c.Firewall, c.Endpoints = s.Firewall.clone(), cloneSlice(s.Endpoints)
	c.SNMP = s.SNMP.clone()
	c.CoAP = s.CoAP.clone()
	c.Modbus.Buses = cloneSlice(s.Modbus.Buses)
	c.Modbus.Devices = cloneSlice(s.Modbus.Devices)
	for i := range c.Modbus.Devices {
		c.Modbus.Devices[i] = c.Modbus.Devices[i].clone()
	}
	c.Profiles = cloneSlice(s.Profiles)
	for i := range c.Profiles {
		c.Profiles[i] = c.Profiles[i].clone()
	}
	return &c
}

func (d Device) clone() Device {
	d.MaxGap = clonePtr(d.MaxGap)
	d.Points = cloneSlice(d.Points)
	for i := range d.Points {
		d.Points[i] = d.Points[i].clone()
	}
	return d
}

func (p Point) clone() Point {
	p.ScaleFactor = clonePtr(p.ScaleFactor)
	p.Deadband = clonePtr(p.Deadband)
	return p
}

// cloneSlice copies s, keeping nil and empty apart (require_2fa depends on
// the difference).
func cloneSlice[E any](s []E) []E {
	if s == nil {
		return nil
	}
	return append(make([]E, 0, len(s)), s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Redacted returns a deep copy of s in which every secret that is set reads
// SecretPlaceholder. Use it for everything that leaves the gateway or is
// shown to a person.
func (s *Site) Redacted() *Site {
	c := s.Clone()
	if c == nil {
		return nil
	}
	for i := range c.Cellular.SIMs {
		c.Cellular.SIMs[i].PIN = redactSecret(c.Cellular.SIMs[i].PIN)
	}
	c.WiFi.Passphrase = redactSecret(c.WiFi.Passphrase)
	c.LoRa.redact()
	c.SNMP.redact()
	c.CoAP.redact()
	return c
}

func redactSecret(s Secret) Secret {
	if s == "" {
		return ""
	}
	return SecretPlaceholder
}

// KeepSecrets replaces every SecretPlaceholder in s with the value stored
// in stored (SIMs are matched by slot). Call it on an imported site before
// Validate and before storing it. A placeholder with nothing stored behind it
// is a problem: the returned *ValidationError lists every such path. s is
// changed only when KeepSecrets returns nil.
func (s *Site) KeepSecrets(stored *Site) error {
	var v problems
	const msg = `"` + SecretPlaceholder + `" given but no secret is stored; write the value itself`
	pins := make([]Secret, len(s.Cellular.SIMs))
	for i, sim := range s.Cellular.SIMs {
		pins[i] = sim.PIN
		if !sim.PIN.IsPlaceholder() {
			continue
		}
		var have Secret
		if stored != nil {
			for _, old := range stored.Cellular.SIMs {
				if old.Slot == sim.Slot {
					have = old.PIN
					break
				}
			}
		}
		if have == "" || have.IsPlaceholder() {
			v.add(pathf("cellular.sims[%d].pin", i), "%s", msg)
			continue
		}
		pins[i] = have
	}
	pass := s.WiFi.Passphrase
	if pass.IsPlaceholder() {
		var have Secret
		if stored != nil {
			have = stored.WiFi.Passphrase
		}
		if have == "" || have.IsPlaceholder() {
			v.add("wifi.passphrase", "%s", msg)
		} else {
			pass = have
		}
	}
	loraDevices := s.LoRa.keepSecrets(stored, &v, msg)
	snmp := s.SNMP.keepSecrets(stored, &v, msg)
	coapSensors := s.CoAP.keepSecrets(stored, &v, msg)
	if err := v.err(); err != nil {
		return err
	}
	s.LoRa.Devices = loraDevices
	s.SNMP = snmp
	s.CoAP.Sensors = coapSensors
	for i := range s.Cellular.SIMs {
		s.Cellular.SIMs[i].PIN = pins[i]
	}
	s.WiFi.Passphrase = pass
	return nil
}

// HasPlaceholders reports whether any secret of s is still
// SecretPlaceholder, that is whether KeepSecrets is still due.
func (s *Site) HasPlaceholders() bool {
	return slices.ContainsFunc(s.Cellular.SIMs, func(m SIM) bool { return m.PIN.IsPlaceholder() }) ||
		s.WiFi.Passphrase.IsPlaceholder() || s.LoRa.hasPlaceholders() || s.SNMP.hasPlaceholders() || s.CoAP.hasPlaceholders()
}
