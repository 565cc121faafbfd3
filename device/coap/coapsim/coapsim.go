// Package coapsim plays CoAP-over-DTLS sensors for the demo and the
// benchmarks: each opens its own PSK session (pion/dtls, go-coap's client)
// to the gateway and posts moving readings every interval, reconnecting
// after a failure.
//
// # Caveats
//
//   - The values are made up (a slow temperature wave, humidity, an
//     occupancy flag); they exist to be seen moving.
//   - A sensor's clock is the gateway's: readings carry no own time.
package coapsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// Bounds of the simulator.
const (
	// HandshakeTimeout bounds one handshake and RequestTimeout one post.
	HandshakeTimeout = 10 * time.Second
	RequestTimeout   = 10 * time.Second
	// RetryAfter is the wait before a sensor connects again after a
	// failure.
	RetryAfter = 5 * time.Second
	// MinInterval is the shortest interval a sensor posts at.
	MinInterval = 100 * time.Millisecond
)

// Sensor is one simulated sensor.
type Sensor struct {
	Name     string
	Identity string
	Key      []byte
	Interval time.Duration
}

// Config is what Run plays.
type Config struct {
	Server  string // the gateway's CoAP server, host:port
	Sensors []Sensor
	Log     *slog.Logger
}

// Run plays every sensor until ctx ends; it returns nil then, or an error
// when the configuration cannot be played.
func Run(ctx context.Context, c Config) error {
	addr, err := net.ResolveUDPAddr("udp", c.Server)
	if err != nil {
		return fmt.Errorf("coap server %s: %w", c.Server, err)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for i, s := range c.Sensors {
		s.Interval = max(s.Interval, MinInterval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			play(ctx, addr, s, float64(i), c.Log.With("sensor", s.Name))
		}()
	}
	wg.Wait()
	return nil
}

// play keeps one sensor posting until ctx ends.
func play(ctx context.Context, addr *net.UDPAddr, s Sensor, phase float64, log *slog.Logger) {
	for n := 0; ctx.Err() == nil; {
		cc, err := connect(ctx, addr, s)
		if err == nil {
			n, err = post(ctx, cc, s, phase, n)
			cc.Close()
		}
		if ctx.Err() != nil {
			return
		}
		log.Debug("coapsim: reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(RetryAfter):
		}
	}
}

func connect(ctx context.Context, addr *net.UDPAddr, s Sensor) (*udpclient.Conn, error) {
	conn, err := dtls.DialWithOptions("udp", addr,
		dtls.WithPSK(func([]byte) ([]byte, error) { return s.Key, nil }),
		dtls.WithPSKIdentityHint([]byte(s.Identity)),
		dtls.WithCipherSuites(dtls.TLS_PSK_WITH_AES_128_CCM_8))
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return coapdtls.Client(conn), nil
}

// post posts a reading every interval until a post fails or ctx ends,
// and returns how many it posted in all.
func post(ctx context.Context, cc *udpclient.Conn, s Sensor, phase float64, n int) (int, error) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		body, _ := json.Marshal(Values(n, phase))
		rctx, cancel := context.WithTimeout(ctx, RequestTimeout)
		resp, err := cc.Post(rctx, "/v1/readings", message.AppJSON, bytes.NewReader(body))
		cancel()
		switch {
		case err != nil:
			return n, err
		case resp.Code() != codes.Changed:
			return n, fmt.Errorf("the gateway answered %v", resp.Code())
		}
		n++
		select {
		case <-ctx.Done():
			return n, nil
		case <-t.C:
		}
	}
}

// Values are the readings of a sensor's n-th post.
func Values(n int, phase float64) map[string]any {
	x := float64(n)/20 + phase
	return map[string]any{
		"temperature": math.Round((21+1.5*math.Sin(x))*100) / 100,
		"humidity":    math.Round((45+5*math.Cos(x/2))*10) / 10,
		"occupied":    math.Sin(x/3) > 0,
	}
}
