package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// DataLink is what the network layer needs from a data link: BACnet/IP
// (BIP, in this package) and MS/TP (package mstp) both provide it.
type DataLink interface {
	// Send queues one NPDU for a link address; an empty dst is the local
	// broadcast. It does not block on the network.
	Send(dst []byte, npdu []byte) error
	// Run receives until ctx ends, handing every well-formed NPDU to
	// deliver with the link address it came from. deliver is called from
	// one goroutine and must not keep npdu after it returns.
	Run(ctx context.Context, deliver func(src, npdu []byte)) error
	// MaxAPDU is the largest APDU the link carries (1476 for BACnet/IP,
	// 480 for MS/TP).
	MaxAPDU() int
	// LinkStats returns the link's own counters.
	LinkStats() LinkStats
}

// LinkStats are a data link's counters.
type LinkStats struct {
	FramesIn  uint64
	FramesOut uint64
	// Malformed frames (bad BVLC, bad CRC...) dropped before the network layer.
	Malformed uint64
	// Dropped frames that were well-formed but unusable here (BBMD
	// functions refused, queue full, frames for other stations).
	Dropped uint64
}

// Address is where a BACnet device is: a link address on the local network
// (MAC), or a network number and the address on that network, reached
// through the router at MAC. It is comparable and usable as a map key.
type Address struct {
	// MAC is the data-link address of the device, or of the router to it
	// (6 octets IPv4+port on BACnet/IP, 1 octet on MS/TP); empty is the
	// local broadcast.
	MAC string
	// Net is the remote network number, 0 for the local network.
	Net uint16
	// Adr is the device's address on network Net; empty with Net set is a
	// broadcast on that network.
	Adr string
}

// IP is the Address of a BACnet/IP device on the local network.
func IP(ap netip.AddrPort) Address {
	mac, err := stack.IPMAC(ap)
	if err != nil {
		return Address{}
	}
	return Address{MAC: string(mac)}
}

// ParseIP parses "192.168.10.30:47808" (the port defaults to 47808).
func ParseIP(s string) (Address, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, err2 := netip.ParseAddr(s)
		if err2 != nil {
			return Address{}, fmt.Errorf("bacnet/ip address %q: want IPv4:PORT such as 192.168.10.30:47808: %w", s, ErrConfig)
		}
		ap = netip.AddrPortFrom(a, DefaultPort)
	}
	if !ap.Addr().Unmap().Is4() {
		return Address{}, fmt.Errorf("bacnet/ip address %q is not IPv4: %w", s, ErrConfig)
	}
	return IP(ap), nil
}

// Routed is the Address of a device on network net with address adr,
// behind the router at via.
func Routed(via Address, net uint16, adr []byte) Address {
	return Address{MAC: via.MAC, Net: net, Adr: string(adr)}
}

// MSTP is the Address of an MS/TP station on the local network.
func MSTP(mac uint8) Address { return Address{MAC: string([]byte{mac})} }

func fmtMAC(m string) string {
	if len(m) == 6 {
		return stack.DecodeIPMAC([]byte(m)).String()
	}
	if len(m) == 1 {
		return strconv.Itoa(int(m[0]))
	}
	return hex.EncodeToString([]byte(m))
}

func (a Address) String() string {
	if a.MAC == "" && a.Net == 0 {
		return "broadcast"
	}
	if a.Net == 0 {
		return fmtMAC(a.MAC)
	}
	adr := "*"
	if a.Adr != "" {
		adr = fmtMAC(a.Adr)
	}
	return fmt.Sprintf("%d:%s via %s", a.Net, adr, fmtMAC(a.MAC))
}

// IsBroadcast reports whether a is a local, remote or global broadcast.
func (a Address) IsBroadcast() bool {
	return (a.Net == 0 && a.MAC == "") || (a.Net != 0 && a.Adr == "")
}
