package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sitegate/sitegate/device"
)

// The requests the engine sends, written once over link.exchange for TCP
// and RTU alike (Modbus Application Protocol V1.1b3, §6). Each checks that
// the answer is the one its request asks for: the byte count of a read, the
// echo of a write.

// Modbus function codes (§5.1).
const (
	funcReadCoils              = 0x01
	funcReadDiscreteInputs     = 0x02
	funcReadHoldingRegisters   = 0x03
	funcReadInputRegisters     = 0x04
	funcWriteSingleCoil        = 0x05
	funcWriteSingleRegister    = 0x06
	funcWriteMultipleRegisters = 0x10
)

// Bounds of a request (§6.1-6.4, 6.12): what one PDU can carry.
const (
	// maxPDU is the largest PDU: function code and data.
	maxPDU = 253
	// maxReadRegisters is the most registers one read asks for.
	maxReadRegisters = 125
	// maxReadBits is the most coils or discrete inputs one read asks for.
	maxReadBits = 2000
	// maxWriteRegisters is the most registers one write carries.
	maxWriteRegisters = 123
)

// errRequestBounds is a request this package refuses to send: a quantity
// outside what one Modbus PDU allows.
var errRequestBounds = errors.New("request outside the Modbus bounds")

// readFunction is the function that reads table.
func readFunction(table device.RegisterTable) byte {
	switch table {
	case device.TableCoil:
		return funcReadCoils
	case device.TableDiscrete:
		return funcReadDiscreteInputs
	case device.TableInput:
		return funcReadInputRegisters
	default:
		return funcReadHoldingRegisters
	}
}

// readPayload checks the data of a read answer (byte count, then the
// values) against the quantity asked for and returns the values.
func readPayload(table device.RegisterTable, count uint16, data []byte) ([]byte, error) {
	want := 2 * int(count)
	if table.IsBit() {
		want = (int(count) + 7) / 8
	}
	switch {
	case len(data) < 1:
		return nil, framing("no byte count in the answer")
	case int(data[0]) != len(data)-1:
		return nil, framing(fmt.Sprintf("byte count %d, but %d bytes follow", data[0], len(data)-1))
	case len(data)-1 != want:
		return nil, framing(fmt.Sprintf("%d bytes of values in the answer, want %d for %d", len(data)-1, want, count))
	}
	return data[1:], nil
}

// readBlock reads count registers or bits of table from address. The
// bytes it returns are the link's: valid until the next exchange.
func readBlock(l link, table device.RegisterTable, address, count uint16) ([]byte, error) {
	limit := uint16(maxReadRegisters)
	if table.IsBit() {
		limit = maxReadBits
	}
	if count == 0 || count > limit || int(address)+int(count) > 65536 {
		return nil, fmt.Errorf("read %d from %d: %w (1..%d within 0..65535)", count, address, errRequestBounds, limit)
	}
	var req [4]byte
	binary.BigEndian.PutUint16(req[0:], address)
	binary.BigEndian.PutUint16(req[2:], count)
	data, err := l.exchange(readFunction(table), req[:])
	if err != nil {
		return nil, err
	}
	return readPayload(table, count, data)
}

// writeEcho sends a write whose answer repeats the first four bytes of
// its request (functions 5, 6, 15 and 16).
func writeEcho(l link, fc byte, req []byte) error {
	data, err := l.exchange(fc, req)
	if err != nil {
		return err
	}
	if len(data) != 4 || [4]byte(data) != [4]byte(req[:4]) {
		return framing(fmt.Sprintf("the answer % x does not confirm the write % x", data, req[:4]))
	}
	return nil
}

// writeCoil sets or clears one coil (function 5).
func writeCoil(l link, address uint16, on bool) error {
	var req [4]byte
	binary.BigEndian.PutUint16(req[0:], address)
	if on {
		req[2] = 0xFF // 0xFF00 is ON, 0x0000 OFF
	}
	return writeEcho(l, funcWriteSingleCoil, req[:])
}

// writeRegister writes one holding register (function 6).
func writeRegister(l link, address, value uint16) error {
	var req [4]byte
	binary.BigEndian.PutUint16(req[0:], address)
	binary.BigEndian.PutUint16(req[2:], value)
	return writeEcho(l, funcWriteSingleRegister, req[:])
}

// writeRegisters writes consecutive holding registers (function 16).
func writeRegisters(l link, address uint16, words []uint16) error {
	if len(words) == 0 || len(words) > maxWriteRegisters || int(address)+len(words) > 65536 {
		return fmt.Errorf("write %d registers at %d: %w (1..%d)", len(words), address, errRequestBounds, maxWriteRegisters)
	}
	req := make([]byte, 5+2*len(words))
	binary.BigEndian.PutUint16(req[0:], address)
	binary.BigEndian.PutUint16(req[2:], uint16(len(words)))
	req[4] = byte(2 * len(words))
	for i, w := range words {
		binary.BigEndian.PutUint16(req[5+2*i:], w)
	}
	return writeEcho(l, funcWriteMultipleRegisters, req)
}

// responseData checks the function code of an answer PDU to a request of
// function fc: the same code carries the data, fc|0x80 an exception.
func responseData(fc byte, pdu []byte) ([]byte, error) {
	switch {
	case len(pdu) == 0:
		return nil, framing("empty answer")
	case pdu[0] == fc|0x80:
		if len(pdu) != 2 {
			return nil, framing(fmt.Sprintf("exception answer of %d bytes, want 2", len(pdu)))
		}
		if pdu[1] == 0 {
			return nil, framing("exception code 0") // codes start at 1 (§7)
		}
		return nil, exception(pdu[1])
	case pdu[0] != fc:
		return nil, framing(fmt.Sprintf("function %d in the answer to function %d", pdu[0], fc))
	}
	return pdu[1:], nil
}

func framing(why string) *RequestError {
	return &RequestError{Kind: KindFraming, Err: errors.New("malformed answer: " + why)}
}

func exception(code byte) *RequestError {
	return &RequestError{Kind: KindException, Err: errors.New(ExceptionText(code)), Code: code}
}
