package device

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// enumValue is what every enum of the package provides.
type enumValue interface {
	~uint8
	String() string
	MarshalText() ([]byte, error)
}

// checkEnum runs the common enum table: every name parses, prints and
// round-trips through JSON and YAML; bad names fail listing the valid ones;
// values without a name print as Type(n) and refuse to marshal.
func checkEnum[T enumValue, PT interface {
	*T
	UnmarshalText([]byte) error
}](t *testing.T, typ string, parse func(string) (T, error), names []string, first T) {
	t.Helper()
	for i, name := range names {
		want := first + T(i)
		got, err := parse(name)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", name, got, err, want)
		}
		if got, err := parse(strings.ToUpper(name)); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v (case is ignored)", strings.ToUpper(name), got, err, want)
		}
		if s := want.String(); s != name {
			t.Errorf("%s(%d).String() = %q, want %q", typ, uint8(want), s, name)
		}
		text, err := want.MarshalText()
		if err != nil || string(text) != name {
			t.Errorf("MarshalText(%v) = %q, %v", want, text, err)
		}
		var back T
		if err := PT(&back).UnmarshalText(text); err != nil || back != want {
			t.Errorf("UnmarshalText(%q) = %v, %v", text, back, err)
		}

		type doc struct {
			V T `json:"v" yaml:"v"`
		}
		j, err := json.Marshal(doc{want})
		if err != nil || string(j) != `{"v":"`+name+`"}` {
			t.Errorf("json.Marshal = %s, %v", j, err)
		}
		var jd doc
		if err := json.Unmarshal(j, &jd); err != nil || jd.V != want {
			t.Errorf("json.Unmarshal(%s) = %v, %v", j, jd.V, err)
		}
		y, err := yaml.Marshal(doc{want})
		if err != nil {
			t.Fatalf("yaml.Marshal: %v", err)
		}
		var yd doc
		if err := yaml.Unmarshal(y, &yd); err != nil || yd.V != want {
			t.Errorf("yaml round trip of %v via %q = %v, %v", want, y, yd.V, err)
		}
	}

	_, err := parse("no-such-value")
	if err == nil {
		t.Fatalf("Parse(bad) succeeded")
	}
	if !strings.Contains(err.Error(), `"no-such-value"`) || !strings.Contains(err.Error(), "valid: "+strings.Join(names, ", ")) {
		t.Errorf("Parse(bad) error %q does not name the value and list %v", err, names)
	}
	var v T
	if err := PT(&v).UnmarshalText([]byte("no-such-value")); err == nil {
		t.Errorf("UnmarshalText(bad) succeeded")
	}

	bad := first + T(len(names))
	if s := bad.String(); s != typ+"("+strconv.Itoa(int(bad))+")" {
		t.Errorf("out-of-range String() = %q", s)
	}
	if _, err := bad.MarshalText(); err == nil {
		t.Errorf("MarshalText(out of range) succeeded")
	}
}

func TestEnums(t *testing.T) {
	tests := []struct {
		typ string
		run func(t *testing.T)
	}{
		{"RegisterTable", func(t *testing.T) {
			checkEnum(t, "RegisterTable", ParseRegisterTable, []string{"coil", "discrete", "input", "holding"}, TableCoil)
		}},
		{"DataType", func(t *testing.T) {
			checkEnum(t, "DataType", ParseDataType, []string{"bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"}, TypeBool)
		}},
		{"ByteOrder", func(t *testing.T) {
			checkEnum(t, "ByteOrder", ParseByteOrder, []string{"ABCD", "CDAB", "BADC", "DCBA"}, OrderABCD)
		}},
		{"Parity", func(t *testing.T) {
			checkEnum(t, "Parity", ParseParity, []string{"none", "even", "odd"}, ParityNone)
		}},
		{"BusKind", func(t *testing.T) {
			checkEnum(t, "BusKind", ParseBusKind, []string{"rtu", "tcp"}, BusRTU)
		}},
		{"LinkKind", func(t *testing.T) {
			checkEnum(t, "LinkKind", ParseLinkKind, []string{"cellular", "ethernet", "wifi"}, LinkCellular)
		}},
		{"Role", func(t *testing.T) {
			checkEnum(t, "Role", ParseRole, []string{"admin", "installer", "support", "viewer"}, RoleAdmin)
		}},
		{"WiFiSecurity", func(t *testing.T) {
			checkEnum(t, "WiFiSecurity", ParseWiFiSecurity, []string{"wpa2-psk", "wpa3-sae"}, SecurityWPA2PSK)
		}},
		{"LoRaRegion", func(t *testing.T) {
			checkEnum(t, "LoRaRegion", ParseLoRaRegion, []string{"EU868", "US915", "CN779", "EU433", "AU915", "CN470", "AS923", "AS923-2", "AS923-3", "AS923-4", "KR920", "IN865", "RU864"}, RegionEU868)
		}},
		{"Rotate", func(t *testing.T) {
			checkEnum(t, "Rotate", ParseRotate, []string{"off", "weekly"}, RotateOff)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, tt.run)
	}
}

// TestEnumUnset checks that the zero value of enums without a zero name is
// "not set": it prints and marshals as "" and reads back from "".
func TestEnumUnset(t *testing.T) {
	var table RegisterTable
	if table.String() != "" {
		t.Errorf("unset String() = %q", table.String())
	}
	if text, err := table.MarshalText(); err != nil || len(text) != 0 {
		t.Errorf("unset MarshalText = %q, %v", text, err)
	}
	table = TableHolding
	if err := table.UnmarshalText(nil); err != nil || table != 0 {
		t.Errorf("UnmarshalText(empty) = %v, %v", table, err)
	}
	if _, err := ParseRole(""); err == nil {
		t.Errorf(`ParseRole("") succeeded`)
	}
	var order ByteOrder
	if order.String() != "ABCD" {
		t.Errorf("zero ByteOrder = %q, want ABCD", order)
	}
}

func TestDataTypeRegisters(t *testing.T) {
	want := map[DataType]int{
		0: 0, TypeBool: 1, TypeInt16: 1, TypeUint16: 1, TypeInt32: 2, TypeUint32: 2, TypeFloat32: 2,
		TypeInt64: 4, TypeUint64: 4, TypeFloat64: 4, DataType(99): 0,
	}
	for typ, n := range want {
		if got := typ.Registers(); got != n {
			t.Errorf("%v.Registers() = %d, want %d", typ, got, n)
		}
	}
}

func TestRegisterTableKinds(t *testing.T) {
	for _, tt := range []struct {
		t               RegisterTable
		bit, isWritable bool
	}{
		{TableCoil, true, true},
		{TableDiscrete, true, false},
		{TableInput, false, false},
		{TableHolding, false, true},
	} {
		if tt.t.IsBit() != tt.bit || tt.t.Writable() != tt.isWritable {
			t.Errorf("%v: IsBit %v Writable %v", tt.t, tt.t.IsBit(), tt.t.Writable())
		}
	}
}
