package device

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
)

// The BACnet part of the site: where the gateway's BACnet/IP port opens,
// its own Device object, an optional BBMD, MS/TP buses, the devices it
// reads and writes, and the site points it serves to other BACnet
// clients. The section is omitted from site files that do not use it.

// BACnet is the site's bacnet section.
type BACnet struct {
	// Address is the IPv4 address the BACnet/IP port opens on; Interface
	// names the interface instead (its first IPv4 address). One of them is
	// required once BACnet/IP is used (serve, or a device not on an MS/TP
	// bus), and giving one opens the port: it never opens on every
	// interface (README requirement 13).
	Address   string `yaml:"address,omitempty" json:"address,omitempty"`
	Interface string `yaml:"interface,omitempty" json:"interface,omitempty"`
	// Port is the UDP port, 47808 (0xBAC0) when unset.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// Broadcast overrides the subnet's broadcast address, which is
	// otherwise taken from the interface's netmask.
	Broadcast string `yaml:"broadcast,omitempty" json:"broadcast,omitempty"`
	// DeviceInstance is the gateway's own Device object, 0..4194302;
	// required with BACnet/IP.
	DeviceInstance *int `yaml:"device_instance,omitempty" json:"device_instance,omitempty"`
	// DeviceName is its object-name; default "sitegate-" and the instance.
	DeviceName string `yaml:"device_name,omitempty" json:"device_name,omitempty"`
	// BBMD registers the gateway as a foreign device of this BBMD (IPv4,
	// port 47808 by default), for controllers on other subnets; BBMDTTL is
	// the registration's time to live (default 5m).
	BBMD    string   `yaml:"bbmd,omitempty" json:"bbmd,omitempty"`
	BBMDTTL Duration `yaml:"bbmd_ttl,omitempty" json:"bbmd_ttl,omitempty"`
	// APDUTimeout is how long a request waits for its answer before it is
	// sent again (default 3s); Retries how often (default 3).
	APDUTimeout Duration `yaml:"apdu_timeout,omitempty" json:"apdu_timeout,omitempty"`
	Retries     *int     `yaml:"retries,omitempty" json:"retries,omitempty"`
	// MSTP are the gateway's RS-485 lines running BACnet MS/TP.
	MSTP []MSTPBus `yaml:"mstp,omitempty" json:"mstp,omitempty"`
	// Devices are the BACnet devices the gateway reads and writes.
	Devices []BACnetDevice `yaml:"devices,omitempty" json:"devices,omitempty"`
	// Serve exposes site points of any protocol as objects of the
	// gateway's Device object.
	Serve []BACnetServe `yaml:"serve,omitempty" json:"serve,omitempty"`
}

// MSTPBus is one RS-485 line on which the gateway is an MS/TP master.
type MSTPBus struct {
	Name          string `yaml:"name" json:"name"`                                           // 1..64 of letters, digits, '_', '.', '-'; unique among mstp buses
	Device        string `yaml:"device" json:"device"`                                       // serial device path, e.g. /dev/ttyS2
	Baud          int    `yaml:"baud,omitempty" json:"baud,omitempty"`                       // 9600, 19200, 38400 (default), 57600, 76800 or 115200
	MAC           *int   `yaml:"mac" json:"mac"`                                             // the gateway's station address, 0..127
	MaxMaster     int    `yaml:"max_master,omitempty" json:"max_master,omitempty"`           // highest master polled, mac..127, default 127
	MaxInfoFrames int    `yaml:"max_info_frames,omitempty" json:"max_info_frames,omitempty"` // frames sent per token, 1..100, default 1
}

// BACnetDevice is one BACnet device and the points read from it.
type BACnetDevice struct {
	Name string `yaml:"name" json:"name"` // unique across the site
	// Instance is its Device object's instance, 0..4194302.
	Instance *int `yaml:"instance" json:"instance"`
	// Address is where it is on BACnet/IP (IPv4, port 47808 by default);
	// without it the device is found by Who-Is. With Network it is the
	// router's address.
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	// Bus puts the device on one of the gateway's MS/TP buses; MAC is then
	// its station address (found by Who-Is when unset).
	Bus string `yaml:"bus,omitempty" json:"bus,omitempty"`
	MAC *int   `yaml:"mac,omitempty" json:"mac,omitempty"`
	// Network is the remote network number (1..65534) of a device behind
	// a BACnet router at Address, whose station address there is MAC.
	Network int `yaml:"network,omitempty" json:"network,omitempty"`
	// Interval is the poll period, 1s..24h, default 10s.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// COV subscribes to present-value changes (SubscribeCOV) instead of
	// polling them; a point the device refuses is polled.
	COV bool `yaml:"cov,omitempty" json:"cov,omitempty"`
	// COVLifetime of a subscription, renewed at half of it; 30s..24h,
	// default 5m.
	COVLifetime Duration      `yaml:"cov_lifetime,omitempty" json:"cov_lifetime,omitempty"`
	Points      []BACnetPoint `yaml:"points,omitempty" json:"points,omitempty"`
}

