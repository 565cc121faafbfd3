package modbus_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/modbus/sim"
)

func registerPoints(n int) []device.Point {
	pts := make([]device.Point, n)
	for i := range pts {
		pts[i] = device.Point{Name: fmt.Sprintf("r%d", i), Table: device.TableHolding, Address: i, Type: device.TypeUint16}
	}
	return pts
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPollingThroughput polls 20 devices of 100 registers every 100 ms
// from a local TCP simulator for 3 s per iteration and reports points
// decoded per second and the process CPU per 1,000 points/s (the simulator
// runs in the same process, so that figure is an upper bound).
func BenchmarkPollingThroughput(b *testing.B) {
	_, addr := newSim(b, nil, sim.DefaultModel())
	var devices []device.Device
	for i := 0; i < 20; i++ {
		devices = append(devices, device.Device{Name: fmt.Sprintf("d%d", i), Bus: "plant", UnitID: i + 1, Interval: dur(100 * time.Millisecond), Points: registerPoints(100)})
	}
	site := tcpSite(addr, devices...)
	site.Modbus.Buses[0].Timeout = dur(50 * time.Millisecond)
	for i := 0; i < b.N; i++ {
		f := newFixture(b, site, modbus.Options{})
		devicetest.Eventually(b, 30*time.Second, "20 devices online", func() bool { return f.gw.Health().Modbus.DevicesOnline >= 20 })
		startReq := totalRequests(f)
		cpu0, t0 := cpuTime(), time.Now()
		time.Sleep(3 * time.Second)
		cpu, elapsed := cpuTime()-cpu0, time.Since(t0)
		reads := totalRequests(f) - startReq
		pointsPerSec := float64(reads*100) / elapsed.Seconds()
		b.ReportMetric(pointsPerSec, "points/s")
		b.ReportMetric(cpu.Seconds()*1000/elapsed.Seconds()/(pointsPerSec/1000), "cpu-ms/s-per-1k-points/s")
		f.stop()
	}
}

func totalRequests(f *fixture) uint64 {
	var n uint64
	for _, s := range f.gw.DeviceStatuses() {
		n += s.Requests
	}
	return n
}

// BenchmarkMemory200x50 reports the heap the engine and the gateway's field
// state hold for 200 devices of 50 points each, after every device has
// been read once.
func BenchmarkMemory200x50(b *testing.B) {
	_, addr := newSim(b, nil, sim.DefaultModel())
	var devices []device.Device
	for i := 0; i < 200; i++ {
		devices = append(devices, device.Device{Name: fmt.Sprintf("d%d", i), Bus: "plant", UnitID: i%247 + 1, Interval: dur(time.Minute), Points: registerPoints(50)})
	}
	site := tcpSite(addr, devices...)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		f := newFixture(b, site, modbus.Options{})
		devicetest.Eventually(b, 60*time.Second, "200 devices online", func() bool { return f.gw.Health().Modbus.DevicesOnline >= 200 })
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "MiB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		f.stop()
	}
}
