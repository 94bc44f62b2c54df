package gossip_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/internal/meshtest"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/wire"
)

// swapNodes returns m with nodes a and b trading places: what a measured
// to everyone, b now measures, and the other way round.
func swapNodes(m *topology.LatencyMatrix, a, b int) (*topology.LatencyMatrix, error) {
	perm := make([]int, m.N)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return m.Sub(perm)
}

// farthestFrom is the node with the largest round-trip time to a.
func farthestFrom(rtt func(i, j int) time.Duration, n, a int) int {
	far := -1
	for j := range n {
		if j != a && (far < 0 || rtt(a, j) > rtt(a, far)) {
			far = j
		}
	}
	return far
}

// misplacedProposals lists peer i's own near proposals that the policy
// would not keep on the RTTs rtt: slower than its k-th nearest member (k
// near links) by more than the hysteresis lets a current link stay, plus
// noise (what QUIC samples add under load), times factor (1 for the
// policy's own bound, more for links that are grossly misplaced).
func misplacedProposals(cfg topology.SelectConfig, rtt func(i, j int) time.Duration, n, i int, props []gossip.ProposalStatus,
	index func(string) int, noise time.Duration, factor float64) []string {
	var all []time.Duration
	for j := range n {
		if j != i {
			all = append(all, rtt(i, j))
		}
	}
	slices.Sort(all)
	kth := all[cfg.Degree-cfg.Long-1]
	limit := time.Duration(factor * (float64(kth)/(1-cfg.Hysteresis) + float64(noise) + 0.02*float64(kth)))
	var bad []string
	for _, p := range props {
		if j := index(p.PeerID); !p.Long && j >= 0 && rtt(i, j) > limit {
			bad = append(bad, fmt.Sprintf("%d→%d %v (limit %v)", i, j, rtt(i, j).Round(time.Millisecond), limit.Round(time.Millisecond)))
		}
	}
	return bad
}

