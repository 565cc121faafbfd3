//go:build linux

package support

// The support window against Debian's openvpn, client and server, in two
// network namespaces:
//
//	namespace gw (the gateway)                 namespace vendor
//	eth0 10.60.0.2/24 ───────veth─────── pv0 10.60.0.1/24 (openvpn server)
//	sgsupport0 10.99.0.2 ═══ tunnel ═══ tun 10.99.0.1
//
// The gateway's firewall (device/firewall) is in place in gw, with the
// tunnel as its VPN interface: through the tunnel only the SSH port
// answers.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/firewall"
	"github.com/sitegate/sitegate/store/storetest"
)

// pki writes a CA and a server and a client certificate (ECDSA P-256,
// with the key usages openvpn's remote-cert-tls checks) into dir.
func pki(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test vendor CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name string, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, c := range []struct {
		name string
		eku  x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: c.name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, ExtKeyUsage: []x509.ExtKeyUsage{c.eku}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		write(c.name+".pem", "CERTIFICATE", der)
		write(c.name+".key", "PRIVATE KEY", kder)
	}
}

func TestSupportWindowBringsUpTheTunnel(t *testing.T) {
	devicetest.RequireNetns(t, "openvpn")
	gwNS, vendorNS := devicetest.Netns(t, "sg-sup-gw"), devicetest.Netns(t, "sg-sup-vendor")
	devicetest.IP(t, "-n", gwNS, "link", "add", "eth0", "type", "veth", "peer", "name", "pv0", "netns", vendorNS)
	devicetest.IP(t, "-n", gwNS, "addr", "add", "10.60.0.2/24", "dev", "eth0")
	devicetest.IP(t, "-n", vendorNS, "addr", "add", "10.60.0.1/24", "dev", "pv0")
	devicetest.IP(t, "-n", gwNS, "link", "set", "eth0", "up")
	devicetest.IP(t, "-n", vendorNS, "link", "set", "pv0", "up")

	dir := t.TempDir()
	pki(t, dir)
	// A port nothing else uses in the vendor's namespace, found by binding.
	var port int
	if err := devicetest.InNetns(vendorNS, func() error {
		pc, err := net.ListenPacket("udp", "10.60.0.1:0")
		if err != nil {
			return err
		}
		port = pc.LocalAddr().(*net.UDPAddr).Port
		return pc.Close()
	}); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", vendorNS, "openvpn", "--dev", "tun", "--dev-type", "tun",
		"--ifconfig", "10.99.0.1", "10.99.0.2", "--tls-server", "--dh", "none",
		"--ca", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "server.pem"), "--key", filepath.Join(dir, "server.key"),
		"--proto", "udp", "--local", "10.60.0.1", "--lport", strconv.Itoa(port), "--verb", "3")
	var srvOut strings.Builder
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("openvpn server:\n%s", srvOut.String())
		}
	})

	conf := filepath.Join(dir, "support", "client.ovpn")
	if err := os.MkdirAll(filepath.Dir(conf), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("dev tun\nremote 10.60.0.1 %d udp\nnobind\ntls-client\nifconfig 10.99.0.2 10.99.0.1\nremote-cert-tls server\nca %s\ncert %s\nkey %s\nverb 3\n",
		port, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{Gateway: gw, Config: conf, Command: []string{"ip", "netns", "exec", gwNS, "openvpn"}})
	if err != nil {
		t.Fatal(err)
	}
	devicetest.Run(t, w)
	admin := device.Actor{ID: "u-admin", Role: "admin"}

	// Bad windows and a configuration others can read are refused.
	for _, d := range []time.Duration{0, 30 * time.Second, 10 * 365 * 24 * time.Hour} {
		if _, err := w.Open(admin, d); err == nil || !strings.Contains(err.Error(), "1m0s..72h0m0s") {
			t.Errorf("a window of %s: %v", d, err)
		}
	}
	if _, err := w.Open(admin, time.Hour); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("a readable configuration: %v", err)
	}
	if err := os.Chmod(conf, 0o600); err != nil {
		t.Fatal(err)
	}
	if w.Status().Open || w.Status().State != "stopped" {
		t.Fatalf("status before: %+v", w.Status())
	}

	// The gateway's firewall: SSH on every interface, the tunnel a VPN
	// interface with nothing else open.
	ssh := devicetest.Greeter(t, gwNS, "0.0.0.0:0")
	other := devicetest.Greeter(t, gwNS, "0.0.0.0:0")
	f, err := os.Open("/run/netns/" + gwNS)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nf, err := firewall.OpenNetfilter(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	site := device.DefaultSite()
	site.Firewall.Enabled = true
	sp, err := firewall.Build(site, firewall.BuildOptions{SSHAddr: ":" + portOf(ssh), VPN: DefaultInterface})
	if err != nil {
		t.Fatal(err)
	}
	if err := nf.Apply(sp, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := w.Open(admin, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, 30*time.Second, func() string { return fmt.Sprintf("the tunnel up: %+v", w.Status()) }, func() bool {
		s := w.Status()
		return s.State == "CONNECTED" && s.LocalIP == "10.99.0.2"
	})
	s := w.Status()
	if !s.Open || s.By != "u-admin" || s.Until.Sub(s.Since) != 2*time.Hour || s.Remote != "10.60.0.1" {
		t.Errorf("status %+v", s)
	}
	// Through the tunnel, from the vendor's side: the SSH port answers,
	// the other listening port does not.
	// The server's end finishes its own handshake a moment after the
	// client says CONNECTED.
	var sshErr error
	if !devicetest.Within(15*time.Second, func() bool {
		sshErr = devicetest.DialGreeter(vendorNS, "10.99.0.2:"+portOf(ssh))
		return sshErr == nil
	}) {
		t.Errorf("ssh through the tunnel: %v", sshErr)
	}
	if err := devicetest.DialGreeter(vendorNS, "10.99.0.2:"+portOf(other)); err == nil {
		t.Errorf("port %s answers through the tunnel", portOf(other))
	}
	devicetest.Eventually(t, 15*time.Second, "byte counts", func() bool { return w.Status().BytesIn > 0 && w.Status().BytesOut > 0 })
	if cs, err := nf.Counters(); err != nil || cs["in_"+DefaultInterface].Packets == 0 {
		t.Errorf("the tunnel's drops are not counted: %v %v", cs, err)
	}

	if err := w.Close(admin); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, 15*time.Second, "the tunnel down", func() bool {
		return w.Status().State == "stopped" && exec.Command("ip", "-n", gwNS, "link", "show", DefaultInterface).Run() != nil
	})
	if err := w.Close(admin); err != device.ErrSupportClosed {
		t.Errorf("closing twice: %v", err)
	}
	recs, err := gw.AuditLog().ListAudit(device.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if strings.HasPrefix(string(r.Action), "support.") {
			got = append(got, string(r.Action)+" "+r.Actor)
		}
	}
	if strings.Join(got, ", ") != "support.open u-admin, support.close u-admin" {
		t.Errorf("audit %q", got)
	}
}

func portOf(ln net.Listener) string { return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) }
