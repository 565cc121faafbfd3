package band

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestEU868(t *testing.T) {
	p, err := EU868(867100000, 867300000, 867500000, 867700000, 867900000)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Channels) != 8 || !p.Channels[2].Default || p.Channels[3].Default || p.Channels[7].Frequency != 867900000 {
		t.Fatalf("channels %+v", p.Channels)
	}
	if f := p.ExtraFrequencies(); len(f) != 5 || f[0] != 867100000 {
		t.Fatalf("extra %v", f)
	}
	for i, want := range []string{"SF12BW125", "SF11BW125", "SF10BW125", "SF9BW125", "SF8BW125", "SF7BW125", "SF7BW250", "50000"} {
		d, err := p.DataRate(uint8(i))
		if err != nil || d.Name() != want {
			t.Fatalf("DR%d = %v, %v; want %s", i, d.Name(), err, want)
		}
		back, err := p.ParseDataRate(strings.ToLower(want))
		if err != nil || back.Index != uint8(i) {
			t.Fatalf("ParseDataRate(%s) = %v, %v", want, back, err)
		}
	}
	if d, _ := p.DataRate(0); d.MaxPayload != 51 || d.MaxMACPayload != 59 {
		t.Fatalf("DR0 limits %+v", d)
	}
	if d, _ := p.DataRate(5); d.MaxPayload != 242 || d.String() != "DR5 (SF7BW125)" {
		t.Fatalf("DR5 %+v", d)
	}
	if _, err := p.DataRate(8); !errors.Is(err, ErrUnknownDataRate) {
		t.Fatal("DR8 exists")
	}
	if _, err := p.ParseDataRate("SF13BW125"); !errors.Is(err, ErrUnknownDataRate) {
		t.Fatal("SF13 exists")
	}
	if p.RX1DataRate(5, 2) != 3 || p.RX1DataRate(1, 3) != 0 {
		t.Fatal("RX1 data rate")
	}
	if _, ok := p.Uplink(868300000); !ok {
		t.Fatal("868.3 MHz is not a channel")
	}
	if _, ok := p.Uplink(869525000); ok {
		t.Fatal("RX2 is an uplink channel")
	}
	if p.RX2Frequency != 869525000 || p.RX2DataRate != 0 || p.JoinAcceptDelay1.Seconds() != 5 || p.JoinAcceptDelay2.Seconds() != 6 {
		t.Fatalf("timing %+v", p)
	}
	// The plan is data for the console.
	if b, err := json.Marshal(p); err != nil || !strings.Contains(string(b), `"rx2_frequency_hz":869525000`) {
		t.Fatalf("json %s, %v", b, err)
	}
	for _, bad := range [][]uint32{{868100000}, {862000000}, {867100050}, {1, 2, 3, 4, 5, 6}} {
		if _, err := EU868(bad...); !errors.Is(err, ErrChannel) {
			t.Errorf("EU868(%v) = %v", bad, err)
		}
	}
}
