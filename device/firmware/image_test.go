package firmware

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFirmwareSignVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	payload := payloadOf(3<<20+17, 1)
	img := image(t, priv, "1.4.2", "1.3.0", "sitegate", payload)
	m, err := Verify(bytes.NewReader(img), pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	want := Manifest{Format: 1, Version: "1.4.2", Hardware: "sitegate", Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:]), MinVersion: "1.3.0", Created: testCreated}
	if m != want {
		t.Fatalf("manifest %+v, want %+v", m, want)
	}
	// The payload read through a Reader is the signed payload.
	rd, err := NewReader(bytes.NewReader(img), pub)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("payload through Reader: %d bytes, %v", len(got), err)
	}
	if rd.KeyID() != KeyID(pub) {
		t.Errorf("key id %s, want %s", rd.KeyID(), KeyID(pub))
	}
	// An empty payload is a valid image too.
	if _, err := Verify(bytes.NewReader(image(t, priv, "1.0.0", "0.0.0", "", nil)), pub); err != nil {
		t.Errorf("empty payload: %v", err)
	}
}

func TestFirmwareSignRefusesBadManifests(t *testing.T) {
	_, priv := newKey(t)
	for name, m := range map[string]Manifest{
		"garbage version":      {Version: "latest", MinVersion: "0.0.0"},
		"garbage min_version":  {Version: "1.0.0", MinVersion: "1.0"},
		"floor above version":  {Version: "1.0.0", MinVersion: "1.0.1"},
		"hardware with spaces": {Version: "1.0.0", MinVersion: "0.0.0", Hardware: "my box"},
	} {
		if _, err := Sign(io.Discard, bytes.NewReader([]byte("x")), priv, m); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// Every way an image can be wrong gives its own sentinel error, and only
// that one.
func TestFirmwareVerifyRefusalsAreDistinct(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	payload := payloadOf(1<<20, 2)
	img := image(t, priv, "1.2.0", "1.0.0", "sitegate", payload)
	off, n := manifestAt(img)
	mod := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(img)) }
	sentinels := []error{ErrNotImage, ErrTruncated, ErrMalformed, ErrWrongKey, ErrBadSignature, ErrPayloadHash}

	for _, tc := range []struct {
		name string
		data []byte
		key  ed25519.PublicKey
		want error
		text string
	}{
		{"tampered payload", mod(func(b []byte) []byte { b[len(b)-100] ^= 1; return b }), pub, ErrPayloadHash, "payload SHA-256"},
		{"tampered manifest", mod(func(b []byte) []byte {
			copy(b[off:off+n], bytes.Replace(b[off:off+n], []byte(`"1.2.0"`), []byte(`"9.2.0"`), 1))
			return b
		}), pub, ErrBadSignature, "altered"},
		{"tampered signature", mod(func(b []byte) []byte { b[off+n+5] ^= 0x80; return b }), pub, ErrBadSignature, "altered"},
		{"wrong key", img, otherPub, ErrWrongKey, KeyID(pub)},
		{"signed by another key", image(t, otherPriv, "1.2.0", "1.0.0", "sitegate", payload), pub, ErrWrongKey, KeyID(otherPub)},
		{"empty file", nil, pub, ErrTruncated, "header ends after 0"},
		{"truncated header", img[:10], pub, ErrTruncated, "header ends after 10"},
		{"truncated manifest", img[:off+n/2], pub, ErrTruncated, "manifest ends"},
		{"truncated signature", img[:off+n+10], pub, ErrTruncated, "signature ends after 10 of 64"},
		{"truncated payload", img[:len(img)-1], pub, ErrTruncated, "payload ends after 1048575 of 1048576"},
		{"trailing bytes", append(bytes.Clone(img), 0), pub, ErrMalformed, "after the 1048576-byte payload"},
		{"not an image", []byte("PK\x03\x04 this is a zip file, not firmware"), pub, ErrNotImage, "magic"},
		{"text-mode transfer", mod(func(b []byte) []byte { return append(b[:5:5], b[6:]...) }), pub, ErrNotImage, "magic"},
		{"manifest length beyond bound", mod(func(b []byte) []byte { b[16], b[17] = 0x7f, 0xff; return b }), pub, ErrMalformed, "manifest length"},
		{"signed manifest with unknown field", rawImage(priv, []byte(`{"format":1,"version":"1.0.0","hardware":"sitegate","size":0,"sha256":"`+strings.Repeat("0", 64)+`","min_version":"0.0.0","boot":"now"}`), nil), pub, ErrMalformed, "unknown field"},
		{"signed manifest of a newer format", rawImage(priv, []byte(`{"format":2,"version":"1.0.0","hardware":"sitegate","size":0,"sha256":"`+strings.Repeat("0", 64)+`","min_version":"0.0.0"}`), nil), pub, ErrMalformed, "format 2"},
		{"signed manifest with garbage version", rawImage(priv, []byte(`{"format":1,"version":"one","hardware":"sitegate","size":0,"sha256":"`+strings.Repeat("0", 64)+`","min_version":"0.0.0"}`), nil), pub, ErrMalformed, "MAJOR.MINOR.PATCH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Verify(bytes.NewReader(tc.data), tc.key)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, s := range sentinels {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("%v is also %v", err, s)
				}
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%q does not say %q", err, tc.text)
			}
			if Advice(err) == "" {
				t.Errorf("no advice for %v", err)
			}
			// A manifest is returned only when its signature verified.
			if m.Version != "" && tc.want != ErrPayloadHash && tc.want != ErrTruncated && tc.want != ErrMalformed {
				t.Errorf("unverified manifest returned: %+v", m)
			}
		})
	}
}

