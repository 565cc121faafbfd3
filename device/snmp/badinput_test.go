package snmp_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
)

// hostile is an agent that answers every request badly, in the way its
// answer function says (nil: no answer).
func hostile(t *testing.T, answer func(req *gosnmp.SnmpPacket, raw []byte) []byte) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: snmptest.Community}
			req, err := dec.SnmpDecodePacket(buf[:n])
			if err != nil {
				continue
			}
			if out := answer(req, buf[:n]); out != nil {
				_, _ = c.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); wg.Wait() })
	return c.LocalAddr().String()
}

// respond encodes a response to req with vars, the request id copied.
func respond(req *gosnmp.SnmpPacket, vars []gosnmp.SnmpPDU) []byte {
	enc := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: snmptest.Community}
	enc.SetRequestID(req.RequestID - 1)
	b, err := enc.SnmpEncodePacket(gosnmp.GetResponse, vars, 0, 0)
	if err != nil {
		panic(err)
	}
	return b
}

// Agents that answer garbage, the wrong OIDs, a walk that does not
// advance, or more than they were asked for: a clear error, no hang, and
// never online.
func TestBadAgents(t *testing.T) {
	garbage := hostile(t, func(_ *gosnmp.SnmpPacket, raw []byte) []byte {
		return append([]byte{0x30, 0x82, 0xff, 0xff}, raw[4:]...) // a length beyond the datagram
	})
	wrongOID := hostile(t, func(req *gosnmp.SnmpPacket, _ []byte) []byte {
		return respond(req, []gosnmp.SnmpPDU{{Name: ".1.3.6.1.9.9.9", Type: gosnmp.Integer, Value: 1}})
	})
	stuck := hostile(t, func(req *gosnmp.SnmpPacket, _ []byte) []byte {
		// Every GETBULK answered with the same row: no progress.
		return respond(req, []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.2.2.1.8.5", Type: gosnmp.Integer, Value: 1}})
	})
	flood := hostile(t, func(req *gosnmp.SnmpPacket, _ []byte) []byte {
		// Far more rows than asked, each advancing.
		base := strings.TrimSuffix(req.Variables[0].Name, ".0")
		var vars []gosnmp.SnmpPDU
		for i := range 400 {
			vars = append(vars, gosnmp.SnmpPDU{Name: base + ".1." + itoa(i+1), Type: gosnmp.Integer, Value: i})
		}
		return respond(req, vars)
	})
	walk := device.SNMPPoint{Name: "rows", Walk: "1.3.6.1.2.1.2.2.1.8", MaxRows: 10}
	site := device.DefaultSite()
	site.SNMP.Devices = []device.SNMPDevice{
		v2c("garbage", garbage, device.SNMPPoint{Name: "p", OID: snmptest.SysUpTimeOID}),
		v2c("wrong-oid", wrongOID, device.SNMPPoint{Name: "p", OID: snmptest.SysUpTimeOID}),
		v2c("stuck", stuck, walk),
		v2c("flood", flood, walk),
	}
	for i := range site.SNMP.Devices {
		site.SNMP.Devices[i].Retries = ptr(0)
	}
	f := startGateway(t, site, snmp.Options{})
	for dev, want := range map[string]string{
		"garbage":   "not valid SNMP",
		"wrong-oid": "answered 1.3.6.1.9.9.9 for " + snmptest.SysUpTimeOID,
		"stuck":     "does not advance",
	} {
		if !devicetest.Within(wait, func() bool {
			st := status(f.gw, dev)
			return st.State != field.StateOnline && st.State != field.StateUnknown && strings.Contains(st.LastError, want)
		}) {
			t.Errorf("%s: %+v; want an error with %q", dev, status(f.gw, dev), want)
		}
	}
	// The flood is cut at max_rows: ten rows, and the status says so
	// (not as a failed request: the device is online).
	devicetest.Eventually(t, wait, "flood read", func() bool {
		rs, _ := f.gw.Readings("flood")
		st := status(f.gw, "flood")
		return len(rs) == 10 && st.State == field.StateOnline && strings.Contains(st.LastError, "stopped at max_rows 10") && st.Failed() == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	vars, truncated, err := f.drv.Walk(ctx, "flood", "1.3.6.1.2.1", 5)
	if err != nil || len(vars) != 5 || !truncated {
		t.Fatalf("walk of the flood = %d, %v, %v", len(vars), truncated, err)
	}
	_, err = f.drv.Get(ctx, "garbage", []string{snmptest.SysUpTimeOID})
	if !errors.Is(err, snmp.ErrGarbled) {
		t.Fatalf("Get of garbage = %v", err)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
