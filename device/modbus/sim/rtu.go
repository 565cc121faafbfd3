package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goburrow/serial"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus"
)

// Line is how ServeRTU treats its serial line. The zero Line answers as
// fast as it can, which suits tests that measure nothing.
type Line struct {
	// Baud, when > 0, gives a pseudo-terminal (which has no timing) the
	// timing of a real line at this speed, so that a client's cycle can be
	// measured against the wire-time formula: a request is answered no
	// earlier than its own wire time plus the 3.5-character silence that
	// ends a frame, after which the reply is released one character per 11
	// bit times (start, 8 data, parity, stop). The silence is 1.75 ms above
	// 19200 baud, as the serial-line specification fixes it.
	Baud int
	// Turnaround is the device's own processing time, added between the
	// end of the request and the start of the reply.
	Turnaround time.Duration
	// Gap is the silence after which the simulator considers a frame
	// ended, used to resynchronise: after a bad CRC, or a partial frame,
	// everything is dropped until the line has been quiet for Gap, as a
	// real device does; a frame with an unknown function code is complete
	// after Gap (and answered with exception 1). Default: 20 ms, or 3.5
	// characters at Baud if that is longer. Known function codes are framed
	// by their length, not by silence, because a pty or a USB adapter can
	// split a frame with pauses longer than 3.5 characters.
	Gap time.Duration
}

// charTime is the wire time of one RTU character at baud.
func charTime(baud int) time.Duration { return time.Duration(11 * int64(time.Second) / int64(baud)) }

// silence35 is the inter-frame silence at baud.
func silence35(baud int) time.Duration {
	if baud > 19200 {
		return 1750 * time.Microsecond
	}
	return charTime(baud) * 7 / 2
}

const (
	defaultGap = 20 * time.Millisecond
	maxADU     = 256 // the longest RTU frame
)

func (l Line) gap() time.Duration {
	if l.Gap > 0 {
		return l.Gap
	}
	if l.Baud > 0 {
		return max(defaultGap, silence35(l.Baud))
	}
	return defaultGap
}

// ServeRTU answers Modbus RTU requests read from rw (the master side of a
// pty, or an open serial port) until ctx is done, the server is closed
// (ErrClosed), or rw fails. Several lines may be served at once, each in
// its own ServeRTU.
//
// To stop promptly, ServeRTU interrupts a pending Read with
// SetReadDeadline when rw has it (an *os.File pty master, a net.Conn) and
// resets the deadline when it returns. For an rw without deadlines, one
// reading goroutine stays blocked in Read until rw delivers data or fails:
// close rw after ServeRTU returns.
func (s *Server) ServeRTU(ctx context.Context, rw io.ReadWriter, line Line) error {
	return s.serveRTU(ctx, rw, line, false)
}

// deadliner is what os.File and net.Conn offer to interrupt I/O.
type deadliner interface {
	SetDeadline(time.Time) error
}

// serveRTU is ServeRTU; pollingReader says that rw's Read returns on its own
// from time to time (goburrow serial's read timeout), so that the reader
// can be waited for even without deadlines.
func (s *Server) serveRTU(ctx context.Context, rw io.ReadWriter, line Line, pollingReader bool) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(s.ctx, cancel)
	defer stopOnClose()

	// Interrupt blocked reads and writes as soon as we are told to stop.
	dl, _ := rw.(deadliner)
	interruptible := false
	if dl != nil && dl.SetDeadline(time.Time{}) == nil {
		interruptible = true
		stopIO := context.AfterFunc(ctx, func() { _ = dl.SetDeadline(time.Now()) })
		defer stopIO()
	}

	chunks := make(chan chunk)
	errc := make(chan error, 1)
	readerDone := make(chan struct{})
	s.wg.Add(1) // under our own enter, so Close is still waiting
	go func() {
		defer s.wg.Done()
		defer close(readerDone)
		readLoop(ctx, rw, chunks, errc)
	}()
	defer func() {
		cancel()
		if interruptible || pollingReader {
			<-readerDone
		}
		if interruptible {
			_ = dl.SetDeadline(time.Time{}) // leave rw usable
		}
	}()

	r := &rtuLine{s: s, w: rw, line: line}
	err := r.run(ctx, chunks, errc)
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	return err
}

