package snmp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/sitegate/sitegate/device"
)

var fuzzAt = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func encode(t testing.TB, pdu gosnmp.PDUType, community string, vars []gosnmp.SnmpPDU) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: community}
	b, err := g.SnmpEncodePacket(pdu, vars, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func trapVars(oid string, extra ...gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
	return append([]gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(4242)},
		{Name: "." + snmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: "." + oid},
	}, extra...)
}

func responseSeeds(t testing.TB) [][]byte {
	return [][]byte{
		encode(t, gosnmp.GetResponse, "public", []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(12345)},
			{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: []byte("lab")},
			{Name: ".1.3.6.1.2.1.2.2.1.10.1", Type: gosnmp.Counter32, Value: uint32(99)},
			{Name: ".1.3.6.1.2.1.31.1.1.1.6.1", Type: gosnmp.Counter64, Value: uint64(1 << 40)},
			{Name: ".1.3.6.1.2.1.2.2.1.6.2", Type: gosnmp.OctetString, Value: []byte{0, 0x16, 0x3e, 1, 2, 3}},
			{Name: ".1.3.6.1.2.1.1.2.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072.3.2.10"},
			{Name: ".1.3.6.1.2.1.4.20.1.1.1", Type: gosnmp.IPAddress, Value: "127.0.0.1"},
			{Name: ".1.3.6.1.2.1.1.99.0", Type: gosnmp.NoSuchObject},
		}),
		encode(t, gosnmp.GetResponse, "public", []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.2.2.1.8.1", Type: gosnmp.Integer, Value: 1}}),
	}
}

// FuzzResponse feeds arbitrary bytes through what the poller does with an
// agent's answer: gosnmp's decoder, then decodeVar and every conversion.
// Nothing may panic.
func FuzzResponse(f *testing.F) {
	for _, s := range responseSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	scale := 8.0
	points := []device.SNMPPoint{
		{},
		{Scale: &scale},
		{Convert: device.SNMPConvertHWAddr},
		{Convert: device.SNMPConvertEnum, Enum: []device.SNMPEnum{{Agent: "1", Value: "true"}, {Agent: "lab", Value: "3"}}},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}
		pkt, err := g.SnmpDecodePacket(b)
		if err != nil || pkt == nil {
			return
		}
		prev := map[string]sample{}
		for _, p := range pkt.Variables {
			v := decodeVar(p)
			if len(v.Text) > 4*MaxTextBytes {
				t.Fatalf("text of %d bytes kept", len(v.Text))
			}
			for _, pt := range points {
				_, _ = convertValue(v, pt)
			}
			if v.bits != 0 {
				cur := sample{v: v.counter, bits: v.bits, at: fuzzAt}
				_, _, _ = counterRate(prev[v.OID], cur, false)
				prev[v.OID] = cur
			}
			_ = rowPointName("in", v.Text, v.OID, map[string]bool{})
		}
	})
}

func trapConfFor(t testing.TB) *trapConf {
	return &trapConf{
		sources: map[netip.Addr]trapSource{netip.MustParseAddr("127.0.0.1"): {device: "sw-1", community: device.Secret("public")}},
		rules: []device.SNMPTrapRule{
			{Trap: "1.3.6.1.6.3.1.1.5.3", Match: &device.SNMPVarMatch{OID: "1.3.6.1.2.1.2.2.1.1", Value: "2"}},
			{Trap: "1.3.6.1.6.3.1.1.5.4", Action: device.SNMPTrapClear, Alert: "1.3.6.1.6.3.1.1.5.3"},
		},
	}
}

var fuzzSrc = netip.MustParseAddrPort("127.0.0.1:40000")

