package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sitegate/sitegate/device"
)

// Modbus TCP (Modbus Messaging on TCP/IP Implementation Guide V1.0b, §3.1):
// every PDU travels behind a 7-byte MBAP header — transaction id, protocol
// id (0), length of what follows (unit id and PDU), unit id.
const (
	mbapHeader = 7
	// maxMBAPLength is the largest MBAP length field: the unit id and the
	// largest PDU.
	maxMBAPLength = 1 + maxPDU
	// maxADU is the largest Modbus TCP frame.
	maxADU = mbapHeader - 1 + maxMBAPLength
)

// tcpLink is one Modbus TCP connection, used by its endpoint's goroutine
// only. It keeps one request outstanding and reuses its buffers, so a
// request costs one write, the reads its answer needs and one read
// deadline, and allocates nothing.
//
// Only the read has a deadline: with one request of at most maxADU bytes
// outstanding, and the connection dropped after any failed exchange, the
// socket's send buffer cannot fill, so a write never waits.
type tcpLink struct {
	address string
	timeout time.Duration
	unit    byte
	conn    net.Conn
	tid     uint16
	wbuf    [maxADU]byte
	rbuf    [maxADU]byte
	batch   []byte // exchangeBatch's requests, then its answers
}

func newTCPLink(address string, timeout time.Duration) *tcpLink {
	return &tcpLink{address: address, timeout: timeout}
}

func (l *tcpLink) setUnit(u byte)             { l.unit = u }
func (l *tcpLink) setTimeout(d time.Duration) { l.timeout = d }

// reset drops the connection: after a timeout the late answer may still
// arrive and must not be read as the answer to the next request.
func (l *tcpLink) reset() {
	if l.conn != nil {
		_ = l.conn.Close()
		l.conn = nil
	}
}

func (l *tcpLink) close() { l.reset() }

// noAnswer is the error of a request the server did not answer in time.
func noAnswer() *RequestError {
	return &RequestError{Kind: KindTimeout, Err: errors.New("no answer within the timeout")}
}

// connect dials the server unless the link is connected.
func (l *tcpLink) connect() error {
	if l.conn != nil {
		return nil
	}
	c, err := net.DialTimeout("tcp", l.address, l.timeout)
	if err != nil {
		return &RequestError{Kind: KindConnection, Err: fmt.Errorf("connect to %s: %w", l.address, err)}
	}
	l.conn = c
	return nil
}

// encodeTCPRequest writes the frame of a request into dst (at least
// mbapHeader+1+len(data) bytes) and returns its length.
func encodeTCPRequest(dst []byte, tid uint16, unit, fc byte, data []byte) int {
	binary.BigEndian.PutUint16(dst[0:], tid)
	binary.BigEndian.PutUint16(dst[2:], 0)
	binary.BigEndian.PutUint16(dst[4:], uint16(2+len(data)))
	dst[6] = unit
	dst[7] = fc
	return mbapHeader + 1 + copy(dst[8:], data)
}

// decodeTCPResponse looks at the bytes received so far for the answer to
// transaction tid of unit. It returns the answer's PDU once the frame is
// complete, nil while more bytes are needed, and a *RequestError (framing)
// when the bytes cannot be that answer.
func decodeTCPResponse(b []byte, tid uint16, unit byte) ([]byte, error) {
	if len(b) < mbapHeader {
		return nil, nil
	}
	length := int(binary.BigEndian.Uint16(b[4:6]))
	switch {
	case binary.BigEndian.Uint16(b[2:4]) != 0:
		return nil, framing(fmt.Sprintf("protocol id %d, want 0", binary.BigEndian.Uint16(b[2:4])))
	case length < 2 || length > maxMBAPLength:
		return nil, framing(fmt.Sprintf("length %d outside 2..%d", length, maxMBAPLength))
	case binary.BigEndian.Uint16(b[0:2]) != tid:
		return nil, framing(fmt.Sprintf("transaction id %d, want %d", binary.BigEndian.Uint16(b[0:2]), tid))
	case b[6] != unit:
		return nil, framing(fmt.Sprintf("unit id %d, want %d", b[6], unit))
	case len(b) < mbapHeader-1+length:
		return nil, nil
	case len(b) > mbapHeader-1+length:
		return nil, framing(fmt.Sprintf("%d bytes after the frame", len(b)-(mbapHeader-1+length)))
	}
	return b[mbapHeader : mbapHeader-1+length], nil
}

// exchange sends one request PDU to the current unit and returns the data
// of its answer, which stays valid until the next exchange.
func (l *tcpLink) exchange(fc byte, data []byte) ([]byte, error) {
	if 1+len(data) > maxPDU {
		return nil, fmt.Errorf("a request of %d bytes: %w (at most %d)", 1+len(data), errRequestBounds, maxPDU)
	}
	if err := l.connect(); err != nil {
		return nil, err
	}
	l.tid++
	n := encodeTCPRequest(l.wbuf[:], l.tid, l.unit, fc, data)
	if err := l.conn.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
		return nil, &RequestError{Kind: KindConnection, Err: fmt.Errorf("set deadline: %w", err)}
	}
	if _, err := l.conn.Write(l.wbuf[:n]); err != nil {
		return nil, &RequestError{Kind: KindConnection, Err: fmt.Errorf("write to %s: %w", l.address, err)}
	}
	got := 0
	for {
		m, err := l.conn.Read(l.rbuf[got:])
		got += m
		pdu, ferr := decodeTCPResponse(l.rbuf[:got], l.tid, l.unit)
		switch {
		case ferr != nil:
			return nil, ferr
		case pdu != nil:
			return responseData(fc, pdu)
		case err == nil:
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if got == 0 {
				return nil, noAnswer()
			}
			return nil, framing(fmt.Sprintf("truncated answer: %d bytes within the timeout", got))
		}
		return nil, &RequestError{Kind: KindConnection, Err: fmt.Errorf("read from %s: %w", l.address, err)}
	}
}

