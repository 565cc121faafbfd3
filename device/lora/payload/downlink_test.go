package payload

import (
	"bytes"
	"errors"
	"testing"
)

// Goldens: the bytes each type and order must give, worked out by hand
// from the two's complement and IEEE 754 encodings.
func TestDownlinkGolden(t *testing.T) {
	for _, tc := range []struct {
		d    Downlink
		v    float64
		want string
	}{
		{Downlink{Name: "setpoint", FPort: 10, Type: Int16, Scale: 0.1}, 21.5, "00 d7"},
		{Downlink{Name: "setpoint", FPort: 10, Type: Int16, Scale: 0.1}, -4.1, "ff d7"},
		{Downlink{Name: "period", FPort: 11, Type: Uint16, Order: LittleEndian}, 1000, "e8 03"},
		{Downlink{Name: "mode", FPort: 12, Type: Int8}, -5, "fb"},
		{Downlink{Name: "mode", FPort: 12, Type: Uint8, Offset: 10}, 12, "02"},
		{Downlink{Name: "gain", FPort: 13, Type: Float32}, 1.5, "3f c0 00 00"},
		{Downlink{Name: "gain", FPort: 13, Type: Float32, Order: LittleEndian}, 1.5, "00 00 c0 3f"},
		{Downlink{Name: "count", FPort: 14, Type: Uint32}, 4294967295, "ff ff ff ff"},
		{Downlink{Name: "count", FPort: 14, Type: Int32}, -2, "ff ff ff fe"},
	} {
		got, err := tc.d.Encode(tc.v)
		if err != nil || !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("%+v of %v = % x, %v; want %s", tc.d, tc.v, got, err, tc.want)
		}
	}
}

// What a downlink encodes, a field of the same shape decodes.
func TestDownlinkRoundTrip(t *testing.T) {
	for _, typ := range []FieldType{Int8, Uint8, Int16, Uint16, Int32, Uint32, Float32} {
		for _, order := range []ByteOrder{BigEndian, LittleEndian} {
			d := Downlink{Name: "x", FPort: 1, Type: typ, Order: order, Scale: 0.5, Offset: 3}
			b, err := d.Encode(42.5)
			if err != nil {
				t.Fatalf("%s %s: %v", typ, order, err)
			}
			c, err := NewDeclarative("c", []Field{{Name: "x", Type: typ, Order: order, Scale: 0.5, Offset: 3}})
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.Decode(1, b)
			if err != nil || !near(v[0].Value, 42.5) {
				t.Errorf("%s %s: % x decodes to %v, %v", typ, order, b, v, err)
			}
		}
	}
}

func TestDownlinkRange(t *testing.T) {
	for _, tc := range []struct {
		d Downlink
		v float64
	}{
		{Downlink{Name: "a", Type: Uint8}, 256},
		{Downlink{Name: "a", Type: Uint8}, -1},
		{Downlink{Name: "a", Type: Int16, Scale: 0.01}, 400},
		{Downlink{Name: "a", Type: Float32}, 1e39},
		{Downlink{Name: "a", Type: 0}, 1},
	} {
		if _, err := tc.d.Encode(tc.v); !errors.Is(err, ErrRange) {
			t.Errorf("%+v of %v: %v, want ErrRange", tc.d, tc.v, err)
		}
	}
}

func TestValidateDownlinks(t *testing.T) {
	ps := ValidateDownlinks([]Downlink{
		{Name: "ok", FPort: 1, Type: Uint8},
		{Name: "ok", FPort: 0, Type: 0, Order: 7},
		{Name: "Bad", FPort: 224, Type: Int16},
	})
	want := []string{"downlinks[1].name", "downlinks[1].type", "downlinks[1].order", "downlinks[1].fport", "downlinks[2].name", "downlinks[2].fport"}
	if len(ps) != len(want) {
		t.Fatalf("%v", ps)
	}
	for i, p := range ps {
		if p.Path() != want[i] {
			t.Errorf("problem %d at %s, want %s (%s)", i, p.Path(), want[i], p.Msg)
		}
	}
}
