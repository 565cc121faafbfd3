//go:build linux

package bacnet

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenSerial opens an MS/TP line: raw 8N1 at baud, any rate (BOTHER), as
// an *os.File whose reads honour deadlines, so that the master node stops
// its reader without closing the line under it.
func OpenSerial(path string, baud int) (io.ReadWriteCloser, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var inner error
	err = rc.Control(func(fd uintptr) { inner = setRaw(int(fd), baud) })
	if err == nil {
		err = inner
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("set %s to %d baud 8N1: %w", path, baud, err)
	}
	return f, nil
}

func setRaw(fd, baud int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS2)
	if err != nil {
		return err
	}
	tio.Iflag = 0
	tio.Oflag = 0
	tio.Lflag = 0
	tio.Cflag = tio.Cflag&^(unix.CSIZE|unix.PARENB|unix.CSTOPB|unix.CBAUD|unix.CRTSCTS) | unix.CS8 | unix.CREAD | unix.CLOCAL | unix.BOTHER
	tio.Ispeed, tio.Ospeed = uint32(baud), uint32(baud)
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS2, tio)
}
