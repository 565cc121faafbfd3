//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package clock

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// setSystemTime steps the system's wall clock to t with settimeofday(2).
func setSystemTime(t time.Time) error {
	tv := syscall.NsecToTimeval(t.UnixNano())
	if err := syscall.Settimeofday(&tv); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("set the system clock: %w (only root may; run as root, or without --set-clock)", err)
		}
		return fmt.Errorf("set the system clock: %w", err)
	}
	return nil
}
