package lorawan

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzDecodeData feeds arbitrary PHYPayloads to the data frame decoder and
// the MAC command parser behind it: errors are fine, panics are not, and a
// frame that decodes re-encodes (with its own counter and a known key) to
// a frame that decodes to the same fields.
func FuzzDecodeData(f *testing.F) {
	for _, s := range []string{readmeFrame, "40da1b012600010001cf3e207cb720f5f8d2b02f", "60da1b0126a002000302140350f0d3cc", ""} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	keys := SessionKeys{NwkSKey: Key{1}, AppSKey: Key{2}}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeData(b)
		if err != nil {
			return
		}
		ParseMACCommands(fr.FOpts, fr.MType.Dir())
		_ = fr.CheckMIC(keys.NwkSKey, uint32(fr.FCnt))
		_, _, _ = CheckUplink(fr, keys.NwkSKey, 0)
		pl := fr.Payload(keys, uint32(fr.FCnt))
		fc := fr.FCtrl
		fc.FOptsLen = 0
		out, err := Data{MType: fr.MType, DevAddr: fr.DevAddr, FCtrl: fc, FCnt: uint32(fr.FCnt), FOpts: fr.FOpts,
			HasPort: fr.HasPort, FPort: fr.FPort, Payload: pl}.Encode(keys)
		if err != nil {
			t.Fatalf("a decoded frame does not re-encode: %v", err)
		}
		again, err := DecodeData(out)
		if err != nil || again.CheckMIC(keys.NwkSKey, uint32(fr.FCnt)) != nil || !bytes.Equal(again.Payload(keys, uint32(fr.FCnt)), pl) ||
			!bytes.Equal(again.FOpts, fr.FOpts) || again.FPort != fr.FPort || again.HasPort != fr.HasPort {
			t.Fatalf("re-encoded frame differs: %x -> %x (%v)", b, out, err)
		}
	})
}

// FuzzMACCommands parses arbitrary command bytes both ways; whatever was
// parsed re-encodes to the bytes it came from.
func FuzzMACCommands(f *testing.F) {
	for _, s := range []string{"021403035107000104070513d2ad8406", "020307040505", "0206c83b80", "03", ""} {
		b, _ := hex.DecodeString(s)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, down bool) {
		dir := Uplink
		if down {
			dir = Downlink
		}
		cmds, _ := ParseMACCommands(b, dir)
		out, err := AppendMACCommands(nil, dir, cmds...)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseMACCommands(out, dir)
		if err != nil || len(again) != len(cmds) {
			t.Fatalf("re-encoded commands %x do not parse back: %v", out, err)
		}
		for i := range cmds {
			if again[i] != cmds[i] {
				t.Fatalf("command %d: %#v became %#v", i, cmds[i], again[i])
			}
		}
	})
}

// FuzzJoin feeds arbitrary bytes to both join decoders.
func FuzzJoin(f *testing.F) {
	key := Key{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	f.Add(JoinRequestFrame{DevNonce: 7}.Encode(key))
	ja, _ := JoinAcceptFrame{AppNonce: 1, NetID: 2, DevAddr: 3, RxDelay: 1}.Encode(key)
	f.Add(ja)
	cf := CFList{1, 2, 3}
	ja2, _ := JoinAcceptFrame{AppNonce: 1, CFList: &cf}.Encode(key)
	f.Add(ja2)
	f.Add([]byte{0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		if j, err := DecodeJoinRequest(b); err == nil {
			_ = j.CheckMIC(key)
			if again, err := DecodeJoinRequest(j.Encode(key)); err != nil || again.CheckMIC(key) != nil || again.DevEUI != j.DevEUI {
				t.Fatalf("join request does not round trip: %v", err)
			}
		}
		j, err := DecodeJoinAccept(b, key)
		if err != nil {
			return
		}
		out, err := j.Encode(key)
		if err != nil {
			t.Fatalf("decoded join accept does not encode: %v", err)
		}
		if again, err := DecodeJoinAccept(out, key); err != nil || again.DevAddr != j.DevAddr || again.AppNonce != j.AppNonce {
			t.Fatalf("join accept does not round trip: %v", err)
		}
	})
}
