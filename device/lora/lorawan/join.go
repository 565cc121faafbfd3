package lorawan

import (
	"crypto/aes"
	"encoding/binary"
	"fmt"
)

// Join frame sizes.
const (
	// JoinRequestSize is MHDR | JoinEUI | DevEUI | DevNonce | MIC.
	JoinRequestSize = 1 + 8 + 8 + 2 + micSize
	// JoinAcceptSize is a join accept without CFList; with one it is
	// JoinAcceptSize + CFListSize.
	JoinAcceptSize = 1 + 3 + 3 + 4 + 1 + 1 + micSize
	// CFListSize is the size of the optional channel frequency list.
	CFListSize = 16
	// CFListFrequencies is how many frequencies a type 0 CFList holds.
	CFListFrequencies = 5
)

// JoinRequestFrame is an OTAA join request.
type JoinRequestFrame struct {
	JoinEUI  EUI64 // AppEUI in 1.0.2
	DevEUI   EUI64
	DevNonce DevNonce
	MIC      MIC // as received; Encode computes its own

	mhdr byte // as received, RFU bits included, for the MIC
}

// Encode builds the join request, its MIC computed with the AppKey.
func (j JoinRequestFrame) Encode(appKey Key) []byte {
	b := make([]byte, JoinRequestSize)
	b[0] = MHDR{MType: JoinRequest}.Byte()
	j.JoinEUI.putLE(b[1:9])
	j.DevEUI.putLE(b[9:17])
	binary.LittleEndian.PutUint16(b[17:19], uint16(j.DevNonce))
	mic := MIC(sum4(appKey, b[:19]))
	copy(b[19:], mic[:])
	return b
}

// DecodeJoinRequest parses a join request; CheckMIC authenticates it.
func DecodeJoinRequest(phy []byte) (JoinRequestFrame, error) {
	var j JoinRequestFrame
	mt, err := PeekMType(phy)
	if err != nil {
		return j, fmt.Errorf("decode join request: %w", err)
	}
	if mt != JoinRequest {
		return j, fmt.Errorf("decode join request: %s: %w", mt, ErrMType)
	}
	switch {
	case len(phy) < JoinRequestSize:
		return j, fmt.Errorf("decode join request: %d bytes, want %d: %w", len(phy), JoinRequestSize, ErrTruncated)
	case len(phy) > JoinRequestSize:
		return j, fmt.Errorf("decode join request: %d bytes, want %d: %w", len(phy), JoinRequestSize, ErrTooLong)
	}
	j.mhdr = phy[0]
	j.JoinEUI = eui64LE(phy[1:9])
	j.DevEUI = eui64LE(phy[9:17])
	j.DevNonce = DevNonce(binary.LittleEndian.Uint16(phy[17:19]))
	copy(j.MIC[:], phy[19:])
	return j, nil
}

// CheckMIC verifies the join request's MIC with the device's AppKey.
func (j JoinRequestFrame) CheckMIC(appKey Key) error {
	var b [19]byte
	b[0] = j.mhdr
	j.JoinEUI.putLE(b[1:9])
	j.DevEUI.putLE(b[9:17])
	binary.LittleEndian.PutUint16(b[17:19], uint16(j.DevNonce))
	if !MIC(sum4(appKey, b[:])).Equal(j.MIC) {
		return fmt.Errorf("check join request mic: %w", ErrMIC)
	}
	return nil
}

// DLSettings is the downlink configuration a join accept carries.
type DLSettings struct {
	RX1DROffset uint8 // 3 bits: RX1 data rate = uplink data rate - offset (EU868)
	RX2DataRate uint8 // 4 bits
}

// Byte encodes the settings.
func (d DLSettings) Byte() byte { return (d.RX1DROffset&0x07)<<4 | d.RX2DataRate&0x0f }

// ParseDLSettings decodes a settings byte.
func ParseDLSettings(b byte) DLSettings {
	return DLSettings{RX1DROffset: b >> 4 & 0x07, RX2DataRate: b & 0x0f}
}

// CFList is the optional channel frequency list of a join accept. In
// regions with dynamic channels (EU868) it is type 0: five frequencies of
// three bytes in 100 Hz units, then the type byte.
type CFList [CFListSize]byte

// FrequencyCFList builds a type 0 CFList from up to five frequencies in
// Hz (multiples of 100 Hz); unused entries are zero (no channel).
func FrequencyCFList(freqs []uint32) (CFList, error) {
	var c CFList
	if len(freqs) > CFListFrequencies {
		return c, fmt.Errorf("cflist: %d frequencies, at most %d: %w", len(freqs), CFListFrequencies, ErrInvalid)
	}
	for i, f := range freqs {
		if f%100 != 0 || f/100 > 1<<24-1 {
			return CFList{}, fmt.Errorf("cflist: frequency %d Hz is not a multiple of 100 Hz below 1677.7216 MHz: %w", f, ErrInvalid)
		}
		put24(c[3*i:], f/100)
	}
	return c, nil
}

