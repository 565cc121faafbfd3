package device

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // so that timezone validation does not depend on the host's zoneinfo files
	"unicode"
	"unicode/utf8"
)

// Problem is one thing wrong with a site file.
type Problem struct {
	// Path locates the value in YAML terms, e.g. modbus.devices[1].unit_id.
	// It is empty for problems of the file as a whole.
	Path    string `json:"path"`
	Message string `json:"message"`        // what is wrong and what is allowed
	Line    int    `json:"line,omitempty"` // line in the YAML source; 0 when unknown
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a site, in file order where
// the order is known.
type ValidationError struct {
	Problems []Problem // never empty
}

// Error prints one problem per line as "path: message".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Report formats err for a person: one sentence naming subject, how many
// problems it has and outcome ("nothing was stored"), then one indented line
// per problem (with its line number when known). An error that is not a
// *ValidationError is returned as "subject: err".
func Report(subject, outcome string, err error) string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return subject + ": " + err.Error()
	}
	var b strings.Builder
	n := len(ve.Problems)
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s has %d %s; %s. Fix them and try again:", subject, n, noun, outcome)
	for _, p := range ve.Problems {
		b.WriteString("\n  ")
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects Problems; the zero value is ready to use.
type problems struct {
	list []Problem
}

func (v *problems) add(path, format string, args ...any) {
	v.list = append(v.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *problems) addAt(path string, line int, format string, args ...any) {
	v.list = append(v.list, Problem{Path: path, Message: fmt.Sprintf(format, args...), Line: line})
}

// err returns nil or a *ValidationError holding the problems.
func (v *problems) err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: slices.Clone(v.list)}
}

var pathf = fmt.Sprintf

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Limits checked by Validate.
const (
	MaxSiteNameLength  = 128
	MaxNameLength      = 64 // bus, device and point names
	MaxUnitLength      = 32
	MaxInterfaceLength = 15 // Linux IFNAMSIZ - 1
	MaxSIMs            = 2
)

// Ranges checked by Validate.
var (
	passwordMaxLengthRange = [2]int{8, 64}
	idleTimeoutRange       = [2]Duration{Duration(time.Minute), Duration(24 * time.Hour)}
	probeIntervalRange     = [2]Duration{Duration(time.Second), Duration(10 * time.Minute)}
	probeCountRange        = [2]int{1, 100}
	failoverRange          = [2]Duration{Duration(30 * time.Second), Duration(time.Hour)}
	busTimeoutRange        = [2]Duration{Duration(10 * time.Millisecond), Duration(30 * time.Second)}
	pollIntervalRange      = [2]Duration{Duration(100 * time.Millisecond), Duration(24 * time.Hour)}
	unitIDRange            = [2]int{1, 247}
	maxGapRange            = [2]int{0, 125}
	maxRegistersRange      = [2]int{1, 125}
	precisionRange         = [2]int{1, 17}
	standardBauds          = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}
)

// Validate checks the whole site and returns nil or a *ValidationError that
// lists every problem, each with its YAML path. It expects ApplyDefaults to
// have run: fields left at zero where a default exists are reported as out
// of range. SecretPlaceholder counts as a valid secret, because it stands
// for a stored one; resolve it with KeepSecrets before storing.
func (s *Site) Validate() error {
	var v problems
	s.validate(&v)
	return v.err()
}

// ProblemsIn validates s and returns the problems of one section: at
// section itself or any path below it. Nil means none. The console's
// forms use it to check a section with the site file's own rules.
func (s *Site) ProblemsIn(section string) []Problem {
	var v problems
	s.validate(&v)
	var out []Problem
	for _, p := range v.list {
		if p.Path == section || strings.HasPrefix(p.Path, section+".") {
			out = append(out, p)
		}
	}
	return out
}

// ProblemAt returns the problem at path among ps as an error, or nil.
func ProblemAt(ps []Problem, path string) error {
	for _, p := range ps {
		if p.Path == path {
			return errors.New(p.String())
		}
	}
	return nil
}

