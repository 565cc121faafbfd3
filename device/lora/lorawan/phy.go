package lorawan

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Frame size bounds.
const (
	// MaxPHYPayload is the largest PHYPayload a LoRa radio carries (its
	// length field is one byte).
	MaxPHYPayload = 255
	// MinDataFrame is MHDR (1) + FHDR without FOpts (7) + MIC (4).
	MinDataFrame = 12
	// MaxFOpts is the largest FOpts field: FOptsLen has four bits.
	MaxFOpts = 15
	micSize  = 4
)

// MType is a frame's message type, the top three bits of MHDR.
type MType uint8

// Message types of LoRaWAN 1.0.x.
const (
	JoinRequest         MType = 0
	JoinAccept          MType = 1
	UnconfirmedDataUp   MType = 2
	UnconfirmedDataDown MType = 3
	ConfirmedDataUp     MType = 4
	ConfirmedDataDown   MType = 5
	RFU                 MType = 6
	Proprietary         MType = 7
)

var mtypeNames = [...]string{
	"JoinRequest", "JoinAccept", "UnconfirmedDataUp", "UnconfirmedDataDown",
	"ConfirmedDataUp", "ConfirmedDataDown", "RFU", "Proprietary",
}

// String names the message type as the specification does.
func (m MType) String() string {
	if int(m) < len(mtypeNames) {
		return mtypeNames[m]
	}
	return fmt.Sprintf("MType(%d)", uint8(m))
}

// ParseMType accepts a name String returns, in any case.
func ParseMType(s string) (MType, error) {
	for i, n := range mtypeNames {
		if strings.EqualFold(s, n) {
			return MType(i), nil
		}
	}
	return 0, fmt.Errorf("message type %q: want one of %s: %w", s, strings.Join(mtypeNames[:], ", "), ErrSyntax)
}

// IsData reports whether frames of this type carry a MACPayload.
func (m MType) IsData() bool { return m >= UnconfirmedDataUp && m <= ConfirmedDataDown }

// IsUplink reports whether the type travels from device to network.
func (m MType) IsUplink() bool {
	return m == JoinRequest || m == UnconfirmedDataUp || m == ConfirmedDataUp
}

// IsConfirmed reports whether the type asks for an acknowledgement.
func (m MType) IsConfirmed() bool { return m == ConfirmedDataUp || m == ConfirmedDataDown }

// Dir is the direction frames of this type travel in.
func (m MType) Dir() Dir {
	if m.IsUplink() {
		return Uplink
	}
	return Downlink
}

// Major is the LoRaWAN major version in MHDR; only R1 (0) exists.
type Major uint8

// LoRaWANR1 is the only major version.
const LoRaWANR1 Major = 0

// MHDR is the first byte of every frame.
type MHDR struct {
	MType MType
	Major Major
}

// Byte encodes the header; the RFU bits are zero.
func (h MHDR) Byte() byte { return byte(h.MType)<<5 | byte(h.Major&0x03) }

// ParseMHDR decodes a header byte. RFU bits are ignored, as the
// specification asks of receivers.
func ParseMHDR(b byte) MHDR { return MHDR{MType: MType(b >> 5), Major: Major(b & 0x03)} }

// PeekMType returns the message type of a PHYPayload, checking only that
// it has a header of major version R1.
func PeekMType(phy []byte) (MType, error) {
	if len(phy) == 0 {
		return 0, fmt.Errorf("phy payload: empty: %w", ErrTruncated)
	}
	h := ParseMHDR(phy[0])
	if h.Major != LoRaWANR1 {
		return 0, fmt.Errorf("phy payload: major %d: %w", h.Major, ErrMajor)
	}
	return h.MType, nil
}

// FCtrl is the frame control byte. Its bits mean different things up and
// down: ADRACKReq and ClassB exist only uplink, FPending only downlink.
type FCtrl struct {
	ADR       bool
	ADRACKReq bool // uplink
	ACK       bool
	ClassB    bool // uplink, 1.0.2 and later (RFU before)
	FPending  bool // downlink
	FOptsLen  uint8
}

