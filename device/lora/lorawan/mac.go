package lorawan

import (
	"encoding/binary"
	"fmt"
)

// CID is a MAC command identifier.
type CID uint8

// MAC command identifiers of LoRaWAN 1.0.x (1.0.2 added TxParamSetup and
// DlChannel, 1.0.3 DeviceTime).
const (
	CIDLinkCheck     CID = 0x02
	CIDLinkADR       CID = 0x03
	CIDDutyCycle     CID = 0x04
	CIDRXParamSetup  CID = 0x05
	CIDDevStatus     CID = 0x06
	CIDNewChannel    CID = 0x07
	CIDRXTimingSetup CID = 0x08
	CIDTxParamSetup  CID = 0x09
	CIDDlChannel     CID = 0x0a
	CIDDeviceTime    CID = 0x0d
)

var cidNames = map[CID]string{
	CIDLinkCheck: "LinkCheck", CIDLinkADR: "LinkADR", CIDDutyCycle: "DutyCycle",
	CIDRXParamSetup: "RXParamSetup", CIDDevStatus: "DevStatus", CIDNewChannel: "NewChannel",
	CIDRXTimingSetup: "RXTimingSetup", CIDTxParamSetup: "TxParamSetup", CIDDlChannel: "DlChannel",
	CIDDeviceTime: "DeviceTime",
}

// String names the command family.
func (c CID) String() string {
	if n, ok := cidNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CID(0x%02x)", uint8(c))
}

// MACCommand is one MAC command, with its payload decoded. The concrete
// types below are the only implementations; each belongs to one direction
// (a Req of the network travels down, its Ans up).
type MACCommand interface {
	CID() CID
	// Dir is the direction the command travels in.
	Dir() Dir
	// appendPayload appends the payload after the CID.
	appendPayload(b []byte) []byte
}

// macSpec is what the parser needs to know about one command: its
// payload size and how to decode it.
type macSpec struct {
	size   int
	decode func(p []byte) MACCommand
}

// macTable lists every known command by direction and identifier.
var macTable = [2]map[CID]macSpec{
	Uplink: {
		CIDLinkCheck: {0, func([]byte) MACCommand { return LinkCheckReq{} }},
		CIDLinkADR: {1, func(p []byte) MACCommand {
			return LinkADRAns{PowerACK: p[0]&4 != 0, DataRateACK: p[0]&2 != 0, ChannelMaskACK: p[0]&1 != 0}
		}},
		CIDDutyCycle: {0, func([]byte) MACCommand { return DutyCycleAns{} }},
		CIDRXParamSetup: {1, func(p []byte) MACCommand {
			return RXParamSetupAns{RX1DROffsetACK: p[0]&4 != 0, RX2DataRateACK: p[0]&2 != 0, ChannelACK: p[0]&1 != 0}
		}},
		CIDDevStatus: {2, func(p []byte) MACCommand { return DevStatusAns{Battery: p[0], Margin: int8(p[1]<<2) >> 2} }},
		CIDNewChannel: {1, func(p []byte) MACCommand {
			return NewChannelAns{DataRateRangeOK: p[0]&2 != 0, ChannelFrequencyOK: p[0]&1 != 0}
		}},
		CIDRXTimingSetup: {0, func([]byte) MACCommand { return RXTimingSetupAns{} }},
		CIDTxParamSetup:  {0, func([]byte) MACCommand { return TxParamSetupAns{} }},
		CIDDlChannel: {1, func(p []byte) MACCommand {
			return DlChannelAns{UplinkFrequencyExists: p[0]&2 != 0, ChannelFrequencyOK: p[0]&1 != 0}
		}},
		CIDDeviceTime: {0, func([]byte) MACCommand { return DeviceTimeReq{} }},
	},
	Downlink: {
		CIDLinkCheck: {2, func(p []byte) MACCommand { return LinkCheckAns{Margin: p[0], GwCnt: p[1]} }},
		CIDLinkADR: {4, func(p []byte) MACCommand {
			return LinkADRReq{DataRate: p[0] >> 4, TXPower: p[0] & 0x0f, ChMask: binary.LittleEndian.Uint16(p[1:3]),
				ChMaskCntl: p[3] >> 4 & 0x07, NbTrans: p[3] & 0x0f}
		}},
		CIDDutyCycle: {1, func(p []byte) MACCommand { return DutyCycleReq{MaxDCycle: p[0] & 0x0f} }},
		CIDRXParamSetup: {4, func(p []byte) MACCommand {
			return RXParamSetupReq{RX1DROffset: p[0] >> 4 & 0x07, RX2DataRate: p[0] & 0x0f, Frequency: get24(p[1:]) * 100}
		}},
		CIDDevStatus: {0, func([]byte) MACCommand { return DevStatusReq{} }},
		CIDNewChannel: {5, func(p []byte) MACCommand {
			return NewChannelReq{ChIndex: p[0], Frequency: get24(p[1:]) * 100, MaxDR: p[4] >> 4, MinDR: p[4] & 0x0f}
		}},
		CIDRXTimingSetup: {1, func(p []byte) MACCommand { return RXTimingSetupReq{Delay: p[0] & 0x0f} }},
		CIDTxParamSetup: {1, func(p []byte) MACCommand {
			return TxParamSetupReq{DownlinkDwellTime: p[0]&0x20 != 0, UplinkDwellTime: p[0]&0x10 != 0, MaxEIRP: p[0] & 0x0f}
		}},
		CIDDlChannel: {4, func(p []byte) MACCommand { return DlChannelReq{ChIndex: p[0], Frequency: get24(p[1:]) * 100} }},
		CIDDeviceTime: {5, func(p []byte) MACCommand {
			return DeviceTimeAns{GPSSeconds: binary.LittleEndian.Uint32(p), Fraction: p[4]}
		}},
	},
}