// chunk is one Read's worth of bytes and when it arrived.
type chunk struct {
	data []byte
	at   time.Time
}

func readLoop(ctx context.Context, r io.Reader, chunks chan<- chunk, errc chan<- error) {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			select {
			case chunks <- chunk{bytes.Clone(buf[:n]), time.Now()}:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, serial.ErrTimeout) {
				continue // goburrow serial's poll tick: nothing arrived
			}
			errc <- err
			return
		}
	}
}

// rtuLine is the framing and answering side of one ServeRTU.
type rtuLine struct {
	s    *Server
	w    io.Writer
	line Line
}

// frameLen returns the length of the request frame that starts buf, by
// function code: 0 when more bytes are needed to tell, and known false for
// a function code whose length only silence can tell.
func frameLen(buf []byte) (n int, known bool) {
	if len(buf) < 2 {
		return 0, true
	}
	switch buf[1] {
	case 1, 2, 3, 4, 5, 6: // unit fc addr(2) qty-or-value(2) crc(2)
		return 8, true
	case 15, 16: // unit fc addr(2) qty(2) bytecount data crc(2)
		if len(buf) < 7 {
			return 0, true
		}
		return 9 + int(buf[6]), true
	case 0x2B: // unit fc mei code object crc(2)
		return 7, true
	case 0x11: // unit fc crc(2)
		return 4, true
	}
	return 0, false
}

func (r *rtuLine) run(ctx context.Context, chunks <-chan chunk, errc <-chan error) error {
	var (
		buf         []byte
		start, last time.Time // arrival of buf's first byte, and of the latest byte
		discarding  bool      // after a bad frame: drop everything until quiet
	)
	gap := r.line.gap()
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for {
		for !discarding && len(buf) > 0 {
			n, known := frameLen(buf)
			if !known || n == 0 || len(buf) < n {
				break
			}
			if !crcOK(buf[:n]) {
				r.s.log.Debug("rtu: bad CRC, dropping input until the line is quiet", "frame", fmt.Sprintf("% x", buf[:n]))
				buf, discarding = nil, true
				break
			}
			if err := r.answer(ctx, buf[:n], start); err != nil {
				return err
			}
			// Bytes after the frame came without a silence; a strict device
			// would drop them, but a pty may merge two writes, so they are
			// taken as the next frame.
			buf = buf[n:]
			start = last
		}
		if len(buf) > 0 || discarding {
			quiet.Reset(max(0, gap-time.Since(last)))
		} else {
			quiet.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return fmt.Errorf("read from the serial line: %w", err)
		case c := <-chunks:
			last = c.at
			if discarding {
				continue
			}
			if len(buf) == 0 {
				start = c.at
			}
			buf = append(buf, c.data...)
			if len(buf) > maxADU {
				buf, discarding = nil, true
			}
		case <-quiet.C:
			if discarding {
				discarding = false
				continue
			}
			// The line went quiet on a frame the function code could not
			// size (answered if its CRC holds), or on a partial frame.
			if _, known := frameLen(buf); !known && len(buf) >= 4 && crcOK(buf) {
				if err := r.answer(ctx, buf, start); err != nil {
					return err
				}
			} else {
				r.s.log.Debug("rtu: dropping an incomplete frame", "bytes", fmt.Sprintf("% x", buf))
			}
			buf = nil
		}
	}
}

// answer executes one request frame (CRC already checked) and writes the
// reply, with the unit's faults and the line's timing.
func (r *rtuLine) answer(ctx context.Context, frame []byte, start time.Time) error {
	s := r.s
	ready := time.Now()
	if r.line.Baud > 0 {
		ready = start.Add(time.Duration(len(frame))*charTime(r.line.Baud) + silence35(r.line.Baud))
	}
	ready = ready.Add(r.line.Turnaround)
	unit, pdu := frame[0], frame[1:len(frame)-2]
	if unit == 0 {
		s.broadcast(pdu)
		return nil // broadcasts are never answered
	}
	m := s.Model(unit)
	if m == nil {
		return nil // nobody at this address
	}
	f, _ := s.takeFaults(unit)
	if f.Silent {
		return nil
	}
	adu := appendCRC(append([]byte{unit}, s.execPDU(m, &f, pdu)...))
	if f.WrongUnit {
		adu[0] = unit%247 + 1
		adu = appendCRC(adu[:len(adu)-2])
	}
	if f.BadCRC {
		adu[len(adu)-1] ^= 0xFF
	}
	if f.Truncate {
		adu = adu[:len(adu)/2]
	}
	if !waitUntil(ctx, ready.Add(f.Late)) {
		return ctx.Err()
	}
	if err := writePaced(ctx, r.w, adu, r.line.Baud); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("write to the serial line: %w", err)
	}
	return nil
}