// BACnetPoint is one property of one object of a device.
type BACnetPoint struct {
	Name string `yaml:"name" json:"name"` // unique within the device
	// Object is TYPE:INSTANCE, the type by name or number:
	// analog-input:1 or 0:1.
	Object string `yaml:"object" json:"object"`
	// Property by name or number; present-value when unset.
	Property string `yaml:"property,omitempty" json:"property,omitempty"`
	Writable bool   `yaml:"writable,omitempty" json:"writable,omitempty"`
	// Priority 1..16 is what writes command at (not 6, reserved for
	// minimum on/off); 0 leaves it to the device (16).
	Priority int `yaml:"priority,omitempty" json:"priority,omitempty"`
	// Unit overrides the units the device reports for the object.
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
	// COV overrides the device's cov for this point.
	COV       *bool `yaml:"cov,omitempty" json:"cov,omitempty"`
	Precision int   `yaml:"precision,omitempty" json:"precision,omitempty"` // significant digits shown, 1..17
}

// BACnetServe exposes one site point as an object of the gateway's Device.
type BACnetServe struct {
	// Point is DEVICE.POINT, of any protocol.
	Point string `yaml:"point" json:"point"`
	// Object is analog-value:N, binary-value:N or multi-state-value:N.
	Object string `yaml:"object" json:"object"`
	// Name is its object-name; default the point reference.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Writable lets BACnet clients command the object (a priority array);
	// each write is a confirmed, audited write of the site point.
	Writable bool `yaml:"writable,omitempty" json:"writable,omitempty"`
	// RelinquishDefault is written to the point when every priority is
	// relinquished. Without it the point itself is relinquished, which
	// only BACnet points can be.
	RelinquishDefault *float64 `yaml:"relinquish_default,omitempty" json:"relinquish_default,omitempty"`
	// Units of an analog-value (a BACnet units name or number); default
	// from the point's unit where it has a BACnet name, else no-units.
	Units string `yaml:"units,omitempty" json:"units,omitempty"`
	// COVIncrement of an analog-value: the change subscribers hear of
	// (0: any change).
	COVIncrement float64 `yaml:"cov_increment,omitempty" json:"cov_increment,omitempty"`
	// States of a multi-state-value (state-text; required there).
	States []string `yaml:"states,omitempty" json:"states,omitempty"`
}

// BACnet defaults and limits.
const (
	DefaultBACnetPort        = 47808
	DefaultBACnetInterval    = Duration(10 * time.Second)
	DefaultBACnetCOVLifetime = Duration(5 * time.Minute)
	DefaultBACnetAPDUTimeout = Duration(3 * time.Second)
	DefaultBACnetRetries     = 3
	DefaultBACnetBBMDTTL     = Duration(5 * time.Minute)
	DefaultMSTPBaud          = 38400
	DefaultMSTPMaxMaster     = 127
	DefaultMSTPMaxInfoFrames = 1
	// BACnetIPBus is the field layer's bus name of every BACnet/IP device.
	BACnetIPBus = "ip"
	// MaxBACnetInstance is the highest instance a device or object may
	// have: 4194303 is the standard's wildcard.
	MaxBACnetInstance = stack.MaxInstance - 1
	// MaxBACnetDevices bounds the devices of a site: each is one poller
	// and an entry the I-Am table keeps (node.DefaultMaxDevices is 2048).
	MaxBACnetDevices = 2000
	// MaxBACnetPoints bounds one device's points (field.MaxPointsPerDevice).
	MaxBACnetPoints = field.MaxPointsPerDevice
	// MaxBACnetServe bounds the served objects (node.MaxServedObjects).
	MaxBACnetServe = 10000
	// MaxBACnetStates bounds a multi-state-value's states.
	MaxBACnetStates = 64
	// MaxMSTPBuses bounds the MS/TP lines.
	MaxMSTPBuses = 8
)

var (
	bacnetIntervalRange    = [2]Duration{Duration(time.Second), Duration(24 * time.Hour)}
	bacnetLifetimeRange    = [2]Duration{Duration(30 * time.Second), Duration(24 * time.Hour)}
	bacnetAPDUTimeoutRange = [2]Duration{Duration(100 * time.Millisecond), Duration(30 * time.Second)}
	bacnetBBMDTTLRange     = [2]Duration{Duration(30 * time.Second), Duration(65535 * time.Second)}
	bacnetRetriesRange     = [2]int{0, 10}
	mstpBauds              = []int{9600, 19200, 38400, 57600, 76800, 115200}
)

