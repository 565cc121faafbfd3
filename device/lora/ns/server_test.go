package ns

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/lora/internal/loratest"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

const wait = 5 * time.Second

var (
	gw1     = lorawan.EUI64{0, 0x16, 0xc0, 1, 0xff, 0x10, 0xa2, 0x35}
	gw2     = lorawan.EUI64{0, 0x16, 0xc0, 1, 0xff, 0x10, 0xa2, 0x36}
	appKey  = lorawan.Key{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}
	joinEUI = lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 0}
	otaaEUI = lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 1}
	abpEUI  = lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 2}
	abpKeys = lorawan.SessionKeys{NwkSKey: lorawan.Key{1, 2, 3}, AppSKey: lorawan.Key{4, 5, 6}}
)

const abpAddr lorawan.DevAddr = 0x26011bda

func testDevices() []Device {
	return []Device{
		{Name: "otaa-1", DevEUI: otaaEUI, Activation: OTAA, JoinEUI: joinEUI, AppKey: appKey, Codec: "cayenne-lpp"},
		{Name: "abp-1", DevEUI: abpEUI, Activation: ABP, DevAddr: abpAddr, NwkSKey: abpKeys.NwkSKey, AppSKey: abpKeys.AppSKey},
	}
}

type sent struct {
	gw lorawan.EUI64
	tx semtech.TXPK
}

// fakeTX records downlinks; it stands for the packet forwarder server,
// which has its own tests over UDP (the simulator's test drives both).
type fakeTX struct {
	mu   sync.Mutex
	sent []sent
	fail bool
}

func (f *fakeTX) Send(gw lorawan.EUI64, tx semtech.TXPK) (uint16, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("no path")
	}
	f.sent = append(f.sent, sent{gw, tx})
	return uint16(len(f.sent)), nil
}

func (f *fakeTX) all() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

type harness struct {
	t     *testing.T
	s     *Server
	tx    *fakeTX
	store Store
	now   time.Time

	mu     sync.Mutex
	ups    []Uplink
	frames []Frame
}

func start(t *testing.T, store Store, devs []Device, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, tx: &fakeTX{}, store: store, now: time.Unix(1_700_000_000, 0)}
	cfg := Config{NetID: 0x13, Devices: devs, Store: store, TX: h.tx, DedupWindow: 20 * time.Millisecond,
		Now: func() time.Time { return h.now }, Rand: rand.NewChaCha8([32]byte{1}),
		OnUplink: func(u Uplink) { h.mu.Lock(); h.ups = append(h.ups, u); h.mu.Unlock() },
		OnFrame:  func(f Frame) { h.mu.Lock(); h.frames = append(h.frames, f); h.mu.Unlock() }}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	loratest.Run(t, s.Run)
	return h
}

func (h *harness) rx(phy []byte, gw lorawan.EUI64, tmst uint32, rssi int, snr float64) semtech.Rx {
	return semtech.Rx{Gateway: gw, Received: h.now, RXPK: semtech.RXPK{Tmst: tmst, Freq: 868.3, Stat: semtech.CRCOK, Modu: "LORA",
		Datr: semtech.DataRate{LoRa: "SF9BW125"}, Codr: "4/5", RSSI: rssi, LSNR: snr, Size: uint16(len(phy)), Data: phy}}
}

// frames waits until n frames have been processed and returns them.
func (h *harness) waitFrames(n int) []Frame {
	h.t.Helper()
	devicetest.Eventually(h.t, wait, func() string { return "frames processed" }, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.frames) >= n
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Frame(nil), h.frames...)
}

func (h *harness) uplinks() []Uplink {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Uplink(nil), h.ups...)
}

// join runs an OTAA join with nonce and returns the device's session.
func (h *harness) join(nonce lorawan.DevNonce) (lorawan.JoinAcceptFrame, lorawan.SessionKeys) {
	h.t.Helper()
	before := len(h.tx.all())
	n := len(h.waitFrames(0))
	jr := lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: otaaEUI, DevNonce: nonce}.Encode(appKey)
	h.s.HandleRx(h.rx(jr, gw1, 4_000_000_000, -60, 7))
	fr := h.waitFrames(n + 1)[n]
	if fr.Result != ResultJoined || !fr.Downlink {
		h.t.Fatalf("join frame %+v", fr)
	}
	got := h.tx.all()
	if len(got) != before+1 {
		h.t.Fatalf("%d downlinks", len(got))
	}
	tx := got[before].tx
	ja, err := lorawan.DecodeJoinAccept(tx.Data, appKey)
	if err != nil {
		h.t.Fatal(err)
	}
	// JOIN_ACCEPT_DELAY1 after the request, on its channel and data rate.
	if *tx.Tmst != 4_000_000_000+5_000_000 || tx.Freq != 868.3 || tx.Datr.LoRa != "SF9BW125" || !tx.IPol || tx.Powe != 14 {
		h.t.Fatalf("join accept txpk %+v", tx)
	}
	return ja, lorawan.DeriveSessionKeys(appKey, ja.AppNonce, ja.NetID, nonce)
}

