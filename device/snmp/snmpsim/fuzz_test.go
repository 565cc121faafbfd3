package snmpsim

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// FuzzAnswer feeds arbitrary datagrams to the simulator's request
// handling: no panic, and an answer only to a v2c request with its
// community.
func FuzzAnswer(f *testing.F) {
	enc := func(pdu gosnmp.PDUType, community string, vars []gosnmp.SnmpPDU, nonRep uint8, reps uint32) []byte {
		g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: community}
		b, err := g.SnmpEncodePacket(pdu, vars, nonRep, reps)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	null := func(oid string) gosnmp.SnmpPDU { return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Null} }
	f.Add(enc(gosnmp.GetRequest, "demo", []gosnmp.SnmpPDU{null(".1.3.6.1.2.1.1.5.0")}, 0, 0))
	f.Add(enc(gosnmp.GetNextRequest, "demo", []gosnmp.SnmpPDU{null(".1.3.6.1.2.1.33")}, 0, 0))
	f.Add(enc(gosnmp.GetBulkRequest, "demo", []gosnmp.SnmpPDU{null(".1.3.6.1.2.1.1.3.0"), null(".1.3.6.1.2.1.2.2.1.10")}, 1, 200))
	f.Add(enc(gosnmp.GetRequest, "wrong", []gosnmp.SnmpPDU{null(".1.3")}, 0, 0))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a := &Agent{cfg: Config{Community: "demo", Name: "sim-ups", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}, start: now.Add(-time.Hour)}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := a.answer(b)
		if err != nil {
			return
		}
		dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "demo"}
		resp, err := dec.SnmpDecodePacket(out)
		if err != nil || resp.PDUType != gosnmp.GetResponse || resp.Community != "demo" {
			t.Fatalf("answer %x does not decode as a response: %v", out, err)
		}
		if len(resp.Variables) > MaxRequestVars*(MaxRepetitions+1) {
			t.Fatalf("%d varbinds answered", len(resp.Variables))
		}
	})
}
