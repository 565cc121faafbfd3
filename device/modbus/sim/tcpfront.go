package sim

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// The TCP front. simonvetter's server answers the data functions (1-6,
// 15, 16) but no others, so a scan over TCP would never learn what a unit
// is. The front accepts the clients, answers device identification
// (function 43/14) and report server id (17) itself with the same code as
// the RTU server, and relays every other request, byte for byte, to the
// simonvetter server on a loopback port of its own.

// Bounds of the TCP front.
const (
	// mbapHeader is the Modbus TCP header: transaction id, protocol id,
	// length, unit id.
	mbapHeader = 7
	// maxPDU is the largest Modbus PDU (function code and data).
	maxPDU = 253
	// upstreamDial bounds the dial to the internal server.
	upstreamDial = 2 * time.Second
)

// answersItself reports whether the front answers function fc itself.
func answersItself(fc byte) bool { return fc == 0x2B || fc == 0x11 }

// serveFront accepts clients on ln until the server closes, each relayed to
// upstream.
func (s *Server) serveFront(ln net.Listener, upstream string) {
	defer s.wg.Done()
	slots := make(chan struct{}, s.maxClients)
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Close
		}
		select {
		case slots <- struct{}{}:
		default:
			c.Close() // as many clients as allowed are connected
			continue
		}
		if !s.enter() {
			c.Close()
			return
		}
		go func() {
			defer s.wg.Done()
			defer func() { <-slots }()
			s.frontConn(c, upstream)
		}()
	}
}

// frontConn serves one client: one request at a time, as Modbus TCP
// clients send them.
func (s *Server) frontConn(c net.Conn, upstream string) {
	var mu sync.Mutex // guards up against the closer below
	var up net.Conn
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		c.Close()
		if up != nil {
			up.Close()
		}
	}
	defer closeAll()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Close ends every connection, idle or waiting for an answer.
		select {
		case <-s.done:
			closeAll()
		case <-stop:
		}
	}()
	hdr := make([]byte, mbapHeader)
	pdu := make([]byte, maxPDU)
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.idle))
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[4:6])) - 1
		if binary.BigEndian.Uint16(hdr[2:4]) != 0 || n < 1 || n > maxPDU {
			return // not Modbus TCP: drop it, as simonvetter does
		}
		if _, err := io.ReadFull(c, pdu[:n]); err != nil {
			return
		}
		if answersItself(pdu[0]) {
			if err := s.answer(c, hdr, pdu[:n]); err != nil {
				return
			}
			continue
		}
		mu.Lock()
		conn := up
		mu.Unlock()
		if conn == nil {
			var err error
			if conn, err = net.DialTimeout("tcp", upstream, upstreamDial); err != nil {
				return
			}
			mu.Lock()
			up = conn
			mu.Unlock()
		}
		if err := relay(conn, c, hdr, pdu[:n]); err != nil {
			// The server dropped the request (a Silent fault) or is
			// closing: drop the client the same way.
			return
		}
	}
}

// answer replies to an identification request of the unit in hdr.
func (s *Server) answer(c net.Conn, hdr, pdu []byte) error {
	unit := hdr[6]
	var reply []byte
	if m := s.Model(unit); m == nil {
		// Nobody is behind that unit id: what a TCP gateway says.
		reply = []byte{pdu[0] | 0x80, byte(GatewayTargetNoResponse)}
	} else {
		var f Faults
		reply = s.execPDU(m, &f, pdu)
	}
	out := make([]byte, mbapHeader, mbapHeader+len(reply))
	copy(out, hdr[:4])
	binary.BigEndian.PutUint16(out[4:6], uint16(len(reply)+1))
	out[6] = unit
	_, err := c.Write(append(out, reply...))
	return err
}

// relay sends one request upstream and its answer back.
func relay(up, c net.Conn, hdr, pdu []byte) error {
	if _, err := up.Write(append(append([]byte{}, hdr...), pdu...)); err != nil {
		return err
	}
	resp := make([]byte, mbapHeader+maxPDU)
	if _, err := io.ReadFull(up, resp[:mbapHeader]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(resp[4:6])) - 1
	if n < 1 || n > maxPDU {
		return errors.New("malformed answer from the internal server")
	}
	if _, err := io.ReadFull(up, resp[mbapHeader:mbapHeader+n]); err != nil {
		return err
	}
	_, err := c.Write(resp[:mbapHeader+n])
	return err
}
