package clock

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testServer is a small NTP server on a loopback UDP port that answers
// client (mode 3) packets with server (mode 4) packets whose clock is off by
// a configurable offset, with a configurable stratum, leap indicator and
// kiss code. It is how the tests make lying, unsynchronised and refusing
// servers.
type testServer struct {
	Addr string
	conn *net.UDPConn
	hits atomic.Int64

	mu      sync.Mutex
	offset  time.Duration
	stratum uint8
	leap    uint8
	kiss    string // with stratum 0: the kiss code
	silent  bool   // read and never answer
	wg      sync.WaitGroup
}

type serverConfig struct {
	offset  time.Duration
	stratum uint8 // 0 means 2 unless kiss is set
	leap    uint8
	kiss    string
	silent  bool
}

func startServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{Addr: c.LocalAddr().String(), conn: c}
	s.set(cfg)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { c.Close(); s.wg.Wait() })
	return s
}

func (s *testServer) set(cfg serverConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset, s.stratum, s.leap, s.kiss, s.silent = cfg.offset, cfg.stratum, cfg.leap, cfg.kiss, cfg.silent
	if s.stratum == 0 && s.kiss == "" {
		s.stratum = 2
	}
}

func (s *testServer) serve() {
	defer s.wg.Done()
	buf := make([]byte, 512)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n < 48 || buf[0]&7 != 3 {
			continue
		}
		s.hits.Add(1)
		s.mu.Lock()
		offset, stratum, leap, kiss, silent := s.offset, s.stratum, s.leap, s.kiss, s.silent
		s.mu.Unlock()
		if silent {
			continue
		}
		recv := time.Now().Add(offset)
		var out [48]byte
		version := (buf[0] >> 3) & 7
		out[0] = leap<<6 | version<<3 | 4
		out[1] = stratum
		out[2] = 6                                                               // poll 64 s
		out[3] = 0xec                                                            // precision 2^-20 s
		binary.BigEndian.PutUint32(out[4:], 0x0000_0080)                         // root delay ≈ 2 ms
		binary.BigEndian.PutUint32(out[8:], 0x0000_0080)                         // root dispersion ≈ 2 ms
		copy(out[12:16], "TEST")                                                 // reference id
		binary.BigEndian.PutUint64(out[16:], ntpTime(recv.Add(-16*time.Second))) // reference time
		copy(out[24:32], buf[40:48])                                             // origin = the client's transmit
		binary.BigEndian.PutUint64(out[32:], ntpTime(recv))
		binary.BigEndian.PutUint64(out[40:], ntpTime(time.Now().Add(offset)))
		if kiss != "" {
			copy(out[12:16], kiss)
		}
		_, _ = s.conn.WriteToUDP(out[:], from)
	}
}

// ntpTime is t as an NTP timestamp (seconds since 1900, 32.32 fixed point).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return secs<<32 | frac
}

// closedAddr is a loopback UDP address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}
