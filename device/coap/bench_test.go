package coap_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap"
)

const benchSensors = 100

func benchSite() *device.Site {
	s := device.DefaultSite()
	s.Site.Name = "CoAP bench"
	s.CoAP.Listen = "127.0.0.1:5684"
	for i := range benchSensors {
		s.CoAP.Sensors = append(s.CoAP.Sensors, device.CoAPSensor{Name: fmt.Sprintf("s-%03d", i), Identity: fmt.Sprintf("s-%03d", i),
			Key: device.Secret(fmt.Sprintf("bench-key-%06d", i))})
	}
	return s
}

// Readings accepted per second over DTLS from 100 sensors, each posting
// JSON bodies of four readings (no own times) back to back on its own
// session (a confirmable POST, waiting for 2.04), through the field layer
// into the gateway's group commit on bbolt.
//
//	go test -run '^$' -bench BenchmarkReadings100Sensors -benchtime 5000x ./device/coap
func BenchmarkReadings100Sensors(b *testing.B) {
	f := start(b, benchSite(), coap.Options{Limits: coap.Limits{HandshakesPerAddr: benchSensors}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.gw.Committer().Run(ctx) }()
	clients := make([]*udpclient.Conn, benchSensors)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := handshake(ctx, f.drv.Addr(), fmt.Sprintf("s-%03d", i), fmt.Sprintf("bench-key-%06d", i))
			if err != nil {
				b.Error(err)
				return
			}
			clients[i] = coapdtls.Client(conn)
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	body := []byte(`{"temperature": 21.5, "humidity": 40.25, "co2": 612, "occupied": true}`)
	var next atomic.Int64
	before := f.counter(coap.CounterReadings)
	b.ResetTimer()
	t0 := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				rctx, rcancel := context.WithTimeout(ctx, wait)
				resp, err := c.Post(rctx, coap.PathReadings, message.AppJSON, bytes.NewReader(body))
				rcancel()
				if err != nil || resp.Code() != codes.Changed {
					b.Errorf("post: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	got := f.counter(coap.CounterReadings) - before
	if got != uint64(4*b.N) {
		b.Fatalf("%d readings accepted, want %d", got, 4*b.N)
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "readings/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "bodies/s")
}

// The cost of one PSK handshake (TLS_PSK_WITH_AES_128_CCM_8, with the
// cookie exchange), client and server in one process: time and
// allocations per handshake count both sides.
//
//	go test -run '^$' -bench BenchmarkHandshake -benchtime 200x ./device/coap
func BenchmarkHandshake(b *testing.B) {
	f := start(b, testSite(), coap.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		conn, err := handshake(ctx, f.drv.Addr(), "room-7", key7)
		if err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}
