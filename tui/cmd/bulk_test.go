package cmd

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
)

const meterCSV = `name,table,address,type,order,scale,offset,unit,writable,description
voltage,,30001,float32,,,,V,,Phase 1 voltage
energy,input,0x0048,float32,,,,kWh,,Import
setpoint,holding,40011,uint16,,0.1,,degC,yes,
`

// withBus gives the fixture's site a TCP bus to add devices to.
func (f *fixture) withBus(t *testing.T) {
	t.Helper()
	s, rev := f.gw.Site()
	s.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: "127.0.0.1:1502"}}
	if _, err := f.gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, s); err != nil {
		t.Fatal(err)
	}
}

func TestProfileCommands(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	r := f.run(ctx, device.RoleInstaller, "profile import my-meter --description Site_meter --match ACME", meterCSV)
	if r.code != ExitOK || !strings.Contains(r.out, "imported profile my-meter: 3 points") {
		t.Fatalf("import: %+v", r)
	}
	site, _ := f.gw.Site()
	if p, ok := site.LookupProfile("my-meter"); !ok || p.Match[0] != "ACME" || p.Points[1].Address != 0x48 {
		t.Fatalf("stored profile %+v", p)
	}
	if r := f.run(ctx, device.RoleSupport, "profile list", ""); r.code != ExitOK || !regexp.MustCompile(`my-meter\s+site\s+3`).MatchString(r.out) || !regexp.MustCompile(`eastron-sdm630\s+built-in\s+30`).MatchString(r.out) {
		t.Fatalf("list: %+v", r)
	}
	var rows []profileRow
	if r := f.run(ctx, device.RoleSupport, "profile list --json", ""); json.Unmarshal([]byte(r.out), &rows) != nil || len(rows) < 7 {
		t.Fatalf("list --json: %+v", r)
	}
	if r := f.run(ctx, device.RoleSupport, "profile show my-meter", ""); r.code != ExitOK || !strings.Contains(r.out, "30001") || !strings.Contains(r.out, "40011") {
		t.Fatalf("show: %+v", r)
	}
	if r := f.run(ctx, device.RoleSupport, "profile show eastron-sdm630", ""); !strings.Contains(r.out, "built-in profile (read-only)") || !strings.Contains(r.out, "source: Eastron SDM630 Modbus Protocol V1.8") {
		t.Fatalf("show built-in: %+v", r)
	}
	exp := f.run(ctx, device.RoleSupport, "profile export my-meter", "")
	if exp.code != ExitOK || !strings.HasPrefix(exp.out, "name,table,address,type,order,scale,offset,unit,writable,description\n") {
		t.Fatalf("export: %+v", exp)
	}
	// The export imports again, unchanged.
	if r := f.run(ctx, device.RoleInstaller, "profile import my-meter --description Site_meter --match ACME", exp.out); r.code != ExitOK || !strings.Contains(r.out, "replaced profile my-meter") || !strings.Contains(r.out, "no change") {
		t.Fatalf("re-import: %+v", r)
	}

	// Every bad row in one answer; nothing stored.
	_, before := f.gw.Site()
	bad := "name,address,type\na,40001,float33\nb,465537,uint16\na,40002,uint16\n"
	r = f.run(ctx, device.RoleInstaller, "profile import broken", bad)
	if r.code != ExitFailure || !strings.Contains(r.err, "the register map has 3 problems; nothing was stored") ||
		!strings.Contains(r.err, `line 2: type: unknown data type "float33"`) || !strings.Contains(r.err, "line 3: address: 465537 is past 465536") ||
		!strings.Contains(r.err, `line 4: name: point "a" is already defined on line 2`) {
		t.Fatalf("bad map: %+v", r)
	}
	if _, after := f.gw.Site(); after != before {
		t.Fatal("a bad map changed the site")
	}
	for _, c := range []struct {
		role     device.Role
		line, in string
		code     int
		says     string
	}{
		{device.RoleInstaller, "profile import eastron-sdm630", meterCSV, ExitFailure, "built-in profiles are read-only"},
		{device.RoleInstaller, "profile import x", "", ExitUsage, "standard input is empty"},
		{device.RoleSupport, "profile import x", meterCSV, ExitForbidden, "the permission to change the configuration needs the installer role"},
		{device.RoleSupport, "profile show nope", "", ExitFailure, `no profile "nope"`},
		{device.RoleInstaller, "profile remove eastron-sdm630", "", ExitFailure, "read-only"},
		{device.RoleInstaller, "profile frob", "", ExitUnknown, `unknown command "frob" for profile`},
		{device.RoleInstaller, "profile", "", ExitUsage, "usage: ssh <gateway> profile"},
	} {
		r := f.run(ctx, c.role, c.line, c.in)
		if r.code != c.code || !strings.Contains(r.err, c.says) {
			t.Errorf("%s: exit %d %q; want %d %q", c.line, r.code, r.err, c.code, c.says)
		}
	}
	if r := f.run(ctx, device.RoleInstaller, "profile remove my-meter", ""); r.code != ExitOK {
		t.Fatalf("remove: %+v", r)
	}
}

