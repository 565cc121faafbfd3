package lorasim

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/lora/internal/loratest"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/payload"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

var gatewayEUI = lorawan.EUI64{0, 0x16, 0xc0, 1, 0xff, 0x10, 0xa2, 0x35}

// sensors returns n OTAA sensors and the network server's view of them.
func sensors(n int, interval time.Duration) ([]Sensor, []ns.Device) {
	var ss []Sensor
	var ds []ns.Device
	for i := range n {
		eui := lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, byte(i >> 8), byte(i)}
		key := lorawan.Key{byte(i), 0xa5, 0x5a, byte(i >> 8)}
		s := Sensor{Name: fmt.Sprintf("sensor-%d", i), DevEUI: eui, JoinEUI: lorawan.EUI64{1}, AppKey: key, Interval: interval, Confirmed: i == 0}
		ss = append(ss, s)
		ds = append(ds, ns.Device{Name: s.Name, DevEUI: eui, Activation: ns.OTAA, JoinEUI: s.JoinEUI, AppKey: key, Codec: payload.CayenneLPPName})
	}
	return ss, ds
}

// stack is the embedded mode as the driver will wire it: a packet
// forwarder server on loopback feeding the network server.
type stack struct {
	srv *semtech.Server
	ns  *ns.Server
	mu  sync.Mutex
	ups map[string][]payload.Value
	n   map[string]int
}