// UsesIP reports whether the BACnet/IP port must open: an address or
// interface is given (an installer commissioning a site discovers its
// devices before any is in the site), something is served, or a device is
// not on an MS/TP bus.
func (b BACnet) UsesIP() bool {
	return b.Address != "" || b.Interface != "" || len(b.Serve) > 0 ||
		slices.ContainsFunc(b.Devices, func(d BACnetDevice) bool { return d.Bus == "" })
}

// EffectivePort returns the port, 47808 when unset.
func (b BACnet) EffectivePort() int {
	if b.Port == 0 {
		return DefaultBACnetPort
	}
	return b.Port
}

// EffectiveDeviceName returns the Device object's name.
func (b BACnet) EffectiveDeviceName() string {
	if b.DeviceName != "" {
		return b.DeviceName
	}
	if b.DeviceInstance == nil {
		return "sitegate"
	}
	return "sitegate-" + strconv.Itoa(*b.DeviceInstance)
}

// EffectiveAPDUTimeout returns the APDU timeout, 3s when unset.
func (b BACnet) EffectiveAPDUTimeout() Duration {
	if b.APDUTimeout == 0 {
		return DefaultBACnetAPDUTimeout
	}
	return b.APDUTimeout
}

// EffectiveRetries returns the retries, 3 when unset.
func (b BACnet) EffectiveRetries() int {
	if b.Retries == nil {
		return DefaultBACnetRetries
	}
	return *b.Retries
}

// EffectiveBBMDTTL returns the foreign-device TTL, 5m when unset.
func (b BACnet) EffectiveBBMDTTL() Duration {
	if b.BBMDTTL == 0 {
		return DefaultBACnetBBMDTTL
	}
	return b.BBMDTTL
}

// FindMSTP returns the MS/TP bus called name.
func (b BACnet) FindMSTP(name string) (MSTPBus, bool) {
	i := slices.IndexFunc(b.MSTP, func(m MSTPBus) bool { return m.Name == name })
	if i < 0 {
		return MSTPBus{}, false
	}
	return b.MSTP[i], true
}

// FindDevice returns the BACnet device called name.
func (b BACnet) FindDevice(name string) (BACnetDevice, bool) {
	i := slices.IndexFunc(b.Devices, func(d BACnetDevice) bool { return d.Name == name })
	if i < 0 {
		return BACnetDevice{}, false
	}
	return b.Devices[i], true
}

// EffectiveBaud returns the baud rate, 38400 when unset.
func (m MSTPBus) EffectiveBaud() int {
	if m.Baud == 0 {
		return DefaultMSTPBaud
	}
	return m.Baud
}

// EffectiveMaxMaster returns max_master, 127 when unset.
func (m MSTPBus) EffectiveMaxMaster() int {
	if m.MaxMaster == 0 {
		return DefaultMSTPMaxMaster
	}
	return m.MaxMaster
}

// EffectiveMaxInfoFrames returns max_info_frames, 1 when unset.
func (m MSTPBus) EffectiveMaxInfoFrames() int {
	if m.MaxInfoFrames == 0 {
		return DefaultMSTPMaxInfoFrames
	}
	return m.MaxInfoFrames
}

// FieldBus is the field layer's bus of the device: its MS/TP bus, or
// BACnetIPBus.
func (d BACnetDevice) FieldBus() string {
	if d.Bus != "" {
		return d.Bus
	}
	return BACnetIPBus
}

// EffectiveInterval returns the poll period, 10s when unset.
func (d BACnetDevice) EffectiveInterval() Duration {
	if d.Interval == 0 {
		return DefaultBACnetInterval
	}
	return d.Interval
}

// EffectiveCOVLifetime returns the subscription lifetime, 5m when unset.
func (d BACnetDevice) EffectiveCOVLifetime() Duration {
	if d.COVLifetime == 0 {
		return DefaultBACnetCOVLifetime
	}
	return d.COVLifetime
}

// UsesCOV reports whether point p of d is to be subscribed to.
func (d BACnetDevice) UsesCOV(p BACnetPoint) bool {
	if p.COV != nil {
		return *p.COV
	}
	return d.COV && p.EffectiveProperty() == "present-value"
}

// ObjectID returns the point's object; ok false when Object is invalid
// (Validate reports it).
func (p BACnetPoint) ObjectID() (stack.ObjectID, bool) {
	o, err := stack.ParseObjectID(p.Object)
	return o, err == nil
}

// PropertyID returns the point's property (present-value when unset).
func (p BACnetPoint) PropertyID() (stack.PropertyID, bool) {
	id, err := stack.ParsePropertyID(p.EffectiveProperty())
	return id, err == nil
}

// EffectiveProperty returns the property as written, present-value when
// unset.
func (p BACnetPoint) EffectiveProperty() string {
	if p.Property == "" {
		return "present-value"
	}
	return p.Property
}