// ParseMACCommands decodes the MAC commands of FOpts, or of FRMPayload on
// port 0, travelling in dir. At a command it does not know (or one cut
// short) it stops: it returns the commands before it together with an
// error wrapping ErrUnknownMAC (or ErrTruncated) that names the offset.
func ParseMACCommands(b []byte, dir Dir) ([]MACCommand, error) {
	table := macTable[dir&1]
	var out []MACCommand
	for i := 0; i < len(b); {
		cid := CID(b[i])
		spec, ok := table[cid]
		if !ok {
			return out, fmt.Errorf("mac command 0x%02x at byte %d (%s): %w", uint8(cid), i, dir, ErrUnknownMAC)
		}
		p := b[i+1:]
		if len(p) < spec.size {
			return out, fmt.Errorf("mac command %s at byte %d: %d payload bytes, need %d: %w", cid, i, len(p), spec.size, ErrTruncated)
		}
		out = append(out, spec.decode(p[:spec.size]))
		i += 1 + spec.size
	}
	return out, nil
}

// AppendMACCommands appends the encoded commands to b. All must travel
// in dir.
func AppendMACCommands(b []byte, dir Dir, cmds ...MACCommand) ([]byte, error) {
	for _, c := range cmds {
		if c.Dir() != dir {
			return b, fmt.Errorf("encode mac command %s: travels %s, not %s: %w", c.CID(), c.Dir(), dir, ErrInvalid)
		}
		b = append(b, byte(c.CID()))
		b = c.appendPayload(b)
	}
	return b, nil
}

func bit(v bool, mask byte) byte {
	if v {
		return mask
	}
	return 0
}

// frequency100 encodes a frequency in Hz as three bytes of 100 Hz units.
func frequency100(b []byte, hz uint32) []byte {
	var f [3]byte
	put24(f[:], hz/100)
	return append(b, f[:]...)
}

// LinkCheckReq asks the network for the link margin (uplink, empty).
type LinkCheckReq struct{}

// LinkCheckAns answers LinkCheckReq: the margin in dB above the
// demodulation floor of the best reception, and how many gateways heard it.
type LinkCheckAns struct {
	Margin uint8
	GwCnt  uint8
}

// LinkADRReq sets data rate, power, channel mask and repetitions.
type LinkADRReq struct {
	DataRate   uint8 // 4 bits
	TXPower    uint8 // 4 bits
	ChMask     uint16
	ChMaskCntl uint8 // 3 bits
	NbTrans    uint8 // 4 bits
}

// LinkADRAns acknowledges LinkADRReq bit by bit.
type LinkADRAns struct{ PowerACK, DataRateACK, ChannelMaskACK bool }

// DutyCycleReq limits the aggregated duty cycle to 1/2^MaxDCycle.
type DutyCycleReq struct{ MaxDCycle uint8 }

