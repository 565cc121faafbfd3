package device

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora/payload"
)

// The LoRaWAN part of the site: the mode, the packet forwarder's address,
// the embedded network server's devices and the payload codecs. The LoRa
// struct itself is in site.go, with the rest of the site.

// LoRaMode is what the gateway does with the frames its packet forwarder
// hands it.
type LoRaMode uint8

// LoRa modes. The zero value means "not set"; ApplyDefaults makes it
// forward, what a lora section meant before the embedded network server.
const (
	LoRaForward  LoRaMode = iota + 1 // to lora.network_server, unchanged
	LoRaEmbedded                     // to the gateway's own network server
)

var loraModes = enumDef[LoRaMode]{"LoRaMode", "lora mode", []string{"", "forward", "embedded"}}

// ParseLoRaMode returns the mode called s (forward, embedded; any case).
func ParseLoRaMode(s string) (LoRaMode, error) { return loraModes.parse(s) }

// String returns the mode's name as written in site files.
func (m LoRaMode) String() string { return loraModes.name(m) }

// MarshalText encodes the mode by name.
func (m LoRaMode) MarshalText() ([]byte, error) { return loraModes.marshal(m) }

// UnmarshalText decodes a mode name; empty text means "not set".
func (m *LoRaMode) UnmarshalText(text []byte) error { return loraModes.unmarshal(text, m) }

// LoRaActivation is how a LoRaWAN device gets its session.
type LoRaActivation uint8

// Activations. The zero value means "not set" (a device needs one).
const (
	ActivationOTAA LoRaActivation = iota + 1 // joins over the air with its AppKey
	ActivationABP                            // session keys written in the site
)

var loraActivations = enumDef[LoRaActivation]{"LoRaActivation", "activation", []string{"", "otaa", "abp"}}

// ParseLoRaActivation returns the activation called s (otaa, abp).
func ParseLoRaActivation(s string) (LoRaActivation, error) { return loraActivations.parse(s) }

// String returns the activation's name as written in site files.
func (a LoRaActivation) String() string { return loraActivations.name(a) }

// MarshalText encodes the activation by name.
func (a LoRaActivation) MarshalText() ([]byte, error) { return loraActivations.marshal(a) }

// UnmarshalText decodes an activation name; empty text means "not set".
func (a *LoRaActivation) UnmarshalText(text []byte) error {
	return loraActivations.unmarshal(text, a)
}

// LoRaClass is a LoRaWAN device class. Only class A is served: the
// embedded network server answers in the two windows after each uplink.
type LoRaClass uint8

// Classes. The zero value means "not set"; ApplyDefaults makes it A.
const (
	ClassA LoRaClass = iota + 1
)

var loraClasses = enumDef[LoRaClass]{"LoRaClass", "LoRaWAN class (only class A is supported)", []string{"", "A"}}

// ParseLoRaClass returns the class called s (A; any case).
func ParseLoRaClass(s string) (LoRaClass, error) { return loraClasses.parse(s) }

// String returns the class's name as written in site files.
func (c LoRaClass) String() string { return loraClasses.name(c) }

// MarshalText encodes the class by name.
func (c LoRaClass) MarshalText() ([]byte, error) { return loraClasses.marshal(c) }

// UnmarshalText decodes a class name; empty text means "not set".
func (c *LoRaClass) UnmarshalText(text []byte) error { return loraClasses.unmarshal(text, c) }

