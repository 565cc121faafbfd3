package modbus_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	mb "github.com/goburrow/modbus"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/modbus/sim"
)

// rtuSim serves models on one end of a pseudo-terminal pair and returns
// the other end's path, which the engine opens as its serial device.
func rtuSim(t testing.TB, models map[uint8]*sim.Model, line sim.Line) (*sim.Server, string) {
	t.Helper()
	pty, err := sim.OpenPTY()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pseudo-terminals are needed for the RTU tests: %v", err)
		}
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	srv := sim.NewServer(models, nil, sim.WithLogger(quiet))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeRTU(ctx, pty.Master, line)
	}()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
		pty.Close()
	})
	return srv, pty.Path
}

func rtuSite(path string, devices ...device.Device) *device.Site {
	s := device.DefaultSite()
	s.Modbus.Buses = []device.Bus{{Name: "rs485", Kind: device.BusRTU, Device: path, Baud: 19200, Parity: device.ParityEven, DataBits: 8, StopBits: 1, Timeout: dur(100 * time.Millisecond)}}
	s.Modbus.Devices = devices
	return s
}

func TestRTUPollingOverPTY(t *testing.T) {
	clock := sim.NewManualClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	th, _ := sim.ProfileModel("generic-temp-humidity", sim.WithClock(clock.Now))
	meter, _ := sim.ProfileModel("generic-energy-meter", sim.WithClock(clock.Now))
	srv, path := rtuSim(t, map[uint8]*sim.Model{4: th, 1: meter}, sim.Line{})
	f := newFixture(t, rtuSite(path,
		device.Device{Name: "room", Bus: "rs485", UnitID: 4, Interval: dur(200 * time.Millisecond), Profile: "generic-temp-humidity"},
		device.Device{Name: "meter", Bus: "rs485", UnitID: 1, Interval: dur(200 * time.Millisecond), Profile: "generic-energy-meter"},
	), modbus.Options{})
	for dev, model := range map[string]*sim.Model{"room": th, "meter": meter} {
		for _, r := range f.waitReadings(dev, dev+" good over RTU", allGood) {
			want, _ := model.Value(r.Point)
			if !r.Value.IsBool && (r.Value.Num-want > 1e-3 || want-r.Value.Num > 1e-3) {
				t.Errorf("%s.%s = %v, want %v", dev, r.Point, r.Value.Num, want)
			}
		}
	}
	// Faults on one unit: counted by kind, the line resynchronises, the
	// other unit on the same line keeps being read, and all recovers.
	for _, c := range []struct {
		name  string
		fault sim.Faults
		kind  string
	}{
		{"bad CRC", sim.Faults{BadCRC: true, Times: 2}, modbus.KindCRC},
		{"wrong unit id", sim.Faults{WrongUnit: true, Times: 2}, modbus.KindFraming},
		{"truncated frame", sim.Faults{Truncate: true, Times: 2}, modbus.KindFraming},
		{"silence", sim.Faults{Silent: true, Times: 2}, modbus.KindTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := status(f, "room").Errors[c.kind]
			srv.SetFaults(4, c.fault)
			f.waitReadings("room", c.kind+" counted", func(rs []field.Reading, st field.Status) bool { return st.Errors[c.kind] > before })
			after := status(f, "meter").Requests
			f.waitReadings("room", "recovery", func(rs []field.Reading, st field.Status) bool {
				return allGood(rs, st) && st.State == field.StateOnline && status(f, "meter").Requests > after+2
			})
		})
	}
}

// wireBytes is one exchange of a 100-register read: request 8 bytes,
// answer 5 + 200.
const (
	reqBytes  = 8
	respBytes = 5 + 2*100
)

// BenchmarkRTUCycle measures one 100-register read over a pty whose far
// end behaves like a real line at the given speed, with this package's RTU
// transporter (through the engine's raw read) and with goburrow's own RTU
// transporter, against the wire-time limit (11 bits per character, 3.5
// characters of silence after each frame).
func BenchmarkRTUCycle(b *testing.B) {
	for _, baud := range []int{19200, 38400} {
		wire := modbus.WireTime(baud, reqBytes, respBytes)
		b.Run(fmt.Sprintf("engine/baud=%d", baud), func(b *testing.B) {
			_, path := rtuSim(b, map[uint8]*sim.Model{1: sim.DefaultModel()}, sim.Line{Baud: baud})
			site := rtuSite(path, device.Device{Name: "d", Bus: "rs485", UnitID: 1, Interval: dur(time.Hour),
				Points: []device.Point{{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeUint16}}})
			site.Modbus.Buses[0].Baud = baud
			site.Modbus.Buses[0].Timeout = dur(time.Second)
			f := newFixture(b, site, modbus.Options{})
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, _, err := f.engine.ReadRaw(context.Background(), device.RawRead{Device: "d", Table: device.TableHolding, Address: 0, Count: 100}); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/cycle")
			b.ReportMetric(float64(per)/float64(wire), "x-wire-time")
		})
		b.Run(fmt.Sprintf("goburrow/baud=%d", baud), func(b *testing.B) {
			_, path := rtuSim(b, map[uint8]*sim.Model{1: sim.DefaultModel()}, sim.Line{Baud: baud})
			h := mb.NewRTUClientHandler(path)
			h.BaudRate, h.DataBits, h.Parity, h.StopBits, h.SlaveId, h.Timeout = baud, 8, "E", 1, 1, time.Second
			defer h.Close()
			c := mb.NewClient(h)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := c.ReadHoldingRegisters(0, 100); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/cycle")
			b.ReportMetric(float64(per)/float64(wire), "x-wire-time")
		})
	}
}
