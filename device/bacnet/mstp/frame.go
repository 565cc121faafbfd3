package mstp

import (
	"errors"
	"fmt"
)

// MS/TP frames (clause 9.3) and their CRCs (Annex G).

// FrameType is the frame type octet.
type FrameType uint8

// Frame types of the master node (9.3.1); 8..127 are reserved or extended,
// 128..255 proprietary.
const (
	Token                 FrameType = 0
	PollForMaster         FrameType = 1
	ReplyToPollForMaster  FrameType = 2
	TestRequest           FrameType = 3
	TestResponse          FrameType = 4
	DataExpectingReply    FrameType = 5
	DataNotExpectingReply FrameType = 6
	ReplyPostponed        FrameType = 7
)

var frameNames = [...]string{"token", "poll-for-master", "reply-to-poll-for-master", "test-request",
	"test-response", "bacnet-data-expecting-reply", "bacnet-data-not-expecting-reply", "reply-postponed"}

func (t FrameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return fmt.Sprintf("frame-type-%d", uint8(t))
}

// Addresses and sizes.
const (
	// Broadcast is the destination of a frame for every station.
	Broadcast = 255
	// MaxMasterMAC is the highest master address (0..127 are masters).
	MaxMasterMAC = 127
	// MaxData is the longest data field of a BACnet data frame (9.3):
	// 501 octets, enough for a 480-octet APDU and its NPDU header.
	MaxData = 501
	// headerLen is frame type, destination, source, two length octets.
	headerLen = 5
	// Preamble octets.
	preamble1, preamble2 = 0x55, 0xFF
	// headerResidue and dataResidue are what the receiver's CRC register
	// holds after a correct header or data field with its CRC (Annex G).
	headerResidue = 0x55
	dataResidue   = 0xF0B8
)

// Errors of the frame decoder.
var (
	// ErrHeaderCRC means a frame header failed its CRC-8.
	ErrHeaderCRC = errors.New("mstp: header crc mismatch")
	// ErrDataCRC means a data field failed its CRC-16.
	ErrDataCRC = errors.New("mstp: data crc mismatch")
	// ErrTooLong means a frame announced more than MaxData octets.
	ErrTooLong = errors.New("mstp: frame longer than 501 octets")
	// ErrShort means the octets ended inside a frame.
	ErrShort = errors.New("mstp: frame incomplete")
	// ErrNoPreamble means the octets do not start with 55 FF.
	ErrNoPreamble = errors.New("mstp: no preamble")
)

// Frame is one MS/TP frame.
type Frame struct {
	Type FrameType
	Dest uint8
	Src  uint8
	Data []byte
}

// crc8 advances the header CRC register by one octet: X^8 + X^7 + 1,
// least significant bit first, as Annex G.1 computes it.
func crc8(reg, b byte) byte {
	reg ^= b
	for i := 0; i < 8; i++ {
		if reg&1 != 0 {
			reg = reg>>1 ^ 0x81
		} else {
			reg >>= 1
		}
	}
	return reg
}

// crc16 advances the data CRC register: X^16 + X^12 + X^5 + 1, least
// significant bit first (Annex G.2).
func crc16(reg uint16, b byte) uint16 {
	reg ^= uint16(b)
	for i := 0; i < 8; i++ {
		if reg&1 != 0 {
			reg = reg>>1 ^ 0x8408
		} else {
			reg >>= 1
		}
	}
	return reg
}

// HeaderCRC is the CRC octet sent after the five header octets (the ones
// complement of the register).
func HeaderCRC(header []byte) byte {
	reg := byte(0xFF)
	for _, b := range header {
		reg = crc8(reg, b)
	}
	return ^reg
}

// DataCRC is the CRC sent after the data, least significant octet first.
func DataCRC(data []byte) uint16 {
	reg := uint16(0xFFFF)
	for _, b := range data {
		reg = crc16(reg, b)
	}
	return ^reg
}

