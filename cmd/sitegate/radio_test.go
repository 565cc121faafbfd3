package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// radioSite is a site with both radios permanently disabled.
const radioSite = `site: {name: Radio test}
wifi: {enabled: false, permanently_disabled: true, interface: wlan0, ssid: SiteNet, security: wpa2-psk, passphrase: "correct horse"}
lora: {enabled: false, permanently_disabled: true, region: EU868, gateway_eui: "0016c001ff10a235", network_server: "ns.example.com:1700"}
`

// radioTestRoot skips the command-line tests until root.go registers the
// radio command, except in CI, where the missing registration fails.
func radioTestRoot(t *testing.T) {
	t.Helper()
	root := newRoot(streams{})
	for _, c := range root.Commands() {
		if c.Name() == "radio" {
			return
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("root.go does not register newRadioCmd: `sitegate radio` is missing")
	}
	t.Skip("root.go does not register newRadioCmd yet")
}

func importRadioSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(file, []byte(radioSite), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "config", "import", "--data", dir, file); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	return dir
}

func TestRadioEnableClearsPermanentDisable(t *testing.T) {
	radioTestRoot(t)
	dir := importRadioSite(t)
	r := sitegate(t, "", "radio", "enable", "wifi", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "Wi-Fi is no longer permanently disabled (site revision 2)") || !strings.Contains(r.stdout, "wifi.enabled: true") {
		t.Fatalf("radio enable wifi: %+v", r)
	}
	var doc struct {
		Site struct {
			WiFi struct {
				Enabled             bool   `json:"enabled"`
				PermanentlyDisabled bool   `json:"permanently_disabled"`
				Passphrase          string `json:"passphrase"`
			} `json:"wifi"`
			LoRa struct {
				PermanentlyDisabled bool `json:"permanently_disabled"`
			} `json:"lora"`
		} `json:"site"`
	}
	exp := sitegate(t, "", "config", "export", "--data", dir, "--json")
	if err := json.Unmarshal([]byte(exp.stdout), &doc); err != nil {
		t.Fatal(err, exp)
	}
	w := doc.Site.WiFi
	if w.PermanentlyDisabled || w.Enabled || w.Passphrase != "<set>" || !doc.Site.LoRa.PermanentlyDisabled {
		t.Fatalf("after radio enable wifi: %+v", doc.Site)
	}

	r = sitegate(t, "", "radio", "enable", "lora", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "LoRa is no longer permanently disabled (site revision 3)") {
		t.Fatalf("radio enable lora: %+v", r)
	}
	r = sitegate(t, "", "radio", "enable", "lora", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "LoRa is not permanently disabled; nothing to do (site revision 3)") {
		t.Fatalf("radio enable lora again: %+v", r)
	}

	var events []struct {
		Actor, Role, Action, Target, Result string
	}
	a := sitegate(t, "", "audit", "list", "--data", dir, "--json")
	if err := json.Unmarshal([]byte(a.stdout), &events); err != nil {
		t.Fatal(err, a)
	}
	var enables []string
	for _, e := range events {
		if e.Action == "radio.enable" {
			enables = append(enables, e.Actor+"/"+e.Role+" "+e.Target+" "+e.Result)
		}
	}
	if strings.Join(enables, ", ") != "local/local site@2 ok, local/local site@3 ok" {
		t.Fatalf("radio.enable events: %q", enables)
	}
}

func TestRadioUsageErrors(t *testing.T) {
	radioTestRoot(t)
	dir := importRadioSite(t)
	for _, args := range [][]string{
		{"radio"},
		{"radio", "enable", "--data", dir},
		{"radio", "enable", "bluetooth", "--data", dir},
		{"radio", "enable", "wifi", "lora", "--data", dir},
		{"radio", "enable", "wifi"},
	} {
		r := sitegate(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stder, "Usage: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with the usage line", args, r.code, r.stder)
		}
	}
	r := sitegate(t, "", "radio", "enable", "bluetooth", "--data", dir)
	if !strings.Contains(r.stder, `unknown radio "bluetooth" (valid: wifi, lora)`) {
		t.Errorf("stderr %q", r.stder)
	}
	r = sitegate(t, "", "radio", "enable", "wifi", "--data", filepath.Join(dir, "missing"))
	if r.code != exitFailure || !strings.Contains(r.stder, "does not exist") {
		t.Errorf("missing data dir: %+v", r)
	}
}

func TestRadioCommandShape(t *testing.T) {
	cmd := newRadioCmd(streams{})
	var enable *cobra.Command
	for _, c := range cmd.Commands() {
		if c.Name() == "enable" {
			enable = c
		}
	}
	if enable == nil || enable.Flags().Lookup("data") == nil {
		t.Fatal("radio enable --data is missing")
	}
}

// An offline import cannot clear permanently_disabled: only radio enable
// does, audited as radio.enable.
func TestOfflineImportCannotReenableARadio(t *testing.T) {
	dir := importRadioSite(t)
	file := filepath.Join(t.TempDir(), "site.yaml")
	cleared := strings.ReplaceAll(radioSite, "permanently_disabled: true", "permanently_disabled: false")
	if err := os.WriteFile(file, []byte(cleared), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sitegate(t, "", "config", "import", "--data", dir, file)
	if r.code != exitFailure || !strings.Contains(r.stder, "wifi.permanently_disabled: a site file cannot clear it") ||
		!strings.Contains(r.stder, "sitegate radio enable lora --data DIR") || !strings.Contains(r.stder, "nothing was stored") {
		t.Fatalf("import clearing the disables: %+v", r)
	}
	exp := sitegate(t, "", "config", "export", "--data", dir)
	if strings.Count(exp.stdout, "permanently_disabled: true") != 2 {
		t.Fatalf("a radio was re-enabled:\n%s", exp.stdout)
	}
	// Other changes of the same file still import.
	renamed := strings.Replace(radioSite, "Radio test", "Renamed", 1)
	if err := os.WriteFile(file, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "config", "import", "--data", dir, file); r.code != 0 {
		t.Fatalf("ordinary import: %+v", r)
	}
}
