package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// takeForeground moves the demo into a process group of its own and gives
// it the terminal, as a job-control shell does for a job, and returns what
// undoes it. Why: `make run` starts the demo from make, and on Ctrl-C the
// terminal sends SIGINT to the whole foreground group; make then kills
// itself with SIGINT after its child, so `make run` never exits 0 however
// cleanly the demo stops. With the terminal the demo's alone, only the
// demo hears Ctrl-C, stops cleanly and exits 0, and so does make. Nothing
// happens when standard input is not a terminal or the demo is not in the
// foreground (scripts, tests, a service manager).
func takeForeground() (restore func()) {
	none := func() {}
	fd := int(os.Stdin.Fd())
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return none
	}
	if err := unix.Setpgid(0, 0); err != nil {
		return none // a session or group leader already
	}
	// Changing the terminal's group from what becomes a background group
	// sends SIGTTOU unless it is ignored.
	signal.Ignore(unix.SIGTTOU)
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp()); err != nil {
		_ = unix.Setpgid(0, fg)
		return none
	}
	return func() {
		// Hand the terminal back to the group that started the demo.
		_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, fg)
	}
}
