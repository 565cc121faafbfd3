package lorawan

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

// Golden encodings worked out from the byte layouts of the specification
// (LoRaWAN 1.0.4 section 5): CID, then the payload little-endian, with
// frequencies in three bytes of 100 Hz.
func TestMACCommandsGolden(t *testing.T) {
	down := []MACCommand{
		LinkCheckAns{Margin: 20, GwCnt: 3},                                             // 02 14 03
		LinkADRReq{DataRate: 5, TXPower: 1, ChMask: 0x0007, ChMaskCntl: 0, NbTrans: 1}, // 03 51 0700 01
		DutyCycleReq{MaxDCycle: 7},                                                     // 04 07
		RXParamSetupReq{RX1DROffset: 1, RX2DataRate: 3, Frequency: 869525000},          // 05 13 d2ad84
		DevStatusReq{}, // 06
		NewChannelReq{ChIndex: 3, Frequency: 867100000, MinDR: 0, MaxDR: 5}, // 07 03 184f84 50
		RXTimingSetupReq{Delay: 2},                           // 08 02
		TxParamSetupReq{DownlinkDwellTime: true, MaxEIRP: 5}, // 09 25
		DlChannelReq{ChIndex: 0, Frequency: 868100000},       // 0a 00 287684
		DeviceTimeAns{GPSSeconds: 1, Fraction: 128},          // 0d 01000000 80
	}
	b, err := AppendMACCommands(nil, Downlink, down...)
	if err != nil {
		t.Fatal(err)
	}
	// 868100000/100 = 8681000 = 0x847628, little-endian 28 76 84.
	const want = "021403" + "03510700" + "01" + "0407" + "0513d2ad84" + "06" + "0703184f8450" + "0802" + "0925" + "0a00287684" + "0d0100000080"
	if hex.EncodeToString(b) != want {
		t.Fatalf("downlink commands = %x\nwant                %s", b, want)
	}
	got, err := ParseMACCommands(b, Downlink)
	if err != nil || !reflect.DeepEqual(got, down) {
		t.Fatalf("parse = %#v, %v", got, err)
	}

	up := []MACCommand{
		LinkCheckReq{}, LinkADRAns{PowerACK: true, DataRateACK: true, ChannelMaskACK: true}, DutyCycleAns{},
		RXParamSetupAns{RX1DROffsetACK: true, ChannelACK: true}, DevStatusAns{Battery: 200, Margin: -5},
		NewChannelAns{DataRateRangeOK: true, ChannelFrequencyOK: true}, RXTimingSetupAns{}, TxParamSetupAns{},
		DlChannelAns{ChannelFrequencyOK: true}, DeviceTimeReq{},
	}
	b, err = AppendMACCommands(nil, Uplink, up...)
	if err != nil {
		t.Fatal(err)
	}
	const wantUp = "02" + "0307" + "04" + "0505" + "06c83b" + "0703" + "08" + "09" + "0a01" + "0d"
	if hex.EncodeToString(b) != wantUp {
		t.Fatalf("uplink commands = %x, want %s", b, wantUp)
	}
	got, err = ParseMACCommands(b, Uplink)
	if err != nil || !reflect.DeepEqual(got, up) {
		t.Fatalf("parse = %#v, %v", got, err)
	}
	if _, err := AppendMACCommands(nil, Uplink, LinkCheckAns{}); !errors.Is(err, ErrInvalid) {
		t.Fatal("a downlink command was encoded as uplink")
	}
}

func TestMACCommandsStopCleanly(t *testing.T) {
	// LinkCheckReq, DevStatusAns, then an unknown CID 0x80 and more bytes.
	got, err := ParseMACCommands([]byte{0x02, 0x06, 0xff, 0x1f, 0x80, 0x01, 0x02}, Uplink)
	if !errors.Is(err, ErrUnknownMAC) || len(got) != 2 || got[1] != (DevStatusAns{Battery: 255, Margin: 31}) {
		t.Fatalf("got %#v, %v", got, err)
	}
	got, err = ParseMACCommands([]byte{0x02, 0x05, 0x03, 0x03, 0x51}, Downlink) // LinkCheckAns 05 03, then LinkADRReq cut
	if !errors.Is(err, ErrTruncated) || len(got) != 1 {
		t.Fatalf("got %#v, %v", got, err)
	}
	if CIDLinkADR.String() != "LinkADR" || CID(0x7f).String() != "CID(0x7f)" {
		t.Fatal("CID names")
	}
}
