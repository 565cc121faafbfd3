package lora_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/semtech"
	"github.com/sitegate/sitegate/store"
)

const wait = 10 * time.Second

var (
	quiet      = slog.New(slog.NewTextHandler(io.Discard, nil))
	gatewayEUI = lorawan.EUI64{0x00, 0x16, 0xc0, 0x01, 0xff, 0x10, 0xa2, 0x35}
	joinEUI    = "70b3d57ed0000000"
)

// listener stands in for net.ListenPacket: whatever address the site
// names, it binds 127.0.0.1:0, and it remembers what it opened.
type listener struct {
	mu     sync.Mutex
	opened []opened
}

type opened struct {
	configured string
	conn       net.PacketConn
}

func (l *listener) listen(addr string) (net.PacketConn, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.opened = append(l.opened, opened{addr, c})
	l.mu.Unlock()
	return c, nil
}

func (l *listener) all() []opened {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]opened(nil), l.opened...)
}

// isClosed reports whether a socket the driver had was closed.
func isClosed(c net.PacketConn) bool {
	_, err := c.WriteTo([]byte{0}, c.LocalAddr())
	return errors.Is(err, net.ErrClosed)
}

// fixture is a real gateway on a real bbolt file with the LoRa driver.
type fixture struct {
	t    testing.TB
	dir  string
	gw   *device.Gateway
	drv  *lora.Driver
	lis  *listener
	stop func()
}

// startGateway opens (or reopens) the gateway in dir, stores site when
// given, and runs the driver.
func startGateway(t testing.TB, dir string, site *device.Site, o lora.Options) *fixture {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	if site != nil {
		site.Site.Name = "LoRa test"
		if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.change", Base: gw.Rev()}, site); err != nil {
			st.Close()
			t.Fatal(err)
		}
	}
	lis := &listener{}
	o.Logger = quiet
	if o.Listen == nil {
		o.Listen = lis.listen
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = 20 * time.Millisecond
	}
	drv := lora.NewDriver(gw, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- drv.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("driver: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	t.Cleanup(stop)
	devicetest.Eventually(t, wait, "the driver attached", func() bool { return gw.Field().Driver(field.LoRa) != nil })
	return &fixture{t: t, dir: dir, gw: gw, drv: drv, lis: lis, stop: stop}
}

// addr waits for the packet forwarder server to listen and returns its
// address.
func (f *fixture) addr() string {
	f.t.Helper()
	var c lora.Concentrator
	devicetest.Eventually(f.t, wait, "the packet forwarder server listening", func() bool {
		c = f.drv.Concentrator()
		return c.State == lora.ServerListening
	})
	return c.Listening
}

func (f *fixture) edit(fn func(l *device.LoRa)) {
	f.t.Helper()
	if _, err := f.gw.EditSite(device.LocalActor, "config.change", func(s *device.Site) error { fn(&s.LoRa); return nil }); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) status(name string) field.Status {
	st, _ := f.gw.Field().Status(name)
	return st
}

func (f *fixture) reading(dev, point string) (field.Reading, bool) {
	rs, _ := f.gw.Readings(dev)
	for _, r := range rs {
		if r.Point == point {
			return r, true
		}
	}
	return field.Reading{}, false
}

func (f *fixture) device(name string) lora.DeviceState {
	for _, d := range f.drv.Devices() {
		if d.Name == name {
			return d
		}
	}
	f.t.Fatalf("no device %s", name)
	return lora.DeviceState{}
}

// embeddedSite is a site with LoRa in embedded mode and the devices given.
func embeddedSite(devs ...device.LoRaDevice) *device.Site {
	s := device.DefaultSite()
	s.LoRa = device.LoRa{Enabled: true, Region: device.RegionEU868, GatewayEUI: gatewayEUI.String(), Mode: device.LoRaEmbedded,
		PacketForwarder: "127.0.0.1:1700", Devices: devs}
	return s
}

// abpDevice is an ABP device with fixed keys, and its session.
func abpDevice(name string, n byte, codec string) (device.LoRaDevice, lorawan.DevAddr, lorawan.SessionKeys) {
	addr := lorawan.DevAddr(0x26011b00 | uint32(n))
	keys := lorawan.SessionKeys{NwkSKey: lorawan.Key{1, 2, 3, n}, AppSKey: lorawan.Key{4, 5, 6, n}}
	return device.LoRaDevice{Name: name, DevEUI: lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, n}.String(), Activation: device.ActivationABP,
		DevAddr: addr.String(), NwkSKey: device.Secret(keys.NwkSKey.Reveal()), AppSKey: device.Secret(keys.AppSKey.Reveal()),
		Codec: codec, Interval: device.Duration(10 * time.Second)}, addr, keys
}

// otaaDevice is an OTAA device with a fixed AppKey.
func otaaDevice(name string, n byte) (device.LoRaDevice, lorawan.EUI64, lorawan.Key) {
	eui := lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 1, n}
	key := lorawan.Key{0xa5, 0x5a, n, 7}
	return device.LoRaDevice{Name: name, DevEUI: eui.String(), Activation: device.ActivationOTAA, JoinEUI: joinEUI,
		AppKey: device.Secret(key.Reveal()), Interval: device.Duration(10 * time.Second)}, eui, key
}

// fwd is a packet forwarder written for the tests: it sends what a test
// gives it and reports the acknowledgements and downlinks it gets.
type fwd struct {
	t        testing.TB
	eui      lorawan.EUI64
	up, down net.Conn
	wg       sync.WaitGroup
	tmst     uint32

	mu    sync.Mutex
	acks  map[semtech.Type]int
	resps chan semtech.TXPK
	token uint16
}

