package band

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by this package.
var (
	// ErrUnknownDataRate means a data rate index or name the plan does not have.
	ErrUnknownDataRate = errors.New("unknown data rate")
	// ErrChannel means an extra channel the plan cannot take.
	ErrChannel = errors.New("invalid channel")
)

// Modulation is LoRa or FSK.
type Modulation uint8

// Modulations.
const (
	LoRa Modulation = iota + 1
	FSK
)

// String is the packet forwarder's "modu" value.
func (m Modulation) String() string {
	switch m {
	case LoRa:
		return "LORA"
	case FSK:
		return "FSK"
	}
	return fmt.Sprintf("Modulation(%d)", uint8(m))
}

// MarshalText writes String.
func (m Modulation) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// DataRate is one row of the region's data rate table.
type DataRate struct {
	Index      uint8      `json:"index"`
	Modulation Modulation `json:"modulation"`
	// SpreadingFactor and Bandwidth (kHz) are set for LoRa.
	SpreadingFactor uint8  `json:"spreading_factor,omitempty"`
	Bandwidth       uint16 `json:"bandwidth_khz,omitempty"`
	// BitRate is set for FSK (bits per second).
	BitRate uint32 `json:"bit_rate,omitempty"`
	// MaxMACPayload is M, the largest MACPayload; MaxPayload is N, the
	// largest FRMPayload when FOpts is empty (M - 8).
	MaxMACPayload int `json:"max_mac_payload"`
	MaxPayload    int `json:"max_payload"`
	// RequiredSNR is the demodulation floor in dB, for link margins.
	RequiredSNR float64 `json:"required_snr_db"`
}

// Name is the packet forwarder's "datr": "SF7BW125" for LoRa, the bit rate
// for FSK ("50000").
func (d DataRate) Name() string {
	if d.Modulation == FSK {
		return strconv.FormatUint(uint64(d.BitRate), 10)
	}
	return fmt.Sprintf("SF%dBW%d", d.SpreadingFactor, d.Bandwidth)
}

// String is "DR5 (SF7BW125)".
func (d DataRate) String() string { return fmt.Sprintf("DR%d (%s)", d.Index, d.Name()) }

// Channel is one uplink channel.
type Channel struct {
	Index     int    `json:"index"`
	Frequency uint32 `json:"frequency_hz"`
	MinDR     uint8  `json:"min_dr"`
	MaxDR     uint8  `json:"max_dr"`
	// Default channels are known to every device of the region; the
	// others reach devices through the join accept's CFList.
	Default bool `json:"default"`
}

// Plan is a region's effective channel plan and timing, as data.
type Plan struct {
	Region    string     `json:"region"`
	Channels  []Channel  `json:"channels"`
	DataRates []DataRate `json:"data_rates"`
	// RX2Frequency (Hz) and RX2DataRate are the second receive window's
	// defaults.
	RX2Frequency uint32 `json:"rx2_frequency_hz"`
	RX2DataRate  uint8  `json:"rx2_data_rate"`
	// MaxRX1DROffset is the largest RX1DROffset the region allows.
	MaxRX1DROffset uint8 `json:"max_rx1_dr_offset"`
	// ReceiveDelay1 and 2 open the class A windows after a data uplink;
	// JoinAcceptDelay1 and 2 after a join request.
	ReceiveDelay1    time.Duration `json:"receive_delay1"`
	ReceiveDelay2    time.Duration `json:"receive_delay2"`
	JoinAcceptDelay1 time.Duration `json:"join_accept_delay1"`
	JoinAcceptDelay2 time.Duration `json:"join_accept_delay2"`
	// DownlinkPower is the transmit power of downlinks in dBm (at most
	// MaxEIRP).
	DownlinkPower int `json:"downlink_power_dbm"`
	MaxEIRP       int `json:"max_eirp_dbm"`
	// MinFrequency and MaxFrequency bound every channel (Hz).
	MinFrequency uint32 `json:"min_frequency_hz"`
	MaxFrequency uint32 `json:"max_frequency_hz"`
}

// MaxAppPayload is the largest application payload of any data rate.
const MaxAppPayload = 242

// EU868 limits.
const (
	// EU868MaxChannels is how many channels an EU868 device holds.
	EU868MaxChannels = 16
	// EU868MaxExtraChannels is how many channels a join accept's CFList adds.
	EU868MaxExtraChannels = 5
)

