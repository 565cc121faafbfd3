package payload

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The examples of the Cayenne LPP documentation.
func TestCayenneGolden(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want []Value
	}{
		{"03 67 01 10 05 67 00 ff", []Value{{"temperature_3", 27.2, "degC"}, {"temperature_5", 25.5, "degC"}}},
		{"01 67 ff d7", []Value{{"temperature_1", -4.1, "degC"}}},
		{"06 71 04 d2 fb 2e 00 00", []Value{{"accelerometer_6_x", 1.234, "g"}, {"accelerometer_6_y", -1.234, "g"}, {"accelerometer_6_z", 0, "g"}}},
		{"01 88 06 76 5f f2 96 0a 00 03 e8", []Value{{"gps_1_latitude", 42.3519, "deg"}, {"gps_1_longitude", -87.9094, "deg"}, {"gps_1_altitude", 10, "m"}}},
		{"01 67 01 10 02 68 50", []Value{{"temperature_1", 27.2, "degC"}, {"humidity_2", 40, "%"}}},
		{"", nil},
	} {
		got, err := CayenneLPP{}.Decode(1, unhex(t, tc.hex))
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%s: %v, %v", tc.hex, got, err)
		}
		for i := range got {
			if got[i].Name != tc.want[i].Name || !near(got[i].Value, tc.want[i].Value) || got[i].Unit != tc.want[i].Unit {
				t.Fatalf("%s: value %d = %+v, want %+v", tc.hex, i, got[i], tc.want[i])
			}
		}
	}
}

// Every type decodes with its size, sign and scale.
func TestCayenneAllTypes(t *testing.T) {
	all := []struct {
		code  byte
		bytes string
		names []string
		vals  []float64
	}{
		{0, "01", []string{"digital_input_9"}, []float64{1}},
		{1, "00", []string{"digital_output_9"}, []float64{0}},
		{2, "ff9c", []string{"analog_input_9"}, []float64{-1}},
		{3, "0064", []string{"analog_output_9"}, []float64{1}},
		{100, "ffffffff", []string{"generic_sensor_9"}, []float64{4294967295}},
		{101, "ffff", []string{"illuminance_9"}, []float64{65535}},
		{102, "01", []string{"presence_9"}, []float64{1}},
		{103, "8000", []string{"temperature_9"}, []float64{-3276.8}},
		{104, "c9", []string{"humidity_9"}, []float64{100.5}},
		{113, "0001ffff8000", []string{"accelerometer_9_x", "accelerometer_9_y", "accelerometer_9_z"}, []float64{0.001, -0.001, -32.768}},
		{115, "2775", []string{"barometer_9"}, []float64{1010.1}},
		{116, "04b0", []string{"voltage_9"}, []float64{12}},
		{117, "03e8", []string{"current_9"}, []float64{1}},
		{118, "00000032", []string{"frequency_9"}, []float64{50}},
		{120, "64", []string{"percentage_9"}, []float64{100}},
		{121, "ff38", []string{"altitude_9"}, []float64{-200}},
		{125, "0190", []string{"concentration_9"}, []float64{400}},
		{128, "0fa0", []string{"power_9"}, []float64{4000}},
		{130, "000003e8", []string{"distance_9"}, []float64{1}},
		{131, "00002710", []string{"energy_9"}, []float64{10}},
		{132, "0168", []string{"direction_9"}, []float64{360}},
		{133, "5f5e1000", []string{"unixtime_9"}, []float64{1600000000}},
		{134, "00640000ff9c", []string{"gyrometer_9_x", "gyrometer_9_y", "gyrometer_9_z"}, []float64{1, 0, -1}},
		{135, "ff8000", []string{"colour_9_r", "colour_9_g", "colour_9_b"}, []float64{255, 128, 0}},
		{136, "ffffff000001ffff9c", []string{"gps_9_latitude", "gps_9_longitude", "gps_9_altitude"}, []float64{-0.0001, 0.0001, -1}},
		{142, "01", []string{"switch_9"}, []float64{1}},
	}
	if len(all) != len(lppTypes) {
		t.Fatalf("%d cases for %d types", len(all), len(lppTypes))
	}
	for _, c := range all {
		b := append([]byte{9, c.code}, unhex(t, c.bytes)...)
		got, err := CayenneLPP{}.Decode(0, b)
		if err != nil || len(got) != len(c.names) {
			t.Fatalf("type %d: %v, %v", c.code, got, err)
		}
		for i := range got {
			if got[i].Name != c.names[i] || !near(got[i].Value, c.vals[i]) {
				t.Fatalf("type %d: %+v, want %s = %v", c.code, got[i], c.names[i], c.vals[i])
			}
		}
		// Cut short by one byte, it is refused whole.
		if _, err := (CayenneLPP{}).Decode(0, b[:len(b)-1]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("type %d truncated: %v", c.code, err)
		}
	}
}

