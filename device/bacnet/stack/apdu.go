package stack

import "fmt"

// APDU, the application layer protocol data unit headers (clause 20.1).

// PDUType is the high nibble of an APDU's first octet.
type PDUType uint8

// APDU types.
const (
	PDUConfirmedRequest   PDUType = 0
	PDUUnconfirmedRequest PDUType = 1
	PDUSimpleAck          PDUType = 2
	PDUComplexAck         PDUType = 3
	PDUSegmentAck         PDUType = 4
	PDUError              PDUType = 5
	PDUReject             PDUType = 6
	PDUAbort              PDUType = 7
)

var pduNames = [...]string{"confirmed-request", "unconfirmed-request", "simple-ack",
	"complex-ack", "segment-ack", "error", "reject", "abort"}

func (t PDUType) String() string {
	if int(t) < len(pduNames) {
		return pduNames[t]
	}
	return fmt.Sprintf("pdu-type-%d", uint8(t))
}

// MaxAPDU values a Confirmed-Request can announce (clause 20.1.2.5), by
// their four-bit code; codes 6..15 are reserved.
var maxAPDUSizes = [...]int{50, 128, 206, 480, 1024, 1476}

// EncodeMaxAPDU is the code of the largest size not above n (at least 50).
func EncodeMaxAPDU(n int) uint8 {
	code := uint8(0)
	for i, s := range maxAPDUSizes {
		if n >= s {
			code = uint8(i)
		}
	}
	return code
}

// DecodeMaxAPDU is the size of a code; reserved codes read as 1476, the
// largest this stack knows, which the sender's link limits anyway.
func DecodeMaxAPDU(code uint8) int {
	if int(code) < len(maxAPDUSizes) {
		return maxAPDUSizes[code]
	}
	return 1476
}

// EncodeMaxSegments is the three-bit code for a segment count (clause
// 20.1.2.4): 0 unspecified, then 2, 4, 8, 16, 32, 64, more than 64.
func EncodeMaxSegments(n int) uint8 {
	switch {
	case n <= 1:
		return 0
	case n > 64:
		return 7
	}
	code := uint8(1)
	for s := 2; s*2 <= n; s *= 2 {
		code++
	}
	return code
}

// DecodeMaxSegments is the segment count of a code. 0 (unspecified) reads
// as 2, the least a segmenting device accepts, and 7 (more than 64) as 128;
// a receiver bounds whatever it gets by its own reassembly limit anyway.
func DecodeMaxSegments(code uint8) int {
	switch code & 7 {
	case 0:
		return 2
	case 7:
		return 128
	}
	return 1 << (code & 7)
}

// APDU is one decoded application header; Payload is the service request
// or ack (for a segmented message, this segment's part of it).
type APDU struct {
	Type PDUType
	// Confirmed-Request and ComplexACK segmentation fields.
	Segmented   bool
	MoreFollows bool
	SequenceNum uint8
	WindowSize  uint8
	// Confirmed-Request only.
	SegmentedAccepted bool
	MaxSegments       uint8 // the three-bit code
	MaxAPDU           uint8 // the four-bit code
	InvokeID          uint8
	// Service is the service choice (confirmed or unconfirmed by Type).
	Service uint8
	// Segment-ACK and Abort flags.
	NAK    bool
	Server bool
	// Reason of a Reject or Abort.
	Reason uint8
	// Error class and code of an Error.
	ErrorClass ErrorClass
	ErrorCode  ErrorCode
	Payload    []byte
}

