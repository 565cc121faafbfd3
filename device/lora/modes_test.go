package lora_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/payload"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// remoteNS is a remote network server written for the test: it
// acknowledges what forwarders send, keeps every PUSH_DATA as received,
// and sends a downlink on request.
type remoteNS struct {
	conn net.PacketConn
	wg   sync.WaitGroup

	mu     sync.Mutex
	pushes []semtech.Packet
	pull   net.Addr // where the last PULL_DATA came from
	txAcks int
}

func newRemoteNS(t *testing.T) *remoteNS {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &remoteNS{conn: c}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, semtech.MaxDatagram)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := semtech.DecodePacket(buf[:n])
			if err != nil {
				continue
			}
			p.JSON = bytes.Clone(p.JSON)
			ack := semtech.PushAck
			r.mu.Lock()
			switch p.Type {
			case semtech.PushData:
				r.pushes = append(r.pushes, p)
			case semtech.PullData:
				r.pull, ack = from, semtech.PullAck
			case semtech.TxAck:
				r.txAcks++
				r.mu.Unlock()
				continue
			}
			r.mu.Unlock()
			b, _ := semtech.Packet{Token: p.Token, Type: ack}.AppendBinary(nil)
			c.WriteTo(b, from)
		}
	}()
	t.Cleanup(func() { c.Close(); r.wg.Wait() })
	return r
}