func uplinkFrame(t *testing.T, mt lorawan.MType, addr lorawan.DevAddr, keys lorawan.SessionKeys, fcnt uint32, port uint8, payload, fopts []byte) []byte {
	t.Helper()
	b, err := lorawan.Data{MType: mt, DevAddr: addr, FCnt: fcnt, HasPort: port > 0 || payload != nil, FPort: port, Payload: payload, FOpts: fopts}.Encode(keys)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOTAAJoinUplinkAck(t *testing.T) {
	h := start(t, NewMemStore(), testDevices(), nil)
	ja, keys := h.join(0x0001)
	if ja.NetID != 0x13 || ja.DevAddr.NwkID() != 0x13 || ja.AppNonce != 1 || ja.RxDelay != 1 || ja.CFList != nil {
		t.Fatalf("join accept %+v", ja)
	}

	// A confirmed uplink with Cayenne LPP is delivered and acknowledged in RX1.
	lpp := []byte{1, 0x67, 0x01, 0x10, 2, 0x68, 0x50}
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.ConfirmedDataUp, ja.DevAddr, keys, 0, 2, lpp, nil), gw1, 10_000_000, -70, 5.5))
	h.waitFrames(2)
	ups := h.uplinks()
	if len(ups) != 1 {
		t.Fatalf("uplinks %+v", ups)
	}
	u := ups[0]
	if u.Device != "otaa-1" || u.DevEUI != otaaEUI || u.FPort != 2 || string(u.Payload) != string(lpp) || u.FCnt != 0 || !u.Confirmed ||
		u.RSSI != -70 || u.SNR != 5.5 || u.Frequency != 868300000 || u.DataRate != "SF9BW125" || u.Gateways != 1 || !u.Time.Equal(h.now) {
		t.Fatalf("uplink %+v", u)
	}
	tx := h.tx.all()[1].tx
	if *tx.Tmst != 11_000_000 || tx.Freq != 868.3 || tx.Datr.LoRa != "SF9BW125" {
		t.Fatalf("ack txpk %+v", tx)
	}
	f, err := lorawan.DecodeData(tx.Data)
	if err != nil || f.MType != lorawan.UnconfirmedDataDown || !f.FCtrl.ACK || f.HasPort || f.DevAddr != ja.DevAddr {
		t.Fatalf("ack %+v %v", f, err)
	}
	if err := f.CheckMIC(keys.NwkSKey, 0); err != nil {
		t.Fatal(err)
	}
	d := h.s.Devices()
	if len(d) != 2 || d[1].Name != "otaa-1" || !d[1].Joined || d[1].FCntUp != 1 || d[1].FCntDown != 1 || d[1].Uplinks != 1 || d[1].LastJoin.IsZero() {
		t.Fatalf("devices %+v", d)
	}
	if st := h.s.Stats(); st.Joins != 1 || st.Uplinks != 1 || st.Acks != 1 || st.Downlinks != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// State survives a restart: the session goes on, and a replayed frame or
