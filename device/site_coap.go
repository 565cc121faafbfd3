package device

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// CoAP is the site's CoAP-over-DTLS server (package device/coap):
// constrained sensors push readings to it, each with its own pre-shared
// key. Without Listen no socket is opened, whatever Sensors says.
type CoAP struct {
	// Listen is where the server listens (UDP, an IP address and port,
	// e.g. 0.0.0.0:5684). Empty: no listener. DTLS only: there is no
	// plain CoAP.
	Listen  string       `yaml:"listen,omitempty" json:"listen,omitempty"`
	Sensors []CoAPSensor `yaml:"sensors,omitempty" json:"sensors,omitempty"`
}

// CoAPSensor is one sensor allowed to report: its device name in the
// field layer, the PSK identity it presents in the DTLS handshake and
// its key (a secret: never exported, shown or logged).
type CoAPSensor struct {
	Name     string `yaml:"name" json:"name"`         // 1..64 of letters, digits, '_', '.', '-'; unique across the site
	Identity string `yaml:"identity" json:"identity"` // the PSK identity; same rules; unique among sensors
	// Key is the pre-shared key, the bytes of the text as written
	// (coap-client's -k): 16..64 printable ASCII characters.
	Key Secret `yaml:"key,omitempty" json:"key,omitempty"`
	// Interval is how often the sensor is expected to report (sent to it
	// in /v1/config); a sensor silent for several intervals is degraded,
	// then offline. 10s..24h, default 5m.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Points, when given, are the only points accepted from the sensor
	// (readings of others are dropped and counted); without them the
	// sensor names its own points.
	Points []CoAPPoint `yaml:"points,omitempty" json:"points,omitempty"`
	// Settings are free sensor-specific parameters handed to the sensor
	// in /v1/config ({name: sample_every, value: 30s}): at most
	// MaxCoAPSettings, names like point names and unique, values text of
	// up to MaxCoAPSettingLength characters.
	Settings []CoAPSetting `yaml:"settings,omitempty" json:"settings,omitempty"`
}

// CoAPSetting is one parameter of a sensor's configuration.
type CoAPSetting struct {
	Name  string `yaml:"name" json:"name"`
	Value string `yaml:"value" json:"value"`
}

// CoAPPoint is a point a sensor reports.
type CoAPPoint struct {
	Name      string `yaml:"name" json:"name"`
	Unit      string `yaml:"unit,omitempty" json:"unit,omitempty"`
	Precision int    `yaml:"precision,omitempty" json:"precision,omitempty"` // 1..17; 0: the default
}

// CoAP bounds and defaults.
const (
	// DefaultCoAPPort is the IANA port of CoAP over DTLS (coaps).
	DefaultCoAPPort = 5684
	// DefaultCoAPInterval is the report interval of a sensor that names
	// none.
	DefaultCoAPInterval = Duration(5 * time.Minute)
	// MaxCoAPSensors bounds the sensors of a site.
	MaxCoAPSensors = 10000
	// MaxCoAPPoints bounds the listed points of one sensor.
	MaxCoAPPoints = 256
	// MaxCoAPSettings bounds one sensor's settings, and
	// MaxCoAPSettingLength one value's length.
	MaxCoAPSettings      = 32
	MaxCoAPSettingLength = 128
	// CoAPKeyMin and CoAPKeyMax bound a key's length in bytes: 16 is 128
	// bits of a random text key; 64 is what libcoap's client accepts.
	CoAPKeyMin = 16
	CoAPKeyMax = 64
)

var coapIntervalRange = [2]Duration{Duration(10 * time.Second), Duration(24 * time.Hour)}

// FindSensor returns the sensor called name.
func (c CoAP) FindSensor(name string) (CoAPSensor, bool) {
	i := slices.IndexFunc(c.Sensors, func(s CoAPSensor) bool { return s.Name == name })
	if i < 0 {
		return CoAPSensor{}, false
	}
	return c.Sensors[i], true
}