// LoRaDevice is one LoRaWAN end device of the embedded network server.
// DevEUI, JoinEUI and DevAddr are hex as printed on labels (big-endian);
// the keys are 32 hex digits and secrets: never exported, shown or
// logged.
type LoRaDevice struct {
	Name       string         `yaml:"name" json:"name"`       // 1..64 of letters, digits, '_', '.', '-'; unique across the site
	DevEUI     string         `yaml:"dev_eui" json:"dev_eui"` // 16 hex digits; unique among lora devices
	Activation LoRaActivation `yaml:"activation" json:"activation"`
	JoinEUI    string         `yaml:"join_eui,omitempty" json:"join_eui,omitempty"` // otaa: 16 hex digits (AppEUI in LoRaWAN 1.0)
	AppKey     Secret         `yaml:"app_key,omitempty" json:"app_key,omitempty"`   // otaa: 32 hex digits
	DevAddr    string         `yaml:"dev_addr,omitempty" json:"dev_addr,omitempty"` // abp: 8 hex digits
	NwkSKey    Secret         `yaml:"nwk_s_key,omitempty" json:"nwk_s_key,omitempty"`
	AppSKey    Secret         `yaml:"app_s_key,omitempty" json:"app_s_key,omitempty"`
	Class      LoRaClass      `yaml:"class,omitempty" json:"class,omitempty"` // A (the default)
	// Codec turns the device's payloads into readings: cayenne-lpp (the
	// default) or the name of one of lora.codecs.
	Codec string `yaml:"codec,omitempty" json:"codec,omitempty"`
	// Interval is how often the device is expected to send; a device
	// silent for several intervals is degraded, then offline (see package
	// device/lora). 10s..24h, default 10m.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
}

// LoRaCodec is a declarative payload codec: each field a number at a
// byte offset, with a type, a byte order, a scale and an offset; each
// downlink a number the gateway may write to the device on a port of its
// own.
type LoRaCodec struct {
	Name      string             `yaml:"name" json:"name"` // unique among codecs; not cayenne-lpp
	Fields    []payload.Field    `yaml:"fields" json:"fields"`
	Downlinks []payload.Downlink `yaml:"downlinks,omitempty" json:"downlinks,omitempty"`
}

// LoRa defaults filled in by ApplyDefaults.
const (
	// DefaultPacketForwarder is where the packet forwarder of the
	// gateway's own concentrator sends: Semtech's port, on loopback.
	DefaultPacketForwarder = "127.0.0.1:1700"
	// DefaultLoRaInterval is the uplink interval expected of a device
	// that names none: a common building sensor reports every 10 minutes.
	DefaultLoRaInterval = Duration(10 * time.Minute)
	// MaxLoRaDevices bounds the devices of the embedded network server.
	MaxLoRaDevices = 10000
	// MaxLoRaCodecs bounds the declarative codecs of a site.
	MaxLoRaCodecs = 64
)

var loraIntervalRange = [2]Duration{Duration(10 * time.Second), Duration(24 * time.Hour)}

// CodecName returns the device's codec, cayenne-lpp when none is named.
func (d LoRaDevice) CodecName() string {
	if d.Codec == "" {
		return payload.CayenneLPPName
	}
	return d.Codec
}

// FindCodec returns the declarative codec called name.
func (l LoRa) FindCodec(name string) (LoRaCodec, bool) {
	i := slices.IndexFunc(l.Codecs, func(c LoRaCodec) bool { return c.Name == name })
	if i < 0 {
		return LoRaCodec{}, false
	}
	return l.Codecs[i], true
}

// EffectiveMode returns the mode, forward when unset.
func (l LoRa) EffectiveMode() LoRaMode {
	if l.Mode == 0 {
		return LoRaForward
	}
	return l.Mode
}

// EffectivePacketForwarder returns the packet forwarder's address,
// DefaultPacketForwarder when unset.
func (l LoRa) EffectivePacketForwarder() string {
	if l.PacketForwarder == "" {
		return DefaultPacketForwarder
	}
	return l.PacketForwarder
}

// Running reports whether the site runs the packet forwarder server:
// enabled, and not disabled for good.
func (l LoRa) Running() bool { return l.Enabled && !l.PermanentlyDisabled }

func (l *LoRa) applyDefaults() {
	if l.Mode == 0 {
		l.Mode = LoRaForward
	}
	if l.PacketForwarder == "" {
		l.PacketForwarder = DefaultPacketForwarder
	}
	for i := range l.Devices {
		d := &l.Devices[i]
		if d.Class == 0 {
			d.Class = ClassA
		}
		if d.Codec == "" {
			d.Codec = payload.CayenneLPPName
		}
		if d.Interval == 0 {
			d.Interval = DefaultLoRaInterval
		}
	}
}

