package lorawan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustKey(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RFC 4493 section 4: the test vectors of AES-CMAC.
func TestCMACRFC4493(t *testing.T) {
	k := mustKey(t, "2b7e151628aed2a6abf7158809cf4f3c")
	c := NewCMAC(k)
	if got := hex.EncodeToString(c.k1[:]); got != "fbeed618357133667c85e08f7236a8de" {
		t.Errorf("K1 = %s", got)
	}
	if got := hex.EncodeToString(c.k2[:]); got != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("K2 = %s", got)
	}
	msg := mustHex(t, "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"+
		"30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710")
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		got := Sum128(k, msg[:tc.n])
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("AES-CMAC of %d bytes = %x, want %s", tc.n, got, tc.want)
		}
		// Written in uneven pieces, the tag is the same.
		for _, step := range []int{1, 7, 15, 16, 17} {
			c := NewCMAC(k)
			for i := 0; i < tc.n; i += step {
				c.Write(msg[i:min(i+step, tc.n)])
			}
			if got2 := c.Sum(); got2 != got {
				t.Errorf("AES-CMAC of %d bytes in pieces of %d = %x, want %x", tc.n, step, got2, got)
			}
		}
	}
}

func TestMICEqual(t *testing.T) {
	a, b := MIC{1, 2, 3, 4}, MIC{1, 2, 3, 5}
	if !a.Equal(a) || a.Equal(b) {
		t.Fatal("MIC.Equal is wrong")
	}
}

// A key is never printed, marshalled or logged.
func TestKeyNeverShown(t *testing.T) {
	k := mustKey(t, "2b7e151628aed2a6abf7158809cf4f3c")
	secretHex := "2b7e1516"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("k", "key", k)
	txt, _ := k.MarshalText()
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %s %x %X %d %q %#v %+v", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v", struct{ K Key }{k}), fmt.Sprintf("%x", []Key{k}), string(txt), buf.String(),
	} {
		if strings.Contains(strings.ToLower(s), secretHex) {
			t.Errorf("key shown in %q", s)
		}
	}
	if k.Reveal() != "2b7e151628aed2a6abf7158809cf4f3c" {
		t.Error("Reveal does not give the key")
	}
	if (Key{}).String() != "" || k.String() != "<set>" {
		t.Error("String is not the placeholder")
	}
	if _, err := ParseKey("2b7e151628aed2a6abf7158809cf4f3"); err == nil || strings.Contains(err.Error(), "2b7e") {
		t.Errorf("a bad key's error = %v (must fail and not repeat the text)", err)
	}
	if _, err := ParseKey("zz7e151628aed2a6abf7158809cf4f3c"); err == nil || strings.Contains(err.Error(), "7e15") {
		t.Errorf("a non-hex key's error = %v", err)
	}
}

func TestIdentifiers(t *testing.T) {
	e, err := ParseEUI64("70-B3-D5-7E-D0-00-00-01")
	if err != nil || e.String() != "70b3d57ed0000001" {
		t.Fatalf("ParseEUI64 = %v, %v", e, err)
	}
	a, err := ParseDevAddr("26011bda")
	if err != nil || a != 0x26011bda || a.String() != "26011bda" || a.NwkID() != 0x13 {
		t.Fatalf("ParseDevAddr = %v, %v", a, err)
	}
	n, err := ParseNetID("000013")
	if err != nil || n != 0x13 || n.String() != "000013" {
		t.Fatalf("ParseNetID = %v, %v", n, err)
	}
	for _, bad := range []string{"", "123", "zz00000000000000", "70b3d57ed000000100"} {
		if _, err := ParseEUI64(bad); err == nil {
			t.Errorf("ParseEUI64(%q) succeeded", bad)
		}
	}
	var e2 EUI64
	if err := e2.UnmarshalText([]byte("70b3d57ed0000001")); err != nil || e2 != e {
		t.Fatal("EUI64 text round trip")
	}
	var a2 DevAddr
	if err := a2.UnmarshalText([]byte("26011bda")); err != nil || a2 != a {
		t.Fatal("DevAddr text round trip")
	}
}
