package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func goldenBlockHex(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "device/telemetry/testdata/golden/block.hex"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTelemetryDecode(t *testing.T) {
	text := goldenBlockHex(t)
	r := sitegate(t, text, "telemetry", "decode", "--hex")
	if r.code != 0 || !strings.Contains(r.stdout, "gateway gw-0001,") || !strings.Contains(r.stdout, "(seq 41..45)") || !strings.Contains(r.stdout, "voltage_l1") {
		t.Fatalf("decode --hex: %+v", r)
	}
	r = sitegate(t, text, "telemetry", "decode", "--hex", "--json")
	var m struct {
		Seq      uint64           `json:"seq"`
		Seqs     []uint64         `json:"seqs"`
		Gateway  string           `json:"gateway"`
		Readings []map[string]any `json:"readings"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m.Seq != 45 || len(m.Seqs) != 3 || m.Gateway != "gw-0001" || len(m.Readings) == 0 {
		t.Fatalf("decode --json: %+v", r)
	}
	if _, ok := m.Readings[0]["device"]; !ok {
		t.Fatalf("reading %v", m.Readings[0])
	}

	// Binary on stdin, as mosquitto_sub prints it (with its newline).
	raw, err := decodeHex([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, string(raw)+"\n", "telemetry", "decode", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"seq":45`) {
		t.Fatalf("binary: %+v", r)
	}

	// Refused with a reason, never a panic.
	bad := []struct{ name, in, want string }{
		{"empty", "", "no payload on stdin"},
		{"json", `{"seq":1,"readings":[]}`, "the payload is JSON"},
		{"cut", string(raw[:len(raw)/2]), "not a telemetry/v2 block"},
		{"flipped", flip(raw, len(raw)/3), "not a telemetry/v2 block"},
		{"other format", "\xf1" + string(raw[1:]), "not a telemetry/v2 block"},
	}
	for _, c := range bad {
		r := sitegate(t, c.in, "telemetry", "decode")
		if r.code != 1 || !strings.Contains(r.stder, c.want) {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	if r := sitegate(t, "zz", "telemetry", "decode", "--hex"); r.code != 1 || !strings.Contains(r.stder, "not hex") {
		t.Errorf("bad hex: %+v", r)
	}
}

func flip(b []byte, i int) string {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return string(c)
}
