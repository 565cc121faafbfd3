package snmp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
)

// interopPoints are points every snmpd has: sysUpTime, sysName (as text,
// the example point), and the interface table walked by ifDescr
// (loopback is always there): operational state as a bool, input octets
// as a rate; then sysName again through an enum.
func interopPoints() []device.SNMPPoint {
	return []device.SNMPPoint{
		{Name: "uptime", OID: snmptest.SysUpTimeOID, Scale: ptr(0.01), Unit: "s"},
		{Name: "sysname", OID: snmptest.SysNameOID},
		{Name: "oper", Walk: snmptest.IfOperStatusOID, Index: "ifDescr", Convert: device.SNMPConvertEnum,
			Enum: []device.SNMPEnum{{Agent: "1", Value: "true"}, {Agent: "2", Value: "false"}, {Agent: "7", Value: "false"}}},
		{Name: "in", Walk: snmptest.IfInOctetsOID, Index: "ifDescr", Convert: device.SNMPConvertRate, Unit: "B/s"},
		{Name: "known", OID: snmptest.SysNameOID, Convert: device.SNMPConvertEnum, Enum: []device.SNMPEnum{{Agent: snmptest.AgentName, Value: "1"}}},
	}
}

// isName reports whether r is sysName read as text.
func isName(r field.Reading) bool {
	return r.Quality == field.QualityGood && r.Value.IsText && r.Value.Text == snmptest.AgentName
}

func ptr[T any](v T) *T { return &v }

func reading(gw *device.Gateway, dev, point string) (field.Reading, bool) {
	rs, _ := gw.Readings(dev)
	for _, r := range rs {
		if r.Point == point {
			return r, true
		}
	}
	return field.Reading{}, false
}

func status(gw *device.Gateway, dev string) field.Status {
	st, _ := gw.Field().Status(dev)
	return st
}

// A v2c agent is polled: scalars, enum text, walked rows named by ifDescr,
// counter rates from the second cycle on; the device is online.
func TestInteropV2c(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{v2c("agent", addr, interopPoints()...),
		// One point the agent does not have: degraded, never online.
		v2c("partial", addr, interopPoints()[0], device.SNMPPoint{Name: "missing", OID: "1.3.6.1.2.1.1.99.0"}),
		// No points: probed with sysUpTime.0, online because it answers.
		v2c("bare", addr)}
	f := startGateway(t, site, snmp.Options{})

	devicetest.Eventually(t, wait, "the agent online with a rate", func() bool {
		r, ok := reading(f.gw, "agent", "in.lo")
		return status(f.gw, "agent").State == field.StateOnline && ok && r.Quality == field.QualityGood && r.Value.Valid
	})
	up, _ := reading(f.gw, "agent", "uptime")
	name, _ := reading(f.gw, "agent", "sysname")
	known, _ := reading(f.gw, "agent", "known")
	oper, _ := reading(f.gw, "agent", "oper.lo")
	if !up.Value.Valid || up.Value.Num <= 0 || up.Unit != "s" || !isName(name) || known.Value.Num != 1 || !oper.Value.IsBool || !oper.Value.Bool {
		t.Fatalf("uptime %+v sysname %+v known %+v oper.lo %+v", up, name, known, oper)
	}
	if in, _ := reading(f.gw, "agent", "in.lo"); in.Value.Num < 0 || in.Unit != "B/s" {
		t.Fatalf("in.lo %+v", in)
	}
	devicetest.Eventually(t, wait, "partial degraded", func() bool {
		r, _ := reading(f.gw, "partial", "missing")
		return status(f.gw, "partial").State == field.StateDegraded && r.Quality == field.QualityError && strings.Contains(r.Error, "no such object")
	})
	devicetest.Eventually(t, wait, "bare online", func() bool {
		st := status(f.gw, "bare")
		return st.State == field.StateOnline && st.Requests > 0
	})
	if h := f.gw.Health().Field.Protocols["snmp"]; h.DevicesTotal != 3 || h.DevicesOnline != 2 {
		t.Fatalf("health field.protocols.snmp = %+v", h)
	}
	st := status(f.gw, "agent")
	if st.Protocol != field.SNMP || st.Bus != addr || st.Requests == 0 || st.SuccessRate != 1 || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}

	// On demand, through the field layer: one walk row by its name.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	rs, err := f.gw.Field().Read(ctx, "agent", []string{"oper.lo"})
	if err != nil || len(rs) != 1 || rs[0].Point != "oper.lo" || !rs[0].Value.Bool {
		t.Fatalf("Read = %+v, %v", rs, err)
	}
	if _, err := f.gw.Field().Read(ctx, "agent", []string{"nope"}); err == nil {
		t.Fatal("Read of an unknown point succeeded")
	}

	// snmp get: more OIDs than one request carries, in order.
	oids := make([]string, 0, snmp.MaxOIDsPerRequest+4)
	for range snmp.MaxOIDsPerRequest + 3 {
		oids = append(oids, snmptest.SysNameOID)
	}
	oids = append(oids, "1.3.6.1.2.1.1.6.0")
	vars, err := f.drv.Get(ctx, "agent", oids)
	if err != nil || len(vars) != len(oids) || vars[0].Text != snmptest.AgentName || vars[len(vars)-1].Text != snmptest.AgentPlace || vars[0].Type != "OctetString" {
		t.Fatalf("Get = %+v, %v", vars, err)
	}
	vars, err = f.drv.Get(ctx, "agent", []string{"1.3.6.1.2.1.1.99.0"})
	if err != nil || len(vars) != 1 || vars[0].Type != "noSuchObject" {
		t.Fatalf("Get of a missing object = %+v, %v", vars, err)
	}

	// snmp walk: bounded, and it says so.
	vars, truncated, err := f.drv.Walk(ctx, "agent", "1.3.6.1.2.1", 7)
	if err != nil || len(vars) != 7 || !truncated {
		t.Fatalf("Walk bounded = %d vars, truncated %v, %v", len(vars), truncated, err)
	}
	vars, truncated, err = f.drv.Walk(ctx, "agent", "1.3.6.1.2.1.1", snmp.MaxWalkRows)
	if err != nil || truncated || len(vars) < 7 || vars[0].OID != "1.3.6.1.2.1.1.1.0" {
		t.Fatalf("Walk of system = %+v, truncated %v, %v", vars, truncated, err)
	}
}

