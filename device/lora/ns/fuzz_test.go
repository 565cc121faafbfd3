package ns

import (
	"testing"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// FuzzRecords feeds arbitrary bytes to the decoders of stored state: a
// damaged store gives ErrCorrupt, never a panic, and what decodes
// re-encodes to the same bytes.
func FuzzRecords(f *testing.F) {
	f.Add(record{HasSession: true, Session: session{DevAddr: 1, FCntUp: 7, RxDelay: 1}, JoinNonce: 3}.encode())
	f.Add(encodeNonces([]lorawan.DevNonce{1, 2, 0xffff}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeRecord(b); err == nil && string(r.encode()) != string(b) {
			t.Fatalf("record %x re-encodes as %x", b, r.encode())
		}
		if n, err := decodeNonces(b); err == nil && string(encodeNonces(n)) != string(b) {
			t.Fatalf("nonces %x re-encode differently", b)
		}
	})
}
