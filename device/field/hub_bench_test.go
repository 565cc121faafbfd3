package field_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// BenchmarkHubRecord is the field layer's cost of one device cycle of 100
// points: latest values, status, notification and the hand-over to
// telemetry (the group commit itself excluded).
func BenchmarkHubRecord(b *testing.B) {
	info := field.DeviceInfo{Name: "d", Protocol: field.Modbus}
	var rs []field.Reading
	now := time.Now()
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("p%d", i)
		info.Points = append(info.Points, field.PointInfo{Name: name})
		rs = append(rs, field.Reading{Device: "d", Point: name, Value: field.Number(float64(i) * 1.5), Quality: field.QualityGood, TS: now})
	}
	for _, tel := range []bool{false, true} {
		b.Run(fmt.Sprintf("telemetry=%v", tel), func(b *testing.B) { benchRecord(b, info, rs, tel) })
	}
}

func benchRecord(b *testing.B, info field.DeviceInfo, rs []field.Reading, telemetry bool) {
	o := field.HubOptions{Notify: func(string) {}}
	if telemetry {
		o.Readings = func([]field.Reading) {}
	}
	h := field.NewHub(o)
	h.SetTopology([]field.DeviceInfo{info})
	st := field.Status{Device: "d", State: field.StateOnline, Errors: map[string]uint64{"timeout": 1}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.Record(st, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/reading")
}