// v3 authPriv against snmpd's own users: SHA-256 with AES-128, and
// SHA-512 with AES-256 (net-snmp's Blumenthal key extension).
func TestInteropV3(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{
		v3("ups-256", addr, sha256aes128(), interopPoints()...),
		v3("ups-512", addr, sha512aes256(), interopPoints()[:2]...),
	}
	f := startGateway(t, site, snmp.Options{})
	for _, dev := range []string{"ups-256", "ups-512"} {
		devicetest.Eventually(t, wait, dev+" online", func() bool {
			r, ok := reading(f.gw, dev, "sysname")
			return status(f.gw, dev).State == field.StateOnline && ok && isName(r)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	vars, truncated, err := f.drv.Walk(ctx, "ups-256", snmptest.IfDescrOID, 100)
	if err != nil || truncated || len(vars) == 0 || vars[0].Text != "lo" {
		t.Fatalf("v3 walk = %+v, %v, %v", vars, truncated, err)
	}
}

// Wrong credentials: a clear error and offline, not a hang. v3 is refused
// by the agent and offline at the first cycle; a wrong v2c community gets
// no answer at all, so it is a timeout that names the community, and
// offline after DefaultOfflineAfter cycles.
func TestInteropWrongCredentials(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	badAuth := sha256aes128()
	badAuth.AuthKey = "not-the-key"
	badPriv := sha256aes128()
	badPriv.PrivKey = "not-the-key"
	unknown := sha256aes128()
	unknown.Name = "nobody"
	bad := v2c("bad-community", addr, interopPoints()[:1]...)
	bad.Community = "wrong"
	bad.Retries = ptr(0)
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{
		v3("bad-auth", addr, badAuth, interopPoints()[:1]...),
		v3("bad-priv", addr, badPriv, interopPoints()[:1]...),
		v3("unknown-user", addr, unknown, interopPoints()[:1]...),
		bad,
	}
	f := startGateway(t, site, snmp.Options{})
	for dev, want := range map[string]string{
		"bad-auth":      "refused the SNMPv3 credentials",
		"bad-priv":      "the privacy key", // snmpd does not answer what it cannot decrypt
		"unknown-user":  "unknown user name",
		"bad-community": "the community",
	} {
		if !devicetest.Within(wait, func() bool {
			st := status(f.gw, dev)
			return st.State == field.StateOffline && strings.Contains(st.LastError, want)
		}) {
			t.Errorf("%s not offline with %q: %+v", dev, want, status(f.gw, dev))
			continue
		}
		st := status(f.gw, dev)
		t.Logf("%s: %s (errors %v)", dev, st.LastError, st.Errors)
		if r, _ := reading(f.gw, dev, "uptime"); r.Quality != field.QualityError || r.Error == "" {
			t.Errorf("%s: reading %+v", dev, r)
		}
	}
	if st := status(f.gw, "bad-auth"); st.Errors["auth"] == 0 || st.Requests > 2*uint64(st.Errors["auth"]) {
		t.Errorf("bad-auth errors %v of %d requests", st.Errors, st.Requests)
	}
}

// The driver follows site changes without a restart: a new point is
// read, a removed device forgotten, new credentials used.
func TestInteropFollowsSite(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	site := device.DefaultSite()
	dev := v2c("agent", addr, interopPoints()[:1]...)
	dev.Community = "wrong"
	site.SNMP.Devices = []device.SNMPDevice{dev}
	f := startGateway(t, site, snmp.Options{})
	devicetest.Eventually(t, wait, "failing with the wrong community", func() bool {
		return status(f.gw, "agent").LastError != ""
	})
	f.edit(func(s *device.Site) {
		s.SNMP.Devices[0].Community = snmptest.Community
		s.SNMP.Devices[0].Points = append(s.SNMP.Devices[0].Points, interopPoints()[1])
		s.SNMP.Devices = append(s.SNMP.Devices, v2c("second", addr, interopPoints()[:1]...))
	})
	for _, d := range []string{"agent", "second"} {
		devicetest.Eventually(t, wait, d+" online after the change", func() bool {
			return status(f.gw, d).State == field.StateOnline
		})
	}
	if r, ok := reading(f.gw, "agent", "sysname"); !ok || !isName(r) {
		t.Fatalf("new point %+v", r)
	}
	f.edit(func(s *device.Site) { s.SNMP.Devices = s.SNMP.Devices[:1] })
	devicetest.Eventually(t, wait, "second gone", func() bool {
		_, ok := f.drv.Statuses()["second"]
		return !ok
	})
}

// snmptrap and snmpinform (net-snmp) against the receiver: a linkDown trap
// raises its alert (audited, in health), an inform is acknowledged (the
// tool exits 0 only then), linkUp clears; a wrong community and an
// unknown trap change nothing.
func TestInteropTraps(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	snmptest.Need(t, "snmptrap")
	snmptest.Need(t, "snmpinform")
	site := device.DefaultSite()
	site.SNMP.TrapListen = "127.0.0.1:162" // bound to port 0 by the test's Listen
	site.SNMP.Devices = []device.SNMPDevice{v2c("sw-1", addr)}
	site.SNMP.TrapRules = []device.SNMPTrapRule{
		{Trap: "1.3.6.1.6.3.1.1.5.3", Match: &device.SNMPVarMatch{OID: "1.3.6.1.2.1.2.2.1.1", Value: "2"}, Severity: "critical"},
		{Trap: "1.3.6.1.6.3.1.1.5.4", Action: device.SNMPTrapClear, Alert: "1.3.6.1.6.3.1.1.5.3"},
	}
	f := startGateway(t, site, snmp.Options{})
	f.gw.AddHealthSource(f.drv.FillHealth)
	var to string
	devicetest.Eventually(t, wait, "the receiver listening", func() bool {
		s, ok := f.drv.TrapStats()
		to = s.Listening
		return ok && to != ""
	})
	const linkDown, linkUp = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
	send := func(tool, comm, trapOID string, ifIndex int) error {
		args := []string{"-v2c", "-c", comm, "-t", "1", "-r", "1", to, "", trapOID,
			"1.3.6.1.2.1.2.2.1.1." + strconv.Itoa(ifIndex), "i", strconv.Itoa(ifIndex)}
		cmd := exec.Command(tool, args...)
		cmd.Env = snmptest.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", tool, err, out)
		}
		return nil
	}
	alerted := func() bool {
		for _, a := range f.gw.Health().Alerts {
			if a.Rule == device.SNMPTrapAlertPrefix+linkDown {
				return true
			}
		}
		return false
	}

	// Not matching the varbind rule (ifIndex 1), a wrong community: nothing.
	if err := send("snmptrap", snmptest.Community, linkDown, 1); err != nil {
		t.Fatal(err)
	}
	if err := send("snmptrap", "wrong", linkDown, 2); err != nil {
		t.Fatal(err)
	}
	// v3 traps are not received (see the package doc): dropped, counted.
	v3trap := exec.Command("snmptrap", "-v3", "-u", snmptest.User256, "-l", "authPriv", "-a", "SHA-256", "-A", snmptest.AuthKey256,
		"-x", "AES", "-X", snmptest.PrivKey256, to, "", linkDown, "1.3.6.1.2.1.2.2.1.1.2", "i", "2")
	v3trap.Env = snmptest.Env()
	if out, err := v3trap.CombinedOutput(); err != nil {
		t.Fatalf("snmptrap -v3: %v: %s", err, out)
	}
	if !devicetest.Within(wait, func() bool {
		s, _ := f.drv.TrapStats()
		return s.Accepted == 1 && s.Dropped["community"] == 1 && s.Dropped["version"] == 1
	}) {
		s, _ := f.drv.TrapStats()
		t.Fatalf("trap stats %+v", s)
	}
	if alerted() {
		t.Fatal("alert raised by a trap the rules do not match")
	}

	// An inform of linkDown on ifIndex 2: acknowledged, raises.
	if err := send("snmpinform", snmptest.Community, linkDown, 2); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, wait, "linkDown alert", alerted)
	a := f.drv.Alerts()
	if len(a) != 1 || a[0].Severity != "critical" || !strings.Contains(a[0].Detail, "sw-1: trap "+linkDown) {
		t.Fatalf("alerts %+v", a)
	}
	if s, _ := f.drv.TrapStats(); s.Informs != 1 {
		t.Fatalf("stats %+v", s)
	}

	// linkUp clears.
	if err := send("snmptrap", snmptest.Community, linkUp, 2); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, wait, "alert cleared", func() bool { return !alerted() })

	// The alert clears before its audit event is written: wait for both.
	var trail []string
	devicetest.Eventually(t, wait, "the two trap audit events", func() bool {
		evs, err := f.gw.AuditLog().ListAudit(device.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		trail = trail[:0]
		for _, e := range evs {
			if e.Action == string(device.ActionSNMPTrap) {
				trail = append(trail, e.Target+" "+e.Detail)
			}
		}
		return len(trail) >= 2
	})
	// The cloud hears both changes on the alerts stream, like every alert.
	recs, err := f.gw.Store().Peek(0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var queued []string
	for _, r := range recs {
		if r.Stream == string(device.StreamAlerts) {
			var m struct{ Rule, State string }
			_ = json.Unmarshal(r.Payload, &m)
			queued = append(queued, m.Rule+":"+m.State)
		}
	}
	if want := []string{device.SNMPTrapAlertPrefix + linkDown + ":raised", device.SNMPTrapAlertPrefix + linkDown + ":cleared"}; !slices.Equal(queued, want) {
		t.Errorf("alerts queued for the cloud %v, want %v", queued, want)
	}
	if len(trail) != 2 || !strings.HasPrefix(trail[0], "sw-1 raised") || !strings.HasPrefix(trail[1], "sw-1 cleared") {
		t.Fatalf("audit %q", trail)
	}

	// trap_listen removed: the receiver closes.
	f.edit(func(s *device.Site) { s.SNMP.TrapListen, s.SNMP.TrapRules = "", nil })
	devicetest.Eventually(t, wait, "receiver closed", func() bool { _, ok := f.drv.TrapStats(); return !ok })
}

// The built-in host-resources and if-mib profiles read snmpd's own
// HOST-RESOURCES-MIB and IF-MIB completely: the device is online and
// every row of the walks has its reading. (snmpd has no UPS-MIB; the
// ups-mib profile is only validated.)
func TestInteropProfiles(t *testing.T) {
	addr := snmptest.StartSNMPD(t)
	host := v2c("host", addr)
	host.Profile = "host-resources"
	sw := v2c("switch", addr)
	sw.Profile = "if-mib"
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{host, sw}
	f := startGateway(t, site, snmp.Options{})
	devicetest.Eventually(t, wait, "both online with rates", func() bool {
		r, ok := reading(f.gw, "switch", "if_in.lo")
		return status(f.gw, "host").State == field.StateOnline && status(f.gw, "switch").State == field.StateOnline && ok && r.Value.Valid
	})
	for dev, points := range map[string][]string{
		"host":   {"uptime", "processes", "memory", "storage_size.Physical_memory", "storage_used.Physical_memory"},
		"switch": {"if_up.lo", "if_enabled.lo", "if_in.lo", "if_out.lo", "if_in_errors.lo", "if_speed.lo"},
	} {
		for _, p := range points {
			if r, ok := reading(f.gw, dev, p); !ok || r.Quality != field.QualityGood || !r.Value.Valid {
				rs, _ := f.gw.Readings(dev)
				t.Fatalf("%s.%s = %+v, %v; all: %+v", dev, p, r, ok, rs)
			}
		}
	}
	if r, _ := reading(f.gw, "switch", "if_up.lo"); !r.Value.IsBool || !r.Value.Bool {
		t.Fatalf("lo is not up: %+v", r)
	}
}