// EffectiveInterval returns the sensor's interval, the default when unset.
func (s CoAPSensor) EffectiveInterval() Duration {
	if s.Interval == 0 {
		return DefaultCoAPInterval
	}
	return s.Interval
}

func (c *CoAP) applyDefaults() {
	for i := range c.Sensors {
		if c.Sensors[i].Interval == 0 {
			c.Sensors[i].Interval = DefaultCoAPInterval
		}
	}
}

func (c CoAP) clone() CoAP {
	c.Sensors = cloneSlice(c.Sensors)
	for i := range c.Sensors {
		c.Sensors[i].Points = cloneSlice(c.Sensors[i].Points)
		c.Sensors[i].Settings = cloneSlice(c.Sensors[i].Settings)
	}
	return c
}

func (c *CoAP) redact() {
	for i := range c.Sensors {
		c.Sensors[i].Key = redactSecret(c.Sensors[i].Key)
	}
}

func (c CoAP) hasPlaceholders() bool {
	return slices.ContainsFunc(c.Sensors, func(s CoAPSensor) bool { return s.Key.IsPlaceholder() })
}

// keepSecrets resolves the placeholders of the sensors' keys from stored,
// matching sensors by identity (the key belongs to the identity, so a
// sensor keeps its key when renamed), and returns the resolved sensors;
// problems go to v. c is not changed.
func (c CoAP) keepSecrets(stored *Site, v *problems, msg string) []CoAPSensor {
	out := cloneSlice(c.Sensors)
	for i := range out {
		s := &out[i]
		if !s.Key.IsPlaceholder() {
			continue
		}
		var have Secret
		if stored != nil {
			if j := slices.IndexFunc(stored.CoAP.Sensors, func(o CoAPSensor) bool { return o.Identity == s.Identity }); j >= 0 {
				have = stored.CoAP.Sensors[j].Key
			}
		}
		if !have.IsSet() || have.IsPlaceholder() {
			v.add(pathf("coap.sensors[%d].key", i), "%s", msg)
			continue
		}
		s.Key = have
	}
	return out
}

// coapSecretSlots lists the sensors' keys for the secret store, named by
// identity (unique, and stable when a sensor is renamed or moved).
func (c *CoAP) coapSecretSlots() []secretSlot {
	out := make([]secretSlot, 0, len(c.Sensors))
	for i := range c.Sensors {
		out = append(out, secretSlot{
			path:  pathf("coap.sensors[%d].key", i),
			name:  "coap." + c.Sensors[i].Identity + ".key",
			field: &c.Sensors[i].Key,
		})
	}
	return out
}

// validate checks the coap section. Names unique across the site are
// checked by validateFieldNames through fieldDeviceRefs.
func (c *CoAP) validate(v *problems, path string) {
	if c.Listen != "" {
		if msg := coapListenProblem(c.Listen); msg != "" {
			v.add(joinPath(path, "listen"), "%s", msg)
		}
	}
	if len(c.Sensors) > MaxCoAPSensors {
		v.add(joinPath(path, "sensors"), "has %d sensors; at most %d are allowed", len(c.Sensors), MaxCoAPSensors)
	}
	names, ids := map[string]int{}, map[string]int{}
	for i := range c.Sensors {
		c.Sensors[i].validate(v, pathf("%s.sensors[%d]", path, i), i, names, ids)
	}
}