// DevNonce is refused by the new server.
func TestRestartRefusesReplays(t *testing.T) {
	store := NewMemStore()
	h := start(t, store, testDevices(), nil)
	ja, keys := h.join(0x0042)
	f0 := uplinkFrame(t, lorawan.UnconfirmedDataUp, ja.DevAddr, keys, 0, 1, []byte{1}, nil)
	f1 := uplinkFrame(t, lorawan.UnconfirmedDataUp, ja.DevAddr, keys, 1, 1, []byte{2}, nil)
	h.s.HandleRx(h.rx(f0, gw1, 1, -50, 5))
	h.s.HandleRx(h.rx(f1, gw1, 2, -50, 5))
	h.waitFrames(3)
	abp := uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, abpKeys, 5, 3, []byte{3}, nil)
	h.s.HandleRx(h.rx(abp, gw1, 3, -50, 5))
	if fr := h.waitFrames(4); fr[3].Result != ResultOK {
		t.Fatalf("abp frame %+v", fr[3])
	}

	h2 := start(t, store, testDevices(), nil)
	jr := lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: otaaEUI, DevNonce: 0x0042}.Encode(appKey)
	h2.s.HandleRx(h2.rx(jr, gw1, 10, -50, 5))                                                                                // replayed DevNonce
	h2.s.HandleRx(h2.rx(f0, gw1, 11, -50, 5))                                                                                // replayed older frame
	h2.s.HandleRx(h2.rx(f1, gw1, 12, -50, 5))                                                                                // the last frame again
	h2.s.HandleRx(h2.rx(abp, gw1, 13, -50, 5))                                                                               // ABP counters survive too
	h2.s.HandleRx(h2.rx(uplinkFrame(t, lorawan.UnconfirmedDataUp, ja.DevAddr, keys, 2, 1, []byte{4}, nil), gw1, 14, -50, 5)) // and the session goes on
	fr := h2.waitFrames(5)
	want := []Result{ResultDevNonceReplay, ResultReplay, ResultRetransmission, ResultRetransmission, ResultOK}
	for i, w := range want {
		if fr[i].Result != w {
			t.Fatalf("frame %d: %+v, want %s", i, fr[i], w)
		}
	}
	if ups := h2.uplinks(); len(ups) != 1 || ups[0].FCnt != 2 || ups[0].Payload[0] != 4 {
		t.Fatalf("uplinks after restart %+v", ups)
	}
	if st := h2.s.Stats(); st.DevNonceReplays != 1 || st.Replays != 1 || st.Retransmissions != 2 || len(h2.tx.all()) != 0 {
		t.Fatalf("stats %+v, %d downlinks", st, len(h2.tx.all()))
	}
	// A new nonce joins again, with a new AppNonce.
	h2.mu.Lock()
	h2.frames = nil
	h2.mu.Unlock()
	ja2, _ := h2.join(0x0043)
	if ja2.AppNonce != 2 {
		t.Fatalf("second join accept %+v", ja2)
	}
}

func TestDeduplication(t *testing.T) {
	h := start(t, NewMemStore(), testDevices(), nil)
	phy := uplinkFrame(t, lorawan.ConfirmedDataUp, abpAddr, abpKeys, 7, 5, []byte{9, 9}, nil)
	h.s.HandleRx(h.rx(phy, gw1, 100, -90, 2))
	h.s.HandleRx(h.rx(phy, gw2, 200, -60, 1))
	h.s.HandleRx(h.rx(phy, gw1, 100, -90, 3))
	h.waitFrames(1)
	ups := h.uplinks()
	if len(ups) != 1 || ups[0].Gateways != 3 || ups[0].RSSI != -60 || ups[0].Gateway != gw2 {
		t.Fatalf("uplinks %+v", ups)
	}
	tx := h.tx.all()
	if len(tx) != 1 || tx[0].gw != gw2 || *tx[0].tx.Tmst != 200+1_000_000 {
		t.Fatalf("downlinks %+v", tx)
	}
	if st := h.s.Stats(); st.Duplicates != 2 || st.Received != 3 || st.Uplinks != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestQueuedDownlinksAndMAC(t *testing.T) {
	h := start(t, NewMemStore(), testDevices(), nil)
	for i := range 2 {
		if err := h.s.Enqueue("abp-1", 10, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// An unconfirmed uplink asking LinkCheckReq and reporting DevStatus.
	fopts, _ := lorawan.AppendMACCommands(nil, lorawan.Uplink, lorawan.LinkCheckReq{}, lorawan.DevStatusAns{Battery: 200, Margin: 4})
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, abpKeys, 0, 1, []byte{1}, fopts), gw1, 0xfffff000, -80, 2.5))
	h.waitFrames(1)
	tx := h.tx.all()
	if len(tx) != 1 || *tx[0].tx.Tmst != 0xfffff000+1_000_000-1<<32 {
		t.Fatalf("downlinks %+v (tmst must wrap)", tx)
	}
	f, err := lorawan.DecodeData(tx[0].tx.Data)
	if err != nil || f.FCtrl.ACK || !f.FCtrl.FPending || f.FPort != 10 || string(f.Payload(abpKeys, 0)) != "\x00" {
		t.Fatalf("downlink %+v %v", f, err)
	}
	cmds, err := lorawan.ParseMACCommands(f.FOpts, lorawan.Downlink)
	// SF9 needs -12.5 dB: 2.5 dB of SNR is a margin of 15 dB.
	if err != nil || len(cmds) != 1 || cmds[0] != (lorawan.LinkCheckAns{Margin: 15, GwCnt: 1}) {
		t.Fatalf("mac answers %#v %v", cmds, err)
	}
	d := h.s.Devices()[0]
	if d.Name != "abp-1" || d.QueueLength != 1 || d.Battery == nil || *d.Battery != 200 || *d.Margin != 4 || d.FCntDown != 1 {
		t.Fatalf("device %+v", d)
	}
	// The rest goes after the next uplink; RX2 when preferred is tested below.
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, abpKeys, 1, 1, []byte{1}, nil), gw1, 5, -80, 2.5))
	h.waitFrames(2)
	f, _ = lorawan.DecodeData(h.tx.all()[1].tx.Data)
	if f.FCtrl.FPending || string(f.Payload(abpKeys, 1)) != "\x01" || f.CheckMIC(abpKeys.NwkSKey, 1) != nil {
		t.Fatalf("second downlink %+v", f)
	}
	for name, err := range map[string]error{
		"port 0":    h.s.Enqueue("abp-1", 0, nil),
		"port 224":  h.s.Enqueue("abp-1", 224, nil),
		"too long":  h.s.Enqueue("abp-1", 1, make([]byte, 243)),
		"no device": h.s.Enqueue("nobody", 1, nil),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for range MaxQueue {
		h.s.Enqueue("abp-1", 1, nil)
	}
	if err := h.s.Enqueue("abp-1", 1, nil); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("queue bound: %v", err)
	}
}

