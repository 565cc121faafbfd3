package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// BenchmarkPollRPMNodePeer polls 200 analog inputs of the @bacnet-js/client
// peer by ReadPropertyMultiple, as the driver polls a device: points/s is
// the figure.
func BenchmarkPollRPMNodePeer(b *testing.B) {
	const points = 200
	p := startPeer(b, 1234, points)
	c, _ := start(b, Config{}, BIPConfig{})
	ctx := context.Background()
	refs := make([]stack.PropertyRef, points)
	for i := range refs {
		refs[i] = stack.Ref(stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: uint32(100 + i)}, stack.PropPresentValue)
	}
	if _, err := c.Resolve(ctx, 1234, &p.addr); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, err := c.ReadProperties(ctx, p.addr, refs)
		if err != nil || res[points-1].Err != nil {
			b.Fatalf("poll: %v %+v", err, res[points-1])
		}
	}
	b.ReportMetric(float64(points*b.N)/time.Since(start).Seconds(), "points/s")
	b.ReportMetric(float64(c.Stats().Sent)/float64(b.N), "requests/poll")
}

// BenchmarkCOVLatencyNodePeer is the time from a value change on the peer
// (sent to it on stdin) to the gateway's COV handler.
func BenchmarkCOVLatencyNodePeer(b *testing.B) {
	p := startPeer(b, 1234)
	var mu sync.Mutex
	got := make(chan float64, 16)
	c, _ := start(b, Config{OnCOV: func(cv COV) {
		if f, ok := cv.Notification.Values[0].Values[0].Float(); ok {
			mu.Lock()
			select {
			case got <- f:
			default:
			}
			mu.Unlock()
		}
	}}, BIPConfig{})
	ai1 := stack.ObjectID{Type: stack.ObjectAnalogInput, Instance: 1}
	if _, err := c.Subscribe(context.Background(), p.addr, ai1, SubscribeOptions{Lifetime: time.Minute}); err != nil {
		b.Fatal(err)
	}
	<-got // the initial notification
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := float64(1000 + i)
		if err := p.Do(map[string]any{"cmd": "set", "object": "0:1", "value": v}, nil); err != nil {
			b.Fatal(err)
		}
		for f := range got {
			if f == v {
				break
			}
		}
	}
}