func (s *Site) validate(v *problems) {
	checkText(v, "site.name", s.Site.Name, MaxSiteNameLength, true)
	s.Access.validate(v, "access")
	s.Clock.validate(v, "clock")
	s.WAN.validate(v, "wan")
	s.Cellular.validate(v, "cellular")
	s.WiFi.validate(v, "wifi")
	s.LoRa.validate(v, "lora")
	s.Modbus.validate(v, "modbus", s)
	s.validateProfiles(v)
	s.validateBACnet(v)
	s.validateSecurity(v)
	s.validateSNMP(v)
	s.CoAP.validate(v, "coap")
	s.validateFieldNames(v)
	s.validateStore(v)
}

func (a *Access) validate(v *problems, path string) {
	checkInt(v, joinPath(path, "password_max_length"), a.PasswordMaxLength, passwordMaxLengthRange)
	seen := map[Role]int{}
	for i, r := range a.Require2FA {
		p := pathf("%s.require_2fa[%d]", path, i)
		if !roles.known(r) {
			v.add(p, "%s is not a role (valid: %s)", describeEnum(roles, r), roles.valid())
			continue
		}
		if j, dup := seen[r]; dup {
			v.add(p, "%s is already listed at require_2fa[%d]", r, j)
			continue
		}
		seen[r] = i
	}
	checkDuration(v, joinPath(path, "idle_timeout"), a.IdleTimeout, idleTimeoutRange)
	a.validateCerts(v, path)
}

func (c *Clock) validate(v *problems, path string) {
	seen := map[string]int{}
	for i, srv := range c.NTPServers {
		p := pathf("%s.ntp_servers[%d]", path, i)
		if msg := hostPortProblem(srv, false); msg != "" {
			v.add(p, "%s", msg)
			continue
		}
		if j, dup := seen[srv]; dup {
			v.add(p, "%q is already listed at ntp_servers[%d]", srv, j)
			continue
		}
		seen[srv] = i
	}
	if c.Timezone != "" {
		p := joinPath(path, "timezone")
		if c.Timezone == "Local" {
			v.add(p, `"Local" depends on the gateway's setup; use an IANA name such as Europe/Paris, or UTC`)
		} else if _, err := time.LoadLocation(c.Timezone); err != nil {
			v.add(p, "unknown time zone %q (use an IANA name such as Europe/Paris, or UTC)", c.Timezone)
		}
	}
}

func (w *WAN) validate(v *problems, path string) {
	if len(w.Priority) == 0 {
		v.add(joinPath(path, "priority"), "at least one link is required (%s)", linkKinds.valid())
	}
	seen := map[LinkKind]int{}
	for i, k := range w.Priority {
		p := pathf("%s.priority[%d]", path, i)
		if !linkKinds.known(k) {
			v.add(p, "%s is not a link (valid: %s)", describeEnum(linkKinds, k), linkKinds.valid())
			continue
		}
		if j, dup := seen[k]; dup {
			v.add(p, "%s is already listed at priority[%d]", k, j)
			continue
		}
		seen[k] = i
	}

	probe := joinPath(path, "probe")
	for i, t := range w.Probe.Targets {
		if msg := hostPortProblem(t, true); msg != "" {
			v.add(pathf("%s.targets[%d]", probe, i), "%s", msg)
		}
	}
	checkDuration(v, joinPath(probe, "interval"), w.Probe.Interval, probeIntervalRange)
	checkInt(v, joinPath(probe, "down_after"), w.Probe.DownAfter, probeCountRange)
	checkInt(v, joinPath(probe, "up_after"), w.Probe.UpAfter, probeCountRange)

	e := &w.Ethernet
	eth := joinPath(path, "ethernet")
	checkInterface(v, joinPath(eth, "interface"), e.Interface)
	var prefix netip.Prefix
	switch {
	case e.Address == "" && !e.DHCP:
		v.add(joinPath(eth, "address"), "is required when dhcp is false (e.g. 192.168.1.10/24), or set dhcp: true")
	case e.Address != "" && e.DHCP:
		v.add(joinPath(eth, "address"), "is set but dhcp is true; remove the address or set dhcp: false")
	case e.Address != "":
		pr, err := netip.ParsePrefix(e.Address)
		if err != nil {
			v.add(joinPath(eth, "address"), "%q is not an address in CIDR form (e.g. 192.168.1.10/24)", e.Address)
		} else {
			prefix = pr
		}
	}
	if e.Gateway != "" {
		p := joinPath(eth, "gateway")
		gw, err := netip.ParseAddr(e.Gateway)
		switch {
		case err != nil:
			v.add(p, "%q is not an IP address", e.Gateway)
		case e.DHCP:
			v.add(p, "is set but dhcp is true; remove the gateway or set dhcp: false")
		case prefix.IsValid() && !prefix.Masked().Contains(gw):
			v.add(p, "%s is outside the network %s of address %s", gw, prefix.Masked(), e.Address)
		}
	}
}

