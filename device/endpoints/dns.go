package endpoints

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Bounds of one lookup.
const (
	// MaxUDPAnswer is the largest UDP answer read (EDNS0 payload size
	// offered to the server).
	MaxUDPAnswer = 1232
	// MaxTCPAnswer is the largest answer read over TCP after a truncated
	// UDP one (the protocol's own limit).
	MaxTCPAnswer = 65535
	// MaxCNAMEs is how many aliases a name may go through.
	MaxCNAMEs = 8
	// MaxResolvers is how many nameserver lines of resolv.conf are used
	// (the C library's own limit).
	MaxResolvers = 3
)

// answer is what a name resolved to: its addresses and the smallest TTL
// on the way to them.
type answer struct {
	addrs []netip.Addr
	ttl   time.Duration
	// truncated: the name had more than MaxAddrsPerName addresses.
	truncated bool
}

// lookup asks server for the A and AAAA records of host.
func lookup(ctx context.Context, server netip.AddrPort, host string, maxAddrs int) (answer, error) {
	var out answer
	var errs []error
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		a, err := query(ctx, server, host, t, maxAddrs-len(out.addrs))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.addrs = append(out.addrs, a.addrs...)
		out.truncated = out.truncated || a.truncated
		if len(a.addrs) > 0 && (out.ttl == 0 || a.ttl < out.ttl) {
			out.ttl = a.ttl
		}
	}
	if len(out.addrs) == 0 {
		if len(errs) == 0 {
			errs = append(errs, ErrNoAddress)
		}
		return out, errors.Join(errs...)
	}
	return out, nil
}

// query makes one question over UDP, and again over TCP when the answer
// comes back truncated.
func query(ctx context.Context, server netip.AddrPort, host string, t dnsmessage.Type, maxAddrs int) (answer, error) {
	name, err := dnsmessage.NewName(dnsName(host))
	if err != nil {
		return answer{}, fmt.Errorf("%w: %q: %v", ErrBadName, host, err)
	}
	id := uint16(time.Now().UnixNano())
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: t, Class: dnsmessage.ClassINET}},
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(MaxUDPAnswer, dnsmessage.RCodeSuccess, false); err != nil {
		return answer{}, err
	}
	q.Additionals = []dnsmessage.Resource{{Header: opt, Body: &dnsmessage.OPTResource{}}}
	packed, err := q.Pack()
	if err != nil {
		return answer{}, fmt.Errorf("%w: %q: %v", ErrBadName, host, err)
	}
	raw, err := exchangeUDP(ctx, server, packed, id)
	if err != nil {
		return answer{}, err
	}
	a, truncated, err := parseAnswer(raw, id, name, t, maxAddrs)
	if err == nil && truncated {
		if raw, err = exchangeTCP(ctx, server, packed); err == nil {
			a, _, err = parseAnswer(raw, id, name, t, maxAddrs)
		}
	}
	return a, err
}

func dnsName(host string) string {
	if strings.HasSuffix(host, ".") {
		return host
	}
	return host + "."
}

// dialServer connects to server over network; the connection's I/O ends
// when ctx does. done closes it.
func dialServer(ctx context.Context, network string, server netip.AddrPort) (c net.Conn, done func(), err error) {
	var d net.Dialer
	if c, err = d.DialContext(ctx, network, server.String()); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c, func() { stop(); _ = c.Close() }, nil
}

func exchangeUDP(ctx context.Context, server netip.AddrPort, q []byte, id uint16) ([]byte, error) {
	c, done, err := dialServer(ctx, "udp", server)
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w", server, err)
	}
	defer done()
	if _, err := c.Write(q); err != nil {
		return nil, fmt.Errorf("ask %s: %w", server, err)
	}
	buf := make([]byte, MaxUDPAnswer)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("ask %s: %w", server, ctx.Err())
			}
			return nil, fmt.Errorf("ask %s: %w", server, err)
		}
		// A stray datagram with another id is not our answer; the
		// connected socket only hears the server itself.
		if n >= 2 && binary.BigEndian.Uint16(buf) == id {
			return buf[:n], nil
		}
	}
}

