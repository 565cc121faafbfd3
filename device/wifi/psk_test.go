package wifi

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
)

// IEEE 802.11i-2004, annex H.4.1: the test vectors of the pass-phrase to
// PSK mapping.
func TestPSKTestVectors(t *testing.T) {
	for _, v := range []struct{ pass, ssid, psk string }{
		{"password", "IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
		{"ThisIsAPassword", "ThisIsASSID", "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"},
		{strings.Repeat("a", 32), strings.Repeat("Z", 32), "becb93866bb8c3832cb777c2f559807c8c59afcb6eae734885001300a981cc62"},
	} {
		got, err := PSK(v.pass, v.ssid)
		if err != nil {
			t.Fatalf("PSK(%q, %q): %v", v.pass, v.ssid, err)
		}
		if hex.EncodeToString(got) != v.psk {
			t.Errorf("PSK(%q, %q) = %x, want %s", v.pass, v.ssid, got, v.psk)
		}
	}
}

func TestPSKHexPassphraseIsTheKey(t *testing.T) {
	const key = "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"
	got, err := PSK(key, "anything")
	if err != nil || hex.EncodeToString(got) != key {
		t.Fatalf("PSK(hex) = %x, %v", got, err)
	}
}

func TestPSKRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ pass, ssid string }{
		{"short", "SiteNet"},
		{strings.Repeat("x", 64), "SiteNet"}, // 64 characters but not hex
		{"pässwörd123", "SiteNet"},
		{"goodpassword", ""},
		{"goodpassword", strings.Repeat("s", 33)},
	} {
		if _, err := PSK(c.pass, c.ssid); err == nil {
			t.Errorf("PSK(%d chars, %q) succeeded", len(c.pass), c.ssid)
		} else if strings.Contains(err.Error(), c.pass) && c.pass != "" {
			t.Errorf("error quotes the passphrase: %v", err)
		}
	}
}

func TestFieldChecksReuseSiteValidation(t *testing.T) {
	if err := CheckSSID("SiteNet"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", strings.Repeat("n", 33), "bad\x07ssid"} {
		err := CheckSSID(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "wifi.ssid: ") {
			t.Errorf("CheckSSID(%q) = %v", bad, err)
		}
	}
	if err := CheckPassphrase(device.SecurityWPA3SAE, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := CheckPassphrase(device.SecurityWPA2PSK, "seven77"); err == nil || !strings.Contains(err.Error(), "wpa2-psk needs 8..63") {
		t.Errorf("short passphrase: %v", err)
	}
	if err := CheckPassphrase(0, "whatever123"); err == nil {
		t.Error("no security accepted")
	}
	p := Check(device.WiFi{Enabled: true, PermanentlyDisabled: true})
	paths := map[string]bool{}
	for _, x := range p {
		paths[x.Path] = true
	}
	for _, want := range []string{"wifi.enabled", "wifi.ssid", "wifi.security", "wifi.passphrase"} {
		if !paths[want] {
			t.Errorf("Check: no problem at %s in %v", want, p)
		}
	}
}

func TestSupplicantConfigWPA2HoldsOnlyTheDerivedKey(t *testing.T) {
	const pass = "ThisIsAPassword"
	w := device.WiFi{Enabled: true, SSID: "ThisIsASSID", Security: device.SecurityWPA2PSK, Passphrase: pass}
	path := filepath.Join(t.TempDir(), "wpa", SupplicantPath("", "wlan0"))
	if err := WriteSupplicantConfig(path, w, ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if strings.Contains(s, pass) {
		t.Fatalf("the passphrase is in the file:\n%s", s)
	}
	for _, want := range []string{
		SupplicantHeader,
		"ctrl_interface=/run/wpa_supplicant\n",
		"update_config=0\n",
		"\tssid=" + hex.EncodeToString([]byte("ThisIsASSID")) + "\n",
		"\tkey_mgmt=WPA-PSK\n",
		"\tpsk=0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config lacks %q:\n%s", want, s)
		}
	}
}

func TestSupplicantConfigDisabledHasNoNetwork(t *testing.T) {
	for _, w := range []device.WiFi{
		{Enabled: false, SSID: "SiteNet", Security: device.SecurityWPA2PSK, Passphrase: "password123"},
		{PermanentlyDisabled: true},
	} {
		b, err := SupplicantConfig(w, "/tmp/ctrl")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "network=") || strings.Contains(string(b), "password123") {
			t.Errorf("disabled wifi has a network block:\n%s", b)
		}
	}
}

func TestSupplicantConfigWPA3AndErrors(t *testing.T) {
	w := device.WiFi{Enabled: true, SSID: `Quote"Net`, Security: device.SecurityWPA3SAE, Passphrase: `pa"ss word`}
	b, err := SupplicantConfig(w, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\tkey_mgmt=SAE\n") || !strings.Contains(string(b), "\tieee80211w=2\n") ||
		!strings.Contains(string(b), `sae_password="pa"ss word"`) {
		t.Errorf("wpa3 block:\n%s", b)
	}
	w.Passphrase = device.SecretPlaceholder
	if _, err := SupplicantConfig(w, ""); err == nil {
		t.Error("a placeholder passphrase made a config")
	}
	w.Passphrase = "short"
	if _, err := SupplicantConfig(w, ""); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("short passphrase: %v", err)
	}
	if _, err := SupplicantConfig(device.WiFi{}, "a\nb"); err == nil {
		t.Error("a control interface with a newline was accepted")
	}
}

func TestWriteSupplicantConfigKeepsAForeignFileOnce(t *testing.T) {
	dir := t.TempDir()
	path := SupplicantPath(dir, "wlan0")
	if err := os.WriteFile(path, []byte("network={\n ssid=\"mine\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := device.WiFi{Enabled: true, SSID: "SiteNet", Security: device.SecurityWPA2PSK, Passphrase: "password123"}
	for range 2 {
		if err := WriteSupplicantConfig(path, w, ""); err != nil {
			t.Fatal(err)
		}
	}
	orig, err := os.ReadFile(path + ".orig")
	if err != nil || !strings.Contains(string(orig), "mine") {
		t.Fatalf("the hand-written file was not kept: %q %v", orig, err)
	}
}
