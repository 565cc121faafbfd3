package lorawan

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// The example uplink of lora-packet's documentation, checked against
// lora-packet: DevAddr 49be7df1, FCnt 2, FPort 1, payload "test".
const (
	readmeFrame   = "40f17dbe4900020001954378762b11ff0d"
	readmeNwkSKey = "44024241ed4ce9a68c6a8bc055233fd3"
	readmeAppSKey = "ec925802ae430ca77fd3dd73cb2cc588"
)

func readmeKeys(t testing.TB) SessionKeys {
	return SessionKeys{NwkSKey: mustKey(t, readmeNwkSKey), AppSKey: mustKey(t, readmeAppSKey)}
}

func TestDecodeDataGolden(t *testing.T) {
	keys := readmeKeys(t)
	f, err := DecodeData(mustHex(t, readmeFrame))
	if err != nil {
		t.Fatal(err)
	}
	if f.MType != UnconfirmedDataUp || f.DevAddr != 0x49be7df1 || f.FCnt != 2 || !f.HasPort || f.FPort != 1 || len(f.FOpts) != 0 {
		t.Fatalf("decoded %+v", f)
	}
	if err := f.CheckMIC(keys.NwkSKey, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.CheckMIC(keys.NwkSKey, 2+1<<16); !errors.Is(err, ErrMIC) {
		t.Fatalf("MIC with the wrong upper counter bits: %v", err)
	}
	if err := f.CheckMIC(keys.AppSKey, 2); !errors.Is(err, ErrMIC) {
		t.Fatalf("MIC with the wrong key: %v", err)
	}
	if got := string(f.Payload(keys, 2)); got != "test" {
		t.Fatalf("payload %q", got)
	}
	// Encode gives the same bytes back.
	b, err := Data{MType: UnconfirmedDataUp, DevAddr: 0x49be7df1, FCnt: 2, HasPort: true, FPort: 1, Payload: []byte("test")}.Encode(keys)
	if err != nil || hex.EncodeToString(b) != readmeFrame {
		t.Fatalf("encode = %x, %v; want %s", b, err, readmeFrame)
	}
}

func TestDataRoundTrip(t *testing.T) {
	keys := readmeKeys(t)
	fopts, _ := AppendMACCommands(nil, Downlink, LinkCheckAns{Margin: 7, GwCnt: 2})
	for _, d := range []Data{
		{MType: ConfirmedDataUp, DevAddr: 0x26011bda, FCtrl: FCtrl{ADR: true, ADRACKReq: true, ClassB: true}, FCnt: 0x12345, HasPort: true, FPort: 10, Payload: bytes.Repeat([]byte{0xa5}, 40)},
		{MType: UnconfirmedDataDown, DevAddr: 1, FCtrl: FCtrl{ACK: true, FPending: true}, FCnt: 7, FOpts: fopts},
		{MType: UnconfirmedDataDown, DevAddr: 1, FCnt: 8, HasPort: true, FPort: 0, Payload: fopts},
		{MType: UnconfirmedDataUp, DevAddr: 2, FCnt: 0xffff, HasPort: true, FPort: 2},
	} {
		b, err := d.Encode(keys)
		if err != nil {
			t.Fatal(err)
		}
		f, err := DecodeData(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CheckMIC(keys.NwkSKey, d.FCnt); err != nil {
			t.Fatalf("%+v: %v", d, err)
		}
		fc := d.FCtrl
		fc.FOptsLen = uint8(len(d.FOpts))
		if f.MType != d.MType || f.DevAddr != d.DevAddr || f.FCtrl != fc || f.FCnt != uint16(d.FCnt) ||
			!bytes.Equal(f.FOpts, d.FOpts) || f.HasPort != d.HasPort || f.FPort != d.FPort ||
			!bytes.Equal(f.Payload(keys, d.FCnt), d.Payload) {
			t.Fatalf("round trip of %+v gave %+v", d, f)
		}
	}
}

func TestDecodeDataRefuses(t *testing.T) {
	good := mustHex(t, readmeFrame)
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":        {nil, ErrTruncated},
		"short":        {good[:11], ErrTruncated},
		"oversized":    {append(append([]byte{}, good...), make([]byte, 250)...), ErrTooLong},
		"join request": {append([]byte{0x00}, good[1:]...), ErrMType},
		"major 1":      {append([]byte{0x41}, good[1:]...), ErrMajor},
		"fopts cut":    {[]byte{0x40, 1, 2, 3, 4, 0x0f, 0, 0, 1, 2, 3, 4}, ErrTruncated},
		"fopts+port0":  {[]byte{0x40, 1, 2, 3, 4, 0x01, 0, 0, 0x02, 0, 9, 1, 2, 3, 4}, ErrFOptsPort0},
	} {
		if _, err := DecodeData(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	if _, err := (Data{MType: JoinAccept}).Encode(SessionKeys{}); !errors.Is(err, ErrMType) {
		t.Error("Encode of a join accept as data succeeded")
	}
	if _, err := (Data{MType: UnconfirmedDataUp, Payload: []byte{1}}).Encode(SessionKeys{}); !errors.Is(err, ErrInvalid) {
		t.Error("a payload without port was encoded")
	}
	if _, err := (Data{MType: UnconfirmedDataUp, FOpts: make([]byte, 16)}).Encode(SessionKeys{}); !errors.Is(err, ErrInvalid) {
		t.Error("16 bytes of FOpts were encoded")
	}
	if _, err := (Data{MType: UnconfirmedDataUp, HasPort: true, Payload: make([]byte, 243)}).Encode(SessionKeys{}); !errors.Is(err, ErrTooLong) {
		t.Error("an oversized frame was encoded")
	}
}

func TestMHDRAndFCtrl(t *testing.T) {
	for m := MType(0); m < 8; m++ {
		h := ParseMHDR(MHDR{MType: m}.Byte())
		if h.MType != m || h.Major != LoRaWANR1 {
			t.Fatalf("MHDR round trip of %s", m)
		}
		p, err := ParseMType(m.String())
		if err != nil || p != m {
			t.Fatalf("ParseMType(%s) = %v, %v", m, p, err)
		}
	}
	if _, err := ParseMType("nope"); err == nil {
		t.Fatal("ParseMType accepted nope")
	}
	// FPending (down) and ClassB (up) share bit 4; ADRACKReq exists only up.
	if b := (FCtrl{FPending: true, ADRACKReq: true}).Byte(Downlink); b != 0x10 {
		t.Fatalf("downlink FCtrl = %#x", b)
	}
	if c := ParseFCtrl(0xf5, Uplink); !c.ADR || !c.ADRACKReq || !c.ACK || !c.ClassB || c.FPending || c.FOptsLen != 5 {
		t.Fatalf("uplink FCtrl = %+v", c)
	}
	if c := ParseFCtrl(0xf5, Downlink); !c.ADR || c.ADRACKReq || !c.ACK || c.ClassB || !c.FPending {
		t.Fatalf("downlink FCtrl = %+v", c)
	}
}

func TestCheckUplink(t *testing.T) {
	keys := readmeKeys(t)
	frame := func(fcnt uint32, mt MType) *DataFrame {
		b, err := Data{MType: mt, DevAddr: 9, FCnt: fcnt, HasPort: true, FPort: 1, Payload: []byte{1}}.Encode(keys)
		if err != nil {
			t.Fatal(err)
		}
		f, err := DecodeData(b)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		next   uint32
		fcnt   uint32
		want   uint32
		status FCntStatus
		err    error
	}{
		{"first", 0, 0, 0, FCntNew, nil},
		{"next", 5, 5, 5, FCntNew, nil},
		{"gap", 5, 900, 900, FCntNew, nil},
		{"rollover", 0xfff0, 0x10002, 0x10002, FCntNew, nil},
		{"second rollover", 0x2fffe, 0x30001, 0x30001, FCntNew, nil},
		{"retransmission", 6, 5, 5, FCntRetransmission, nil},
		{"retransmission at rollover", 0x10000, 0xffff, 0xffff, FCntRetransmission, nil},
		{"replay", 10, 3, 0, 0, ErrReplay},
		{"replay after rollover", 0x10005, 0xfff0, 0, 0, ErrReplay},
		{"too far ahead", 0, 0x10001, 0, 0, ErrMIC},
		{"exhausted", 0xffffffff, 0xffffffff, 0, 0, ErrFCntExhausted},
	} {
		got, st, err := CheckUplink(frame(tc.fcnt, UnconfirmedDataUp), keys.NwkSKey, tc.next)
		if !errors.Is(err, tc.err) || got != tc.want || st != tc.status {
			t.Errorf("%s: got %d %v %v, want %d %v %v", tc.name, got, st, err, tc.want, tc.status, tc.err)
		}
	}
	if _, _, err := CheckUplink(frame(1, UnconfirmedDataDown), keys.NwkSKey, 0); !errors.Is(err, ErrMType) {
		t.Errorf("a downlink was checked as uplink: %v", err)
	}
	if _, _, err := CheckUplink(frame(1, UnconfirmedDataUp), keys.AppSKey, 0); !errors.Is(err, ErrMIC) {
		t.Errorf("wrong key: %v", err)
	}
	for _, tc := range []struct {
		next uint32
		wire uint16
		want uint32
		ok   bool
	}{{0, 0, 0, true}, {0x1fffe, 1, 0x20001, true}, {0xffff0000, 0xfffe, 0xfffffffe, true}, {0xfffffff0, 1, 0, false}} {
		if got, ok := ReconstructFCnt(tc.next, tc.wire); got != tc.want || ok != tc.ok {
			t.Errorf("ReconstructFCnt(%#x, %#x) = %#x %v", tc.next, tc.wire, got, ok)
		}
	}
}
