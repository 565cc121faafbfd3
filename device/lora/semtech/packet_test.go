package semtech

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

var testEUI = lorawan.EUI64{0x00, 0x16, 0xc0, 0x01, 0xff, 0x10, 0xa2, 0x35}

// PROTOCOL.TXT's rxpk example, as published (its first "data" is not
// base64: the document's own typo, which makes a good refusal case).
const protocolRXPK = `{"rxpk":[
	{"time":"2013-03-31T16:21:17.528002Z","tmst":3512348611,"chan":2,"rfch":0,"freq":866.349812,"stat":1,"modu":"LORA",
	 "datr":"SF7BW125","codr":"4/6","rssi":-35,"lsnr":5.1,"size":32,"data":"-DS4CGaDCdG+48eJNM3Vai-zDpsR71Pn9CPA9uCON84"},
	{"time":"2013-03-31T16:21:17.530974Z","tmst":3512348514,"chan":9,"rfch":1,"freq":869.1,"stat":1,"modu":"FSK",
	 "datr":50000,"rssi":-75,"size":16,"data":"VEVTVF9QQUNLRVRfMTIzNA=="},
	{"time":"2013-03-31T16:21:17.532038Z","tmst":3316387610,"chan":0,"rfch":0,"freq":863.00981,"stat":1,"modu":"LORA",
	 "datr":"SF10BW125","codr":"4/7","rssi":-38,"lsnr":5.5,"size":32,"data":"ysgRl452xNLep9S1NTIg2lomKDxUgn3DJ7DE+b00Ass"}
],
"stat":{"time":"2014-01-12 08:59:28 GMT","lati":46.24000,"long":3.25230,"alti":145,"rxnb":2,"rxok":2,"rxfw":2,"ackr":100.0,"dwnb":2,"txnb":2}}`

func TestDecodePushProtocolExample(t *testing.T) {
	p, err := DecodePush([]byte(protocolRXPK))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refused) != 1 || !errors.Is(p.Refused[0], ErrBase64) || !strings.Contains(p.Refused[0].Error(), "rxpk[0]") {
		t.Fatalf("refused %v", p.Refused)
	}
	if len(p.RXPK) != 2 {
		t.Fatalf("rxpk %+v", p.RXPK)
	}
	fsk, lora := p.RXPK[0], p.RXPK[1]
	if fsk.Datr.FSK != 50000 || fsk.Modu != "FSK" || string(fsk.Data) != "TEST_PACKET_1234" || fsk.FrequencyHz() != 869100000 || fsk.RSSI != -75 {
		t.Fatalf("fsk rxpk %+v", fsk)
	}
	if lora.Datr.LoRa != "SF10BW125" || lora.Tmst != 3316387610 || len(lora.Data) != 32 || lora.LSNR != 5.5 || lora.FrequencyHz() != 863009810 {
		t.Fatalf("lora rxpk %+v", lora)
	}
	if at, ok := lora.At(); !ok || at.Nanosecond() != 532038000 {
		t.Fatalf("time %v %v", at, ok)
	}
	if p.Stat == nil || p.Stat.RXNb != 2 || p.Stat.Alti != 145 || p.Stat.ACKR != 100 {
		t.Fatalf("stat %+v", p.Stat)
	}
	if _, ok := parseTime(p.Stat.Time); !ok {
		t.Fatal("stat time does not parse")
	}
}