// Byte encodes the control byte for direction dir; bits that do not exist
// in that direction are written as zero.
func (c FCtrl) Byte(dir Dir) byte {
	var b byte
	if c.ADR {
		b |= 0x80
	}
	if c.ACK {
		b |= 0x20
	}
	if dir == Uplink {
		if c.ADRACKReq {
			b |= 0x40
		}
		if c.ClassB {
			b |= 0x10
		}
	} else if c.FPending {
		b |= 0x10
	}
	return b | c.FOptsLen&0x0f
}

// ParseFCtrl decodes a control byte of a frame travelling in dir.
func ParseFCtrl(b byte, dir Dir) FCtrl {
	c := FCtrl{ADR: b&0x80 != 0, ACK: b&0x20 != 0, FOptsLen: b & 0x0f}
	if dir == Uplink {
		c.ADRACKReq = b&0x40 != 0
		c.ClassB = b&0x10 != 0
	} else {
		c.FPending = b&0x10 != 0
	}
	return c
}

// DataFrame is a data frame as received: the fields on air, FRMPayload
// still encrypted, and the bytes the MIC covers. Use CheckUplink (or
// CheckMIC with a known counter) and then Payload.
type DataFrame struct {
	MType   MType
	DevAddr DevAddr
	FCtrl   FCtrl
	FCnt    uint16 // the low 16 bits of the frame counter, as on air
	FOpts   []byte // MAC commands in clear (1.0.x does not encrypt FOpts)
	HasPort bool
	FPort   uint8
	// FRMPayload is the payload as on air (encrypted).
	FRMPayload []byte
	MIC        MIC

	signed []byte // MHDR | FHDR | FPort | FRMPayload: what the MIC covers
}

// DecodeData parses a data frame (MType 2 to 5). It checks the structure
// only; the MIC needs the session (CheckMIC, CheckUplink). The returned
// frame keeps its own copy of the bytes.
func DecodeData(phy []byte) (*DataFrame, error) {
	mt, err := PeekMType(phy)
	if err != nil {
		return nil, fmt.Errorf("decode data frame: %w", err)
	}
	if !mt.IsData() {
		return nil, fmt.Errorf("decode data frame: %s: %w", mt, ErrMType)
	}
	if len(phy) < MinDataFrame {
		return nil, fmt.Errorf("decode data frame: %d bytes, need at least %d: %w", len(phy), MinDataFrame, ErrTruncated)
	}
	if len(phy) > MaxPHYPayload {
		return nil, fmt.Errorf("decode data frame: %d bytes, at most %d: %w", len(phy), MaxPHYPayload, ErrTooLong)
	}
	b := append([]byte(nil), phy...)
	f := &DataFrame{MType: mt, signed: b[:len(b)-micSize]}
	copy(f.MIC[:], b[len(b)-micSize:])
	mac := b[1 : len(b)-micSize]
	f.DevAddr = DevAddr(binary.LittleEndian.Uint32(mac[0:4]))
	f.FCtrl = ParseFCtrl(mac[4], mt.Dir())
	f.FCnt = binary.LittleEndian.Uint16(mac[5:7])
	rest := mac[7:]
	n := int(f.FCtrl.FOptsLen)
	if len(rest) < n {
		return nil, fmt.Errorf("decode data frame: FOptsLen %d, %d bytes left: %w", n, len(rest), ErrTruncated)
	}
	f.FOpts = rest[:n]
	rest = rest[n:]
	if len(rest) > 0 {
		f.HasPort = true
		f.FPort = rest[0]
		f.FRMPayload = rest[1:]
		if f.FPort == 0 && n > 0 {
			return nil, fmt.Errorf("decode data frame: %w", ErrFOptsPort0)
		}
	}
	return f, nil
}

