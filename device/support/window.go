package support

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/openvpn"
)

// Bounds and timings of the VPN client.
const (
	// DefaultInterface is the tunnel's interface: the firewall opens only
	// the SSH console on it.
	DefaultInterface = "sgsupport0"
	// StartTimeout bounds how long OpenVPN may take to open its
	// management socket.
	StartTimeout = 10 * time.Second
	// StopTimeout is how long OpenVPN has to exit after SIGTERM before it
	// is killed.
	StopTimeout = 10 * time.Second
	// RestartAfter is the pause before a VPN client that ended inside the
	// window is started again.
	RestartAfter = 5 * time.Second
	// ByteCountEvery is the period of OpenVPN's byte counts.
	ByteCountEvery = 5 * time.Second
	// MaxLogLine bounds one line of OpenVPN's output kept for errors.
	MaxLogLine = 200
)

// ErrConfigMode means the VPN configuration is readable by others.
var ErrConfigMode = errors.New("the VPN configuration holds keys: it must be mode 0600 (chmod 600)")

// Options configure a Window.
type Options struct {
	Gateway *device.Gateway
	// Config is the OpenVPN client configuration (with its keys inline
	// or beside it), mode 0600; ConfigPath gives the usual place.
	Config string
	// Command runs OpenVPN: default ["openvpn"]; a test prefixes it with
	// ip netns exec.
	Command []string
	// Interface is the tunnel device (default DefaultInterface).
	Interface string
	// SocketDir holds the management socket (default the directory of
	// Config).
	SocketDir string
	Clock     clockwork.Clock
	Logger    *slog.Logger
}

// ConfigPath is where a data directory keeps the VPN configuration.
func ConfigPath(dataDir string) string { return filepath.Join(dataDir, "support", "client.ovpn") }

// Window is the support window and the VPN client that runs only inside
// it. It implements device.SupportWindow.
type Window struct {
	o    Options
	gw   *device.Gateway
	clk  clockwork.Clock
	log  *slog.Logger
	wake chan struct{}

	mu     sync.Mutex
	open   bool
	until  time.Time
	since  time.Time
	by     string
	state  openvpn.State
	bytes  openvpn.ByteCount
	err    string
	closes []string // why the window closed, for the audit (by Run)
}

// New returns a closed Window; Run drives the VPN client.
func New(o Options) (*Window, error) {
	if o.Gateway == nil {
		return nil, errors.New("support: no gateway")
	}
	if o.Config == "" {
		return nil, errors.New("support: no VPN configuration")
	}
	if len(o.Command) == 0 {
		o.Command = []string{"openvpn"}
	}
	if o.Interface == "" {
		o.Interface = DefaultInterface
	}
	if o.SocketDir == "" {
		o.SocketDir = filepath.Dir(o.Config)
	}
	w := &Window{o: o, gw: o.Gateway, clk: o.Clock, log: o.Logger, wake: make(chan struct{}, 1)}
	if w.clk == nil {
		w.clk = clockwork.System
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w, nil
}

func (w *Window) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Open opens the window for d, or moves the end of the open one.
func (w *Window) Open(actor device.Actor, d time.Duration) (device.SupportStatus, error) {
	if d < device.MinSupportWindow || d > device.MaxSupportWindow {
		return device.SupportStatus{}, fmt.Errorf("a support window of %s: give %s..%s (e.g. --for 2h)", d, device.MinSupportWindow, device.MaxSupportWindow)
	}
	if err := checkConfig(w.o.Config); err != nil {
		return device.SupportStatus{}, err
	}
	now := w.clk.Now()
	w.mu.Lock()
	if !w.open {
		w.since, w.err = now, ""
	}
	w.open, w.until, w.by = true, now.Add(d), actor.ID
	until := w.until
	w.mu.Unlock()
	w.kick()
	detail := fmt.Sprintf("for %s until %s", d, until.UTC().Format(time.RFC3339))
	if err := w.gw.AuditDetail(actor, device.ActionSupportOpen, "support", device.ResultOK, detail); err != nil {
		return w.Status(), err
	}
	w.log.Warn("support window open: the vendor's VPN may reach the SSH console", "by", actor.ID, "until", until)
	return w.Status(), nil
}

// Close ends the window now.
func (w *Window) Close(actor device.Actor) error {
	w.mu.Lock()
	if !w.open {
		w.mu.Unlock()
		return device.ErrSupportClosed
	}
	w.open = false
	w.mu.Unlock()
	w.kick()
	w.log.Info("support window closed", "by", actor.ID)
	return w.gw.AuditDetail(actor, device.ActionSupportClose, "support", device.ResultOK, "closed by hand")
}

// Status is the window and its VPN client.
func (w *Window) Status() device.SupportStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := device.SupportStatus{Open: w.open, State: "stopped", BytesIn: w.bytes.In, BytesOut: w.bytes.Out, Error: w.err}
	if w.open {
		st.Until, st.By, st.Since = w.until, w.by, w.since
	}
	if w.state.Name != "" {
		st.State = string(w.state.Name)
		if w.state.LocalIP.IsValid() {
			st.LocalIP = w.state.LocalIP.String()
		}
		st.Remote = w.state.Remote
	}
	return st
}

