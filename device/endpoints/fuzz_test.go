package endpoints

import (
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzParseAnswer feeds arbitrary DNS answers to the parser: it must not
// panic, and never keep more than the addresses asked for.
func FuzzParseAnswer(f *testing.F) {
	name := dnsmessage.MustNewName("broker.test.")
	alias := dnsmessage.MustNewName("cdn.test.")
	build := func(tc bool, rrs func(b *dnsmessage.Builder)) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true, Truncated: tc})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		_ = b.StartAnswers()
		rrs(&b)
		out, _ := b.Finish()
		return out
	}
	hdr := func(n dnsmessage.Name, ttl uint32) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: ttl}
	}
	f.Add(build(false, func(b *dnsmessage.Builder) {
		_ = b.AResource(hdr(name, 60), dnsmessage.AResource{A: [4]byte{10, 9, 0, 1}})
	}))
	f.Add(build(false, func(b *dnsmessage.Builder) {
		_ = b.CNAMEResource(hdr(name, 300), dnsmessage.CNAMEResource{CNAME: alias})
		for i := range 20 {
			_ = b.AResource(hdr(alias, 30), dnsmessage.AResource{A: [4]byte{10, 8, 0, byte(i)}})
		}
	}))
	f.Add(build(true, func(*dnsmessage.Builder) {}))
	f.Add([]byte{0, 7, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, _, err := parseAnswer(raw, 7, name, dnsmessage.TypeA, 4)
		if len(a.addrs) > 4 {
			t.Fatalf("%d addresses kept", len(a.addrs))
		}
		for _, ad := range a.addrs {
			if !usable(ad) || ad == (netip.Addr{}) {
				t.Fatalf("unusable %s kept", ad)
			}
		}
		if err != nil && len(a.addrs) > 0 {
			t.Fatalf("error %v with addresses %v", err, a.addrs)
		}
	})
}
