package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	mbserver "github.com/simonvetter/modbus"

	"github.com/sitegate/sitegate/device"
)

// Exception is a Modbus exception code, returned by Model and the request
// handler as an error and sent to the client as an exception response.
type Exception byte

// Exception codes the simulator sends.
const (
	IllegalFunction         Exception = 1    // function code not supported
	IllegalDataAddress      Exception = 2    // address missing, or not writable
	IllegalDataValue        Exception = 3    // bad quantity, byte count or coil value
	ServerDeviceFailure     Exception = 4    // an internal error
	GatewayTargetNoResponse Exception = 0x0B // TCP: no device behind this unit id
)

var exceptionNames = map[Exception]string{
	IllegalFunction:         "illegal function",
	IllegalDataAddress:      "illegal data address",
	IllegalDataValue:        "illegal data value",
	ServerDeviceFailure:     "server device failure",
	GatewayTargetNoResponse: "gateway target device failed to respond",
}

// Error reads like the console's error column: "exception 2: illegal data
// address".
func (e Exception) Error() string {
	name, ok := exceptionNames[e]
	if !ok {
		name = "unknown exception"
	}
	return fmt.Sprintf("exception %d: %s", byte(e), name)
}

// ErrClosed is returned by Server methods called after Close.
var ErrClosed = errors.New("modbus simulator closed")

// Address names one register or bit, for Faults.Illegal.
type Address struct {
	Table   device.RegisterTable
	Address uint16
}

// Faults make one unit id misbehave, for tests of the client's error
// handling. The zero value is a well-behaved device.
type Faults struct {
	// BadCRC corrupts the CRC of each reply (RTU only).
	BadCRC bool
	// WrongUnit sends each reply from the next unit id, with a valid CRC
	// (RTU only).
	WrongUnit bool
	// Truncate sends only the first half of each reply (RTU only).
	Truncate bool
	// Silent never answers. On RTU the request is swallowed and the line
	// keeps serving other units. On TCP the connection stays blocked (as
	// behind a stuck gateway) until the fault is cleared or the server is
	// closed, and is then dropped without an answer.
	Silent bool
	// Late delays each reply by this much. Longer than the client's
	// timeout, the reply arrives after the client gave up: on TCP it lands
	// in the socket as a stale reply with the old transaction id; on RTU
	// the line is busy meanwhile, like a slow device on a real bus.
	Late time.Duration
	// Illegal addresses are refused with exception 2 by any request that
	// touches them, although the model has them.
	Illegal []Address
	// Times limits the faults to the next Times requests to this unit;
	// 0 means until changed.
	Times int
}

