package sims

import (
	"context"
	"slices"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

// TestSlowPeerEndsRoundsByDeadlineAsThePacerRulesPredict: two peers, 1 ms
// apart on an unlimited link; peer 0 steps in 10 ms and peer 1 in 100 ms,
// so both run 100 ms rounds, until peer 1's step of round 30 stalls for a
// while. The pacer's rules predict what follows:
//
//   - peer 0's deadlines are 4 × 100 ms, doubled for each round in a row
//     that ends by deadline (and capped at the round timeout); its round
//     30+i ends by deadline while those deadlines add up to less than the
//     time peer 1's vector of round 30+i takes to come (the stall, i more
//     100 ms steps and the 1 ms link), and each such round misses that
//     vector, which then arrives late;
//   - peer 1's own round 30 ends by deadline exactly when its stall
//     outlasts its first deadline (400 ms): nothing it waits for is missing,
//     but its step is still running;
//   - no other round ends by deadline.
func TestSlowPeerEndsRoundsByDeadlineAsThePacerRulesPredict(t *testing.T) {
	const stallRound, roundTime, timeout = 30, 0.1, 5.0
	for _, stall := range []float64{0.3, 1, 2, 5} {
		// The rules, applied by hand: deadlines 4T, 8T, 16T, … capped at
		// the timeout, while they fire before peer 1's vector comes.
		var want0 []int
		for i, sum, d := 0, 4*roundTime, 4*roundTime; sum < stall+float64(i)*roundTime+0.001; i++ {
			want0 = append(want0, stallRound+i)
			d = min(2*d, timeout)
			sum += d
		}
		var want1 []int
		if stall > 4*roundTime {
			want1 = []int{stallRound}
		}

		spec := DefaultSpec()
		spec.Peers, spec.Topology, spec.Rounds, spec.LatencyMS, spec.BandwidthMbps = 2, "complete", 60, 1, 0
		spec.RoundTimeoutMS = timeout * 1000
		e, err := spec.Prepare()
		if err != nil {
			t.Fatal(err)
		}
		e.ComputeTime = func(peer, round int) float64 {
			switch {
			case peer == 0:
				return 0.01
			case round == stallRound:
				return stall
			}
			return roundTime
		}
		got := [2][]int{}
		missed := 0
		e.Observe = func(peer int, r training.RoundResult, _ float64) {
			if r.ByDeadline {
				got[peer] = append(got[peer], r.Round)
				missed += r.Expected - r.Arrived
			}
		}
		res, err := e.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], want0) || !slices.Equal(got[1], want1) {
			t.Errorf("stall %v s: rounds ended by deadline %v and %v, the pacer's rules predict %v and %v", stall, got[0], got[1], want0, want1)
		}
		if missed != len(want0) || res.LostMessages != len(want0) || res.DeadlineRounds != len(want0)+len(want1) {
			t.Errorf("stall %v s: %d vectors missed, %d late, %d deadline rounds; want %d, %d, %d",
				stall, missed, res.LostMessages, res.DeadlineRounds, len(want0), len(want0), len(want0)+len(want1))
		}
	}
}

// TestRoundTimeoutZeroWaitsForEveryVector: without a round timeout, the
// stalled peer's neighbor waits it out and no round ends by deadline.
func TestRoundTimeoutZeroWaitsForEveryVector(t *testing.T) {
	spec := DefaultSpec()
	spec.Peers, spec.Topology, spec.Rounds, spec.RoundTimeoutMS = 2, "complete", 40, 0
	e, err := spec.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	e.ComputeTime = func(peer, round int) float64 {
		return map[bool]float64{true: 30, false: 0.01}[peer == 1 && round == 20]
	}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.DeadlineRounds != 0 || res.LostMessages != 0 || res.VirtualSeconds < 30 {
		t.Errorf("%d deadline rounds, %d late, %.1f virtual s; want none, none and the 30 s stall waited out",
			res.DeadlineRounds, res.LostMessages, res.VirtualSeconds)
	}
}