// A reader that fails mid-payload reports the read error, not a hash
// mismatch.
func TestFirmwareVerifyReportsReadErrors(t *testing.T) {
	pub, priv := newKey(t)
	img := image(t, priv, "1.0.0", "0.0.0", "", payloadOf(100000, 3))
	boom := errors.New("cable pulled")
	_, err := Verify(io.MultiReader(bytes.NewReader(img[:50000]), errReader{boom}), pub)
	if !errors.Is(err, boom) || errors.Is(err, ErrPayloadHash) {
		t.Fatalf("got %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestFirmwareKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv := newKey(t)
	prefix := filepath.Join(dir, "vendor")
	if err := WriteKeyPair(prefix, priv); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{prefix + ".key": 0o600, prefix + ".pub": 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
		}
	}
	raw, _ := os.ReadFile(prefix + ".key")
	if !strings.HasPrefix(string(raw), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("private key is not PKCS#8 PEM:\n%s", raw)
	}
	gotPriv, err := LoadPrivateKey(prefix + ".key")
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("load private key: %v", err)
	}
	gotPub, err := LoadPublicKey(prefix + ".pub")
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("load public key: %v", err)
	}
	// Never overwritten.
	_, priv2 := newKey(t)
	if err := WriteKeyPair(prefix, priv2); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrote a key pair: %v", err)
	}
	if again, _ := LoadPrivateKey(prefix + ".key"); !again.Equal(priv) {
		t.Fatal("private key changed")
	}
	// A readable private key is refused; so are swapped and foreign files.
	if err := os.Chmod(prefix+".key", 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivateKey(prefix + ".key"); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("loose private key: %v", err)
	}
	if _, err := LoadPublicKey(prefix + ".key"); !errors.Is(err, ErrBadKey) {
		t.Errorf("private key as public key: %v", err)
	}
	junk := writeFile(t, dir, "junk.pub", []byte("ssh-ed25519 AAAA..."))
	if _, err := LoadPublicKey(junk); !errors.Is(err, ErrBadKey) {
		t.Errorf("junk public key: %v", err)
	}
	// No temporary files are left next to the keys.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %d entries, want vendor.key, vendor.pub, junk.pub", len(entries))
	}
}

func FuzzVerify(f *testing.F) {
	seed := [32]byte{7}
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	var buf bytes.Buffer
	if _, err := Sign(&buf, bytes.NewReader([]byte("payload")), priv, Manifest{Version: "1.0.0", MinVersion: "0.0.0", Created: testCreated}); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add(valid[:40])
	f.Add([]byte(Magic))
	f.Add(append(bytes.Clone(valid), 'x'))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Verify(bytes.NewReader(data), pub)
		// Nobody can make another image verify without the private key.
		if err == nil && !bytes.Equal(data, valid) {
			t.Fatalf("a forged image verified: %q", data)
		}
	})
}
