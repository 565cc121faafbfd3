//go:build linux

package sim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mb "github.com/goburrow/modbus"

	"github.com/sitegate/sitegate/device"
)

// startRTU serves models on the master side of a fresh pty; clients open
// p.Path. Everything is stopped, and checked for leaks, at the end of the
// test.
func startRTU(t *testing.T, models map[uint8]*Model, def *Model, line Line) (*Server, *PTY) {
	t.Helper()
	checkLeaks(t)
	p, err := OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(models, def)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeRTU(ctx, p.Master, line) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("ServeRTU returned %v, want context.Canceled", err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		p.Close()
	})
	return s, p
}

// rtuClient is goburrow's RTU client on the pty's slave path. Over a pty
// the baud rate only sets goburrow's fixed sleep before reading.
func rtuClient(t *testing.T, path string, unit byte, timeout time.Duration) (*mb.RTUClientHandler, mb.Client) {
	t.Helper()
	h := mb.NewRTUClientHandler(path)
	h.BaudRate = 115200
	h.SlaveId = unit
	h.Timeout = timeout
	h.IdleTimeout = 0
	if err := h.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, mb.NewClient(h)
}

// req builds an RTU request frame with its CRC.
func req(unit, fc byte, data ...byte) []byte {
	return appendCRC(append([]byte{unit, fc}, data...))
}

// readUpTo reads from f until it has want bytes or within has passed, and
// returns what arrived. Expecting silence is readUpTo(f, 1, d) == nil.
func readUpTo(t *testing.T, f *os.File, want int, within time.Duration) []byte {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(within)); err != nil {
		t.Fatal(err)
	}
	defer f.SetReadDeadline(time.Time{})
	var out []byte
	buf := make([]byte, 512)
	for len(out) < want {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return out
}