func (r *remoteNS) sendDownlink(t *testing.T, tx semtech.TXPK) {
	js, err := semtech.EncodePullResp(tx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := semtech.Packet{Token: 77, Type: semtech.PullResp, JSON: js}.AppendBinary(nil)
	r.mu.Lock()
	to := r.pull
	r.mu.Unlock()
	if _, err := r.conn.WriteTo(b, to); err != nil {
		t.Fatal(err)
	}
}

// Forward mode: frames reach the remote network server unchanged, its
// downlinks come back to the forwarder, and the relay's statistics count
// both ways.
func TestForwardMode(t *testing.T) {
	remote := newRemoteNS(t)
	site := embeddedSite()
	site.LoRa.Mode, site.LoRa.NetworkServer = device.LoRaForward, remote.conn.LocalAddr().String()
	f := startGateway(t, t.TempDir(), site, lora.Options{})
	fw := newFwd(t, f.addr()) // its PULL_DATA is answered by the remote
	_, addr, keys := abpDevice("x", 1, "")
	rx := fw.rxpk(uplink(t, addr, keys, 0, []byte{1, 2, 3}))
	fw.push(rx)
	remote.mu.Lock()
	if len(remote.pushes) != 1 || remote.pushes[0].GatewayEUI != gatewayEUI || !bytes.Contains(remote.pushes[0].JSON, []byte(`"rssi":-57`)) {
		t.Errorf("remote got %+v", remote.pushes)
	}
	remote.mu.Unlock()
	tmst := uint32(5_000_000)
	remote.sendDownlink(t, semtech.TXPK{Tmst: &tmst, Freq: 869.525, Modu: "LORA", Datr: semtech.DataRate{LoRa: "SF12BW125"}, IPol: true, Data: []byte{0x60, 1, 2, 3}})
	if tx := fw.downlink(); !bytes.Equal(tx.Data, []byte{0x60, 1, 2, 3}) || *tx.Tmst != tmst {
		t.Errorf("downlink %+v", tx)
	}
	devicetest.Eventually(t, wait, "the TX_ACK at the remote", func() bool {
		remote.mu.Lock()
		defer remote.mu.Unlock()
		return remote.txAcks == 1
	})
	c := f.drv.Concentrator()
	if c.Mode != "forward" || c.Relay == nil || c.Relay.Forwarded != 1 || c.Relay.Acked != 1 || c.Relay.Downlinks != 1 || !c.Relay.RemoteUp ||
		c.Received != 1 || c.Forwarded != 1 || c.LastPushData.IsZero() || c.NetworkServer != nil {
		t.Errorf("concentrator %+v relay %+v", c, c.Relay)
	}
	if len(f.drv.Devices()) != 0 || len(f.drv.Frames(0)) != 0 {
		t.Error("forward mode decoded frames")
	}
}

// Bad input of every kind is dropped and counted, and changes neither the
// readings nor the device's session.
func TestBadInputIsCountedAndChangesNothing(t *testing.T) {
	dev, addr, keys := abpDevice("lora-1", 1, "")
	f := startGateway(t, t.TempDir(), embeddedSite(dev), lora.Options{})
	fw := newFwd(t, f.addr())
	fw.push(fw.rxpk(uplink(t, addr, keys, 0, payload.LPP{}.Temperature(1, 19))))
	fw.push(fw.rxpk(uplink(t, addr, keys, 1, payload.LPP{}.Temperature(1, 20))))
	devicetest.Eventually(t, wait, "the good uplinks", func() bool { r, _ := f.reading("lora-1", "temperature_1"); return r.Value.Num == 20 })
	before, _ := f.reading("lora-1", "temperature_1")
	nsBefore := f.device("lora-1")

	crcBad := fw.rxpk(uplink(t, addr, keys, 2, payload.LPP{}.Temperature(1, 99)))
	crcBad.Stat = semtech.CRCBad
	wrongKey := lorawan.SessionKeys{NwkSKey: lorawan.Key{9}, AppSKey: keys.AppSKey}
	other := lorawan.DevAddr(0x26ffffff)
	broken, _ := semtech.Packet{Token: 8, Type: semtech.PushData, GatewayEUI: gatewayEUI, JSON: []byte(`{"rxpk":[{"tmst":1,`)}.AppendBinary(nil)
	fw.raw(broken)                                                      // broken JSON: not even acknowledged
	fw.pushJSON([]byte(`{"rxpk":[{"tmst":1,"size":3,"data":"%%%%"}]}`)) // broken base64
	fw.raw([]byte{2, 0})                                                // truncated datagram
	fw.raw([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})                  // protocol version 1
	fw.push(crcBad)
	fw.push(fw.rxpk([]byte{0x40, 1}))                                                // truncated frame
	fw.push(fw.rxpk(bytes.Repeat([]byte{0x40}, 300)))                                // oversized frame
	fw.push(fw.rxpk(uplink(t, addr, wrongKey, 2, payload.LPP{}.Temperature(1, 99)))) // wrong MIC
	fw.push(fw.rxpk(uplink(t, addr, keys, 0, payload.LPP{}.Temperature(1, 99))))     // replayed counter
	fw.push(fw.rxpk(uplink(t, other, keys, 0, payload.LPP{}.Temperature(1, 99))))    // unknown device
	js := []byte(`{"rxpk":[]}`)
	stranger, _ := semtech.Packet{Token: 9, Type: semtech.PushData, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}, JSON: js}.AppendBinary(nil)
	fw.raw(stranger) // a gateway the site does not name
	// A flood: far beyond the rate one forwarder may send.
	flood, _ := semtech.Packet{Token: 10, Type: semtech.PushData, GatewayEUI: gatewayEUI, JSON: js}.AppendBinary(nil)
	for range 400 {
		fw.raw(flood)
	}

	devicetest.Eventually(t, wait, "every bad input counted", func() bool {
		c := f.drv.Concentrator()
		s, n := c.Server, c.NetworkServer
		return s.BadJSON == 1 && s.BadRXPK == 1 && s.Malformed >= 2 && s.UnknownGateway == 1 && s.RateLimited > 0 && c.CRCErrors == 1 &&
			n.Malformed == 2 && n.MICFailures == 1 && n.Replays == 1 && n.UnknownDevice == 1
	})
	if after, _ := f.reading("lora-1", "temperature_1"); after != before {
		t.Errorf("reading changed: %+v -> %+v", before, after)
	}
	if st := f.device("lora-1"); st.FCntUp != nsBefore.FCntUp || st.Uplinks != nsBefore.Uplinks || st.State != field.StateOnline {
		t.Errorf("device changed: %+v -> %+v", nsBefore, st)
	}

	// A payload the codec cannot read (valid MIC): the device is heard but
	// degraded, the error says why, the readings stay. The flood's rate
	// bucket refills first.
	devicetest.Eventually(t, wait, "an uplink past the rate bound", func() bool {
		return tryPush(fw, fw.rxpk(uplink(t, addr, keys, 2, []byte{1, 0xee, 0})))
	})
	devicetest.Eventually(t, wait, "the codec error", func() bool {
		st := f.status("lora-1")
		return st.State == field.StateDegraded && st.Errors["codec"] == 1 && strings.Contains(st.LastError, "unknown Cayenne LPP type")
	})
	if after, _ := f.reading("lora-1", "temperature_1"); after != before {
		t.Errorf("an undecodable payload changed the reading: %+v", after)
	}
}

// tryPush sends one PUSH_DATA and reports whether it was acknowledged
// within a short while (a rate-limited one is not).
func tryPush(f *fwd, rx semtech.RXPK) bool {
	before := f.count(semtech.PushAck)
	js := []byte(`{"rxpk":[` + string(mustJSON(rx)) + `]}`)
	b, _ := semtech.Packet{Token: f.nextToken(), Type: semtech.PushData, GatewayEUI: f.eui, JSON: js}.AppendBinary(nil)
	f.up.Write(b)
	return devicetest.Within(200*time.Millisecond, func() bool { return f.count(semtech.PushAck) > before })
}

