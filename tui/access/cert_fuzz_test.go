package access

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// FuzzSourceAddress: any source-address value is accepted or refused with
// an error, never a panic, for IPv4 and IPv6 clients.
func FuzzSourceAddress(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.0/8,127.0.0.1/32", "::1/128", " 192.0.2.1 , ::/0", "", ",", "1.2.3.4/33", "fe80::1%eth0"} {
		f.Add(s)
	}
	v4, v6 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.TCPAddr{IP: net.IPv6loopback}
	f.Fuzz(func(t *testing.T, list string) {
		_ = checkSourceAddress(list, v4)
		_ = checkSourceAddress(list, v6)
	})
}

// FuzzCheckCertificate: whatever certificate a client sends (any bytes
// x/crypto parses as one), the checks refuse it with ErrCertRefused or
// accept it, never panic; only one signed by the trusted CA is accepted.
func FuzzCheckCertificate(f *testing.F) {
	clock := clockwork.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	st := storetest.New(f, store.Options{Now: clock.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Clock: clock, GatewayID: "gw-fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	_, caKey, _ := ed25519.GenerateKey(rand.Reader)
	ca, _ := gossh.NewSignerFromKey(caKey)
	if _, err := gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error {
		s.Access.SSHUserCAs = []string{string(gossh.MarshalAuthorizedKey(ca.PublicKey()))}
		return nil
	}); err != nil {
		f.Fatal(err)
	}
	svc := New(gw, Options{Clock: clock})
	_, userKey, _ := ed25519.GenerateKey(rand.Reader)
	user, _ := gossh.NewSignerFromKey(userKey)
	for _, edit := range []func(c *gossh.Certificate){
		func(c *gossh.Certificate) {},
		func(c *gossh.Certificate) { c.CriticalOptions = map[string]string{"source-address": "127.0.0.1/32"} },
		func(c *gossh.Certificate) { c.CertType = gossh.HostCert },
		func(c *gossh.Certificate) { c.ValidPrincipals = []string{"viewer:site=x", "admin:gw-other"} },
	} {
		c := &gossh.Certificate{Key: user.PublicKey(), Serial: 3, CertType: gossh.UserCert, KeyId: "emp-f",
			ValidPrincipals: []string{"admin:gw-fuzz"}, ValidAfter: uint64(clock.Now().Add(-time.Hour).Unix()), ValidBefore: uint64(clock.Now().Add(time.Hour).Unix())}
		edit(c)
		if err := c.SignCert(rand.Reader, ca); err != nil {
			f.Fatal(err)
		}
		f.Add(c.Marshal())
	}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := gossh.ParsePublicKey(data)
		if err != nil {
			return
		}
		c, err := svc.CheckCertificate(k, remote)
		if err != nil {
			if !errors.Is(err, ErrCertRefused) {
				t.Fatalf("unwrapped refusal %v", err)
			}
			return
		}
		if c.KeyID == "" || c.Role == 0 {
			t.Fatalf("accepted without a key id or role: %+v", c)
		}
	})
}