func (c *Cellular) validate(v *problems, path string) {
	checkInterface(v, joinPath(path, "interface"), c.Interface)
	checkDuration(v, joinPath(path, "failover_after"), c.FailoverAfter, failoverRange)
	if !rotations.known(c.Rotate) {
		v.add(joinPath(path, "rotate"), "%s is not a rotate setting (valid: %s)", describeEnum(rotations, c.Rotate), rotations.valid())
	}
	sims := joinPath(path, "sims")
	switch {
	case len(c.SIMs) > MaxSIMs:
		v.add(sims, "has %d SIMs; the gateway has %d slots", len(c.SIMs), MaxSIMs)
	case c.Enabled && len(c.SIMs) == 0:
		v.add(sims, "cellular is enabled but no SIM is configured; add one (slot, apn)")
	case c.Rotate == RotateWeekly && len(c.SIMs) < 2:
		v.add(joinPath(path, "rotate"), "weekly rotation needs two SIMs; add the second SIM or set rotate: off")
	}
	seen := map[int]int{}
	for i, sim := range c.SIMs {
		p := pathf("%s[%d]", sims, i)
		switch {
		case sim.Slot < 1 || sim.Slot > MaxSIMs:
			v.add(joinPath(p, "slot"), "%d is not a SIM slot (1 or 2)", sim.Slot)
		default:
			if j, dup := seen[sim.Slot]; dup {
				v.add(joinPath(p, "slot"), "slot %d is already used by sims[%d]", sim.Slot, j)
			} else {
				seen[sim.Slot] = i
			}
		}
		checkAPN(v, joinPath(p, "apn"), sim.APN)
		if sim.PIN.IsSet() && !sim.PIN.IsPlaceholder() && !isDigits(sim.PIN.Reveal(), 4, 8) {
			// Never quote the value: it is a secret.
			v.add(joinPath(p, "pin"), "must be 4 to 8 digits (the given PIN has %d characters)", utf8.RuneCountInString(sim.PIN.Reveal()))
		}
		if sim.MonthlyLimitMB < 0 {
			v.add(joinPath(p, "monthly_limit_mb"), "%d is negative (0 means no limit)", sim.MonthlyLimitMB)
		}
	}
}

func checkAPN(v *problems, path, apn string) {
	switch {
	case apn == "":
		v.add(path, "is required (1..63 of letters, digits, '.', '-'; ask the operator, e.g. internet)")
	case len(apn) > 63:
		v.add(path, "is %d characters long; at most 63 are allowed", len(apn))
	default:
		if bad := firstBad(apn, func(r rune) bool { return isAlnum(r) || r == '.' || r == '-' }); bad >= 0 {
			v.add(path, "%q contains %q (use letters, digits, '.', '-')", apn, bad)
		}
	}
}

func (w *WiFi) validate(v *problems, path string) {
	if w.Enabled && w.PermanentlyDisabled {
		v.add(joinPath(path, "enabled"), "wifi is permanently disabled; re-enable it on the gateway itself with `sitegate radio enable wifi`")
	}
	checkInterface(v, joinPath(path, "interface"), w.Interface)
	ssid := joinPath(path, "ssid")
	switch {
	case w.SSID == "":
		if w.Enabled {
			v.add(ssid, "is required when wifi is enabled (1..32 bytes)")
		}
	case len(w.SSID) > 32:
		v.add(ssid, "is %d bytes long; at most 32 are allowed", len(w.SSID))
	default:
		checkGraphic(v, ssid, w.SSID)
	}
	sec := joinPath(path, "security")
	switch {
	case w.Security == 0:
		if w.Enabled {
			v.add(sec, "is required when wifi is enabled (%s)", wifiSecurities.valid())
		}
	case !wifiSecurities.known(w.Security):
		v.add(sec, "%s is not a wifi security (valid: %s)", describeEnum(wifiSecurities, w.Security), wifiSecurities.valid())
	}
	pass := joinPath(path, "passphrase")
	switch {
	case !w.Passphrase.IsSet():
		if w.Enabled {
			v.add(pass, "is required when wifi is enabled")
		}
	case w.Passphrase.IsPlaceholder():
	default:
		// Never quote the value: it is a secret.
		if msg := passphraseProblem(w.Security, w.Passphrase.Reveal()); msg != "" {
			v.add(pass, "%s", msg)
		}
	}
}

