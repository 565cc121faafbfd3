package mstp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The CRC examples of ASHRAE 135 Annex G.
func TestAnnexGCRC(t *testing.T) {
	// G.1: a Token from 0x05 to 0x10: the register ends at 0x73 and its
	// ones complement 0x8C is sent; the receiver's register then holds 0x55.
	hdr := unhex(t, "00 10 05 00 00")
	reg := byte(0xFF)
	for _, b := range hdr {
		reg = crc8(reg, b)
	}
	if reg != 0x73 || HeaderCRC(hdr) != 0x8C {
		t.Fatalf("header register %02X crc %02X, want 73 and 8C", reg, HeaderCRC(hdr))
	}
	if crc8(reg, 0x8C) != headerResidue {
		t.Fatalf("receiver residue %02X", crc8(reg, 0x8C))
	}
	// G.2: data 01 22 30 leave the register at 1E0E, EB70, 42EF; BD10 is
	// sent, 10 first; the receiver's register then holds F0B8.
	r16 := uint16(0xFFFF)
	for i, want := range []uint16{0x1E0E, 0xEB70, 0x42EF} {
		r16 = crc16(r16, []byte{0x01, 0x22, 0x30}[i])
		if r16 != want {
			t.Fatalf("data register after octet %d: %04X, want %04X", i, r16, want)
		}
	}
	if c := DataCRC([]byte{0x01, 0x22, 0x30}); c != 0xBD10 {
		t.Fatalf("data crc %04X", c)
	}
	if crc16(crc16(r16, 0x10), 0xBD) != dataResidue {
		t.Fatal("data residue")
	}
	// A second header example: BACnet Data Not Expecting Reply, 255 <- 1, 21 octets.
	if c := HeaderCRC(unhex(t, "06 FF 01 00 15")); c != 0x8E {
		t.Fatalf("header crc %02X, want 8E", c)
	}
}

func TestFrameGoldens(t *testing.T) {
	cases := []struct {
		f   Frame
		hex string
	}{
		{Frame{Type: Token, Dest: 0x10, Src: 0x05}, "55 FF 00 10 05 00 00 8C"},
		{Frame{Type: DataNotExpectingReply, Dest: 0x0A, Src: 0x14, Data: []byte{0x01, 0x22, 0x30}}, "55 FF 06 0A 14 00 03 " + hex.EncodeToString([]byte{HeaderCRC([]byte{6, 0x0A, 0x14, 0, 3})}) + " 01 22 30 10 BD"},
	}
	for _, c := range cases {
		b, err := AppendFrame(nil, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, c.hex); !bytes.Equal(b, want) {
			t.Fatalf("%s: % X, want % X", c.f.Type, b, want)
		}
		back, n, err := DecodeFrame(b)
		if err != nil || n != len(b) {
			t.Fatalf("decode %s: %v", c.f.Type, err)
		}
		if len(back.Data) == 0 {
			back.Data = nil
		}
		if !reflect.DeepEqual(back, c.f) {
			t.Fatalf("decode = %+v, want %+v", back, c.f)
		}
	}
}

// The decoder resynchronises after noise, a bad header CRC, a bad data CRC
// and an over-long frame, and finds the good frames between them.
func TestDecoderStream(t *testing.T) {
	tok, _ := AppendFrame(nil, Frame{Type: Token, Dest: 1, Src: 2})
	data, _ := AppendFrame(nil, Frame{Type: DataExpectingReply, Dest: 2, Src: 1, Data: []byte("hello")})
	badHdr := append([]byte(nil), tok...)
	badHdr[7] ^= 1
	badData := append([]byte(nil), data...)
	badData[len(badData)-3] ^= 0x40
	long := []byte{0x55, 0xFF, 6, 1, 2, 0x02, 0x00}
	long = append(long, HeaderCRC(long[2:7]))
	long = append(long, make([]byte, 512+2)...)
	var stream []byte
	for _, p := range [][]byte{{0x00, 0x55, 0x12}, badHdr, tok, badData, long, data, {0xFF, 0x55}, tok} {
		stream = append(stream, p...)
	}
	var d Decoder
	var got []Frame
	var errs []error
	for _, c := range stream {
		f, ok, err := d.Feed(c)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			f.Data = append([]byte(nil), f.Data...)
			got = append(got, f)
		}
	}
	if len(got) != 3 || got[0].Type != Token || string(got[1].Data) != "hello" || got[2].Type != Token {
		t.Fatalf("frames %+v", got)
	}
	if len(errs) != 3 || !errors.Is(errs[0], ErrHeaderCRC) || !errors.Is(errs[1], ErrDataCRC) || !errors.Is(errs[2], ErrTooLong) {
		t.Fatalf("errors %v", errs)
	}
	if _, err := AppendFrame(nil, Frame{Data: make([]byte, MaxData+1)}); !errors.Is(err, ErrTooLong) {
		t.Fatal(err)
	}
}

func FuzzFrame(f *testing.F) {
	tok, _ := AppendFrame(nil, Frame{Type: Token, Dest: 1, Src: 2})
	data, _ := AppendFrame(nil, Frame{Type: DataExpectingReply, Dest: 2, Src: 1, Data: []byte("hello")})
	f.Add(tok)
	f.Add(data)
	f.Add(append(tok, data...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		for _, c := range b {
			fr, ok, _ := d.Feed(c)
			if !ok {
				continue
			}
			out, err := AppendFrame(nil, fr)
			if err != nil {
				t.Fatalf("decoded frame does not encode: %v", err)
			}
			back, _, err := DecodeFrame(out)
			if err != nil || back.Type != fr.Type || back.Src != fr.Src || !bytes.Equal(back.Data, fr.Data) {
				t.Fatalf("round trip %+v -> %+v %v", fr, back, err)
			}
		}
	})
}
