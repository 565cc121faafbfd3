package sim

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	mb "github.com/goburrow/modbus"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
)

// Every point of every profile, and every table of the default map, reads
// over TCP as the model says, per unit id, as the clock moves.
func TestTCPReadsModels(t *testing.T) {
	clk := newClock()
	meter := mustProfile(t, "generic-energy-meter", clk)
	vsd := mustProfile(t, "generic-vsd", clk)
	th := mustProfile(t, "generic-temp-humidity", clk)
	def := DefaultModel(WithClock(clk.Now))
	_, addr := startTCP(t, map[uint8]*Model{1: meter, 2: vsd, 3: th}, def)

	units := map[byte]*Model{1: meter, 2: vsd, 3: th, 4: def, 247: def}
	for step := range 3 {
		for unit, m := range units {
			_, c := tcpClient(t, addr, unit, 2*time.Second)
			checkPoints(t, c, m)
		}
		clk.Advance(17 * time.Second)
		_ = step
	}

	// Whole tables of the default map in one request each, at its limits.
	_, c := tcpClient(t, addr, 99, 2*time.Second)
	for _, table := range []device.RegisterTable{device.TableHolding, device.TableInput} {
		var b []byte
		var err error
		if table == device.TableHolding {
			b, err = c.ReadHoldingRegisters(0, DefaultSize)
		} else {
			b, err = c.ReadInputRegisters(0, DefaultSize)
		}
		want, _ := def.ReadRegisters(table, 0, DefaultSize)
		if err != nil || !slices.Equal(words(b), want) {
			t.Errorf("%s 0..99: %v (err %v), want %v", table, words(b), err, want)
		}
	}
	for _, table := range []device.RegisterTable{device.TableCoil, device.TableDiscrete} {
		var b []byte
		var err error
		if table == device.TableCoil {
			b, err = c.ReadCoils(0, DefaultSize)
		} else {
			b, err = c.ReadDiscreteInputs(0, DefaultSize)
		}
		want, _ := def.ReadBits(table, 0, DefaultSize)
		if err != nil || !slices.Equal(b, packBits(want)) {
			t.Errorf("%s 0..99: % x (err %v), want % x", table, b, err, packBits(want))
		}
	}
	// One past the map, and a range crossing its end.
	if _, err := c.ReadHoldingRegisters(DefaultSize, 1); exceptionOf(err) != 2 {
		t.Errorf("holding 100: %v, want exception 2", err)
	}
	if _, err := c.ReadCoils(95, 10); exceptionOf(err) != 2 {
		t.Errorf("coils 95..104: %v, want exception 2", err)
	}
}