// DutyCycleAns acknowledges DutyCycleReq (empty).
type DutyCycleAns struct{}

// RXParamSetupReq changes the RX1 offset and the RX2 data rate and frequency.
type RXParamSetupReq struct {
	RX1DROffset uint8  // 3 bits
	RX2DataRate uint8  // 4 bits
	Frequency   uint32 // Hz, in steps of 100 Hz
}

// RXParamSetupAns acknowledges RXParamSetupReq bit by bit.
type RXParamSetupAns struct{ RX1DROffsetACK, RX2DataRateACK, ChannelACK bool }

// DevStatusReq asks for the device's battery and margin (empty).
type DevStatusReq struct{}

// DevStatusAns reports the battery (0 external power, 1..254 level, 255
// unknown) and the SNR margin of the last DevStatusReq, -32..31 dB.
type DevStatusAns struct {
	Battery uint8
	Margin  int8
}

// NewChannelReq creates or changes (Frequency 0: disables) a channel.
type NewChannelReq struct {
	ChIndex      uint8
	Frequency    uint32 // Hz
	MinDR, MaxDR uint8  // 4 bits each
}

// NewChannelAns acknowledges NewChannelReq.
type NewChannelAns struct{ DataRateRangeOK, ChannelFrequencyOK bool }

// RXTimingSetupReq sets the delay of RX1 in seconds (0 means 1).
type RXTimingSetupReq struct{ Delay uint8 }

// RXTimingSetupAns acknowledges RXTimingSetupReq (empty).
type RXTimingSetupAns struct{}

// TxParamSetupReq sets dwell time limits and the maximum EIRP (an index
// into the regional table).
type TxParamSetupReq struct {
	DownlinkDwellTime, UplinkDwellTime bool
	MaxEIRP                            uint8 // 4 bits
}

// TxParamSetupAns acknowledges TxParamSetupReq (empty).
type TxParamSetupAns struct{}

// DlChannelReq moves the RX1 downlink frequency of a channel.
type DlChannelReq struct {
	ChIndex   uint8
	Frequency uint32 // Hz
}

// DlChannelAns acknowledges DlChannelReq.
type DlChannelAns struct{ UplinkFrequencyExists, ChannelFrequencyOK bool }

// DeviceTimeReq asks for the network's time (1.0.3, empty).
type DeviceTimeReq struct{}

// DeviceTimeAns gives the time of the end of the uplink that asked: whole
// seconds since the GPS epoch and 1/256 s.
type DeviceTimeAns struct {
	GPSSeconds uint32
	Fraction   uint8
}

func (LinkCheckReq) CID() CID     { return CIDLinkCheck }
func (LinkCheckAns) CID() CID     { return CIDLinkCheck }
func (LinkADRReq) CID() CID       { return CIDLinkADR }
func (LinkADRAns) CID() CID       { return CIDLinkADR }
func (DutyCycleReq) CID() CID     { return CIDDutyCycle }
func (DutyCycleAns) CID() CID     { return CIDDutyCycle }
func (RXParamSetupReq) CID() CID  { return CIDRXParamSetup }
func (RXParamSetupAns) CID() CID  { return CIDRXParamSetup }
func (DevStatusReq) CID() CID     { return CIDDevStatus }
func (DevStatusAns) CID() CID     { return CIDDevStatus }
func (NewChannelReq) CID() CID    { return CIDNewChannel }
func (NewChannelAns) CID() CID    { return CIDNewChannel }
func (RXTimingSetupReq) CID() CID { return CIDRXTimingSetup }
func (RXTimingSetupAns) CID() CID { return CIDRXTimingSetup }
func (TxParamSetupReq) CID() CID  { return CIDTxParamSetup }
func (TxParamSetupAns) CID() CID  { return CIDTxParamSetup }
func (DlChannelReq) CID() CID     { return CIDDlChannel }
func (DlChannelAns) CID() CID     { return CIDDlChannel }
func (DeviceTimeReq) CID() CID    { return CIDDeviceTime }
func (DeviceTimeAns) CID() CID    { return CIDDeviceTime }

