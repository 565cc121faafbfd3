package semtech

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// ProtocolVersion is the only version spoken.
const ProtocolVersion = 2

// MaxDatagram is the largest datagram read or written: the largest UDP
// payload over IPv4.
const MaxDatagram = 65507

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrTruncated means a datagram shorter than its header.
	ErrTruncated = errors.New("datagram truncated")
	// ErrVersion means a protocol version other than 2.
	ErrVersion = errors.New("unsupported protocol version")
	// ErrType means an unknown packet identifier, or a packet that is not
	// expected in that direction.
	ErrType = errors.New("unknown packet type")
	// ErrJSON means the JSON object is broken or of the wrong shape.
	ErrJSON = errors.New("broken JSON")
	// ErrBase64 means an rxpk or txpk "data" that is not base64.
	ErrBase64 = errors.New("broken base64")
	// ErrSize means an rxpk whose "size" is not the length of its data.
	ErrSize = errors.New("size does not match data")
	// ErrUnknownGateway means a gateway EUI the configuration does not list.
	ErrUnknownGateway = errors.New("unknown gateway")
	// ErrRateLimited means the source sent more than its rate allows.
	ErrRateLimited = errors.New("rate limited")
	// ErrTooManyForwarders means the forwarder table is full.
	ErrTooManyForwarders = errors.New("too many forwarders")
	// ErrNoDownlinkPath means no PULL_DATA has come from the gateway yet,
	// so there is no address to send its downlinks to.
	ErrNoDownlinkPath = errors.New("no PULL_DATA from the gateway yet")
	// ErrTooLarge means a datagram would exceed MaxDatagram.
	ErrTooLarge = errors.New("datagram too large")
)

// Type is a packet identifier, the fourth byte of every datagram.
type Type uint8

// Packet identifiers.
const (
	PushData Type = 0x00
	PushAck  Type = 0x01
	PullData Type = 0x02
	PullResp Type = 0x03
	PullAck  Type = 0x04
	TxAck    Type = 0x05
)

var typeNames = [...]string{"PUSH_DATA", "PUSH_ACK", "PULL_DATA", "PULL_RESP", "PULL_ACK", "TX_ACK"}

// String is the protocol's name for the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// ParseType accepts a name String returns.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if strings.EqualFold(s, n) {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("packet type %q: %w", s, ErrType)
}

// FromForwarder reports whether the packet forwarder sends this type (the
// others come from the server).
func (t Type) FromForwarder() bool { return t == PushData || t == PullData || t == TxAck }

// hasEUI reports whether the type carries the gateway EUI after the token.
func (t Type) hasEUI() bool { return t.FromForwarder() }

// Packet is one datagram.
type Packet struct {
	Version uint8
	Token   uint16 // as on the wire, big-endian
	Type    Type
	// GatewayEUI is set for PUSH_DATA, PULL_DATA and TX_ACK.
	GatewayEUI lorawan.EUI64
	// JSON is the object of PUSH_DATA, PULL_RESP and TX_ACK (empty for a
	// TX_ACK without one). It aliases the decoded datagram.
	JSON []byte
}

// headerSize returns the header length of a packet type.
func headerSize(t Type) int {
	if t.hasEUI() {
		return 12
	}
	return 4
}

// DecodePacket parses a datagram. The JSON is not parsed (see DecodePush,
// DecodePullResp, DecodeTxAck).
func DecodePacket(b []byte) (Packet, error) {
	var p Packet
	if len(b) < 4 {
		return p, fmt.Errorf("decode packet: %d bytes: %w", len(b), ErrTruncated)
	}
	p.Version, p.Token, p.Type = b[0], binary.BigEndian.Uint16(b[1:3]), Type(b[3])
	if p.Version != ProtocolVersion {
		return p, fmt.Errorf("decode packet: version %d: %w", p.Version, ErrVersion)
	}
	if p.Type > TxAck {
		return p, fmt.Errorf("decode packet: identifier 0x%02x: %w", b[3], ErrType)
	}
	h := headerSize(p.Type)
	if len(b) < h {
		return p, fmt.Errorf("decode packet: %s of %d bytes, header is %d: %w", p.Type, len(b), h, ErrTruncated)
	}
	if p.Type.hasEUI() {
		copy(p.GatewayEUI[:], b[4:12])
	}
	switch p.Type {
	case PushData, PullResp, TxAck:
		p.JSON = b[h:]
	default:
		if len(b) > h {
			return p, fmt.Errorf("decode packet: %s with %d trailing bytes: %w", p.Type, len(b)-h, ErrJSON)
		}
	}
	if (p.Type == PushData || p.Type == PullResp) && len(p.JSON) == 0 {
		return p, fmt.Errorf("decode packet: %s without its JSON object: %w", p.Type, ErrTruncated)
	}
	return p, nil
}

// AppendBinary appends the datagram to b.
func (p Packet) AppendBinary(b []byte) ([]byte, error) {
	if p.Type > TxAck {
		return b, fmt.Errorf("encode packet: %w", ErrType)
	}
	if headerSize(p.Type)+len(p.JSON) > MaxDatagram {
		return b, fmt.Errorf("encode packet: %w", ErrTooLarge)
	}
	b = append(b, ProtocolVersion)
	b = binary.BigEndian.AppendUint16(b, p.Token)
	b = append(b, byte(p.Type))
	if p.Type.hasEUI() {
		b = append(b, p.GatewayEUI[:]...)
	}
	return append(b, p.JSON...), nil
}

// ack returns the acknowledgement of a PUSH_DATA or PULL_DATA.
func ack(p Packet) []byte {
	t := PushAck
	if p.Type == PullData {
		t = PullAck
	}
	return []byte{ProtocolVersion, byte(p.Token >> 8), byte(p.Token), byte(t)}
}
