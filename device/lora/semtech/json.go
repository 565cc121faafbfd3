package semtech

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxRXPK bounds the rxpk objects taken from one PUSH_DATA; the rest are
// refused (counted as bad packets). Semtech's forwarders send at most 255.
const MaxRXPK = 255

// Payload is a radio payload, base64 in JSON. Decoding accepts padded and
// unpadded base64 (forwarders differ); encoding pads, as PROTOCOL.TXT shows.
type Payload []byte

// MarshalJSON writes padded base64.
func (p Payload) MarshalJSON() ([]byte, error) {
	return []byte(`"` + base64.StdEncoding.EncodeToString(p) + `"`), nil
}

// UnmarshalJSON reads base64 with or without padding.
func (p *Payload) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("data is not a string: %w", ErrBase64)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	d, err := enc.DecodeString(s)
	if err != nil {
		return fmt.Errorf("data: %w", ErrBase64)
	}
	*p = d
	return nil
}

// DataRate is a "datr": a LoRa name ("SF7BW125") or an FSK bit rate.
type DataRate struct {
	LoRa string // set for LoRa
	FSK  uint32 // set for FSK
}

// String is the LoRa name or the FSK bit rate in digits.
func (d DataRate) String() string {
	if d.LoRa != "" {
		return d.LoRa
	}
	return strconv.FormatUint(uint64(d.FSK), 10)
}

// MarshalJSON writes a string for LoRa, a number for FSK.
func (d DataRate) MarshalJSON() ([]byte, error) {
	if d.LoRa != "" {
		return json.Marshal(d.LoRa)
	}
	return []byte(strconv.FormatUint(uint64(d.FSK), 10)), nil
}

// UnmarshalJSON reads a string (LoRa) or a number (FSK).
func (d *DataRate) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &d.LoRa)
	}
	return json.Unmarshal(b, &d.FSK)
}

// CRC statuses of an rxpk's "stat".
const (
	CRCOK   = 1
	CRCBad  = -1
	CRCNone = 0
)

// RXPK is one received packet with its radio metadata.
type RXPK struct {
	Time string   `json:"time,omitempty"` // UTC, ISO 8601 "compact"
	Tmms *uint64  `json:"tmms,omitempty"` // GPS time, ms
	Tmst uint32   `json:"tmst"`           // concentrator counter at the end of the packet, µs
	Freq float64  `json:"freq"`           // MHz
	Chan uint8    `json:"chan"`
	RFCh uint8    `json:"rfch"`
	Stat int8     `json:"stat"` // CRCOK, CRCBad or CRCNone
	Modu string   `json:"modu"` // LORA or FSK
	Datr DataRate `json:"datr"`
	Codr string   `json:"codr,omitempty"`
	RSSI int      `json:"rssi"` // dBm
	LSNR float64  `json:"lsnr"` // dB
	Size uint16   `json:"size"`
	Data Payload  `json:"data"`
}

// FrequencyHz returns Freq in Hz.
func (r RXPK) FrequencyHz() uint32 { return mhzToHz(r.Freq) }

// At parses Time; ok is false when it is absent or in no known form.
func (r RXPK) At() (time.Time, bool) { return parseTime(r.Time) }

func mhzToHz(f float64) uint32 {
	if f <= 0 || f > math.MaxUint32/1e6 {
		return 0
	}
	return uint32(math.Round(f * 1e6))
}

// HzToMHz converts a frequency for a txpk.
func HzToMHz(hz uint32) float64 { return float64(hz) / 1e6 }

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Stat is the forwarder's status report.
type Stat struct {
	Time string  `json:"time"` // "2014-01-12 08:59:28 GMT"
	Lati float64 `json:"lati,omitempty"`
	Long float64 `json:"long,omitempty"`
	Alti int     `json:"alti,omitempty"`
	RXNb uint32  `json:"rxnb"` // radio packets received
	RXOK uint32  `json:"rxok"` // with a valid CRC
	RXFW uint32  `json:"rxfw"` // forwarded
	ACKR float64 `json:"ackr"` // % of upstream datagrams acknowledged
	DWNb uint32  `json:"dwnb"` // downlinks received
	TXNb uint32  `json:"txnb"` // packets emitted
}

// Push is the content of a PUSH_DATA.
type Push struct {
	RXPK []RXPK
	Stat *Stat
	// Refused are the rxpk objects that were broken, each with why; the
	// good ones are in RXPK.
	Refused []error
}

// DecodePush parses a PUSH_DATA's JSON. The object must be valid JSON
// (ErrJSON otherwise); each rxpk is decoded on its own, so a broken one is
// refused (in Refused, wrapping ErrJSON, ErrBase64 or ErrSize) without
// taking the others with it.
func DecodePush(js []byte) (Push, error) {
	var raw struct {
		RXPK []json.RawMessage `json:"rxpk"`
		Stat *Stat             `json:"stat"`
	}
	var p Push
	if err := json.Unmarshal(js, &raw); err != nil {
		return p, fmt.Errorf("decode push data: %v: %w", err, ErrJSON)
	}
	p.Stat = raw.Stat
	for i, m := range raw.RXPK {
		if i >= MaxRXPK {
			p.Refused = append(p.Refused, fmt.Errorf("rxpk[%d]: more than %d in one datagram: %w", i, MaxRXPK, ErrJSON))
			continue
		}
		var r RXPK
		if err := json.Unmarshal(m, &r); err != nil {
			if !errors.Is(err, ErrBase64) {
				err = fmt.Errorf("%v: %w", err, ErrJSON)
			}
			p.Refused = append(p.Refused, fmt.Errorf("rxpk[%d]: %w", i, err))
			continue
		}
		if int(r.Size) != len(r.Data) {
			p.Refused = append(p.Refused, fmt.Errorf("rxpk[%d]: size %d, data %d bytes: %w", i, r.Size, len(r.Data), ErrSize))
			continue
		}
		p.RXPK = append(p.RXPK, r)
	}
	return p, nil
}