func TestCayenneRefuses(t *testing.T) {
	if _, err := (CayenneLPP{}).Decode(1, []byte{1}); !errors.Is(err, ErrTruncated) {
		t.Fatal(err)
	}
	v, err := CayenneLPP{}.Decode(1, []byte{1, 0x67, 0, 1, 2, 240, 1})
	if !errors.Is(err, ErrUnknownType) || v != nil || !strings.Contains(err.Error(), "type 240 on channel 2") {
		t.Fatalf("%v, %v", v, err)
	}
}

func TestLPPBuilder(t *testing.T) {
	b := LPP{}.Temperature(1, 21.37).Humidity(2, 45.5).Barometer(3, 1013.2).Illuminance(4, 300).DigitalInput(5, 1).AnalogInput(6, -2.5).GPS(7, 48.8566, 2.3522, 35)
	got, err := CayenneLPP{}.Decode(1, b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"temperature_1": 21.4, "humidity_2": 45.5, "barometer_3": 1013.2, "illuminance_4": 300, "digital_input_5": 1,
		"analog_input_6": -2.5, "gps_7_latitude": 48.8566, "gps_7_longitude": 2.3522, "gps_7_altitude": 35}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for _, v := range got {
		if !near(v.Value, want[v.Name]) {
			t.Fatalf("%s = %v, want %v", v.Name, v.Value, want[v.Name])
		}
	}
}

func TestDeclarative(t *testing.T) {
	c, err := NewDeclarative("acme-th", []Field{
		{Name: "temperature", Byte: 0, Type: Int16, Scale: 0.01, Unit: "degC"},
		{Name: "humidity", Byte: 2, Type: Uint8, Scale: 0.5},
		{Name: "battery_mv", Byte: 3, Type: Uint16, Order: LittleEndian},
		{Name: "door_open", Byte: 5, Type: Uint8, Mask: 0x04},
		{Name: "mode", Byte: 5, Type: Uint8, Mask: 0xf0},
		{Name: "counter", Byte: 6, Type: Uint32},
		{Name: "level", Byte: 10, Type: Float32, Order: LittleEndian, Offset: -1},
		{Name: "delta", Byte: 14, Type: Int32, Order: LittleEndian},
		{Name: "raw", Byte: 18, Type: Int8},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := unhex(t, "f830"+"5a"+"e40c"+"36"+"00010000"+"0000c03f"+"feffffff"+"80")
	got, err := c.Decode(2, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{-20, 45, 3300, 1, 3, 65536, 0.5, -2, -128}
	for i, v := range got {
		if !near(v.Value, want[i]) {
			t.Fatalf("%s = %v, want %v", v.Name, v.Value, want[i])
		}
	}
	if got[0].Unit != "degC" || c.Name() != "acme-th" || len(c.Fields()) != 9 {
		t.Fatalf("%+v", got[0])
	}
	_, err = c.Decode(2, b[:18])
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "fields[8] (raw)") {
		t.Fatalf("truncated: %v", err)
	}
}

func TestDeclarativeValidation(t *testing.T) {
	ps := Validate("", []Field{
		{Name: "ok", Byte: 0, Type: Uint8},
		{Name: "ok", Byte: 1, Type: Uint8},                   // 1 duplicate
		{Name: "Bad Name", Byte: -1, Type: 0, Order: 7},      // 2 name, type, order, byte
		{Name: "f", Byte: 240, Type: Uint32},                 // 3 beyond the payload
		{Name: "g", Byte: 0, Type: Float32, Mask: 1},         // 4 masked float
		{Name: "h", Byte: 0, Type: Uint8, Mask: 0x100},       // 5 mask too wide
		{Name: "i", Byte: 0, Type: Int16, Scale: math.NaN()}, // 6 NaN scale
		{Name: "", Byte: 0, Type: Int16, Offset: math.Inf(1)},
	})
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path())
	}
	want := []string{"name", "fields[1].name", "fields[2].name", "fields[2].type", "fields[2].order", "fields[2].byte",
		"fields[3].byte", "fields[4].mask", "fields[5].mask", "fields[6].scale", "fields[7].name", "fields[7].offset"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("problems:\n%v\nwant\n%v", ps, want)
	}
	_, err := NewDeclarative("x", nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidCodec) || ve.Problems[0].Path() != "fields" {
		t.Fatalf("%v", err)
	}
	if _, err := NewDeclarative("x", make([]Field, MaxFields+1)); err == nil {
		t.Fatal("too many fields")
	}
}

func TestEnumsText(t *testing.T) {
	var f Field
	if err := json.Unmarshal([]byte(`{"name":"t","byte":1,"type":"uint16","order":"little","scale":0.1}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Type != Uint16 || f.Order != LittleEndian || f.Byte != 1 {
		t.Fatalf("%+v", f)
	}
	if err := json.Unmarshal([]byte(`{"type":"uint64"}`), &f); err == nil {
		t.Fatal("uint64 accepted")
	}
	if err := json.Unmarshal([]byte(`{"order":"middle"}`), &f); err == nil {
		t.Fatal("middle-endian accepted")
	}
	b, _ := json.Marshal(Field{Name: "x", Type: Float32})
	if string(b) != `{"name":"x","byte":0,"type":"float32"}` {
		t.Fatalf("%s", b)
	}
}
