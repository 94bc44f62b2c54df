package topology

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// stepShells runs one Planner per peer the way live peers do, each
// calling Step with the latest announcements of all and measuring the
// peers it was told to probe, in lockstep, for the given exchanges. It
// returns every exchange's proposals and the last decisions.
func stepShells(t *testing.T, ids []string, est, rtt rttTable, cfg SelectConfig, exchanges int) ([][][]Link, []Decision) {
	t.Helper()
	n := len(ids)
	planners := make([]*Planner, n)
	measured := make([][]bool, n)
	index := map[string]int{}
	for i, id := range ids {
		var err error
		planners[i], err = NewPlanner(id, cfg)
		must(t, err)
		measured[i] = make([]bool, n)
		index[id] = i
	}
	heard := make([]Announcement, 0, n)
	var history [][][]Link
	decisions := make([]Decision, n)
	for range exchanges {
		props := make([][]Link, n)
		for i := range planners {
			var cands []Candidate
			for j := range n {
				if j != i {
					c := Candidate{ID: ids[j], EstRTT: est[i][j]}
					if measured[i][j] {
						c.RTT = rtt[i][j]
					}
					cands = append(cands, c)
				}
			}
			decisions[i] = planners[i].Plan(cands, heard)
			props[i] = decisions[i].Propose
			for _, id := range decisions[i].Probe {
				measured[i][index[id]] = true
			}
		}
		heard = heard[:0]
		for i, id := range ids {
			heard = append(heard, Announcement{From: id, Proposals: props[i]})
		}
		history = append(history, props)
	}
	return history, decisions
}

// TestPlannerStepAgreesWithBuildOverlay: peers that each run Step on the
// announcements they hear choose exactly what BuildOverlay computes for
// all of them at once, exchange by exchange, and at the end mix over
// exactly the overlay's edges with Metropolis weights.
func TestPlannerStepAgreesWithBuildOverlay(t *testing.T) {
	for _, policy := range []Policy{PolicyRandom, PolicyLatency, PolicyLatencyLong} {
		t.Run(string(policy), func(t *testing.T) {
			rtt, _ := clusteredRTT(40, 4, 3)
			est := make(rttTable, len(rtt)) // estimates 30% off in a fixed pattern
			for i := range est {
				est[i] = make([]time.Duration, len(rtt))
				for j := range est[i] {
					est[i][j] = time.Duration(float64(rtt[i][j]) * (0.7 + 0.6*float64((i*7+j*13)%10)/10))
				}
			}
			ids := peerNames(len(rtt))
			cfg := SelectConfig{Policy: policy, Seed: 17}
			var want [][][]Link
			o, conv, err := BuildOverlayFunc(ids, est.at, rtt.at, cfg, nil, nil, func(it int, o *Overlay) {
				if it > 0 {
					props := make([][]Link, len(ids))
					for i := range ids {
						props[i] = o.Proposals(i)
					}
					want = append(want, props)
				}
			})
			if err != nil && !errors.Is(err, ErrDisconnected) { // latency alone falls into its 4 clusters
				t.Fatal(err)
			}
			got, decisions := stepShells(t, ids, est, rtt, cfg, conv.Iterations)
			for it := range want {
				for i := range ids {
					if !slices.Equal(got[it][i], want[it][i]) {
						t.Fatalf("exchange %d, peer %d: Step proposed %v, BuildOverlay %v", it+1, i, got[it][i], want[it][i])
					}
				}
			}
			for i, d := range decisions {
				var nb []int
				self := 1.0
				for _, a := range d.Active {
					j := slices.Index(ids, a.ID)
					nb = append(nb, j)
					if a.Long != o.IsAsync(i, j) {
						t.Errorf("peer %d: link to %d long=%v, overlay says %v", i, j, a.Long, o.IsAsync(i, j))
					}
					if w := MetropolisWeight(o.Graph.Degree(i), o.Graph.Degree(j)); math.Abs(a.Weight-w) > 1e-15 || a.Degree != o.Graph.Degree(j) {
						t.Errorf("peer %d: link to %d weight %g degree %d, want %g and %d", i, j, a.Weight, a.Degree, w, o.Graph.Degree(j))
					}
					self -= a.Weight
				}
				slices.Sort(nb)
				if !slices.Equal(nb, o.Graph.Adj[i]) {
					t.Errorf("peer %d mixes with %v, overlay edges %v", i, nb, o.Graph.Adj[i])
				}
				if math.Abs(self-Metropolis(o.Graph).Self[i]) > 1e-12 || self < 0 {
					t.Errorf("peer %d self weight %g, want Metropolis %g", i, self, Metropolis(o.Graph).Self[i])
				}
			}
		})
	}
}
