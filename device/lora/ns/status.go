package ns

import (
	"fmt"
	"time"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// Stats are the network server's counters since it was created.
type Stats struct {
	// Received counts uplinks handed to HandleRx; Dropped those refused
	// because the queue to Run was full.
	Received uint64 `json:"received"`
	Dropped  uint64 `json:"dropped"`
	// Duplicates counts copies merged into a frame already heard.
	Duplicates uint64 `json:"duplicates"`
	// Malformed counts frames that do not decode.
	Malformed       uint64 `json:"malformed"`
	UnknownDevice   uint64 `json:"unknown_device"`
	MICFailures     uint64 `json:"mic_failures"`
	Replays         uint64 `json:"replays"`
	Retransmissions uint64 `json:"retransmissions"`
	DevNonceReplays uint64 `json:"devnonce_replays"`
	// Ignored counts frames not for a network server (downlink types,
	// proprietary, RFU) and exhausted counters.
	Ignored uint64 `json:"ignored"`
	Joins   uint64 `json:"joins"`
	Uplinks uint64 `json:"uplinks"`
	// Downlinks counts frames handed to the transmitter; Acks those that
	// acknowledged a confirmed uplink; TooLate the answers given up because
	// both windows had passed; TxErrors the failed hand-overs.
	Downlinks   uint64 `json:"downlinks"`
	Acks        uint64 `json:"acks"`
	TooLate     uint64 `json:"too_late"`
	TxErrors    uint64 `json:"tx_errors"`
	StoreErrors uint64 `json:"store_errors"`
}

// DeviceStatus is one device as the console shows it.
type DeviceStatus struct {
	Name       string        `json:"name"`
	DevEUI     lorawan.EUI64 `json:"dev_eui"`
	Activation string        `json:"activation"`
	Joined     bool          `json:"joined"`
	DevAddr    string        `json:"dev_addr,omitempty"`
	// FCntUp is the next uplink counter expected, FCntDown the next one to send.
	FCntUp      uint32    `json:"fcnt_up"`
	FCntDown    uint32    `json:"fcnt_down"`
	LastJoin    time.Time `json:"last_join,omitzero"`
	LastUplink  time.Time `json:"last_uplink,omitzero"`
	LastFCnt    uint32    `json:"last_fcnt"`
	RSSI        int       `json:"rssi"`
	SNR         float64   `json:"snr"`
	DataRate    string    `json:"data_rate,omitempty"`
	Frequency   uint32    `json:"frequency_hz,omitempty"`
	Gateways    int       `json:"gateways"`
	Uplinks     uint64    `json:"uplinks"`
	Downlinks   uint64    `json:"downlinks"`
	QueueLength int       `json:"queue_length"`
	// Battery and Margin are from the last DevStatusAns (nil: none yet).
	Battery *uint8 `json:"battery,omitempty"`
	Margin  *int8  `json:"margin,omitempty"`
}

// Result is a frame's verdict.
type Result uint8

// Verdicts.
const (
	ResultOK Result = iota + 1
	ResultJoined
	ResultRetransmission
	ResultMalformed
	ResultUnknownDevice
	ResultMIC
	ResultReplay
	ResultDevNonceReplay
	ResultIgnored
	ResultStoreError
)

var resultNames = [...]string{"", "ok", "joined", "retransmission", "malformed", "unknown device", "mic mismatch", "replay", "devnonce replay", "ignored", "store error"}

// String names the verdict.
func (r Result) String() string {
	if r > 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// MarshalText writes String.
func (r Result) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Frame is one processed frame, for a frame log.
type Frame struct {
	Time      time.Time     `json:"time"`
	Gateway   lorawan.EUI64 `json:"gateway"`
	Gateways  int           `json:"gateways"`
	MType     string        `json:"mtype"`
	Device    string        `json:"device,omitempty"`
	DevEUI    string        `json:"dev_eui,omitempty"`
	DevAddr   string        `json:"dev_addr,omitempty"`
	FCnt      uint32        `json:"fcnt"`
	FPort     int           `json:"fport"` // -1: none
	Size      int           `json:"size"`
	RSSI      int           `json:"rssi"`
	SNR       float64       `json:"snr"`
	Frequency uint32        `json:"frequency_hz"`
	DataRate  string        `json:"data_rate"`
	Result    Result        `json:"result"`
	Error     string        `json:"error,omitempty"`
	Downlink  bool          `json:"downlink"`
}