func passphraseProblem(sec WiFiSecurity, p string) string {
	n := utf8.RuneCountInString(p)
	switch sec {
	case SecurityWPA2PSK:
		if len(p) == 64 && isHex(p) {
			return ""
		}
		if n < 8 || n > 63 {
			return fmt.Sprintf("has %d characters; wpa2-psk needs 8..63 printable ASCII characters or exactly 64 hex digits", n)
		}
		if firstBad(p, func(r rune) bool { return r >= 0x20 && r <= 0x7e }) >= 0 {
			return "contains a character that is not printable ASCII; wpa2-psk needs 8..63 printable ASCII characters or exactly 64 hex digits"
		}
	case SecurityWPA3SAE:
		if n < 8 || n > 63 {
			return fmt.Sprintf("has %d characters; wpa3-sae needs 8..63 printable characters", n)
		}
		if firstBad(p, unicode.IsPrint) >= 0 {
			return "contains a character that is not printable; wpa3-sae needs 8..63 printable characters"
		}
	}
	return ""
}

func (l *LoRa) validate(v *problems, path string) {
	if l.Enabled && l.PermanentlyDisabled {
		v.add(joinPath(path, "enabled"), "lora is permanently disabled; re-enable it on the gateway itself with `sitegate radio enable lora`")
	}
	region := joinPath(path, "region")
	switch {
	case l.Region == 0:
		if l.Enabled {
			v.add(region, "is required when lora is enabled (%s)", loraRegions.valid())
		}
	case !loraRegions.known(l.Region):
		v.add(region, "%s is not a LoRa region (valid: %s)", describeEnum(loraRegions, l.Region), loraRegions.valid())
	}
	eui := joinPath(path, "gateway_eui")
	switch {
	case l.GatewayEUI == "":
		if l.Enabled {
			v.add(eui, "is required when lora is enabled (16 hex digits, e.g. 0016c001ff10a235)")
		}
	case len(l.GatewayEUI) != 16 || !isHex(l.GatewayEUI):
		v.add(eui, "%q is not 16 hex digits (e.g. 0016c001ff10a235)", l.GatewayEUI)
	}
	ns := joinPath(path, "network_server")
	switch {
	case l.NetworkServer == "":
		if l.Enabled && l.Mode != LoRaEmbedded {
			v.add(ns, "is required when lora is enabled in forward mode (host:port, e.g. ns.example.com:1700), or set mode: embedded")
		}
	default:
		if msg := hostPortProblem(l.NetworkServer, true); msg != "" {
			v.add(ns, "%s", msg)
		}
	}
	l.validateLoRa(v, path)
}

func (m *Modbus) validate(v *problems, path string, site *Site) {
	busIndex := map[string]int{}
	var busNames []string
	for i := range m.Buses {
		b := &m.Buses[i]
		p := pathf("%s.buses[%d]", path, i)
		// A badly formed name is reported once, here; devices that refer
		// to it are not reported again.
		checkName(v, joinPath(p, "name"), b.Name)
		if j, dup := busIndex[b.Name]; dup && b.Name != "" {
			v.add(joinPath(p, "name"), "bus %q is already defined at buses[%d]", b.Name, j)
		} else if b.Name != "" {
			busIndex[b.Name] = i
			busNames = append(busNames, b.Name)
		}
		b.validate(v, p)
	}

	devIndex := map[string]int{}
	for i := range m.Devices {
		d := &m.Devices[i]
		p := pathf("%s.devices[%d]", path, i)
		checkName(v, joinPath(p, "name"), d.Name)
		if j, dup := devIndex[d.Name]; dup && d.Name != "" {
			v.add(joinPath(p, "name"), "device %q is already defined at devices[%d]", d.Name, j)
		} else if d.Name != "" {
			devIndex[d.Name] = i
		}
		var bus *Bus
		switch j, ok := busIndex[d.Bus]; {
		case d.Bus == "":
			v.add(joinPath(p, "bus"), "is required: name the bus the device is on (%s)", knownList(busNames, "no buses are defined"))
		case !ok:
			v.add(joinPath(p, "bus"), "unknown bus %q (%s)%s", d.Bus, knownList(busNames, "no buses are defined"), didYouMean(d.Bus, busNames))
		default:
			bus = &m.Buses[j]
		}
		d.validate(v, p, bus, site)
	}
}

