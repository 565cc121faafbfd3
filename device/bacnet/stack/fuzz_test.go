package stack

import (
	"bytes"
	"testing"
)

// Every decoder of outside input has a fuzz target. Seeds are the goldens;
// each target also checks that what decodes re-encodes to something that
// decodes the same way.

func FuzzBVLC(f *testing.F) {
	for _, s := range []string{"81 0A 0007 01 04 00", "81 04 000E C0A80114 BAC0 01 00 10 08", "81 05 0006 012C", "81 00 0006 0030", "81 02 0004", "81 03 000E C0A80101 BAC0 FFFFFF00"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeBVLC(b)
		if err != nil {
			return
		}
		out, err := AppendBVLC(nil, v)
		if err != nil {
			return // e.g. Secure-BVLL, which is decoded but never sent
		}
		if _, err := DecodeBVLC(out); err != nil {
			t.Fatalf("re-encoded % X does not decode: %v", out, err)
		}
	})
}

func FuzzNPDU(f *testing.F) {
	for _, s := range []string{"01 04 00", "01 24 0005 01 0A FF 00", "01 20 FFFF 00 FF 10 08", "01 08 0005 01 0A 30", "01 80 01 0005", "01 80 80 0104", "01 2C 0005 01 0A 0006 06 C0A80114BAC0 FF 00"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNPDU(b)
		if err != nil {
			return
		}
		out, err := AppendNPDU(nil, n)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", n, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip % X -> % X", b, out)
		}
	})
}

func FuzzAPDU(f *testing.F) {
	for _, s := range []string{"00 00 01 0C 0C 00000005 19 55", "30 01 0C 0C 00000005 19 55 3E 44 4290999A 3F", "0E 55 07 02 04 0E AA", "3C 09 00 08 0C 01", "40 09 03 04", "50 03 0C 91 02 91 20", "50 03 10 0E 91 02 91 20 0F", "60 03 09", "71 03 04", "20 59 0F", "10 08 09 03 19 03"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAPDU(b)
		if err != nil {
			return
		}
		if _, err := AppendAPDU(nil, a); err != nil {
			t.Fatalf("decoded %+v does not encode: %v", a, err)
		}
	})
}

func FuzzTags(f *testing.F) {
	for _, s := range []string{"00", "11", "21 48", "31 FF", "44 42900000", "55 08 4052000000000000", "63 1234FF",
		"75 19 00 546869732069732061204241436E657420737472696E6721", "82 03 A8", "91 00", "A4 5B 01 18 04", "B4 11 23 2D 11",
		"C4 00C0000F", "65 FE 0100", "0E 1C 42900000 2E 21 01 2F 0F", "F9 14 01", "FE 1E 09 55 1F FF 1E"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// As a property value: everything up to closing tag [3].
		r := NewReader(append(append([]byte(nil), b...), 0x3F))
		vs, err := r.Values(3)
		if err != nil {
			return
		}
		out, err := AppendValues(nil, vs)
		if err != nil {
			return // a UTF-8 string with replaced octets may not re-encode as it came
		}
		again, err := NewReader(append(out, 0x3F)).Values(3)
		if err != nil || len(again) != len(vs) {
			t.Fatalf("re-encoded % X: %v (%d values, want %d)", out, err, len(again), len(vs))
		}
	})
}

// FuzzServices feeds one input to every service decoder; the first octet
// picks which, so the fuzzer can specialise.
func FuzzServices(f *testing.F) {
	seeds := map[byte]string{
		0: "09 03 19 03",
		1: "C4 02000001 22 01E0 91 01 21 63",
		2: "0C 00000005 19 55",
		3: "0C 00000005 19 55 3E 44 4290999A 3F",
		4: "0C 00000010 1E 09 55 09 67 1F",
		5: "0C 00000021 1E 29 55 4E 44 42293333 4F 1F 0C 00000032 1E 29 55 5E 91 01 91 1F 5F 1F",
		6: "0C 00800001 19 55 3E 00 3F 49 08",
		7: "09 12 1C 0000000A 29 01 39 00",
		8: "09 12 1C 02000004 2C 0000000A 39 00 4E 09 55 2E 44 42820000 2F 09 6F 2E 82 0400 2F 4F",
	}
	for k, s := range seeds {
		f.Add(append([]byte{k}, unhex(f, s)...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		b := in[1:]
		switch in[0] % 9 {
		case 0:
			if w, err := DecodeWhoIs(b); err == nil {
				if _, err := AppendWhoIs(nil, w); err != nil && w.Low <= w.High {
					t.Fatal(err)
				}
			}
		case 1:
			if m, err := DecodeIAm(b); err == nil {
				out, _ := AppendIAm(nil, m)
				if back, err := DecodeIAm(out); err != nil || back != m {
					t.Fatalf("i-am round trip %+v %v", back, err)
				}
			}
		case 2:
			if p, err := DecodeReadProperty(b); err == nil {
				out, _ := AppendReadProperty(nil, p)
				if back, err := DecodeReadProperty(out); err != nil || back != p {
					t.Fatalf("read-property round trip %+v %v", back, err)
				}
			}
		case 3:
			if v, err := DecodeReadPropertyAck(b); err == nil {
				if out, err := AppendReadPropertyAck(nil, v); err == nil {
					if _, err := DecodeReadPropertyAck(out); err != nil {
						t.Fatal(err)
					}
				}
			}
		case 4:
			if s, err := DecodeRPM(b); err == nil {
				out, err := AppendRPM(nil, s)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := DecodeRPM(out); err != nil {
					t.Fatal(err)
				}
			}
		case 5:
			if res, err := DecodeRPMAck(b); err == nil {
				if out, err := AppendRPMAck(nil, res); err == nil {
					if _, err := DecodeRPMAck(out); err != nil {
						t.Fatal(err)
					}
				}
			}
		case 6:
			if w, err := DecodeWriteProperty(b); err == nil {
				if out, err := AppendWriteProperty(nil, w); err == nil {
					if _, err := DecodeWriteProperty(out); err != nil {
						t.Fatal(err)
					}
				}
			}
		case 7:
			if s, err := DecodeSubscribeCOV(b); err == nil {
				out, _ := AppendSubscribeCOV(nil, s)
				if back, err := DecodeSubscribeCOV(out); err != nil || back != s {
					t.Fatalf("subscribe-cov round trip %+v %v", back, err)
				}
			}
		case 8:
			if n, err := DecodeCOVNotification(b); err == nil {
				if out, err := AppendCOVNotification(nil, n); err == nil {
					if _, err := DecodeCOVNotification(out); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}
