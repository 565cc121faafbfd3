package stack

import "testing"

func rpmFixture() ([]ReadAccessSpec, []ReadResult) {
	var specs []ReadAccessSpec
	var res []ReadResult
	for i := 0; i < 50; i++ {
		o := ObjectID{ObjectAnalogInput, uint32(i)}
		specs = append(specs, ReadAccessSpec{Object: o, Properties: []PropertyRef{Ref(o, PropPresentValue), Ref(o, PropStatusFlags)}})
		res = append(res, ReadResult{PropertyRef: Ref(o, PropPresentValue), Values: []Value{Real(float32(i))}},
			ReadResult{PropertyRef: Ref(o, PropStatusFlags), Values: []Value{Bits(NewBitString(4))}})
	}
	return specs, res
}

// 50 objects × (present-value, status-flags): one poll of a 50-point device.
func BenchmarkRPMEncode(b *testing.B) {
	specs, res := rpmFixture()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, _ = AppendRPM(buf[:0], specs)
		buf, _ = AppendRPMAck(buf[:0], res)
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "points/s")
}

func BenchmarkRPMDecode(b *testing.B) {
	specs, res := rpmFixture()
	req, _ := AppendRPM(nil, specs)
	ack, _ := AppendRPMAck(nil, res)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeRPM(req); err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeRPMAck(ack); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "points/s")
}
