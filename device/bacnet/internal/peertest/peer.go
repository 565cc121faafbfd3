// Package peertest runs the interop tests' BACnet peer: a small Node
// script (device/bacnet/testdata/interop/peer.js) on @bacnet-js/client, a
// stack nobody at sitegate wrote. It serves a Device object and a few
// objects the gateway reads, subscribes to and writes, and runs client
// requests sent on its stdin; everything it sees comes back as one JSON
// object per line. The node and bacnet packages' tests share it.
//
// # Caveats
//
//   - Tests skip when node or the npm module is missing, except with
//     CI=true, where they fail: .ci/run installs them with
//     npm ci --prefix device/bacnet/testdata/interop.
package peertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
)

// Wait bounds every wait on the peer.
const Wait = 10 * time.Second

// Dir is the folder of peer.js, its package.json and lock.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "interop")
}

// Need skips without the npm peer, except in CI where it must be there.
func Need(t testing.TB) {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(Dir(), "node_modules", "@bacnet-js", "client"))
	if errNode == nil && errMod == nil {
		return
	}
	msg := fmt.Sprintf("the @bacnet-js/client peer is not installed (node: %v, module: %v); run npm ci --prefix device/bacnet/testdata/interop", errNode, errMod)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Options start a peer.
type Options struct {
	Instance uint32
	// ExtraInputs adds analog-input:100.. for benchmarks.
	ExtraInputs int
	// NoRPM leaves ReadPropertyMultiple unanswered, as a small device.
	NoRPM bool
	// Bind, Port and Broadcast place the peer's socket (default
	// 127.0.0.1, a free port, 127.255.255.255). Bind 0.0.0.0 receives
	// broadcasts.
	Bind      string
	Port      int
	Broadcast string
	// Prefix runs the peer through another command, e.g. ip netns exec NS.
	Prefix []string
	// Host is the peer's address for AddrPort (default Bind, or 127.0.0.1).
	Host string
}

// Peer is a running peer.
type Peer struct {
	// AddrPort is where the peer's device is.
	AddrPort netip.AddrPort

	stdin *json.Encoder
	mu    sync.Mutex
	next  int
	wait  map[int]chan reply
	evs   []map[string]any
}

type reply struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error"`
	Result json.RawMessage `json:"result"`
}

// Start runs a peer until the test ends.
func Start(t testing.TB, o Options) *Peer {
	t.Helper()
	Need(t)
	ctx, cancel := context.WithCancel(context.Background())
	args := append(append([]string(nil), o.Prefix...), "node", "peer.js", strconv.FormatUint(uint64(o.Instance), 10), strconv.Itoa(o.ExtraInputs))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = Dir()
	env := []string{"PEER_NO_RPM=", "PEER_BIND=" + o.Bind, "PEER_PORT=" + strconv.Itoa(o.Port), "PEER_BROADCAST=" + o.Broadcast}
	if o.NoRPM {
		env[0] = "PEER_NO_RPM=1"
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	p := &Peer{stdin: json.NewEncoder(in), wait: map[int]chan reply{}}
	listening := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(outp)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if id, ok := m["id"].(float64); ok {
				var r reply
				_ = json.Unmarshal(sc.Bytes(), &r)
				p.mu.Lock()
				ch := p.wait[int(id)]
				delete(p.wait, int(id))
				p.mu.Unlock()
				if ch != nil {
					ch <- r
				}
				continue
			}
			if m["event"] == "listening" {
				listening <- int(m["port"].(float64))
			}
			p.mu.Lock()
			p.evs = append(p.evs, m)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		in.Close() // the peer exits when its stdin closes
		select {
		case <-done:
		case <-time.After(Wait):
			cancel()
			<-done
		}
		cancel()
		_ = cmd.Wait()
	})
	host := o.Host
	if host == "" {
		host = o.Bind
	}
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	select {
	case port := <-listening:
		p.AddrPort = netip.AddrPortFrom(netip.MustParseAddr(host), uint16(port))
	case <-time.After(Wait):
		t.Fatal("the node peer did not start")
	}
	return p
}

// Do runs one command on the peer and decodes its result into v.
func (p *Peer) Do(cmd map[string]any, v any) error {
	p.mu.Lock()
	p.next++
	id := p.next
	ch := make(chan reply, 1)
	p.wait[id] = ch
	p.mu.Unlock()
	cmd["id"] = id
	if err := p.stdin.Encode(cmd); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if !r.OK {
			return fmt.Errorf("peer: %s", r.Error)
		}
		if v != nil {
			return json.Unmarshal(r.Result, v)
		}
		return nil
	case <-time.After(Wait):
		return fmt.Errorf("peer: no answer to %v", cmd["cmd"])
	}
}

// Set changes an object's present value (and fault) on the peer, which
// notifies its COV subscribers.
func (p *Peer) Set(object string, v float64, fault bool) error {
	return p.Do(map[string]any{"cmd": "set", "object": object, "value": v, "fault": fault}, nil)
}

// Await waits for the first event with those fields: the peer prints it
// before answering, but its stdout may be read after the answer arrived.
func (p *Peer) Await(t testing.TB, match map[string]any) map[string]any {
	t.Helper()
	var e map[string]any
	devicetest.Eventually(t, Wait, fmt.Sprintf("peer event %v", match), func() bool { e = p.Event(match); return e != nil })
	return e
}

// Event is the first event with those fields, or nil.
func (p *Peer) Event(match map[string]any) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.evs {
		ok := true
		for k, v := range match {
			if fmt.Sprint(e[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			return e
		}
	}
	return nil
}

// Events returns every event so far.
func (p *Peer) Events() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.evs...)
}
