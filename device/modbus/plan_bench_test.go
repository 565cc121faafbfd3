package modbus

import (
	"math/rand/v2"
	"testing"

	"github.com/sitegate/sitegate/device"
)

// benchLayout returns n points spread over the four tables the way register
// maps look: mostly back-to-back values, some short holes, a few blocks far
// apart, 16-, 32- and 64-bit registers.
func benchLayout(n int) []device.Point {
	rng := rand.New(rand.NewPCG(1, 10000))
	tables := []device.RegisterTable{device.TableCoil, device.TableDiscrete, device.TableInput, device.TableHolding}
	types := []device.DataType{
		device.TypeUint16, device.TypeUint16, device.TypeInt16, device.TypeUint16,
		device.TypeFloat32, device.TypeFloat32, device.TypeUint32, device.TypeFloat64,
	}
	points := make([]device.Point, 0, n)
	for _, t := range tables {
		addr := 0
		for range n / len(tables) {
			p := device.Point{Table: t, Address: addr, Type: device.TypeBool}
			if !t.IsBit() {
				p.Type = types[rng.IntN(len(types))]
			}
			points = append(points, p)
			addr += PointSize(p)
			switch r := rng.IntN(100); {
			case r < 70: // next value right after
			case r < 90:
				addr += 1 + rng.IntN(4)
			case r < 98:
				addr += 5 + rng.IntN(26)
			default:
				addr += 50 + rng.IntN(450)
			}
		}
	}
	return points
}

// BenchmarkPlan10000 plans 10,000 points; "sorted" is the usual case of a
// register map listed in address order, "shuffled" the worst case for the
// sort.
func BenchmarkPlan10000(b *testing.B) {
	sorted := benchLayout(10000)
	shuffled := append([]device.Point(nil), sorted...)
	rand.New(rand.NewPCG(2, 3)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	lim := Limits{MaxGap: device.DefaultMaxGap, MaxRegisters: device.DefaultMaxRegisters}
	for _, bc := range []struct {
		name   string
		points []device.Point
	}{{"sorted", sorted}, {"shuffled", shuffled}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var reads []Read
			for b.Loop() {
				reads = Plan(bc.points, lim)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bc.points)), "ns/point")
			b.ReportMetric(float64(len(reads)), "reads")
		})
	}
}
