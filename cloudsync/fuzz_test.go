package cloudsync

import (
	"testing"

	"github.com/sitegate/sitegate/device"
)

// FuzzDesired feeds parseDesired what the network could deliver on
// config/desired. It must never panic; what it accepts must carry rev,
// base_rev and a site that validates, with no "<set>" left unresolved.
func FuzzDesired(f *testing.F) {
	for _, seed := range []string{
		`{"rev":7,"base_rev":1,"site":{"site":{"name":"From the cloud"},"access":{"password_max_length":15,"require_2fa":["admin","installer"],"idle_timeout":"15m"}}}`,
		`{"rev":18446744073709551615,"base_rev":0}`,
		`{"rev":1,"base_rev":1,"site":{"wifi":{"enabled":true,"ssid":"Net","security":"wpa2-psk","passphrase":"<set>"}}}`,
		`{"rev":2,"base_rev":1,"site":{"modbus":{"buses":[{"name":"b","kind":"tcp","address":"10.0.0.1:502"}],"devices":[{"name":"d","bus":"b","unit_id":1,"points":[{"name":"p","table":"holding","address":0,"type":"float32"}]}]}}}`,
		`{"rev":1,"base_rev":1,"site":{}} {"rev":2}`,
		`{"rev":-1,"base_rev":1.5,"site":[]}`,
		`{"rev":1,"base_rev":1,"site":{"site":&a {"name":"x"}}}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	current := device.DefaultSite()
	current.WiFi.Passphrase = "correct horse battery"
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, next, rev, problems := parseDesired(payload, current)
		if len(problems) > 0 {
			if next != nil {
				t.Fatal("problems and a site")
			}
			return
		}
		if d.Rev == nil || d.BaseRev == nil || *d.Rev != rev || next == nil {
			t.Fatalf("accepted without rev, base_rev or site: %+v", d)
		}
		if next.HasPlaceholders() {
			t.Fatal("accepted with an unresolved <set>")
		}
		if err := next.Validate(); err != nil {
			t.Fatalf("accepted a site that does not validate: %v", err)
		}
	})
}
