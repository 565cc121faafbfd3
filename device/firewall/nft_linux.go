//go:build linux

package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Netfilter talks to the kernel's nftables over netlink, in the network
// namespace it was opened in.
type Netfilter struct {
	conn *nftables.Conn
}

// OpenNetfilter opens netlink to nftables: in the network namespace of
// the open file nsFD (as /proc/PID/ns/net or /run/netns/NAME give), or in
// the process's own when nsFD < 0.
func OpenNetfilter(nsFD int) (*Netfilter, error) {
	var opts []nftables.ConnOption
	if nsFD >= 0 {
		opts = append(opts, nftables.WithNetNSFd(nsFD))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables: %w", err)
	}
	return &Netfilter{conn: c}, nil
}

func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: Table}
}

// Counters reads the table's named counters by name; an absent table has
// none.
func (n *Netfilter) Counters() (map[string]Counter, error) {
	objs, err := n.conn.GetObjects(table())
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return map[string]Counter{}, nil
		}
		return nil, fmt.Errorf("read counters: %w", err)
	}
	out := map[string]Counter{}
	for _, o := range objs {
		switch c := o.(type) {
		case *nftables.CounterObj:
			out[c.Name] = Counter{Packets: c.Packets, Bytes: c.Bytes}
		case *nftables.NamedObj:
			if v, ok := c.Obj.(*expr.Counter); ok {
				out[c.Name] = Counter{Packets: v.Packets, Bytes: v.Bytes}
			}
		}
	}
	return out, nil
}

// Exists reports whether table inet sitegate is in place.
func (n *Netfilter) Exists() (bool, error) {
	ts, err := n.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == Table {
			return true, nil
		}
	}
	return false, nil
}

// Remove deletes table inet sitegate, if it is there.
func (n *Netfilter) Remove() error {
	t := table()
	// Adding first makes the delete valid whether or not the table was
	// there: both go in one batch.
	n.conn.AddTable(t)
	n.conn.DelTable(t)
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("remove table inet %s: %w", Table, err)
	}
	return nil
}

// Apply replaces table inet sitegate by sp in one netlink batch, which the
// kernel applies whole or not at all. The named counters start from the
// values in keep, so that replacing the table does not reset them.
func (n *Netfilter) Apply(sp *Spec, keep map[string]Counter) error {
	c := n.conn
	t := table()
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)

	counters := []string{counterName("in", ""), counterName("out", "")}
	for _, i := range sp.Interfaces {
		counters = append(counters, counterName("in", i.Name), counterName("out", i.Name))
	}
	for _, name := range counters {
		k := keep[name]
		c.AddObj(&nftables.CounterObj{Table: t, Name: name, Packets: k.Packets, Bytes: k.Bytes})
	}

	allow4 := &nftables.Set{Table: t, Name: "allow4", KeyType: nftables.TypeIPAddr, HasTimeout: true}
	allow6 := &nftables.Set{Table: t, Name: "allow6", KeyType: nftables.TypeIP6Addr, HasTimeout: true}
	var el4, el6 []nftables.SetElement
	for _, a := range sp.Allow {
		e := nftables.SetElement{Key: a.Addr.AsSlice(), Timeout: a.Timeout}
		if a.Addr.Is4() {
			el4 = append(el4, e)
		} else {
			el6 = append(el6, e)
		}
	}
	if err := c.AddSet(allow4, el4); err != nil {
		return fmt.Errorf("set allow4: %w", err)
	}
	if err := c.AddSet(allow6, el6); err != nil {
		return fmt.Errorf("set allow6: %w", err)
	}

	drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
	in := c.AddChain(&nftables.Chain{Table: t, Name: "input", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	outPolicy := &accept
	if sp.Restrict {
		outPolicy = &drop
	}
	out := c.AddChain(&nftables.Chain{Table: t, Name: "output", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: outPolicy})
	rule := func(ch *nftables.Chain, e ...expr.Any) { c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e}) }

	// Input: what belongs to connections already allowed, loopback, the
	// ICMP a network needs (IPv6 neighbour discovery above all), then the
	// open ports; the rest is counted per interface and dropped.
	rule(in, append(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), acceptV()...)...)
	rule(in, append(ctState(expr.CtStateBitINVALID), dropV()...)...)
	rule(in, append(ifname(expr.MetaKeyIIFNAME, "lo"), acceptV()...)...)
	for _, ty := range icmpTypes4 {
		rule(in, append(icmp(unix.IPPROTO_ICMP, ty), acceptV()...)...)
	}
	for _, ty := range icmpTypes6 {
		rule(in, append(icmp(unix.IPPROTO_ICMPV6, ty), acceptV()...)...)
	}
	// DHCP's offers and acks come to port 68 from port 67 of a server
	// the conntrack has not seen (the request was a broadcast).
	rule(in, append(append(l4(UDP), sport(67, dport(68)...)...), acceptV()...)...)
	for _, p := range sp.In {
		rule(in, append(port(expr.MetaKeyIIFNAME, p), acceptV()...)...)
	}
	for _, i := range sp.Interfaces {
		rule(in, append(ifname(expr.MetaKeyIIFNAME, i.Name), countDrop(counterName("in", i.Name))...)...)
	}
	rule(in, countDrop(counterName("in", ""))...)

	// Output: established, loopback, ICMP, DHCP requests; with the
	// allow-list enforced only DNS to the resolvers, the endpoints'
	// addresses and the field peers, the rest counted and dropped.
	rule(out, append(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), acceptV()...)...)
	rule(out, append(ifname(expr.MetaKeyOIFNAME, "lo"), acceptV()...)...)
	if !sp.Restrict {
		return n.flush()
	}
	rule(out, append(l4Proto(unix.IPPROTO_ICMP), acceptV()...)...)
	rule(out, append(l4Proto(unix.IPPROTO_ICMPV6), acceptV()...)...)
	rule(out, append(append(l4(UDP), sport(68, dport(67)...)...), acceptV()...)...)
	for _, r := range sp.Resolvers {
		for _, pr := range []Proto{UDP, TCP} {
			rule(out, append(port(expr.MetaKeyOIFNAME, Port{Proto: pr, Port: 53, Addr: r}), acceptV()...)...)
		}
	}
	rule(out, append(lookup(4, allow4), acceptV()...)...)
	rule(out, append(lookup(6, allow6), acceptV()...)...)
	for _, p := range sp.Out {
		rule(out, append(port(expr.MetaKeyOIFNAME, p), acceptV()...)...)
	}
	for _, i := range sp.Interfaces {
		rule(out, append(ifname(expr.MetaKeyOIFNAME, i.Name), countDrop(counterName("out", i.Name))...)...)
	}
	rule(out, countDrop(counterName("out", ""))...)
	return n.flush()
}