func checkConfig(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return device.ErrNoSupport
		}
		return fmt.Errorf("support configuration: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is mode %04o: %w", path, fi.Mode().Perm(), ErrConfigMode)
	}
	return nil
}

// wanted reports whether the VPN should run now, and closes a window
// whose time is up.
func (w *Window) wanted() (bool, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open && !w.clk.Now().Before(w.until) {
		w.open = false
		w.closes = append(w.closes, "its time is up")
	}
	return w.open, w.until
}

// Run starts the VPN client when the window opens and stops it when the
// window closes or ctx ends.
func (w *Window) Run(ctx context.Context) error {
	var vpn *client
	defer func() {
		if vpn != nil {
			vpn.stop(ctx)
		}
	}()
	var restartAt time.Time
	for {
		want, until := w.wanted()
		w.auditCloses()
		switch {
		case want && vpn == nil && !w.clk.Now().Before(restartAt):
			v, err := w.start(ctx)
			if err != nil {
				w.setErr(err)
				restartAt = w.clk.Now().Add(RestartAfter)
			} else {
				vpn = v
			}
		case !want && vpn != nil:
			vpn.stop(ctx)
			vpn = nil
			w.mu.Lock()
			w.state = openvpn.State{}
			w.mu.Unlock()
		}
		var next <-chan time.Time
		var stop func()
		switch {
		case want && vpn == nil:
			t := w.clk.NewTimer(max(time.Millisecond, restartAt.Sub(w.clk.Now())))
			next, stop = t.C(), t.Stop
		case want:
			t := w.clk.NewTimer(max(time.Millisecond, until.Sub(w.clk.Now())))
			next, stop = t.C(), t.Stop
		}
		var exited <-chan struct{}
		if vpn != nil {
			exited = vpn.exited
		}
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			return nil
		case <-w.wake:
		case <-next:
		case <-exited:
			w.setErr(fmt.Errorf("the VPN client ended: %s", vpn.why()))
			vpn.stop(ctx)
			vpn = nil
			restartAt = w.clk.Now().Add(RestartAfter)
		}
		if stop != nil {
			stop()
		}
	}
}

func (w *Window) auditCloses() {
	w.mu.Lock()
	closes := w.closes
	w.closes = nil
	w.mu.Unlock()
	for _, why := range closes {
		w.log.Info("support window closed", "why", why)
		_ = w.gw.AuditDetail(device.SystemActor, device.ActionSupportClose, "support", device.ResultOK, why)
	}
}

