package stack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// unhex reads "0C 00000005 19 55" style hex, as the standard prints it.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad golden %q: %v", s, err)
	}
	return b
}

func mustApp(t *testing.T, v Value) []byte {
	t.Helper()
	b, err := AppendApp(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Clause 20.2's own encoding examples of every application type.
func TestApplicationTagGoldens(t *testing.T) {
	cases := []struct {
		name string
		v    Value
		hex  string
	}{
		{"null", Null(), "00"},
		{"boolean false", Bool(false), "10"},
		{"boolean true", Bool(true), "11"},
		{"unsigned 72", Unsigned(72), "21 48"},
		{"unsigned 256", Unsigned(256), "22 0100"},
		{"signed 72", Signed(72), "31 48"},
		{"signed -1", Signed(-1), "31 FF"},
		{"signed -129", Signed(-129), "32 FF7F"},
		{"real 72.0", Real(72.0), "44 42900000"},
		{"double 72.0", Double(72.0), "55 08 4052000000000000"},
		{"octet string", OctetString([]byte{0x12, 0x34, 0xFF}), "63 1234FF"},
		{"character string", CharString("This is a BACnet string!"), "75 19 00 546869732069732061204241436E657420737472696E6721"},
		{"bit string 10101", Bits(NewBitString(5, 0, 2, 4)), "82 03 A8"},
		{"enumerated 0", Enumerated(0), "91 00"},
		{"date 1991-01-24 thursday", DateValue(Date{91, 1, 24, 4}), "A4 5B 01 18 04"},
		{"time 17:35:45.17", TimeValue(Time{17, 35, 45, 17}), "B4 11 23 2D 11"},
		{"object binary-input:15", ObjectValue(ObjectID{ObjectBinaryInput, 15}), "C4 00C0000F"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.hex)
			got := mustApp(t, c.v)
			if !bytes.Equal(got, want) {
				t.Fatalf("encode %s = % X, want % X", c.name, got, want)
			}
			back, err := NewReader(want).App()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, c.v) {
				t.Fatalf("decode %s = %+v, want %+v", c.name, back, c.v)
			}
		})
	}
}

// Clause 20.2.15 context-tag examples, extended tag numbers and lengths.
func TestContextTagsAndExtendedForms(t *testing.T) {
	b, _ := AppendContext(nil, 0, Unsigned(256))
	if want := unhex(t, "0A 0100"); !bytes.Equal(b, want) {
		t.Fatalf("context unsigned = % X, want % X", b, want)
	}
	b, _ = AppendContext(nil, 1, Real(-33.3))
	if want := unhex(t, "1C C2053333"); !bytes.Equal(b, want) {
		t.Fatalf("context real = % X, want % X", b, want)
	}
	b, _ = AppendContext(nil, 2, Bool(true))
	if want := unhex(t, "29 01"); !bytes.Equal(b, want) {
		t.Fatalf("context boolean = % X, want % X", b, want)
	}
	// Tag number 15 and up take the extended octet; so do opening tags.
	b = AppendContextUnsigned(nil, 20, 1)
	if want := unhex(t, "F9 14 01"); !bytes.Equal(b, want) {
		t.Fatalf("extended tag = % X, want % X", b, want)
	}
	if b := AppendOpen(nil, 30); !bytes.Equal(b, []byte{0xFE, 30}) {
		t.Fatalf("extended opening = % X", b)
	}
	// Lengths 5..253 take one octet, up to 65535 two after 254, beyond four after 255.
	for _, n := range []int{5, 253, 254, 65535, 65536} {
		v := OctetString(bytes.Repeat([]byte{7}, n))
		enc := mustApp(t, v)
		got, err := NewReader(enc).App()
		if err != nil || len(got.Octets) != n {
			t.Fatalf("octet string of %d: %v, %d octets back", n, err, len(got.Octets))
		}
	}
	tag, n, err := DecodeTag(unhex(t, "65 FE 0100"))
	if err != nil || n != 4 || tag.Length != 256 {
		t.Fatalf("two-octet length: %+v %d %v", tag, n, err)
	}
}

