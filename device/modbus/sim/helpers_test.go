package sim

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	mb "github.com/goburrow/modbus"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/modbus"
)

// t0 is the simulated clock's start in every test, so values repeat run to
// run.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// checkLeaks fails the test if goroutines of this package or of
// simonvetter's server are still running shortly after the test's other
// cleanups (registered after this one, so run before it) have closed
// everything. simonvetter's connection goroutines end asynchronously after
// Stop, hence the polling with a deadline.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var leaked []string
		if !devicetest.Within(5*time.Second, func() bool { leaked = leakedGoroutines(); return len(leaked) == 0 }) {
			t.Errorf("%d goroutines left running:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "sim.leakedGoroutines") {
			continue // test goroutines, including this one
		}
		if strings.Contains(g, "github.com/simonvetter/modbus.") || strings.Contains(g, "device/modbus/sim.") {
			out = append(out, g)
		}
	}
	return out
}

// startTCP serves models over TCP on a free loopback port, closed and
// leak-checked at the end of the test.
func startTCP(t *testing.T, models map[uint8]*Model, def *Model, opts ...Option) (*Server, string) {
	t.Helper()
	checkLeaks(t)
	s := NewServer(models, def, opts...)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return s, addr
}

// tcpClient is goburrow's TCP client for unit on addr.
func tcpClient(t *testing.T, addr string, unit byte, timeout time.Duration) (*mb.TCPClientHandler, mb.Client) {
	t.Helper()
	h := mb.NewTCPClientHandler(addr)
	h.SlaveId = unit
	h.Timeout = timeout
	h.IdleTimeout = 0 // no close timer firing after the test
	t.Cleanup(func() { h.Close() })
	return h, mb.NewClient(h)
}

func newClock() *ManualClock { return NewManualClock(t0) }

func mustProfile(t *testing.T, name string, clk *ManualClock, opts ...ModelOption) *Model {
	t.Helper()
	m, err := ProfileModel(name, append([]ModelOption{WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readPoint reads one point through a real client and decodes it the way
// the poller does.
func readPoint(c mb.Client, p device.Point) (float64, error) {
	n := uint16(p.Type.Registers())
	var b []byte
	var err error
	switch p.Table {
	case device.TableCoil:
		b, err = c.ReadCoils(uint16(p.Address), 1)
	case device.TableDiscrete:
		b, err = c.ReadDiscreteInputs(uint16(p.Address), 1)
	case device.TableInput:
		b, err = c.ReadInputRegisters(uint16(p.Address), n)
	case device.TableHolding:
		b, err = c.ReadHoldingRegisters(uint16(p.Address), n)
	}
	if err != nil {
		return 0, err
	}
	if p.Table.IsBit() {
		if modbus.DecodeBits(b, 1)[0] {
			return 1, nil
		}
		return 0, nil
	}
	raw, err := modbus.DecodeRegisters(modbus.WordsFromBytes(b), p.Type, p.Order)
	if err != nil {
		return 0, err
	}
	return p.Apply(raw), nil
}

// checkPoints reads every point of m through c and compares each value
// with what the model says at its (manual) clock.
func checkPoints(t *testing.T, c mb.Client, m *Model) {
	t.Helper()
	for _, p := range m.Points() {
		got, err := readPoint(c, p)
		if err != nil {
			t.Errorf("read %s (%s %d): %v", p.Name, p.Table, p.Address, err)
			continue
		}
		want, _ := m.Value(p.Name)
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s = %v, model says %v", p.Name, got, want)
		}
	}
}

// exceptionOf returns the Modbus exception code of a goburrow error, or 0.
func exceptionOf(err error) byte {
	var me *mb.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode
	}
	return 0
}

func words(b []byte) []uint16 { return modbus.WordsFromBytes(b) }

func runtimeStack(buf []byte) int { return runtime.Stack(buf, true) }