// FuzzTrap feeds arbitrary datagrams to the trap receiver's decoder and
// the rules. Nothing may panic; whatever is taken comes from the site's
// device with its community and carries a trap OID.
func FuzzTrap(f *testing.F) {
	ifIndex := gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.2.2.1.1.2", Type: gosnmp.Integer, Value: 2}
	f.Add(encode(f, gosnmp.SNMPv2Trap, "public", trapVars("1.3.6.1.6.3.1.1.5.3", ifIndex)))
	f.Add(encode(f, gosnmp.InformRequest, "public", trapVars("1.3.6.1.6.3.1.1.5.4", ifIndex)))
	f.Add(encode(f, gosnmp.SNMPv2Trap, "wrong", trapVars("1.3.6.1.6.3.1.1.5.3")))
	f.Add(encode(f, gosnmp.GetRequest, "public", []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.Null}}))
	conf := trapConfFor(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, resp, err := decodeTrap(b, fuzzSrc, conf, fuzzAt)
		if err != nil {
			if resp != nil {
				t.Fatal("an answer to a dropped trap")
			}
			return
		}
		if tr.Device != "sw-1" || tr.OID == "" || len(tr.Vars) > MaxTrapVars {
			t.Fatalf("taken: %+v", tr)
		}
		if tr.Inform != (resp != nil) {
			t.Fatalf("inform %v with answer %x", tr.Inform, resp)
		}
		_, _ = matchRule(tr, conf.rules)
		_ = trapDetail(tr)
	})
}

// The acknowledgement of an inform is the inform itself as a Response PDU
// (RFC 3416 4.2.7): the same bytes with the PDU tag 0xa6 turned into 0xa2.
// Traps from elsewhere, with another community, of another version or
// without snmpTrapOID.0 are dropped with their reason.
func TestDecodeTrap(t *testing.T) {
	conf := trapConfFor(t)
	inform := encode(t, gosnmp.InformRequest, "public", trapVars("1.3.6.1.6.3.1.1.5.4"))
	tr, resp, err := decodeTrap(inform, fuzzSrc, conf, fuzzAt)
	if err != nil || !tr.Inform || tr.OID != "1.3.6.1.6.3.1.1.5.4" || tr.Device != "sw-1" {
		t.Fatalf("decodeTrap = %+v, %v", tr, err)
	}
	i := bytes.IndexByte(inform, byte(gosnmp.InformRequest))
	want := bytes.Clone(inform)
	want[i] = byte(gosnmp.GetResponse)
	if !bytes.Equal(resp, want) {
		t.Fatalf("ack\n got %x\nwant %x", resp, want)
	}
	v1 := &gosnmp.GoSNMP{Version: gosnmp.Version1, Community: "public"}
	v1trap, err := v1.SnmpEncodePacket(gosnmp.SNMPv2Trap, trapVars("1.3.6.1.6.3.1.1.5.3"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		b      []byte
		src    netip.AddrPort
		reason string
	}{
		{"unknown source", encode(t, gosnmp.SNMPv2Trap, "public", trapVars("1.3.6.1.6.3.1.1.5.3")), netip.MustParseAddrPort("10.0.0.9:162"), dropSource},
		{"wrong community", encode(t, gosnmp.SNMPv2Trap, "publiC", trapVars("1.3.6.1.6.3.1.1.5.3")), fuzzSrc, dropCommunity},
		{"v1", v1trap, fuzzSrc, dropVersion},
		{"v3", []byte{0x30, 0x81, 0x10, 0x02, 0x01, 0x03, 0x30, 0x00}, fuzzSrc, dropVersion},
		{"a get", encode(t, gosnmp.GetRequest, "public", []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.Null}}), fuzzSrc, dropPDU},
		{"no trap oid", encode(t, gosnmp.SNMPv2Trap, "public", trapVars("1.3")[:1]), fuzzSrc, dropNoTrapOID},
		{"garbage", []byte("not snmp"), fuzzSrc, dropDecode},
	} {
		_, resp, err := decodeTrap(tt.b, tt.src, conf, fuzzAt)
		if err == nil || resp != nil || !bytes.Contains([]byte(err.Error()), []byte(tt.reason)) {
			t.Errorf("%s: %v (answer %x); want %s", tt.name, err, resp, tt.reason)
		}
	}
}