func startStack(t *testing.T, devs []ns.Device, store ns.Store) (*stack, string) {
	t.Helper()
	conn := loratest.ListenUDP(t)
	st := &stack{ups: map[string][]payload.Value{}, n: map[string]int{}}
	var nsrv *ns.Server
	srv, err := semtech.NewServer(semtech.Config{Conn: conn, Limits: semtech.Limits{Gateways: []lorawan.EUI64{gatewayEUI}},
		OnRx: func(rx semtech.Rx) { nsrv.HandleRx(rx) }})
	if err != nil {
		t.Fatal(err)
	}
	nsrv, err = ns.New(ns.Config{NetID: 0x13, Devices: devs, Store: store, TX: srv, DedupWindow: 20 * time.Millisecond, OnUplink: func(u ns.Uplink) {
		v, err := payload.CayenneLPP{}.Decode(u.FPort, u.Payload)
		if err != nil {
			t.Errorf("uplink of %s: %v", u.Device, err)
		}
		st.mu.Lock()
		st.ups[u.Device] = v
		st.n[u.Device]++
		st.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	st.srv, st.ns = srv, nsrv
	loratest.Run(t, srv.Run)
	loratest.Run(t, nsrv.Run)
	return st, conn.LocalAddr().String()
}

// The simulator joins its sensors through the real packet forwarder
// server and network server over UDP on loopback, then sends Cayenne LPP
// uplinks that come out as named values; downlinks land in its windows.
func TestSimulatorEndToEnd(t *testing.T) {
	ss, devs := sensors(3, 100*time.Millisecond)
	st, addr := startStack(t, devs, ns.NewMemStore())
	sim, err := New(Config{Server: addr, GatewayEUI: gatewayEUI, Sensors: ss, PullInterval: 20 * time.Millisecond,
		StatInterval: 50 * time.Millisecond, JoinRetry: 2 * time.Second, TmstOffset: 0xffffffff - 3_000_000})
	if err != nil {
		t.Fatal(err)
	}
	loratest.Run(t, sim.Run)

	devicetest.Eventually(t, 20*time.Second, func() string {
		return fmt.Sprintf("three uplinks per sensor: %v (simulator %+v %+v, network server %+v, forwarder %+v)", st.counts(), sim.Stats(), sim.Sensors(), st.ns.Stats(), st.srv.Stats())
	}, func() bool {
		c := st.counts()
		return c["sensor-0"] >= 3 && c["sensor-1"] >= 3 && c["sensor-2"] >= 3
	})
	st.mu.Lock()
	v := st.ups["sensor-1"]
	st.mu.Unlock()
	if len(v) != 2 || v[0].Name != "temperature_1" || v[1].Name != "humidity_2" || v[0].Value < 18 || v[0].Value > 24 {
		t.Fatalf("values %+v", v)
	}
	// A queued downlink reaches its sensor after its next uplink.
	if err := st.ns.Enqueue("sensor-2", 7, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	devicetest.Eventually(t, 10*time.Second, func() string {
		return fmt.Sprintf("the downlink at sensor-2: %+v, %+v, %+v", sim.Sensors()[2], st.ns.Devices(), st.ns.Stats())
	}, func() bool {
		s := sim.Sensors()[2]
		return s.Downlinks == 1 && string(s.LastDownlink) == "hi" && s.LastFPort == 7
	})
	devicetest.Eventually(t, 10*time.Second, "acknowledgements of sensor-0's confirmed uplinks", func() bool { return sim.Sensors()[0].Acks >= 2 })
	for _, s := range sim.Sensors() {
		if !s.Joined || s.WindowMisses != 0 || s.JoinRequests < 1 {
			t.Errorf("sensor %+v", s)
		}
	}
	if s := st.ns.Stats(); s.MICFailures != 0 || s.Joins < 3 || s.Malformed != 0 {
		t.Errorf("network server %+v", s)
	}
	if s := sim.Stats(); s.PushAcked == 0 || s.PullAcked == 0 || s.Unmatched != 0 || s.TxAcks == 0 {
		t.Errorf("simulator %+v", s)
	}
	f := st.srv.Forwarders()
	if len(f) != 1 || f[0].LastPull.IsZero() || f[0].LastStat == nil || f[0].TxAcked == 0 || f[0].CRCErrors != 0 {
		t.Errorf("forwarders %+v", f)
	}
}

func (s *stack) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

func TestConfig(t *testing.T) {
	ss, _ := sensors(1, time.Second)
	for name, c := range map[string]Config{
		"no server":  {Sensors: ss},
		"no sensors": {Server: "127.0.0.1:1700"},
		"no key":     {Server: "127.0.0.1:1700", Sensors: []Sensor{{Name: "x"}}},
		"bad dr":     {Server: "127.0.0.1:1700", Sensors: ss, DataRate: 9},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Fleet identities are fixed: a site file may list them.
func TestFleet(t *testing.T) {
	f := Fleet(2, time.Minute)
	if len(f) != 2 || f[0].Name != "lora-1" || f[1].DevEUI.String() != "70b3d57ed0010002" || f[0].JoinEUI.String() != "70b3d57ed0000000" {
		t.Fatalf("%+v", f)
	}
	if f[0].AppKey == f[1].AppKey || f[0].AppKey != FleetKey(f[0].DevEUI) || f[0].AppKey.Reveal() != "df5f9a54289fe3c33dc956ec9ce0ab8a" {
		t.Errorf("keys %s %s", f[0].AppKey.Reveal(), f[1].AppKey.Reveal())
	}
}

// A sensor given the DevNonce it used last joins with the next one.
func TestDevNonceCarriesOn(t *testing.T) {
	ss, devs := sensors(1, 100*time.Millisecond)
	ss[0].DevNonce = 41
	st, addr := startStack(t, devs, ns.NewMemStore())
	sim, err := New(Config{Server: addr, GatewayEUI: gatewayEUI, Sensors: ss, PullInterval: 20 * time.Millisecond, JoinRetry: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	loratest.Run(t, sim.Run)
	devicetest.Eventually(t, 10*time.Second, "the join", func() bool { return sim.Sensors()[0].Joined })
	if s := sim.Sensors()[0]; s.DevNonce != 42 || s.JoinRequests != 1 {
		t.Errorf("%+v (network server %+v)", s, st.ns.Stats())
	}
}