func (b *Bus) validate(v *problems, path string) {
	switch {
	case b.Kind == 0:
		v.add(joinPath(path, "kind"), "is required (%s)", busKinds.valid())
	case !busKinds.known(b.Kind):
		v.add(joinPath(path, "kind"), "%s is not a bus kind (valid: %s)", describeEnum(busKinds, b.Kind), busKinds.valid())
	}
	rtuOnly := func(field string, set bool) {
		if set && b.Kind == BusTCP {
			v.add(joinPath(path, field), "applies to rtu buses only; remove it from this tcp bus")
		}
	}
	rtuOnly("device", b.Device != "")
	rtuOnly("baud", b.Baud != 0)
	rtuOnly("parity", b.Parity != 0)
	rtuOnly("data_bits", b.DataBits != 0)
	rtuOnly("stop_bits", b.StopBits != 0)

	switch b.Kind {
	case BusRTU:
		dev := joinPath(path, "device")
		switch {
		case b.Device == "":
			v.add(dev, "is required for rtu buses (the serial port, e.g. /dev/ttyS1)")
		case !strings.HasPrefix(b.Device, "/") || firstBad(b.Device, func(r rune) bool { return r > ' ' && r != 0x7f }) >= 0:
			v.add(dev, "%q is not an absolute device path (e.g. /dev/ttyS1 or /dev/ttyUSB0)", b.Device)
		}
		if !slices.Contains(standardBauds, b.Baud) {
			v.add(joinPath(path, "baud"), "%d is not a standard rate (%s)", b.Baud, joinInts(standardBauds))
		}
		if !parities.known(b.Parity) {
			v.add(joinPath(path, "parity"), "%s is not a parity (valid: %s)", describeEnum(parities, b.Parity), parities.valid())
		}
		if b.DataBits != 7 && b.DataBits != 8 {
			v.add(joinPath(path, "data_bits"), "%d is not 7 or 8", b.DataBits)
		}
		if b.StopBits != 1 && b.StopBits != 2 {
			v.add(joinPath(path, "stop_bits"), "%d is not 1 or 2", b.StopBits)
		}
		if b.Address != "" {
			v.add(joinPath(path, "address"), "applies to tcp buses only; an rtu bus uses device")
		}
	case BusTCP:
		addr := joinPath(path, "address")
		if b.Address == "" {
			v.add(addr, "is required for tcp buses (host:port, e.g. 192.168.10.20:502)")
		} else if msg := hostPortProblem(b.Address, true); msg != "" {
			v.add(addr, "%s", msg)
		}
	}
	switch {
	case b.MaxInFlight != 0 && b.Kind == BusRTU: // a missing kind is its own problem
		v.add(joinPath(path, "max_in_flight"), "applies to tcp buses only; a serial line carries one request at a time")
	case b.MaxInFlight < 0 || b.MaxInFlight > MaxBusInFlight:
		v.add(joinPath(path, "max_in_flight"), "%d is outside 1..%d", b.MaxInFlight, MaxBusInFlight)
	}
	checkDuration(v, joinPath(path, "timeout"), b.Timeout, busTimeoutRange)
}

