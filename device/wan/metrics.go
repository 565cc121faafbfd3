package wan

import "slices"

// routeSlot is one default route as the metric planner sees it.
type routeSlot struct {
	iface  string
	ours   bool // through an interface the site names
	metric int
}

// metricMove moves route id to metric to.
type metricMove struct{ id, to int }

// planMetrics returns the moves that give our default routes the metrics
// of their interfaces' ranks (target[iface]; a second route of the same
// interface gets the next metric up), without ever touching a route that
// is not ours and without two routes sharing a metric at any step: the
// metric is part of a route's key, so a route added at a metric another
// route holds would replace it (IPv4) or join it (IPv6). A metric held by
// a foreign route is skipped (the next free one is used), and a cycle
// (two routes swapping metrics) is broken by parking one on a free metric.
func planMetrics(routes []routeSlot, target map[string]int) []metricMove {
	held := map[int]int{}
	foreign := map[int]bool{}
	cur := make([]int, len(routes))
	for i, r := range routes {
		held[r.metric]++
		cur[i] = r.metric
		if !r.ours {
			foreign[r.metric] = true
		}
	}
	want := make([]int, len(routes))
	taken := map[int]bool{}
	nth := map[string]int{}
	for i, r := range routes {
		if !r.ours {
			continue
		}
		t, ok := target[r.iface]
		if !ok {
			want[i] = r.metric
			taken[r.metric] = true
			continue
		}
		m := t + nth[r.iface]
		nth[r.iface]++
		for foreign[m] || taken[m] {
			m++
		}
		want[i] = m
		taken[m] = true
	}
	var moves []metricMove
	move := func(i, to int) {
		moves = append(moves, metricMove{i, to})
		held[cur[i]]--
		held[to]++
		cur[i] = to
	}
	for {
		var pending []int
		progress := false
		for i, r := range routes {
			if !r.ours || cur[i] == want[i] {
				continue
			}
			if held[want[i]] == 0 {
				move(i, want[i])
				progress = true
				continue
			}
			pending = append(pending, i)
		}
		if len(pending) == 0 && !progress {
			return moves
		}
		if !progress {
			free := 0
			for _, m := range append(slices.Clone(cur), want...) {
				free = max(free, m)
			}
			move(pending[0], free+1)
		}
	}
}