// eu868DataRates is table 2.4.3 of the regional parameters with the payload
// sizes of table 2.4.6 (no repeater).
var eu868DataRates = []DataRate{
	{Index: 0, Modulation: LoRa, SpreadingFactor: 12, Bandwidth: 125, MaxMACPayload: 59, MaxPayload: 51, RequiredSNR: -20},
	{Index: 1, Modulation: LoRa, SpreadingFactor: 11, Bandwidth: 125, MaxMACPayload: 59, MaxPayload: 51, RequiredSNR: -17.5},
	{Index: 2, Modulation: LoRa, SpreadingFactor: 10, Bandwidth: 125, MaxMACPayload: 59, MaxPayload: 51, RequiredSNR: -15},
	{Index: 3, Modulation: LoRa, SpreadingFactor: 9, Bandwidth: 125, MaxMACPayload: 123, MaxPayload: 115, RequiredSNR: -12.5},
	{Index: 4, Modulation: LoRa, SpreadingFactor: 8, Bandwidth: 125, MaxMACPayload: 250, MaxPayload: 242, RequiredSNR: -10},
	{Index: 5, Modulation: LoRa, SpreadingFactor: 7, Bandwidth: 125, MaxMACPayload: 250, MaxPayload: 242, RequiredSNR: -7.5},
	{Index: 6, Modulation: LoRa, SpreadingFactor: 7, Bandwidth: 250, MaxMACPayload: 250, MaxPayload: 242, RequiredSNR: -7.5},
	{Index: 7, Modulation: FSK, BitRate: 50000, MaxMACPayload: 250, MaxPayload: 242},
}

// EU868 returns the EU863-870 plan: the three default channels, then the
// extra frequencies given (Hz, at most five, each inside 863-870 MHz on the
// 100 Hz grid, none repeated), each for DR0..DR5.
func EU868(extra ...uint32) (Plan, error) {
	p := Plan{
		Region: "EU868",
		Channels: []Channel{
			{Index: 0, Frequency: 868100000, MinDR: 0, MaxDR: 5, Default: true},
			{Index: 1, Frequency: 868300000, MinDR: 0, MaxDR: 5, Default: true},
			{Index: 2, Frequency: 868500000, MinDR: 0, MaxDR: 5, Default: true},
		},
		DataRates:        slices.Clone(eu868DataRates),
		RX2Frequency:     869525000,
		RX2DataRate:      0,
		MaxRX1DROffset:   5,
		ReceiveDelay1:    time.Second,
		ReceiveDelay2:    2 * time.Second,
		JoinAcceptDelay1: 5 * time.Second,
		JoinAcceptDelay2: 6 * time.Second,
		DownlinkPower:    14,
		MaxEIRP:          16,
		MinFrequency:     863000000,
		MaxFrequency:     870000000,
	}
	if len(extra) > EU868MaxExtraChannels {
		return Plan{}, fmt.Errorf("eu868: %d extra channels, at most %d: %w", len(extra), EU868MaxExtraChannels, ErrChannel)
	}
	for _, f := range extra {
		if f < p.MinFrequency || f > p.MaxFrequency || f%100 != 0 {
			return Plan{}, fmt.Errorf("eu868: %d Hz is outside 863-870 MHz or off the 100 Hz grid: %w", f, ErrChannel)
		}
		for _, c := range p.Channels {
			if c.Frequency == f {
				return Plan{}, fmt.Errorf("eu868: %d Hz is already channel %d: %w", f, c.Index, ErrChannel)
			}
		}
		p.Channels = append(p.Channels, Channel{Index: len(p.Channels), Frequency: f, MinDR: 0, MaxDR: 5})
	}
	return p, nil
}

// ExtraFrequencies returns the frequencies of the non-default channels,
// for the join accept's CFList.
func (p Plan) ExtraFrequencies() []uint32 {
	var out []uint32
	for _, c := range p.Channels {
		if !c.Default {
			out = append(out, c.Frequency)
		}
	}
	return out
}

// DataRate returns the row of index i.
func (p Plan) DataRate(i uint8) (DataRate, error) {
	for _, d := range p.DataRates {
		if d.Index == i {
			return d, nil
		}
	}
	return DataRate{}, fmt.Errorf("%s: DR%d: %w", p.Region, i, ErrUnknownDataRate)
}

// ParseDataRate finds the row a packet forwarder's "datr" names
// ("SF7BW125", any case; an FSK bit rate as digits).
func (p Plan) ParseDataRate(name string) (DataRate, error) {
	for _, d := range p.DataRates {
		if strings.EqualFold(d.Name(), name) {
			return d, nil
		}
	}
	return DataRate{}, fmt.Errorf("%s: data rate %q: %w", p.Region, name, ErrUnknownDataRate)
}

// RX1DataRate is the data rate of the first receive window for an uplink
// at data rate up: up - offset, never below DR0 (EU868 table 2.4.7).
func (p Plan) RX1DataRate(up, offset uint8) uint8 {
	if offset > up {
		return 0
	}
	return up - offset
}

// Uplink reports whether frequency (Hz) is one of the plan's channels.
func (p Plan) Uplink(frequency uint32) (Channel, bool) {
	for _, c := range p.Channels {
		if c.Frequency == frequency {
			return c, true
		}
	}
	return Channel{}, false
}
