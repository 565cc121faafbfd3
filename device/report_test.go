package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v      field.Value
		digits int
		want   string
	}{
		{field.Number(230.1234567), 0, "230.1"},
		{field.Number(230.1234567), 7, "230.1235"},
		{field.Number(12345.678), 0, "12346"},
		{field.Number(0.98765), 0, "0.9877"},
		{field.Number(0.000123456), 0, "0.0001235"},
		{field.Number(50), 0, "50"},
		{field.Number(49.99999), 4, "50"},
		{field.Number(-0.00001), 2, "-0.00001"},
		{field.Number(-0.0000001), 2, "-1e-07"},
		{field.Number(0), 0, "0"},
		{field.Number(1e20), 0, "1e+20"},
		{field.Number(-3.14159), 3, "-3.14"},
		{field.Boolean(true), 0, "true"},
		{field.Value{}, 0, ""},
	} {
		if got := FormatValue(c.v, c.digits); got != c.want {
			t.Errorf("FormatValue(%v, %d) = %q, want %q", c.v.Num, c.digits, got, c.want)
		}
	}
}

func TestReportKeyCreatedOnce(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadReportKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, ReportKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
	k2, err := LoadReportKey(dir)
	if err != nil || !k1.Public().Equal(k2.Public()) {
		t.Fatalf("second load gave another key: %v", err)
	}
	pub, err := ParseReportPublicKey(k1.PublicPEM())
	if err != nil || !pub.Equal(k1.Public()) {
		t.Fatalf("public key round trip: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, ReportKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReportKey(dir); !errors.Is(err, ErrReportKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportKeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReportKey(dir); !errors.Is(err, ErrReportKey) {
		t.Fatalf("a junk key: %v", err)
	}
	if _, err := ParseReportPublicKey([]byte("ssh-ed25519 AAAA")); err == nil {
		t.Fatal("parsed an SSH key as a report key")
	}
}

func reportGateway(t *testing.T) *Gateway {
	t.Helper()
	clk := clockwork.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	gw, err := NewGateway(storetest.New(t, store.Options{Now: clk.Now}), GatewayOptions{GatewayID: "gw-report", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadReportKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw.SetReportKey(key)
	s, rev := gw.Site()
	s.Modbus.Buses = []Bus{{Name: "plant", Kind: BusTCP, Address: "127.0.0.1:1502"}}
	if err := s.AddDevice(Device{Name: "meter", Bus: "plant", UnitID: 1, Profile: "eastron-sdm630"}); err != nil {
		t.Fatal(err)
	}
	installer := Actor{ID: "u-7", Role: "installer"}
	if _, err := gw.ApplySite(Edit{Actor: installer, Action: ActionConfigChange, Base: rev}, s); err != nil {
		t.Fatal(err)
	}
	st := field.Status{Device: "meter", State: field.StateOnline, Requests: 10, SuccessRate: 0.9, Errors: map[string]uint64{"timeout": 1}}
	if err := gw.FieldSink().Record(st, []field.Reading{{Device: "meter", Point: "voltage_l1", Value: field.Number(230.1234567), Unit: "V", Quality: field.QualityGood, TS: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	return gw
}

func TestCommissioningReport(t *testing.T) {
	gw := reportGateway(t)
	r, err := gw.CommissioningReport()
	if err != nil {
		t.Fatal(err)
	}
	if r.GatewayID != "gw-report" || len(r.Devices) != 1 || r.Devices[0].Profile != "eastron-sdm630" || r.Devices[0].UnitID != 1 || r.Devices[0].SuccessRate != 0.9 {
		t.Fatalf("report %+v", r)
	}
	if len(r.Commission) != 1 || r.Commission[0].ID != "u-7" || r.Commission[0].Role != "installer" || r.Commission[0].Changes != 1 {
		t.Fatalf("commissioned by %+v", r.Commission)
	}
	if r.Audit.FirstSeq != 1 || r.Audit.LastSeq < 2 || len(r.Audit.ChainHash) != 64 || !r.Audit.Verified {
		t.Fatalf("audit span %+v", r.Audit)
	}
	if r.Summary.Points != 30 || r.Summary.PointsGood != 1 || r.Summary.DevicesOnline != 1 {
		t.Fatalf("summary %+v", r.Summary)
	}
	for _, f := range []ReportFormat{ReportText, ReportMarkdown} {
		b, err := r.Render(f, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"gw-report", "meter", "eastron-sdm630", "90.0%", "230.1 V", "u-7", "installer", r.Audit.ChainHash} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s report lacks %q:\n%s", f, want, b)
			}
		}
		if bytes.Contains(b, []byte("230.1234567")) {
			t.Errorf("%s report shows full precision", f)
		}
	}
	b, _ := r.Render(ReportJSON, time.UTC)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["schema"] != ReportSchema {
		t.Fatalf("json body: %v", err)
	}
	if !bytes.Contains(b, []byte("230.1234567")) {
		t.Error("the JSON report lost precision")
	}
}

// A signed report verifies with the gateway's key, and any one changed
// byte anywhere in the file fails, whatever the format.
func TestSignedReportEveryByte(t *testing.T) {
	gw := reportGateway(t)
	pub := gw.ReportKey().Public()
	other, err := LoadReportKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []ReportFormat{ReportText, ReportMarkdown, ReportJSON} {
		doc, err := gw.SignedReport(Actor{ID: "u-7", Role: "installer"}, f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := VerifyReport(doc, pub)
		if err != nil || v.Format != f || v.Gateway != "gw-report" {
			t.Fatalf("%s: %+v %v", f, v, err)
		}
		if f == ReportJSON {
			var whole struct {
				Report    CommissioningReport `json:"report"`
				Signature map[string]any      `json:"signature"`
			}
			if err := json.Unmarshal(doc, &whole); err != nil || whole.Report.GatewayID != "gw-report" || whole.Signature["format"] != "json" {
				t.Fatalf("a signed JSON report is not JSON: %v\n%s", err, doc)
			}
		}
		if _, err := VerifyReport(doc, other.Public()); !errors.Is(err, ErrReportOtherKey) {
			t.Fatalf("%s with another key: %v", f, err)
		}
		for i := range doc {
			changed := bytes.Clone(doc)
			changed[i] ^= 0x01
			if _, err := VerifyReport(changed, pub); err == nil {
				t.Fatalf("%s: changing byte %d (%q) still verifies", f, i, doc[i])
			}
		}
		for _, cut := range [][]byte{doc[:len(doc)-1], doc[1:], append(bytes.Clone(doc), '\n'), append(bytes.Clone(doc), "more\n"...)} {
			if _, err := VerifyReport(cut, pub); err == nil {
				t.Fatalf("%s: a cut or extended report verifies", f)
			}
		}
	}
	if _, err := VerifyReport([]byte("hello\n"), pub); !errors.Is(err, ErrReportUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	events, _ := gw.AuditLog().ListAudit(AuditFilter{})
	if last := events[len(events)-1]; last.Action != string(ActionReportCommissioning) || last.Actor != "u-7" {
		t.Fatalf("report not audited: %+v", last)
	}
	gw.SetReportKey(nil)
	if _, err := gw.SignedReport(LocalActor, ReportText); !errors.Is(err, ErrNoReportKey) {
		t.Fatalf("without a key: %v", err)
	}
}

func FuzzVerifyReport(f *testing.F) {
	key, err := LoadReportKey(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key.Sign(ReportText, "gw-1", []byte("a report\n")))
	f.Add(key.Sign(ReportJSON, "gw-1", []byte("{\n    \"a\": 1\n  }\n")))
	f.Add([]byte("{\n  \"report\": {},\n  \"signature\": {\"v\":1}\n}\n"))
	pub := key.Public()
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := VerifyReport(doc, pub)
		if err == nil && (v.Gateway == "" || v.Format == 0) {
			t.Fatalf("verified without a gateway or format: %+v", v)
		}
	})
}