func (l LoRa) clone() LoRa {
	l.Devices = cloneSlice(l.Devices)
	l.Codecs = cloneSlice(l.Codecs)
	for i := range l.Codecs {
		l.Codecs[i].Fields = cloneSlice(l.Codecs[i].Fields)
		l.Codecs[i].Downlinks = cloneSlice(l.Codecs[i].Downlinks)
	}
	return l
}

func (l *LoRa) redact() {
	for i := range l.Devices {
		d := &l.Devices[i]
		d.AppKey, d.NwkSKey, d.AppSKey = redactSecret(d.AppKey), redactSecret(d.NwkSKey), redactSecret(d.AppSKey)
	}
}

func (l LoRa) hasPlaceholders() bool {
	return slices.ContainsFunc(l.Devices, func(d LoRaDevice) bool {
		return d.AppKey.IsPlaceholder() || d.NwkSKey.IsPlaceholder() || d.AppSKey.IsPlaceholder()
	})
}

// keepSecrets resolves the placeholders of the devices' keys from stored,
// matching devices by DevEUI (a device keeps its keys when renamed), and
// returns the resolved devices; problems go to v. l is not changed.
func (l LoRa) keepSecrets(stored *Site, v *problems, msg string) []LoRaDevice {
	out := cloneSlice(l.Devices)
	for i := range out {
		d := &out[i]
		var old *LoRaDevice
		if stored != nil {
			for j := range stored.LoRa.Devices {
				if strings.EqualFold(stored.LoRa.Devices[j].DevEUI, d.DevEUI) {
					old = &stored.LoRa.Devices[j]
					break
				}
			}
		}
		keep := func(key string, s *Secret, have func(*LoRaDevice) Secret) {
			if !s.IsPlaceholder() {
				return
			}
			if old == nil || !have(old).IsSet() || have(old).IsPlaceholder() {
				v.add(pathf("lora.devices[%d].%s", i, key), "%s", msg)
				return
			}
			*s = have(old)
		}
		keep("app_key", &d.AppKey, func(o *LoRaDevice) Secret { return o.AppKey })
		keep("nwk_s_key", &d.NwkSKey, func(o *LoRaDevice) Secret { return o.NwkSKey })
		keep("app_s_key", &d.AppSKey, func(o *LoRaDevice) Secret { return o.AppSKey })
	}
	return out
}

// validateLoRa checks what the mode, the packet forwarder, the devices
// and the codecs add to the lora section (validate.go checks the rest).
func (l *LoRa) validateLoRa(v *problems, path string) {
	if l.Mode != 0 && !loraModes.known(l.Mode) {
		v.add(joinPath(path, "mode"), "%s is not a lora mode (valid: %s)", describeEnum(loraModes, l.Mode), loraModes.valid())
	}
	if l.PacketForwarder != "" {
		if msg := packetForwarderProblem(l.PacketForwarder, l.AllowRemoteForwarder); msg != "" {
			v.add(joinPath(path, "packet_forwarder"), "%s", msg)
		}
	}
	if l.Enabled && l.EffectiveMode() == LoRaEmbedded && loraRegions.known(l.Region) && l.Region != RegionEU868 {
		v.add(joinPath(path, "region"), "the embedded network server serves EU868 only; use mode: forward with a network server for %s", l.Region)
	}
	if l.EffectiveMode() == LoRaForward && l.NetworkServer != "" && l.NetworkServer == l.EffectivePacketForwarder() {
		v.add(joinPath(path, "network_server"), "%s is the packet forwarder's own address: frames would be sent back to the gateway; name the remote network server", l.NetworkServer)
	}

	codecs := []string{payload.CayenneLPPName}
	codecIndex := map[string]int{}
	if len(l.Codecs) > MaxLoRaCodecs {
		v.add(joinPath(path, "codecs"), "has %d codecs; at most %d are allowed", len(l.Codecs), MaxLoRaCodecs)
	}
	for i, c := range l.Codecs {
		p := pathf("%s.codecs[%d]", path, i)
		switch j, dup := codecIndex[c.Name]; {
		case c.Name == payload.CayenneLPPName:
			v.add(joinPath(p, "name"), "%q is the built-in codec; give this one another name", c.Name)
		case dup:
			v.add(joinPath(p, "name"), "codec %q is already defined at codecs[%d]", c.Name, j)
		case checkName(v, joinPath(p, "name"), c.Name):
			codecIndex[c.Name] = i
			codecs = append(codecs, c.Name)
		}
		ps := payload.Validate(c.Name, c.Fields)
		ps = append(ps, payload.ValidateDownlinks(c.Downlinks)...)
		for _, pr := range ps {
			if pr.Field < 0 && pr.Key == "name" {
				continue // reported above, with the site's own rules
			}
			v.add(joinPath(p, pr.Path()), "%s", pr.Msg)
		}
		for j, f := range c.Fields {
			if f.Unit != "" {
				checkText(v, pathf("%s.fields[%d].unit", p, j), f.Unit, MaxUnitLength, false)
			}
		}
	}

	if len(l.Devices) > MaxLoRaDevices {
		v.add(joinPath(path, "devices"), "has %d devices; the embedded network server takes at most %d", len(l.Devices), MaxLoRaDevices)
	}
	names := map[string]int{}
	euis := map[string]int{}
	for i := range l.Devices {
		l.Devices[i].validate(v, pathf("%s.devices[%d]", path, i), i, names, euis, codecs)
	}
}