func (n *Netfilter) flush() error {
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("replace table inet %s: %w", Table, err)
	}
	return nil
}

// ICMP types let in: echo request, destination unreachable (path MTU
// discovery), time exceeded, parameter problem; for ICMPv6 also packet
// too big, and router and neighbour discovery and MLD, without which
// IPv6 does not work at all.
var (
	icmpTypes4 = []byte{3, 8, 11, 12}
	icmpTypes6 = []byte{1, 2, 3, 4, 128, 130, 131, 132, 133, 134, 135, 136, 143}
)

func acceptV() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
func dropV() []expr.Any   { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

func countDrop(name string) []expr.Any {
	return []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: name}, &expr.Verdict{Kind: expr.VerdictDrop}}
}

func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b}}
}

func l4Proto(p byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

func l4(p Proto) []expr.Any { return l4Proto(byte(p)) }

func icmp(proto, ty byte) []expr.Any {
	return append(l4Proto(proto),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{ty}})
}

func dport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p)},
	}
}

func sport(p uint16, then ...expr.Any) []expr.Any {
	return append([]expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p)},
	}, then...)
}

// addr matches the source or destination address of the network header.
func addr(a netip.Addr, dst bool) []expr.Any {
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if a.Is6() {
		proto, off, n = unix.NFPROTO_IPV6, 8, 16
	}
	if dst {
		off += n
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// port matches p: its interface (by key, iifname or oifname), its
// destination address, transport and destination port.
func port(key expr.MetaKey, p Port) []expr.Any {
	var e []expr.Any
	if p.Iface != "" {
		e = append(e, ifname(key, p.Iface)...)
	}
	if p.Addr.IsValid() {
		e = append(e, addr(p.Addr, true)...)
	}
	e = append(e, l4(p.Proto)...)
	return append(e, dport(p.Port)...)
}

func lookup(family int, s *nftables.Set) []expr.Any {
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4)
	if family == 6 {
		proto, off, n = unix.NFPROTO_IPV6, 24, 16
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
	}
}

func openDefault() (Backend, error) { return OpenNetfilter(-1) }
