package modbus

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	mb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"

	"github.com/sitegate/sitegate/device"
)

// Kinds of request failure, as counted in device statistics.
const (
	KindTimeout    = "timeout"
	KindException  = "exception"
	KindCRC        = "crc"
	KindFraming    = "framing"
	KindConnection = "connection"
)

// RequestError is a failed request with its kind (and, for exceptions,
// the exception code).
type RequestError struct {
	Kind string
	Err  error
	Code byte
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// Exception returns the Modbus exception code of err, or 0.
func Exception(err error) byte {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

var exceptionNames = map[byte]string{
	1:  "illegal function",
	2:  "illegal data address",
	3:  "illegal data value",
	4:  "server device failure",
	5:  "acknowledge",
	6:  "server device busy",
	8:  "memory parity error",
	10: "gateway path unavailable",
	11: "gateway target device failed to respond",
}

// ExceptionText names a Modbus exception code: "exception 2: illegal data
// address".
func ExceptionText(code byte) string {
	if n, ok := exceptionNames[code]; ok {
		return fmt.Sprintf("exception %d: %s", code, n)
	}
	return fmt.Sprintf("exception %d", code)
}

// classify wraps a client error with its kind and a message for people.
func classify(err error) *RequestError {
	if err == nil {
		return nil
	}
	var re *RequestError
	if errors.As(err, &re) {
		return re // every exception answer is one (responseData)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, serial.ErrTimeout) {
		return noAnswer()
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "crc"):
		return &RequestError{Kind: KindCRC, Err: errors.New("bad CRC in the answer")}
	// goburrow's RTU packager (Verify, Decode); the TCP client returns
	// RequestErrors of its own.
	case strings.Contains(msg, "slave id"), strings.Contains(msg, "length"), strings.Contains(msg, "response data"),
		strings.Contains(msg, "does not match"), errors.Is(err, io.ErrUnexpectedEOF):
		return &RequestError{Kind: KindFraming, Err: fmt.Errorf("malformed answer: %s", strings.TrimPrefix(msg, "modbus: "))}
	}
	return &RequestError{Kind: KindConnection, Err: err}
}

// link is one connection to a bus: a TCP endpoint or a serial line. Only
// its endpoint's owner goroutine uses it.
type link interface {
	// exchange sends a request PDU (function code fc and its data) to the
	// current unit and returns the data of the answer, which may be the
	// link's own buffer: valid until the next exchange. An exception
	// answer is a *RequestError of KindException.
	exchange(fc byte, data []byte) ([]byte, error)
	setUnit(u byte)
	setTimeout(d time.Duration)
	// reset drops the connection (TCP) or resynchronises the line (RTU):
	// after a timeout a late reply may still arrive, and must not be read
	// as the answer to the next request.
	reset()
	close()
}

var (
	_ link = (*tcpLink)(nil)
	_ link = (*rtuLink)(nil)
)

// rtuLink keeps goburrow's RTU packager (framing and CRC) over our own
// transporter: goburrow's sleeps a fixed estimate before reading, which
// keeps a cycle well above the wire time, and connects without its mutex.
type rtuLink struct {
	h *mb.RTUClientHandler // used as the packager only
	t *rtuTransport
}

func newRTULink(bus device.Bus, timeout time.Duration, open func(*serial.Config) (io.ReadWriteCloser, error)) *rtuLink {
	h := mb.NewRTUClientHandler(bus.Device)
	parity := map[device.Parity]string{device.ParityNone: "N", device.ParityEven: "E", device.ParityOdd: "O"}[bus.Parity]
	cfg := serial.Config{Address: bus.Device, BaudRate: bus.Baud, DataBits: bus.DataBits, StopBits: bus.StopBits, Parity: parity,
		// Reads wait in short slices so the transporter can keep its own
		// deadline.
		Timeout: 20 * time.Millisecond}
	t := &rtuTransport{cfg: cfg, timeout: timeout, open: open}
	return &rtuLink{h: h, t: t}
}

func (l *rtuLink) setUnit(u byte)             { l.h.SlaveId = u }
func (l *rtuLink) setTimeout(d time.Duration) { l.t.timeout = d }
func (l *rtuLink) reset()                     { l.t.flush() }
func (l *rtuLink) close()                     { l.t.close() }

func (l *rtuLink) exchange(fc byte, data []byte) ([]byte, error) {
	req, err := l.h.Encode(&mb.ProtocolDataUnit{FunctionCode: fc, Data: data})
	if err != nil {
		return nil, err
	}
	resp, err := l.t.Send(req)
	if err != nil {
		return nil, err
	}
	if err := l.h.Verify(req, resp); err != nil {
		return nil, err
	}
	pdu, err := l.h.Decode(resp) // checks the CRC
	if err != nil {
		return nil, err
	}
	// Unit id, the PDU, then the CRC: Verify has checked the length.
	return responseData(fc, resp[1:1+1+len(pdu.Data)])
}

// Serial framing (Modbus over serial line, §2.5): a character is 11 bits
// (start, 8 data, parity or second stop, stop) and frames are separated by
// at least 3.5 character times, fixed at 1.75 ms above 19200 baud.
func charTime(baud int) time.Duration {
	if baud <= 0 {
		baud = 9600
	}
	return time.Duration(11 * int64(time.Second) / int64(baud))
}

func frameGap(baud int) time.Duration {
	if baud > 19200 {
		return 1750 * time.Microsecond
	}
	return charTime(baud) * 7 / 2
}

// WireTime is the least time one request/response exchange takes on the
// line: both frames' characters plus the silent interval after each.
func WireTime(baud, requestBytes, responseBytes int) time.Duration {
	return time.Duration(requestBytes+responseBytes)*charTime(baud) + 2*frameGap(baud)
}

// rtuTransport is a goburrow Transporter that reads the answer as soon as
// it arrives and keeps the inter-frame silence, instead of sleeping a fixed
// estimate.
type rtuTransport struct {
	cfg     serial.Config
	open    func(*serial.Config) (io.ReadWriteCloser, error)
	port    io.ReadWriteCloser
	timeout time.Duration
	lastIO  time.Time
	buf     [260]byte
}

func openSerial(c *serial.Config) (io.ReadWriteCloser, error) { return serial.Open(c) }

func (t *rtuTransport) close() {
	if t.port != nil {
		_ = t.port.Close()
		t.port = nil
	}
}

// Send writes a request and reads its answer.
func (t *rtuTransport) Send(req []byte) ([]byte, error) {
	if t.port == nil {
		open := t.open
		if open == nil {
			open = openSerial
		}
		p, err := open(&t.cfg)
		if err != nil {
			return nil, &RequestError{Kind: KindConnection, Err: fmt.Errorf("open serial device %s: %v", t.cfg.Address, err)}
		}
		t.port = p
	}
	if wait := time.Until(t.lastIO.Add(frameGap(t.cfg.BaudRate))); wait > 0 {
		time.Sleep(wait)
	}
	if _, err := t.port.Write(req); err != nil {
		t.close()
		return nil, &RequestError{Kind: KindConnection, Err: fmt.Errorf("write to %s: %v", t.cfg.Address, err)}
	}
	// The answer cannot start before the request has left the wire.
	deadline := time.Now().Add(time.Duration(len(req))*charTime(t.cfg.BaudRate) + t.timeout)
	n := 0
	for {
		need, known := rtuResponseLength(req, t.buf[:n])
		if known && n >= need {
			t.lastIO = time.Now()
			return append([]byte(nil), t.buf[:need]...), nil
		}
		if time.Now().After(deadline) {
			t.lastIO = time.Now()
			if n == 0 {
				return nil, noAnswer()
			}
			return nil, &RequestError{Kind: KindFraming, Err: fmt.Errorf("truncated answer: %d of %d bytes", n, need)}
		}
		if n >= len(t.buf) {
			t.flush()
			return nil, &RequestError{Kind: KindFraming, Err: errors.New("answer longer than a Modbus frame")}
		}
		m, err := t.port.Read(t.buf[n:])
		n += m
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			t.close()
			return nil, &RequestError{Kind: KindConnection, Err: fmt.Errorf("read from %s: %v", t.cfg.Address, err)}
		}
	}
}