// ObjectID returns the served object; ok false when Object is invalid.
func (s BACnetServe) ObjectID() (stack.ObjectID, bool) {
	o, err := stack.ParseObjectID(s.Object)
	return o, err == nil
}

// EffectiveName returns the object-name, the point reference when unset.
func (s BACnetServe) EffectiveName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Point
}

// ResolvePoint splits a DEVICE.POINT reference against the site's field
// devices. Device and point names may both hold dots, so every split is
// tried; ok is false unless exactly one names a device of the site that
// has (or, naming its own points, may have) that point.
func (s *Site) ResolvePoint(ref string) (device, point string, ok bool) {
	n := 0
	devices := s.FieldDevices()
	for i := 0; i < len(ref); i++ {
		if ref[i] != '.' {
			continue
		}
		d, p := ref[:i], ref[i+1:]
		j := slices.IndexFunc(devices, func(x field.DeviceInfo) bool { return x.Name == d })
		if j < 0 || p == "" {
			continue
		}
		if devices[j].DynamicPoints || slices.ContainsFunc(devices[j].Points, func(x field.PointInfo) bool { return x.Name == p }) {
			device, point = d, p
			n++
		}
	}
	return device, point, n == 1
}

func (b *BACnet) applyDefaults() {
	for i := range b.Devices {
		if b.Devices[i].Interval == 0 {
			b.Devices[i].Interval = DefaultBACnetInterval
		}
	}
}

func (b BACnet) clone() BACnet {
	b.DeviceInstance = clonePtr(b.DeviceInstance)
	b.Retries = clonePtr(b.Retries)
	b.MSTP = cloneSlice(b.MSTP)
	for i := range b.MSTP {
		b.MSTP[i].MAC = clonePtr(b.MSTP[i].MAC)
	}
	b.Devices = cloneSlice(b.Devices)
	for i := range b.Devices {
		d := &b.Devices[i]
		d.Instance, d.MAC = clonePtr(d.Instance), clonePtr(d.MAC)
		d.Points = cloneSlice(d.Points)
		for j := range d.Points {
			d.Points[j].COV = clonePtr(d.Points[j].COV)
		}
	}
	b.Serve = cloneSlice(b.Serve)
	for i := range b.Serve {
		b.Serve[i].RelinquishDefault = clonePtr(b.Serve[i].RelinquishDefault)
		b.Serve[i].States = cloneSlice(b.Serve[i].States)
	}
	return b
}

// fieldDevices returns the BACnet devices as the field layer sees them.
func (b BACnet) fieldDevices() []field.DeviceInfo {
	out := make([]field.DeviceInfo, 0, len(b.Devices))
	for _, d := range b.Devices {
		info := field.DeviceInfo{Name: d.Name, Protocol: field.BACnet, Bus: d.FieldBus()}
		for _, p := range d.Points {
			info.Points = append(info.Points, field.PointInfo{Name: p.Name, Unit: p.Unit, Writable: p.Writable, Precision: p.Precision})
		}
		out = append(out, info)
	}
	return out
}

// validateBACnet checks the bacnet section; s is the whole site, for the
// points bacnet.serve names and the serial lines Modbus uses.
func (s *Site) validateBACnet(v *problems) {
	b := &s.BACnet
	const path = "bacnet"
	usesIP := b.UsesIP()
	b.validateBinding(v, path, usesIP)
	if b.DeviceInstance != nil {
		checkInt(v, joinPath(path, "device_instance"), *b.DeviceInstance, [2]int{0, MaxBACnetInstance})
	} else if usesIP {
		v.add(joinPath(path, "device_instance"), "is required with BACnet/IP: the gateway's own Device object (0..%d, unique on the BACnet network, e.g. 4000001)", MaxBACnetInstance)
	}
	if b.DeviceName != "" {
		checkText(v, joinPath(path, "device_name"), b.DeviceName, MaxNameLength, true)
	}
	if b.BBMD != "" {
		if _, err := ParseBACnetAddress(b.BBMD); err != nil {
			v.add(joinPath(path, "bbmd"), "%s", err)
		}
	}
	if b.BBMDTTL != 0 {
		checkDuration(v, joinPath(path, "bbmd_ttl"), b.BBMDTTL, bacnetBBMDTTLRange)
		if b.BBMD == "" {
			v.add(joinPath(path, "bbmd_ttl"), "applies only with bbmd; remove it or name the BBMD")
		}
	}
	if b.APDUTimeout != 0 {
		checkDuration(v, joinPath(path, "apdu_timeout"), b.APDUTimeout, bacnetAPDUTimeoutRange)
	}
	if b.Retries != nil {
		checkInt(v, joinPath(path, "retries"), *b.Retries, bacnetRetriesRange)
	}

	buses := s.validateMSTP(v, path)
	b.validateDevices(v, path, buses)
	s.validateServe(v, path)
}

