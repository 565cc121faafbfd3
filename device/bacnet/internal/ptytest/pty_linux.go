//go:build linux

// Package ptytest opens pseudo-terminal pairs standing in for RS-485
// lines in the MS/TP tests: two raw 8-bit ends, both pollable, so that
// read deadlines work on them as on a serial port opened by
// bacnet.OpenSerial.
package ptytest

import (
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Pair opens a pseudo-terminal pair; both ends close when the test ends.
// A machine without pseudo-terminals skips the test.
func Pair(t testing.TB) (a, b *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var num uint32
	err = onFD(ptmx, func(fd int) error {
		var err error
		if num, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN); err != nil {
			return err
		}
		return unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	})
	if err != nil {
		ptmx.Close()
		t.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(num), 10), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		t.Fatal(err)
	}
	for _, f := range []*os.File{ptmx, pts} {
		if err := onFD(f, raw); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { pts.Close(); ptmx.Close() })
	return ptmx, pts
}

func onFD(f *os.File, fn func(int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var inner error
	if err := rc.Control(func(fd uintptr) { inner = fn(int(fd)) }); err != nil {
		return err
	}
	return inner
}

// raw turns off every line discipline feature: octets pass as they are.
func raw(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag = 0
	tio.Oflag = 0
	tio.Lflag = 0
	tio.Cflag = tio.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8 | unix.CREAD | unix.CLOCAL
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}