func (d *LoRaDevice) validate(v *problems, path string, i int, names, euis map[string]int, codecs []string) {
	checkUniqueName(v, path, "device", "devices", d.Name, i, names)
	if checkHexID(v, joinPath(path, "dev_eui"), d.DevEUI, 16, true, "e.g. 70b3d57ed0000001") {
		key := strings.ToLower(d.DevEUI)
		if j, dup := euis[key]; dup {
			v.add(joinPath(path, "dev_eui"), "%s is already the dev_eui of devices[%d]; a DevEUI names one device", d.DevEUI, j)
		} else {
			euis[key] = i
		}
	}
	act := joinPath(path, "activation")
	switch {
	case d.Activation == 0:
		v.add(act, "is required (%s)", loraActivations.valid())
	case !loraActivations.known(d.Activation):
		v.add(act, "%s is not an activation (valid: %s)", describeEnum(loraActivations, d.Activation), loraActivations.valid())
	}
	otaa, abp := d.Activation == ActivationOTAA, d.Activation == ActivationABP
	onlyFor := func(key, which string, set bool) {
		if set {
			v.add(joinPath(path, key), "applies to %s devices only; remove it from this %s device", which, d.Activation)
		}
	}
	if otaa {
		checkHexID(v, joinPath(path, "join_eui"), d.JoinEUI, 16, true, "the JoinEUI (AppEUI) on the device's label, e.g. 70b3d57ed0000000")
		checkKey(v, joinPath(path, "app_key"), d.AppKey, true)
		onlyFor("dev_addr", "abp", d.DevAddr != "")
		onlyFor("nwk_s_key", "abp", d.NwkSKey.IsSet())
		onlyFor("app_s_key", "abp", d.AppSKey.IsSet())
	}
	if abp {
		checkHexID(v, joinPath(path, "dev_addr"), d.DevAddr, 8, true, "e.g. 26011bda")
		checkKey(v, joinPath(path, "nwk_s_key"), d.NwkSKey, true)
		checkKey(v, joinPath(path, "app_s_key"), d.AppSKey, true)
		onlyFor("join_eui", "otaa", d.JoinEUI != "")
		onlyFor("app_key", "otaa", d.AppKey.IsSet())
	}
	if !loraClasses.known(d.Class) {
		v.add(joinPath(path, "class"), "%s is not a LoRaWAN class this gateway serves (valid: %s)", describeEnum(loraClasses, d.Class), loraClasses.valid())
	}
	if !slices.Contains(codecs, d.CodecName()) {
		v.add(joinPath(path, "codec"), "unknown codec %q (known: %s)%s", d.Codec, strings.Join(codecs, ", "), didYouMean(d.Codec, codecs))
	}
	checkDuration(v, joinPath(path, "interval"), d.Interval, loraIntervalRange)
}

