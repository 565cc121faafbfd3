package device

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const clearPIN = "4711"

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(clearPIN)
	sim := SIM{Slot: 1, APN: "internet", PIN: s}
	site := DefaultSite()
	site.Cellular.SIMs = []SIM{sim}
	site.WiFi.Passphrase = "hunter2hunter2"

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%s", "%q", "%x", "%X", "%d", "%+v", "%#v", "%10s", "%-8v"} {
		outputs["secret "+verb] = fmt.Sprintf(verb, s)
		outputs["sim "+verb] = fmt.Sprintf(verb, sim)
		outputs["*sim "+verb] = fmt.Sprintf(verb, &sim)
		outputs["site "+verb] = fmt.Sprintf(verb, site)
	}
	outputs["Sprint"] = fmt.Sprint(s, sim)
	outputs["Sprintln"] = fmt.Sprintln(s, sim)
	outputs["String"] = s.String()
	outputs["GoString"] = s.GoString()
	outputs["error wrap"] = fmt.Errorf("bad pin %v", s).Error()

	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("secret", "pin", s, "sim", sim, "sims", []SIM{sim}, "site", site)
	log.Info("group", slog.Group("g", slog.Any("pin", s)))
	outputs["slog text"] = buf.String()
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("secret", "pin", s)
	outputs["slog json, Secret value"] = buf.String()

	for name, out := range outputs {
		if strings.Contains(out, clearPIN) || strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", clearPIN)) {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
	}
	if !strings.Contains(outputs["secret %v"], SecretPlaceholder) || !strings.Contains(outputs["slog text"], SecretPlaceholder) {
		t.Errorf("redacted output lacks %q: %q / %q", SecretPlaceholder, outputs["secret %v"], outputs["slog text"])
	}
}

func TestSecretEmptyAndReveal(t *testing.T) {
	var empty Secret
	if empty.String() != "" || fmt.Sprint(empty) != "" || empty.LogValue().String() != "" || empty.IsSet() {
		t.Errorf("empty secret prints as %q", empty.String())
	}
	s := Secret(clearPIN)
	if s.Reveal() != clearPIN || !s.IsSet() || s.IsPlaceholder() {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
	if s.LogValue().Kind() != slog.KindString || s.LogValue().String() != SecretPlaceholder {
		t.Errorf("LogValue() = %v", s.LogValue())
	}
	if !Secret(SecretPlaceholder).IsPlaceholder() {
		t.Errorf("placeholder not recognised")
	}
}

// TestSecretStorageKeepsValue: storage needs the value, so JSON and YAML
// write it; redaction is explicit.
func TestSecretStorageKeepsValue(t *testing.T) {
	sim := SIM{Slot: 1, APN: "internet", PIN: clearPIN}
	j, err := json.Marshal(sim)
	if err != nil || !strings.Contains(string(j), `"pin":"4711"`) {
		t.Errorf("json.Marshal = %s, %v", j, err)
	}
	var back SIM
	if err := json.Unmarshal(j, &back); err != nil || back.PIN.Reveal() != clearPIN {
		t.Errorf("json round trip = %v, %v", back.PIN.Reveal(), err)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1.5s"},
		{10 * time.Second, "10s"},
		{90 * time.Second, "1m30s"},
		{3 * time.Minute, "3m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{25 * time.Hour, "25h"},
		{-3 * time.Minute, "-3m"},
		{10 * time.Microsecond, "10µs"},
	} {
		d := Duration(tt.d)
		if d.String() != tt.text {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, d.String(), tt.text)
		}
		text, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Errorf("UnmarshalText(%q) = %v, %v", text, back, err)
		}
		if d.Std() != tt.d {
			t.Errorf("Std() = %v", d.Std())
		}
	}
	var d Duration
	for _, bad := range []string{"10", "1 sec", "3 minutes", "fast", "1x"} {
		err := d.UnmarshalText([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("invalid duration %q", bad)) || !strings.Contains(err.Error(), "500ms") {
			t.Errorf("UnmarshalText(%q) error = %v", bad, err)
		}
	}
	j, err := json.Marshal(struct {
		T Duration `json:"t"`
	}{Duration(3 * time.Minute)})
	if err != nil || string(j) != `{"t":"3m"}` {
		t.Errorf("json = %s, %v", j, err)
	}
}