// Type is the CFList type byte (0: frequencies).
func (c CFList) Type() uint8 { return c[15] }

// Frequencies returns the type 0 list's frequencies in Hz, zeros included.
func (c CFList) Frequencies() []uint32 {
	out := make([]uint32, CFListFrequencies)
	for i := range out {
		out[i] = get24(c[3*i:]) * 100
	}
	return out
}

// JoinAcceptFrame is an OTAA join accept in clear.
type JoinAcceptFrame struct {
	AppNonce   JoinNonce // JoinNonce in 1.0.4
	NetID      NetID
	DevAddr    DevAddr
	DLSettings DLSettings
	RxDelay    uint8   // RX1 delay in seconds, 4 bits; 0 means 1
	CFList     *CFList // nil: none
}

// Encode builds the join accept (specification 6.2.5): the MIC is
// computed over MHDR and the fields with the AppKey, then everything after
// MHDR is encrypted with AES *decrypt* in ECB mode, so that the device,
// which may only have AES encrypt, decrypts it with encrypt.
func (j JoinAcceptFrame) Encode(appKey Key) ([]byte, error) {
	if j.AppNonce > MaxJoinNonce || j.NetID > MaxNetID || j.RxDelay > 15 ||
		j.DLSettings.RX1DROffset > 7 || j.DLSettings.RX2DataRate > 15 {
		return nil, fmt.Errorf("encode join accept: a field is out of range: %w", ErrInvalid)
	}
	size := JoinAcceptSize
	if j.CFList != nil {
		size += CFListSize
	}
	b := make([]byte, size)
	b[0] = MHDR{MType: JoinAccept}.Byte()
	put24(b[1:], uint32(j.AppNonce))
	put24(b[4:], uint32(j.NetID))
	binary.LittleEndian.PutUint32(b[7:], uint32(j.DevAddr))
	b[11] = j.DLSettings.Byte()
	b[12] = j.RxDelay & 0x0f
	if j.CFList != nil {
		copy(b[13:], j.CFList[:])
	}
	mic := sum4(appKey, b[:size-micSize])
	copy(b[size-micSize:], mic[:])
	blk := newBlock(appKey)
	for i := 1; i < size; i += aes.BlockSize {
		blk.Decrypt(b[i:i+aes.BlockSize], b[i:i+aes.BlockSize])
	}
	return b, nil
}

// DecodeJoinAccept decrypts a join accept with the AppKey and checks its
// MIC. A wrong key gives ErrMIC (the decrypted bytes are noise).
func DecodeJoinAccept(phy []byte, appKey Key) (JoinAcceptFrame, error) {
	var j JoinAcceptFrame
	mt, err := PeekMType(phy)
	if err != nil {
		return j, fmt.Errorf("decode join accept: %w", err)
	}
	if mt != JoinAccept {
		return j, fmt.Errorf("decode join accept: %s: %w", mt, ErrMType)
	}
	switch len(phy) {
	case JoinAcceptSize, JoinAcceptSize + CFListSize:
	default:
		if len(phy) < JoinAcceptSize {
			return j, fmt.Errorf("decode join accept: %d bytes, want %d or %d: %w", len(phy), JoinAcceptSize, JoinAcceptSize+CFListSize, ErrTruncated)
		}
		return j, fmt.Errorf("decode join accept: %d bytes, want %d or %d: %w", len(phy), JoinAcceptSize, JoinAcceptSize+CFListSize, ErrTooLong)
	}
	b := append([]byte(nil), phy...)
	blk := newBlock(appKey)
	for i := 1; i < len(b); i += aes.BlockSize {
		blk.Encrypt(b[i:i+aes.BlockSize], b[i:i+aes.BlockSize])
	}
	var got MIC
	copy(got[:], b[len(b)-micSize:])
	if !MIC(sum4(appKey, b[:len(b)-micSize])).Equal(got) {
		return j, fmt.Errorf("decode join accept: %w", ErrMIC)
	}
	j.AppNonce = JoinNonce(get24(b[1:]))
	j.NetID = NetID(get24(b[4:]))
	j.DevAddr = DevAddr(binary.LittleEndian.Uint32(b[7:]))
	j.DLSettings = ParseDLSettings(b[11])
	j.RxDelay = b[12] & 0x0f
	if len(b) == JoinAcceptSize+CFListSize {
		var c CFList
		copy(c[:], b[13:13+CFListSize])
		j.CFList = &c
	}
	return j, nil
}

// sum4 returns the first four bytes of AES-CMAC(k, msg).
func sum4(k Key, msg []byte) MIC {
	t := Sum128(k, msg)
	return MIC(t[:4])
}
