package semtech

import (
	"encoding/json"
	"net"
	"testing"
)

// FuzzDecodePacket feeds arbitrary datagrams to the packet codec and, for
// the types that carry one, to the JSON decoders; a decoded packet
// re-encodes to the same bytes.
func FuzzDecodePacket(f *testing.F) {
	for _, p := range []Packet{
		{Token: 1, Type: PushData, GatewayEUI: testEUI, JSON: []byte(protocolRXPK)},
		{Token: 2, Type: PullData, GatewayEUI: testEUI},
		{Token: 3, Type: PullResp, JSON: []byte(`{"txpk":{"imme":true,"data":"AQID"}}`)},
		{Token: 4, Type: TxAck, GatewayEUI: testEUI, JSON: EncodeTxAck(TxCollisionPacket)},
		{Token: 5, Type: PushAck},
	} {
		b, _ := p.AppendBinary(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b)
		if err != nil {
			return
		}
		switch p.Type {
		case PushData:
			DecodePush(p.JSON)
		case PullResp:
			DecodePullResp(p.JSON)
		case TxAck:
			DecodeTxAck(p.JSON)
		}
		out, err := p.AppendBinary(nil)
		if err != nil || string(out) != string(b) {
			t.Fatalf("re-encoded %x as %x (%v)", b, out, err)
		}
	})
}

// FuzzPushJSON feeds arbitrary JSON to the PUSH_DATA decoder and to the
// server's admission path (registry), which must count and never panic.
func FuzzPushJSON(f *testing.F) {
	f.Add([]byte(protocolRXPK))
	f.Add([]byte(`{"rxpk":[{"stat":1,"size":1,"data":"AA"}],"stat":{"rxnb":1}}`))
	f.Add([]byte(`{"rxpk":[{"datr":"SF7BW125"},{"datr":50000},{"data":7}]}`))
	reg := newRegistry(Limits{Rate: 1e9, Burst: 1 << 30}, nil)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1700}
	f.Fuzz(func(t *testing.T, js []byte) {
		p, err := DecodePush(js)
		if err == nil {
			for _, rx := range p.RXPK {
				if int(rx.Size) != len(rx.Data) {
					t.Fatalf("rxpk with size %d and %d bytes accepted", rx.Size, len(rx.Data))
				}
				if _, err := json.Marshal(rx); err != nil {
					t.Fatal(err)
				}
			}
		}
		b, _ := Packet{Type: PushData, GatewayEUI: testEUI, JSON: js}.AppendBinary(nil)
		reg.admit(from, b)
	})
}
