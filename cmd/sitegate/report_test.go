package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store/storetest"
)

// sitegate report verify checks a report offline: intact passes, any
// changed byte fails with exit 1, a missing key is a usage mistake.
func TestReportVerifyOffline(t *testing.T) {
	dir := t.TempDir()
	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{GatewayID: "gw-report"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := device.LoadReportKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	gw.SetReportKey(key)
	pub := filepath.Join(dir, "gateway.pub")
	if err := os.WriteFile(pub, key.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []device.ReportFormat{device.ReportText, device.ReportMarkdown, device.ReportJSON} {
		doc, err := gw.SignedReport(device.LocalActor, f)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "report."+f.String())
		if err := os.WriteFile(file, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		r := sitegate(t, "", "report", "verify", file, "--pub", pub)
		if r.code != exitOK || !strings.Contains(r.stdout, "is intact: a "+f.String()+" commissioning report of gateway gw-report") {
			t.Fatalf("%s: %+v", f, r)
		}
		if r := sitegate(t, string(doc), "report", "verify", "-", "--pub", pub); r.code != exitOK {
			t.Fatalf("%s from stdin: %+v", f, r)
		}
		changed := bytes.Replace(doc, []byte("gw-report"), []byte("gw-rep0rt"), 1)
		if err := os.WriteFile(file, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := sitegate(t, "", "report", "verify", file, "--pub", pub); r.code != exitFailure || !strings.Contains(r.stder, "is NOT intact") {
			t.Fatalf("%s changed: %+v", f, r)
		}
	}
	if r := sitegate(t, "", "report", "verify", "x"); r.code != exitUsage || !strings.Contains(r.stder, "--pub is required") {
		t.Fatalf("without --pub: %+v", r)
	}
	if r := sitegate(t, "", "report", "verify", "--pub", pub); r.code != exitUsage {
		t.Fatalf("without a file: %+v", r)
	}
	if r := sitegate(t, "", "report", "verify", filepath.Join(dir, "nope"), "--pub", pub); r.code != exitFailure || !strings.Contains(r.stder, "read the report") {
		t.Fatalf("missing file: %+v", r)
	}
}