func TestDeviceCommands(t *testing.T) {
	f := newFixture(t)
	f.withBus(t)
	ctx := t.Context()
	if r := f.run(ctx, device.RoleInstaller, "device add m1 --bus plant --unit 1 --profile eastron-sdm630", ""); r.code != ExitOK || !strings.Contains(r.out, "added m1 on plant unit 1 (profile eastron-sdm630, 30 points, every 10s)") {
		t.Fatalf("add: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "device add m2 --bus plant --unit 2 --points-csv - --interval 5s", meterCSV); r.code != ExitOK || !strings.Contains(r.out, "its own points, 3 points, every 5s") {
		t.Fatalf("add with points: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "device clone m1 m3 --unit 3", ""); r.code != ExitOK || !strings.Contains(r.out, "a copy of m1") {
		t.Fatalf("clone: %+v", r)
	}
	_, before := f.gw.Site()
	for _, c := range []struct {
		role device.Role
		line string
		in   string
		code int
		says string
	}{
		{device.RoleInstaller, "device add m1 --bus plant --unit 9 --profile eastron-sdm630", "", ExitFailure, "device m1: a device of that name exists already"},
		{device.RoleInstaller, "device add m4 --bus plant --unit 1 --profile eastron-sdm630", "", ExitFailure, "unit 1 on bus plant: the unit id is already used on this line by m1"},
		{device.RoleInstaller, "device add m4 --bus plant --unit 4 --profile nope", "", ExitFailure, `no such profile "nope"`},
		{device.RoleInstaller, "device add m4 --bus nope --unit 4 --profile eastron-sdm630", "", ExitFailure, `no such Modbus bus "nope"`},
		{device.RoleInstaller, "device add m4 --bus plant --unit 4", "", ExitUsage, "give --profile P or --points-csv -"},
		{device.RoleInstaller, "device add m4 --bus plant --unit 4 --profile a --points-csv -", "", ExitUsage, "one of them"},
		{device.RoleInstaller, "device add m4 --unit 4 --profile a", "", ExitUsage, "--bus is required"},
		{device.RoleInstaller, "device add m4 --bus plant --unit 4 --points-csv map.csv", "", ExitUsage, "give - and pipe"},
		{device.RoleInstaller, "device add m4 --bus plant --unit 300 --profile eastron-sdm630", "", ExitFailure, "unit_id: 300 is outside 1..247"},
		{device.RoleInstaller, "device add m4 --bus plant --unit 4 --points-csv -", "name,address,type\nx,4000x,uint16\n", ExitFailure, "line 2: address:"},
		{device.RoleInstaller, "device add m4 --bus plant --unit x --profile a", "", ExitUsage, "invalid argument"},
		{device.RoleInstaller, "device clone m1 m2 --unit 9", "", ExitFailure, "exists already"},
		{device.RoleInstaller, "device remove nope", "", ExitFailure, "no such Modbus device"},
		{device.RoleSupport, "device remove m1", "", ExitForbidden, "not allowed"},
		{device.RoleInstaller, "device frob", "", ExitUnknown, `unknown command "frob" for device`},
	} {
		r := f.run(ctx, c.role, c.line, c.in)
		if r.code != c.code || !strings.Contains(r.err, c.says) {
			t.Errorf("%s: exit %d %q; want %d %q", c.line, r.code, r.err, c.code, c.says)
		}
	}
	if _, after := f.gw.Site(); after != before {
		t.Fatal("a refused command changed the site")
	}
	var rows []deviceRow
	r := f.run(ctx, device.RoleSupport, "device list --json", "")
	if err := json.Unmarshal([]byte(r.out), &rows); err != nil || len(rows) != 3 || rows[0].Profile != "eastron-sdm630" || rows[1].UnitID != 2 || rows[1].Points != 3 || rows[0].State != "unknown" {
		t.Fatalf("list --json: %v %+v", err, r)
	}
	if r := f.run(ctx, device.RoleSupport, "device list", ""); !regexp.MustCompile(`m3\s+modbus\s+plant\s+3\s+eastron-sdm630\s+30\s+unknown\s+-`).MatchString(r.out) {
		t.Fatalf("list: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "device remove m2", ""); r.code != ExitOK {
		t.Fatalf("remove: %+v", r)
	}
}

func TestReportCommands(t *testing.T) {
	f := newFixture(t)
	key, err := device.LoadReportKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.gw.SetReportKey(key)
	f.withBus(t)
	ctx := t.Context()
	if r := f.run(ctx, device.RoleInstaller, "device add m1 --bus plant --unit 1 --profile eastron-sdm630", ""); r.code != ExitOK {
		t.Fatal(r)
	}
	pemKey := f.run(ctx, device.RoleSupport, "report key", "")
	pub, err := device.ParseReportPublicKey([]byte(pemKey.out))
	if err != nil {
		t.Fatalf("report key: %v %+v", err, pemKey)
	}
	for _, flags := range []string{"", " --markdown", " --json"} {
		r := f.run(ctx, device.RoleSupport, "report commissioning"+flags, "")
		if r.code != ExitOK {
			t.Fatalf("report%s: %+v", flags, r)
		}
		v, err := device.VerifyReport([]byte(r.out), pub)
		if err != nil || v.Gateway != "gw-test" {
			t.Fatalf("report%s does not verify: %v\n%s", flags, err, r.out)
		}
		if !strings.Contains(r.out, f.users[device.RoleInstaller].ID) || !strings.Contains(r.out, "m1") {
			t.Errorf("report%s lacks the installer or the device:\n%s", flags, r.out)
		}
	}
	if r := f.run(ctx, device.RoleSupport, "report commissioning --json --markdown", ""); r.code != ExitUsage {
		t.Fatalf("both formats: %+v", r)
	}
	if r := f.run(ctx, device.RoleViewer, "report commissioning", ""); r.code != ExitForbidden {
		t.Fatalf("viewer: %+v", r)
	}
}

// The rough edges of issue 12 in exec: refusals name the permission,
// health has its sections, the audit log shows names in aligned columns
// and says its time zone.
func TestExecRoughEdges(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	r := f.run(ctx, device.RoleSupport, "sync cut", "")
	if r.code != ExitForbidden || strings.Contains(r.err, "manage users") || !strings.Contains(r.err, "cutting or restoring the uplink needs the admin role or higher, you are support") {
		t.Fatalf("sync cut as support: %+v", r)
	}
	if r := f.run(ctx, device.RoleInstaller, "help sync cut", ""); !strings.Contains(r.out, "not allowed: cutting or restoring the uplink needs the admin role") {
		t.Fatalf("help as installer: %+v", r)
	}
	h := f.run(ctx, device.RoleSupport, "health", "")
	for _, want := range []string{"GATEWAY", "CLOCK", "WAN", "UPLINK", "FIELD", "OUTBOX", "ALERTS", "NOT SYNCHRONISED", "offline (no broker configured)"} {
		if !strings.Contains(h.out, want) {
			t.Errorf("health lacks %q:\n%s", want, h.out)
		}
	}
	a := f.run(ctx, device.RoleSupport, "logs --audit", "")
	lines := strings.Split(strings.TrimRight(a.out, "\n"), "\n")
	if !strings.Contains(lines[0], "TIME (UTC)") || !regexp.MustCompile(`u-support\s+support\s+command.denied\s+sync cut`).MatchString(a.out) {
		t.Fatalf("logs --audit shows no names or no zone:\n%s", a.out)
	}
	col := strings.Index(lines[0], "ACTION")
	for _, l := range lines[1:] {
		if len([]rune(l)) <= col || l[col-1] != ' ' {
			t.Fatalf("columns not aligned at %d:\n%s", col, a.out)
		}
	}
	if s := f.run(ctx, device.RoleSupport, "logs", ""); !strings.HasPrefix(s.out, "TIME (UTC)") {
		t.Fatalf("system log has no zone header:\n%s", s.out)
	}
}