func TestCharacterSets(t *testing.T) {
	for _, cs := range []Charset{CharsetUTF8, CharsetUCS2, CharsetUCS4, CharsetISO88591} {
		v := Value{Type: TypeCharacterString, String: "Zoné 3", Charset: cs}
		back, err := NewReader(mustApp(t, v)).App()
		if err != nil || back.String != "Zoné 3" {
			t.Fatalf("%s: %q %v", cs, back.String, err)
		}
	}
	// UTF-8 with the charset octet 0: "é" is C3 A9.
	if got := mustApp(t, CharString("é")); !bytes.Equal(got, unhex(t, "73 00 C3A9")) {
		t.Fatalf("utf-8 = % X", got)
	}
	_, err := NewReader(unhex(t, "73 01 4142")).App()
	if !errors.Is(err, ErrCharset) {
		t.Fatalf("dbcs: %v, want ErrCharset", err)
	}
}

func confirmed(t *testing.T, invoke uint8, maxAPDU uint8, svc ConfirmedService, body []byte) []byte {
	t.Helper()
	b, err := AppendAPDU(nil, APDU{Type: PDUConfirmedRequest, MaxAPDU: maxAPDU, InvokeID: invoke, Service: uint8(svc), Payload: body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func complexAck(t *testing.T, invoke uint8, svc ConfirmedService, body []byte) []byte {
	t.Helper()
	b, err := AppendAPDU(nil, APDU{Type: PDUComplexAck, InvokeID: invoke, Service: uint8(svc), Payload: body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func check(t *testing.T, what string, got []byte, golden string) {
	t.Helper()
	if want := unhex(t, golden); !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got % X\nwant % X", what, got, want)
	}
}

var (
	ai5  = ObjectID{ObjectAnalogInput, 5}
	ai16 = ObjectID{ObjectAnalogInput, 16}
	ai10 = ObjectID{ObjectAnalogInput, 10}
)

// The encoded examples of ASHRAE 135 Annex F (F.1.2, F.1.3, F.1.10, F.3.5,
// F.3.7, F.3.9, F.4.9), encoded by this package and decoded back.
func TestAnnexF(t *testing.T) {
	t.Run("F.3.5 ReadProperty", func(t *testing.T) {
		body, _ := AppendReadProperty(nil, Ref(ai5, PropPresentValue))
		check(t, "request", confirmed(t, 1, 0, ServiceReadProperty, body), "00 00 01 0C 0C 00000005 19 55")
		ack, _ := AppendReadPropertyAck(nil, PropertyValue{PropertyRef: Ref(ai5, PropPresentValue), Values: []Value{Real(72.3)}})
		golden := "30 01 0C 0C 00000005 19 55 3E 44 4290999A 3F"
		check(t, "ack", complexAck(t, 1, ServiceReadProperty, ack), golden)
		a, err := DecodeAPDU(unhex(t, golden))
		if err != nil || a.Type != PDUComplexAck || a.InvokeID != 1 || a.Service != 12 {
			t.Fatalf("apdu %+v %v", a, err)
		}
		pv, err := DecodeReadPropertyAck(a.Payload)
		if err != nil || pv.Object != ai5 || pv.Property != PropPresentValue || len(pv.Values) != 1 || pv.Values[0].Real != 72.3 {
			t.Fatalf("ack %+v %v", pv, err)
		}
	})
	t.Run("F.3.7 ReadPropertyMultiple", func(t *testing.T) {
		body, _ := AppendRPM(nil, []ReadAccessSpec{{Object: ai16, Properties: []PropertyRef{Ref(ai16, PropPresentValue), Ref(ai16, PropReliability)}}})
		check(t, "request", confirmed(t, 241, 4, ServiceReadPropertyMultiple, body), "00 04 F1 0E 0C 00000010 1E 09 55 09 67 1F")
		specs, err := DecodeRPM(body)
		if err != nil || len(specs) != 1 || len(specs[0].Properties) != 2 {
			t.Fatalf("decode %+v %v", specs, err)
		}
		ack, _ := AppendRPMAck(nil, []ReadResult{
			{PropertyRef: Ref(ai16, PropPresentValue), Values: []Value{Real(72.3)}},
			{PropertyRef: Ref(ai16, PropReliability), Values: []Value{Enumerated(0)}},
		})
		check(t, "ack", complexAck(t, 241, ServiceReadPropertyMultiple, ack),
			"30 F1 0E 0C 00000010 1E 29 55 4E 44 4290999A 4F 29 67 4E 91 00 4F 1F")
	})
	t.Run("F.3.7 ReadPropertyMultiple with an error", func(t *testing.T) {
		specs := []ReadAccessSpec{}
		for _, i := range []uint32{33, 50, 35} {
			o := ObjectID{ObjectAnalogInput, i}
			specs = append(specs, ReadAccessSpec{Object: o, Properties: []PropertyRef{Ref(o, PropPresentValue)}})
		}
		body, _ := AppendRPM(nil, specs)
		check(t, "request", confirmed(t, 2, 4, ServiceReadPropertyMultiple, body),
			"00 04 02 0E 0C 00000021 1E 09 55 1F 0C 00000032 1E 09 55 1F 0C 00000023 1E 09 55 1F")
		golden := "0C 00000021 1E 29 55 4E 44 42293333 4F 1F 0C 00000032 1E 29 55 5E 91 01 91 1F 5F 1F 0C 00000023 1E 29 55 4E 44 43D9D99A 4F 1F"
		res, err := DecodeRPMAck(unhex(t, golden))
		if err != nil || len(res) != 3 {
			t.Fatalf("decode %+v %v", res, err)
		}
		if res[1].Err == nil || res[1].Err.Class != ErrorClassObject || res[1].Err.Code != ErrorCodeUnknownObject {
			t.Fatalf("analog-input:50 result %+v, want object/unknown-object", res[1])
		}
		if res[0].Values[0].Real != 42.3 || res[2].Values[0].Real != 435.7 {
			t.Fatalf("values %+v", res)
		}
		again, _ := AppendRPMAck(nil, res)
		check(t, "re-encoded ack", again, golden)
	})
	t.Run("F.3.9 WriteProperty", func(t *testing.T) {
		av1 := ObjectID{ObjectAnalogValue, 1}
		body, _ := AppendWriteProperty(nil, PropertyValue{PropertyRef: Ref(av1, PropPresentValue), Values: []Value{Real(180)}})
		check(t, "request", confirmed(t, 89, 4, ServiceWriteProperty, body), "00 04 59 0F 0C 00800001 19 55 3E 44 43340000 3F")
		ack, _ := AppendAPDU(nil, APDU{Type: PDUSimpleAck, InvokeID: 89, Service: uint8(ServiceWriteProperty)})
		check(t, "simple-ack", ack, "20 59 0F")
		w, err := DecodeWriteProperty(body)
		if err != nil || w.Object != av1 || w.Values[0].Real != 180 || w.Priority != 0 {
			t.Fatalf("decode %+v %v", w, err)
		}
		// With a priority, and a NULL (relinquish): [4] after the value.
		body, _ = AppendWriteProperty(nil, PropertyValue{PropertyRef: Ref(av1, PropPresentValue), Values: []Value{Null()}, Priority: 8})
		check(t, "relinquish at 8", body, "0C 00800001 19 55 3E 00 3F 49 08")
		w, err = DecodeWriteProperty(body)
		if err != nil || w.Priority != 8 || w.Values[0].Type != TypeNull {
			t.Fatalf("decode relinquish %+v %v", w, err)
		}
		if _, err := AppendWriteProperty(nil, PropertyValue{PropertyRef: Ref(av1, PropPresentValue), Values: []Value{Null()}, Priority: 17}); !errors.Is(err, ErrRange) {
			t.Fatalf("priority 17: %v", err)
		}
	})
	t.Run("F.1.10 SubscribeCOV", func(t *testing.T) {
		s := SubscribeCOV{ProcessID: 18, Object: ai10, Confirmed: true, Lifetime: 0}
		body, _ := AppendSubscribeCOV(nil, s)
		check(t, "request", confirmed(t, 15, 2, ServiceSubscribeCOV, body), "00 02 0F 05 09 12 1C 0000000A 29 01 39 00")
		back, err := DecodeSubscribeCOV(body)
		if err != nil || back != s {
			t.Fatalf("decode %+v %v", back, err)
		}
		cancel, _ := AppendSubscribeCOV(nil, SubscribeCOV{ProcessID: 18, Object: ai10, Cancel: true})
		back, err = DecodeSubscribeCOV(cancel)
		if err != nil || !back.Cancel {
			t.Fatalf("cancel %+v %v", back, err)
		}
	})
	covBody := "09 12 1C 02000004 2C 0000000A 39 00 4E 09 55 2E 44 42820000 2F 09 6F 2E 82 0400 2F 4F"
	cov := COVNotification{ProcessID: 18, Device: ObjectID{ObjectDevice, 4}, Object: ai10, Values: []PropertyValue{
		{PropertyRef: Ref(ai10, PropPresentValue), Values: []Value{Real(65)}},
		{PropertyRef: Ref(ai10, PropStatusFlags), Values: []Value{Bits(NewBitString(4))}},
	}}
	t.Run("F.1.2 ConfirmedCOVNotification", func(t *testing.T) {
		body, _ := AppendCOVNotification(nil, cov)
		check(t, "request", confirmed(t, 15, 2, ServiceConfirmedCOVNotification, body), "00 02 0F 01 "+covBody)
		back, err := DecodeCOVNotification(body)
		if err != nil || !reflect.DeepEqual(back, cov) {
			t.Fatalf("decode %+v %v", back, err)
		}
		ack, _ := AppendAPDU(nil, APDU{Type: PDUSimpleAck, InvokeID: 15, Service: 1})
		check(t, "simple-ack", ack, "20 0F 01")
	})
	t.Run("F.1.3 UnconfirmedCOVNotification", func(t *testing.T) {
		body, _ := AppendCOVNotification(nil, cov)
		b, _ := AppendAPDU(nil, APDU{Type: PDUUnconfirmedRequest, Service: uint8(ServiceUnconfirmedCOVNotification), Payload: body})
		check(t, "request", b, "10 02 "+covBody)
	})
	t.Run("F.4.9 Who-Is and I-Am", func(t *testing.T) {
		body, _ := AppendWhoIs(nil, WhoIs{HasRange: true, Low: 3, High: 3})
		b, _ := AppendAPDU(nil, APDU{Type: PDUUnconfirmedRequest, Service: uint8(ServiceWhoIs), Payload: body})
		check(t, "who-is 3..3", b, "10 08 09 03 19 03")
		b, _ = AppendAPDU(nil, APDU{Type: PDUUnconfirmedRequest, Service: uint8(ServiceWhoIs)})
		check(t, "who-is all", b, "10 08")
		for _, c := range []struct {
			iam IAm
			hex string
		}{
			{IAm{ObjectID{ObjectDevice, 1}, 480, SegmentedTransmit, 99}, "C4 02000001 22 01E0 91 01 21 63"},
			{IAm{ObjectID{ObjectDevice, 2}, 206, SegmentedReceive, 33}, "C4 02000002 21 CE 91 02 21 21"},
			{IAm{ObjectID{ObjectDevice, 3}, 1024, NoSegmentation, 99}, "C4 02000003 22 0400 91 03 21 63"},
			{IAm{ObjectID{ObjectDevice, 4}, 128, SegmentedBoth, 66}, "C4 02000004 21 80 91 00 21 42"},
		} {
			body, _ := AppendIAm(nil, c.iam)
			check(t, "i-am", body, c.hex)
			back, err := DecodeIAm(body)
			if err != nil || back != c.iam {
				t.Fatalf("decode i-am %+v %v", back, err)
			}
		}
	})
}

func TestAPDUHeaders(t *testing.T) {
	cases := []struct {
		name string
		a    APDU
		hex  string
	}{
		{"segmented confirmed request", APDU{Type: PDUConfirmedRequest, Segmented: true, MoreFollows: true, SegmentedAccepted: true,
			MaxSegments: 5, MaxAPDU: 5, InvokeID: 7, SequenceNum: 2, WindowSize: 4, Service: 14, Payload: []byte{0xAA}},
			"0E 55 07 02 04 0E AA"},
		{"segmented complex ack", APDU{Type: PDUComplexAck, Segmented: true, MoreFollows: true, InvokeID: 9, SequenceNum: 0, WindowSize: 8, Service: 12, Payload: []byte{1}},
			"3C 09 00 08 0C 01"},
		{"segment ack from client", APDU{Type: PDUSegmentAck, InvokeID: 9, SequenceNum: 3, WindowSize: 4}, "40 09 03 04"},
		{"segment nak from server", APDU{Type: PDUSegmentAck, NAK: true, Server: true, InvokeID: 9, SequenceNum: 3, WindowSize: 4}, "43 09 03 04"},
		{"error", APDU{Type: PDUError, InvokeID: 3, Service: 12, ErrorClass: ErrorClassProperty, ErrorCode: ErrorCodeUnknownProperty}, "50 03 0C 91 02 91 20"},
		{"reject", APDU{Type: PDUReject, InvokeID: 3, Reason: uint8(RejectUnrecognizedService)}, "60 03 09"},
		{"abort from server", APDU{Type: PDUAbort, Server: true, InvokeID: 3, Reason: uint8(AbortSegmentationNotSupported)}, "71 03 04"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendAPDU(nil, c.a)
			if err != nil {
				t.Fatal(err)
			}
			check(t, c.name, b, c.hex)
			back, err := DecodeAPDU(b)
			if err != nil {
				t.Fatal(err)
			}
			if c.a.Type == PDUError {
				c.a.Payload = back.Payload
			}
			if c.a.Payload == nil {
				back.Payload = nil
			}
			if !reflect.DeepEqual(back, c.a) {
				t.Fatalf("decode = %+v, want %+v", back, c.a)
			}
		})
	}
	if DecodeMaxAPDU(EncodeMaxAPDU(1476)) != 1476 || EncodeMaxAPDU(480) != 3 || EncodeMaxAPDU(1000) != 3 {
		t.Fatal("max-apdu codes")
	}
	if EncodeMaxSegments(64) != 6 || EncodeMaxSegments(65) != 7 || EncodeMaxSegments(2) != 1 || DecodeMaxSegments(4) != 16 {
		t.Fatal("max-segments codes")
	}
}

func TestNPDUGoldens(t *testing.T) {
	cases := []struct {
		name string
		n    NPDU
		hex  string
	}{
		{"local, expecting reply", NPDU{ExpectingReply: true, Payload: []byte{0x00}}, "01 04 00"},
		{"local broadcast", NPDU{Payload: []byte{0x10, 0x08}}, "01 00 10 08"},
		{"to an MS/TP device behind a router", NPDU{HasDest: true, DNET: 5, DADR: []byte{0x0A}, HopCount: 255, ExpectingReply: true, Payload: []byte{0x00}},
			"01 24 0005 01 0A FF 00"},
		{"global broadcast", NPDU{HasDest: true, DNET: GlobalNetwork, HopCount: 255, Payload: []byte{0x10, 0x08}}, "01 20 FFFF 00 FF 10 08"},
		{"from a routed device", NPDU{HasSource: true, SNET: 5, SADR: []byte{0x0A}, Payload: []byte{0x30}}, "01 08 0005 01 0A 30"},
		{"i-am-router-to-network", NPDU{IsNetworkMessage: true, Message: MsgIAmRouterToNetwork, Payload: []byte{0x00, 0x05}}, "01 80 01 0005"},
		{"proprietary network message", NPDU{IsNetworkMessage: true, Message: 0x80, VendorID: 260}, "01 80 80 0104"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendNPDU(nil, c.n)
			if err != nil {
				t.Fatal(err)
			}
			check(t, c.name, b, c.hex)
			back, err := DecodeNPDU(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Payload) == 0 {
				back.Payload = nil
			}
			if len(back.DADR) == 0 {
				back.DADR = c.n.DADR
			}
			if !reflect.DeepEqual(back, c.n) {
				t.Fatalf("decode = %+v, want %+v", back, c.n)
			}
		})
	}
	for _, bad := range []string{"02 00 10 08", "01 20 0005 05 0A", "01 40 10 08", "01 20 0000 00 FF 10", "01 00", "01 08 0005 00 30"} {
		if _, err := DecodeNPDU(unhex(t, bad)); err == nil {
			t.Errorf("DecodeNPDU(%s) accepted a malformed header", bad)
		}
	}
}

func TestBVLCGoldens(t *testing.T) {
	origin := netip.MustParseAddrPort("192.168.1.20:47808")
	cases := []struct {
		name string
		v    BVLC
		hex  string
	}{
		{"original-unicast-npdu", BVLC{Function: BVLCOriginalUnicastNPDU, NPDU: unhex(t, "01 04 00")}, "81 0A 0007 01 04 00"},
		{"original-broadcast-npdu", BVLC{Function: BVLCOriginalBroadcastNPDU, NPDU: unhex(t, "01 00 10 08")}, "81 0B 0008 01 00 10 08"},
		{"forwarded-npdu", BVLC{Function: BVLCForwardedNPDU, Origin: origin, NPDU: unhex(t, "01 00 10 08")}, "81 04 000E C0A80114 BAC0 01 00 10 08"},
		{"register-foreign-device 300 s", BVLC{Function: BVLCRegisterForeignDevice, TTL: 300}, "81 05 0006 012C"},
		{"distribute-broadcast-to-network", BVLC{Function: BVLCDistributeBroadcast, NPDU: unhex(t, "01 00 10 08")}, "81 09 0008 01 00 10 08"},
		{"result: register nak", BVLC{Function: BVLCResult, Result: ResultRegisterFDNAK}, "81 00 0006 0030"},
		{"read-bdt", BVLC{Function: BVLCReadBDT}, "81 02 0004"},
		{"read-fdt", BVLC{Function: BVLCReadFDT}, "81 06 0004"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendBVLC(nil, c.v)
			if err != nil {
				t.Fatal(err)
			}
			check(t, c.name, b, c.hex)
			back, err := DecodeBVLC(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Payload) == 0 {
				back.Payload = nil
			}
			if !reflect.DeepEqual(back, c.v) {
				t.Fatalf("decode = %+v, want %+v", back, c.v)
			}
		})
	}
	for _, bad := range []string{"82 0A 0007 01 04 00", "81 0A 0009 01 04 00", "81 0A", "81 7F 0004", "81 00 0005 00", "81 04 0008 C0A80114 BAC0"} {
		if _, err := DecodeBVLC(unhex(t, bad)); err == nil {
			t.Errorf("DecodeBVLC(%s) accepted a malformed frame", bad)
		}
	}
	if nak, ok := NAKFor(BVLCReadFDT); !ok || nak != ResultReadFDTNAK {
		t.Fatal("read-fdt nak")
	}
}

func TestEnums(t *testing.T) {
	for _, s := range []string{"analog-input", "analog_input", "analogInput", "ANALOG-INPUT", "0"} {
		if v, err := ParseObjectType(s); err != nil || v != ObjectAnalogInput {
			t.Errorf("ParseObjectType(%q) = %v, %v", s, v, err)
		}
	}
	if v, err := ParseObjectType("600"); err != nil || v.String() != "600" {
		t.Errorf("proprietary type: %v %v", v, err)
	}
	if _, err := ParseObjectType("1024"); !errors.Is(err, ErrRange) {
		t.Errorf("type 1024: %v", err)
	}
	if _, err := ParseObjectType("analog-thing"); !errors.Is(err, ErrRange) {
		t.Errorf("unknown name: %v", err)
	}
	for v, name := range objectTypeNames {
		if back, err := ParseObjectType(name); err != nil || back != v {
			t.Errorf("object type %d %q round trip: %v %v", v, name, back, err)
		}
	}
	for v, name := range propertyNames {
		if back, err := ParsePropertyID(name); err != nil || back != v {
			t.Errorf("property %d %q round trip: %v %v", v, name, back, err)
		}
	}
	if p, _ := ParsePropertyID("presentValue"); p != PropPresentValue {
		t.Error("presentValue")
	}
	o, err := ParseObjectID("analog-value:2")
	if err != nil || o != (ObjectID{ObjectAnalogValue, 2}) || o.String() != "analog-value:2" {
		t.Errorf("ParseObjectID: %v %v", o, err)
	}
	if o, err := ParseObjectID("2:7"); err != nil || o != (ObjectID{ObjectAnalogValue, 7}) {
		t.Errorf("numeric object: %v %v", o, err)
	}
	for _, bad := range []string{"analog-value", "analog-value:4194304", "x:1", "analog-value:-1"} {
		if _, err := ParseObjectID(bad); err == nil {
			t.Errorf("ParseObjectID(%q) accepted", bad)
		}
	}
	f := DecodeStatusFlags(NewBitString(4, 1, 3))
	if !f.Fault || !f.OutOfService || f.InAlarm || f.String() != "fault,out-of-service" {
		t.Errorf("status flags %+v", f)
	}
	if DecodeStatusFlags(f.BitString()) != f {
		t.Error("status flags round trip")
	}
	if Reliability(12).String() != "communication-failure" || ErrorCode(31).String() != "unknown-object" ||
		RejectReason(9).String() != "unrecognized-service" || AbortReason(4).String() != "segmentation-not-supported" {
		t.Error("reason names")
	}
	if u, err := ParseUnits("degrees-celsius"); err != nil || u != 62 || u.Symbol() != "degC" {
		t.Errorf("units %v %v", u, err)
	}
}
