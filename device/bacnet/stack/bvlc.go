package stack

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// BVLC, the BACnet Virtual Link Control of BACnet/IP (Annex J).

// BVLCType is the first octet of every BACnet/IP frame.
const BVLCType = 0x81

// BVLCHeaderLen is the fixed header: type, function, two-octet length.
const BVLCHeaderLen = 4

// MaxBVLCLength is the largest BACnet/IP frame (a 1497-octet NPDU limit of
// Annex J plus headers); anything announcing more is refused.
const MaxBVLCLength = 1497 + BVLCHeaderLen + 6

// BVLCFunction is the BVLC function octet.
type BVLCFunction uint8

// BVLC functions (J.2).
const (
	BVLCResult                BVLCFunction = 0x00
	BVLCWriteBDT              BVLCFunction = 0x01
	BVLCReadBDT               BVLCFunction = 0x02
	BVLCReadBDTAck            BVLCFunction = 0x03
	BVLCForwardedNPDU         BVLCFunction = 0x04
	BVLCRegisterForeignDevice BVLCFunction = 0x05
	BVLCReadFDT               BVLCFunction = 0x06
	BVLCReadFDTAck            BVLCFunction = 0x07
	BVLCDeleteFDTEntry        BVLCFunction = 0x08
	BVLCDistributeBroadcast   BVLCFunction = 0x09
	BVLCOriginalUnicastNPDU   BVLCFunction = 0x0A
	BVLCOriginalBroadcastNPDU BVLCFunction = 0x0B
	BVLCSecureBVLL            BVLCFunction = 0x0C
	maxBVLCFunction           BVLCFunction = 0x0C
)

var bvlcNames = [...]string{"result", "write-bdt", "read-bdt", "read-bdt-ack", "forwarded-npdu",
	"register-foreign-device", "read-fdt", "read-fdt-ack", "delete-fdt-entry",
	"distribute-broadcast-to-network", "original-unicast-npdu", "original-broadcast-npdu",
	"secure-bvll"}

func (f BVLCFunction) String() string {
	if f <= maxBVLCFunction {
		return bvlcNames[f]
	}
	return fmt.Sprintf("bvlc-function-0x%02x", uint8(f))
}

// BVLCResultCode is the result of a BVLC-Result (J.2.1.1).
type BVLCResultCode uint16

// Result codes.
const (
	ResultSuccessful             BVLCResultCode = 0x0000
	ResultWriteBDTNAK            BVLCResultCode = 0x0010
	ResultReadBDTNAK             BVLCResultCode = 0x0020
	ResultRegisterFDNAK          BVLCResultCode = 0x0030
	ResultReadFDTNAK             BVLCResultCode = 0x0040
	ResultDeleteFDTEntryNAK      BVLCResultCode = 0x0050
	ResultDistributeBroadcastNAK BVLCResultCode = 0x0060
)

func (c BVLCResultCode) String() string {
	switch c {
	case ResultSuccessful:
		return "successful-completion"
	case ResultWriteBDTNAK:
		return "write-bdt-nak"
	case ResultReadBDTNAK:
		return "read-bdt-nak"
	case ResultRegisterFDNAK:
		return "register-foreign-device-nak"
	case ResultReadFDTNAK:
		return "read-fdt-nak"
	case ResultDeleteFDTEntryNAK:
		return "delete-fdt-entry-nak"
	case ResultDistributeBroadcastNAK:
		return "distribute-broadcast-to-network-nak"
	}
	return fmt.Sprintf("result-0x%04x", uint16(c))
}

// NAKFor is the result a node that is not a BBMD answers to a BBMD
// request, or false when f is not one.
func NAKFor(f BVLCFunction) (BVLCResultCode, bool) {
	switch f {
	case BVLCWriteBDT:
		return ResultWriteBDTNAK, true
	case BVLCReadBDT:
		return ResultReadBDTNAK, true
	case BVLCRegisterForeignDevice:
		return ResultRegisterFDNAK, true
	case BVLCReadFDT:
		return ResultReadFDTNAK, true
	case BVLCDeleteFDTEntry:
		return ResultDeleteFDTEntryNAK, true
	case BVLCDistributeBroadcast:
		return ResultDistributeBroadcastNAK, true
	}
	return 0, false
}

// BVLC is one decoded BACnet/IP frame.
type BVLC struct {
	Function BVLCFunction
	// NPDU for the unicast, broadcast, forwarded and distribute functions.
	NPDU []byte
	// Origin is the original source of a Forwarded-NPDU.
	Origin netip.AddrPort
	// Result of a BVLC-Result.
	Result BVLCResultCode
	// TTL in seconds of a Register-Foreign-Device.
	TTL uint16
	// Payload is the raw body of the table functions, which a non-BBMD
	// only refuses.
	Payload []byte
}