// MaxInFlight bounds the requests a TCP connection may have outstanding
// at once (a bus's max_in_flight, device.MaxBusInFlight): Modbus TCP
// allows several, matched by transaction id, but a server may answer only
// one at a time, so a batch costs the peer no more than this many queued
// requests.
const MaxInFlight = device.MaxBusInFlight

// batchReq is one request of a pipelined batch and, after exchangeBatch,
// its outcome.
type batchReq struct {
	unit, fc byte
	data     []byte
	// answered is false when the batch ended before this request's answer
	// (the connection failed or an earlier request timed out); the caller
	// sends it again alone.
	answered bool
	ans      []byte // the answer's data (the request's own buffer)
	err      error  // a *RequestError, when answered
	at       time.Time
}

// exchangeBatch sends every request of reqs (at most MaxInFlight) back to
// back in one write and reads their answers, in whatever order the server
// sends them. The read deadline is the timeout from the last answer, so a
// server that serves one request at a time has the timeout for each. When
// no answer comes in time, the first unanswered request is the one that
// timed out (a server answers in order); the rest stay unanswered. It
// returns the error that ended the batch early (the endpoint then resets
// the link), or nil.
func (l *tcpLink) exchangeBatch(reqs []*batchReq) error {
	if len(reqs) == 0 || len(reqs) > MaxInFlight {
		return fmt.Errorf("a batch of %d requests: %w (1..%d)", len(reqs), errRequestBounds, MaxInFlight)
	}
	if err := l.connect(); err != nil {
		return err
	}
	if l.batch == nil {
		l.batch = make([]byte, MaxInFlight*maxADU)
	}
	first := l.tid + 1
	n := 0
	for _, r := range reqs {
		if 1+len(r.data) > maxPDU {
			return fmt.Errorf("a request of %d bytes: %w (at most %d)", 1+len(r.data), errRequestBounds, maxPDU)
		}
		r.answered, r.err, r.ans = false, nil, r.ans[:0]
		l.tid++
		n += encodeTCPRequest(l.batch[n:], l.tid, r.unit, r.fc, r.data)
	}
	if err := l.conn.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
		return &RequestError{Kind: KindConnection, Err: fmt.Errorf("set deadline: %w", err)}
	}
	if _, err := l.conn.Write(l.batch[:n]); err != nil {
		return &RequestError{Kind: KindConnection, Err: fmt.Errorf("write to %s: %w", l.address, err)}
	}
	buf := l.batch[:cap(l.batch)]
	got, left := 0, len(reqs)
	for left > 0 {
		m, err := l.conn.Read(buf[got:])
		got += m
		used, taken, ferr := takeAnswers(buf[:got], reqs, first)
		if ferr != nil {
			return ferr
		}
		got = copy(buf, buf[used:got])
		left -= taken
		if taken > 0 && left > 0 {
			if err := l.conn.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
				return &RequestError{Kind: KindConnection, Err: fmt.Errorf("set deadline: %w", err)}
			}
		}
		if left == 0 {
			break
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			for _, r := range reqs {
				if !r.answered {
					r.answered, r.at = true, time.Now()
					r.err = noAnswer()
					break
				}
			}
			return noAnswer()
		}
		return &RequestError{Kind: KindConnection, Err: fmt.Errorf("read from %s: %w", l.address, err)}
	}
	if got > 0 {
		return framing(fmt.Sprintf("%d bytes after the last answer", got))
	}
	return nil
}

// takeAnswers takes the complete answers at the front of buf for the batch
// reqs, whose transaction ids start at first. It returns the bytes it
// took, how many answers they held, and a *RequestError (framing) when buf
// holds what cannot be an answer still awaited in the batch.
func takeAnswers(buf []byte, reqs []*batchReq, first uint16) (used, taken int, err error) {
	for len(buf)-used >= mbapHeader {
		b := buf[used:]
		tid := binary.BigEndian.Uint16(b[0:2])
		i := int(tid - first) // uint16 arithmetic: ids wrap around
		if i >= len(reqs) || reqs[i].answered {
			return used, taken, framing(fmt.Sprintf("transaction id %d, want one of %d..%d not answered yet", tid, first, first+uint16(len(reqs))-1))
		}
		r := reqs[i]
		size := mbapHeader - 1 + int(binary.BigEndian.Uint16(b[4:6]))
		pdu, ferr := decodeTCPResponse(b[:min(len(b), max(size, mbapHeader))], tid, r.unit)
		if ferr != nil {
			return used, taken, ferr
		}
		if pdu == nil {
			break // the rest of this frame has not arrived yet
		}
		data, rerr := responseData(r.fc, pdu)
		r.answered, r.at, r.ans, r.err = true, time.Now(), append(r.ans, data...), rerr
		used += size
		taken++
	}
	return used, taken, nil
}