func write(t *testing.T, f *os.File, b []byte) {
	t.Helper()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestRTUReadsModels(t *testing.T) {
	clk := newClock()
	meter := mustProfile(t, "generic-energy-meter", clk)
	vsd := mustProfile(t, "generic-vsd", clk)
	def := DefaultModel(WithClock(clk.Now))
	_, p := startRTU(t, map[uint8]*Model{1: meter, 2: vsd}, def, Line{})
	h, c := rtuClient(t, p.Path, 1, time.Second)
	for range 2 {
		for unit, m := range map[byte]*Model{1: meter, 2: vsd} {
			h.SlaveId = unit
			checkPoints(t, c, m)
		}
		// The default map table by table: a request per point would take
		// goburrow's fixed sleep 400 times.
		h.SlaveId = 200
		for _, read := range []struct {
			table device.RegisterTable
			fn    func(addr, qty uint16) ([]byte, error)
		}{{device.TableHolding, c.ReadHoldingRegisters}, {device.TableInput, c.ReadInputRegisters}} {
			b, err := read.fn(0, DefaultSize)
			want, _ := def.ReadRegisters(read.table, 0, DefaultSize)
			if err != nil || !slices.Equal(words(b), want) {
				t.Errorf("%s 0..99 = %v, %v; want %v", read.table, words(b), err, want)
			}
		}
		for _, read := range []struct {
			table device.RegisterTable
			fn    func(addr, qty uint16) ([]byte, error)
		}{{device.TableCoil, c.ReadCoils}, {device.TableDiscrete, c.ReadDiscreteInputs}} {
			b, err := read.fn(0, DefaultSize)
			want, _ := def.ReadBits(read.table, 0, DefaultSize)
			if err != nil || !slices.Equal(b, packBits(want)) {
				t.Errorf("%s 0..99 = % x, %v; want % x", read.table, b, err, packBits(want))
			}
		}
		clk.Advance(23 * time.Second)
	}
	if _, err := c.ReadDiscreteInputs(99, 2); exceptionOf(err) != 2 {
		t.Errorf("discrete 99..100: %v, want exception 2", err)
	}
}

func TestRTUWrites(t *testing.T) {
	clk := newClock()
	vsd := mustProfile(t, "generic-vsd", clk)
	def := DefaultModel(WithClock(clk.Now))
	_, p := startRTU(t, map[uint8]*Model{2: vsd}, def, Line{})
	h, c := rtuClient(t, p.Path, 2, time.Second)
	if _, err := c.WriteSingleCoil(0, 0xFF00); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteSingleRegister(0, 1234); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if v, _ := vsd.Value("running"); v != 1 {
		t.Errorf("running = %v", v)
	}
	if v, _ := vsd.Value("speed_setpoint"); v != 12.34 {
		t.Errorf("speed_setpoint = %v", v)
	}
	if _, err := c.WriteSingleRegister(3, 1); exceptionOf(err) != 2 {
		t.Errorf("write holding 3 (no point): %v, want exception 2", err)
	}
	h.SlaveId = 9
	if _, err := c.WriteMultipleRegisters(98, 2, []byte{0x12, 0x34, 0x56, 0x78}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteMultipleCoils(90, 10, []byte{0xFF, 0x01}); err != nil {
		t.Fatal(err)
	}
	if b, err := c.ReadHoldingRegisters(98, 2); err != nil || !slices.Equal(words(b), []uint16{0x1234, 0x5678}) {
		t.Errorf("holding 98..99 = %v, %v", words(b), err)
	}
	if b, err := c.ReadCoils(90, 10); err != nil || !slices.Equal(b, []byte{0xFF, 0x01}) {
		t.Errorf("coils 90..99 = %08b, %v", b, err)
	}
	if _, err := c.WriteMultipleRegisters(99, 2, []byte{0, 0, 0, 0}); exceptionOf(err) != 2 {
		t.Errorf("write holding 99..100: %v, want exception 2", err)
	}
}

// Requests goburrow's client would refuse to send, written by hand.
func TestRTUExceptions(t *testing.T) {
	def := DefaultModel(WithClock(newClock().Now))
	_, p := startRTU(t, nil, def, Line{Gap: 10 * time.Millisecond})
	cases := []struct {
		name  string
		frame []byte
		want  []byte // reply without CRC
	}{
		{"read 0 registers", req(1, 3, 0, 0, 0, 0), []byte{1, 0x83, 3}},
		{"read 126 registers", req(1, 3, 0, 0, 0, 126), []byte{1, 0x83, 3}},
		{"read 2001 coils", req(1, 1, 0, 0, 0x07, 0xD1), []byte{1, 0x81, 3}},
		{"read past 65535", req(1, 4, 0xFF, 0xFF, 0, 2), []byte{1, 0x84, 2}},
		{"coil value 0x1234", req(1, 5, 0, 0, 0x12, 0x34), []byte{1, 0x85, 3}},
		{"byte count mismatch", req(1, 16, 0, 0, 0, 2, 2, 0, 1), []byte{1, 0x90, 3}},
		{"coil byte count mismatch", req(1, 15, 0, 0, 0, 9, 1, 0xFF), []byte{1, 0x8F, 3}},
		{"unknown function", req(1, 0x07), []byte{1, 0x87, 1}},
		{"unknown function with data", req(1, 0x41, 1, 2, 3), []byte{1, 0xC1, 1}},
		{"MEI type 13", req(1, 0x2B, 0x0D, 0, 0), []byte{1, 0xAB, 1}},
		{"read write-multiple", req(1, 0x17, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0), []byte{1, 0x97, 1}},
	}
	for _, c := range cases {
		write(t, p.slave, c.frame)
		got := readUpTo(t, p.slave, len(c.want)+2, time.Second)
		if !bytes.Equal(got, appendCRC(slices.Clone(c.want))) {
			t.Errorf("%s: got % x, want % x + CRC", c.name, got, c.want)
		}
	}
}

func TestRTUDeviceIdentification(t *testing.T) {
	clk := newClock()
	vsd := mustProfile(t, "generic-vsd", clk)
	_, p := startRTU(t, map[uint8]*Model{2: vsd}, DefaultModel(), Line{})
	h, _ := rtuClient(t, p.Path, 2, time.Second)

	objects := func(data []byte) map[byte]string {
		t.Helper()
		if len(data) < 6 || data[0] != 0x0E || data[2] != 0x81 || data[3] != 0 {
			t.Fatalf("reply header % x", data)
		}
		out := map[byte]string{}
		rest := data[6:]
		for range data[5] {
			id, n := rest[0], int(rest[1])
			out[id] = string(rest[2 : 2+n])
			rest = rest[2+n:]
		}
		if len(rest) != 0 {
			t.Errorf("trailing bytes % x", rest)
		}
		return out
	}
	pdu, err := exchange(h, 0x2B, []byte{0x0E, 0x01, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	got := objects(pdu.Data)
	want := map[byte]string{0: "sitegate", 1: "generic-vsd", 2: "1.0"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("basic objects = %q, want %q", got, want)
	}
	// A stream from an unknown object starts over at 0; a stream from 2
	// has only object 2; an individual request gets one.
	for _, c := range []struct {
		code, obj byte
		want      map[byte]string
	}{
		{1, 0x40, want},
		{1, 2, map[byte]string{2: "1.0"}},
		{4, 1, map[byte]string{1: "generic-vsd"}},
	} {
		pdu, err := exchange(h, 0x2B, []byte{0x0E, c.code, c.obj})
		if err != nil {
			t.Fatal(err)
		}
		if got := objects(pdu.Data); len(got) != len(c.want) || got[1] != c.want[1] || got[2] != c.want[2] {
			t.Errorf("code %d object %d: %q, want %q", c.code, c.obj, got, c.want)
		}
	}
	// The default model on any other unit names itself "default".
	h.SlaveId = 7
	if pdu, err := exchange(h, 0x2B, []byte{0x0E, 0x04, 0x01}); err != nil || objects(pdu.Data)[1] != "default" {
		t.Errorf("unit 7 product code: %+v, %v", pdu, err)
	}
	// Function 17, report server ID: id, run indicator, then text.
	h.SlaveId = 2
	pdu, err = exchange(h, 0x11, nil)
	if err != nil || pdu.FunctionCode != 0x11 || string(pdu.Data) != "\x1aS\xffsitegate generic-vsd 1.0" {
		t.Errorf("report server ID: %+v, %v", pdu, err)
	}
	for _, c := range []struct {
		code, obj, exc byte
	}{{4, 9, 2}, {7, 0, 3}} {
		pdu, err := exchange(h, 0x2B, []byte{0x0E, c.code, c.obj})
		if err != nil || pdu.FunctionCode != 0xAB || !slices.Equal(pdu.Data, []byte{c.exc}) {
			t.Errorf("code %d object %d: %+v, %v; want exception %d", c.code, c.obj, pdu, err, c.exc)
		}
	}
}

func TestRTUFaults(t *testing.T) {
	clk := newClock()
	def := DefaultModel(WithClock(clk.Now))
	s, p := startRTU(t, nil, def, Line{})
	_, c := rtuClient(t, p.Path, 5, 300*time.Millisecond)
	cases := []struct {
		name   string
		faults Faults
		want   string // in the client's error
	}{
		{"bad CRC", Faults{BadCRC: true}, "crc"},
		{"wrong unit", Faults{WrongUnit: true}, "slave id '6' does not match request '5'"},
		{"truncated", Faults{Truncate: true}, "timeout"},
		{"silent", Faults{Silent: true}, "timeout"},
		{"illegal", Faults{Illegal: []Address{{device.TableHolding, 1}}}, "illegal data address"},
	}
	for _, tc := range cases {
		s.SetFaults(5, tc.faults)
		_, err := c.ReadHoldingRegisters(0, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		s.SetFaults(5, Faults{})
		if _, err := c.ReadHoldingRegisters(0, 2); err != nil {
			t.Errorf("%s cleared: %v", tc.name, err)
		}
	}

	// Only the faulty unit misbehaves.
	s.SetFaults(5, Faults{Silent: true})
	_, c6 := rtuClient(t, p.Path, 6, 300*time.Millisecond)
	if _, err := c6.ReadHoldingRegisters(0, 2); err != nil {
		t.Errorf("unit 6 while 5 is silent: %v", err)
	}
}

func TestRTULateReply(t *testing.T) {
	def := DefaultModel(WithClock(newClock().Now))
	s, p := startRTU(t, nil, def, Line{})
	s.SetFaults(1, Faults{Late: 300 * time.Millisecond})
	start := time.Now()
	write(t, p.slave, req(1, 3, 0, 0, 0, 1))
	if got := readUpTo(t, p.slave, 1, 150*time.Millisecond); got != nil {
		t.Fatalf("reply % x before the delay", got)
	}
	got := readUpTo(t, p.slave, 7, 2*time.Second)
	if len(got) != 7 || !crcOK(got) {
		t.Fatalf("late reply % x", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("reply after %v, want at least 300ms", d)
	}
}

// A device that sees a bad frame drops it and everything until the line is
// quiet, then answers the next good frame.
func TestRTUResync(t *testing.T) {
	def := DefaultModel(WithClock(newClock().Now))
	_, p := startRTU(t, nil, def, Line{Gap: 10 * time.Millisecond})
	good := req(1, 3, 0, 0, 0, 1)
	bad := slices.Clone(good)
	bad[len(bad)-1] ^= 0x55
	quiet := 100 * time.Millisecond // ≫ Gap: the line goes quiet meanwhile

	steps := []struct {
		name  string
		write []byte
		reply bool
	}{
		{"bad CRC", bad, false},
		{"good frame after the silence", good, true},
		{"bad CRC and a good frame without silence", append(slices.Clone(bad), good...), false},
		{"good frame after that", good, true},
		{"partial frame", good[:5], false},
		{"good frame after a partial one", good, true},
		{"noise of an unknown function", []byte{0x01, 0x99, 0x12, 0x00, 0x42}, false},
		{"good frame after the noise", good, true},
		{"overlong garbage", bytes.Repeat([]byte{0x01, 0x10, 0x00, 0x00, 0x00, 0x7B, 0xF6}, 40), false},
		{"good frame after the garbage", good, true},
	}
	for _, st := range steps {
		write(t, p.slave, st.write)
		if st.reply {
			if got := readUpTo(t, p.slave, 7, time.Second); len(got) != 7 || !crcOK(got) || got[1] != 3 {
				t.Errorf("%s: reply % x", st.name, got)
			}
		} else if got := readUpTo(t, p.slave, 1, quiet); got != nil {
			t.Errorf("%s: unexpected reply % x", st.name, got)
		}
	}
}

func TestRTUBroadcastAndAbsentUnits(t *testing.T) {
	clk := newClock()
	a := DefaultModel(WithClock(clk.Now))
	b := DefaultModel(WithClock(clk.Now))
	_, p := startRTU(t, map[uint8]*Model{1: a, 2: b}, nil, Line{})
	// Unit 0 writes holding 7 on every device and nobody answers.
	write(t, p.slave, req(0, 6, 0, 7, 0x04, 0xD2))
	if got := readUpTo(t, p.slave, 1, 100*time.Millisecond); got != nil {
		t.Errorf("broadcast answered: % x", got)
	}
	for _, m := range []*Model{a, b} {
		if v, _ := m.Value("hr7"); v != 1234 {
			t.Errorf("hr7 = %v after the broadcast, want 1234", v)
		}
	}
	// Without a default model an unknown unit is simply absent.
	h, c := rtuClient(t, p.Path, 3, 200*time.Millisecond)
	if _, err := c.ReadHoldingRegisters(0, 1); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("unit 3: %v, want a timeout", err)
	}
	h.SlaveId = 2
	if _, err := c.ReadHoldingRegisters(0, 1); err != nil {
		t.Errorf("unit 2: %v", err)
	}
}

// With Line.Baud the simulator answers no earlier than a real line could:
// request, 3.5-character silence, turnaround, reply, at 11 bits a
// character. Only the lower bound is exact; the upper bound is loose
// because the test machine may be busy.
func TestRTULineTiming(t *testing.T) {
	for _, c := range []struct {
		baud int
		regs byte
	}{{19200, 10}, {38400, 100}, {9600, 4}} {
		t.Run(strconv.Itoa(c.baud), func(t *testing.T) {
			def := DefaultModel(WithClock(newClock().Now))
			turn := 3 * time.Millisecond
			_, p := startRTU(t, nil, def, Line{Baud: c.baud, Turnaround: turn})
			frame := req(1, 4, 0, 0, 0, c.regs)
			replyLen := 5 + 2*int(c.regs)
			wire := time.Duration(len(frame)+replyLen)*charTime(c.baud) + silence35(c.baud) + turn

			start := time.Now()
			write(t, p.slave, frame)
			got := readUpTo(t, p.slave, replyLen, 5*time.Second)
			took := time.Since(start)
			if len(got) != replyLen || !crcOK(got) {
				t.Fatalf("reply % x", got)
			}
			if took < wire {
				t.Errorf("%d registers: reply complete after %v, faster than the wire allows (%v)", c.regs, took, wire)
			}
			if took > wire+time.Second {
				t.Errorf("%d registers: reply complete after %v, wire time %v", c.regs, took, wire)
			}
			t.Logf("%d registers: cycle %v, wire time %v", c.regs, took, wire)
		})
	}
}

func TestServeRTUStops(t *testing.T) {
	checkLeaks(t)
	p, err := OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := NewServer(nil, DefaultModel())
	defer s.Close()

	// Canceling the context ends it, and the pty is usable again.
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.ServeRTU(ctx, p.Master, Line{}) }()
		write(t, p.slave, req(1, 3, 0, 0, 0, 1))
		if got := readUpTo(t, p.slave, 7, time.Second); len(got) != 7 {
			t.Fatalf("reply % x", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: %v", err)
		}
	}

	// Close ends it with ErrClosed, even while a late reply is pending.
	s.SetFaults(1, Faults{Late: time.Hour})
	done := make(chan error, 1)
	go func() { done <- s.ServeRTU(context.Background(), p.Master, Line{}) }()
	write(t, p.slave, req(1, 3, 0, 0, 0, 1))
	waitFor(t, func() bool { return strings.Contains(stacks(), "sim.waitUntil") })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := s.ServeRTU(context.Background(), p.Master, Line{}); !errors.Is(err, ErrClosed) {
		t.Errorf("ServeRTU after Close: %v, want ErrClosed", err)
	}
}

func TestServeRTUReadError(t *testing.T) {
	checkLeaks(t)
	p, err := OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(nil, DefaultModel())
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.ServeRTU(context.Background(), p.Master, Line{}) }()
	// Hanging up the slave makes the master read EIO.
	p.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "read from the serial line") {
			t.Errorf("ServeRTU: %v, want a read error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeRTU did not return after its line closed")
	}
}

// ServeSerial opens a port by path with goburrow serial: here the slave side
// of a pty, with the test on the master side.
func TestServeSerial(t *testing.T) {
	checkLeaks(t)
	p, err := OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := NewServer(nil, DefaultModel(WithClock(newClock().Now)))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.ServeSerial(ctx, SerialConfig{Path: p.Path, Baud: 38400, Parity: device.ParityNone}, Line{})
	}()
	// The port opens asynchronously; retry until it answers.
	var got []byte
	waitFor(t, func() bool {
		write(t, p.Master, req(1, 3, 0, 0, 0, 2))
		got = readUpTo(t, p.Master, 9, 200*time.Millisecond)
		return len(got) == 9
	})
	if !crcOK(got) {
		t.Errorf("reply % x", got)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ServeSerial: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeSerial did not stop")
	}

	err = s.ServeSerial(context.Background(), SerialConfig{Path: "/dev/does-not-exist"}, Line{})
	if err == nil || !strings.Contains(err.Error(), "/dev/does-not-exist") {
		t.Errorf("missing port: %v", err)
	}
}
