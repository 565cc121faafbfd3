//go:build unix

package bacnet

import (
	"errors"
	"syscall"
)

// reuseAddr sets SO_REUSEADDR: every receive-only broadcast socket of the
// host's BACnet nodes on one port then hears the subnet's broadcasts.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}
