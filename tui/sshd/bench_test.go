package sshd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/tui/access"
)

func percentile(ds []time.Duration, p float64) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[int(float64(len(ds)-1)*p)]
}

// openConsole logs in with key, opens a pty session and returns once the
// first frame (the header) has arrived.
func openConsole(tb testing.TB, e *env, user string, key gossh.Signer, local string) (*gossh.Client, *gossh.Session, *frameReader) {
	tb.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", e.addr)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &gossh.ClientConfig{User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)}, HostKeyCallback: gossh.FixedHostKey(e.hostPK), Timeout: 10 * time.Second}
	cc, chans, reqs, err := gossh.NewClientConn(conn, e.addr, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	c := gossh.NewClient(cc, chans, reqs)
	s, err := c.NewSession()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		tb.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		tb.Fatal(err)
	}
	fr := &frameReader{r: out, in: in}
	fr.waitFor(tb, "sitegate")
	return c, s, fr
}

// frameReader reads a console's output and answers the terminal queries a
// real terminal would (so the program does not wait for them).
type frameReader struct {
	r   io.Reader
	in  io.Writer
	buf bytes.Buffer
}

func (f *frameReader) waitFor(tb testing.TB, text string) {
	tb.Helper()
	chunk := make([]byte, 32<<10)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(f.buf.String(), text) {
		if time.Now().After(deadline) {
			tb.Fatalf("no %q in console output", text)
		}
		n, err := f.r.Read(chunk)
		f.buf.Write(chunk[:n])
		if err != nil {
			tb.Fatalf("console output ended: %v", err)
		}
	}
	f.buf.Reset()
}

// drainAll discards output until the reader ends.
func (f *frameReader) drainAll() { _, _ = io.Copy(io.Discard, f.r) }

// BenchmarkConnectFirstFrame measures public-key login to the console's
// first frame on loopback.
func BenchmarkConnectFirstFrame(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.Limits.AttemptRate, c.Limits.AttemptBurst = 1e6, 1e6 })
	key := newSigner(b)
	e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c, s, _ := openConsole(b, e, "ada", key, "")
		ds = append(ds, time.Since(start))
		s.Close()
		c.Close()
	}
	b.ReportMetric(float64(percentile(ds, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(ds, 0.95).Microseconds())/1000, "p95-ms")
}

// BenchmarkConcurrentSessions opens 100 console sessions that receive live
// updates, and reports heap growth per session and goroutines left after
// they close. Client and server share the process, so the figure is an
// upper bound for the server side.
func BenchmarkConcurrentSessions(b *testing.B) {
	const sessions = 100
	for i := 0; i < b.N; i++ {
		e := newEnv(b, func(c *Config) { c.Limits.AttemptRate, c.Limits.AttemptBurst = 1e6, 1e6 })
		key := newSigner(b)
		e.addUser("ada", device.RoleAdmin, userOpt{key: key, keyOnly: true})
		runtime.GC()
		baseGoroutines := runtime.NumGoroutine()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		type conn struct {
			c  *gossh.Client
			s  *gossh.Session
			fr *frameReader
		}
		var conns []conn
		for j := 0; j < sessions; j++ {
			c, s, fr := openConsole(b, e, "ada", key, "")
			conns = append(conns, conn{c, s, fr})
			go fr.drainAll()
		}
		// Live updates flow to every session for a while.
		for j := 0; j < 200; j++ {
			_ = e.gw.Audit(device.Actor{ID: "u-bench", Role: "admin"}, device.ActionCommandExec, fmt.Sprint("cmd", j), device.ResultOK)
		}
		waitFor(b, "all sessions registered", func() bool { return len(e.gw.Sessions()) >= sessions })
		runtime.GC()
		var during runtime.MemStats
		runtime.ReadMemStats(&during)
		perSession := float64(during.HeapInuse-before.HeapInuse) / sessions / (1 << 20)

		for _, c := range conns {
			c.s.Close()
			c.c.Close()
		}
		waitFor(b, "sessions closed", func() bool { return len(e.gw.Sessions()) == 0 })
		left := 0
		devicetest.Within(10*time.Second, func() bool {
			runtime.GC()
			left = runtime.NumGoroutine() - baseGoroutines
			return left <= 0
		})
		if left > 0 && testing.Verbose() {
			buf := make([]byte, 1<<20)
			b.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
		b.ReportMetric(perSession, "MiB/session")
		b.ReportMetric(float64(max(left, 0)), "goroutines-left")
	}
}

// BenchmarkBruteForce fires 10,000 password attempts from one address
// while a user on another address keeps a console open and runs commands,
// and reports the attempts handled per second and that user's command
// latency.
func BenchmarkBruteForce(b *testing.B) {
	for i := 0; i < b.N; i++ {
		// Production hashing (64 MiB argon2id, two at a time) and real
		// time, so that the per-address budget refills as it would.
		lines := &countingHandler{}
		e := newEnv(b, func(c *Config) {
			c.Clock = clockwork.System
			c.Access = access.New(c.Gateway, access.Options{Clock: clockwork.System})
			c.Logger = slog.New(lines)
		})
		e.addUser("victim", device.RoleSupport, userOpt{})
		key := newSigner(b)
		e.addUser("ops", device.RoleSupport, userOpt{key: key, keyOnly: true})
		// The legitimate user comes from 127.0.0.2.
		opsClient, _, _ := openConsole(b, e, "ops", key, "127.0.0.2")

		const attempts = 10000
		var sent atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		start := time.Now()
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent.Add(1) <= attempts {
					cfg := &gossh.ClientConfig{User: "victim", Auth: []gossh.AuthMethod{gossh.Password("Guess#0001")},
						HostKeyCallback: gossh.FixedHostKey(e.hostPK), Timeout: 5 * time.Second}
					if c, err := gossh.Dial("tcp", e.addr, cfg); err == nil {
						c.Close()
					}
				}
			}()
		}
		var lat []time.Duration
		probeDone := make(chan struct{})
		go func() {
			defer close(probeDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if r := run(b, opsClient, "whoami", ""); r.code != 0 {
					b.Errorf("whoami during the attack: %+v", r)
					return
				}
				lat = append(lat, time.Since(t0))
			}
		}()
		wg.Wait()
		elapsed := time.Since(start)
		close(stop)
		<-probeDone
		b.ReportMetric(attempts/elapsed.Seconds(), "attempts/s")
		b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "other-user-p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.95).Microseconds())/1000, "other-user-p95-ms")
		b.ReportMetric(float64(e.srv.limit.Refused()), "refused")
		b.ReportMetric(float64(lines.n.Load()), "log-lines")
		opsClient.Close()
	}
}

// countingHandler counts the log records written, and keeps none.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
