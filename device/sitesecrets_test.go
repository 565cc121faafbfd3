package device_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func wirelessSite(pass, pin1, pin2 string) *device.Site {
	s := device.DefaultSite()
	s.WiFi.Enabled, s.WiFi.SSID, s.WiFi.Security, s.WiFi.Passphrase = true, "SiteNet", device.SecurityWPA2PSK, device.Secret(pass)
	s.Cellular.Enabled = true
	s.Cellular.SIMs = []device.SIM{{Slot: 1, APN: "internet", PIN: device.Secret(pin1)}}
	if pin2 != "" {
		s.Cellular.SIMs = append(s.Cellular.SIMs, device.SIM{Slot: 2, APN: "m2m.example", PIN: device.Secret(pin2)})
	}
	return s
}

// openGateway opens the store in dir and a gateway on it; the caller
// closes the store.
func openGateway(t *testing.T, dir string) (*store.Store, *device.Gateway) {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := device.NewGateway(st, device.GatewayOptions{})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, gw
}

func TestNoSecretEverSetIsInTheDatabaseFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, gw := openGateway(t, dir)
	var ever []string
	apply := func(s *device.Site) {
		t.Helper()
		if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: gw.Rev()}, s); err != nil {
			t.Fatal(err)
		}
	}
	// Every kind of secret, then every one changed, then some removed.
	steps := [][3]string{
		{"Kx7#pLm2qRt9vWz4", "73915284", "46028137"},
		{"Yb3$nHs8dFg1jQe6", "82640193", "19374650"},
		{"Zc5%tVu7wXy2aBn8", "30571928", ""},
	}
	for _, p := range steps {
		apply(wirelessSite(p[0], p[1], p[2]))
		ever = append(ever, p[0], p[1])
		if p[2] != "" {
			ever = append(ever, p[2])
		}
	}
	// An unrelated change after the secret ones, and an import that keeps
	// them with "<set>".
	s, _ := gw.Site()
	s.Site.Name = "Boiler house"
	apply(s)
	y, _ := gw.ExportYAML()
	if _, err := gw.ImportYAML(device.Edit{Actor: installer, Action: device.ActionConfigImport}, bytes.ReplaceAll(y, []byte("Boiler house"), []byte("Boiler room"))); err != nil {
		t.Fatal(err)
	}
	// TOTP seeds, stored the way the access service stores them.
	for i, seed := range []string{"JBSWY3DPEHPK3PXPJBSWY3DP", "KRSXG5CTMVRXEZLUKN2XAZLS", "GEZDGNBVGY3TQOJQGEZDGNBV"} {
		if _, err := st.PutSecret(device.UserTOTPSecret("u-admin"), []byte(seed)); err != nil {
			t.Fatal(err)
		}
		ever = append(ever, seed)
		if i == 2 {
			if err := st.DeleteSecret(device.UserTOTPSecret("u-admin")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The gateway still has the newest values to work with.
	cur, _ := gw.Site()
	if cur.WiFi.Passphrase.Reveal() != steps[2][0] || cur.Cellular.SIMs[0].PIN.Reveal() != steps[2][1] {
		t.Fatalf("current secrets lost: %q %q", cur.WiFi.Passphrase.Reveal(), cur.Cellular.SIMs[0].PIN.Reveal())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.ScanForSecrets(t, dir, ever)

	// And after a restart the gateway reads them back from the secret store.
	st, gw = openGateway(t, dir)
	defer st.Close()
	cur, _ = gw.Site()
	if cur.WiFi.Passphrase.Reveal() != steps[2][0] || len(cur.Cellular.SIMs) != 1 || cur.Cellular.SIMs[0].PIN.Reveal() != steps[2][1] {
		t.Fatalf("after restart: %+v", cur.Cellular.SIMs)
	}
	// The history still shows which changes touched a secret.
	hist, _ := st.ConfigHistory(device.SiteDoc, 0)
	if paths := device.ChangedPaths(hist[len(hist)-1].Body, hist[len(hist)-2].Body, 10); !strings.Contains(strings.Join(paths, ","), "wifi.passphrase") {
		t.Errorf("first change: %v", paths)
	}
	if paths := device.ChangedPaths(hist[1].Body, hist[0].Body, 10); strings.Contains(strings.Join(paths, ","), "passphrase") {
		t.Errorf("the import changed no secret, yet: %v", paths)
	}
}

// A data directory written by an older sitegate holds its site revisions
// with the secrets in clear: the old code path stored json.Marshal(site)
// with PutConfig. Opening it moves them to the secret store and leaves no
// trace of them in the file.
func TestOldSiteRevisionsMigrateToTheSecretStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ever []string
	for _, p := range [][3]string{
		{"Kx7#pLm2qRt9vWz4", "73915284", "46028137"},
		{"Yb3$nHs8dFg1jQe6", "82640193", ""},
		{"Yb3$nHs8dFg1jQe6", "82640193", ""},
	} {
		body, _ := json.Marshal(wirelessSite(p[0], p[1], p[2]))
		if _, err := st.PutConfig(device.SiteDoc, "u-old", body); err != nil {
			t.Fatal(err)
		}
		ever = append(ever, p[0], p[1])
		if p[2] != "" {
			ever = append(ever, p[2])
		}
	}
	st.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, store.FileName))
	if !bytes.Contains(raw, storetest.Encodings("Kx7#pLm2qRt9vWz4")[1]) && !bytes.Contains(raw, storetest.Encodings("Kx7#pLm2qRt9vWz4")[2]) && !bytes.Contains(raw, storetest.Encodings("Kx7#pLm2qRt9vWz4")[3]) {
		t.Fatal("the old-style database does not hold the secret: the test proves nothing")
	}

	st, gw := openGateway(t, dir)
	cur, rev := gw.Site()
	if rev != 3 || cur.WiFi.Passphrase.Reveal() != "Yb3$nHs8dFg1jQe6" || cur.Cellular.SIMs[0].PIN.Reveal() != "82640193" {
		t.Fatalf("migrated site: rev %d %+v", rev, cur.Cellular)
	}
	hist, _ := st.ConfigHistory(device.SiteDoc, 0)
	if len(hist) != 3 || hist[2].Author != "u-old" {
		t.Fatalf("history %+v", hist)
	}
	if paths := device.ChangedPaths(hist[2].Body, hist[1].Body, 10); !strings.Contains(strings.Join(paths, ","), "wifi.passphrase") {
		t.Errorf("revision 1 → 2: %v", paths)
	}
	if paths := device.ChangedPaths(hist[1].Body, hist[0].Body, 10); len(paths) != 0 {
		t.Errorf("revision 2 → 3 changed nothing, yet: %v", paths)
	}
	// A second start does not migrate again.
	if _, err := device.NewGateway(st, device.GatewayOptions{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	storetest.ScanForSecrets(t, dir, ever)
}

func TestLostSecretKeyDoesNotStopTheGateway(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, gw := openGateway(t, dir)
	if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: 0}, wirelessSite("Kx7#pLm2qRt9vWz4", "73915284", "")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Remove(filepath.Join(dir, store.SecretKeyFile)); err != nil {
		t.Fatal(err)
	}
	st, gw = openGateway(t, dir)
	defer st.Close()
	cur, _ := gw.Site()
	if cur.WiFi.Passphrase.IsSet() || cur.WiFi.SSID != "SiteNet" {
		t.Fatalf("site after losing the key: %+v", cur.WiFi)
	}
	events, _ := st.ListAudit(store.AuditFilter{Limit: 1, Newest: true})
	if len(events) != 1 || events[0].Action != string(device.ActionSecretLost) || !strings.Contains(events[0].Detail, "wifi.passphrase") {
		t.Fatalf("last event %+v", events)
	}
}

// The sensors' CoAP keys are secrets at rest too: never in the database
// file, back after a restart.
func TestCoAPKeysAreNotInTheDatabaseFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, gw := openGateway(t, dir)
	keys := []string{"k7-Qw8#zR2mX5vB9", "k7-Pz4!aS9nW3eD6"}
	for _, k := range keys {
		s, _ := gw.Site()
		s.CoAP.Sensors = []device.CoAPSensor{{Name: "room-7", Identity: "room-7", Key: device.Secret(k)}}
		if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: gw.Rev()}, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.ScanForSecrets(t, dir, keys)
	st, gw = openGateway(t, dir)
	defer st.Close()
	if s, _ := gw.Site(); s.CoAP.Sensors[0].Key.Reveal() != keys[1] {
		t.Fatal("the key is lost after a restart")
	}
}
