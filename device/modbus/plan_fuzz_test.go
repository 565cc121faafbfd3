package modbus

import (
	"encoding/binary"
	"testing"

	"github.com/sitegate/sitegate/device"
)

// fuzzLayout turns bytes into limits and points. The first three bytes are
// MaxGap (-128..127), MaxRegisters (-8..247) and a small bit limit; then
// every four bytes are a point: table (including invalid ones), type
// (including unset and unknown ones), and an address that is usually small,
// so that points crowd, nest and overlap, and sometimes at the very top of
// the address space or negative.
func fuzzLayout(data []byte) ([]device.Point, Limits, int) {
	if len(data) < 3 {
		return nil, Limits{}, 1
	}
	lim := Limits{MaxGap: int(int8(data[0])), MaxRegisters: int(data[1]) - 8}
	bits := 1 + int(data[2]%64)
	data = data[3:]
	points := make([]device.Point, 0, min(len(data)/4, 4096))
	for len(data) >= 4 && len(points) < cap(points) {
		b := data[:4]
		data = data[4:]
		p := device.Point{
			Table: device.RegisterTable(b[0] % 6),
			Type:  device.DataType(b[1] % 11),
		}
		raw := int(binary.LittleEndian.Uint16(b[2:]))
		switch b[0] >> 6 {
		case 0, 1:
			p.Address = raw % 300
		case 2:
			p.Address = raw
		default:
			p.Address = 65530 + raw%12 // runs past 65535 for some types
			if b[1]&0x80 != 0 {
				p.Address = -1 - raw
			}
		}
		points = append(points, p)
	}
	return points, lim, bits
}

// FuzzPlan checks that Plan never panics, that every plan keeps the
// coverage and limit rules, that its size matches the reference dynamic
// programme, and that SplitRead halves stay inside their read.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{16, 133, 7, 3, 3, 0, 0, 3, 1, 1, 0, 3, 8, 0, 0})
	f.Add([]byte{0, 10, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 2, 0, 4, 7, 4, 0, 4, 2, 5, 0})
	f.Add([]byte{255, 2, 3, 0xc3, 6, 5, 0, 0xc4, 0x81, 0, 0, 0x03, 9, 0xff, 0xff})
	f.Add([]byte{127, 255, 63, 0x83, 2, 0xff, 0xff, 0x82, 2, 0, 0x10, 0x05, 3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		points, lim, bits := fuzzLayout(data)
		reads := Plan(points, lim)
		checkPlan(t, points, lim, MaxReadBits, reads)
		if want := refCount(points, lim.MaxGap, lim.MaxRegisters, MaxReadBits); len(reads) != want {
			t.Fatalf("Plan(%+v): %d reads, reference %d", lim, len(reads), want)
		}

		// The same layout with a small bit limit, as the exhaustive test
		// uses, to reach the bit-limit boundary with few points.
		small := plan(points, max(lim.MaxGap, 0), lim.registers(), bits)
		checkPlan(t, points, lim, bits, small)
		if want := refCount(points, lim.MaxGap, lim.MaxRegisters, bits); len(small) != want {
			t.Fatalf("plan(%+v, bits %d): %d reads, reference %d", lim, bits, len(small), want)
		}

		for _, r := range reads {
			a, b, ok := SplitRead(r, points)
			if ok != (len(r.Points) > 1) {
				t.Fatalf("SplitRead(%s) = %v", readString(r), ok)
			}
			if !ok {
				continue
			}
			if len(a.Points)+len(b.Points) != len(r.Points) {
				t.Fatalf("SplitRead(%s) lost points: %s, %s", readString(r), readString(a), readString(b))
			}
			for _, h := range []Read{a, b} {
				if h.Table != r.Table || h.Address < r.Address || int(h.Address)+int(h.Count) > int(r.Address)+int(r.Count) {
					t.Fatalf("half %s is outside %s", readString(h), readString(r))
				}
				for _, i := range h.Points {
					if !h.Covers(points[i].Address, PointSize(points[i])) {
						t.Fatalf("half %s does not cover point %d", readString(h), i)
					}
				}
			}
		}
	})
}