// validateBinding checks where the BACnet/IP port opens.
func (b *BACnet) validateBinding(v *problems, path string, usesIP bool) {
	addr := joinPath(path, "address")
	switch {
	case b.Address != "" && b.Interface != "":
		v.add(addr, "is set together with interface; give one of them")
	case b.Address != "":
		a, err := netip.ParseAddr(b.Address)
		switch {
		case err != nil || !a.Is4():
			v.add(addr, "%q is not an IPv4 address (BACnet/IP is IPv4; the port is set with port:)", b.Address)
		case a.IsUnspecified():
			v.add(addr, "%s would open the BACnet port on every interface; give the address of the interface the controllers are on (README requirement 13)", b.Address)
		case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			v.add(addr, "%s is not a unicast address; give the gateway's own address on the BACnet network", b.Address)
		}
	case b.Interface != "":
		checkInterface(v, joinPath(path, "interface"), b.Interface)
	case usesIP:
		v.add(addr, "is required once BACnet/IP is used (serve, or a device not on an MS/TP bus): give address (e.g. 192.168.10.5) or interface (e.g. eth0); the port opens there only")
	}
	if b.Port != 0 {
		checkInt(v, joinPath(path, "port"), b.Port, [2]int{1, 65535})
	}
	if b.Broadcast != "" {
		a, err := netip.ParseAddr(b.Broadcast)
		if err != nil || !a.Is4() || a.IsUnspecified() {
			v.add(joinPath(path, "broadcast"), "%q is not an IPv4 address (the subnet's broadcast address, e.g. 192.168.10.255)", b.Broadcast)
		}
	}
}

// validateMSTP checks the MS/TP buses and returns their names.
func (s *Site) validateMSTP(v *problems, path string) map[string]int {
	b := &s.BACnet
	names := map[string]int{}
	lines := map[string]string{}
	for i, bus := range s.Modbus.Buses {
		if bus.Kind == BusRTU && bus.Device != "" {
			lines[bus.Device] = pathf("modbus.buses[%d]", i)
		}
	}
	if len(b.MSTP) > MaxMSTPBuses {
		v.add(joinPath(path, "mstp"), "has %d buses; at most %d are allowed", len(b.MSTP), MaxMSTPBuses)
	}
	for i, m := range b.MSTP {
		p := pathf("%s.mstp[%d]", path, i)
		if checkName(v, joinPath(p, "name"), m.Name) {
			if j, dup := names[m.Name]; dup {
				v.add(joinPath(p, "name"), "bus %q is already defined at mstp[%d]", m.Name, j)
			} else {
				if m.Name == BACnetIPBus {
					v.add(joinPath(p, "name"), "%q names the gateway's BACnet/IP network; call the MS/TP bus something else (e.g. mstp-1)", m.Name)
				}
				names[m.Name] = i
			}
		}
		dev := joinPath(p, "device")
		switch {
		case m.Device == "":
			v.add(dev, "is required (the serial port, e.g. /dev/ttyS2)")
		case !strings.HasPrefix(m.Device, "/") || firstBad(m.Device, func(r rune) bool { return r > ' ' && r != 0x7f }) >= 0:
			v.add(dev, "%q is not an absolute device path (e.g. /dev/ttyS2 or /dev/ttyUSB0)", m.Device)
		default:
			if other, used := lines[m.Device]; used {
				v.add(dev, "%s is already the serial line of %s; one line carries one protocol", m.Device, other)
			} else {
				lines[m.Device] = p
			}
		}
		if m.Baud != 0 && !slices.Contains(mstpBauds, m.Baud) {
			v.add(joinPath(p, "baud"), "%d is not an MS/TP rate (%s)", m.Baud, joinInts(mstpBauds))
		}
		mac := -1
		if m.MAC == nil {
			v.add(joinPath(p, "mac"), "is required: the gateway's station address on this line, 0..127")
		} else if checkInt(v, joinPath(p, "mac"), *m.MAC, [2]int{0, 127}) {
			mac = *m.MAC
		}
		if m.MaxMaster != 0 && checkInt(v, joinPath(p, "max_master"), m.MaxMaster, [2]int{1, 127}) && mac > m.MaxMaster {
			v.add(joinPath(p, "max_master"), "%d is below the gateway's own mac %d; the token would never come back", m.MaxMaster, mac)
		}
		if m.MaxInfoFrames != 0 {
			checkInt(v, joinPath(p, "max_info_frames"), m.MaxInfoFrames, [2]int{1, 100})
		}
	}
	return names
}

