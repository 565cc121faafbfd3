//go:build !unix

package bacnet

import "syscall"

// reuseAddr leaves the socket as it is where SO_REUSEADDR is not portable.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