func TestTCPWrites(t *testing.T) {
	clk := newClock()
	vsd := mustProfile(t, "generic-vsd", clk)
	meter := mustProfile(t, "generic-energy-meter", clk)
	def := DefaultModel(WithClock(clk.Now))
	_, addr := startTCP(t, map[uint8]*Model{1: meter, 2: vsd}, def)
	_, c := tcpClient(t, addr, 2, 2*time.Second)

	// Function 5 and 6 on the drive's writable points.
	for _, on := range []bool{true, false, true} {
		v := uint16(0)
		if on {
			v = 0xFF00
		}
		if _, err := c.WriteSingleCoil(0, v); err != nil {
			t.Fatal(err)
		}
		clk.Advance(31 * time.Second) // held, not moving
		if got, _ := vsd.Value("running"); (got == 1) != on {
			t.Errorf("running = %v after writing %v", got, on)
		}
	}
	if _, err := c.WriteSingleRegister(0, 4250); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	b, err := c.ReadHoldingRegisters(0, 1)
	if err != nil || words(b)[0] != 4250 {
		t.Errorf("speed_setpoint reads %v, %v after writing 4250", words(b), err)
	}
	if v, _ := vsd.Value("speed_setpoint"); v != 42.5 {
		t.Errorf("speed_setpoint = %v Hz, want 42.5", v)
	}

	// Refused: a read-only table's address, a register of no point, a
	// non-writable point on another unit.
	if _, err := c.WriteSingleRegister(1, 1); exceptionOf(err) != 2 {
		t.Errorf("write holding 1 (no point): %v, want exception 2", err)
	}
	if _, err := c.WriteSingleCoil(1, 0xFF00); exceptionOf(err) != 2 {
		t.Errorf("write coil 1 (no point): %v, want exception 2", err)
	}
	_, cm := tcpClient(t, addr, 1, 2*time.Second)
	if _, err := cm.WriteMultipleRegisters(256, 2, []byte{0, 0, 0, 1}); exceptionOf(err) != 2 {
		t.Errorf("write energy_import_counter (read-only): %v, want exception 2", err)
	}

	// Functions 15 and 16 on the default map.
	_, cd := tcpClient(t, addr, 50, 2*time.Second)
	if _, err := cd.WriteMultipleRegisters(10, 3, []byte{0, 1, 0, 2, 0xFF, 0xFF}); err != nil {
		t.Fatal(err)
	}
	if _, err := cd.WriteMultipleCoils(5, 10, []byte{0b10101010, 0b11}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	b, err = cd.ReadHoldingRegisters(9, 5)
	w := words(b)
	if err != nil || w[1] != 1 || w[2] != 2 || w[3] != 0xFFFF {
		t.Errorf("holding 9..13 = %v, %v; want 1 2 65535 in the middle", w, err)
	}
	b, err = cd.ReadCoils(5, 10)
	if err != nil || !slices.Equal(b, []byte{0b10101010, 0b11}) {
		t.Errorf("coils 5..14 = %08b, %v", b, err)
	}
	// The default model is shared: unit 51 sees unit 50's write.
	_, cd2 := tcpClient(t, addr, 51, 2*time.Second)
	if b, _ := cd2.ReadHoldingRegisters(11, 1); words(b)[0] != 2 {
		t.Errorf("unit 51 holding 11 = %v, want 2", words(b))
	}
}

func TestTCPUnitsAndUnsupported(t *testing.T) {
	clk := newClock()
	meter := mustProfile(t, "generic-energy-meter", clk)
	s, addr := startTCP(t, map[uint8]*Model{1: meter}, nil)

	// No model and no default: what a TCP gateway says for a unit that
	// does not answer.
	_, c := tcpClient(t, addr, 2, 2*time.Second)
	if _, err := c.ReadInputRegisters(0, 2); exceptionOf(err) != 0x0B {
		t.Errorf("unit 2: %v, want exception 0x0B", err)
	}
	s.SetModel(2, DefaultModel(WithClock(clk.Now)))
	if _, err := c.ReadInputRegisters(0, 2); err != nil {
		t.Errorf("unit 2 after SetModel: %v", err)
	}
	s.SetModel(2, nil)
	if _, err := c.ReadInputRegisters(0, 2); exceptionOf(err) != 0x0B {
		t.Errorf("unit 2 after removing: %v, want exception 0x0B", err)
	}

	// Device identification (43/14) and report server ID (17) are
	// answered by the TCP front, as on RTU; other functions simonvetter
	// does not know are illegal.
	h, _ := tcpClient(t, addr, 1, 2*time.Second)
	pdu, err := exchange(h, 0x2B, []byte{0x0E, 0x01, 0x00})
	if err != nil || pdu.FunctionCode != 0x2B || !bytes.Contains(pdu.Data, []byte("generic-energy-meter")) || !bytes.Contains(pdu.Data, []byte("sitegate")) {
		t.Errorf("function 43 over TCP: %+v, %v; want the identification", pdu, err)
	}
	pdu, err = exchange(h, 0x11, nil)
	if err != nil || pdu.FunctionCode != 0x11 || !bytes.Contains(pdu.Data, []byte("generic-energy-meter")) {
		t.Errorf("function 17 over TCP: %+v, %v; want the server id", pdu, err)
	}
	h2, _ := tcpClient(t, addr, 2, 2*time.Second)
	if pdu, err := exchange(h2, 0x2B, []byte{0x0E, 0x01, 0x00}); err != nil || pdu.FunctionCode != 0xAB || !slices.Equal(pdu.Data, []byte{0x0B}) {
		t.Errorf("function 43 to a unit nobody answers: %+v, %v; want exception 0x0B", pdu, err)
	}
	pdu, err = exchange(h, 0x07, nil)
	if err != nil || pdu.FunctionCode != 0x87 || !slices.Equal(pdu.Data, []byte{1}) {
		t.Errorf("function 7 over TCP: %+v, %v; want exception 1", pdu, err)
	}
	// The data functions still go through on the same connection.
	if _, err := c.ReadInputRegisters(0, 2); exceptionOf(err) != 0x0B {
		t.Errorf("unit 2 after identification: %v", err)
	}
}

// exchange sends a hand-built PDU through a goburrow handler's packager and
// transporter, for functions its client has no method for.
func exchange(h interface {
	mb.Packager
	mb.Transporter
}, fc byte, data []byte) (*mb.ProtocolDataUnit, error) {
	adu, err := h.Encode(&mb.ProtocolDataUnit{FunctionCode: fc, Data: data})
	if err != nil {
		return nil, err
	}
	resp, err := h.Send(adu)
	if err != nil {
		return nil, err
	}
	if err := h.Verify(adu, resp); err != nil {
		return nil, err
	}
	return h.Decode(resp)
}

func TestTCPFaults(t *testing.T) {
	clk := newClock()
	def := DefaultModel(WithClock(clk.Now))
	s, addr := startTCP(t, nil, def)

	t.Run("illegal addresses", func(t *testing.T) {
		s.SetFaults(1, Faults{Illegal: []Address{{device.TableHolding, 4}, {device.TableCoil, 9}}})
		defer s.SetFaults(1, Faults{})
		_, c := tcpClient(t, addr, 1, 2*time.Second)
		if _, err := c.ReadHoldingRegisters(0, 10); exceptionOf(err) != 2 {
			t.Errorf("holding 0..9 over an illegal 4: %v, want exception 2", err)
		}
		if _, err := c.ReadHoldingRegisters(0, 4); err != nil {
			t.Errorf("holding 0..3: %v", err)
		}
		if _, err := c.ReadHoldingRegisters(5, 5); err != nil {
			t.Errorf("holding 5..9: %v", err)
		}
		if _, err := c.WriteSingleRegister(4, 1); exceptionOf(err) != 2 {
			t.Errorf("write holding 4: %v, want exception 2", err)
		}
		if _, err := c.ReadInputRegisters(4, 1); err != nil {
			t.Errorf("input 4 (other table): %v", err)
		}
		if _, err := c.ReadCoils(9, 1); exceptionOf(err) != 2 {
			t.Errorf("coil 9: %v, want exception 2", err)
		}
		// Other units are unaffected.
		_, c2 := tcpClient(t, addr, 2, 2*time.Second)
		if _, err := c2.ReadHoldingRegisters(0, 10); err != nil {
			t.Errorf("unit 2: %v", err)
		}
	})

	t.Run("times", func(t *testing.T) {
		s.SetFaults(1, Faults{Illegal: []Address{{device.TableInput, 0}}, Times: 2})
		_, c := tcpClient(t, addr, 1, 2*time.Second)
		for i, want := range []byte{2, 2, 0, 0} {
			if _, err := c.ReadInputRegisters(0, 1); exceptionOf(err) != want {
				t.Errorf("request %d: %v, want exception %d", i, err, want)
			}
		}
	})

	t.Run("silent", func(t *testing.T) {
		s.SetFaults(3, Faults{Silent: true})
		h, c := tcpClient(t, addr, 3, 200*time.Millisecond)
		_, err := c.ReadHoldingRegisters(0, 1)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("silent unit: %v, want a timeout", err)
		}
		// The held connection is dropped, unanswered, when the fault is
		// cleared; a new connection is served.
		s.SetFaults(3, Faults{})
		h.Close()
		if _, err := c.ReadHoldingRegisters(0, 1); err != nil {
			t.Errorf("after clearing: %v", err)
		}
	})

	// goburrow's known fault, reproduced: the late reply to a request that
	// timed out is read as the answer to the next request on the socket.
	t.Run("late reply goes stale in the socket", func(t *testing.T) {
		// The reply lands at 450 ms, inside the next request's 300..600 ms.
		s.SetFaults(4, Faults{Late: 450 * time.Millisecond, Times: 1})
		h, c := tcpClient(t, addr, 4, 300*time.Millisecond)
		_, err := c.ReadHoldingRegisters(0, 1)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("late unit: %v, want a timeout", err)
		}
		_, err = c.ReadHoldingRegisters(0, 1)
		if err == nil || !strings.Contains(err.Error(), "transaction id") {
			t.Fatalf("request after a timeout: %v, want a transaction id mismatch", err)
		}
		// Reconnecting is the cure.
		h.Close()
		if _, err := c.ReadHoldingRegisters(0, 1); err != nil {
			t.Errorf("after reconnecting: %v", err)
		}
	})
}

