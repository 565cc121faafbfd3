package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeCheckpoint feeds DecodeCheckpoint what a cloud consumer or a
// damaged database could hold. It must never panic; whatever it accepts
// must encode and decode to the same checkpoint, and verify without
// panicking (and, unsigned by the fuzz key, not verify).
func FuzzDecodeCheckpoint(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	key := newFileAuditKey(priv)
	cp := Checkpoint{Seq: 10, Hash: strings.Repeat("ab", 32), First: 3, Evicted: 2, Capacity: 100, KeyedFrom: 1,
		TS: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Alg: "ed25519", Key: KeyID(pub)}
	sig, _ := key.Sign(cp.Signed())
	cp.Sig = base64.StdEncoding.EncodeToString(sig)
	good, _ := json.Marshal(cp)
	f.Add(good)
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`{"seq":1,"hash":"` + strings.Repeat("0", 64) + `","first":1,"evicted":0,"capacity":1,"keyed_from":0,"ts":"2026-01-01T00:00:00Z","alg":"ed25519","key":"0000000000000000","sig":"x"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"seq":18446744073709551615,"evicted":18446744073709551614,"first":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCheckpoint(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("encode accepted checkpoint: %v", err)
		}
		c2, err := DecodeCheckpoint(again)
		if err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		if !bytes.Equal(c.Signed(), c2.Signed()) || c.Sig != c2.Sig {
			t.Fatalf("round trip changed the checkpoint: %s", again)
		}
		if err := c.Verify(pub); err == nil && !bytes.Equal(data, good) && !bytes.Equal(c.Signed(), cp.Signed()) {
			t.Fatalf("a checkpoint the fuzz key never signed verifies: %s", data)
		}
	})
}

// FuzzSecretRecord feeds the secret store's two parsers — a stored record
// and the key file — with arbitrary bytes. Neither may panic; a record
// that decodes must encode back to the same bytes, and must not decrypt
// unless it is the one sealed for the seed.
func FuzzSecretRecord(f *testing.F) {
	key := bytes.Repeat([]byte{0x42}, secretKeySize)
	rec, _ := sealSecret(key, 1, "site/wifi.passphrase", 1, []byte("correct horse"))
	f.Add(rec.encode(), encodeSecretKeys(map[uint32][]byte{1: key}))
	f.Add([]byte{1, 0, 0, 0, 1}, []byte(secretKeyHeader+"\n"))
	f.Add(make([]byte, secretMinRecord), []byte(secretKeyHeader+"\n1 "+strings.Repeat("A", 43)+"=\n2 x\n"))
	f.Fuzz(func(t *testing.T, record, keyFile []byte) {
		if keys, err := parseSecretKeys(keyFile); err == nil {
			if len(keys) > maxSecretKeys {
				t.Fatalf("%d keys accepted", len(keys))
			}
			again, err := parseSecretKeys(encodeSecretKeys(keys))
			if err != nil || !equalKeys(keys, again) {
				t.Fatalf("key file round trip: %v", err)
			}
		}
		r, err := decodeSecretRecord(record)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), record) {
			t.Fatalf("record round trip changed the bytes")
		}
		plain, err := openSecret(key, "site/wifi.passphrase", r)
		if err == nil && !bytes.Equal(record, rec.encode()) && string(plain) != "correct horse" {
			t.Fatalf("a forged record decrypted to %q", plain)
		}
	})
}
