// Package tuitest holds what the console's tests share: a cheap password
// hasher, test accounts' password and keys, a simulated Modbus device
// polled by a real engine, and the network subsystems on the simulated
// backend. Only tests import it.
//
// # Caveats
//
//   - It opens no store: each test builds its gateway on its own store
//     (store/storetest), so that no tui package imports the store.
package tuitest

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/modbus/sim"
	"github.com/sitegate/sitegate/device/wan"
	"github.com/sitegate/sitegate/device/wifi"
	"github.com/sitegate/sitegate/tui/access"
)

// Hasher is cheap: the tests are about the door and the screens, not the
// hash cost.
var Hasher = access.NewHasher(access.Argon2Params{Time: 1, Memory: 64, Threads: 1}, 4)

// Password passes the password policy.
const Password = "Tr4ns#Volt9"

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Wait is the deadline of a test's waits.
const Wait = 10 * time.Second

// NewSigner returns a fresh ed25519 key.
func NewSigner(tb testing.TB) gossh.Signer {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// FieldDevice serves a simulated Modbus device (unit 3, device ahu-1 on
// TCP bus plant: supply_temp, a writable setpoint and a writable coil
// running), puts it into gw's site and polls it with a real engine until
// its first readings are good.
func FieldDevice(tb testing.TB, gw *device.Gateway) *sim.Server {
	tb.Helper()
	srv := sim.NewServer(nil, sim.DefaultModel(), sim.WithLogger(Quiet))
	addr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	site, rev := gw.Site()
	site.Modbus.Buses = []device.Bus{{Name: "plant", Kind: device.BusTCP, Address: addr, Timeout: device.Duration(200 * time.Millisecond)}}
	site.Modbus.Devices = []device.Device{{Name: "ahu-1", Bus: "plant", UnitID: 3, Interval: device.Duration(300 * time.Millisecond),
		Points: []device.Point{
			{Name: "supply_temp", Table: device.TableHolding, Address: 2, Type: device.TypeUint16, Unit: "degC"},
			{Name: "setpoint", Table: device.TableHolding, Address: 5, Type: device.TypeUint16, Writable: true},
			{Name: "running", Table: device.TableCoil, Address: 0, Type: device.TypeBool, Writable: true},
		}}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		tb.Fatal(err)
	}
	devicetest.Run(tb, modbus.New(gw, modbus.Options{Logger: Quiet}))
	devicetest.Eventually(tb, Wait, "first readings", func() bool {
		rs, _ := gw.Readings("ahu-1")
		return len(rs) == 3 && rs[0].Quality == field.QualityGood
	})
	return srv
}

// Network runs the network subsystems on the sim backend with fast probes
// (priority ethernet > cellular > wifi, one SIM, Wi-Fi disabled for good)
// and the radio lock-out guard, until ethernet is the active link.
func Network(tb testing.TB, gw *device.Gateway) {
	tb.Helper()
	site, rev := gw.Site()
	site.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkCellular, device.LinkWiFi}
	site.WAN.Probe = device.Probe{Targets: []string{"telemetry.example.com:443"}, Interval: device.Duration(time.Second), DownAfter: 1, UpAfter: 1}
	site.Cellular.Enabled = true
	site.Cellular.SIMs = []device.SIM{{Slot: 1, APN: "internet", MonthlyLimitMB: 1024}}
	site.WiFi = device.WiFi{Enabled: false, PermanentlyDisabled: true, Interface: "wlan0", SSID: "SiteNet", Security: device.SecurityWPA2PSK}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		tb.Fatal(err)
	}
	gw.AddSiteGuard(wifi.CheckRadioChange)
	be, err := wan.NewBackend("sim", clockwork.System, Quiet)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := wan.New(gw, be, wan.Options{Logger: Quiet})
	if err != nil {
		tb.Fatal(err)
	}
	gw.AddHealthSource(m.FillHealth)
	gw.SetNetwork(wan.NewControl(m, wifi.SimScanner{}, lora.New(func() *device.Site { s, _ := gw.Site(); return s }, &lora.Sim{})))
	devicetest.Run(tb, m)
	devicetest.Eventually(tb, Wait, "ethernet active", func() bool { return gw.Health().WAN.Active == "ethernet" })
}