func TestWindows(t *testing.T) {
	h := start(t, NewMemStore(), testDevices(), func(c *Config) { c.PreferRX2 = true })
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.ConfirmedDataUp, abpAddr, abpKeys, 0, 1, []byte{1}, nil), gw1, 1000, -80, 2))
	h.waitFrames(1)
	tx := h.tx.all()[0].tx
	if *tx.Tmst != 1000+2_000_000 || tx.Freq != 869.525 || tx.Datr.LoRa != "SF12BW125" {
		t.Fatalf("rx2 txpk %+v", tx)
	}

	// Past both windows, nothing is sent.
	late := start(t, NewMemStore(), testDevices(), nil)
	rx := late.rx(uplinkFrame(t, lorawan.ConfirmedDataUp, abpAddr, abpKeys, 0, 1, []byte{1}, nil), gw1, 1000, -80, 2)
	rx.Received = late.now.Add(-3 * time.Second)
	late.s.HandleRx(rx)
	late.waitFrames(1)
	if st := late.s.Stats(); st.TooLate != 1 || len(late.tx.all()) != 0 || st.Uplinks != 1 {
		t.Fatalf("late: %+v", st)
	}
	// Past RX1 only: RX2.
	rx = late.rx(uplinkFrame(t, lorawan.ConfirmedDataUp, abpAddr, abpKeys, 1, 1, []byte{1}, nil), gw1, 1000, -80, 2)
	rx.Received = late.now.Add(-1500 * time.Millisecond)
	late.s.HandleRx(rx)
	late.waitFrames(2)
	if tx := late.tx.all(); len(tx) != 1 || tx[0].tx.Freq != 869.525 {
		t.Fatalf("late rx1: %+v", tx)
	}
}