// checkHexID checks an EUI or DevAddr of digits hex digits and says
// whether it is valid.
func checkHexID(v *problems, path, s string, digits int, required bool, example string) bool {
	switch {
	case s == "":
		if required {
			v.add(path, "is required (%d hex digits, %s)", digits, example)
		}
		return false
	case len(s) != digits || !isHex(s):
		v.add(path, "%q is not %d hex digits (%s)", s, digits, example)
		return false
	}
	return true
}

// checkKey checks an AES-128 key; the message never quotes it.
func checkKey(v *problems, path string, k Secret, required bool) {
	switch {
	case !k.IsSet():
		if required {
			v.add(path, "is required (32 hex digits, from the device's provisioning sheet)")
		}
	case k.IsPlaceholder():
	case len(k.Reveal()) != 32 || !isHex(k.Reveal()):
		v.add(path, "must be 32 hex digits (the given key has %d characters)", len(k.Reveal()))
	case strings.Trim(k.Reveal(), "0") == "":
		v.add(path, "is all zeros, which is no key; write the device's own key")
	}
}

// packetForwarderProblem says what is wrong with the address the packet
// forwarder server listens on, or "". It must be an IP address and a
// port; beyond loopback only when allowed on purpose, since the protocol
// has no authentication.
func packetForwarderProblem(s string, allowRemote bool) string {
	const want = "an IP address and port, e.g. 127.0.0.1:1700"
	ap, err := netip.ParseAddrPort(s)
	switch {
	case err != nil:
		if msg := hostPortProblem(s, true); msg != "" {
			return msg
		}
		return "\"" + s + "\" is not " + want + " (a host name could resolve to several addresses; the server listens on exactly one)"
	case ap.Port() == 0:
		return "\"" + s + "\" has port 0; give the port the packet forwarder sends to (usually 1700)"
	case !ap.Addr().IsLoopback() && !allowRemote:
		return "\"" + s + "\" is not a loopback address: the packet forwarder protocol has no authentication, so anyone who can reach this port can inject uplinks and read downlinks. Keep it on the gateway (127.0.0.1:1700), or set allow_remote_forwarder: true to accept forwarders from the network on purpose"
	}
	return ""
}

// FieldBus is what the field layer shows as the bus of every LoRa device:
// they are all reached through the gateway's concentrator, named by its
// EUI (lower case), or "lora" while none is set.
func (l LoRa) FieldBus() string {
	if l.GatewayEUI == "" {
		return "lora"
	}
	return strings.ToLower(l.GatewayEUI)
}

// fieldDevices returns the devices of the embedded network server as the
// field layer sees them. In forward mode the remote network server owns
// the devices, so the gateway has none. A Cayenne LPP device names its own
// points ({type}_{channel}); a declarative codec's fields are listed, and
// its downlinks are the writable points.
func (l LoRa) fieldDevices() []field.DeviceInfo {
	if l.EffectiveMode() != LoRaEmbedded {
		return nil
	}
	out := make([]field.DeviceInfo, 0, len(l.Devices))
	for _, d := range l.Devices {
		info := field.DeviceInfo{Name: d.Name, Protocol: field.LoRa, Bus: l.FieldBus()}
		c, ok := l.FindCodec(d.CodecName())
		if !ok {
			info.DynamicPoints = true
			out = append(out, info)
			continue
		}
		for _, f := range c.Fields {
			info.Points = append(info.Points, field.PointInfo{Name: f.Name, Unit: f.Unit})
		}
		for _, dl := range c.Downlinks {
			if i := slices.IndexFunc(info.Points, func(p field.PointInfo) bool { return p.Name == dl.Name }); i >= 0 {
				info.Points[i].Writable = true
				continue
			}
			info.Points = append(info.Points, field.PointInfo{Name: dl.Name, Unit: dl.Unit, Writable: true})
		}
		out = append(out, info)
	}
	return out
}