// validate checks d; bus is nil when d.Bus names no bus. site gives the
// profiles d may name.
func (d *Device) validate(v *problems, path string, bus *Bus, site *Site) {
	checkInt(v, joinPath(path, "unit_id"), d.UnitID, unitIDRange)
	intervalOK := checkDuration(v, joinPath(path, "interval"), d.Interval, pollIntervalRange)
	timeoutOK := true
	if d.Timeout != 0 {
		timeoutOK = checkDuration(v, joinPath(path, "timeout"), d.Timeout, busTimeoutRange)
	}
	if bus != nil && intervalOK && timeoutOK {
		if t := d.EffectiveTimeout(*bus); t >= d.Interval {
			if d.Timeout != 0 {
				v.add(joinPath(path, "timeout"), "%s is not shorter than interval %s; a poll must time out before the next one is due", t, d.Interval)
			} else {
				v.add(joinPath(path, "interval"), "%s is not longer than the timeout %s of bus %q; a poll must time out before the next one is due", d.Interval, t, bus.Name)
			}
		}
	}
	if d.MaxGap != nil {
		checkInt(v, joinPath(path, "max_gap"), *d.MaxGap, maxGapRange)
	}
	regsOK := checkInt(v, joinPath(path, "max_registers"), d.MaxRegisters, maxRegistersRange)

	profileOK := true
	if d.Profile != "" {
		if _, ok := site.LookupProfile(d.Profile); !ok {
			profileOK = false
			names := site.ProfileNames()
			v.add(joinPath(path, "profile"), "unknown profile %q (known: %s)%s", d.Profile, strings.Join(names, ", "), didYouMean(d.Profile, names))
		}
	}
	if d.Profile == "" && len(d.Points) == 0 {
		v.add(joinPath(path, "points"), "the device has no points: list points, or name a profile (%s)", strings.Join(site.ProfileNames(), ", "))
	}
	checkPoints(v, joinPath(path, "points"), d.Points)

	if regsOK && profileOK {
		for _, p := range site.EffectivePoints(*d) {
			if n := p.Type.Registers(); n > d.MaxRegisters && !p.Table.IsBit() {
				v.add(joinPath(path, "max_registers"), "%d is less than the %d registers of point %q", d.MaxRegisters, n, p.Name)
				break
			}
		}
	}
}

// checkPoints validates a list of points at path (…points).
func checkPoints(v *problems, path string, points []Point) {
	seen := map[string]int{}
	for i := range points {
		p := pathf("%s[%d]", path, i)
		pt := &points[i]
		checkName(v, joinPath(p, "name"), pt.Name)
		if j, dup := seen[pt.Name]; dup && pt.Name != "" {
			v.add(joinPath(p, "name"), "point %q is already defined at points[%d]", pt.Name, j)
		} else if pt.Name != "" {
			seen[pt.Name] = i
		}
		pt.validate(v, p)
	}
}

func (p *Point) validate(v *problems, path string) {
	tableOK := registerTables.known(p.Table)
	typeOK := dataTypes.known(p.Type)
	switch {
	case p.Table == 0:
		v.add(joinPath(path, "table"), "is required (%s)", registerTables.valid())
	case !tableOK:
		v.add(joinPath(path, "table"), "%s is not a register table (valid: %s)", describeEnum(registerTables, p.Table), registerTables.valid())
	}

	addr := joinPath(path, "address")
	addrOK := p.Address >= 0 && p.Address <= 65535
	if !addrOK {
		v.add(addr, "%d is outside 0..65535 (addresses are 0-based: register 40001 is holding address 0)", p.Address)
	}

	typ := joinPath(path, "type")
	switch {
	case p.Type == 0:
		v.add(typ, "is required (%s)", dataTypes.valid())
	case !typeOK:
		v.add(typ, "%s is not a data type (valid: %s)", describeEnum(dataTypes, p.Type), dataTypes.valid())
	case tableOK && p.Table.IsBit() && p.Type != TypeBool:
		v.add(typ, "%s points hold single bits, so the type must be bool, not %s", p.Table, p.Type)
	case tableOK && !p.Table.IsBit() && p.Type == TypeBool:
		v.add(typ, "bool is for coil and discrete points; read the %s register as uint16 instead", p.Table)
	}
	if addrOK && typeOK {
		if n := p.Type.Registers(); p.Address+n-1 > 65535 {
			v.add(addr, "address %d + %d registers overflows 65535 (%s needs %d)", p.Address, n, p.Type, n)
		}
	}

	order := joinPath(path, "order")
	switch {
	case !byteOrders.known(p.Order):
		v.add(order, "%s is not a byte order (valid: %s)", describeEnum(byteOrders, p.Order), byteOrders.valid())
	case p.Order == OrderABCD:
	case p.Type == TypeBool:
		v.add(order, "applies to register points only; remove it from this bool point")
	case p.Type.Registers() == 1 && (p.Order == OrderCDAB || p.Order == OrderDCBA):
		v.add(order, "%s reorders words, but %s is a single register; use ABCD or BADC", p.Order, p.Type)
	}

	if p.ScaleFactor != nil {
		sc := *p.ScaleFactor
		switch {
		case p.Type == TypeBool:
			v.add(joinPath(path, "scale"), "applies to numeric points only; remove it from this bool point")
		case math.IsNaN(sc) || math.IsInf(sc, 0):
			v.add(joinPath(path, "scale"), "must be a finite number")
		case sc == 0:
			v.add(joinPath(path, "scale"), "0 would turn every value into 0; omit scale for 1")
		}
	}
	switch {
	case p.Offset == 0:
	case p.Type == TypeBool:
		v.add(joinPath(path, "offset"), "applies to numeric points only; remove it from this bool point")
	case math.IsNaN(p.Offset) || math.IsInf(p.Offset, 0):
		v.add(joinPath(path, "offset"), "must be a finite number")
	}
	if p.Unit != "" {
		checkText(v, joinPath(path, "unit"), p.Unit, MaxUnitLength, false)
	}
	if p.Writable && tableOK && !p.Table.Writable() {
		v.add(joinPath(path, "writable"), "%s points are read-only in Modbus; only coil and holding points can be writable", p.Table)
	}
	p.validateReport(v, path)
	if p.Precision != 0 {
		checkInt(v, joinPath(path, "precision"), p.Precision, precisionRange)
	}
	checkText(v, joinPath(path, "description"), p.Description, maxProfileText, false)
}

