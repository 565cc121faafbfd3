package device

import (
	"slices"
	"strings"
)

// Built-in SNMP profiles: the points common building gear offers through
// standard MIBs, so that a UPS, a switch or a PDU, or a host is one line
// (`profile: ups-mib`). A device's own points come after the profile's;
// one with a profile point's name replaces it.

// SNMPProfile is a built-in set of SNMP points.
type SNMPProfile struct {
	Name   string
	Doc    string
	Points []SNMPPoint
}

func rate8() *float64            { v := 8.0; return &v }
func scaleOf(v float64) *float64 { return &v }

var (
	ifOperEnum = []SNMPEnum{{"1", "true"}, {"2", "false"}, {"3", "false"}, {"4", "false"}, {"5", "false"}, {"6", "false"}, {"7", "false"}}
	ifAdmEnum  = []SNMPEnum{{"1", "true"}, {"2", "false"}, {"3", "false"}}
)

// snmpProfiles are the built-in profiles, by name.
var snmpProfiles = []SNMPProfile{
	{Name: "ups-mib", Doc: "a UPS through the UPS-MIB of RFC 1628 (1.3.6.1.2.1.33)", Points: []SNMPPoint{
		// upsBatteryStatus: unknown(1), batteryNormal(2), batteryLow(3), batteryDepleted(4).
		{Name: "battery_status", OID: "1.3.6.1.2.1.33.1.2.1.0"},
		{Name: "on_battery", OID: "1.3.6.1.2.1.33.1.2.2.0", Unit: "s"},
		{Name: "runtime_left", OID: "1.3.6.1.2.1.33.1.2.3.0", Unit: "min"},
		{Name: "charge", OID: "1.3.6.1.2.1.33.1.2.4.0", Unit: "%"},
		{Name: "battery_voltage", OID: "1.3.6.1.2.1.33.1.2.5.0", Scale: scaleOf(0.1), Unit: "V"},
		{Name: "battery_temperature", OID: "1.3.6.1.2.1.33.1.2.7.0", Unit: "°C"},
		// upsOutputSource: other(1), none(2), normal(3), bypass(4), battery(5), booster(6), reducer(7).
		{Name: "output_source", OID: "1.3.6.1.2.1.33.1.4.1.0"},
		{Name: "output_frequency", OID: "1.3.6.1.2.1.33.1.4.2.0", Scale: scaleOf(0.1), Unit: "Hz"},
		{Name: "alarms", OID: "1.3.6.1.2.1.33.1.6.1.0"},
		{Name: "input_voltage", Walk: "1.3.6.1.2.1.33.1.3.3.1.3", MaxRows: 3, Unit: "V"},
		{Name: "input_frequency", Walk: "1.3.6.1.2.1.33.1.3.3.1.2", MaxRows: 3, Scale: scaleOf(0.1), Unit: "Hz"},
		{Name: "output_voltage", Walk: "1.3.6.1.2.1.33.1.4.4.1.2", MaxRows: 3, Unit: "V"},
		{Name: "output_load", Walk: "1.3.6.1.2.1.33.1.4.4.1.5", MaxRows: 3, Unit: "%"},
	}},
	{Name: "if-mib", Doc: "a switch or PDU's interfaces through the IF-MIB (RFC 2863), rows named by ifDescr", Points: []SNMPPoint{
		{Name: "if_up", Walk: "1.3.6.1.2.1.2.2.1.8", Index: "ifDescr", Convert: SNMPConvertEnum, Enum: ifOperEnum},
		{Name: "if_enabled", Walk: "1.3.6.1.2.1.2.2.1.7", Index: "ifDescr", Convert: SNMPConvertEnum, Enum: ifAdmEnum},
		{Name: "if_in", Walk: "1.3.6.1.2.1.31.1.1.1.6", Index: "ifDescr", Convert: SNMPConvertRate, Scale: rate8(), Unit: "bit/s"},
		{Name: "if_out", Walk: "1.3.6.1.2.1.31.1.1.1.10", Index: "ifDescr", Convert: SNMPConvertRate, Scale: rate8(), Unit: "bit/s"},
		{Name: "if_in_errors", Walk: "1.3.6.1.2.1.2.2.1.14", Index: "ifDescr", Convert: SNMPConvertRate, Unit: "1/s"},
		{Name: "if_out_errors", Walk: "1.3.6.1.2.1.2.2.1.20", Index: "ifDescr", Convert: SNMPConvertRate, Unit: "1/s"},
		{Name: "if_speed", Walk: "1.3.6.1.2.1.31.1.1.1.15", Index: "ifDescr", Unit: "Mbit/s"},
	}},
	{Name: "host-resources", Doc: "a host's own health through the HOST-RESOURCES-MIB (RFC 2790)", Points: []SNMPPoint{
		{Name: "uptime", OID: "1.3.6.1.2.1.25.1.1.0", Scale: scaleOf(0.01), Unit: "s"},
		{Name: "users", OID: "1.3.6.1.2.1.25.1.5.0"},
		{Name: "processes", OID: "1.3.6.1.2.1.25.1.6.0"},
		{Name: "memory", OID: "1.3.6.1.2.1.25.2.2.0", Unit: "KiB"},
		{Name: "cpu_load", Walk: "1.3.6.1.2.1.25.3.3.1.2", MaxRows: 64, Unit: "%"},
		// In the storage's allocation units (hrStorageAllocationUnits).
		{Name: "storage_size", Walk: "1.3.6.1.2.1.25.2.3.1.5", Index: "hrStorageDescr", MaxRows: 32},
		{Name: "storage_used", Walk: "1.3.6.1.2.1.25.2.3.1.6", Index: "hrStorageDescr", MaxRows: 32},
	}},
}

// SNMPProfiles returns the built-in profiles.
func SNMPProfiles() []SNMPProfile {
	out := cloneSlice(snmpProfiles)
	for i := range out {
		out[i].Points = cloneSlice(out[i].Points)
	}
	return out
}

// FindSNMPProfile returns the built-in profile called name.
func FindSNMPProfile(name string) (SNMPProfile, bool) {
	i := slices.IndexFunc(snmpProfiles, func(p SNMPProfile) bool { return p.Name == name })
	if i < 0 {
		return SNMPProfile{}, false
	}
	p := snmpProfiles[i]
	p.Points = cloneSlice(p.Points)
	return p, true
}

func snmpProfileNames() []string {
	out := make([]string, 0, len(snmpProfiles))
	for _, p := range snmpProfiles {
		out = append(out, p.Name)
	}
	return out
}

// EffectivePoints returns the device's points: its profile's, then its
// own (one with a profile point's name replaces that one).
func (d SNMPDevice) EffectivePoints() []SNMPPoint {
	p, ok := FindSNMPProfile(d.Profile)
	if !ok {
		return d.Points
	}
	out := make([]SNMPPoint, 0, len(p.Points)+len(d.Points))
	for _, pt := range p.Points {
		if !slices.ContainsFunc(d.Points, func(own SNMPPoint) bool { return own.Name == pt.Name }) {
			out = append(out, pt)
		}
	}
	return append(out, d.Points...)
}

func checkSNMPProfile(v *problems, path, name string) {
	if name == "" {
		return
	}
	if _, ok := FindSNMPProfile(name); !ok {
		v.add(path, "unknown SNMP profile %q (built in: %s)%s", name, strings.Join(snmpProfileNames(), ", "), didYouMean(name, snmpProfileNames()))
	}
}
