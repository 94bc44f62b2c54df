package gossip_test

import (
	"math"
	"testing"
)

// steadyRoundTime is the round time synchronous D-PSGD settles to on a
// fixed overlay when peer i starts round r+1 once it has every neighbor j's
// round-r vector: t_i(r+1) = max_j t_j(r) + delay(j→i). That recurrence is
// linear in the max-plus algebra, and its rate is the largest mean weight
// of a cycle of the graph with edges j→i weighted delay(j→i) (Baccelli et
// al., Synchronization and Linearity, 1992). It is the algorithm-level
// simulator's timing model stated in closed form, so a protocol-level run
// that keeps to it adds no delay of its own.
//
// adj[i] lists i's neighbors (each meshtest.Edge in both lists); delay(j, i) is the
// time from j starting a round to its vector being usable at i. Karp's
// algorithm (1978); the graph must be strongly connected.
func steadyRoundTime(adj [][]int, delay func(from, to int) float64) float64 {
	n := len(adj)
	// d[k][v]: heaviest walk of k edges ending at v, from any start.
	d := make([][]float64, n+1)
	for k := range d {
		d[k] = make([]float64, n)
		if k > 0 {
			for v := range d[k] {
				d[k][v] = math.Inf(-1)
			}
		}
	}
	for k := 1; k <= n; k++ {
		for to, from := range adj { // edges from → to for each neighbor
			for _, j := range from {
				if w := d[k-1][j] + delay(j, to); w > d[k][to] {
					d[k][to] = w
				}
			}
		}
	}
	best := math.Inf(-1)
	for v := range n {
		if math.IsInf(d[n][v], -1) {
			continue
		}
		worst := math.Inf(1)
		for k := range n {
			if !math.IsInf(d[k][v], -1) {
				worst = min(worst, (d[n][v]-d[k][v])/float64(n-k))
			}
		}
		best = max(best, worst)
	}
	return best
}

func TestSteadyRoundTimeIsTheHeaviestCycleMean(t *testing.T) {
	// A path 0–1–2: cycles are the edges there and back; 1–2 is the slow one.
	path := [][]int{{1}, {0, 2}, {1}}
	oneWay := [][]float64{{0, 10, 0}, {30, 0, 50}, {0, 70, 0}}
	got := steadyRoundTime(path, func(from, to int) float64 { return oneWay[from][to] })
	if want := (50.0 + 70) / 2; math.Abs(got-want) > 1e-9 {
		t.Errorf("path: %v, want %v", got, want)
	}
	// A directed-weight triangle: 0→1→2→0 costs 3+3+3, the reverse 1+1+1,
	// every meshtest.Edge there and back 2; the heavy direction sets the pace.
	tri := [][]int{{1, 2}, {0, 2}, {0, 1}}
	w := [][]float64{{0, 3, 1}, {1, 0, 3}, {3, 1, 0}}
	if got := steadyRoundTime(tri, func(from, to int) float64 { return w[from][to] }); math.Abs(got-3) > 1e-9 {
		t.Errorf("triangle: %v, want 3", got)
	}
}
