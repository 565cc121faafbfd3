package device

import (
	"fmt"
	"strings"
)

// Edits of the SNMP section made from a walk: the console's walk browser
// adds the OIDs an installer picked as scalar points. The change is
// validated as a whole when it is applied; this only keeps the names
// right.

// MaxSNMPPointsAdded bounds the points one add-from-walk makes.
const MaxSNMPPointsAdded = 256

// snmpOIDNames name the scalars of the system group (RFC 3418), which
// every agent has, for points picked from a walk; other OIDs are named
// after their number.
var snmpOIDNames = map[string]string{
	"1.3.6.1.2.1.1.1": "sys_descr", "1.3.6.1.2.1.1.2": "sys_object_id", "1.3.6.1.2.1.1.3": "sys_uptime",
	"1.3.6.1.2.1.1.4": "sys_contact", "1.3.6.1.2.1.1.5": "sys_name", "1.3.6.1.2.1.1.6": "sys_location",
	"1.3.6.1.2.1.1.7": "sys_services",
}

// SNMPPointName names a point reading the scalar instance oid: the
// system group's by name (sys_uptime), others by their number under
// mib-2 (mib2-33.1.2.4.0) or in full (oid-1.3.6.1.4.1.…), cut to
// MaxNameLength from the left, where OIDs differ.
func SNMPPointName(oid string) string {
	oid = strings.TrimPrefix(oid, ".")
	if base, inst, ok := strings.Cut(oid, ".0"); ok && inst == "" {
		if n, ok := snmpOIDNames[base]; ok {
			return n
		}
	}
	name := "oid-" + oid
	if rest, ok := strings.CutPrefix(oid, "1.3.6.1.2.1."); ok {
		name = "mib2-" + rest
	}
	if len(name) > MaxNameLength {
		name = name[len(name)-MaxNameLength:]
	}
	return strings.TrimLeft(name, ".")
}

// AddSNMPPoints adds scalar points reading oids to SNMP device name; an
// OID the device reads already is skipped, and names are made unique
// within the device. It returns the names added.
func (s *Site) AddSNMPPoints(name string, oids []string) ([]string, error) {
	i := -1
	for j, d := range s.SNMP.Devices {
		if d.Name == name {
			i = j
		}
	}
	if i < 0 {
		return nil, fmt.Errorf("no SNMP device %q in the site", name)
	}
	if len(oids) > MaxSNMPPointsAdded {
		return nil, fmt.Errorf("device %s: %d points at once; add at most %d, then the rest", name, len(oids), MaxSNMPPointsAdded)
	}
	d := &s.SNMP.Devices[i]
	taken, reads := map[string]bool{}, map[string]bool{}
	for _, p := range d.Points {
		taken[p.Name], reads[strings.TrimPrefix(p.OID, ".")] = true, true
	}
	var added []string
	for _, o := range oids {
		oid, err := ParseOID(o)
		if err != nil {
			return nil, err
		}
		if reads[oid] {
			continue
		}
		p := SNMPPoint{Name: UniqueName(SNMPPointName(oid), taken), OID: oid}
		taken[p.Name], reads[oid] = true, true
		d.Points = append(d.Points, p)
		added = append(added, p.Name)
	}
	return added, nil
}