// AppendFrame appends the encoded frame.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if len(f.Data) > MaxData {
		return b, fmt.Errorf("encode %s: %d octets: %w", f.Type, len(f.Data), ErrTooLong)
	}
	h := [headerLen]byte{byte(f.Type), f.Dest, f.Src, byte(len(f.Data) >> 8), byte(len(f.Data))}
	b = append(b, preamble1, preamble2)
	b = append(b, h[:]...)
	b = append(b, HeaderCRC(h[:]))
	if len(f.Data) > 0 {
		c := DataCRC(f.Data)
		b = append(b, f.Data...)
		b = append(b, byte(c), byte(c>>8))
	}
	return b, nil
}

// Decoder is the receive frame state machine (clause 9.5.4) over a stream
// of octets: feed it octet by octet; it resynchronises on the next
// preamble after any error.
type Decoder struct {
	state   int
	hdr     [headerLen]byte
	n       int
	reg8    byte
	reg16   uint16
	length  int
	data    []byte
	skipped int
}

const (
	stIdle = iota
	stPreamble
	stHeader
	stData
	stSkip
)

// InFrame reports whether the decoder is inside a frame (past the preamble).
func (d *Decoder) InFrame() bool { return d.state >= stHeader }

// Reset abandons a frame in progress (T_frame_abort passed without octets).
func (d *Decoder) Reset() { d.state = stIdle }

// Feed takes one octet. It returns a frame when one completes; err is set
// when a frame was dropped for a bad CRC or length. The frame's Data is
// the decoder's own until the next Feed.
func (d *Decoder) Feed(c byte) (Frame, bool, error) {
	switch d.state {
	case stIdle:
		if c == preamble1 {
			d.state = stPreamble
		}
	case stPreamble:
		switch c {
		case preamble2:
			d.state, d.n, d.reg8 = stHeader, 0, 0xFF
		case preamble1:
		default:
			d.state = stIdle
		}
	case stHeader:
		d.reg8 = crc8(d.reg8, c)
		if d.n < headerLen {
			d.hdr[d.n] = c
			d.n++
			return Frame{}, false, nil
		}
		// c was the header CRC.
		if d.reg8 != headerResidue {
			d.state = stIdle
			return Frame{}, false, ErrHeaderCRC
		}
		d.length = int(d.hdr[3])<<8 | int(d.hdr[4])
		f := Frame{Type: FrameType(d.hdr[0]), Dest: d.hdr[1], Src: d.hdr[2]}
		switch {
		case d.length == 0:
			d.state = stIdle
			return f, true, nil
		case d.length > MaxData:
			// Too long for us: skip it (and its CRC) to stay in step.
			d.state, d.skipped = stSkip, 0
			return Frame{}, false, ErrTooLong
		}
		d.state, d.data, d.reg16 = stData, d.data[:0], 0xFFFF
	case stData:
		d.reg16 = crc16(d.reg16, c)
		d.data = append(d.data, c)
		if len(d.data) < d.length+2 {
			return Frame{}, false, nil
		}
		d.state = stIdle
		if d.reg16 != dataResidue {
			return Frame{}, false, ErrDataCRC
		}
		return Frame{Type: FrameType(d.hdr[0]), Dest: d.hdr[1], Src: d.hdr[2], Data: d.data[:d.length]}, true, nil
	case stSkip:
		d.skipped++
		if d.skipped >= d.length+2 {
			d.state = stIdle
		}
	}
	return Frame{}, false, nil
}

// DecodeFrame decodes one frame from the start of b and returns it with
// the octets it took. Data aliases nothing of b (it is copied).
func DecodeFrame(b []byte) (Frame, int, error) {
	if len(b) < 2 || b[0] != preamble1 || b[1] != preamble2 {
		return Frame{}, 0, ErrNoPreamble
	}
	var d Decoder
	for i, c := range b {
		f, ok, err := d.Feed(c)
		if err != nil {
			return Frame{}, i + 1, err
		}
		if ok {
			f.Data = append([]byte(nil), f.Data...)
			return f, i + 1, nil
		}
	}
	return Frame{}, len(b), ErrShort
}
