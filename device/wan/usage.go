package wan

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sitegate/sitegate/device"
)

// BytesPerMB is the size of the MB of monthly_limit_mb: a binary megabyte,
// as mobile operators bill data.
const BytesPerMB = 1 << 20

// Usage alert levels, in percent of the monthly limit.
const (
	UsageWarn     = 80
	UsageExceeded = 100
)

// simUsage is one SIM's data usage in one calendar month.
type simUsage struct {
	Month   string            `json:"month"`   // 2026-11, in the site's time zone
	Bytes   uint64            `json:"bytes"`   // received + sent
	Level   int               `json:"level"`   // highest alert level raised this month (0, 80, 100)
	Raised  map[int]time.Time `json:"raised"`  // when each level was raised
	Updated time.Time         `json:"updated"` // last counted
}

// UsageAlert is a SIM's data usage at or above 80 % of its monthly limit.
type UsageAlert struct {
	Slot    int       `json:"slot"`
	Level   int       `json:"level"` // UsageWarn or UsageExceeded
	UsedMB  float64   `json:"used_mb"`
	LimitMB int       `json:"limit_mb"`
	Month   string    `json:"month"`
	Since   time.Time `json:"since"`
}

// Severity is warning at 80 %, critical at 100 %.
func (a UsageAlert) Severity() string {
	if a.Level >= UsageExceeded {
		return "critical"
	}
	return "warning"
}

// Message says what the alert is about, e.g. "SIM 1 has used 1640.5 of
// its 2048 MB this month (80%)".
func (a UsageAlert) Message() string {
	return fmt.Sprintf("SIM %d has used %s of its %d MB this month (%d%%)", a.Slot, strconv.FormatFloat(a.UsedMB, 'f', -1, 64), a.LimitMB, int(a.UsedMB*100/float64(a.LimitMB)))
}

// Alert returns the alert as health reports it, under the health rule
// data.limit (device/health.RuleDataLimit).
func (a UsageAlert) Alert() device.Alert {
	return device.Alert{Rule: "data.limit", Severity: a.Severity(), Since: a.Since, Detail: a.Message()}
}

// SIMUsage is one SIM's data usage this month, for the console's bars.
type SIMUsage struct {
	Slot    int     `json:"slot"`
	APN     string  `json:"apn"`
	Active  bool    `json:"active"`
	UsedMB  float64 `json:"used_mb"`
	LimitMB int     `json:"limit_mb,omitempty"` // 0: no limit
	Month   string  `json:"month"`
	Usable  bool    `json:"usable"` // not known to be without internet lately
}

func mb(b uint64) float64 { return math.Round(float64(b)/BytesPerMB*10) / 10 }

// counterDelta returns how much a counter grew from prev to cur. A lower
// reading means the counter restarted (interface re-created, modem
// reset) or, for a 32-bit counter close to its top, wrapped.
func counterDelta(prev, cur uint64) uint64 {
	if cur >= prev {
		return cur - prev
	}
	if prev <= math.MaxUint32 {
		if wrapped := (math.MaxUint32 - prev) + cur + 1; wrapped < 1<<30 {
			return wrapped
		}
	}
	return cur
}

// levelOf returns the alert level that used bytes reach of a limit in MB.
func levelOf(used uint64, limitMB int) int {
	if limitMB <= 0 {
		return 0
	}
	limit := uint64(limitMB) * BytesPerMB
	switch {
	case used >= limit:
		return UsageExceeded
	case used*100 >= limit*UsageWarn:
		return UsageWarn
	}
	return 0
}

func monthOf(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01") }