func TestDecodePushRefuses(t *testing.T) {
	for name, js := range map[string]string{
		"not json": `{"rxpk":[`, "array root": `[1]`, "rxpk not array": `{"rxpk":{}}`,
	} {
		if _, err := DecodePush([]byte(js)); !errors.Is(err, ErrJSON) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p, err := DecodePush([]byte(`{"rxpk":[{"size":4,"data":"AAAA"},{"tmst":"x","data":""},{"size":1,"data":"AA==","future":{"a":1}}],"extra":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.RXPK) != 1 || len(p.Refused) != 2 || !errors.Is(p.Refused[0], ErrSize) || !errors.Is(p.Refused[1], ErrJSON) {
		t.Fatalf("rxpk %+v refused %v", p.RXPK, p.Refused)
	}
}

// PROTOCOL.TXT's txpk example (unpadded base64, "padding optional").
func TestPullRespProtocolExample(t *testing.T) {
	tx, err := DecodePullResp([]byte(`{"txpk":{"imme":true,"freq":864.123456,"rfch":0,"powe":14,"modu":"LORA","datr":"SF11BW125","codr":"4/6","ipol":false,"size":32,"data":"H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Imme || tx.Freq != 864.123456 || tx.Powe != 14 || tx.Datr.LoRa != "SF11BW125" || len(tx.Data) != 32 || tx.Tmst != nil {
		t.Fatalf("txpk %+v", tx)
	}
	tm := uint32(1234567)
	js, err := EncodePullResp(TXPK{Tmst: &tm, Freq: 868.1, Powe: 14, Modu: "LORA", Datr: DataRate{LoRa: "SF7BW125"}, Codr: "4/5", IPol: true, Data: []byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"txpk":{"tmst":1234567,"freq":868.1,"rfch":0,"powe":14,"modu":"LORA","datr":"SF7BW125","codr":"4/5","ipol":true,"size":3,"data":"AQID"}}`
	if string(js) != want {
		t.Fatalf("pull resp json\n%s\nwant\n%s", js, want)
	}
	if _, err := DecodePullResp([]byte(`{}`)); !errors.Is(err, ErrJSON) {
		t.Fatal("a PULL_RESP without txpk decoded")
	}
	if _, err := DecodePullResp([]byte(`{"txpk":{"data":"!!"}}`)); !errors.Is(err, ErrBase64) {
		t.Fatal("broken base64 decoded")
	}
	fsk, _ := EncodePullResp(TXPK{Imme: true, Modu: "FSK", Datr: DataRate{FSK: 50000}, FDev: 25000})
	if !strings.Contains(string(fsk), `"datr":50000`) {
		t.Fatalf("fsk datr %s", fsk)
	}
}

func TestPacketGolden(t *testing.T) {
	for _, tc := range []struct {
		p   Packet
		hex string
	}{
		{Packet{Version: 2, Token: 0xabcd, Type: PushData, GatewayEUI: testEUI, JSON: []byte("{}")}, "02abcd000016c001ff10a2357b7d"},
		{Packet{Version: 2, Token: 0xabcd, Type: PushAck}, "02abcd01"},
		{Packet{Version: 2, Token: 0x0102, Type: PullData, GatewayEUI: testEUI}, "020102020016c001ff10a235"},
		{Packet{Version: 2, Token: 0x0102, Type: PullAck}, "02010204"},
		{Packet{Version: 2, Token: 7, Type: PullResp, JSON: []byte("{}")}, "020007037b7d"},
		{Packet{Version: 2, Token: 7, Type: TxAck, GatewayEUI: testEUI}, "020007050016c001ff10a235"},
	} {
		b, err := tc.p.AppendBinary(nil)
		if err != nil || hex.EncodeToString(b) != tc.hex {
			t.Fatalf("%s: %x, %v; want %s", tc.p.Type, b, err, tc.hex)
		}
		got, err := DecodePacket(b)
		if err != nil || got.Type != tc.p.Type || got.Token != tc.p.Token || got.GatewayEUI != tc.p.GatewayEUI || string(got.JSON) != string(tc.p.JSON) {
			t.Fatalf("%s: decoded %+v, %v", tc.p.Type, got, err)
		}
		if back, err := ParseType(tc.p.Type.String()); err != nil || back != tc.p.Type {
			t.Fatal("ParseType")
		}
	}
	if a := ack(Packet{Token: 0xabcd, Type: PushData}); hex.EncodeToString(a) != "02abcd01" {
		t.Fatalf("push ack %x", a)
	}
	for name, tc := range map[string]struct {
		hex  string
		want error
	}{
		"empty": {"", ErrTruncated}, "3 bytes": {"02abcd", ErrTruncated}, "version 1": {"01abcd02", ErrVersion},
		"type 6": {"02abcd06", ErrType}, "short pull": {"02abcd020016", ErrTruncated}, "push no json": {"02abcd000016c001ff10a235", ErrTruncated},
		"ack with junk": {"02abcd0100", ErrJSON},
	} {
		b, _ := hex.DecodeString(tc.hex)
		if _, err := DecodePacket(b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestTxAck(t *testing.T) {
	for _, e := range []TxError{TxNone, TxTooLate, TxTooEarly, TxCollisionPacket, TxCollisionBeacon, TxFreq, TxPower, TxGPSUnlocked} {
		got, err := DecodeTxAck(EncodeTxAck(e))
		if err != nil || got != e {
			t.Fatalf("%s: %v, %v", e, got, err)
		}
	}
	if e, err := DecodeTxAck(nil); e != TxNone || err != nil {
		t.Fatal("an empty TX_ACK is not success")
	}
	if e, err := DecodeTxAck([]byte(`{"txpk_ack":{"error":"MELTED"}}`)); e != TxUnknown || err == nil {
		t.Fatal("an unknown code")
	}
	if e, err := DecodeTxAck([]byte(`{"txpk_ack":`)); e != 0 || !errors.Is(err, ErrJSON) {
		t.Fatal("broken json")
	}
	if e, _ := DecodeTxAck([]byte(`{"txpk_ack":{"warn":"TX_POWER"}}`)); e != TxNone {
		t.Fatal("a warning is not a failure")
	}
}
