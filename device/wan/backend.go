package wan

import (
	"fmt"
	"log/slog"

	"github.com/sitegate/sitegate/device/clockwork"
)

// Backend names for `sitegate run --net`.
const (
	BackendSim   = "sim"
	BackendLinux = "linux"
)

// NewBackend returns the backend called name: BackendSim (the default
// when name is empty) or BackendLinux with default options. clk drives
// the sim's counters. Close a linux backend when done (it implements
// io.Closer).
func NewBackend(name string, clk clockwork.Clock, log *slog.Logger) (Backend, error) {
	switch name {
	case "", BackendSim:
		return NewSim(SimOptions{Clock: clk}), nil
	case BackendLinux:
		return newLinuxBackend(log)
	}
	return nil, fmt.Errorf("unknown network backend %q (valid: %s, %s)", name, BackendSim, BackendLinux)
}
