package snmp

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
)

func TestCounterRate(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name      string
		prev, cur sample
		restarted bool
		rate      float64
		ok        bool
	}{
		{"first sample", sample{}, sample{v: 10, bits: 32, at: at(0)}, false, 0, false},
		{"steady 32", sample{v: 1000, bits: 32, at: at(0)}, sample{v: 3000, bits: 32, at: at(10)}, false, 200, true},
		{"no change", sample{v: 7, bits: 64, at: at(0)}, sample{v: 7, bits: 64, at: at(5)}, false, 0, true},
		{"wrap 32", sample{v: math.MaxUint32 - 99, bits: 32, at: at(0)}, sample{v: 100, bits: 32, at: at(2)}, false, 100, true},
		{"wrap 64", sample{v: math.MaxUint64 - 9, bits: 64, at: at(0)}, sample{v: 10, bits: 64, at: at(1)}, false, 20, true},
		{"reset 32: fell by more than half the range", sample{v: 1_000_000_000, bits: 32, at: at(0)}, sample{v: 5, bits: 32, at: at(10)}, false, 0, false},
		{"reset 64", sample{v: 1 << 40, bits: 64, at: at(0)}, sample{v: 5, bits: 64, at: at(10)}, false, 0, false},
		{"agent restarted", sample{v: 10, bits: 32, at: at(0)}, sample{v: 20, bits: 32, at: at(10)}, true, 0, false},
		{"width changed", sample{v: 10, bits: 32, at: at(0)}, sample{v: 20, bits: 64, at: at(10)}, false, 0, false},
		{"no time passed", sample{v: 10, bits: 32, at: at(3)}, sample{v: 20, bits: 32, at: at(3)}, false, 0, false},
		{"clock went back", sample{v: 10, bits: 32, at: at(3)}, sample{v: 20, bits: 32, at: at(1)}, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rate, ok, why := counterRate(tt.prev, tt.cur, tt.restarted)
			if ok != tt.ok || rate != tt.rate || ok == (why != "") {
				t.Fatalf("counterRate = %v, %v, %q; want %v, %v", rate, ok, why, tt.rate, tt.ok)
			}
		})
	}
}

func TestDecodeAndConvert(t *testing.T) {
	scale := 0.5
	tests := []struct {
		name  string
		pdu   gosnmp.SnmpPDU
		point device.SNMPPoint
		text  string
		want  field.Value
		err   error
	}{
		{"integer", gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.2.2.1.8.1", Type: gosnmp.Integer, Value: 2}, device.SNMPPoint{}, "2", field.Number(2), nil},
		{"gauge scaled", gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.33.1.2.4.0", Type: gosnmp.Gauge32, Value: uint(95)}, device.SNMPPoint{Scale: &scale}, "95", field.Number(47.5), nil},
		{"timeticks", gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(12345)}, device.SNMPPoint{}, "12345", field.Number(12345), nil},
		{"counter64 text keeps every digit", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Counter64, Value: uint64(18446744073709551615)}, device.SNMPPoint{}, "18446744073709551615", field.Number(18446744073709551615), nil},
		{"numeric text", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte(" 23.5 ")}, device.SNMPPoint{}, " 23.5 ", field.Number(23.5), nil},
		{"text", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte("lab")}, device.SNMPPoint{}, "lab", field.Text("lab"), nil},
		{"text scaled", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte("lab")}, device.SNMPPoint{Scale: &scale}, "lab", field.Value{}, ErrNotNumber},
		{"numeric text kept as text", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte("000123")}, device.SNMPPoint{Convert: device.SNMPConvertText}, "000123", field.Text("000123"), nil},
		{"integer as text", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Integer, Value: 7}, device.SNMPPoint{Convert: device.SNMPConvertText}, "7", field.Text("7"), nil},
		{"sysObjectID", gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.2.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072.3.2.10"}, device.SNMPPoint{}, "1.3.6.1.4.1.8072.3.2.10", field.Text("1.3.6.1.4.1.8072.3.2.10"), nil},
		{"escape sequences never reach a terminal", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte("a\x1b[2Jb")}, device.SNMPPoint{Convert: device.SNMPConvertText}, "61:1b:5b:32:4a:62", field.Text("61:1b:5b:32:4a:62"), nil},
		{"null", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Null}, device.SNMPPoint{}, "null", field.Value{}, ErrNotNumber},
		{"hwaddr", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte{0x00, 0x16, 0x3e, 0x01, 0x02, 0xff}}, device.SNMPPoint{Convert: device.SNMPConvertHWAddr}, "00:16:3e:01:02:ff", field.Number(0x00163e0102ff), nil},
		{"hwaddr empty", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte{}}, device.SNMPPoint{Convert: device.SNMPConvertHWAddr}, "", field.Value{}, ErrNotHWAddr},
		{"enum int", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Integer, Value: 1}, device.SNMPPoint{Convert: device.SNMPConvertEnum, Enum: []device.SNMPEnum{{Agent: "1", Value: "true"}}}, "1", field.Boolean(true), nil},
		{"enum text", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte("onBattery")}, device.SNMPPoint{Convert: device.SNMPConvertEnum, Enum: []device.SNMPEnum{{Agent: "onBattery", Value: "3"}}}, "onBattery", field.Number(3), nil},
		{"enum miss", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Integer, Value: 5}, device.SNMPPoint{Convert: device.SNMPConvertEnum, Enum: []device.SNMPEnum{{Agent: "1", Value: "1"}}}, "5", field.Value{}, ErrNotInEnum},
		{"oid enum", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072"}, device.SNMPPoint{Convert: device.SNMPConvertEnum, Enum: []device.SNMPEnum{{Agent: "1.3.6.1.4.1.8072", Value: "1"}}}, "1.3.6.1.4.1.8072", field.Number(1), nil},
		{"binary as hex", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte{0xff, 0x00, 0x01}}, device.SNMPPoint{}, "ff:00:01", field.Text("ff:00:01"), nil},
		{"no such instance", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.NoSuchInstance}, device.SNMPPoint{}, "noSuchInstance", field.Value{}, ErrNoSuchObject},
		{"ip address", gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.IPAddress, Value: "10.0.0.1"}, device.SNMPPoint{}, "10.0.0.1", field.Text("10.0.0.1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := decodeVar(tt.pdu)
			if v.Text != tt.text || v.OID == "" || v.OID[0] == '.' {
				t.Fatalf("decodeVar = %+v", v)
			}
			got, err := convertValue(v, tt.point)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("convertValue = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// The walk browser offers numbers and texts as points, not missing
// objects or Nulls.
func TestReadable(t *testing.T) {
	for _, tt := range []struct {
		pdu  gosnmp.SnmpPDU
		want bool
	}{
		{gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Integer, Value: 2}, true},
		{gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.OctetString, Value: []byte("lab")}, true},
		{gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6"}, true},
		{gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.IPAddress, Value: "10.0.0.1"}, true},
		{gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.Null}, false},
		{gosnmp.SnmpPDU{Name: ".1.3", Type: gosnmp.NoSuchObject}, false},
	} {
		if got := decodeVar(tt.pdu).Readable(); got != tt.want {
			t.Errorf("%v: Readable = %v", tt.pdu.Type, got)
		}
	}
}