// TXPK is a packet for the forwarder to send.
type TXPK struct {
	Imme bool     `json:"imme,omitempty"` // send at once
	Tmst *uint32  `json:"tmst,omitempty"` // send when the concentrator counter reaches this (µs)
	Tmms *uint64  `json:"tmms,omitempty"` // send at this GPS time (ms)
	Freq float64  `json:"freq"`           // MHz
	RFCh uint8    `json:"rfch"`
	Powe int      `json:"powe"` // dBm
	Modu string   `json:"modu"`
	Datr DataRate `json:"datr"`
	Codr string   `json:"codr,omitempty"`
	FDev uint32   `json:"fdev,omitempty"` // FSK frequency deviation, Hz
	IPol bool     `json:"ipol"`           // inverted polarity: true for LoRaWAN downlinks
	Prea uint16   `json:"prea,omitempty"`
	Size uint16   `json:"size"`
	Data Payload  `json:"data"`
	NCRC bool     `json:"ncrc,omitempty"`
}

// EncodePullResp returns the JSON of a PULL_RESP carrying tx.
func EncodePullResp(tx TXPK) ([]byte, error) {
	tx.Size = uint16(len(tx.Data))
	return json.Marshal(struct {
		TXPK TXPK `json:"txpk"`
	}{tx})
}

// DecodePullResp parses a PULL_RESP's JSON.
func DecodePullResp(js []byte) (TXPK, error) {
	var v struct {
		TXPK *TXPK `json:"txpk"`
	}
	if err := json.Unmarshal(js, &v); err != nil {
		if errors.Is(err, ErrBase64) {
			return TXPK{}, fmt.Errorf("decode pull resp: %w", err)
		}
		return TXPK{}, fmt.Errorf("decode pull resp: %v: %w", err, ErrJSON)
	}
	if v.TXPK == nil {
		return TXPK{}, fmt.Errorf("decode pull resp: no txpk: %w", ErrJSON)
	}
	return *v.TXPK, nil
}

// TxError is the forwarder's verdict on a downlink, in a TX_ACK.
type TxError uint8

// TX_ACK error codes (PROTOCOL.TXT section 6).
const (
	TxNone            TxError = iota + 1 // accepted for transmission
	TxTooLate                            // too late to send at tmst
	TxTooEarly                           // tmst too far ahead
	TxCollisionPacket                    // another packet is scheduled then
	TxCollisionBeacon                    // a beacon is scheduled then
	TxFreq                               // frequency not supported by the radio
	TxPower                              // power not supported
	TxGPSUnlocked                        // GPS time asked but not available
	TxUnknown                            // a code this package does not know
)

var txErrorNames = [...]string{"", "NONE", "TOO_LATE", "TOO_EARLY", "COLLISION_PACKET", "COLLISION_BEACON", "TX_FREQ", "TX_POWER", "GPS_UNLOCKED", "UNKNOWN"}

// String is the protocol's code.
func (e TxError) String() string {
	if e > 0 && int(e) < len(txErrorNames) {
		return txErrorNames[e]
	}
	return fmt.Sprintf("TxError(%d)", uint8(e))
}

// ParseTxError maps a code to its TxError; unknown codes give TxUnknown
// and an error.
func ParseTxError(s string) (TxError, error) {
	for i := 1; i < len(txErrorNames)-1; i++ {
		if strings.EqualFold(s, txErrorNames[i]) {
			return TxError(i), nil
		}
	}
	return TxUnknown, fmt.Errorf("tx_ack error %q: %w", s, ErrJSON)
}

// EncodeTxAck returns the JSON of a TX_ACK with the verdict e.
func EncodeTxAck(e TxError) []byte {
	b, _ := json.Marshal(map[string]map[string]string{"txpk_ack": {"error": e.String()}})
	return b
}

// DecodeTxAck parses a TX_ACK's JSON. An empty object (or none) means
// TxNone, as forwarders before 4.0 send nothing on success. Broken JSON
// gives 0 and ErrJSON; an unknown code TxUnknown and an error.
func DecodeTxAck(js []byte) (TxError, error) {
	if len(bytes.TrimSpace(js)) == 0 {
		return TxNone, nil
	}
	var v struct {
		Ack *struct {
			Error string `json:"error"`
		} `json:"txpk_ack"`
	}
	if err := json.Unmarshal(js, &v); err != nil {
		return 0, fmt.Errorf("decode tx ack: %v: %w", err, ErrJSON)
	}
	if v.Ack == nil || v.Ack.Error == "" {
		return TxNone, nil
	}
	return ParseTxError(v.Ack.Error)
}