func (b *BACnet) validateDevices(v *problems, path string, buses map[string]int) {
	if len(b.Devices) > MaxBACnetDevices {
		v.add(joinPath(path, "devices"), "has %d devices; at most %d are allowed", len(b.Devices), MaxBACnetDevices)
	}
	var busNames []string
	for _, m := range b.MSTP {
		busNames = append(busNames, m.Name)
	}
	names := map[string]int{}
	instances := map[int]int{}
	for i := range b.Devices {
		d := &b.Devices[i]
		p := pathf("%s.devices[%d]", path, i)
		checkUniqueName(v, p, "device", "devices", d.Name, i, names)
		inst := joinPath(p, "instance")
		switch {
		case d.Instance == nil:
			v.add(inst, "is required: the device's Device object instance, 0..%d (bacnet discover lists them)", MaxBACnetInstance)
		case checkInt(v, inst, *d.Instance, [2]int{0, MaxBACnetInstance}):
			if j, dup := instances[*d.Instance]; dup {
				v.add(inst, "%d is already the instance of devices[%d]; an instance names one device on a BACnet network", *d.Instance, j)
			} else {
				instances[*d.Instance] = i
			}
			if b.DeviceInstance != nil && *b.DeviceInstance == *d.Instance {
				v.add(inst, "%d is the gateway's own device_instance", *d.Instance)
			}
		}
		d.validateLink(v, p, buses, busNames)
		checkDuration(v, joinPath(p, "interval"), d.Interval, bacnetIntervalRange)
		if d.COVLifetime != 0 {
			checkDuration(v, joinPath(p, "cov_lifetime"), d.COVLifetime, bacnetLifetimeRange)
		}
		switch {
		case len(d.Points) == 0:
			v.add(joinPath(p, "points"), "the device has no points: list them ({name: supply, object: analog-input:1}); bacnet objects %s lists what it has", d.Name)
		case len(d.Points) > MaxBACnetPoints:
			v.add(joinPath(p, "points"), "has %d points; at most %d are allowed", len(d.Points), MaxBACnetPoints)
		}
		seen := map[string]int{}
		for j := range d.Points {
			d.Points[j].validate(v, pathf("%s.points[%d]", p, j), j, seen)
		}
	}
}

// validateLink checks how the device is reached: BACnet/IP (address
// optional), behind a router (network, address, mac), or MS/TP (bus, mac
// optional).
func (d *BACnetDevice) validateLink(v *problems, p string, buses map[string]int, busNames []string) {
	if d.Address != "" {
		if _, err := ParseBACnetAddress(d.Address); err != nil {
			v.add(joinPath(p, "address"), "%s", err)
		}
	}
	switch {
	case d.Bus != "":
		if _, ok := buses[d.Bus]; !ok {
			v.add(joinPath(p, "bus"), "unknown MS/TP bus %q (%s)%s", d.Bus, knownList(busNames, "no mstp buses are defined"), didYouMean(d.Bus, busNames))
		}
		if d.Address != "" {
			v.add(joinPath(p, "address"), "applies to BACnet/IP devices only; an MS/TP device is reached by bus and mac")
		}
		if d.Network != 0 {
			v.add(joinPath(p, "network"), "applies to devices behind a BACnet/IP router; remove bus, or remove network")
		}
		if d.MAC != nil {
			checkInt(v, joinPath(p, "mac"), *d.MAC, [2]int{0, 127})
		}
	case d.Network != 0:
		checkInt(v, joinPath(p, "network"), d.Network, [2]int{1, 65534})
		if d.Address == "" {
			v.add(joinPath(p, "address"), "is required with network: the address of the BACnet router to network %d", d.Network)
		}
		if d.MAC == nil {
			v.add(joinPath(p, "mac"), "is required with network: the device's station address on network %d, 0..254", d.Network)
		} else {
			checkInt(v, joinPath(p, "mac"), *d.MAC, [2]int{0, 254})
		}
	case d.MAC != nil:
		v.add(joinPath(p, "mac"), "applies to MS/TP devices (bus) and devices behind a router (network); a BACnet/IP device has an address")
	}
}

