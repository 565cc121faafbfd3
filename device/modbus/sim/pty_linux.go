//go:build linux

package sim

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair standing in for an RS-485 line in tests and
// demos: serve Master with ServeRTU, and open Path (the slave side, e.g.
// /dev/pts/7) in the client as if it were /dev/ttyS1.
//
// The pair is opened here rather than with github.com/creack/pty because
// creack calls Fd() on the master, which puts it in blocking mode and so
// takes away the read deadlines that ServeRTU needs to stop promptly.
type PTY struct {
	Master *os.File
	Path   string
	// slave is held open for the pair's lifetime: on Linux the master
	// reads EIO whenever no slave descriptor is open, which would end
	// ServeRTU each time a client closes its port.
	slave *os.File
}

// OpenPTY opens a pseudo-terminal pair with the slave in raw mode (no echo,
// no line editing, 8 bits), as a serial port is.
func OpenPTY() (*PTY, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	var n uint32
	if err := control(master, func(fd int) error {
		var err error
		if n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN); err != nil {
			return err
		}
		return unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0) // unlock the slave
	}); err != nil {
		master.Close()
		return nil, fmt.Errorf("open pty: %w", err)
	}
	path := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	slave, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("open pty slave %s: %w", path, err)
	}
	if err := control(slave, makeRaw); err != nil {
		slave.Close()
		master.Close()
		return nil, fmt.Errorf("set pty slave %s raw: %w", path, err)
	}
	return &PTY{Master: master, Path: path, slave: slave}, nil
}

// Close closes both sides.
func (p *PTY) Close() error {
	return errors.Join(p.slave.Close(), p.Master.Close())
}

// control runs fn on f's descriptor without Fd(), which would make f
// blocking.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// makeRaw is cfmakeraw(3).
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
