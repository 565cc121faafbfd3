package wan

import (
	"fmt"
	"testing"
)

func TestPlanMetrics(t *testing.T) {
	for _, c := range []struct {
		name   string
		routes []routeSlot
		target map[string]int
		want   []int // final metrics
	}{
		{
			name:   "already right",
			routes: []routeSlot{{"eth0", true, 100}, {"wlan0", true, 200}},
			target: map[string]int{"eth0": 100, "wlan0": 200},
			want:   []int{100, 200},
		},
		{
			name:   "swap",
			routes: []routeSlot{{"eth0", true, 100}, {"wlan0", true, 200}},
			target: map[string]int{"eth0": 200, "wlan0": 100},
			want:   []int{200, 100},
		},
		{
			name:   "rotate three",
			routes: []routeSlot{{"eth0", true, 300}, {"wlan0", true, 100}, {"wwan0", true, 200}},
			target: map[string]int{"eth0": 100, "wlan0": 200, "wwan0": 300},
			want:   []int{100, 200, 300},
		},
		{
			name:   "foreign route keeps its metric",
			routes: []routeSlot{{"docker0", false, 100}, {"eth0", true, 600}, {"wlan0", true, 50}},
			target: map[string]int{"eth0": 100, "wlan0": 200},
			want:   []int{100, 101, 200},
		},
		{
			name:   "two routes on one interface, one interface missing from target",
			routes: []routeSlot{{"eth0", true, 5}, {"eth0", true, 6}, {"wwan0", true, 100}, {"usb0", false, 200}},
			target: map[string]int{"eth0": 100, "wwan0": 200},
			want:   []int{100, 101, 201, 200},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := make([]int, len(c.routes))
			for i, r := range c.routes {
				cur[i] = r.metric
			}
			for _, mv := range planMetrics(c.routes, c.target) {
				if !c.routes[mv.id].ours {
					t.Fatalf("moved a foreign route: %+v", mv)
				}
				for j, m := range cur {
					if j != mv.id && m == mv.to {
						t.Fatalf("move %+v collides with route %d at %d (metrics %v)", mv, j, m, cur)
					}
				}
				cur[mv.id] = mv.to
			}
			if fmt.Sprint(cur) != fmt.Sprint(c.want) {
				t.Fatalf("metrics %v, want %v", cur, c.want)
			}
		})
	}
}
