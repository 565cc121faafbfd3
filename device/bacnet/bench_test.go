package bacnet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/bacnet/bacnetsim"
	"github.com/sitegate/sitegate/device/bacnet/internal/peertest"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// The figures of the README's BACnet table. Each benchmark measures
// through the driver behind device.Gateway on a real bbolt store.
//
//	go test -run '^$' -bench 'PollRPM|COVLatency' -benchtime 3s ./device/bacnet/
//	go test -run '^$' -bench 'DemoCOVShare|Memory' -benchtime 1x ./device/bacnet/

// peerPoints is a device of n analog inputs of the peer (peer.js serves
// analog-input:100.. as extra inputs).
func peerPoints(n int) []device.BACnetPoint {
	pts := make([]device.BACnetPoint, n)
	for i := range pts {
		pts[i] = device.BACnetPoint{Name: fmt.Sprintf("ai_%d", 100+i), Object: fmt.Sprintf("analog-input:%d", 100+i), Unit: "degC"}
	}
	return pts
}

// BenchmarkPollRPM reads every point of one device by
// ReadPropertyMultiple (present-value and status-flags of each) and
// records the cycle in the readings path (latest values, live event,
// telemetry into the outbox): points per second, against the
// @bacnet-js/client peer and against the simulated device.
func BenchmarkPollRPM(b *testing.B) {
	const points = 500
	b.Run("peer=bacnet-js", func(b *testing.B) {
		p := peertest.Start(b, peertest.Options{Instance: 1234, ExtraInputs: points})
		dev := device.BACnetDevice{Name: "peer", Instance: intp(1234), Address: p.AddrPort.String(), Interval: device.Duration(time.Hour), Points: peerPoints(points)}
		benchPoll(b, dev)
	})
	b.Run("peer=bacnetsim", func(b *testing.B) {
		specs := make([]bacnetsim.Spec, points)
		pts := make([]device.BACnetPoint, points)
		for i := range specs {
			specs[i] = bacnetsim.SpecFor(oid(fmt.Sprintf("analog-input:%d", i+1)), fmt.Sprintf("ai-%d", i+1), false)
			pts[i] = device.BACnetPoint{Name: fmt.Sprintf("ai_%d", i+1), Object: fmt.Sprintf("analog-input:%d", i+1), Unit: "degC"}
		}
		s := loopbackSim(b, bacnetsim.Config{Instance: 1235, Objects: specs, Step: time.Hour})
		benchPoll(b, device.BACnetDevice{Name: "peer", Instance: intp(1235), Address: s.addr.String(), Interval: device.Duration(time.Hour), Points: pts})
	})
}