// broadcast executes a write addressed to unit 0 on every model, as every
// device on a bus does; reads make no sense to broadcast and are ignored.
func (s *Server) broadcast(pdu []byte) {
	switch pdu[0] {
	case 5, 6, 15, 16:
	default:
		return
	}
	s.mu.Lock()
	seen := make(map[*Model]bool)
	var ms []*Model
	for _, m := range s.models {
		if !seen[m] {
			seen[m] = true
			ms = append(ms, m)
		}
	}
	if s.def != nil && !seen[s.def] {
		ms = append(ms, s.def)
	}
	s.mu.Unlock()
	for _, m := range ms {
		_, _ = s.exec(m, &Faults{}, pdu[0], pdu[1:])
	}
}

func waitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writePaced writes b as a UART at baud would deliver it: each byte once
// its 11 bits have crossed the line. Sleeps are coarser than a character at
// high speeds, so each write catches up with every byte already due; the
// whole frame is out no earlier than its wire time and not much later.
func writePaced(ctx context.Context, w io.Writer, b []byte, baud int) error {
	if baud <= 0 {
		_, err := w.Write(b)
		return err
	}
	char := charTime(baud)
	start := time.Now()
	for sent := 0; sent < len(b); {
		due := min(len(b), int(time.Since(start)/char))
		if due > sent {
			if _, err := w.Write(b[sent:due]); err != nil {
				return err
			}
			sent = due
			continue
		}
		if !waitUntil(ctx, start.Add(time.Duration(sent+1)*char)) {
			return ctx.Err()
		}
	}
	return nil
}

// execPDU runs one request PDU (function code and data) and returns the
// reply PDU: the data, or the exception (function code | 0x80, code).
func (s *Server) execPDU(m *Model, f *Faults, pdu []byte) []byte {
	fc := pdu[0]
	data, err := s.exec(m, f, fc, pdu[1:])
	if err != nil {
		code := ServerDeviceFailure
		errors.As(err, &code)
		return []byte{fc | 0x80, byte(code)}
	}
	return append([]byte{fc}, data...)
}

// exec checks a request as the Modbus application protocol specification
// orders it (function, then quantity and byte count: exception 3, then
// address: exception 2) and runs it through the same handler functions as
// TCP requests.
func (s *Server) exec(m *Model, f *Faults, fc byte, d []byte) ([]byte, error) {
	u16 := func(i int) uint16 { return binary.BigEndian.Uint16(d[i:]) }
	switch fc {
	case 1, 2, 3, 4:
		if len(d) != 4 {
			return nil, IllegalDataValue
		}
		addr, qty := u16(0), u16(2)
		limit := uint16(125)
		if fc <= 2 {
			limit = 2000
		}
		if qty < 1 || qty > limit {
			return nil, IllegalDataValue
		}
		if int(addr)+int(qty) > 65536 {
			return nil, IllegalDataAddress
		}
		switch fc {
		case 1, 2:
			table := device.TableCoil
			if fc == 2 {
				table = device.TableDiscrete
			}
			bits, err := s.readBits(m, f, table, addr, qty)
			if err != nil {
				return nil, err
			}
			packed := packBits(bits)
			return append([]byte{byte(len(packed))}, packed...), nil
		default:
			table := device.TableHolding
			if fc == 4 {
				table = device.TableInput
			}
			words, err := s.readRegisters(m, f, table, addr, qty)
			if err != nil {
				return nil, err
			}
			out := []byte{byte(2 * len(words))}
			for _, w := range words {
				out = binary.BigEndian.AppendUint16(out, w)
			}
			return out, nil
		}
	case 5, 6:
		if len(d) != 4 {
			return nil, IllegalDataValue
		}
		addr, v := u16(0), u16(2)
		var err error
		if fc == 5 {
			if v != 0xFF00 && v != 0x0000 {
				return nil, IllegalDataValue
			}
			err = s.writeCoils(m, f, addr, []bool{v == 0xFF00})
		} else {
			err = s.writeRegisters(m, f, addr, []uint16{v})
		}
		if err != nil {
			return nil, err
		}
		return bytes.Clone(d), nil // the reply echoes the request
	case 15, 16:
		if len(d) < 5 {
			return nil, IllegalDataValue
		}
		addr, qty, count := u16(0), u16(2), int(d[4])
		limit, want := uint16(0x7B0), (int(qty)+7)/8
		if fc == 16 {
			limit, want = 123, 2*int(qty)
		}
		if qty < 1 || qty > limit || count != want || len(d) != 5+count {
			return nil, IllegalDataValue
		}
		if int(addr)+int(qty) > 65536 {
			return nil, IllegalDataAddress
		}
		var err error
		if fc == 15 {
			err = s.writeCoils(m, f, addr, modbus.DecodeBits(d[5:], int(qty)))
		} else {
			err = s.writeRegisters(m, f, addr, modbus.WordsFromBytes(d[5:]))
		}
		if err != nil {
			return nil, err
		}
		return bytes.Clone(d[:4]), nil // address and quantity
	case 0x2B:
		return deviceIdentification(m, d)
	case 0x11:
		if len(d) != 0 {
			return nil, IllegalDataValue
		}
		return reportServerID(m), nil
	}
	return nil, IllegalFunction
}