func (pt *BACnetPoint) validate(v *problems, p string, i int, seen map[string]int) {
	checkUniqueName(v, p, "point", "points", pt.Name, i, seen)
	obj, objOK := checkObject(v, joinPath(p, "object"), pt.Object, "e.g. analog-input:1 or 0:1")
	prop, err := stack.ParsePropertyID(pt.EffectiveProperty())
	propOK := err == nil
	switch {
	case !propOK:
		v.add(joinPath(p, "property"), "unknown property %q (a name such as present-value, or a number)", pt.Property)
	case prop == stack.PropAll || prop == stack.PropRequired || prop == stack.PropOptional:
		v.add(joinPath(p, "property"), "%s stands for many properties; a point reads one (e.g. present-value)", prop)
		propOK = false
	}
	isPV := propOK && prop == stack.PropPresentValue
	if pt.Priority != 0 {
		switch {
		case pt.Priority < 1 || pt.Priority > 16:
			v.add(joinPath(p, "priority"), "%d is outside 1..16", pt.Priority)
		case pt.Priority == 6:
			v.add(joinPath(p, "priority"), "6 is reserved for the minimum on/off algorithm (ASHRAE 135 clause 19.2.1.1); use 8 (manual operator) or another")
		case !pt.Writable:
			v.add(joinPath(p, "priority"), "applies to writable points only; set writable: true or remove it")
		case propOK && !isPV:
			v.add(joinPath(p, "priority"), "commands present-value only; %s has no priority array", prop)
		}
	}
	if pt.Writable && objOK && obj.Type == stack.ObjectDevice && propOK && prop == stack.PropObjectList {
		v.add(joinPath(p, "writable"), "the object-list is written by the device itself")
	}
	if pt.COV != nil && *pt.COV && propOK && !isPV {
		v.add(joinPath(p, "cov"), "COV reports present-value and status-flags only; %s is polled", prop)
	}
	if pt.Unit != "" {
		checkText(v, joinPath(p, "unit"), pt.Unit, MaxUnitLength, false)
	}
	if pt.Precision != 0 {
		checkInt(v, joinPath(p, "precision"), pt.Precision, [2]int{1, 17})
	}
}

// checkObject checks a TYPE:INSTANCE object reference.
func checkObject(v *problems, path, s, example string) (stack.ObjectID, bool) {
	if s == "" {
		v.add(path, "is required (TYPE:INSTANCE, %s)", example)
		return stack.ObjectID{}, false
	}
	o, err := stack.ParseObjectID(s)
	if err != nil {
		t, _, _ := strings.Cut(s, ":")
		if _, terr := stack.ParseObjectType(t); terr != nil && strings.Contains(s, ":") {
			v.add(path, "unknown object type %q in %q (a name such as analog-input, binary-value, multi-state-value, or its number)", t, s)
		} else {
			v.add(path, "%q is not TYPE:INSTANCE with an instance 0..%d (%s)", s, MaxBACnetInstance, example)
		}
		return o, false
	}
	if o.Instance > MaxBACnetInstance {
		v.add(path, "instance %d is the wildcard; give the object's own instance 0..%d", o.Instance, MaxBACnetInstance)
		return o, false
	}
	return o, true
}