func benchPoll(b *testing.B, dev device.BACnetDevice) {
	f := startGateway(b, ipSite(dev), bacnet.Options{})
	ctx := context.Background()
	if _, err := f.drv.Read(ctx, "peer", nil); err != nil {
		b.Fatal(err)
	}
	sink := f.gw.FieldSink()
	st := field.Status{Device: "peer", State: field.StateOnline}
	b.ResetTimer()
	for b.Loop() {
		rs, err := f.drv.Read(ctx, "peer", nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := sink.Record(st, rs); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N * len(dev.Points))
	b.ReportMetric(n/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/point")
}

// BenchmarkCOVLatency is the time from a value change on the device to
// the reading in gw.Readings, by COV: the peer's change is sent over its
// stdin (a few hundred microseconds of that are the pipe), the simulated
// device's in-process.
func BenchmarkCOVLatency(b *testing.B) {
	b.Run("peer=bacnet-js", func(b *testing.B) {
		p := peertest.Start(b, peertest.Options{Instance: 1234})
		dev := device.BACnetDevice{Name: "peer", Instance: intp(1234), Address: p.AddrPort.String(), COV: true, Interval: device.Duration(time.Hour),
			Points: []device.BACnetPoint{{Name: "supply", Object: "analog-input:1"}}}
		benchCOV(b, dev, func(v float64) error { return p.Set("0:1", v, false) })
	})
	b.Run("peer=bacnetsim", func(b *testing.B) {
		s := loopbackSim(b, bacnetsim.Config{Instance: 1235, Step: time.Hour})
		dev := device.BACnetDevice{Name: "peer", Instance: intp(1235), Address: s.addr.String(), COV: true, Interval: device.Duration(time.Hour),
			Points: []device.BACnetPoint{{Name: "supply", Object: "analog-input:1"}}}
		benchCOV(b, dev, func(v float64) error { return s.Set(oid("analog-input:1"), v, false) })
	})
}

func benchCOV(b *testing.B, dev device.BACnetDevice, set func(float64) error) {
	f := startGateway(b, ipSite(dev), bacnet.Options{})
	devicetest.Eventually(b, wait, "supply on COV", func() bool {
		p, _ := f.drv.Points("peer")
		return p[0].Mode == bacnet.ModeCOV && p[0].Notifications > 0
	})
	sub := f.gw.Subscribe(64)
	defer sub.Close()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		v := 100 + float64(i)/4
		start := time.Now()
		if err := set(v); err != nil {
			b.Fatal(err)
		}
		for {
			ev := <-sub.C()
			if ev.Device != "peer" {
				continue
			}
			if rs, _ := f.gw.Readings("peer"); rs[0].Value.Num == v {
				lat = append(lat, time.Since(start))
				break
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds()), "p95-µs")
}

// BenchmarkDemoCOVShare runs the demo site's BACnet controller against
// the simulated one and reports the share of its points on COV, and of
// every point of the demo site.
func BenchmarkDemoCOVShare(b *testing.B) {
	site, err := device.ImportSiteYAML(device.DemoSiteYAML, nil)
	if err != nil {
		b.Fatal(err)
	}
	dev := site.BACnet.Devices[0]
	s := loopbackSim(b, bacnetsim.Config{Instance: uint32(*dev.Instance)})
	dev.Address = s.addr.String()
	site.BACnet.Devices = []device.BACnetDevice{dev}
	site.BACnet.Serve, site.LoRa.Enabled, site.Modbus = nil, false, device.Modbus{}
	f := startGateway(b, site, bacnet.Options{})
	var ds []bacnet.DeviceState
	for b.Loop() {
		devicetest.Eventually(b, wait, "every COV point subscribed", func() bool {
			ds = f.drv.Devices()
			return ds[0].COV == 7
		})
	}
	demo, _ := device.ImportSiteYAML(device.DemoSiteYAML, nil)
	all := 0
	for _, d := range demo.FieldDevices() {
		if !d.DynamicPoints {
			all += len(d.Points)
		} else {
			all += 2 // a Cayenne LPP demo sensor sends temperature_1 and humidity_2
		}
	}
	b.ReportMetric(100*float64(ds[0].COV)/float64(ds[0].COV+ds[0].Polled), "%cov-bacnet")
	b.ReportMetric(100*float64(ds[0].COV)/float64(all), "%cov-site")
}

// BenchmarkMemory1000Points: the gateway's memory for BACnet points,
// against a farm of simulated devices in another process (their memory
// does not count): 20 devices × 50 points, and 100 × 100.
func BenchmarkMemory1000Points(b *testing.B) {
	for _, c := range []struct{ devices, points int }{{20, 50}, {100, 100}} {
		b.Run(fmt.Sprintf("devices=%d,points=%d", c.devices, c.points), func(b *testing.B) {
			for b.Loop() {
				benchMemory(b, c.devices, c.points)
			}
		})
	}
}

func benchMemory(b *testing.B, devices, points int) {
	addrs := startFarm(b, devices, points)
	site := ipSite()
	for i, a := range addrs {
		pts := make([]device.BACnetPoint, points)
		for j := range pts {
			pts[j] = device.BACnetPoint{Name: fmt.Sprintf("ai_%d", j+1), Object: fmt.Sprintf("analog-input:%d", j+1)}
		}
		site.BACnet.Devices = append(site.BACnet.Devices, device.BACnetDevice{Name: fmt.Sprintf("d%d", i), Instance: intp(10000 + i), Address: a,
			Interval: device.Duration(10 * time.Second), Points: pts})
	}
	runtime.GC()
	heap0, rss0 := memNow()
	g0 := runtime.NumGoroutine()
	f := startGateway(b, site, bacnet.Options{})
	devicetest.Eventually(b, 60*time.Second, "every device read", func() bool {
		for _, st := range f.gw.DeviceStatuses() {
			if st.State != field.StateOnline {
				return false
			}
		}
		return true
	})
	runtime.GC()
	heap1, rss1 := memNow()
	k := float64(devices*points) / 1000
	b.ReportMetric(float64(heap1-heap0)/k/(1<<20), "heap-MiB/1000pts")
	b.ReportMetric(float64(rss1-rss0)/k/(1<<20), "rss-MiB/1000pts")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0), "goroutines")
	f.stop()
}

// memNow is the live heap and the process's resident set.
func memNow() (heap, rss uint64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			rss = kb << 10
		}
	}
	return m.HeapInuse, rss
}

// startFarm runs the test binary as a farm of simulated devices and
// returns their addresses.
func startFarm(b *testing.B, devices, points int) []string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", simFarmEnv, devices, points))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var addrs []string
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&addrs); err != nil || len(addrs) != devices {
		b.Fatalf("sim farm: %v %v", addrs, err)
	}
	return addrs
}