func newFwd(t testing.TB, server string) *fwd {
	t.Helper()
	f := &fwd{t: t, eui: gatewayEUI, acks: map[semtech.Type]int{}, resps: make(chan semtech.TXPK, 16), tmst: 1_000_000}
	f.dial(server)
	t.Cleanup(f.close)
	return f
}

func (f *fwd) dial(server string) {
	f.t.Helper()
	var err error
	if f.up, err = net.Dial("udp", server); err != nil {
		f.t.Fatal(err)
	}
	if f.down, err = net.Dial("udp", server); err != nil {
		f.t.Fatal(err)
	}
	for _, c := range []net.Conn{f.up, f.down} {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.read(c)
		}()
	}
	f.pull()
}

func (f *fwd) close() {
	f.up.Close()
	f.down.Close()
	f.wg.Wait()
}

// retarget points the forwarder at another server, as after a restart.
func (f *fwd) retarget(server string) {
	f.close()
	f.dial(server)
}

func (f *fwd) read(c net.Conn) {
	buf := make([]byte, semtech.MaxDatagram)
	for {
		n, err := c.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // port unreachable while a server restarts
		}
		p, err := semtech.DecodePacket(buf[:n])
		if err != nil {
			continue
		}
		f.mu.Lock()
		f.acks[p.Type]++
		f.mu.Unlock()
		if p.Type == semtech.PullResp {
			if tx, err := semtech.DecodePullResp(p.JSON); err == nil {
				f.resps <- tx
			}
			ack, _ := semtech.Packet{Version: 2, Token: p.Token, Type: semtech.TxAck, GatewayEUI: f.eui}.AppendBinary(nil)
			f.down.Write(ack)
		}
	}
}

func (f *fwd) count(t semtech.Type) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acks[t]
}

func (f *fwd) nextToken() uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token++
	return f.token
}

// pull sends a PULL_DATA and waits for its PULL_ACK, so that downlinks
// have a path.
func (f *fwd) pull() {
	f.t.Helper()
	before := f.count(semtech.PullAck)
	b, _ := semtech.Packet{Version: 2, Token: f.nextToken(), Type: semtech.PullData, GatewayEUI: f.eui}.AppendBinary(nil)
	devicetest.Eventually(f.t, wait, "a PULL_ACK", func() bool {
		if f.count(semtech.PullAck) > before {
			return true
		}
		f.down.Write(b) // UDP: say it again until heard
		return false
	})
}

// rxpk wraps a PHYPayload as the concentrator would report it.
func (f *fwd) rxpk(phy []byte) semtech.RXPK {
	f.tmst += 2_000_000
	return semtech.RXPK{Time: time.Now().UTC().Format(time.RFC3339Nano), Tmst: f.tmst, Freq: 868.1, Chan: 0, RFCh: 0, Stat: semtech.CRCOK,
		Modu: "LORA", Datr: semtech.DataRate{LoRa: "SF7BW125"}, Codr: "4/5", RSSI: -57, LSNR: 9.5, Size: uint16(len(phy)), Data: phy}
}

// push sends a PUSH_DATA with rx and waits for its PUSH_ACK.
func (f *fwd) push(rx ...semtech.RXPK) {
	f.t.Helper()
	js, err := json.Marshal(map[string]any{"rxpk": rx})
	if err != nil {
		f.t.Fatal(err)
	}
	f.pushJSON(js)
}

// pushJSON sends a PUSH_DATA carrying js and waits for its PUSH_ACK.
func (f *fwd) pushJSON(js []byte) {
	f.t.Helper()
	before := f.count(semtech.PushAck)
	b, err := semtech.Packet{Version: 2, Token: f.nextToken(), Type: semtech.PushData, GatewayEUI: f.eui, JSON: js}.AppendBinary(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.raw(b)
	devicetest.Eventually(f.t, wait, "a PUSH_ACK", func() bool { return f.count(semtech.PushAck) > before })
}

// raw sends a datagram as it is.
func (f *fwd) raw(b []byte) {
	f.t.Helper()
	if _, err := f.up.Write(b); err != nil {
		f.t.Fatal(err)
	}
}

// downlink waits for the next PULL_RESP.
func (f *fwd) downlink() semtech.TXPK {
	f.t.Helper()
	select {
	case tx := <-f.resps:
		return tx
	case <-time.After(wait):
		f.t.Fatal("no downlink")
		return semtech.TXPK{}
	}
}

// join joins an OTAA device with devNonce and returns its session.
func (f *fwd) join(eui lorawan.EUI64, key lorawan.Key, nonce lorawan.DevNonce) (lorawan.DevAddr, lorawan.SessionKeys, []byte) {
	f.t.Helper()
	je, _ := lorawan.ParseEUI64(joinEUI)
	phy := lorawan.JoinRequestFrame{JoinEUI: je, DevEUI: eui, DevNonce: nonce}.Encode(key)
	f.push(f.rxpk(phy))
	tx := f.downlink()
	ja, err := lorawan.DecodeJoinAccept(tx.Data, key)
	if err != nil {
		f.t.Fatalf("join accept: %v", err)
	}
	return ja.DevAddr, lorawan.DeriveSessionKeys(key, ja.AppNonce, ja.NetID, nonce), phy
}

// uplink builds an unconfirmed data uplink on port 2.
func uplink(t testing.TB, addr lorawan.DevAddr, keys lorawan.SessionKeys, fcnt uint32, payload []byte) []byte {
	t.Helper()
	phy, err := lorawan.Data{MType: lorawan.UnconfirmedDataUp, DevAddr: addr, FCnt: fcnt, HasPort: true, FPort: 2, Payload: payload}.Encode(keys)
	if err != nil {
		t.Fatal(err)
	}
	return phy
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
