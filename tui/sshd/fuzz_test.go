package sshd

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// FuzzScanVersion feeds client bytes, cut into chunks anywhere, to the
// version-line scanner: it must find the version line exactly when a
// complete line of the input starts with "SSH-" (RFC 4253 4.2), whatever
// the chunking, and never panic.
func FuzzScanVersion(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), uint8(3))
	f.Add([]byte("hello\r\nSSH-2.0-x\r\n"), uint8(1))
	f.Add([]byte("SSH-2.0-never-ends"), uint8(7))
	f.Add([]byte("\n\nSSH\n-SSH-\nSSH-\n"), uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := newTrackedConn(a, "192.0.2.1", nil, time.Now().Add(time.Hour))
		step := int(cut)%16 + 1
		for i := 0; i < len(data); i += step {
			c.scanVersion(data[i:min(i+step, len(data))])
		}
		want := false
		lines := bytes.Split(data, []byte("\n"))
		for _, line := range lines[:len(lines)-1] { // the last one has no newline yet
			if bytes.HasPrefix(line, []byte("SSH-")) {
				want = true
				break
			}
		}
		if got := c.versionSeen.Load(); got != want {
			t.Fatalf("version line seen %v, want %v, in %q cut every %d", got, want, data, step)
		}
	})
}