func (w *Window) setErr(err error) {
	w.log.Warn("support VPN", "err", err)
	w.mu.Lock()
	w.err = err.Error()
	w.mu.Unlock()
}

// client is one run of the OpenVPN process and its management
// connection.
type client struct {
	cmd    *exec.Cmd
	mgmt   *openvpn.Client
	exited chan struct{}
	out    *tail
	sock   string
}

// start runs OpenVPN held (--management-hold), connects to its management
// socket, turns on state and byte-count notifications and releases it.
func (w *Window) start(ctx context.Context) (*client, error) {
	if err := checkConfig(w.o.Config); err != nil {
		return nil, err
	}
	sock := filepath.Join(w.o.SocketDir, "mgmt.sock")
	_ = os.Remove(sock)
	args := append(w.o.Command[1:len(w.o.Command):len(w.o.Command)], "--config", w.o.Config,
		"--dev", w.o.Interface, "--dev-type", "tun",
		"--management", sock, "unix", "--management-hold")
	cmd := exec.Command(w.o.Command[0], args...)
	out := &tail{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start openvpn: %w", err)
	}
	c := &client{cmd: cmd, exited: make(chan struct{}), out: out, sock: sock}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	fail := func(err error) (*client, error) {
		c.stop(ctx)
		return nil, fmt.Errorf("%w (openvpn: %s)", err, c.why())
	}
	sctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	for {
		m, err := openvpn.Dial(sctx, "unix", sock, w.realtime)
		if err == nil {
			c.mgmt = m
			break
		}
		select {
		case <-c.exited:
			return fail(errors.New("openvpn ended before its management socket opened"))
		case <-sctx.Done():
			return fail(fmt.Errorf("no management socket within %s", StartTimeout))
		case <-time.After(50 * time.Millisecond):
		}
	}
	st, err := c.mgmt.StateOn(sctx)
	if err != nil {
		return fail(err)
	}
	if st.Name != "" {
		w.setState(st)
	}
	if err := c.mgmt.ByteCount(sctx, ByteCountEvery); err != nil {
		return fail(err)
	}
	if err := c.mgmt.HoldRelease(sctx); err != nil {
		return fail(err)
	}
	w.mu.Lock()
	w.err = ""
	w.mu.Unlock()
	return c, nil
}

func (w *Window) realtime(l openvpn.Line) {
	switch l.Source {
	case "STATE":
		if st, err := openvpn.ParseState(l.Text); err == nil {
			w.setState(st)
		}
	case "BYTECOUNT":
		if b, err := openvpn.ParseByteCount(l.Text); err == nil {
			w.mu.Lock()
			w.bytes = b
			w.mu.Unlock()
		}
	case "FATAL":
		w.setErr(fmt.Errorf("openvpn: %s", clip(l.Text)))
	}
}

func (w *Window) setState(st openvpn.State) {
	w.mu.Lock()
	w.state = st
	w.mu.Unlock()
	w.log.Info("support VPN", "state", st.Name, "ip", st.LocalIP)
}

// stop asks OpenVPN to end (SIGTERM over the management interface), and
// kills it if it has not within StopTimeout.
// The stop outlives a cancelled ctx (it is how Run ends), hence
// WithoutCancel.
func (c *client) stop(ctx context.Context) {
	if c.mgmt != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = c.mgmt.Signal(sctx, "SIGTERM")
		cancel()
	}
	select {
	case <-c.exited:
	case <-time.After(StopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	if c.mgmt != nil {
		_ = c.mgmt.Close()
	}
	_ = os.Remove(c.sock)
}

func (c *client) why() string { return c.out.String() }

// tail keeps the last line OpenVPN wrote, for errors.
type tail struct {
	mu   sync.Mutex
	last string
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			t.last = clip(l)
		}
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == "" {
		return "no output"
	}
	return t.last
}

func clip(s string) string {
	if len(s) > MaxLogLine {
		return s[:MaxLogLine] + "..."
	}
	return s
}