// refuses reports whether a request on table [addr, addr+qty) touches an
// illegal address.
func (f *Faults) refuses(table device.RegisterTable, addr, qty int) bool {
	return slices.ContainsFunc(f.Illegal, func(a Address) bool {
		return a.Table == table && int(a.Address) >= addr && int(a.Address) < addr+qty
	})
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sends the server's messages (and simonvetter's, at debug
// level) to l. By default they are discarded: a simulator in a test should
// not print.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithMaxClients sets how many TCP connections each listener accepts at
// once (default 64; simonvetter's own default of 10 is too few for tests
// that reconnect after every timeout while a Silent fault holds the old
// connections).
func WithMaxClients(n int) Option { return func(s *Server) { s.maxClients = uint(max(n, 1)) } }

// WithIdleTimeout sets after how long an idle TCP connection is closed
// (default 2 minutes, as simonvetter's).
func WithIdleTimeout(d time.Duration) Option { return func(s *Server) { s.idle = d } }

// Server serves simulated devices over Modbus TCP (ListenTCP) and RTU
// (ServeRTU, ServeSerial), all at once if wanted: every transport answers
// through the same request handler and the same models. Each unit id is
// served by its own model if it has one, else by the default model; with
// no default, other unit ids get no answer on RTU (nobody at that address)
// and exception 0x0B on TCP (what a TCP-to-RTU gateway says).
type Server struct {
	log        *slog.Logger
	maxClients uint
	idle       time.Duration

	ctx  context.Context // canceled by Close
	stop context.CancelFunc
	done <-chan struct{} // ctx.Done()

	mu      sync.Mutex
	closed  bool
	models  map[uint8]*Model
	def     *Model
	faults  map[uint8]Faults
	gen     map[uint8]uint64 // SetFaults calls per unit, to release Silent holds
	changed chan struct{}    // closed and replaced by every SetFaults
	tcp     []*mbserver.ModbusServer
	fronts  []net.Listener // the TCP fronts (tcpfront.go)
	addrs   []string
	wg      sync.WaitGroup // handlers in flight, ServeRTU loops, readers
}

// NewServer returns a server for models (by unit id) and def (every other
// unit id; may be nil). It serves nothing until ListenTCP or ServeRTU.
func NewServer(models map[uint8]*Model, def *Model, opts ...Option) *Server {
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		log:        slog.New(slog.DiscardHandler),
		maxClients: 64,
		idle:       2 * time.Minute,
		ctx:        ctx,
		stop:       stop,
		done:       ctx.Done(),
		models:     make(map[uint8]*Model, len(models)),
		def:        def,
		faults:     make(map[uint8]Faults),
		gen:        make(map[uint8]uint64),
		changed:    make(chan struct{}),
	}
	for u, m := range models {
		if m != nil {
			s.models[u] = m
		}
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ListenTCP is NewServer followed by Server.ListenTCP; Addr returns the
// bound address.
func ListenTCP(addr string, models map[uint8]*Model, def *Model, opts ...Option) (*Server, error) {
	s := NewServer(models, def, opts...)
	if _, err := s.ListenTCP(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// Model returns the model that serves unit, or nil.
func (s *Server) Model(unit uint8) *Model {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.models[unit]; ok {
		return m
	}
	return s.def
}

// SetModel makes m serve unit (nil: unit falls back to the default model),
// so a test can make a device appear or vanish.
func (s *Server) SetModel(unit uint8, m *Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == nil {
		delete(s.models, unit)
	} else {
		s.models[unit] = m
	}
}

// SetFaults replaces the faults of unit; the zero Faults clears them. TCP
// requests held by Silent are released (and their connections dropped,
// still without an answer) by the next SetFaults for their unit.
func (s *Server) SetFaults(unit uint8, f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Illegal = slices.Clone(f.Illegal)
	if f.Times < 0 {
		f.Times = 0
	}
	s.faults[unit] = f
	s.gen[unit]++
	close(s.changed)
	s.changed = make(chan struct{})
}

// takeFaults returns unit's faults for one request, counting down Times,
// and the unit's SetFaults generation for hang.
func (s *Server) takeFaults(unit uint8) (Faults, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, gen := s.faults[unit], s.gen[unit]
	if f.Times > 0 {
		if f.Times == 1 {
			delete(s.faults, unit)
		} else {
			g := f
			g.Times--
			s.faults[unit] = g
		}
	}
	return f, gen
}

// enter registers a unit of work that Close must wait for; false once
// closed. Adding to the WaitGroup under the mutex that Close takes before
// waiting is what makes Add never race with Wait.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// sleep waits d, or less if the server closes; false if it closed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// hang blocks until SetFaults is called for unit after generation gen,
// or the server closes.
func (s *Server) hang(unit uint8, gen uint64) {
	for {
		s.mu.Lock()
		moved, changed := s.gen[unit] != gen, s.changed
		s.mu.Unlock()
		if moved {
			return
		}
		select {
		case <-changed:
		case <-s.done:
			return
		}
	}
}

// The request handler proper, shared by TCP and RTU: fault checks that do
// not depend on the transport, then the model.

func (s *Server) readBits(m *Model, f *Faults, table device.RegisterTable, addr, qty uint16) ([]bool, error) {
	if f.refuses(table, int(addr), int(qty)) {
		return nil, IllegalDataAddress
	}
	return m.ReadBits(table, addr, qty)
}

func (s *Server) readRegisters(m *Model, f *Faults, table device.RegisterTable, addr, qty uint16) ([]uint16, error) {
	if f.refuses(table, int(addr), int(qty)) {
		return nil, IllegalDataAddress
	}
	return m.ReadRegisters(table, addr, qty)
}

func (s *Server) writeCoils(m *Model, f *Faults, addr uint16, values []bool) error {
	if f.refuses(device.TableCoil, int(addr), len(values)) {
		return IllegalDataAddress
	}
	return m.WriteCoils(addr, values)
}

func (s *Server) writeRegisters(m *Model, f *Faults, addr uint16, values []uint16) error {
	if f.refuses(device.TableHolding, int(addr), len(values)) {
		return IllegalDataAddress
	}
	return m.WriteRegisters(addr, values)
}

// ListenTCP serves Modbus TCP on addr (host:port) and returns the bound
// address. Port 0 picks a free port. It may be called more than once; Close
// stops every listener. The data functions are answered by a simonvetter
// server on a loopback port of its own, identification by the front on
// addr (tcpfront.go).
func (s *Server) ListenTCP(addr string) (string, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("listen on %q: %w (want host:port, e.g. 127.0.0.1:5020)", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	upstream, err := s.listenInternal()
	if err != nil {
		ln.Close()
		return "", err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return "", ErrClosed
	}
	s.wg.Add(1) // serveFront's; under the lock Close takes before it waits
	s.fronts = append(s.fronts, ln)
	bound := ln.Addr().String()
	s.addrs = append(s.addrs, bound)
	s.mu.Unlock()
	go s.serveFront(ln, upstream)
	s.log.Info("modbus simulator listening", "tcp", bound)
	return bound, nil
}

// listenInternal starts the simonvetter server on a free loopback port and
// returns its address.
func (s *Server) listenInternal() (string, error) {
	const host = "127.0.0.1"
	logger := log.New(io.Discard, "", 0)
	if s.log.Handler() != slog.DiscardHandler {
		logger = slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	}
	// simonvetter binds inside Start and keeps the listener to itself, so
	// the bound port of ":0" cannot be read back. Pick a free port first;
	// if another process takes it in between, Start fails with EADDRINUSE
	// and we pick again.
	for attempt := 0; ; attempt++ {
		p, err := freePort(host)
		if err != nil {
			return "", fmt.Errorf("listen on %s: %w", host, err)
		}
		bind := net.JoinHostPort(host, p)
		srv, err := mbserver.NewServer(&mbserver.ServerConfiguration{
			URL:        "tcp://" + bind,
			Timeout:    s.idle,
			MaxClients: s.maxClients,
			Logger:     logger,
		}, tcpHandler{s})
		if err != nil {
			return "", fmt.Errorf("listen on %s: %w", bind, err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return "", ErrClosed
		}
		// Start under the lock so that Close cannot miss a listener.
		err = srv.Start()
		if err == nil {
			s.tcp = append(s.tcp, srv)
		}
		s.mu.Unlock()
		if err == nil {
			return bind, nil
		}
		if errors.Is(err, syscall.EADDRINUSE) && attempt < 10 {
			continue
		}
		return "", fmt.Errorf("listen on %s: %w", bind, err)
	}
}

func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// Addr returns the address of the first TCP listener, or "".
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.addrs) == 0 {
		return ""
	}
	return s.addrs[0]
}

// Close stops every listener and RTU line, releases requests held by
// Silent or Late faults, and waits for every request and line goroutine of
// this package to end. simonvetter's own per-connection goroutines end
// moments later, when they see their sockets closed. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.stop()
	tcp, fronts := s.tcp, s.fronts
	s.tcp, s.fronts = nil, nil
	s.mu.Unlock()
	var errs []error
	for _, ln := range fronts {
		_ = ln.Close()
	}
	for _, t := range tcp {
		if err := t.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// tcpHandler adapts the Server to simonvetter's RequestHandler. simonvetter
// has already checked quantities and address overflow (and drops the
// connection, instead of answering exception 3, for a bad quantity).
type tcpHandler struct{ s *Server }

// tcpServe runs one TCP request: the transport-specific faults (Silent
// blocks, Late sleeps), then fn with the unit's model, mapping our
// exceptions to the error values simonvetter turns into exception codes.
// simonvetter's ErrProtocolError is the one error that makes it drop the
// connection without answering, which is how Silent ends.
func tcpServe[T any](s *Server, unit uint8, fn func(m *Model, f *Faults) (T, error)) (T, error) {
	var zero T
	if !s.enter() {
		return zero, mbserver.ErrProtocolError
	}
	defer s.wg.Done()
	m := s.Model(unit)
	if m == nil {
		return zero, mbserver.ErrGWTargetFailedToRespond
	}
	f, gen := s.takeFaults(unit)
	if f.Silent {
		s.hang(unit, gen)
		return zero, mbserver.ErrProtocolError
	}
	if !s.sleep(f.Late) {
		return zero, mbserver.ErrProtocolError
	}
	v, err := fn(m, &f)
	if err != nil {
		return zero, toSimonvetter(err)
	}
	return v, nil
}

func toSimonvetter(err error) error {
	var e Exception
	if !errors.As(err, &e) {
		return mbserver.ErrServerDeviceFailure
	}
	switch e {
	case IllegalFunction:
		return mbserver.ErrIllegalFunction
	case IllegalDataAddress:
		return mbserver.ErrIllegalDataAddress
	case IllegalDataValue:
		return mbserver.ErrIllegalDataValue
	case GatewayTargetNoResponse:
		return mbserver.ErrGWTargetFailedToRespond
	}
	return mbserver.ErrServerDeviceFailure
}

func (h tcpHandler) HandleCoils(req *mbserver.CoilsRequest) ([]bool, error) {
	return tcpServe(h.s, req.UnitId, func(m *Model, f *Faults) ([]bool, error) {
		if req.IsWrite {
			return nil, h.s.writeCoils(m, f, req.Addr, req.Args)
		}
		return h.s.readBits(m, f, device.TableCoil, req.Addr, req.Quantity)
	})
}

func (h tcpHandler) HandleDiscreteInputs(req *mbserver.DiscreteInputsRequest) ([]bool, error) {
	return tcpServe(h.s, req.UnitId, func(m *Model, f *Faults) ([]bool, error) {
		return h.s.readBits(m, f, device.TableDiscrete, req.Addr, req.Quantity)
	})
}

func (h tcpHandler) HandleHoldingRegisters(req *mbserver.HoldingRegistersRequest) ([]uint16, error) {
	return tcpServe(h.s, req.UnitId, func(m *Model, f *Faults) ([]uint16, error) {
		if req.IsWrite {
			return nil, h.s.writeRegisters(m, f, req.Addr, req.Args)
		}
		return h.s.readRegisters(m, f, device.TableHolding, req.Addr, req.Quantity)
	})
}

func (h tcpHandler) HandleInputRegisters(req *mbserver.InputRegistersRequest) ([]uint16, error) {
	return tcpServe(h.s, req.UnitId, func(m *Model, f *Faults) ([]uint16, error) {
		return h.s.readRegisters(m, f, device.TableInput, req.Addr, req.Quantity)
	})
}
