package bacnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/sitegate/sitegate/device"
)

// ListenFunc opens a UDP socket at address ("192.168.10.5:47808"). reuse
// asks for SO_REUSEADDR, which the receive-only broadcast socket sets so
// that several BACnet nodes of one host can share a subnet's broadcasts.
type ListenFunc func(ctx context.Context, address string, reuse bool) (net.PacketConn, error)

// ListenUDP is the default ListenFunc.
func ListenUDP(ctx context.Context, address string, reuse bool) (net.PacketConn, error) {
	lc := net.ListenConfig{}
	if reuse {
		lc.Control = reuseAddr
	}
	return lc.ListenPacket(ctx, "udp4", address)
}

// Binding is where the BACnet/IP port opens: one unicast address and the
// subnet's broadcast address, both on one port, and nowhere else.
type Binding struct {
	Local     netip.AddrPort
	Broadcast netip.AddrPort // invalid when the subnet has none (/31, /32)
	Interface string         // the interface that holds Local, when known
}

// Errors of the binding.
var (
	// ErrNoAddress means the site's address or interface is not on this
	// gateway (yet): the port is retried until it is.
	ErrNoAddress = errors.New("no such address on this gateway")
)

// ResolveBinding finds where the site's BACnet/IP port opens: the
// interface's first IPv4 address, or the given address and the netmask of
// the interface holding it. ifaces lists the gateway's interfaces
// (net.Interfaces).
func ResolveBinding(b device.BACnet, ifaces func() ([]net.Interface, error)) (Binding, error) {
	port := uint16(b.EffectivePort())
	if ifaces == nil {
		ifaces = net.Interfaces
	}
	list, err := ifaces()
	if err != nil {
		return Binding{}, fmt.Errorf("list interfaces: %w", err)
	}
	var want netip.Addr
	if b.Address != "" {
		if want, err = netip.ParseAddr(b.Address); err != nil || !want.Is4() {
			return Binding{}, fmt.Errorf("bacnet.address %q is not an IPv4 address", b.Address)
		}
	}
	var found *Binding
	var names []string
	for _, ifc := range list {
		if b.Interface != "" && ifc.Name != b.Interface {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP.To4())
			if !ok || ipn.IP.To4() == nil {
				continue
			}
			names = append(names, ifc.Name+" "+ip.String())
			if want.IsValid() && ip != want {
				continue
			}
			bind := Binding{Local: netip.AddrPortFrom(ip, port), Interface: ifc.Name}
			ones, bits := ipn.Mask.Size()
			if bits == 32 && ones <= 30 {
				bind.Broadcast = netip.AddrPortFrom(broadcastOf(ip, ipn.Mask), port)
			}
			found = &bind
			break
		}
		if found != nil {
			break
		}
	}
	if found == nil {
		what := "address " + b.Address
		if b.Interface != "" {
			what = "interface " + b.Interface + " with an IPv4 address"
		}
		have := "none"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		return Binding{}, fmt.Errorf("%s: %w (IPv4 addresses here: %s)", what, ErrNoAddress, have)
	}
	if b.Broadcast != "" {
		a, err := netip.ParseAddr(b.Broadcast)
		if err != nil {
			return Binding{}, fmt.Errorf("bacnet.broadcast %q is not an IPv4 address", b.Broadcast)
		}
		found.Broadcast = netip.AddrPortFrom(a, port)
	}
	return *found, nil
}

func broadcastOf(ip netip.Addr, mask net.IPMask) netip.Addr {
	b := ip.As4()
	for i := range b {
		b[i] |= ^mask[len(mask)-4+i]
	}
	return netip.AddrFrom4(b)
}

// Sockets are the BACnet/IP port's two sockets: the unicast one (sends,
// and receives what is sent to the gateway) and the receive-only one on
// the broadcast address (Who-Is and I-Am sent to everyone).
type Sockets struct {
	Unicast   net.PacketConn
	Broadcast net.PacketConn // nil: broadcasts are not received (BroadcastErr says why)
	Local     netip.AddrPort // as bound (tests bind port 0)
	// BroadcastAddr is where broadcasts go (invalid: none are sent).
	BroadcastAddr netip.AddrPort
	BroadcastErr  error
}

// OpenSockets opens the port at b.Local, then the broadcast socket on the
// port that was bound. Failing to open the broadcast socket is not fatal:
// directed requests still work, and BroadcastErr says why broadcasts are
// not heard.
func OpenSockets(ctx context.Context, listen ListenFunc, b Binding) (*Sockets, error) {
	if listen == nil {
		listen = ListenUDP
	}
	uc, err := listen(ctx, b.Local.String(), false)
	if err != nil {
		return nil, fmt.Errorf("open the BACnet/IP port on %s: %w", b.Local, err)
	}
	s := &Sockets{Unicast: uc, Local: b.Local}
	if ua, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		s.Local = ua.AddrPort()
	}
	if !b.Broadcast.IsValid() {
		s.BroadcastErr = errors.New("the subnet has no broadcast address")
		return s, nil
	}
	s.BroadcastAddr = netip.AddrPortFrom(b.Broadcast.Addr(), s.Local.Port())
	bc, err := listen(ctx, s.BroadcastAddr.String(), true)
	if err != nil {
		s.BroadcastErr = fmt.Errorf("listen for broadcasts on %s: %w", s.BroadcastAddr, err)
		return s, nil
	}
	s.Broadcast = bc
	return s, nil
}

// Close closes both sockets.
func (s *Sockets) Close() error {
	err := s.Unicast.Close()
	if s.Broadcast != nil {
		err = errors.Join(err, s.Broadcast.Close())
	}
	return err
}