// DecodeAPDU decodes the header of b; Payload aliases b.
func DecodeAPDU(b []byte) (APDU, error) {
	if len(b) < 1 {
		return APDU{}, fmt.Errorf("decode apdu: empty: %w", ErrShort)
	}
	a := APDU{Type: PDUType(b[0] >> 4)}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("decode apdu: %s of %d octets, need %d: %w", a.Type, len(b), n, ErrShort)
		}
		return nil
	}
	switch a.Type {
	case PDUConfirmedRequest:
		a.Segmented = b[0]&0x08 != 0
		a.MoreFollows = b[0]&0x04 != 0
		a.SegmentedAccepted = b[0]&0x02 != 0
		off := 3
		if a.Segmented {
			off = 5
		}
		if err := need(off + 1); err != nil {
			return APDU{}, err
		}
		a.MaxSegments = b[1] >> 4 & 7
		a.MaxAPDU = b[1] & 0x0F
		a.InvokeID = b[2]
		if a.Segmented {
			a.SequenceNum, a.WindowSize = b[3], b[4]
		}
		a.Service = b[off]
		a.Payload = b[off+1:]
	case PDUUnconfirmedRequest:
		if err := need(2); err != nil {
			return APDU{}, err
		}
		a.Service = b[1]
		a.Payload = b[2:]
	case PDUSimpleAck:
		if err := need(3); err != nil {
			return APDU{}, err
		}
		a.InvokeID, a.Service = b[1], b[2]
		a.Payload = b[3:]
	case PDUComplexAck:
		a.Segmented = b[0]&0x08 != 0
		a.MoreFollows = b[0]&0x04 != 0
		off := 2
		if a.Segmented {
			off = 4
		}
		if err := need(off + 1); err != nil {
			return APDU{}, err
		}
		a.InvokeID = b[1]
		if a.Segmented {
			a.SequenceNum, a.WindowSize = b[2], b[3]
		}
		a.Service = b[off]
		a.Payload = b[off+1:]
	case PDUSegmentAck:
		if err := need(4); err != nil {
			return APDU{}, err
		}
		a.NAK = b[0]&0x02 != 0
		a.Server = b[0]&0x01 != 0
		a.InvokeID, a.SequenceNum, a.WindowSize = b[1], b[2], b[3]
	case PDUError:
		if err := need(3); err != nil {
			return APDU{}, err
		}
		a.InvokeID, a.Service = b[1], b[2]
		a.Payload = b[3:]
		cls, code, err := DecodeErrorPayload(a.Payload)
		if err != nil {
			return APDU{}, fmt.Errorf("decode apdu: error pdu: %w", err)
		}
		a.ErrorClass, a.ErrorCode = cls, code
	case PDUReject:
		if err := need(3); err != nil {
			return APDU{}, err
		}
		a.InvokeID, a.Reason = b[1], b[2]
	case PDUAbort:
		if err := need(3); err != nil {
			return APDU{}, err
		}
		a.Server = b[0]&0x01 != 0
		a.InvokeID, a.Reason = b[1], b[2]
	default:
		return APDU{}, fmt.Errorf("decode apdu: %s: %w", a.Type, ErrUnknownFunction)
	}
	return a, nil
}

// DecodeErrorPayload reads the error class and code of an Error PDU. Most
// services send the two enumerations bare; some (WritePropertyMultiple,
// CreateObject...) wrap them in [0], which is read through as well.
func DecodeErrorPayload(b []byte) (ErrorClass, ErrorCode, error) {
	r := NewReader(b)
	wrapped := r.Is(0)
	if wrapped {
		if err := r.Open(0); err != nil {
			return 0, 0, err
		}
	}
	cls, err := r.AppOf(TypeEnumerated)
	if err != nil {
		return 0, 0, fmt.Errorf("error class: %w", err)
	}
	code, err := r.AppOf(TypeEnumerated)
	if err != nil {
		return 0, 0, fmt.Errorf("error code: %w", err)
	}
	return ErrorClass(cls.Unsigned), ErrorCode(code.Unsigned), nil
}

// AppendAPDU appends the header of a and then a.Payload. For an Error PDU
// with an empty Payload the class and code are encoded.
func AppendAPDU(b []byte, a APDU) ([]byte, error) {
	h := byte(a.Type) << 4
	switch a.Type {
	case PDUConfirmedRequest:
		if a.Segmented {
			h |= 0x08
		}
		if a.MoreFollows {
			h |= 0x04
		}
		if a.SegmentedAccepted {
			h |= 0x02
		}
		b = append(b, h, (a.MaxSegments&7)<<4|a.MaxAPDU&0x0F, a.InvokeID)
		if a.Segmented {
			b = append(b, a.SequenceNum, a.WindowSize)
		}
		b = append(b, a.Service)
	case PDUUnconfirmedRequest:
		b = append(b, h, a.Service)
	case PDUSimpleAck:
		b = append(b, h, a.InvokeID, a.Service)
	case PDUComplexAck:
		if a.Segmented {
			h |= 0x08
		}
		if a.MoreFollows {
			h |= 0x04
		}
		b = append(b, h, a.InvokeID)
		if a.Segmented {
			b = append(b, a.SequenceNum, a.WindowSize)
		}
		b = append(b, a.Service)
	case PDUSegmentAck:
		if a.NAK {
			h |= 0x02
		}
		if a.Server {
			h |= 0x01
		}
		return append(b, h, a.InvokeID, a.SequenceNum, a.WindowSize), nil
	case PDUError:
		b = append(b, h, a.InvokeID, a.Service)
		if len(a.Payload) == 0 {
			b, _ = AppendApp(b, Enumerated(uint64(a.ErrorClass)))
			b, _ = AppendApp(b, Enumerated(uint64(a.ErrorCode)))
		}
	case PDUReject:
		return append(b, h, a.InvokeID, a.Reason), nil
	case PDUAbort:
		if a.Server {
			h |= 0x01
		}
		return append(b, h, a.InvokeID, a.Reason), nil
	default:
		return b, fmt.Errorf("encode apdu: %s: %w", a.Type, ErrUnknownFunction)
	}
	return append(b, a.Payload...), nil
}
