package lora_test

import (
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/payload"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// bigBuffer binds 127.0.0.1:0 with a 4 MiB receive buffer, so that the
// benchmark's bursts are not lost in the kernel.
func bigBuffer(string) (net.PacketConn, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return c, c.SetReadBuffer(4 << 20)
}

// unlimited lifts the per-forwarder rate bound (100 datagrams/s) so that
// the benchmarks measure the gateway, not the bound.
var unlimited = semtech.Limits{Rate: 1e9, Burst: 1 << 30}

// BenchmarkEmbeddedUplinks measures uplinks per second through the whole
// embedded path: UDP and PUSH_DATA JSON, the network server (decode, MIC,
// FCnt, decrypt, the session written to bbolt before delivery), the
// Cayenne LPP codec, and the field layer (latest readings, status, and the
// telemetry record committed to the outbox). 100 ABP devices, 8 rxpk per
// PUSH_DATA, at most 900 uplinks in flight (so that the server is never
// idle while frames wait out the window; under the network server's queue
// of 1024); the default 200 ms
// de-duplication window.
func BenchmarkEmbeddedUplinks(b *testing.B) {
	const devices, perDatagram, inFlight = 100, 8, 900
	var devs []device.LoRaDevice
	type sess struct {
		addr lorawan.DevAddr
		keys lorawan.SessionKeys
	}
	var sessions []sess
	for i := range devices {
		d, _, k := abpDevice(fmt.Sprintf("lora-%d", i), byte(i), "")
		d.DevEUI = fmt.Sprintf("70b3d57ed00100%02x", i)
		d.DevAddr = fmt.Sprintf("2601%04x", i)
		a, _ := lorawan.ParseDevAddr(d.DevAddr)
		devs, sessions = append(devs, d), append(sessions, sess{a, k})
	}
	f := startGateway(b, b.TempDir(), embeddedSite(devs...), lora.Options{Limits: unlimited, DedupWindow: ns.DefaultDedupWindow, Listen: bigBuffer})
	fw := newFwd(b, f.addr())
	// The datagrams, built before the clock starts.
	var datagrams [][]byte
	for n := 0; n < b.N; n += perDatagram {
		var rx []semtech.RXPK
		for j := n; j < min(n+perDatagram, b.N); j++ {
			s := sessions[j%devices]
			pl := payload.LPP{}.Temperature(1, float64(j%300)/10).Humidity(2, 50)
			rx = append(rx, fw.rxpk(uplink(b, s.addr, s.keys, uint32(j/devices), pl)))
		}
		js, _ := json.Marshal(map[string]any{"rxpk": rx})
		d, _ := semtech.Packet{Token: uint16(n), Type: semtech.PushData, GatewayEUI: gatewayEUI, JSON: js}.AppendBinary(nil)
		datagrams = append(datagrams, d)
	}
	done := func() uint64 { return f.drv.Concentrator().NetworkServer.Uplinks }
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for _, d := range datagrams {
		for sent-int(done()) > inFlight {
			<-poll.C // a busy wait would take a core from the gateway
		}
		fw.raw(d)
		sent += perDatagram
	}
	devicetest.Eventually(b, time.Minute, func() string { return fmt.Sprintf("every uplink processed: %+v", f.drv.Concentrator()) },
		func() bool { return done() >= uint64(b.N) })
	elapsed := time.Since(start)
	b.StopTimer()
	if s := f.drv.Concentrator().NetworkServer; s.Dropped != 0 || s.MICFailures != 0 || s.StoreErrors != 0 {
		b.Fatalf("network server %+v", s)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
}

// BenchmarkJoin measures a join from the JoinRequest's PUSH_DATA to its
// JoinAccept's PULL_RESP at the forwarder: MIC, DevNonce check, the
// DevNonces and the session written to bbolt, the accept encrypted. The
// de-duplication window comes first, so the default one is most of it;
// with 1 ms the rest is the work.
func BenchmarkJoin(b *testing.B) {
	for _, window := range []time.Duration{200 * time.Millisecond, time.Millisecond} {
		b.Run("dedup="+window.String(), func(b *testing.B) {
			const devices = 64
			var devs []device.LoRaDevice
			var euis []lorawan.EUI64
			var keys []lorawan.Key
			for i := range devices {
				d, e, k := otaaDevice(fmt.Sprintf("lora-%d", i), byte(i))
				devs, euis, keys = append(devs, d), append(euis, e), append(keys, k)
			}
			f := startGateway(b, b.TempDir(), embeddedSite(devs...), lora.Options{Limits: unlimited, DedupWindow: window})
			fw := newFwd(b, f.addr())
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				fw.join(euis[i%devices], keys[i%devices], lorawan.DevNonce(i/devices+1))
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N)/1000, "ms/join")
		})
	}
}

// BenchmarkMemoryPer1000Devices measures the heap that 1,000 devices cost
// once each has sent an uplink: the site's devices, the network server's
// sessions and status, the driver's state, and the field layer's latest
// readings and status. Run it with -benchtime=1x.
func BenchmarkMemoryPer1000Devices(b *testing.B) {
	const devices = 1000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	measure := func(n int) uint64 {
		var devs []device.LoRaDevice
		var addrs []lorawan.DevAddr
		var keys []lorawan.SessionKeys
		for i := range n {
			d, _, k := abpDevice(fmt.Sprintf("lora-%d", i), byte(i), "")
			d.DevEUI = fmt.Sprintf("70b3d57ed001%04x", i)
			d.DevAddr = fmt.Sprintf("2602%04x", i)
			a, _ := lorawan.ParseDevAddr(d.DevAddr)
			devs, addrs, keys = append(devs, d), append(addrs, a), append(keys, k)
		}
		before := heap()
		f := startGateway(b, b.TempDir(), embeddedSite(devs...), lora.Options{Limits: unlimited})
		fw := newFwd(b, f.addr())
		for i := 0; i < n; i += 8 {
			var rx []semtech.RXPK
			for j := i; j < min(i+8, n); j++ {
				rx = append(rx, fw.rxpk(uplink(b, addrs[j], keys[j], 0, payload.LPP{}.Temperature(1, 21).Humidity(2, 40))))
			}
			fw.push(rx...)
		}
		devicetest.Eventually(b, time.Minute, "every device heard", func() bool {
			return f.drv.Concentrator().NetworkServer.Uplinks == uint64(n)
		})
		after := heap()
		runtime.KeepAlive(fw)
		f.stop()
		return after - before
	}
	for range b.N {
		one := measure(1)
		all := measure(devices)
		b.ReportMetric(float64(all-one), "B/1000dev")
	}
}
