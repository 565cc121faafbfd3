package device

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// ReportKeyFile is the gateway's report signing key in the data directory:
// an ed25519 private key, PEM "PRIVATE KEY" in PKCS#8, mode 0600, created
// once.
const ReportKeyFile = "report_ed25519_key"

// Bounds of report files.
const (
	// maxReportKeyFile bounds the key file read from disk (a PEM ed25519
	// key is about 120 bytes).
	maxReportKeyFile = 4 << 10
	// MaxReportBytes bounds a report that VerifyReport reads: a report of
	// 300 devices with 50 points each is about 2 MiB of JSON.
	MaxReportBytes = 32 << 20
)

// Errors of report signatures.
var (
	// ErrReportKey means the report key file is unreadable or not an
	// ed25519 key: restore it from a backup, or move it away to make a new
	// one (reports signed with the old key then verify only with the old
	// public key).
	ErrReportKey = errors.New("bad report key")
	// ErrReportUnsigned means the file does not end with a sitegate
	// signature: it is not a report, or its end was cut or changed.
	ErrReportUnsigned = errors.New("no sitegate report signature at the end of the file")
	// ErrReportTampered means the signature does not match the contents:
	// the report was changed after the gateway signed it.
	ErrReportTampered = errors.New("the signature does not match: the report was changed after it was signed")
	// ErrReportOtherKey means the report was signed by another key than
	// the one given.
	ErrReportOtherKey = errors.New("the report was signed by another key")
)

// ReportFormat is how a commissioning report is written.
type ReportFormat uint8

// Report formats.
const (
	ReportText     ReportFormat = iota + 1 // aligned text for a terminal or a printout
	ReportMarkdown                         // Markdown tables, for a ticket or a wiki
	ReportJSON                             // a JSON document (full precision)
)

var reportFormats = enumDef[ReportFormat]{"ReportFormat", "report format", []string{"", "text", "markdown", "json"}}

// ParseReportFormat reads a format name (text, markdown, json).
func ParseReportFormat(s string) (ReportFormat, error) { return reportFormats.parse(s) }

// String returns the format's name.
func (f ReportFormat) String() string { return reportFormats.name(f) }

// ReportKey signs the gateway's reports. Its private half never leaves
// the data directory and is never logged.
type ReportKey struct {
	priv ed25519.PrivateKey
}

// LoadReportKey reads the report key from dir, creating it (0600) on the
// first call for that directory. A key file that is not 0600 or not an
// ed25519 key is refused with ErrReportKey.
func LoadReportKey(dir string) (*ReportKey, error) {
	path := filepath.Join(dir, ReportKeyFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			f.Close()
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err == nil {
			_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("write the report key %s: %w", path, err)
		}
		return &ReportKey{priv: priv}, nil
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("create the report key: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read the report key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %o): chmod 600 it", ErrReportKey, path, fi.Mode().Perm())
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the report key: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxReportKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read the report key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s holds no PEM \"PRIVATE KEY\" block", ErrReportKey, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	priv, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w: %s is not an ed25519 key", ErrReportKey, path)
	}
	return &ReportKey{priv: priv}, nil
}

// Public returns the public key that verifies the gateway's reports.
func (k *ReportKey) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicPEM returns the public key as PEM "PUBLIC KEY" (PKIX), the form
// `report key` prints and `sitegate report verify --pub` reads.
func (k *ReportKey) PublicPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(k.Public()) // an ed25519 key always marshals
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ReportKeyID names a public key: the first 16 hex digits of its SHA-256.
func ReportKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ParseReportPublicKey reads a public key as PublicPEM writes it.
func ParseReportPublicKey(b []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(`not a public key: give the PEM "PUBLIC KEY" that ssh <gateway> report key prints`)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	pub, ok := k.(ed25519.PublicKey)
	if err != nil || !ok {
		return nil, errors.New("not an ed25519 public key")
	}
	return pub, nil
}

// The signature. What is signed is the header line of the signature (every
// field but the signature itself) followed by the body, so that the
// format, the gateway and the key are covered too:
//
//	sitegate-report/1 format=F gateway=G key=K\n + body
//
// A text or Markdown report ends with one line that carries them and the
// signature; a JSON report is {"report": BODY, "signature": {...}} with
// BODY byte for byte what was signed. VerifyReport rebuilds the signature
// part from what it parsed and compares it with the file byte for byte,
// so a change anywhere, signature included, fails.
const (
	sigVersion = "sitegate-report/1"
	sigLinePre = "sitegate-signature: "
	jsonPre    = "{\n  \"report\": "
	jsonMid    = ",\n  \"signature\": "
)

var sigLineRE = regexp.MustCompile(`^` + sigLinePre + `v=1 format=(text|markdown) gateway=([a-z0-9-]{3,64}) key=([0-9a-f]{16}) ed25519=([0-9a-f]{128})\n$`)

