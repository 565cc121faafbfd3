package lora_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/internal/loratest"
	"github.com/sitegate/sitegate/device/lora/lorasim"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/payload"
)

// The simulator joins three sensors through the real daemon pieces (the
// gateway on a bbolt file, the driver, the packet forwarder server and the
// network server over UDP on loopback) and their Cayenne LPP uplinks turn
// into readings of lora devices.
func TestEmbeddedJoinsAndReadings(t *testing.T) {
	var site []device.LoRaDevice
	var sensors []lorasim.Sensor
	for i := range 3 {
		d, eui, key := otaaDevice(fmt.Sprintf("lora-%d", i+1), byte(i))
		site = append(site, d)
		je, _ := lorawan.ParseEUI64(joinEUI)
		sensors = append(sensors, lorasim.Sensor{Name: d.Name, DevEUI: eui, JoinEUI: je, AppKey: key, Interval: 100 * time.Millisecond})
	}
	f := startGateway(t, t.TempDir(), embeddedSite(site...), lora.Options{})
	frames := f.drv.SubscribeFrames(64)
	defer frames.Close()
	sim, err := lorasim.New(lorasim.Config{Server: f.addr(), GatewayEUI: gatewayEUI, Sensors: sensors,
		PullInterval: 20 * time.Millisecond, StatInterval: 50 * time.Millisecond, JoinRetry: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	loratest.Run(t, sim.Run)

	for _, d := range site {
		devicetest.Eventually(t, wait, d.Name+" reporting", func() bool {
			temp, ok1 := f.reading(d.Name, "temperature_1")
			hum, ok2 := f.reading(d.Name, "humidity_2")
			return ok1 && ok2 && temp.Quality == field.QualityGood && temp.Unit == "degC" && hum.Value.Num > 0 &&
				f.status(d.Name).State == field.StateOnline
		})
	}
	st := f.device("lora-1")
	if !st.Joined || st.JoinState != "joined" || st.DevAddr == "" || st.Uplinks == 0 || st.RSSI == 0 || st.LastUplink.IsZero() || st.Codec != payload.CayenneLPPName {
		t.Errorf("device state %+v", st)
	}
	// The JSON `lora devices --json` and `lora frames --json` will print.
	var js map[string]any
	if err := json.Unmarshal(mustJSON(st), &js); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"name": "lora-1", "join_state": "joined", "state": "online", "interval": "10s", "activation": "otaa", "class": "A"} {
		if js[key] != want {
			t.Errorf("device JSON %s = %v, want %v (%s)", key, js[key], want, mustJSON(st))
		}
	}
	for _, key := range []string{"dev_eui", "dev_addr", "rssi", "snr", "fcnt_up", "last_uplink", "uplinks", "errors"} {
		if _, ok := js[key]; !ok {
			t.Errorf("device JSON lacks %s: %s", key, mustJSON(st))
		}
	}
	if fs := f.status("lora-1"); fs.Protocol != field.LoRa || fs.Bus != gatewayEUI.String() || fs.Requests == 0 || fs.SuccessRate != 1 {
		t.Errorf("field status %+v", fs)
	}
	c := f.drv.Concentrator()
	if c.Mode != "embedded" || len(c.Forwarders) != 1 || c.LastPushData.IsZero() || c.LastPullData.IsZero() || c.Received == 0 ||
		c.Forwarded != c.Received || c.NetworkServer == nil || c.NetworkServer.Joins != 3 || c.Server.StatReports == 0 {
		t.Errorf("concentrator %+v", c)
	}
	// The frame log has the joins and uplinks, and the feed follows it.
	var joined, ok bool
	for _, fr := range f.drv.Frames(0) {
		joined = joined || fr.Result == ns.ResultJoined
		ok = ok || fr.Result == ns.ResultOK && fr.Device != ""
	}
	if !joined || !ok {
		t.Errorf("frames %+v", f.drv.Frames(5))
	}
	select {
	case fr := <-frames.C():
		if fr.Seq == 0 || fr.MType == "" {
			t.Errorf("frame %+v", fr)
		}
		var js map[string]any
		_ = json.Unmarshal(mustJSON(fr), &js)
		for _, key := range []string{"seq", "time", "mtype", "dev_addr", "fcnt", "rssi", "snr", "result", "frequency_hz", "data_rate"} {
			if _, ok := js[key]; !ok {
				t.Errorf("frame JSON lacks %s: %s", key, mustJSON(fr))
			}
		}
	case <-time.After(wait):
		t.Fatal("no frame on the feed")
	}
	// Reads give the latest readings, through the field layer too.
	rs, err := f.gw.Field().Read(context.Background(), "lora-2", nil)
	if err != nil || len(rs) < 2 {
		t.Errorf("read: %v %v", rs, err)
	}
	if _, err := f.drv.Read(context.Background(), "lora-2", []string{"nope"}); !errors.Is(err, field.ErrNoPoint) {
		t.Errorf("read of a point never sent: %v", err)
	}
	plan, err := f.drv.Plan()
	if err != nil || plan.Region != "EU868" || len(plan.Channels) != 3 {
		t.Errorf("plan %+v %v", plan, err)
	}
	// The radio's state says a packet forwarder is heard.
	if rs := f.drv.Status(); rs.State != lora.StateRunning || rs.RxPackets == 0 || !strings.Contains(rs.Detail, "embedded mode") {
		t.Errorf("radio status %+v", rs)
	}
	for _, s := range sim.Sensors() {
		if s.WindowMisses != 0 {
			t.Errorf("%s: downlinks outside its windows: %+v", s.Name, s)
		}
	}
}

// Sessions, frame counters and DevNonces survive a restart of the
// gateway: replays are refused after it, and the device carries on
// without joining again.
func TestRestartKeepsSessions(t *testing.T) {
	dir := t.TempDir()
	dev, eui, key := otaaDevice("lora-1", 1)
	f := startGateway(t, dir, embeddedSite(dev), lora.Options{})
	fw := newFwd(t, f.addr())
	addr, keys, joinReq := fw.join(eui, key, 7)
	lpp := func(temp float64) []byte { return payload.LPP{}.Temperature(1, temp) }
	up0 := uplink(t, addr, keys, 0, lpp(20))
	up1 := uplink(t, addr, keys, 1, lpp(21))
	fw.push(fw.rxpk(up0))
	fw.push(fw.rxpk(up1))
	devicetest.Eventually(t, wait, "the second uplink", func() bool {
		r, ok := f.reading("lora-1", "temperature_1")
		return ok && r.Value.Num == 21
	})
	f.stop()

	f = startGateway(t, dir, nil, lora.Options{})
	fw.retarget(f.addr())
	st := f.device("lora-1")
	if !st.Joined || st.DevAddr != addr.String() || st.FCntUp != 2 {
		t.Fatalf("after the restart: %+v", st)
	}
	fw.push(fw.rxpk(up0))     // an old frame: a replay
	fw.push(fw.rxpk(up1))     // the last frame again: a retransmission, not delivered again
	fw.push(fw.rxpk(joinReq)) // the same DevNonce: refused
	devicetest.Eventually(t, wait, "the replays refused", func() bool {
		s := f.drv.Concentrator().NetworkServer
		return s != nil && s.Replays == 1 && s.Retransmissions == 1 && s.DevNonceReplays == 1
	})
	if _, ok := f.reading("lora-1", "temperature_1"); ok {
		t.Error("a replayed frame made a reading")
	}
	if st := f.device("lora-1"); st.DevAddr != addr.String() || st.FCntUp != 2 || st.Errors["devnonce_replay"] != 1 {
		t.Errorf("a replay changed the state: %+v", st)
	}
	fw.push(fw.rxpk(uplink(t, addr, keys, 2, lpp(22))))
	devicetest.Eventually(t, wait, "the session carrying on", func() bool {
		r, ok := f.reading("lora-1", "temperature_1")
		return ok && r.Value.Num == 22
	})
}

// The driver follows the site: another address re-opens the socket, a
// device change does not, disabling LoRa closes it, and re-enabling opens
// one again.
func TestSiteChangesMoveAndCloseTheSocket(t *testing.T) {
	dev, addr, keys := abpDevice("lora-1", 1, "")
	f := startGateway(t, t.TempDir(), embeddedSite(dev), lora.Options{})
	first := f.addr()
	fw := newFwd(t, first)
	fw.push(fw.rxpk(uplink(t, addr, keys, 0, payload.LPP{}.Temperature(1, 20))))

	f.edit(func(l *device.LoRa) { l.PacketForwarder = "127.0.0.1:1701" })
	devicetest.Eventually(t, wait, "a new socket", func() bool {
		c := f.drv.Concentrator()
		return c.State == lora.ServerListening && c.Address == "127.0.0.1:1701"
	})
	opened := f.lis.all()
	if len(opened) != 2 || opened[1].configured != "127.0.0.1:1701" || !isClosed(opened[0].conn) {
		t.Fatalf("sockets %+v", opened)
	}
	// The old port is free again: nothing listens there any more.
	if c, err := net.ListenPacket("udp", first); err != nil {
		t.Errorf("the old socket still holds %s: %v", first, err)
	} else {
		c.Close()
	}
	fw.retarget(f.addr())
	fw.push(fw.rxpk(uplink(t, addr, keys, 1, payload.LPP{}.Temperature(1, 21))))
	devicetest.Eventually(t, wait, "the uplink on the new socket", func() bool {
		r, ok := f.reading("lora-1", "temperature_1")
		return ok && r.Value.Num == 21
	})

	// Devices change in place.
	dev2, addr2, keys2 := abpDevice("lora-2", 2, "")
	f.edit(func(l *device.LoRa) { l.Devices = append(l.Devices, dev2) })
	fw.push(fw.rxpk(uplink(t, addr2, keys2, 0, payload.LPP{}.Humidity(2, 50))))
	devicetest.Eventually(t, wait, "the added device", func() bool {
		r, ok := f.reading("lora-2", "humidity_2")
		return ok && r.Value.Num == 50
	})
	if n := len(f.lis.all()); n != 2 {
		t.Errorf("a device change opened %d sockets", n-2)
	}

	f.edit(func(l *device.LoRa) { l.Enabled = false })
	devicetest.Eventually(t, wait, "the socket closed", func() bool {
		return f.drv.Concentrator().State == lora.ServerOff && isClosed(opened[1].conn)
	})
	if n := len(f.lis.all()); n != 2 {
		t.Errorf("disabled LoRa opened a socket")
	}
	f.edit(func(l *device.LoRa) { l.Enabled = true })
	f.addr()
	if n := len(f.lis.all()); n != 3 {
		t.Errorf("%d sockets after re-enabling, want 3", n)
	}
}

// A socket that cannot be opened (the port is taken) is reported and
// retried.
func TestBindFailureIsRetried(t *testing.T) {
	dev, _, _ := abpDevice("lora-1", 1, "")
	var mu sync.Mutex
	taken := true
	listen := func(addr string) (net.PacketConn, error) {
		mu.Lock()
		defer mu.Unlock()
		if taken {
			return nil, syscall.EADDRINUSE
		}
		return net.ListenPacket("udp", "127.0.0.1:0")
	}
	f := startGateway(t, t.TempDir(), embeddedSite(dev), lora.Options{Listen: listen, Retry: 50 * time.Millisecond, CheckEvery: 10 * time.Millisecond})
	devicetest.Eventually(t, wait, "the failure reported", func() bool {
		c := f.drv.Concentrator()
		return c.State == lora.ServerFailed && strings.Contains(c.Error, "listen for the packet forwarder on 127.0.0.1:1700") && strings.Contains(c.Error, "address already in use")
	})
	if st := f.drv.Status(); st.State != lora.StateNoConcentrator || !strings.Contains(st.Detail, "in use") {
		t.Errorf("radio status %+v", st)
	}
	mu.Lock()
	taken = false
	mu.Unlock()
	f.addr()
}
