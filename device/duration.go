package device

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration that site files write as a Go duration string
// ("500ms", "10s", "3m") in both YAML and JSON.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns the compact Go form of d: "3m" rather than "3m0s", "1h"
// rather than "1h0m0s". time.ParseDuration reads it back exactly.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText encodes d in its compact Go form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration such as "500ms", "10s", "3m" or "1h30m".
// Empty text is zero, which means "use the default" wherever a default exists.
func (d *Duration) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q (write a Go duration such as 500ms, 10s, 3m or 1h30m)", text)
	}
	*d = Duration(v)
	return nil
}
