package device

import (
	"strings"
	"testing"
)

func TestSNMPPointNames(t *testing.T) {
	for oid, want := range map[string]string{
		"1.3.6.1.2.1.1.5.0":         "sys_name",
		".1.3.6.1.2.1.1.3.0":        "sys_uptime",
		"1.3.6.1.2.1.33.1.2.1.0":    "mib2-33.1.2.1.0",
		"1.3.6.1.4.1.318.1.1.1.2.2": "oid-1.3.6.1.4.1.318.1.1.1.2.2",
		"1.3.6.1.2.1.1.5.1":         "mib2-1.5.1", // not the scalar instance
	} {
		if got := SNMPPointName(oid); got != want {
			t.Errorf("SNMPPointName(%s) = %s, want %s", oid, got, want)
		}
	}
	long := "1.3.6.1.4.1." + strings.Repeat("12345.", 20) + "0"
	if n := SNMPPointName(long); len(n) > MaxNameLength || !strings.HasSuffix(n, ".0") {
		t.Errorf("a long OID's name %q", n)
	}
	s := &Site{SNMP: SNMP{Devices: []SNMPDevice{{Name: "ups", Points: []SNMPPoint{{Name: "sys_name", OID: "1.3.6.1.2.1.1.5.0"}}}}}}
	added, err := s.AddSNMPPoints("ups", []string{"1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0", ".1.3.6.1.2.1.1.3.0"})
	if err != nil || strings.Join(added, " ") != "sys_uptime" {
		t.Fatalf("added %v %v", added, err)
	}
	if _, err := s.AddSNMPPoints("nope", nil); err == nil {
		t.Fatal("a device not in the site")
	}
	if _, err := s.AddSNMPPoints("ups", []string{"not.an.oid"}); err == nil {
		t.Fatal("a bad OID")
	}
}
