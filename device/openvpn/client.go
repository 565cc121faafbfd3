package openvpn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client is a connection to OpenVPN's management interface. One command
// runs at a time; real-time messages go to the callback given to Dial,
// on the client's reader goroutine, which Close waits for.
type Client struct {
	conn     net.Conn
	realtime func(Line)
	cmdMu    sync.Mutex // one command at a time
	replies  chan reply
	done     chan struct{}
	mu       sync.Mutex
	err      error // why the reader ended
	waiting  bool  // a command awaits its answer
}

type reply struct {
	lines []string
	text  string
	err   error
}

// Dial connects to the management interface at address over network
// ("unix" for --management PATH unix, "tcp" for --management IP PORT).
// realtime, when not nil, receives every >SOURCE: line; it must not block
// for long (it holds up the answers to commands).
func Dial(ctx context.Context, network, address string, realtime func(Line)) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("connect to openvpn management %s: %w", address, err)
	}
	return NewClient(conn, realtime), nil
}

// NewClient speaks the management protocol over conn, which it owns.
func NewClient(conn net.Conn, realtime func(Line)) *Client {
	c := &Client{conn: conn, realtime: realtime, replies: make(chan reply, 1), done: make(chan struct{})}
	go c.read()
	return c
}

// Close ends the connection and waits for the reader.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// Done is closed when the connection has ended; Err says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is up).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) read() {
	defer close(c.done)
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 0, 512), MaxLine+2)
	var data []string
	fail := func(err error) {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		_ = c.conn.Close()
	}
	for sc.Scan() {
		l, err := ParseLine(strings.TrimSuffix(sc.Text(), "\r"))
		if err != nil {
			fail(err)
			return
		}
		var r reply
		switch l.Kind {
		case KindRealtime:
			if c.realtime != nil {
				c.realtime(l)
			}
			continue
		case KindData:
			if len(data) == MaxLines {
				fail(fmt.Errorf("%w: an answer of more than %d lines", ErrLine, MaxLines))
				return
			}
			data = append(data, l.Text)
			continue
		case KindEnd:
			r.lines, data = data, nil
		case KindSuccess:
			r.text = l.Text
		case KindError:
			r.err = fmt.Errorf("%w: %s", ErrCommand, l.Text)
		}
		c.mu.Lock()
		asked := c.waiting
		c.waiting = false
		c.mu.Unlock()
		if !asked {
			fail(fmt.Errorf("%w: an answer nobody asked for (%s %q)", ErrLine, l.Kind, clip(l.Text)))
			return
		}
		c.replies <- r // buffered: one command at a time
	}
	err := sc.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		err = fmt.Errorf("%w: longer than %d bytes", ErrLine, MaxLine)
	}
	if err == nil {
		err = ErrClosed
	}
	fail(err)
}

// Command sends one command line and returns its answer: the text of
// SUCCESS, or the lines of a multi-line answer. ERROR comes back as an
// error wrapping ErrCommand.
func (c *Client) Command(ctx context.Context, cmd string) (text string, lines []string, err error) {
	if cmd == "" || strings.ContainsAny(cmd, "\r\n\x00") || len(cmd) > MaxLine {
		return "", nil, fmt.Errorf("openvpn command %q: empty, too long or more than one line", clip(cmd))
	}
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetWriteDeadline(dl)
	} else {
		_ = c.conn.SetWriteDeadline(time.Time{})
	}
	c.mu.Lock()
	c.waiting = true
	c.mu.Unlock()
	if _, err := c.conn.Write([]byte(cmd + "\n")); err != nil {
		// A write fails when the connection is gone, which ends the
		// reader too; it says why.
		select {
		case <-c.done:
			err = c.Err()
		case <-ctx.Done():
		}
		return "", nil, fmt.Errorf("openvpn %s: %w", verb(cmd), err)
	}
	select {
	case r := <-c.replies:
		if r.err != nil {
			return "", nil, fmt.Errorf("openvpn %s: %w", verb(cmd), r.err)
		}
		return r.text, r.lines, nil
	case <-c.done:
		return "", nil, fmt.Errorf("openvpn %s: %w", verb(cmd), c.Err())
	case <-ctx.Done():
		// The answer may still come; the connection can no longer tell
		// it from the next one's, so it ends.
		_ = c.conn.Close()
		return "", nil, fmt.Errorf("openvpn %s: %w", verb(cmd), ctx.Err())
	}
}

func verb(cmd string) string {
	v, _, _ := strings.Cut(cmd, " ")
	return v
}

// StateOn turns on >STATE: notifications and returns the current state:
// the zero State when OpenVPN has none yet (held at start).
//
// "state on all" would do both at once, but answers twice (SUCCESS, then
// the history and END), which a protocol without request ids cannot pair
// with one command; so notifications go on first, then the state is
// asked.
func (c *Client) StateOn(ctx context.Context) (State, error) {
	if _, _, err := c.Command(ctx, "state on"); err != nil {
		return State{}, err
	}
	_, lines, err := c.Command(ctx, "state")
	if err != nil || len(lines) == 0 {
		return State{}, err
	}
	return ParseState(lines[len(lines)-1])
}

// ByteCount asks for a >BYTECOUNT: line every every (whole seconds; 0
// turns them off).
func (c *Client) ByteCount(ctx context.Context, every time.Duration) error {
	_, _, err := c.Command(ctx, "bytecount "+strconv.Itoa(int(every/time.Second)))
	return err
}

// HoldRelease lets an OpenVPN started with --management-hold go on.
func (c *Client) HoldRelease(ctx context.Context) error {
	_, _, err := c.Command(ctx, "hold release")
	return err
}

// Signals the signal command accepts.
var signals = []string{"SIGHUP", "SIGTERM", "SIGUSR1", "SIGUSR2"}

// Signal sends OpenVPN a signal: SIGTERM ends it, SIGHUP and SIGUSR1
// restart it, SIGUSR2 logs its statistics.
func (c *Client) Signal(ctx context.Context, sig string) error {
	if !slices.Contains(signals, sig) {
		return fmt.Errorf("openvpn signal %q: use one of %s", clip(sig), strings.Join(signals, ", "))
	}
	_, _, err := c.Command(ctx, "signal "+sig)
	return err
}