func TestRowPointName(t *testing.T) {
	seen := map[string]bool{}
	for _, tt := range []struct{ label, suffix, want string }{
		{"eth0", "2", "in.eth0"},
		{"Intel Corp. 82574L", "3", "in.Intel_Corp._82574L"},
		{"eth0", "4", "in.eth0.4"}, // a label two rows share gets the index
		{"", "5", "in.5"},
		{"   ", "6.1", "in.6.1"},
	} {
		got := rowPointName("in", tt.label, tt.suffix, seen)
		seen[got] = true
		if got != tt.want {
			t.Errorf("rowPointName(%q, %q) = %q; want %q", tt.label, tt.suffix, got, tt.want)
		}
	}
	long := rowPointName("a_long_point_name_of_forty_characters___", "a label far longer than the room that is left", "12", map[string]bool{})
	if len(long) > device.MaxNameLength {
		t.Errorf("%q is longer than %d", long, device.MaxNameLength)
	}
}

func TestCompareOID(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.3.6.1", "1.3.6.1", 0},
		{"1.3.6.1.2", "1.3.6.1", 1},
		{"1.3.6.10", "1.3.6.9", 1},
		{"1.3.6.1", "1.3.6.1.0", -1},
		{"1.3.7", "1.3.6.1.2", 1},
	} {
		if got := compareOID(tt.a, tt.b); got != tt.want {
			t.Errorf("compareOID(%s, %s) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// Trap rules: the trap OID, the device, and a varbind at or below the
// match OID with the value written as `snmp get` writes it.
func TestMatchRule(t *testing.T) {
	rules := []device.SNMPTrapRule{
		{Trap: "1.3.6.1.6.3.1.1.5.3", Device: "sw-2", Severity: "info"},
		{Trap: ".1.3.6.1.6.3.1.1.5.3", Match: &device.SNMPVarMatch{OID: "1.3.6.1.2.1.2.2.1.1", Value: "2"}},
		{Trap: "1.3.6.1.6.3.1.1.5.4", Action: device.SNMPTrapClear, Alert: "1.3.6.1.6.3.1.1.5.3"},
	}
	trap := func(dev, oid string, vars ...Var) Trap { return Trap{Device: dev, OID: oid, Vars: vars} }
	ifIndex := func(i string) Var { return Var{OID: "1.3.6.1.2.1.2.2.1.1." + i, Text: i} }
	for _, tt := range []struct {
		name string
		t    Trap
		rule int // -1: none
	}{
		{"device rule first", trap("sw-2", "1.3.6.1.6.3.1.1.5.3", ifIndex("2")), 0},
		{"varbind match", trap("sw-1", "1.3.6.1.6.3.1.1.5.3", ifIndex("2")), 1},
		{"varbind value differs", trap("sw-1", "1.3.6.1.6.3.1.1.5.3", ifIndex("3")), -1},
		{"varbind missing", trap("sw-1", "1.3.6.1.6.3.1.1.5.3"), -1},
		{"prefix is not a parent", trap("sw-1", "1.3.6.1.6.3.1.1.5.3", Var{OID: "1.3.6.1.2.1.2.2.1.10.2", Text: "2"}), -1},
		{"clear rule", trap("sw-1", "1.3.6.1.6.3.1.1.5.4"), 2},
		{"unknown trap", trap("sw-1", "1.3.6.1.6.3.1.1.5.1"), -1},
	} {
		r, ok := matchRule(tt.t, rules)
		switch {
		case tt.rule < 0 && ok:
			t.Errorf("%s: matched %+v", tt.name, r)
		case tt.rule >= 0 && (!ok || r.Trap != rules[tt.rule].Trap || r.Device != rules[tt.rule].Device || r.Action != rules[tt.rule].Action):
			t.Errorf("%s: got %+v, %v; want rule %d", tt.name, r, ok, tt.rule)
		}
	}
	if rules[2].AlertOID() != "1.3.6.1.6.3.1.1.5.3" || rules[1].AlertOID() != "1.3.6.1.6.3.1.1.5.3" {
		t.Error("AlertOID")
	}
}
