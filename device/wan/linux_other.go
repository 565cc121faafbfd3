//go:build !linux

package wan

import (
	"errors"
	"log/slog"

	"github.com/sitegate/sitegate/device/wifi"
)

// LinuxOptions configure the linux backend.
type LinuxOptions struct {
	Runner                 wifi.Runner
	WPADir, WPACtrl        string
	BaseMetric, MetricStep int
	ProcSys                string
	Logger                 *slog.Logger
}

// Linux is the network backend of a real gateway; it needs Linux.
type Linux struct{}

// Close does nothing.
func (*Linux) Close() error { return nil }

var errNeedsLinux = errors.New("the linux network backend needs Linux; use --net sim")

// NewLinux fails: the linux backend needs Linux.
func NewLinux(LinuxOptions) (*Linux, error) { return nil, errNeedsLinux }

func newLinuxBackend(*slog.Logger) (Backend, error) { return nil, errNeedsLinux }
