package stack

import (
	"encoding/binary"
	"fmt"
)

// NPDU, the network layer protocol data unit (clause 6.2).

// NPDUVersion is the protocol version octet of every NPDU.
const NPDUVersion = 0x01

// Network numbers with a meaning of their own (clause 6.2.2).
const (
	// GlobalNetwork as DNET is a global broadcast.
	GlobalNetwork = 0xFFFF
	// DefaultHopCount is what an originating node puts in an NPDU with a
	// destination network.
	DefaultHopCount = 255
)

// Priority is the network priority of an NPDU (clause 6.2.2).
type Priority uint8

// Network priorities.
const (
	PriorityNormal     Priority = 0
	PriorityUrgent     Priority = 1
	PriorityCritical   Priority = 2
	PriorityLifeSafety Priority = 3
)

// NetworkMessage is a network layer message type (clause 6.2.4).
type NetworkMessage uint8

// Network layer messages a node meets on a network with routers.
const (
	MsgWhoIsRouterToNetwork      NetworkMessage = 0x00
	MsgIAmRouterToNetwork        NetworkMessage = 0x01
	MsgICouldBeRouterToNetwork   NetworkMessage = 0x02
	MsgRejectMessageToNetwork    NetworkMessage = 0x03
	MsgRouterBusyToNetwork       NetworkMessage = 0x04
	MsgRouterAvailableToNetwork  NetworkMessage = 0x05
	MsgInitializeRoutingTable    NetworkMessage = 0x06
	MsgInitializeRoutingTableAck NetworkMessage = 0x07
	MsgEstablishConnection       NetworkMessage = 0x08
	MsgDisconnectConnection      NetworkMessage = 0x09
	MsgWhatIsNetworkNumber       NetworkMessage = 0x12
	MsgNetworkNumberIs           NetworkMessage = 0x13
)

func (m NetworkMessage) String() string {
	switch m {
	case MsgWhoIsRouterToNetwork:
		return "who-is-router-to-network"
	case MsgIAmRouterToNetwork:
		return "i-am-router-to-network"
	case MsgICouldBeRouterToNetwork:
		return "i-could-be-router-to-network"
	case MsgRejectMessageToNetwork:
		return "reject-message-to-network"
	case MsgRouterBusyToNetwork:
		return "router-busy-to-network"
	case MsgRouterAvailableToNetwork:
		return "router-available-to-network"
	case MsgInitializeRoutingTable:
		return "initialize-routing-table"
	case MsgInitializeRoutingTableAck:
		return "initialize-routing-table-ack"
	case MsgEstablishConnection:
		return "establish-connection-to-network"
	case MsgDisconnectConnection:
		return "disconnect-connection-to-network"
	case MsgWhatIsNetworkNumber:
		return "what-is-network-number"
	case MsgNetworkNumberIs:
		return "network-number-is"
	}
	if m >= 0x80 {
		return fmt.Sprintf("proprietary-network-message-0x%02x", uint8(m))
	}
	return fmt.Sprintf("network-message-0x%02x", uint8(m))
}

// NPDU is one decoded network layer header and what it carries.
type NPDU struct {
	// HasDest: a DNET/DLEN/DADR is present. An empty DADR with a DNET is a
	// broadcast on that network; DNET GlobalNetwork everywhere.
	HasDest bool
	DNET    uint16
	DADR    []byte
	// HasSource: the NPDU came through a router from SNET/SADR.
	HasSource bool
	SNET      uint16
	SADR      []byte
	HopCount  uint8
	// ExpectingReply is the data-expecting-reply bit: a confirmed request,
	// which MS/TP sends as a frame the receiver must answer.
	ExpectingReply bool
	Priority       Priority
	// IsNetworkMessage: Message (and VendorID for proprietary ones) is set
	// and Payload holds the message's own body; otherwise Payload is the APDU.
	IsNetworkMessage bool
	Message          NetworkMessage
	VendorID         uint16
	Payload          []byte
}

// MaxMACLength is the longest DADR/SADR accepted. BACnet/IP uses 6,
// MS/TP 1, BACnet/IPv6 3 (a VMAC) or 18; the octet field could announce
// 255.
const MaxMACLength = 18

