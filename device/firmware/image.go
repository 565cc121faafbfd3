package firmware

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Image layout constants; doc.go describes the format.
const (
	// Magic starts every image. The CR LF and 0x1A bytes catch transfers
	// that translate line endings or stop at a DOS end-of-file.
	Magic = "SGFW\x01\r\n\x1a"
	// FormatVersion is the manifest "format" this package writes and reads.
	FormatVersion = 1
	// MaxManifest bounds the manifest length, checked before it is read.
	MaxManifest = 64 << 10
	// SignatureDomain prefixes the signed message, so that a signature
	// made for something else with the same key never verifies here.
	SignatureDomain = "sitegate-firmware-v1\x00"

	keyIDSize  = 8
	headerSize = len(Magic) + keyIDSize + 4
	// DefaultHardware is the hardware id of a gateway not provisioned
	// otherwise, and of images signed without --hardware.
	DefaultHardware = "sitegate"
	// copyBuffer is the chunk size of streaming verification: large
	// enough to amortise system calls, small enough to be irrelevant for
	// memory.
	copyBuffer = 1 << 20
)

// Manifest describes an image. It is signed; nothing in it is believed
// before the signature has been verified.
type Manifest struct {
	Format     int       `json:"format"`
	Version    string    `json:"version"`
	Hardware   string    `json:"hardware"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	MinVersion string    `json:"min_version"`
	Created    time.Time `json:"created"`
}

// check validates the fields of a manifest.
func (m Manifest) check() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("manifest format %d is not supported (this sitegate reads format %d): update sitegate first", m.Format, FormatVersion)
	}
	v, err := ParseVersion(m.Version)
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	floor, err := ParseVersion(m.MinVersion)
	if err != nil {
		return fmt.Errorf("min_version: %w", err)
	}
	if v.Less(floor) {
		return fmt.Errorf("min_version %s is above the image's own version %s", floor, v)
	}
	if err := checkHardware(m.Hardware); err != nil {
		return err
	}
	if m.Size < 0 {
		return fmt.Errorf("size %d is negative", m.Size)
	}
	if len(m.SHA256) != 2*sha256.Size {
		return fmt.Errorf("sha256 has %d hex digits, want %d", len(m.SHA256), 2*sha256.Size)
	}
	if _, err := hex.DecodeString(m.SHA256); err != nil {
		return fmt.Errorf("sha256 is not hex: %v", err)
	}
	return nil
}

// checkHardware checks a hardware id: short, and of a safe alphabet,
// because it is printed and compared byte for byte.
func checkHardware(hw string) error {
	if hw == "" || len(hw) > 64 {
		return fmt.Errorf("hardware id %q must be 1..64 characters", hw)
	}
	for _, r := range hw {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("hardware id %q may only hold letters, digits, '-', '_' and '.'", hw)
		}
	}
	return nil
}

// signedMessage is what the signature covers.
func signedMessage(manifest []byte) []byte {
	msg := make([]byte, 0, len(SignatureDomain)+len(manifest))
	return append(append(msg, SignatureDomain...), manifest...)
}

// Sign writes a signed image of payload to w. m supplies Version,
// MinVersion, Hardware (default DefaultHardware) and optionally Created
// (default now); Format, Size and SHA256 are computed. The payload is read
// twice, streaming — once to hash it, once to copy it — and never held in
// memory; if it changes between the two passes Sign fails. It returns the
// manifest it signed. On error, w holds a partial image: write to a
// temporary file and rename it on success.
func Sign(w io.Writer, payload io.ReadSeeker, key ed25519.PrivateKey, m Manifest) (Manifest, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Manifest{}, fmt.Errorf("%w: private key has %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	m.Format = FormatVersion
	if m.Hardware == "" {
		m.Hardware = DefaultHardware
	}
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	m.Created = m.Created.UTC().Truncate(time.Second)
	buf := make([]byte, copyBuffer)
	h := sha256.New()
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return Manifest{}, fmt.Errorf("rewind payload: %w", err)
	}
	size, err := io.CopyBuffer(h, payload, buf)
	if err != nil {
		return Manifest{}, fmt.Errorf("hash payload: %w", err)
	}
	m.Size, m.SHA256 = size, hex.EncodeToString(h.Sum(nil))
	if err := m.check(); err != nil {
		return Manifest{}, err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, err
	}
	pub := key.Public().(ed25519.PublicKey)
	head := make([]byte, 0, headerSize+len(manifest)+ed25519.SignatureSize)
	head = append(head, Magic...)
	id, _ := hex.DecodeString(KeyID(pub))
	head = append(head, id...)
	head = binary.BigEndian.AppendUint32(head, uint32(len(manifest)))
	head = append(head, manifest...)
	head = append(head, ed25519.Sign(key, signedMessage(manifest))...)
	if _, err := w.Write(head); err != nil {
		return Manifest{}, fmt.Errorf("write image: %w", err)
	}
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return Manifest{}, fmt.Errorf("rewind payload: %w", err)
	}
	h.Reset()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(payload, size+1), buf)
	if err != nil {
		return Manifest{}, fmt.Errorf("write image: %w", err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		return Manifest{}, errors.New("the payload changed while it was being signed: sign a file nothing is writing to")
	}
	return m, nil
}

// Reader verifies an image while it streams. NewReader reads the header,
// the manifest and its signature and verifies them; Read then returns the
// payload, hashing it on the way. The payload bytes are not verified until
// Read returns io.EOF: a consumer must not use them before that (Apply
// writes them to a temporary file and renames it only then).
type Reader struct {
	r         io.Reader
	m         Manifest
	keyID     string
	want      []byte
	h         hash.Hash
	remaining int64
	err       error // sticky: returned by every Read once set
}

// NewReader reads and verifies an image's header with pub. The manifest is
// bounded (MaxManifest) before it is read, and decoded only once its
// signature verifies.
func NewReader(r io.Reader, pub ed25519.PublicKey) (*Reader, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key has %d bytes, want %d", ErrBadKey, len(pub), ed25519.PublicKeySize)
	}
	head := make([]byte, headerSize)
	if n, err := io.ReadFull(r, head); err != nil {
		if k := min(n, len(Magic)); string(head[:k]) != Magic[:k] {
			return nil, fmt.Errorf("%w: it does not start with the image magic", ErrNotImage)
		}
		return nil, short(err, "header", n, headerSize)
	}
	if string(head[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: it does not start with the image magic", ErrNotImage)
	}
	keyID := hex.EncodeToString(head[len(Magic) : len(Magic)+keyIDSize])
	size := binary.BigEndian.Uint32(head[len(Magic)+keyIDSize:])
	if size == 0 || size > MaxManifest {
		return nil, fmt.Errorf("%w: manifest length %d is outside 1..%d bytes", ErrMalformed, size, MaxManifest)
	}
	body := make([]byte, int(size)+ed25519.SignatureSize)
	if n, err := io.ReadFull(r, body); err != nil {
		if n < int(size) {
			return nil, short(err, "manifest", n, int(size))
		}
		return nil, short(err, "signature", n-int(size), ed25519.SignatureSize)
	}
	manifest, sig := body[:size], body[size:]
	if want := KeyID(pub); keyID != want {
		return nil, fmt.Errorf("%w: the image names key %s, the expected key is %s", ErrWrongKey, keyID, want)
	}
	if !ed25519.Verify(pub, signedMessage(manifest), sig) {
		return nil, fmt.Errorf("%w with key %s: the manifest or its signature was altered", ErrBadSignature, keyID)
	}
	// From here on the manifest is the vendor's own words.
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: signed manifest does not decode: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: signed manifest has data after its JSON object", ErrMalformed)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: signed manifest: %v", ErrMalformed, err)
	}
	want, _ := hex.DecodeString(m.SHA256)
	return &Reader{r: r, m: m, keyID: keyID, want: want, h: sha256.New(), remaining: m.Size}, nil
}

// short turns a short read into ErrTruncated (or the read error itself).
func short(err error, part string, got, want int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the %s ends after %d of %d bytes", ErrTruncated, part, got, want)
	}
	return fmt.Errorf("read image %s: %w", part, err)
}

// Manifest returns the verified manifest.
func (r *Reader) Manifest() Manifest { return r.m }

// KeyID returns the id of the key the image was verified with.
func (r *Reader) KeyID() string { return r.keyID }

// Read returns payload bytes. At the end of the payload it checks that the
// image ends there and that the payload's hash is the signed one, and
// returns io.EOF only if both hold.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remaining == 0 {
		r.err = r.finish()
		return 0, r.err
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.remaining -= int64(n)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if r.remaining > 0 {
			r.err = fmt.Errorf("%w: the payload ends after %d of %d bytes", ErrTruncated, r.m.Size-r.remaining, r.m.Size)
			return n, r.err
		}
	default:
		r.err = fmt.Errorf("read image payload: %w", err)
		return n, r.err
	}
	return n, nil
}

func (r *Reader) finish() error {
	var one [1]byte
	if n, err := io.ReadFull(r.r, one[:]); n > 0 {
		return fmt.Errorf("%w: there are bytes after the %d-byte payload", ErrMalformed, r.m.Size)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("read image payload: %w", err)
	}
	if got := r.h.Sum(nil); !bytes.Equal(got, r.want) {
		return fmt.Errorf("%w: payload SHA-256 is %x, the manifest says %x", ErrPayloadHash, got, r.want)
	}
	return io.EOF
}

// Verify reads a whole image from r and verifies it with pub: header,
// signature over the manifest, then the payload's size and SHA-256 while
// streaming it, so images larger than memory verify in constant memory. It
// returns the manifest once the signature has verified, even when the
// payload then fails, so that the refusal can name the version.
func Verify(r io.Reader, pub ed25519.PublicKey) (Manifest, error) {
	rd, err := NewReader(r, pub)
	if err != nil {
		return Manifest{}, err
	}
	return rd.Manifest(), drain(context.Background(), rd, nil)
}

// drain reads rd to its verified end, reporting progress; ctx stops it
// between chunks.
func drain(ctx context.Context, rd *Reader, progress func(done, total int64)) error {
	buf := make([]byte, copyBuffer)
	total := rd.m.Size
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted after %d of %d payload bytes: %w", total-rd.remaining, total, err)
		}
		_, err := rd.Read(buf)
		if progress != nil {
			progress(total-rd.remaining, total)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