// Bad frames are dropped, counted and change no state.
func TestBadFrames(t *testing.T) {
	store := NewMemStore()
	h := start(t, store, testDevices(), nil)
	good := uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, abpKeys, 3, 1, []byte{1}, nil)
	forged := append([]byte(nil), good...)
	forged[len(forged)-1] ^= 1
	wrongKey := uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, lorawan.SessionKeys{NwkSKey: lorawan.Key{9}}, 4, 1, []byte{1}, nil)
	for _, phy := range [][]byte{
		{0x40, 1, 2}, // truncated
		{},           // empty
		forged,       // MIC
		wrongKey,     // MIC
		uplinkFrame(t, lorawan.UnconfirmedDataUp, 0x01020304, abpKeys, 0, 1, []byte{1}, nil),            // unknown DevAddr
		uplinkFrame(t, lorawan.UnconfirmedDataDown, abpAddr, abpKeys, 0, 1, []byte{1}, nil),             // a downlink
		lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: otaaEUI, DevNonce: 1}.Encode(lorawan.Key{7}), // join MIC
		lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: abpEUI, DevNonce: 1}.Encode(appKey),          // not OTAA
	} {
		h.s.HandleRx(h.rx(phy, gw1, 1, -50, 5))
	}
	fr := h.waitFrames(8)
	want := []Result{ResultMalformed, ResultMalformed, ResultMIC, ResultMIC, ResultUnknownDevice, ResultIgnored, ResultMIC, ResultUnknownDevice}
	for i, w := range want {
		if fr[i].Result != w || fr[i].Error == "" {
			t.Errorf("frame %d: %+v, want %s", i, fr[i], w)
		}
	}
	st := h.s.Stats()
	if st.Malformed != 2 || st.MICFailures != 3 || st.UnknownDevice != 2 || st.Ignored != 1 || st.Uplinks != 0 || len(h.tx.all()) != 0 {
		t.Fatalf("stats %+v", st)
	}
	if d := h.s.Devices(); d[0].FCntUp != 0 || d[1].Joined {
		t.Fatalf("state changed: %+v", d)
	}
	if store.Len() != 0 {
		t.Fatalf("the store was written: %d keys", store.Len())
	}
}

type failingStore struct{ *MemStore }

func (failingStore) Put(string, []byte) error { return errors.New("disk full") }

func TestStoreFailureRefuses(t *testing.T) {
	h := start(t, failingStore{NewMemStore()}, testDevices(), nil)
	h.s.HandleRx(h.rx(lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: otaaEUI, DevNonce: 1}.Encode(appKey), gw1, 1, -50, 5))
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, abpKeys, 0, 1, []byte{1}, nil), gw1, 2, -50, 5))
	fr := h.waitFrames(2)
	if fr[0].Result != ResultStoreError || fr[1].Result != ResultStoreError || len(h.tx.all()) != 0 || len(h.uplinks()) != 0 {
		t.Fatalf("frames %+v", fr)
	}
	if st := h.s.Stats(); st.StoreErrors != 2 || st.Joins != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConfigAndDevices(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("no store, no transmitter")
	}
	bad := []Device{
		{Name: "", DevEUI: otaaEUI, Activation: OTAA},
		{Name: "x", DevEUI: otaaEUI, Activation: ABP},
		{Name: "x", DevEUI: abpEUI, Activation: 0, Class: 3},
	}
	err := CheckDevices(bad)
	if !errors.Is(err, ErrDevices) {
		t.Fatal(err)
	}
	for _, want := range []string{"devices[0]: a device needs a name", "devices[0]: an otaa device needs an app_key", "devices[1]: dev_eui", "devices[1]: an abp device",
		"devices[2]: name \"x\"", "devices[2]: activation", "devices[2]: only class A"} {
		if !contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	store := NewMemStore()
	store.Put(sessionKey(otaaEUI), []byte{9, 9})
	if _, err := New(Config{Store: store, TX: &fakeTX{}, Devices: testDevices()}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a damaged record: %v", err)
	}
	for _, s := range []string{"otaa", "ABP"} {
		if _, err := ParseActivation(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ParseClass("B"); err == nil {
		t.Fatal("class B")
	}
}

// SetDevices keeps the state of unchanged devices and drops removed ones.
func TestSetDevices(t *testing.T) {
	h := start(t, NewMemStore(), testDevices(), nil)
	ja, keys := h.join(5)
	devs := testDevices()[:1]
	if err := h.s.SetDevices(devs); err != nil {
		t.Fatal(err)
	}
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.UnconfirmedDataUp, ja.DevAddr, keys, 0, 1, []byte{1}, nil), gw1, 1, -50, 5))
	h.s.HandleRx(h.rx(uplinkFrame(t, lorawan.UnconfirmedDataUp, abpAddr, abpKeys, 0, 1, []byte{1}, nil), gw1, 2, -50, 5))
	fr := h.waitFrames(3)
	if fr[1].Result != ResultOK || fr[2].Result != ResultUnknownDevice || len(h.s.Devices()) != 1 {
		t.Fatalf("frames %+v", fr)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