// flush discards whatever is still arriving, until the line has been quiet
// for a frame gap, so the next request starts in sync.
func (t *rtuTransport) flush() {
	if t.port == nil {
		return
	}
	var junk [256]byte
	quietSince := time.Now()
	limit := time.Now().Add(500 * time.Millisecond)
	for time.Since(quietSince) < frameGap(t.cfg.BaudRate)+20*time.Millisecond && time.Now().Before(limit) {
		n, err := t.port.Read(junk[:])
		if n > 0 {
			quietSince = time.Now()
		}
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			t.close()
			return
		}
	}
	t.lastIO = time.Now()
}

// rtuResponseLength returns the length of the answer to req, given the
// bytes received so far; known is false until enough has arrived to tell.
func rtuResponseLength(req, got []byte) (int, bool) {
	if len(got) < 2 {
		return 5, false
	}
	if got[1]&0x80 != 0 {
		return 5, true // exception: unit, function|0x80, code, CRC
	}
	switch req[1] {
	case mb.FuncCodeReadCoils, mb.FuncCodeReadDiscreteInputs, mb.FuncCodeReadHoldingRegisters, mb.FuncCodeReadInputRegisters:
		if len(got) < 3 {
			return 5, false
		}
		return 3 + int(got[2]) + 2, true
	case mb.FuncCodeWriteSingleCoil, mb.FuncCodeWriteSingleRegister, mb.FuncCodeWriteMultipleCoils, mb.FuncCodeWriteMultipleRegisters:
		return 8, true
	case funcDeviceIdentification:
		// unit, 0x2B, 0x0E, read code, conformity, more, next, count,
		// then objects of (id, length, value), then CRC.
		const head = 8
		if len(got) < head {
			return head + 2, false
		}
		count := int(got[7])
		pos := head
		for i := 0; i < count; i++ {
			if len(got) < pos+2 {
				return pos + 2 + 2, false
			}
			pos += 2 + int(got[pos+1])
		}
		return pos + 2, true
	}
	return 5, false
}

// funcDeviceIdentification is Modbus function 43 (encapsulated interface),
// used with MEI type 14 (read device identification).
const funcDeviceIdentification = 0x2B