// validateProfiles checks the site's own profiles: each valid, at most
// MaxSiteProfiles, names unique and none a built-in name (those are
// read-only).
func (s *Site) validateProfiles(v *problems) {
	if len(s.Profiles) > MaxSiteProfiles {
		v.add("profiles", "%d profiles; a site holds at most %d", len(s.Profiles), MaxSiteProfiles)
	}
	seen := map[string]int{}
	for i := range s.Profiles {
		p := &s.Profiles[i]
		path := pathf("profiles[%d]", i)
		p.validate(v, path)
		switch j, dup := seen[p.Name]; {
		case p.Name == "":
		case dup:
			v.add(joinPath(path, "name"), "profile %q is already defined at profiles[%d]", p.Name, j)
		case IsBuiltinProfile(p.Name):
			v.add(joinPath(path, "name"), "%q is a built-in profile, which is read-only: give the site's profile another name", p.Name)
		default:
			seen[p.Name] = i
		}
	}
}

// checkInt reports n outside r and says whether it was inside.
func checkInt(v *problems, path string, n int, r [2]int) bool {
	if n < r[0] || n > r[1] {
		v.add(path, "%d is outside %d..%d", n, r[0], r[1])
		return false
	}
	return true
}

// checkDuration reports d outside r and says whether it was inside.
func checkDuration(v *problems, path string, d Duration, r [2]Duration) bool {
	if d < r[0] || d > r[1] {
		v.add(path, "%s is outside %s..%s", d, r[0], r[1])
		return false
	}
	return true
}

// checkName checks a bus, device or point name and says whether it is
// valid.
func checkName(v *problems, path, name string) bool {
	const allowed = "letters, digits, '_', '.', '-'"
	switch {
	case name == "":
		v.add(path, "is required (1..%d of %s)", MaxNameLength, allowed)
	case len(name) > MaxNameLength:
		v.add(path, "is %d characters long; at most %d are allowed", len(name), MaxNameLength)
	default:
		if bad := firstBad(name, isNameRune); bad >= 0 {
			v.add(path, "%q contains %q (use %s)", name, bad, allowed)
			return false
		}
		return true
	}
	return false
}

func isNameRune(r rune) bool { return isAlnum(r) || r == '_' || r == '.' || r == '-' }

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// checkInterface checks a network interface name; empty is left to
// ApplyDefaults.
func checkInterface(v *problems, path, name string) {
	if name == "" {
		return
	}
	if len(name) > MaxInterfaceLength || name == "." || name == ".." || firstBad(name, isNameRune) >= 0 {
		v.add(path, "%q is not a network interface name (1..%d of letters, digits, '_', '.', '-', e.g. eth0)", name, MaxInterfaceLength)
	}
}

// checkText checks free text: valid UTF-8, no control characters, at most
// max characters, and present when required.
func checkText(v *problems, path, s string, maxLen int, required bool) {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "":
		if required {
			v.add(path, "is required (1..%d characters)", maxLen)
		}
	case n > maxLen:
		v.add(path, "is %d characters long; at most %d are allowed", n, maxLen)
	default:
		checkGraphic(v, path, s)
	}
}

