package firmware

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var testCreated = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// payloadOf returns n reproducible pseudo-random bytes.
func payloadOf(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

// image signs payload as version (floor min) for hardware hw.
func image(t testing.TB, key ed25519.PrivateKey, version, min, hw string, payload []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	_, err := Sign(&out, bytes.NewReader(payload), key, Manifest{Version: version, MinVersion: min, Hardware: hw, Created: testCreated})
	if err != nil {
		t.Fatalf("sign %s: %v", version, err)
	}
	return out.Bytes()
}

// rawImage builds an image around arbitrary manifest bytes, signed with
// key, for manifests that Sign would refuse to write.
func rawImage(key ed25519.PrivateKey, manifest, payload []byte) []byte {
	pub := key.Public().(ed25519.PublicKey)
	id, _ := hex.DecodeString(KeyID(pub))
	b := append([]byte(Magic), id...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(manifest)))
	b = append(b, manifest...)
	b = append(b, ed25519.Sign(key, signedMessage(manifest))...)
	return append(b, payload...)
}

// manifestAt returns the offset and length of an image's manifest.
func manifestAt(img []byte) (int, int) {
	return headerSize, int(binary.BigEndian.Uint32(img[len(Magic)+keyIDSize:]))
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
