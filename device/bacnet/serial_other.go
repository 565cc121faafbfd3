//go:build !linux

package bacnet

import (
	"errors"
	"io"
)

// OpenSerial is Linux only: the gateway runs Linux.
func OpenSerial(path string, baud int) (io.ReadWriteCloser, error) {
	return nil, errors.New("MS/TP serial lines are supported on Linux only")
}
