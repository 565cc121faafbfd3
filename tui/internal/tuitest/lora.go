package tuitest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/lora/lorasim"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/payload"
)

// LoRaGatewayEUI is the concentrator's EUI in LoRa's site and simulator.
const LoRaGatewayEUI = "0016c001ff10a235"

// loraUplinkEvery is how often the simulated sensors send: quick, so that
// tests see frames arrive while they follow them.
const loraUplinkEvery = 150 * time.Millisecond

// LoRaRig is the LoRa side LoRa runs for a test.
type LoRaRig struct {
	Driver *lora.Driver
	Sim    *lorasim.Simulator
	// Sensors are the site's device names, in site order.
	Sensors []string

	stop func()
}

// StopDriver stops the LoRa driver now, as when the gateway shuts down,
// and waits for it.
func (r *LoRaRig) StopDriver() { r.stop() }

// LoRa puts n simulated OTAA sensors (lorasim.Fleet: lora-1..lora-n, with
// Cayenne LPP temperature_1 and humidity_2) into gw's site in embedded
// mode, runs the real LoRa driver, and lorasim playing the concentrator's
// packet forwarder over UDP on loopback, until every sensor has joined and
// its readings are good. Whatever address the site names, the driver's
// socket is bound to 127.0.0.1 at a port of the system's choosing. Both
// stop when the test ends.
func LoRa(tb testing.TB, gw *device.Gateway, n int) *LoRaRig {
	tb.Helper()
	sensors := lorasim.Fleet(n, loraUplinkEvery)
	rig := &LoRaRig{}
	site, rev := gw.Site()
	site.LoRa = device.LoRa{Enabled: true, Region: device.RegionEU868, GatewayEUI: LoRaGatewayEUI, Mode: device.LoRaEmbedded,
		PacketForwarder: "127.0.0.1:1700"}
	for _, s := range sensors {
		site.LoRa.Devices = append(site.LoRa.Devices, device.LoRaDevice{Name: s.Name, DevEUI: s.DevEUI.String(),
			Activation: device.ActivationOTAA, JoinEUI: s.JoinEUI.String(), AppKey: device.Secret(s.AppKey.Reveal()),
			Codec: payload.CayenneLPPName, Interval: device.Duration(10 * time.Second)})
		rig.Sensors = append(rig.Sensors, s.Name)
	}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		tb.Fatal(err)
	}
	rig.Driver = lora.NewDriver(gw, lora.Options{Logger: Quiet, Listen: func(string) (net.PacketConn, error) {
		return net.ListenPacket("udp", "127.0.0.1:0")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rig.Driver.Run(ctx) }()
	rig.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("lora driver: %v", err)
		}
	})
	tb.Cleanup(rig.stop)
	var c lora.Concentrator
	devicetest.Eventually(tb, Wait, "the packet forwarder server listening", func() bool {
		c = rig.Driver.Concentrator()
		return c.State == lora.ServerListening
	})
	eui, err := lorawan.ParseEUI64(LoRaGatewayEUI)
	if err != nil {
		tb.Fatal(err)
	}
	rig.Sim, err = lorasim.New(lorasim.Config{Server: c.Listening, GatewayEUI: eui, Sensors: sensors,
		PullInterval: 50 * time.Millisecond, StatInterval: 200 * time.Millisecond, JoinRetry: time.Second, Log: Quiet})
	if err != nil {
		tb.Fatal(err)
	}
	devicetest.Run(tb, rig.Sim)
	for _, name := range rig.Sensors {
		devicetest.Eventually(tb, Wait, name+"'s first readings", func() bool {
			rs, _ := gw.Readings(name)
			st, _ := gw.Field().Status(name)
			for _, r := range rs {
				if r.Point == "temperature_1" && r.Quality == field.QualityGood {
					return st.State == field.StateOnline
				}
			}
			return false
		})
	}
	return rig
}