// reportServerID answers function 17 (report server ID), the older
// identification that mbpoll -u and many serial tools ask for: a
// device-specific id byte ('S'), the run indicator (0xFF: running) and, as
// the device-specific data, the same text as function 43 gives.
func reportServerID(m *Model) []byte {
	text := "sitegate " + productCode(m) + " 1.0"
	out := []byte{byte(2 + len(text)), 'S', 0xFF}
	return append(out, text...)
}

func productCode(m *Model) string {
	product := m.Name()
	if product == "" {
		product = "sitegate-sim"
	}
	return product[:min(len(product), 200)]
}

// deviceIdentification answers function 43, MEI type 14 (read device
// identification) with the basic objects: 0 VendorName, 1 ProductCode,
// 2 MajorMinorRevision. Stream requests (codes 1..3) get the basic
// objects from the one asked for (from 0 if it is unknown, as the
// specification says); an individual request (code 4) gets one object.
func deviceIdentification(m *Model, d []byte) ([]byte, error) {
	if len(d) < 1 || d[0] != 0x0E {
		return nil, IllegalFunction // other MEI types (CANopen) are not supported
	}
	if len(d) != 3 {
		return nil, IllegalDataValue
	}
	code, obj := d[1], int(d[2])
	objects := []string{"sitegate", productCode(m), "1.0"}
	var ids []int
	switch code {
	case 1, 2, 3:
		if obj >= len(objects) {
			obj = 0
		}
		for i := obj; i < len(objects); i++ {
			ids = append(ids, i)
		}
	case 4:
		if obj >= len(objects) {
			return nil, IllegalDataAddress
		}
		ids = []int{obj}
	default:
		return nil, IllegalDataValue
	}
	// MEI type, code, conformity (basic, stream and individual access),
	// more follows, next object id, number of objects.
	out := []byte{0x0E, code, 0x81, 0x00, 0x00, byte(len(ids))}
	for _, id := range ids {
		out = append(out, byte(id), byte(len(objects[id])))
		out = append(out, objects[id]...)
	}
	return out, nil
}

// packBits packs bits LSB first, as DecodeBits unpacks them.
func packBits(bits []bool) []byte {
	out := make([]byte, (len(bits)+7)/8)
	for i, b := range bits {
		if b {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

// crc16 is the Modbus CRC (polynomial 0xA001 reflected, initial 0xFFFF).
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// appendCRC appends the CRC of b, low byte first.
func appendCRC(b []byte) []byte {
	c := crc16(b)
	return append(b, byte(c), byte(c>>8))
}

func crcOK(frame []byte) bool {
	if len(frame) < 4 {
		return false
	}
	n := len(frame) - 2
	return crc16(frame[:n]) == uint16(frame[n])|uint16(frame[n+1])<<8
}