func exchangeTCP(ctx context.Context, server netip.AddrPort, q []byte) ([]byte, error) {
	c, done, err := dialServer(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("ask %s over tcp: %w", server, err)
	}
	defer done()
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(q)))
	if _, err := c.Write(append(msg, q...)); err != nil {
		return nil, fmt.Errorf("ask %s over tcp: %w", server, err)
	}
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, fmt.Errorf("ask %s over tcp: %w", server, err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, fmt.Errorf("ask %s over tcp: %w", server, err)
	}
	return buf, nil
}

// parseAnswer reads the addresses of name from an answer (see
// parseRecords); an answer that fails to parse gives no address at all.
func parseAnswer(raw []byte, id uint16, name dnsmessage.Name, t dnsmessage.Type, maxAddrs int) (answer, bool, error) {
	a, truncated, err := parseRecords(raw, id, name, t, maxAddrs)
	if err != nil {
		return answer{}, false, err
	}
	return a, truncated, nil
}

// parseRecords reads the addresses of name from an answer: the records of
// type t owned by name or by the aliases (CNAME) it leads to, at most
// maxAddrs of them, and the smallest TTL of the records used. truncated
// is the header's TC bit: the caller asks again over TCP.
func parseRecords(raw []byte, id uint16, name dnsmessage.Name, t dnsmessage.Type, maxAddrs int) (a answer, truncated bool, err error) {
	var p dnsmessage.Parser
	h, err := p.Start(raw)
	if err != nil {
		return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	switch {
	case h.ID != id:
		return a, false, fmt.Errorf("%w: id %d, asked %d", ErrBadAnswer, h.ID, id)
	case !h.Response:
		return a, false, fmt.Errorf("%w: not a response", ErrBadAnswer)
	case h.RCode == dnsmessage.RCodeNameError:
		return a, false, fmt.Errorf("%w: %s", ErrNoSuchName, strings.TrimSuffix(name.String(), "."))
	case h.RCode != dnsmessage.RCodeSuccess:
		return a, false, fmt.Errorf("%w: server says %s", ErrBadAnswer, h.RCode)
	case h.Truncated:
		return a, true, nil
	}
	if err := p.SkipAllQuestions(); err != nil {
		return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	owner := strings.ToLower(name.String())
	aliases := 0
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
		}
		ttl := time.Duration(rh.TTL) * time.Second
		if rh.Class != dnsmessage.ClassINET || !strings.EqualFold(rh.Name.String(), owner) {
			if err := p.SkipAnswer(); err != nil {
				return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
			}
			continue
		}
		var addr netip.Addr
		switch {
		case rh.Type == dnsmessage.TypeCNAME:
			r, err := p.CNAMEResource()
			if err != nil {
				return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
			}
			if aliases++; aliases > MaxCNAMEs {
				return a, false, fmt.Errorf("%w: more than %d aliases", ErrBadAnswer, MaxCNAMEs)
			}
			owner = strings.ToLower(r.CNAME.String())
			a.ttl = minTTL(a.ttl, ttl)
			continue
		case rh.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
			}
			addr = netip.AddrFrom4(r.A)
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
			}
			addr = netip.AddrFrom16(r.AAAA)
		default:
			if err := p.SkipAnswer(); err != nil {
				return a, false, fmt.Errorf("%w: %v", ErrBadAnswer, err)
			}
			continue
		}
		if !usable(addr) {
			continue
		}
		if len(a.addrs) >= maxAddrs {
			a.truncated = true
			continue
		}
		a.addrs = append(a.addrs, addr)
		a.ttl = minTTL(a.ttl, ttl)
	}
	return a, false, nil
}

func minTTL(cur, ttl time.Duration) time.Duration {
	if cur == 0 || ttl < cur {
		return ttl
	}
	return cur
}

// usable refuses addresses that would open more than one host: the
// unspecified address, multicast and broadcast.
func usable(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// SystemResolvers reads the nameservers of /etc/resolv.conf (at most
// MaxResolvers, port 53).
func SystemResolvers() ([]netip.AddrPort, error) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("read resolvers: %w", err)
	}
	return ParseResolvConf(string(b)), nil
}

// ParseResolvConf returns the nameserver lines of a resolv.conf.
func ParseResolvConf(s string) []netip.AddrPort {
	var out []netip.AddrPort
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || len(out) == MaxResolvers {
			continue
		}
		out = append(out, netip.AddrPortFrom(a.Unmap(), 53))
	}
	return out
}