func checkGraphic(v *problems, path, s string) {
	if !utf8.ValidString(s) {
		v.add(path, "is not valid UTF-8")
		return
	}
	if bad := firstBad(s, unicode.IsGraphic); bad >= 0 {
		v.add(path, "contains the control character %U; use plain text on one line", bad)
	}
}

// firstBad returns the first rune of s for which ok is false, or -1.
func firstBad(s string, ok func(rune) bool) rune {
	for _, r := range s {
		if !ok(r) {
			return r
		}
	}
	return -1
}

func isDigits(s string, minLen, maxLen int) bool {
	return len(s) >= minLen && len(s) <= maxLen && firstBad(s, func(r rune) bool { return r >= '0' && r <= '9' }) < 0
}

func isHex(s string) bool {
	return firstBad(s, func(r rune) bool { return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }) < 0
}

// hostPortProblem says why s is not host:port (or, when the port is
// optional, a bare host), or returns "" when it is fine. The host is an IP
// address or a DNS name; IPv6 addresses with a port go in brackets.
func hostPortProblem(s string, portRequired bool) string {
	want := "host:port, e.g. telemetry.example.com:443"
	if !portRequired {
		want = "a host or host:port, e.g. pool.ntp.org or 192.168.1.1:123"
	}
	if s == "" {
		return "is empty (write " + want + ")"
	}
	if !portRequired {
		if _, err := netip.ParseAddr(s); err == nil {
			return ""
		}
		if !strings.Contains(s, ":") {
			if !validHost(s) {
				return fmt.Sprintf("%q is not a valid host name or IP address", s)
			}
			return ""
		}
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if portRequired && !strings.Contains(s, ":") {
			return fmt.Sprintf("%q has no port (write %s)", s, want)
		}
		return fmt.Sprintf("%q is not %s", s, want)
	}
	if !validHost(host) {
		return fmt.Sprintf("%q in %q is not a valid host name or IP address", host, s)
	}
	if n, err := strconv.Atoi(port); err != nil || !isDigits(port, 1, 5) || n < 1 || n > 65535 {
		return fmt.Sprintf("port %q in %q is not a number in 1..65535", port, s)
	}
	return ""
}

// validHost reports whether h is an IP address or a DNS host name.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		if firstBad(l, func(r rune) bool { return isAlnum(r) || r == '-' }) >= 0 {
			return false
		}
	}
	// An all-digit last label is a mistyped IPv4 address (192.168.1.300),
	// never a top-level domain.
	return !isDigits(labels[len(labels)-1], 1, 63)
}

// describeEnum renders a value for an error: its name, or its number when it
// has none.
func describeEnum[T ~uint8](e enumDef[T], x T) string {
	if e.known(x) {
		return e.name(x)
	}
	return fmt.Sprintf("%d", uint8(x))
}

func knownList(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return "known: " + strings.Join(names, ", ")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// didYouMean returns `; did you mean "x"?` for the candidate closest to
// word, or "" when none is close.
func didYouMean(word string, candidates []string) string {
	if c := closestName(word, candidates); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// closestName returns the candidate nearest to word: the one with the smallest
// edit distance when that is at most 2, else one that word is a prefix of
// (or that is a prefix of word), else "". Case is ignored.
func closestName(word string, candidates []string) string {
	if len(word) > 2*MaxNameLength {
		return ""
	}
	w := strings.ToLower(word)
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein(w, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(w) < 3 {
		return best
	}
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if strings.HasPrefix(lc, w) || len(lc) >= 3 && strings.HasPrefix(w, lc) {
			return c
		}
	}
	return ""
}

// levenshtein returns the edit distance between a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// checkUniqueName checks the name of the i-th entry of a list at path
// and that no earlier entry has it (seen: names to their index).
func checkUniqueName(v *problems, path, what, list, name string, i int, seen map[string]int) {
	if !checkName(v, joinPath(path, "name"), name) {
		return
	}
	if j, dup := seen[name]; dup {
		v.add(joinPath(path, "name"), "%s %q is already defined at %s[%d]", what, name, list, j)
		return
	}
	seen[name] = i
}