type sigJSON struct {
	V       int    `json:"v"`
	Format  string `json:"format"`
	Gateway string `json:"gateway"`
	Key     string `json:"key"`
	Ed25519 string `json:"ed25519"`
}

func signedMessage(format ReportFormat, gateway, key string, body []byte) []byte {
	head := fmt.Sprintf("%s format=%s gateway=%s key=%s\n", sigVersion, format, gateway, key)
	return append([]byte(head), body...)
}

func sigLine(format ReportFormat, gateway, key string, sig []byte) string {
	return fmt.Sprintf("%sv=1 format=%s gateway=%s key=%s ed25519=%s\n", sigLinePre, format, gateway, key, hex.EncodeToString(sig))
}

func sigMember(format ReportFormat, gateway, key string, sig []byte) []byte {
	b, _ := json.Marshal(sigJSON{V: 1, Format: format.String(), Gateway: gateway, Key: key, Ed25519: hex.EncodeToString(sig)})
	return b
}

// Sign returns the signed report file of body (the report as text,
// Markdown or indented JSON, as Report.Render writes it) for gateway.
func (k *ReportKey) Sign(format ReportFormat, gateway string, body []byte) []byte {
	if !bytes.HasSuffix(body, []byte("\n")) {
		body = append(append([]byte{}, body...), '\n')
	}
	key := ReportKeyID(k.Public())
	sig := ed25519.Sign(k.priv, signedMessage(format, gateway, key, body))
	if format == ReportJSON {
		var b bytes.Buffer
		b.WriteString(jsonPre)
		b.Write(bytes.TrimSuffix(body, []byte("\n")))
		b.WriteString(jsonMid)
		b.Write(sigMember(format, gateway, key, sig))
		b.WriteString("\n}\n")
		return b.Bytes()
	}
	return append(append([]byte{}, body...), sigLine(format, gateway, key, sig)...)
}

// VerifiedReport is what VerifyReport found in an intact report.
type VerifiedReport struct {
	Format  ReportFormat
	Gateway string // the gateway id the report was signed for
	KeyID   string // ReportKeyID of the key that signed it
	Body    []byte // the report without its signature
}

// VerifyReport checks that doc is a report signed by pub and unchanged
// since: ErrReportUnsigned, ErrReportOtherKey or ErrReportTampered say
// what is wrong.
func VerifyReport(doc []byte, pub ed25519.PublicKey) (VerifiedReport, error) {
	if len(doc) > MaxReportBytes {
		return VerifiedReport{}, fmt.Errorf("the file is larger than %d MiB: a report is much smaller", MaxReportBytes>>20)
	}
	var v VerifiedReport
	var sig []byte
	var rebuilt []byte // the signature part as Sign writes it
	var tail []byte    // the signature part as the file has it
	if bytes.HasPrefix(doc, []byte(jsonPre)) {
		i := bytes.LastIndex(doc, []byte(jsonMid))
		if i < 0 || !bytes.HasSuffix(doc, []byte("\n}\n")) {
			return v, ErrReportUnsigned
		}
		var s sigJSON
		member := doc[i+len(jsonMid) : len(doc)-len("\n}\n")]
		if err := json.Unmarshal(member, &s); err != nil || s.V != 1 || s.Format != "json" {
			return v, ErrReportUnsigned
		}
		var err error
		if sig, err = hex.DecodeString(s.Ed25519); err != nil || len(sig) != ed25519.SignatureSize {
			return v, ErrReportTampered
		}
		v = VerifiedReport{Format: ReportJSON, Gateway: s.Gateway, KeyID: s.Key, Body: append(doc[len(jsonPre):i:i], '\n')}
		tail = doc[i:]
		rebuilt = append(append([]byte(jsonMid), sigMember(ReportJSON, s.Gateway, s.Key, sig)...), "\n}\n"...)
	} else {
		end := bytes.LastIndex(bytes.TrimSuffix(doc, []byte("\n")), []byte("\n")) + 1
		m := sigLineRE.FindSubmatch(doc[end:])
		if m == nil {
			if bytes.Contains(doc[end:], []byte(sigLinePre)) {
				return v, ErrReportTampered
			}
			return v, ErrReportUnsigned
		}
		format, _ := ParseReportFormat(string(m[1]))
		sig, _ = hex.DecodeString(string(m[4]))
		v = VerifiedReport{Format: format, Gateway: string(m[2]), KeyID: string(m[3]), Body: doc[:end]}
		tail = doc[end:]
		rebuilt = []byte(sigLine(format, v.Gateway, v.KeyID, sig))
	}
	if !bytes.Equal(tail, rebuilt) {
		return v, ErrReportTampered
	}
	if want := ReportKeyID(pub); v.KeyID != want {
		return v, fmt.Errorf("%w (key %s, not %s): verify it with the public key of the gateway that made it", ErrReportOtherKey, v.KeyID, want)
	}
	if !ed25519.Verify(pub, signedMessage(v.Format, v.Gateway, v.KeyID, v.Body), sig) {
		return v, ErrReportTampered
	}
	return v, nil
}
