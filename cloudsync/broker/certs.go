// Package broker is the embedded MQTT broker of the demo and the tests: a
// mochi-mqtt server on loopback that speaks TLS and requires a client
// certificate, with a throwaway CA and certificates made for it.
//
// # Caveats
//
//   - It is a stand-in for the cloud, not a production broker: every
//     client with a certificate of its CA may publish and subscribe to
//     anything.
//   - The demo CA's key stays in the data directory (mode 0600) so that a
//     later run reuses the same certificates.
package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sitegate/sitegate/store"
)

// Files of a demo PKI in a directory.
type Files struct {
	CA         string // CA certificate (PEM), what both sides trust
	CAKey      string
	ServerCert string
	ServerKey  string
	ClientCert string // the gateway's device certificate
	ClientKey  string
}

// PKIFiles returns the file names of a demo PKI in dir.
func PKIFiles(dir string) Files {
	j := func(n string) string { return filepath.Join(dir, n) }
	return Files{CA: j("demo-ca.pem"), CAKey: j("demo-ca.key"), ServerCert: j("demo-broker.pem"), ServerKey: j("demo-broker.key"),
		ClientCert: j("device.pem"), ClientKey: j("device.key")}
}

// CertOptions shape generated certificates; tests use them to make
// expired or foreign certificates.
type CertOptions struct {
	NotBefore, NotAfter time.Time
}

// EnsurePKI creates (once) a demo CA, a server certificate for 127.0.0.1
// and localhost, and a client certificate whose common name is clientID,
// in dir. Keys are written with mode 0600. Existing files are kept.
func EnsurePKI(dir, clientID string) (Files, error) {
	f := PKIFiles(dir)
	if _, err := os.Stat(f.ClientKey); err == nil {
		return f, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	now := time.Now()
	opts := CertOptions{NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0)}
	ca, caKey, err := NewCA("sitegate demo CA", opts)
	if err != nil {
		return f, err
	}
	srv, srvKey, err := NewLeaf(ca, caKey, "sitegate demo broker", true, opts)
	if err != nil {
		return f, err
	}
	cli, cliKey, err := NewLeaf(ca, caKey, clientID, false, opts)
	if err != nil {
		return f, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.CA, ca.Raw}, {f.ServerCert, srv.Raw}, {f.ClientCert, cli.Raw}} {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.data}), 0o644); err != nil {
			return f, err
		}
	}
	for _, w := range []struct {
		path string
		key  *ecdsa.PrivateKey
	}{{f.CAKey, caKey}, {f.ServerKey, srvKey}, {f.ClientKey, cliKey}} {
		der, err := x509.MarshalECPrivateKey(w.key)
		if err != nil {
			return f, err
		}
		if err := store.WriteSecretFile(w.path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
			return f, err
		}
	}
	return f, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// NewCA makes a self-signed CA certificate.
func NewCA(name string, o CertOptions) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: o.NotBefore, NotAfter: o.NotAfter,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// NewLeaf makes a server (for 127.0.0.1, ::1 and localhost) or client
// certificate signed by ca.
func NewLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool, o CertOptions) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s: %w", name, err)
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// WriteCert writes a certificate as PEM.
func WriteCert(path string, c *x509.Certificate) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
}

// WriteKey writes a private key as PEM with mode 0600.
func WriteKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return store.WriteSecretFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}