// DecodeNPDU decodes the network header of b; Payload and the addresses
// alias b.
func DecodeNPDU(b []byte) (NPDU, error) {
	if len(b) < 2 {
		return NPDU{}, fmt.Errorf("decode npdu: %d octets: %w", len(b), ErrShort)
	}
	if b[0] != NPDUVersion {
		return NPDU{}, fmt.Errorf("decode npdu: version %d: %w", b[0], ErrVersion)
	}
	c := b[1]
	if c&0x50 != 0 {
		return NPDU{}, fmt.Errorf("decode npdu: reserved control bits set (0x%02x): %w", c, ErrBadTag)
	}
	n := NPDU{
		IsNetworkMessage: c&0x80 != 0,
		HasDest:          c&0x20 != 0,
		HasSource:        c&0x08 != 0,
		ExpectingReply:   c&0x04 != 0,
		Priority:         Priority(c & 0x03),
	}
	off := 2
	addr := func(what string) (uint16, []byte, error) {
		if len(b) < off+3 {
			return 0, nil, fmt.Errorf("decode npdu: %s: %w", what, ErrShort)
		}
		net := binary.BigEndian.Uint16(b[off:])
		l := int(b[off+2])
		off += 3
		if l > MaxMACLength {
			return 0, nil, fmt.Errorf("decode npdu: %s length %d exceeds %d: %w", what, l, MaxMACLength, ErrTooLong)
		}
		if len(b) < off+l {
			return 0, nil, fmt.Errorf("decode npdu: %s of %d octets: %w", what, l, ErrShort)
		}
		a := b[off : off+l]
		off += l
		return net, a, nil
	}
	var err error
	if n.HasDest {
		if n.DNET, n.DADR, err = addr("dnet/dadr"); err != nil {
			return NPDU{}, err
		}
		if n.DNET == 0 {
			return NPDU{}, fmt.Errorf("decode npdu: dnet 0: %w", ErrRange)
		}
	}
	if n.HasSource {
		if n.SNET, n.SADR, err = addr("snet/sadr"); err != nil {
			return NPDU{}, err
		}
		if n.SNET == 0 || n.SNET == GlobalNetwork || len(n.SADR) == 0 {
			return NPDU{}, fmt.Errorf("decode npdu: source network %d with %d-octet address: %w", n.SNET, len(n.SADR), ErrRange)
		}
	}
	if n.HasDest {
		if len(b) < off+1 {
			return NPDU{}, fmt.Errorf("decode npdu: hop count: %w", ErrShort)
		}
		n.HopCount = b[off]
		off++
	}
	if n.IsNetworkMessage {
		if len(b) < off+1 {
			return NPDU{}, fmt.Errorf("decode npdu: message type: %w", ErrShort)
		}
		n.Message = NetworkMessage(b[off])
		off++
		if n.Message >= 0x80 {
			if len(b) < off+2 {
				return NPDU{}, fmt.Errorf("decode npdu: vendor id: %w", ErrShort)
			}
			n.VendorID = binary.BigEndian.Uint16(b[off:])
			off += 2
		}
	} else if len(b) == off {
		return NPDU{}, fmt.Errorf("decode npdu: no apdu: %w", ErrShort)
	}
	n.Payload = b[off:]
	return n, nil
}

// AppendNPDU appends the network header of n and then n.Payload.
func AppendNPDU(b []byte, n NPDU) ([]byte, error) {
	c := byte(n.Priority & 0x03)
	if n.IsNetworkMessage {
		c |= 0x80
	}
	if n.HasDest {
		c |= 0x20
	}
	if n.HasSource {
		c |= 0x08
	}
	if n.ExpectingReply {
		c |= 0x04
	}
	b = append(b, NPDUVersion, c)
	if n.HasDest {
		if len(n.DADR) > MaxMACLength || n.DNET == 0 {
			return b, fmt.Errorf("encode npdu: destination %d with %d-octet address: %w", n.DNET, len(n.DADR), ErrRange)
		}
		b = binary.BigEndian.AppendUint16(b, n.DNET)
		b = append(append(b, byte(len(n.DADR))), n.DADR...)
	}
	if n.HasSource {
		if len(n.SADR) == 0 || len(n.SADR) > MaxMACLength || n.SNET == 0 || n.SNET == GlobalNetwork {
			return b, fmt.Errorf("encode npdu: source %d with %d-octet address: %w", n.SNET, len(n.SADR), ErrRange)
		}
		b = binary.BigEndian.AppendUint16(b, n.SNET)
		b = append(append(b, byte(len(n.SADR))), n.SADR...)
	}
	if n.HasDest {
		b = append(b, n.HopCount)
	}
	if n.IsNetworkMessage {
		b = append(b, byte(n.Message))
		if n.Message >= 0x80 {
			b = binary.BigEndian.AppendUint16(b, n.VendorID)
		}
	}
	return append(b, n.Payload...), nil
}