// TestSimnetNeighborsFollowMobility moves a live peer across the network in
// the middle of a run: peer 0 and the peer farthest from it swap places
// (every RTT they had, they now have the other's). Each peer's own near
// proposals should follow the new latencies as far as the policy asks:
// none slower than its k-th nearest member by more than the hysteresis
// lets a current link stay, give or take measurement noise. The test
// requires that no near proposal is grossly slow (more than twice that
// bound) just before the move, that those the move made grossly slow go
// within 40 heartbeat periods, and that no peer is without a neighbor at
// any time once it trains. When, if ever, the last misplaced proposal goes
// is logged.
//
// Measured on seeds 1-4: the grossly slow links go in 10 to 20 s (one
// heartbeat a second). Settling fully took 25 to 161 s, and in some runs
// of seed 1 it never happens: a peer probes only the members its Vivaldi
// coordinate ranks nearest, and its RTT table keeps the one sample it took
// of a member before the move (peer 0 → peer 4: 293 ms from one pre-move
// sample, 82 ms in truth), so a member that became near is never re-probed
// while the coordinate still places it far. The same blind spot leaves a
// remote peer with a near link slower than the bound even without a move
// (peer 2 → peer 10 at 281 ms where 221 ms would do), hence "grossly".
func TestSimnetNeighborsFollowMobility(t *testing.T) {
	if testing.Short() {
		t.Skip("protocol-level simulation: 16 libp2p hosts in virtual time, about 25 s of wall time")
	}
	peers, run := meshtest.PeersFromEnv(t), policyRun(t)
	// Slow steps stretch the run in virtual time (over 3 minutes after the
	// move, time to see whether it settles) at little wall-time cost: wall
	// time follows messages, not virtual time.
	run.Rounds, run.ComputeTime, run.SampleEvery = 160, 1500*time.Millisecond, 250*time.Millisecond
	const moveAt = 40
	var a, b int
	var moved *topology.LatencyMatrix
	var movedAt time.Time
	out, rtt, _ := meshtest.SimulatePlanetLab(t, run, peers, func(w *meshtest.World) meshtest.AtRound {
		before := w.RTT()
		a = 0
		b = farthestFrom(meshtest.RoundTripRTT(before), before.N, a)
		var err error
		if moved, err = swapNodes(before, a, b); err != nil {
			t.Fatal(err)
		}
		return meshtest.AtRound{moveAt: func() {
			movedAt = time.Now()
			if err := w.SetRTT(moved); err != nil {
				t.Error(err)
			}
		}}
	})
	cfg := run.Neighbors.WithDefaults()
	noise := 2*time.Millisecond + time.Duration(2*float64(cfg.Degree)*float64(wire.VectorBytes(wire.Float32, len(out.Data.Init), wire.DefaultShardBytes))*8/float64(run.Link.BitsPerSec)*float64(time.Second))
	oldRTT, newRTT := meshtest.RoundTripRTT(rtt), meshtest.RoundTripRTT(moved)
	heartbeat := time.Second // the peers' default heartbeat period
	t.Logf("peers %d and %d swap places at round %d, %.3f s virtual after round 0 began", a, b, moveAt, movedAt.Sub(out.Start).Seconds())

	// misplaced lists the misplaced near proposals of all peers in sample
	// k, judged on the RTTs in force then.
	samples := out.Traces[0].Samples
	misplaced := func(k int, factor float64) []string {
		m := oldRTT
		if !samples[k].At.Before(movedAt) {
			m = newRTT
		}
		var bad []string
		for i, tr := range out.Traces {
			if k < len(tr.Samples) {
				bad = append(bad, misplacedProposals(cfg, m, peers, i, tr.Samples[k].Proposals, out.Index, noise, factor)...)
			}
		}
		return bad
	}
	// Judge until the first peer finishes: from then on members leave and
	// the others re-plan around them, which is no longer about the move.
	end := out.Traces[0].Ended
	for _, tr := range out.Traces {
		if tr.Ended.Before(end) {
			end = tr.Ended
		}
	}
	// settledAt is when, after the move, the last misplaced proposal went
	// for good; zero if some remain at the end.
	settledAt := func(factor float64, log bool) (time.Time, []string) {
		var settled time.Time
		var bad []string
		last := ""
		for k := range samples {
			if samples[k].At.Before(movedAt) || !samples[k].At.Before(end) {
				continue
			}
			bad = misplaced(k, factor)
			switch {
			case len(bad) > 0:
				settled = time.Time{}
			case settled.IsZero():
				settled = samples[k].At
			}
			if rep := fmt.Sprint(bad); log && rep != last {
				t.Logf("%+7.2f s: misplaced near proposals %v", samples[k].At.Sub(movedAt).Seconds(), bad)
				last = rep
			}
		}
		return settled, bad
	}
	// Following the move means something only if the mesh had settled on
	// the old latencies first (as far as the assertion below asks: a remote
	// peer may keep a near link up to twice the bound, see above).
	beforeMove := -1
	for k := range samples {
		if samples[k].At.Before(movedAt) {
			beforeMove = k
		}
	}
	if beforeMove < 0 {
		t.Fatal("no sample before the move")
	}
	if bad := misplaced(beforeMove, 2); len(bad) > 0 {
		t.Fatalf("the mesh had not settled before the move: %v", bad)
	}
	gross, left := settledAt(2, false)
	switch {
	case gross.IsZero():
		t.Errorf("near proposals more than twice as slow as the policy allows remain at the end: %v", left)
	case gross.Sub(movedAt) > 40*heartbeat:
		t.Errorf("grossly slow near proposals went %.1f s after the move, want within 40 heartbeats (%v)", gross.Sub(movedAt).Seconds(), 40*heartbeat)
	}
	full, left := settledAt(1, true)
	settled := "never"
	if !full.IsZero() {
		settled = fmt.Sprintf("%.2f s after it", full.Sub(movedAt).Seconds())
	}
	t.Logf("grossly slow near proposals gone %.2f s after the move; settled %s (misplaced at the end: %v); the first peer finished %.2f s after the move",
		gross.Sub(movedAt).Seconds(), settled, left, end.Sub(movedAt).Seconds())

	if i, r, ok := out.MixedWithNobody(); ok {
		t.Errorf("peer %d began round %d with no neighbor", i, r)
	}
	// Once the first peer finishes it leaves the run, and a peer whose only
	// neighbor it was may finish its last rounds alone: no peer is left
	// without a neighbor while every peer is training.
	for i, tr := range out.Traces {
		for _, s := range tr.Samples {
			if r0, ok := tr.Reached[0]; ok && !s.At.Before(r0) && s.At.Before(end) && len(s.Links) == 0 {
				t.Errorf("peer %d had no neighbor %.2f s after the move", i, s.At.Sub(movedAt).Seconds())
				break
			}
		}
	}
}
