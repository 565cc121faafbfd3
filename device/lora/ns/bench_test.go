package ns

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/payload"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// benchServer returns a server with n ABP devices, whose uplinks are
// decoded with Cayenne LPP as the driver will, and a MemStore.
func benchServer(b *testing.B, devs []Device) (*Server, *int) {
	b.Helper()
	decoded := new(int)
	s, err := New(Config{NetID: 0x13, Devices: devs, Store: NewMemStore(), TX: &fakeTX{}, Rand: rand.NewChaCha8([32]byte{2}),
		OnUplink: func(u Uplink) {
			v, err := payload.CayenneLPP{}.Decode(u.FPort, u.Payload)
			if err != nil {
				b.Fatal(err)
			}
			*decoded += len(v)
		}})
	if err != nil {
		b.Fatal(err)
	}
	return s, decoded
}

// processAll processes b.N frames made by frame(j), which the devices
// make outside the timed part, a chunk at a time. The timer is stopped
// when it returns.
func processAll(b *testing.B, s *Server, frame func(j int) semtech.Rx) {
	const chunk = 4096
	frames := make([]semtech.Rx, 0, chunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%chunk == 0 {
			b.StopTimer()
			frames = frames[:0]
			for j := i; j < i+chunk; j++ {
				frames = append(frames, frame(j))
			}
			b.StartTimer()
		}
		s.process(frames[i%chunk], 1)
	}
	b.StopTimer()
}

// benchRx is an uplink heard by gw1 at SF7 on 868.1 MHz.
func benchRx(phy []byte, at time.Time, tmst uint32) semtech.Rx {
	return semtech.Rx{Gateway: gw1, Received: at, RXPK: semtech.RXPK{Tmst: tmst, Freq: 868.1, Stat: semtech.CRCOK,
		Datr: semtech.DataRate{LoRa: "SF7BW125"}, RSSI: -70, LSNR: 7, Size: uint16(len(phy)), Data: phy}}
}

func abpDevices(n int) ([]Device, []lorawan.SessionKeys) {
	devs := make([]Device, n)
	keys := make([]lorawan.SessionKeys, n)
	for i := range devs {
		keys[i] = lorawan.SessionKeys{NwkSKey: lorawan.Key{1, byte(i), byte(i >> 8)}, AppSKey: lorawan.Key{2, byte(i), byte(i >> 8)}}
		devs[i] = Device{Name: fmt.Sprintf("d%d", i), DevEUI: lorawan.EUI64{0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}, Activation: ABP,
			DevAddr: lorawan.DevAddr(0x26000000 + i), NwkSKey: keys[i].NwkSKey, AppSKey: keys[i].AppSKey}
	}
	return devs, keys
}

// BenchmarkUplink is frames per second through the network server:
// decode, device lookup, MIC over the reconstructed counter, session
// write to the store, decryption, and the Cayenne LPP codec.
func BenchmarkUplink(b *testing.B) {
	const devices = 100
	devs, keys := abpDevices(devices)
	s, decoded := benchServer(b, devs)
	lpp := payload.LPP{}.Temperature(1, 21.5).Humidity(2, 40)
	now := time.Now()
	processAll(b, s, func(j int) semtech.Rx {
		d := j % devices
		phy, _ := lorawan.Data{MType: lorawan.UnconfirmedDataUp, DevAddr: devs[d].DevAddr, FCnt: uint32(j / devices), HasPort: true, FPort: 2, Payload: lpp}.Encode(keys[d])
		return benchRx(phy, now, uint32(j))
	})
	if st := s.Stats(); st.Uplinks != uint64(b.N) || *decoded != 2*b.N {
		b.Fatalf("%d of %d uplinks delivered (%+v)", st.Uplinks, b.N, st)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkJoin is the latency of handling one join request: MIC, nonce
// check, DevAddr allocation, key derivation, two store writes, join
// accept encryption.
func BenchmarkJoin(b *testing.B) {
	const devices = 1000
	devs := make([]Device, devices)
	for i := range devs {
		devs[i] = Device{Name: fmt.Sprintf("j%d", i), DevEUI: lorawan.EUI64{1, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}, Activation: OTAA,
			JoinEUI: joinEUI, AppKey: lorawan.Key{3, byte(i), byte(i >> 8)}}
	}
	s, _ := benchServer(b, devs)
	s.cfg.Now = func() time.Time { return time.Unix(0, 0) }
	processAll(b, s, func(j int) semtech.Rx {
		d := devs[j%devices]
		phy := lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: d.DevEUI, DevNonce: lorawan.DevNonce(j / devices)}.Encode(d.AppKey)
		return benchRx(phy, time.Unix(0, 0), 1)
	})
	if st := s.Stats(); st.Joins != uint64(b.N) {
		b.Fatalf("%d of %d joins (%+v)", st.Joins, b.N, st)
	}
}

// BenchmarkMemoryPerDevice reports the heap one joined OTAA device costs,
// measured over 1,000 devices (bytes/device).
func BenchmarkMemoryPerDevice(b *testing.B) {
	const devices = 1000
	for range b.N {
		devs := make([]Device, devices)
		for i := range devs {
			devs[i] = Device{Name: fmt.Sprintf("m%d", i), DevEUI: lorawan.EUI64{2, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}, Activation: OTAA,
				JoinEUI: joinEUI, AppKey: lorawan.Key{4, byte(i), byte(i >> 8)}}
		}
		store := NewMemStore()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := New(Config{NetID: 0x13, Devices: devs, Store: store, TX: &fakeTX{}, Rand: rand.NewChaCha8([32]byte{3}), Now: func() time.Time { return time.Unix(0, 0) }})
		if err != nil {
			b.Fatal(err)
		}
		for i, d := range devs {
			phy := lorawan.JoinRequestFrame{JoinEUI: joinEUI, DevEUI: d.DevEUI, DevNonce: 1}.Encode(d.AppKey)
			s.process(benchRx(phy, time.Unix(0, 0), uint32(i)), 1)
		}
		// The store is the lead's bbolt in production: leave it out.
		store.m = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st := s.Stats(); st.Joins != devices {
			b.Fatalf("%d joins", st.Joins)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/devices, "bytes/device")
		runtime.KeepAlive(s)
	}
}
