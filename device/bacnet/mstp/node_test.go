//go:build linux

package mstp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/node"
	"github.com/sitegate/sitegate/device/bacnet/stack"
)

type value struct {
	mu sync.Mutex
	v  float64
}

func (s *value) Read(context.Context) (node.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return node.Reading{Value: s.v}, nil
}

func (s *value) Write(_ context.Context, w node.WriteRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v = w.Effective
	return nil
}

func runNode(t *testing.T, n *node.Node) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node run: %v", err)
			}
		case <-time.After(wait):
			t.Error("node did not stop")
		}
	})
}

// The same network and application layers run over MS/TP: a client
// station discovers a server station, reads it with ReadProperty and
// ReadPropertyMultiple, and commands it with a priority.
func TestNodeOverMSTP(t *testing.T) {
	a, b := linePair(t)
	cl, err := New(Config{Port: a, MAC: 1, MaxMaster: 4, Baud: 38400})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := New(Config{Port: b, MAC: 2, MaxMaster: 4, Baud: 38400})
	if err != nil {
		t.Fatal(err)
	}
	av := stack.ObjectID{Type: stack.ObjectAnalogValue, Instance: 1}
	src := &value{v: 12.5}
	srv, err := node.NewServer(node.ServerConfig{Instance: 77, Name: "mstp-gw", Objects: []node.Object{
		{ID: av, Name: "sp", Commandable: true, RelinquishDefault: 10, Source: src}}})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := node.New(node.Config{Link: sl, Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	cn, err := node.New(node.Config{Link: cl})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, sn)
	runNode(t, cn)
	ctx := context.Background()
	to := node.MSTP(2)
	info, err := cn.Resolve(ctx, 77, &to)
	if err != nil || info.Address != to || info.MaxAPDU != MaxAPDU {
		t.Fatalf("resolve over mstp: %+v %v", info, err)
	}
	vs, err := cn.ReadProperty(ctx, to, stack.Ref(av, stack.PropPresentValue))
	if err != nil || vs[0].Real != 12.5 {
		t.Fatalf("read: %v %v", vs, err)
	}
	if err := cn.Write(ctx, to, av, stack.Real(15), 8); err != nil {
		t.Fatal(err)
	}
	res, err := cn.ReadProperties(ctx, to, []stack.PropertyRef{
		stack.Ref(av, stack.PropPresentValue), stack.Ref(av, stack.PropObjectName),
		{Object: av, Property: stack.PropPriorityArray, Index: 8}})
	if err != nil || res[0].Values[0].Real != 15 || res[1].Values[0].String != "sp" || res[2].Values[0].Real != 15 {
		t.Fatalf("rpm over mstp: %+v %v", res, err)
	}
	if cl.Stats().TokensPassed == 0 || sl.Stats().TokensPassed == 0 {
		t.Fatalf("no token passing: %+v %+v", cl.Stats(), sl.Stats())
	}
}