// The silence rule, on a fake clock: online after an uplink, degraded
// after 2.5 intervals without one (readings stale), offline after 5, and
// online again with the next uplink. A device never heard goes offline
// after 5 intervals from the start.
func TestSilenceRule(t *testing.T) {
	clk := clockwork.NewFake(time.Now())
	dev, addr, keys := abpDevice("lora-1", 1, "")
	never, _, _ := abpDevice("lora-2", 2, "")
	f := startGateway(t, t.TempDir(), embeddedSite(dev, never), lora.Options{Clock: clk, CheckEvery: time.Second})
	fw := newFwd(t, f.addr())
	fw.push(fw.rxpk(uplink(t, addr, keys, 0, payload.LPP{}.Temperature(1, 20))))
	devicetest.Eventually(t, wait, "online", func() bool { return f.status("lora-1").State == field.StateOnline })

	// step moves the fake time a second at a time, giving the driver's
	// loop a moment after each tick, until cond holds or limit has passed.
	step := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		for end := clk.Now().Add(limit); !cond(); {
			if !clk.Now().Before(end) {
				t.Fatalf("not %s within %s", what, limit)
			}
			clk.Advance(time.Second)
			devicetest.Within(50*time.Millisecond, cond)
		}
	}
	heard := clk.Now()
	step("past 24s", 24*time.Second, func() bool { return clk.Now().Sub(heard) >= 24*time.Second })
	if st := f.status("lora-1"); st.State != field.StateOnline {
		t.Fatalf("degraded before 2.5 intervals: %+v", st)
	}
	step("degraded", 10*time.Second, func() bool {
		r, _ := f.reading("lora-1", "temperature_1")
		st := f.status("lora-1")
		return st.State == field.StateDegraded && r.Quality == field.QualityStale && strings.Contains(r.Error, "expected every 10s")
	})
	if st := f.status("lora-1"); st.Since.Sub(heard) <= 25*time.Second {
		t.Errorf("degraded after %s", st.Since.Sub(heard))
	}
	step("offline", 30*time.Second, func() bool {
		return f.status("lora-1").State == field.StateOffline && f.status("lora-2").State == field.StateOffline
	})
	if st := f.status("lora-1"); st.Since.Sub(heard) <= 50*time.Second {
		t.Errorf("offline after %s", st.Since.Sub(heard))
	}
	if st := f.status("lora-2"); !strings.Contains(st.LastError, "no uplink since the gateway started") {
		t.Errorf("never heard: %+v", st)
	}
	fw.push(fw.rxpk(uplink(t, addr, keys, 1, payload.LPP{}.Temperature(1, 21))))
	devicetest.Eventually(t, wait, "online again", func() bool {
		r, _ := f.reading("lora-1", "temperature_1")
		return f.status("lora-1").State == field.StateOnline && r.Quality == field.QualityGood && r.Value.Num == 21
	})
}

// A write to a point the codec has a downlink for goes out after the
// device's next uplink, in its receive window, carrying the encoded
// value; points without one refuse writes.
func TestWriteQueuesADownlink(t *testing.T) {
	dev, addr, keys := abpDevice("valve", 3, "valve")
	site := embeddedSite(dev)
	site.LoRa.Codecs = []device.LoRaCodec{{Name: "valve",
		Fields:    []payload.Field{{Name: "room_temp", Byte: 0, Type: payload.Int16, Scale: 0.01, Unit: "degC"}, {Name: "setpoint", Byte: 2, Type: payload.Uint8, Scale: 0.5}},
		Downlinks: []payload.Downlink{{Name: "setpoint", FPort: 10, Type: payload.Uint8, Scale: 0.5}}}}
	f := startGateway(t, t.TempDir(), site, lora.Options{})
	fw := newFwd(t, f.addr())
	ctx := context.Background()
	if err := f.gw.Field().Write(ctx, field.Write{Device: "valve", Point: "room_temp", Value: field.Number(1)}); !errors.Is(err, field.ErrReadOnly) {
		t.Errorf("write of a field without a downlink: %v", err)
	}
	if err := f.drv.Write(ctx, field.Write{Device: "valve", Point: "room_temp", Value: field.Number(1)}); !errors.Is(err, field.ErrNotSupported) {
		t.Errorf("driver write without a downlink: %v", err)
	}
	if err := f.drv.Write(ctx, field.Write{Device: "valve", Point: "setpoint", Value: field.Number(1000)}); !errors.Is(err, payload.ErrRange) {
		t.Errorf("write out of range: %v", err)
	}
	if err := f.gw.WritePoint(ctx, device.LocalActor, field.Write{Device: "valve", Point: "setpoint", Value: field.Number(21.5)}); err != nil {
		t.Fatal(err)
	}
	if st := f.device("valve"); st.QueueLength != 1 {
		t.Fatalf("queue %+v", st)
	}
	fw.push(fw.rxpk(uplink(t, addr, keys, 0, []byte{0x08, 0x34, 40})))
	tx := fw.downlink()
	df, err := lorawan.DecodeData(tx.Data)
	if err != nil || df.CheckMIC(keys.NwkSKey, 0) != nil || df.FPort != 10 {
		t.Fatalf("downlink %+v: %v", df, err)
	}
	if got := df.Payload(keys, 0); !bytes.Equal(got, []byte{43}) {
		t.Errorf("downlink payload % x, want 2b (21.5 / 0.5)", got)
	}
	devicetest.Eventually(t, wait, "the readings", func() bool {
		r, ok := f.reading("valve", "room_temp")
		s, _ := f.reading("valve", "setpoint")
		return ok && r.Value.Num == 21 && s.Value.Num == 20
	})
}
