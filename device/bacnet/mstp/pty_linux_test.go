//go:build linux

package mstp

import (
	"os"
	"testing"

	"github.com/sitegate/sitegate/device/bacnet/internal/ptytest"
)

// linePair opens a pseudo-terminal pair standing in for an RS-485 line.
func linePair(t testing.TB) (a, b *os.File) { return ptytest.Pair(t) }