func (s *Site) validateServe(v *problems, path string) {
	b := &s.BACnet
	if len(b.Serve) > MaxBACnetServe {
		v.add(joinPath(path, "serve"), "has %d objects; at most %d are served", len(b.Serve), MaxBACnetServe)
	}
	objects := map[stack.ObjectID]int{}
	names := map[string]int{}
	devices := s.FieldDevices()
	for i := range b.Serve {
		sv := &b.Serve[i]
		p := pathf("%s.serve[%d]", path, i)
		dev, pt, ok := s.ResolvePoint(sv.Point)
		var info *field.PointInfo
		var proto field.Protocol
		switch {
		case sv.Point == "":
			v.add(joinPath(p, "point"), "is required: DEVICE.POINT of any protocol, e.g. main-meter.active_power_total")
		case !ok:
			v.add(joinPath(p, "point"), "%q names no point of the site (write DEVICE.POINT, e.g. main-meter.active_power_total)", sv.Point)
		default:
			d := devices[slices.IndexFunc(devices, func(x field.DeviceInfo) bool { return x.Name == dev })]
			proto = d.Protocol
			if j := slices.IndexFunc(d.Points, func(x field.PointInfo) bool { return x.Name == pt }); j >= 0 {
				info = &d.Points[j]
			}
		}
		obj, objOK := checkObject(v, joinPath(p, "object"), sv.Object, "e.g. analog-value:1")
		if objOK {
			switch obj.Type {
			case stack.ObjectAnalogValue, stack.ObjectBinaryValue, stack.ObjectMultiStateValue:
				if j, dup := objects[obj]; dup {
					v.add(joinPath(p, "object"), "%s is already served at serve[%d]", obj, j)
				} else {
					objects[obj] = i
				}
			default:
				v.add(joinPath(p, "object"), "%s: the gateway serves analog-value, binary-value and multi-state-value objects", obj)
				objOK = false
			}
		}
		name := sv.EffectiveName()
		np := joinPath(p, "name")
		switch {
		case sv.Name != "" && !checkNameText(v, np, sv.Name):
		case name == b.EffectiveDeviceName():
			v.add(np, "%q is the gateway's Device object's name; object names are unique within a device", name)
		default:
			if j, dup := names[name]; dup && name != "" {
				v.add(np, "object name %q is already used by serve[%d]", name, j)
			} else {
				names[name] = i
			}
		}
		if sv.Writable && info != nil && !info.Writable {
			v.add(joinPath(p, "writable"), "point %s is read-only in the site; make it writable there first", sv.Point)
		}
		if sv.RelinquishDefault != nil {
			f := *sv.RelinquishDefault
			switch {
			case !sv.Writable:
				v.add(joinPath(p, "relinquish_default"), "applies to writable objects only")
			case math.IsNaN(f) || math.IsInf(f, 0):
				v.add(joinPath(p, "relinquish_default"), "must be a finite number")
			}
		} else if sv.Writable && ok && proto != field.BACnet {
			v.add(joinPath(p, "relinquish_default"), "is required for a writable %s point: %s has no relinquish, so say what the point gets when every BACnet priority is released", proto, proto)
		}
		analog := objOK && obj.Type == stack.ObjectAnalogValue
		multi := objOK && obj.Type == stack.ObjectMultiStateValue
		if sv.Units != "" {
			if _, err := stack.ParseUnits(sv.Units); err != nil {
				v.add(joinPath(p, "units"), "unknown BACnet units %q (a name such as degrees-celsius or kilowatts, or a number)", sv.Units)
			} else if objOK && !analog {
				v.add(joinPath(p, "units"), "applies to analog-value objects only")
			}
		}
		if sv.COVIncrement != 0 {
			switch {
			case sv.COVIncrement < 0 || math.IsNaN(sv.COVIncrement) || math.IsInf(sv.COVIncrement, 0):
				v.add(joinPath(p, "cov_increment"), "must be a finite number 0 or more (0: every change)")
			case objOK && !analog:
				v.add(joinPath(p, "cov_increment"), "applies to analog-value objects only (binary and multi-state values notify every change)")
			}
		}
		switch {
		case multi && len(sv.States) == 0:
			v.add(joinPath(p, "states"), "is required for a multi-state-value: the text of each state, from 1 (e.g. [off, low, high])")
		case len(sv.States) > 0 && objOK && !multi:
			v.add(joinPath(p, "states"), "applies to multi-state-value objects only")
		case len(sv.States) > MaxBACnetStates:
			v.add(joinPath(p, "states"), "has %d states; at most %d are allowed", len(sv.States), MaxBACnetStates)
		}
		for j, st := range sv.States {
			checkText(v, pathf("%s.states[%d]", p, j), st, MaxNameLength, true)
		}
	}
}

// checkNameText checks a free-text object name and says whether it is
// valid.
func checkNameText(v *problems, path, s string) bool {
	n := len(v.list)
	checkText(v, path, s, MaxNameLength, true)
	return len(v.list) == n
}

// ErrBACnetAddress means a BACnet/IP address is not IPv4[:port].
var ErrBACnetAddress = errors.New("not a BACnet/IP address")

// ParseBACnetAddress parses a BACnet/IP address, "192.168.10.30:47808" or
// "192.168.10.30" (port 47808).
func ParseBACnetAddress(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, err2 := netip.ParseAddr(s)
		if err2 != nil {
			return netip.AddrPort{}, fmtBACnetAddr(s, "is not IPv4 or IPv4:PORT, e.g. 192.168.10.30:47808")
		}
		ap = netip.AddrPortFrom(a, DefaultBACnetPort)
	}
	switch a := ap.Addr(); {
	case !a.Is4():
		return netip.AddrPort{}, fmtBACnetAddr(s, "is not IPv4 (BACnet/IP is IPv4 only)")
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.AddrPort{}, fmtBACnetAddr(s, "is not a device's unicast address")
	case ap.Port() == 0:
		return netip.AddrPort{}, fmtBACnetAddr(s, "has port 0; leave the port out for 47808")
	}
	return ap, nil
}

func fmtBACnetAddr(s, why string) error {
	return &bacnetAddrError{s: s, why: why}
}

type bacnetAddrError struct{ s, why string }

func (e *bacnetAddrError) Error() string { return strconv.Quote(e.s) + " " + e.why }
func (e *bacnetAddrError) Unwrap() error { return ErrBACnetAddress }

// styleBACnet writes the section's small records (MS/TP buses, points,
// served objects, devices without points) on one line each, as
// testdata/sites/full.yaml does.
func styleBACnet(root *yaml.Node) {
	b := mapValue(root, "bacnet")
	var flow []*yaml.Node
	flow = append(flow, seqItems(mapValue(b, "mstp"))...)
	flow = append(flow, seqItems(mapValue(b, "serve"))...)
	for _, dev := range seqItems(mapValue(b, "devices")) {
		flow = append(flow, seqItems(mapValue(dev, "points"))...)
	}
	for _, n := range flow {
		n.Style = yaml.FlowStyle
	}
}