// DecodeBVLC decodes one UDP payload. NPDU and Payload alias b.
func DecodeBVLC(b []byte) (BVLC, error) {
	if len(b) < BVLCHeaderLen {
		return BVLC{}, fmt.Errorf("decode bvlc: header of %d octets: %w", len(b), ErrShort)
	}
	if b[0] != BVLCType {
		return BVLC{}, fmt.Errorf("decode bvlc: type 0x%02x is not BACnet/IP (0x81): %w", b[0], ErrVersion)
	}
	f := BVLCFunction(b[1])
	l := int(binary.BigEndian.Uint16(b[2:]))
	if l != len(b) {
		return BVLC{}, fmt.Errorf("decode bvlc: %s announces %d octets, datagram has %d: %w", f, l, len(b), ErrShort)
	}
	if l > MaxBVLCLength {
		return BVLC{}, fmt.Errorf("decode bvlc: %d octets exceed %d: %w", l, MaxBVLCLength, ErrTooLong)
	}
	body := b[BVLCHeaderLen:]
	v := BVLC{Function: f}
	switch f {
	case BVLCResult:
		if len(body) != 2 {
			return BVLC{}, fmt.Errorf("decode bvlc: result of %d octets: %w", len(body), ErrShort)
		}
		v.Result = BVLCResultCode(binary.BigEndian.Uint16(body))
	case BVLCRegisterForeignDevice:
		if len(body) != 2 {
			return BVLC{}, fmt.Errorf("decode bvlc: register-foreign-device of %d octets: %w", len(body), ErrShort)
		}
		v.TTL = binary.BigEndian.Uint16(body)
	case BVLCForwardedNPDU:
		if len(body) < 6+2 {
			return BVLC{}, fmt.Errorf("decode bvlc: forwarded-npdu of %d octets: %w", len(body), ErrShort)
		}
		v.Origin = DecodeIPMAC(body[:6])
		v.NPDU = body[6:]
	case BVLCOriginalUnicastNPDU, BVLCOriginalBroadcastNPDU, BVLCDistributeBroadcast:
		if len(body) < 2 {
			return BVLC{}, fmt.Errorf("decode bvlc: %s without an npdu: %w", f, ErrShort)
		}
		v.NPDU = body
	case BVLCWriteBDT, BVLCReadBDT, BVLCReadBDTAck, BVLCReadFDT, BVLCReadFDTAck,
		BVLCDeleteFDTEntry, BVLCSecureBVLL:
		v.Payload = body
	default:
		return BVLC{}, fmt.Errorf("decode bvlc: %s: %w", f, ErrUnknownFunction)
	}
	return v, nil
}

// AppendBVLC appends the frame for v.
func AppendBVLC(b []byte, v BVLC) ([]byte, error) {
	start := len(b)
	b = append(b, BVLCType, byte(v.Function), 0, 0)
	switch v.Function {
	case BVLCResult:
		b = binary.BigEndian.AppendUint16(b, uint16(v.Result))
	case BVLCRegisterForeignDevice:
		b = binary.BigEndian.AppendUint16(b, v.TTL)
	case BVLCForwardedNPDU:
		mac, err := IPMAC(v.Origin)
		if err != nil {
			return b[:start], err
		}
		b = append(append(b, mac...), v.NPDU...)
	case BVLCOriginalUnicastNPDU, BVLCOriginalBroadcastNPDU, BVLCDistributeBroadcast:
		b = append(b, v.NPDU...)
	case BVLCReadBDT, BVLCReadFDT:
	case BVLCWriteBDT, BVLCReadBDTAck, BVLCReadFDTAck, BVLCDeleteFDTEntry:
		b = append(b, v.Payload...)
	default:
		return b[:start], fmt.Errorf("encode bvlc: %s: %w", v.Function, ErrUnknownFunction)
	}
	n := len(b) - start
	if n > MaxBVLCLength {
		return b[:start], fmt.Errorf("encode bvlc: %d octets exceed %d: %w", n, MaxBVLCLength, ErrTooLong)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return b, nil
}

// IPMAC is the six-octet B/IP address (IPv4 then port) of ap.
func IPMAC(ap netip.AddrPort) ([]byte, error) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return nil, fmt.Errorf("b/ip address %s is not IPv4: %w", ap, ErrRange)
	}
	ip := a.As4()
	return []byte{ip[0], ip[1], ip[2], ip[3], byte(ap.Port() >> 8), byte(ap.Port())}, nil
}

// DecodeIPMAC reads a six-octet B/IP address; anything else gives the
// zero AddrPort.
func DecodeIPMAC(b []byte) netip.AddrPort {
	if len(b) != 6 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]}), binary.BigEndian.Uint16(b[4:]))
}