func (s *CoAPSensor) validate(v *problems, path string, i int, names, ids map[string]int) {
	checkUniqueName(v, path, "sensor", "sensors", s.Name, i, names)
	if checkName(v, joinPath(path, "identity"), s.Identity) {
		if j, dup := ids[s.Identity]; dup {
			v.add(joinPath(path, "identity"), "%q is already the identity of sensors[%d]; an identity names one sensor", s.Identity, j)
		} else {
			ids[s.Identity] = i
		}
	}
	checkPSK(v, joinPath(path, "key"), s.Key)
	if s.Interval != 0 {
		checkDuration(v, joinPath(path, "interval"), s.Interval, coapIntervalRange)
	}
	if len(s.Points) > MaxCoAPPoints {
		v.add(joinPath(path, "points"), "has %d points; at most %d are allowed", len(s.Points), MaxCoAPPoints)
	}
	seen := map[string]int{}
	for j, p := range s.Points {
		pp := pathf("%s.points[%d]", path, j)
		checkUniqueName(v, pp, "point", "points", p.Name, j, seen)
		checkText(v, joinPath(pp, "unit"), p.Unit, MaxUnitLength, false)
		if p.Precision != 0 {
			checkInt(v, joinPath(pp, "precision"), p.Precision, precisionRange)
		}
	}
	if len(s.Settings) > MaxCoAPSettings {
		v.add(joinPath(path, "settings"), "has %d settings; at most %d are allowed", len(s.Settings), MaxCoAPSettings)
	}
	clear(seen)
	for j, st := range s.Settings {
		sp := pathf("%s.settings[%d]", path, j)
		checkUniqueName(v, sp, "setting", "settings", st.Name, j, seen)
		checkText(v, joinPath(sp, "value"), st.Value, MaxCoAPSettingLength, false)
	}
}

// checkPSK checks a sensor's key; the message never quotes it.
func checkPSK(v *problems, path string, k Secret) {
	key := k.Reveal()
	switch {
	case !k.IsSet():
		v.add(path, "is required (%d..%d printable ASCII characters, the key the sensor was provisioned with)", CoAPKeyMin, CoAPKeyMax)
	case k.IsPlaceholder():
	case len(key) < CoAPKeyMin || len(key) > CoAPKeyMax:
		v.add(path, "must be %d..%d characters (the given key has %d)", CoAPKeyMin, CoAPKeyMax, len(key))
	case strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		v.add(path, "must be printable ASCII without spaces (the given key has other characters)")
	}
}

// coapListenProblem says what is wrong with the server's address, or "":
// an IP address and a non-zero port, so that the server listens on
// exactly what was configured.
func coapListenProblem(s string) string {
	ap, err := netip.ParseAddrPort(s)
	switch {
	case err != nil:
		return "\"" + s + "\" is not an IP address and port, e.g. 0.0.0.0:5684 (coaps' port is 5684)"
	case ap.Port() == 0:
		return "\"" + s + "\" has port 0; give the port sensors send to (usually 5684)"
	}
	return ""
}

// CoAPBus is what the field layer shows as the bus of every CoAP sensor:
// the server's address, or "coap" while none is configured.
func (c CoAP) CoAPBus() string {
	if c.Listen == "" {
		return "coap"
	}
	return c.Listen
}

// fieldDevices returns the sensors as the field layer sees them: listed
// points, or dynamic points for a sensor that lists none.
func (c CoAP) fieldDevices() []field.DeviceInfo {
	out := make([]field.DeviceInfo, 0, len(c.Sensors))
	for _, s := range c.Sensors {
		info := field.DeviceInfo{Name: s.Name, Protocol: field.CoAP, Bus: c.CoAPBus(), DynamicPoints: len(s.Points) == 0}
		for _, p := range s.Points {
			info.Points = append(info.Points, field.PointInfo{Name: p.Name, Unit: p.Unit, Precision: p.Precision})
		}
		out = append(out, info)
	}
	return out
}

// CoAPHealth is the CoAP server's part of health (filled by device/coap):
// where it listens, its handshakes and sessions now, and its counters
// since start (accepted readings, and refusals by reason).
type CoAPHealth struct {
	Listening  string            `json:"listening,omitempty"` // the bound address; empty: not listening
	Error      string            `json:"error,omitempty"`     // why it does not listen although configured
	Sensors    int               `json:"sensors"`
	Handshakes int               `json:"handshakes"` // in progress
	Sessions   int               `json:"sessions"`
	Counters   map[string]uint64 `json:"counters"`
}
