package lorawan

import (
	"errors"
	"testing"
)

func TestJoinRequestRoundTrip(t *testing.T) {
	appKey := mustKey(t, "000102030405060708090a0b0c0d0e0f")
	j := JoinRequestFrame{JoinEUI: EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 0}, DevEUI: EUI64{1, 2, 3, 4, 5, 6, 7, 8}, DevNonce: 0x1234}
	b := j.Encode(appKey)
	if len(b) != JoinRequestSize || b[0] != 0x00 || b[1] != 0x00 || b[8] != 0x70 || b[17] != 0x34 {
		t.Fatalf("join request bytes % x", b)
	}
	got, err := DecodeJoinRequest(b)
	if err != nil || got.JoinEUI != j.JoinEUI || got.DevEUI != j.DevEUI || got.DevNonce != j.DevNonce {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	if err := got.CheckMIC(appKey); err != nil {
		t.Fatal(err)
	}
	if err := got.CheckMIC(Key{1}); !errors.Is(err, ErrMIC) {
		t.Fatalf("wrong AppKey: %v", err)
	}
	b[18] ^= 1
	got, _ = DecodeJoinRequest(b)
	if err := got.CheckMIC(appKey); !errors.Is(err, ErrMIC) {
		t.Fatalf("tampered nonce: %v", err)
	}
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{"short": {b[:22], ErrTruncated}, "long": {append(b, 0), ErrTooLong}, "data": {append([]byte{0x40}, b[1:]...), ErrMType}, "empty": {nil, ErrTruncated}} {
		if _, err := DecodeJoinRequest(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestJoinAcceptRoundTrip(t *testing.T) {
	appKey := mustKey(t, "000102030405060708090a0b0c0d0e0f")
	cf, err := FrequencyCFList([]uint32{867100000, 867300000, 867500000, 867700000, 867900000})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []JoinAcceptFrame{
		{AppNonce: 0xabcdef, NetID: 0x13, DevAddr: 0x26011bda, DLSettings: DLSettings{RX1DROffset: 1, RX2DataRate: 0}, RxDelay: 1},
		{AppNonce: 1, NetID: 0xffffff, DevAddr: 1, DLSettings: DLSettings{RX1DROffset: 7, RX2DataRate: 15}, RxDelay: 15, CFList: &cf},
	} {
		b, err := j.Encode(appKey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeJoinAccept(b, appKey)
		if err != nil {
			t.Fatal(err)
		}
		if got.AppNonce != j.AppNonce || got.NetID != j.NetID || got.DevAddr != j.DevAddr || got.DLSettings != j.DLSettings ||
			got.RxDelay != j.RxDelay || (got.CFList == nil) != (j.CFList == nil) || (j.CFList != nil && *got.CFList != *j.CFList) {
			t.Fatalf("round trip of %+v gave %+v", j, got)
		}
		if _, err := DecodeJoinAccept(b, Key{9}); !errors.Is(err, ErrMIC) {
			t.Fatalf("wrong key: %v", err)
		}
	}
	if f := cf.Frequencies(); f[0] != 867100000 || f[4] != 867900000 || cf.Type() != 0 {
		t.Fatalf("CFList frequencies %v", f)
	}
	if _, err := FrequencyCFList(make([]uint32, 6)); !errors.Is(err, ErrInvalid) {
		t.Fatal("six frequencies accepted")
	}
	if _, err := FrequencyCFList([]uint32{868100050}); !errors.Is(err, ErrInvalid) {
		t.Fatal("a frequency off the 100 Hz grid accepted")
	}
	if _, err := (JoinAcceptFrame{AppNonce: 1 << 24}).Encode(appKey); !errors.Is(err, ErrInvalid) {
		t.Fatal("a 25-bit AppNonce was encoded")
	}
	for _, n := range []int{0, 16, 18, 34} {
		b := make([]byte, n)
		if n > 0 {
			b[0] = 0x20
		}
		if _, err := DecodeJoinAccept(b, appKey); err == nil {
			t.Fatalf("%d bytes decoded", n)
		}
	}
}

func TestDeriveSessionKeys(t *testing.T) {
	// Checked against lora-packet's generateSessionKeys (see the interop
	// goldens); here only that the two keys differ and depend on each input.
	appKey := mustKey(t, "000102030405060708090a0b0c0d0e0f")
	a := DeriveSessionKeys(appKey, 1, 2, 3)
	if a.NwkSKey == a.AppSKey {
		t.Fatal("NwkSKey == AppSKey")
	}
	for _, b := range []SessionKeys{DeriveSessionKeys(appKey, 2, 2, 3), DeriveSessionKeys(appKey, 1, 3, 3), DeriveSessionKeys(appKey, 1, 2, 4), DeriveSessionKeys(Key{}, 1, 2, 3)} {
		if b == a {
			t.Fatal("a changed input gave the same keys")
		}
	}
}
