package modbus

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"

	mb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"

	"github.com/sitegate/sitegate/device"
)

// linePort is a serial line that answers with fixed bytes, a few at a
// time, as a device (or noise) on the bus would; then it times out, or
// fails like an unplugged adapter.
type linePort struct {
	answer []byte
	chunk  int
	eof    bool
}

func (p *linePort) Write(b []byte) (int, error) { return len(b), nil }
func (p *linePort) Close() error                { return nil }

func (p *linePort) Read(b []byte) (int, error) {
	if len(p.answer) == 0 {
		if p.eof {
			return 0, io.EOF
		}
		return 0, serial.ErrTimeout
	}
	n := copy(b, p.answer[:min(p.chunk, len(p.answer))])
	p.answer = p.answer[n:]
	return n, nil
}

// FuzzRTUResponse feeds the RTU transporter's frame reading (link.go)
// and goburrow's packager and client behind it whatever a serial line can
// deliver, for every kind of request the engine sends. Nothing may panic or
// read past a frame; a request that succeeds must have read exactly the
// frame its answer announces.
func FuzzRTUResponse(f *testing.F) {
	f.Add([]byte{1, 3, 4, 0, 1, 0, 2, 0, 0}, uint8(2), uint16(2), uint8(3), true, false) // holding registers
	f.Add([]byte{1, 0x83, 2, 0, 0}, uint8(2), uint16(2), uint8(1), true, false)          // exception 2
	f.Add([]byte{1, 1, 1, 0x05, 0, 0}, uint8(0), uint16(3), uint8(8), true, true)        // coils
	f.Add([]byte{1, 6, 0, 0, 0, 1, 0, 0}, uint8(5), uint16(1), uint8(2), true, false)    // write single register
	f.Add([]byte{1, 0x10, 0, 0, 0, 2, 0, 0}, uint8(7), uint16(2), uint8(8), true, false) // write multiple registers
	f.Add([]byte{1, 0x2B, 0x0E, 1, 1, 0, 0, 1, 0, 3, 'A', 'B', 'C', 0, 0}, uint8(8), uint16(0), uint8(4), true, false)
	f.Add([]byte{1, 3, 0xFF}, uint8(2), uint16(125), uint8(1), false, false) // a byte count past any frame
	f.Add(make([]byte, 300), uint8(8), uint16(0), uint8(16), false, false)
	f.Fuzz(func(t *testing.T, answer []byte, kind uint8, qty uint16, chunk uint8, fixFrame, eof bool) {
		if len(answer) > 1024 {
			return
		}
		port := &linePort{chunk: int(chunk%16) + 1, eof: eof}
		bus := device.Bus{Name: "rs485", Kind: device.BusRTU, Device: "/dev/null", Baud: 115200, Parity: device.ParityEven, DataBits: 8, StopBits: 1}
		l := newRTULink(bus, 0, func(*serial.Config) (io.ReadWriteCloser, error) { return port, nil })
		l.setUnit(1)
		defer l.close()

		regs := int(qty%125) + 1
		bits := int(qty%2000) + 1
		req, call := rtuCall(l, kind%9, regs, bits)
		if fixFrame && len(answer) >= 2 {
			// Make the bytes a well-formed frame for this request, so that
			// the fuzzer reaches the decoding behind the framing.
			answer = append([]byte(nil), answer...)
			answer[0] = 1
			if answer[1]&0x80 == 0 {
				answer[1] = req[1]
			}
			if need, known := rtuResponseLength(req, answer); known && need >= 4 && need <= len(answer) {
				// goburrow's packager adds the unit (1) and the CRC.
				if frame, err := l.h.Encode(&mb.ProtocolDataUnit{FunctionCode: answer[1], Data: answer[2 : need-2]}); err == nil && len(frame) == need {
					copy(answer, frame)
				}
			}
		}
		port.answer = answer
		out, err := call()
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) && err.Error() == "" {
				t.Fatalf("error without a message: %#v", err)
			}
			return
		}
		consumed := len(answer) - len(port.answer)
		need, known := rtuResponseLength(req, answer[:min(len(answer), consumed)])
		if !known || consumed < need {
			t.Fatalf("succeeded on a frame of %d bytes it did not read whole (announced %d, known %v)", consumed, need, known)
		}
		if consumed > len(l.t.buf) {
			t.Fatalf("a frame of %d bytes, over the %d byte buffer", consumed, len(l.t.buf))
		}
		// readBlock checks that the data matches the quantity asked for;
		// the identification parser checks its own lengths.
		if kind%9 == 8 {
			objects, err := parseIdentification(out)
			if err != nil {
				return
			}
			for _, v := range objects {
				for _, r := range v {
					if r < 0x20 || r >= 0x7f {
						t.Fatalf("identification text %q is not printable ASCII", v)
					}
				}
			}
		}
	})
}

// rtuCall returns the request frame for kind and a function that sends it
// through the link, as the engine does.
func rtuCall(l *rtuLink, kind uint8, regs, bits int) ([]byte, func() ([]byte, error)) {
	h := l.h
	frame := func(fc byte, data ...byte) []byte {
		b, _ := h.Encode(&mb.ProtocolDataUnit{FunctionCode: fc, Data: data})
		return b
	}
	be := func(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
	read := func(table device.RegisterTable, n int) func() ([]byte, error) {
		return func() ([]byte, error) { return readBlock(l, table, 0, uint16(n)) }
	}
	none := func(err error) ([]byte, error) { return nil, err }
	switch kind {
	case 0:
		return frame(mb.FuncCodeReadCoils, append(be(0), be(bits)...)...), read(device.TableCoil, bits)
	case 1:
		return frame(mb.FuncCodeReadDiscreteInputs, append(be(0), be(bits)...)...), read(device.TableDiscrete, bits)
	case 2:
		return frame(mb.FuncCodeReadHoldingRegisters, append(be(0), be(regs)...)...), read(device.TableHolding, regs)
	case 3:
		return frame(mb.FuncCodeReadInputRegisters, append(be(0), be(regs)...)...), read(device.TableInput, regs)
	case 4:
		return frame(mb.FuncCodeWriteSingleCoil, 0, 0, 0xFF, 0), func() ([]byte, error) { return none(writeCoil(l, 0, true)) }
	case 5:
		return frame(mb.FuncCodeWriteSingleRegister, 0, 0, 0, 1), func() ([]byte, error) { return none(writeRegister(l, 0, 1)) }
	case 6:
		// Write multiple coils: the engine never sends it, the link
		// carries it all the same.
		return frame(mb.FuncCodeWriteMultipleCoils, 0, 0, 0, 8, 1, 0xFF), func() ([]byte, error) {
			return l.exchange(mb.FuncCodeWriteMultipleCoils, []byte{0, 0, 0, 8, 1, 0xFF})
		}
	case 7:
		return frame(mb.FuncCodeWriteMultipleRegisters, 0, 0, 0, 2, 4, 0, 1, 0, 2), func() ([]byte, error) {
			return none(writeRegisters(l, 0, []uint16{1, 2}))
		}
	default:
		return frame(funcDeviceIdentification, 0x0E, 1, 0), func() ([]byte, error) {
			return l.exchange(funcDeviceIdentification, []byte{0x0E, 1, 0})
		}
	}
}
