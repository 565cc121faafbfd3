//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package clock

import (
	"errors"
	"fmt"
	"time"
)

// setSystemTime is not implemented on this system.
func setSystemTime(time.Time) error {
	return fmt.Errorf("set the system clock: %w on this operating system (run without --set-clock)", errors.ErrUnsupported)
}
