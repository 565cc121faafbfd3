package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/goburrow/serial"

	"github.com/sitegate/sitegate/device"
)

// SerialConfig is a serial port to serve RTU on.
type SerialConfig struct {
	Path     string        // e.g. /dev/ttyUSB0, or one end of a pty pair
	Baud     int           // default device.DefaultBaud
	Parity   device.Parity // default device.DefaultParity (even)
	DataBits int           // default 8
	StopBits int           // default 1
}

// pollInterval bounds how long stopping ServeSerial waits for a pending
// read: goburrow serial has no deadlines, only a read timeout.
const pollInterval = 100 * time.Millisecond

// ServeSerial opens a serial port with github.com/goburrow/serial and serves
// RTU on it (see ServeRTU) until ctx is done or the server is closed; it
// closes the port before returning. The UART does the line's timing, so
// line.Baud (emulation) is normally 0; line.Gap defaults from cfg.Baud.
func (s *Server) ServeSerial(ctx context.Context, cfg SerialConfig, line Line) error {
	baud := cfg.Baud
	if baud == 0 {
		baud = device.DefaultBaud
	}
	parity := cfg.Parity
	if parity == 0 {
		parity = device.DefaultParity
	}
	par := map[device.Parity]string{device.ParityNone: "N", device.ParityEven: "E", device.ParityOdd: "O"}[parity]
	if par == "" {
		return fmt.Errorf("serve RTU on %s: unknown parity %s (use none, even or odd)", cfg.Path, parity)
	}
	port, err := serial.Open(&serial.Config{
		Address:  cfg.Path,
		BaudRate: baud,
		DataBits: cfg.DataBits,
		StopBits: cfg.StopBits,
		Parity:   par,
		Timeout:  pollInterval,
	})
	if err != nil {
		return fmt.Errorf("open serial port %s: %w (check the path, and that no other program uses the port)", cfg.Path, err)
	}
	defer port.Close()
	if line.Gap == 0 {
		line.Gap = max(defaultGap, silence35(baud))
	}
	return s.serveRTU(ctx, port, line, true)
}
