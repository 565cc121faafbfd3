package format

import (
	"fmt"
	"time"
)

// Ago shows how long before now t was, compactly enough for a table
// column (at most 10 cells): "never" for the zero time, "just now" within
// a second (or for a t after now: clocks of different sources disagree
// by a little), then "12s ago", "4m12s ago", "5h3m ago", "3d ago".
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds ago", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm ago", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

// MHz shows a frequency given in Hz in MHz, to the kHz: "868.100 MHz".
func MHz(hz uint32) string {
	return fmt.Sprintf("%d.%03d MHz", hz/1_000_000, hz%1_000_000/1000)
}