// CheckMIC verifies the frame's MIC with the NwkSKey for the full frame
// counter fcnt (whose low 16 bits must be those on air). It returns ErrMIC
// on a mismatch.
func (f *DataFrame) CheckMIC(nwkSKey Key, fcnt uint32) error {
	if uint16(fcnt) != f.FCnt {
		return fmt.Errorf("check mic: counter %d does not end in %d: %w", fcnt, f.FCnt, ErrMIC)
	}
	if !dataMIC(nwkSKey, f.MType.Dir(), f.DevAddr, fcnt, f.signed).Equal(f.MIC) {
		return fmt.Errorf("check mic: %w", ErrMIC)
	}
	return nil
}

// Payload decrypts FRMPayload with the session's keys (NwkSKey for port
// 0, AppSKey otherwise) for the full frame counter fcnt.
func (f *DataFrame) Payload(keys SessionKeys, fcnt uint32) []byte {
	k := keys.AppSKey
	if f.HasPort && f.FPort == 0 {
		k = keys.NwkSKey
	}
	return cryptFRM(k, f.MType.Dir(), f.DevAddr, fcnt, f.FRMPayload)
}

// Data is a data frame's content in clear, for Encode.
type Data struct {
	MType   MType
	DevAddr DevAddr
	// FCtrl's FOptsLen is ignored: Encode takes it from FOpts.
	FCtrl FCtrl
	// FCnt is the full 32-bit counter; the low 16 bits go on air, all 32
	// into the MIC and the encryption.
	FCnt  uint32
	FOpts []byte // encoded MAC commands, at most MaxFOpts bytes
	// HasPort adds FPort; it is required with a payload.
	HasPort bool
	FPort   uint8
	Payload []byte // in clear; Encode encrypts it
}

// Encode builds the frame: FRMPayload encrypted (with NwkSKey on port 0,
// AppSKey otherwise) and the MIC computed with NwkSKey.
func (d Data) Encode(keys SessionKeys) ([]byte, error) {
	if !d.MType.IsData() {
		return nil, fmt.Errorf("encode data frame: %s: %w", d.MType, ErrMType)
	}
	if len(d.FOpts) > MaxFOpts {
		return nil, fmt.Errorf("encode data frame: %d bytes of FOpts, at most %d: %w", len(d.FOpts), MaxFOpts, ErrInvalid)
	}
	if len(d.Payload) > 0 && !d.HasPort {
		return nil, fmt.Errorf("encode data frame: a payload needs an FPort: %w", ErrInvalid)
	}
	if d.HasPort && d.FPort == 0 && len(d.FOpts) > 0 {
		return nil, fmt.Errorf("encode data frame: %w", ErrFOptsPort0)
	}
	size := MinDataFrame + len(d.FOpts) + len(d.Payload)
	if d.HasPort {
		size++
	}
	if size > MaxPHYPayload {
		return nil, fmt.Errorf("encode data frame: %d bytes, at most %d: %w", size, MaxPHYPayload, ErrTooLong)
	}
	dir := d.MType.Dir()
	b := make([]byte, 0, size)
	b = append(b, MHDR{MType: d.MType}.Byte())
	b = binary.LittleEndian.AppendUint32(b, uint32(d.DevAddr))
	fc := d.FCtrl
	fc.FOptsLen = uint8(len(d.FOpts))
	b = append(b, fc.Byte(dir))
	b = binary.LittleEndian.AppendUint16(b, uint16(d.FCnt))
	b = append(b, d.FOpts...)
	if d.HasPort {
		k := keys.AppSKey
		if d.FPort == 0 {
			k = keys.NwkSKey
		}
		b = append(b, d.FPort)
		b = append(b, cryptFRM(k, dir, d.DevAddr, d.FCnt, d.Payload)...)
	}
	mic := dataMIC(keys.NwkSKey, dir, d.DevAddr, d.FCnt, b)
	return append(b, mic[:]...), nil
}
