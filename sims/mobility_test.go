package sims

import (
	"context"
	"testing"

	"github.com/gradmesh/gradmesh/topology"
)

// TestLongLinksDoNotPaceRounds: on a ring of near peers plus chords across
// a slow link, marking the chords long makes rounds as fast as the ring alone
// while the mesh still trains; mixed synchronously, the chords set the pace.
func TestLongLinksDoNotPaceRounds(t *testing.T) {
	const n = 8
	var ringEdges, chordEdges [][2]int
	for i := range n {
		ringEdges = append(ringEdges, [2]int{i, (i + 1) % n})
	}
	for i := range n / 2 {
		chordEdges = append(chordEdges, [2]int{i, i + n/2})
	}
	ring := graphOf(t, n, ringEdges)
	withChords := graphOf(t, n, append(ringEdges, chordEdges...))
	isChord := func(i, j int) bool { return (j-i+n)%n == n/2 }
	slowChords := func(e *Experiment) {
		for i := range n {
			for j := range n {
				if isChord(i, j) {
					e.Network.OneWay[i*n+j] = 0.2 // 200 ms one way across; the ring is 3 ms
				}
			}
		}
	}
	run := func(g *topology.Graph, long func(i, j int) bool) *Result {
		s := smallSpec()
		s.LatencyMS = 3
		s.BandwidthMbps = 0
		e, err := s.Prepare()
		if err != nil {
			t.Fatal(err)
		}
		e.Graph, e.Mixing, e.Long = g, topology.Metropolis(g), long
		slowChords(e)
		res, err := e.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ringOnly := run(ring, nil)
	sync := run(withChords, nil)
	async := run(withChords, isChord)
	perRound := func(r *Result) float64 { return r.VirtualSeconds / float64(r.Rounds) }
	t.Logf("s per round: ring %.4f, chords synchronous %.4f, chords long %.4f; accuracy %.4f / %.4f / %.4f",
		perRound(ringOnly), perRound(sync), perRound(async), ringOnly.FinalTestAccuracy, sync.FinalTestAccuracy, async.FinalTestAccuracy)
	if perRound(sync) < 0.2 {
		t.Fatalf("synchronous chords: %.4f s per round, want ≥ the 0.2 s one-way delay", perRound(sync))
	}
	// Exchanges every LongPeriod = 4 rounds may hold a round when the 0.4 s
	// round trip exceeds 4 ring rounds: at most one 0.2 s wait per exchange.
	if perRound(async) > perRound(ringOnly)+0.2/4+1e-9 {
		t.Fatalf("long chords: %.4f s per round, ring alone %.4f", perRound(async), perRound(ringOnly))
	}
	if async.FinalTestAccuracy < 0.85 {
		t.Fatalf("long chords trained to %.4f", async.FinalTestAccuracy)
	}
}

// TestMobilityReplansEveryPeerAtOneRound: a re-planned overlay takes effect
// on all peers at the same round, the run completes, and no peer is left
// without neighbors.
func TestMobilityReplansEveryPeerAtOneRound(t *testing.T) {
	const n = 8
	s := smallSpec()
	s.Topology = "ring"
	e, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	// Every step swaps between the ring and a ring over a shuffled order.
	order := []int{0, 3, 6, 1, 4, 7, 2, 5}
	var shuffledEdges, ringEdges [][2]int
	for k := range n {
		shuffledEdges = append(shuffledEdges, [2]int{order[k], order[(k+1)%n]})
		ringEdges = append(ringEdges, [2]int{k, (k + 1) % n})
	}
	graphs := []*topology.Graph{graphOf(t, n, shuffledEdges), graphOf(t, n, ringEdges)}
	steps := 0
	e.Mobility = &Mobility{Every: 0.05, Move: func(float64) (MobilityUpdate, error) {
		g := graphs[steps%2]
		steps++
		return MobilityUpdate{Graph: g}, nil
	}}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := res.Mobility
	if m == nil || m.Moves < 2 || m.Replans < 2 || m.Changes == 0 || m.MinDegree < 2 {
		t.Fatalf("mobility stats %+v: want several replans, changes, and every peer keeping 2 neighbors", m)
	}
	if res.FinalTestAccuracy < 0.85 {
		t.Fatalf("trained to %.4f across re-plans", res.FinalTestAccuracy)
	}
}

func graphOf(t *testing.T, n int, edges [][2]int) *topology.Graph {
	t.Helper()
	g, err := topology.FromEdges(n, edges)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
