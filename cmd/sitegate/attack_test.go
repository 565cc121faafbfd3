package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// The daemon under attack, as the outside security test ran it (issue 11
// items 3 and 6): the real binary, real SSH clients.

// keyUser creates an account NAME of ROLE on the stopped gateway in dir,
// authorised with a new key, and returns the key.
func keyUser(tb testing.TB, dir, name, role string) gossh.Signer {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), name+".pub")
	if err := os.WriteFile(path, gossh.MarshalAuthorizedKey(sshPub), 0o600); err != nil {
		tb.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := executeContext(tb.Context(), []string{"user", "add", "--data", dir, name, "--role", role, "--pubkey", path, "--accept-privacy"}, streams{strings.NewReader(""), &out, &errb}); code != 0 {
		tb.Fatalf("user add %s: %s", name, errb.String())
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return signer
}

// keyDial logs in from the loopback address local (any when empty).
func keyDial(local, addr, user string, key gossh.Signer) (*gossh.Client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cc, chans, reqs, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey()}) //nolint:gosec // test client, throwaway host key
	if err != nil {
		conn.Close()
		return nil, err
	}
	return gossh.NewClient(cc, chans, reqs), nil
}

// The daemon announces SSH-2.0-sitegate, without a version.
func TestDaemonVersionLine(t *testing.T) {
	_, addr := startDaemon(t, t.TempDir())
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "SSH-2.0-sitegate\r\n" {
		t.Fatalf("version line %q", line)
	}
}

// wideSite is a 3.9 MB site file of 391,000 keys: what the outside test
// sent to `config diff`.
func wideSite() []byte {
	var b bytes.Buffer
	b.WriteString("site:\n name: x\n")
	for i := 0; i < 391_000; i++ {
		fmt.Fprintf(&b, " %x: 1\n", 0x10000+i)
	}
	return b.Bytes()
}

// peakRSS returns a process's peak resident set (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// BenchmarkConfigDiffAttack runs the real daemon while a support account
// runs 16 parallel `config diff` of wideSite, over and over for 20 s, and
// another account logs in and runs whoami every 100 ms. It reports the
// daemon's peak RSS, the other account's login latency, and how many diffs
// ran and how many were refused as busy.
func BenchmarkConfigDiffAttack(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if limit := os.Getenv("ATTACK_GOMEMLIMIT"); limit != "" {
			b.Setenv("GOMEMLIMIT", limit) // the daemon's soft memory limit
		}
		dir := b.TempDir()
		support := keyUser(b, dir, "sam", "support")
		admin := keyUser(b, dir, "ada", "admin")
		cmd, addr := startDaemon(b, dir)
		base, _ := peakRSS(cmd.Process.Pid)
		site := wideSite()

		stop := make(chan struct{})
		var ran, busy, failed atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			// Dialled one after the other: the door takes at most eight
			// unauthenticated connections from one address at once.
			c, err := keyDial("", addr, "sam", support)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				for {
					select {
					case <-stop:
						return
					default:
					}
					s, err := c.NewSession()
					if err != nil {
						failed.Add(1)
						return
					}
					var errb bytes.Buffer
					s.Stdin, s.Stderr = bytes.NewReader(site), &errb
					err = s.Run("config diff")
					s.Close()
					switch {
					case strings.Contains(errb.String(), "busy:"):
						busy.Add(1)
					case err != nil && strings.Contains(errb.String(), "site file"):
						ran.Add(1) // decoded and refused: the work was done
					default:
						failed.Add(1)
					}
				}
			}()
		}
		var lat []time.Duration
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			t0 := time.Now()
			c, err := keyDial("127.0.0.2", addr, "ada", admin)
			if err != nil {
				b.Errorf("login during the attack: %v", err)
				break
			}
			s, err := c.NewSession()
			if err == nil {
				_, err = s.Output("whoami")
				s.Close()
			}
			c.Close()
			if err != nil {
				b.Errorf("whoami during the attack: %v", err)
				break
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(100 * time.Millisecond) // the prober's pace
		}
		close(stop)
		wg.Wait()
		peak, err := peakRSS(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(base>>20), "MiB-rss-before")
		b.ReportMetric(float64(peak>>20), "MiB-rss-peak")
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "login-p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "login-p95-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "login-max-ms")
		}
		b.ReportMetric(float64(ran.Load()), "diffs-run")
		b.ReportMetric(float64(busy.Load()), "diffs-busy")
		b.ReportMetric(float64(failed.Load()), "diffs-failed")
	}
}