func (LinkCheckReq) Dir() Dir     { return Uplink }
func (LinkCheckAns) Dir() Dir     { return Downlink }
func (LinkADRReq) Dir() Dir       { return Downlink }
func (LinkADRAns) Dir() Dir       { return Uplink }
func (DutyCycleReq) Dir() Dir     { return Downlink }
func (DutyCycleAns) Dir() Dir     { return Uplink }
func (RXParamSetupReq) Dir() Dir  { return Downlink }
func (RXParamSetupAns) Dir() Dir  { return Uplink }
func (DevStatusReq) Dir() Dir     { return Downlink }
func (DevStatusAns) Dir() Dir     { return Uplink }
func (NewChannelReq) Dir() Dir    { return Downlink }
func (NewChannelAns) Dir() Dir    { return Uplink }
func (RXTimingSetupReq) Dir() Dir { return Downlink }
func (RXTimingSetupAns) Dir() Dir { return Uplink }
func (TxParamSetupReq) Dir() Dir  { return Downlink }
func (TxParamSetupAns) Dir() Dir  { return Uplink }
func (DlChannelReq) Dir() Dir     { return Downlink }
func (DlChannelAns) Dir() Dir     { return Uplink }
func (DeviceTimeReq) Dir() Dir    { return Uplink }
func (DeviceTimeAns) Dir() Dir    { return Downlink }

func (LinkCheckReq) appendPayload(b []byte) []byte   { return b }
func (c LinkCheckAns) appendPayload(b []byte) []byte { return append(b, c.Margin, c.GwCnt) }
func (c LinkADRReq) appendPayload(b []byte) []byte {
	b = append(b, c.DataRate<<4|c.TXPower&0x0f)
	b = binary.LittleEndian.AppendUint16(b, c.ChMask)
	return append(b, (c.ChMaskCntl&0x07)<<4|c.NbTrans&0x0f)
}
func (c LinkADRAns) appendPayload(b []byte) []byte {
	return append(b, bit(c.PowerACK, 4)|bit(c.DataRateACK, 2)|bit(c.ChannelMaskACK, 1))
}
func (c DutyCycleReq) appendPayload(b []byte) []byte { return append(b, c.MaxDCycle&0x0f) }
func (DutyCycleAns) appendPayload(b []byte) []byte   { return b }
func (c RXParamSetupReq) appendPayload(b []byte) []byte {
	b = append(b, (c.RX1DROffset&0x07)<<4|c.RX2DataRate&0x0f)
	return frequency100(b, c.Frequency)
}
func (c RXParamSetupAns) appendPayload(b []byte) []byte {
	return append(b, bit(c.RX1DROffsetACK, 4)|bit(c.RX2DataRateACK, 2)|bit(c.ChannelACK, 1))
}
func (DevStatusReq) appendPayload(b []byte) []byte { return b }
func (c DevStatusAns) appendPayload(b []byte) []byte {
	return append(b, c.Battery, byte(c.Margin)&0x3f)
}
func (c NewChannelReq) appendPayload(b []byte) []byte {
	b = append(b, c.ChIndex)
	b = frequency100(b, c.Frequency)
	return append(b, c.MaxDR<<4|c.MinDR&0x0f)
}
func (c NewChannelAns) appendPayload(b []byte) []byte {
	return append(b, bit(c.DataRateRangeOK, 2)|bit(c.ChannelFrequencyOK, 1))
}
func (c RXTimingSetupReq) appendPayload(b []byte) []byte { return append(b, c.Delay&0x0f) }
func (RXTimingSetupAns) appendPayload(b []byte) []byte   { return b }
func (c TxParamSetupReq) appendPayload(b []byte) []byte {
	return append(b, bit(c.DownlinkDwellTime, 0x20)|bit(c.UplinkDwellTime, 0x10)|c.MaxEIRP&0x0f)
}
func (TxParamSetupAns) appendPayload(b []byte) []byte { return b }
func (c DlChannelReq) appendPayload(b []byte) []byte {
	return frequency100(append(b, c.ChIndex), c.Frequency)
}
func (c DlChannelAns) appendPayload(b []byte) []byte {
	return append(b, bit(c.UplinkFrequencyExists, 2)|bit(c.ChannelFrequencyOK, 1))
}
func (DeviceTimeReq) appendPayload(b []byte) []byte { return b }
func (c DeviceTimeAns) appendPayload(b []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(b, c.GPSSeconds), c.Fraction)
}