func TestTCPCloseReleasesHeldRequests(t *testing.T) {
	checkLeaks(t)
	clk := newClock()
	s := NewServer(nil, DefaultModel(WithClock(clk.Now)))
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Errorf("Addr() = %q, ListenTCP said %q", s.Addr(), addr)
	}
	s.SetFaults(1, Faults{Silent: true})
	s.SetFaults(2, Faults{Late: time.Hour})
	errs := make(chan error, 2)
	for _, unit := range []byte{1, 2} {
		_, c := tcpClient(t, addr, unit, 10*time.Second)
		go func() {
			_, err := c.ReadHoldingRegisters(0, 1)
			errs <- err
		}()
	}
	// Wait until both requests are inside the handler.
	waitFor(t, func() bool {
		return strings.Count(stacks(), "sim.(*Server).hang") == 1 && strings.Count(stacks(), "sim.(*Server).sleep") == 1
	})
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on held requests")
	}
	for range 2 {
		if err := <-errs; err == nil {
			t.Errorf("a held request was answered after Close")
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := s.ListenTCP("127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Errorf("ListenTCP after Close: %v, want ErrClosed", err)
	}
}

func TestListenTCPErrors(t *testing.T) {
	checkLeaks(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := ListenTCP(l.Addr().String(), nil, DefaultModel())
	if err == nil {
		s.Close()
		t.Fatalf("listening on a busy port: no error")
	}
	if !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not name the address", err)
	}
	if _, err := ListenTCP("no-port", nil, nil); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("bad address: %v", err)
	}
	// Two listeners on one server, both closed by Close.
	s = NewServer(nil, DefaultModel())
	a1, err1 := s.ListenTCP("127.0.0.1:0")
	a2, err2 := s.ListenTCP("127.0.0.1:0")
	if err1 != nil || err2 != nil || a1 == a2 {
		t.Fatalf("two listeners: %q %v, %q %v", a1, err1, a2, err2)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{a1, a2} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Close", a)
		}
	}
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtimeStack(buf)])
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	devicetest.Eventually(t, 5*time.Second, "a condition of the test", cond)
}
