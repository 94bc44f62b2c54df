package gossip_test

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/gradmesh/gradmesh/internal/meshtest"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/wire"
)

// TestSimWorldDelaysPacketsByTheMatrix: a ping between two simulated hosts
// takes half of each direction's matrix RTT, in virtual time.
func TestSimWorldDelaysPacketsByTheMatrix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rtt := &topology.LatencyMatrix{N: 3, MS: []float64{
			0, 80, 10,
			120, 0, 10,
			10, 10, 0,
		}}
		w := meshtest.NewWorld(t, rtt, meshtest.Link{BitsPerSec: 100e6}, 1)
		defer w.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := w.ConnectAll(ctx); err != nil {
			t.Fatal(err)
		}
		res := <-ping.Ping(ctx, w.Hosts[0], w.Hosts[1].ID())
		cancel()
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		// 80/2 out, 120/2 back; a ping is tiny, so queueing adds well under 1 ms.
		if want := 100 * time.Millisecond; res.RTT < want || res.RTT > want+time.Millisecond {
			t.Errorf("ping RTT %v, want %v", res.RTT, want)
		}
		if n := w.Misses.Load(); n != 0 {
			t.Errorf("%d packets between unknown addresses", n)
		}
	})
}

// TestSimnetMeshTrainsOnPlanetLab runs live gradmesh peers (real libp2p
// hosts, QUIC, gossipsub, the peer runtime of peer.go) on 16 PlanetLab
// nodes over a simulated network, in virtual time. D-PSGD must reach 0.90
// mean test accuracy on digits; the live RTT measurements must match the
// matrix; and the steady round time must be what the max-plus recurrence
// of synchronous D-PSGD gives on the overlay the peers chose, plus at most
// the time to push the vectors through the links. The algorithm-level
// simulator (sims) on the same nodes, seeds and overlay must agree on
// accuracy and pace. It logs the virtual time to the target and per round.
func TestSimnetMeshTrainsOnPlanetLab(t *testing.T) {
	if testing.Short() {
		t.Skip("protocol-level simulation: 16 libp2p hosts in virtual time, about 20 s of wall time")
	}
	peers := meshtest.PeersFromEnv(t)
	run := meshtest.Settings{Model: "mlp:32", Rounds: 240, Batch: 16, LR: 0.1, EvalEvery: 20, Seed: meshtest.SeedFromEnv(t),
		Neighbors: topology.SelectConfig{Policy: topology.PolicyRandom, Degree: 4},
		PeerFLOPS: 10e9, Link: meshtest.Link{BitsPerSec: 100e6}}
	out, rtt, nodes := meshtest.SimulatePlanetLab(t, run, peers, nil)
	data := out.Data
	pts, err := out.Curve()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		t.Logf("round %3d at %8.3f s virtual: accuracy mean %.4f min %.4f", p.Round, p.Virtual.Seconds(), p.AccuracyMean, p.AccuracyMin)
	}
	const target = 0.90
	hit, ok := meshtest.TimeToTarget(pts, target)
	if !ok {
		t.Fatalf("mean accuracy never reached %.2f (final %.4f)", target, pts[len(pts)-1].AccuracyMean)
	}
	last := pts[len(pts)-1]
	t.Logf("target %.2f reached at round %d, %.3f s virtual; %d rounds in %.3f s virtual, %.1f ms per round",
		target, hit.Round, hit.Virtual.Seconds(), last.Round, last.Virtual.Seconds(), last.Virtual.Seconds()*1000/float64(last.Round))
	for i, tr := range out.Traces {
		if tr.Sum.FinalTestAccuracy < 0.85 {
			t.Errorf("peer %d: final accuracy %.4f, want ≥ 0.85", i, tr.Sum.FinalTestAccuracy)
		}
	}

	// The peers see the network the matrix describes. QUIC's smoothed RTT
	// lands within a couple of milliseconds of the matrix on an idle link;
	// sampled while vectors cross, it also carries their queueing at the
	// rate-limited links, at most the push time of one round's vectors
	// (each vector crosses the sender's uplink behind up to degree−1 others
	// and the receiver's downlink likewise).
	push := 2 * float64(run.Neighbors.Degree) * float64(wire.VectorBytes(wire.Float32, len(data.Init), wire.DefaultShardBytes)) * 8 / float64(run.Link.BitsPerSec)
	measured, matrix, err := out.NeighborRTTs(run.Rounds/2, rtt)
	if err != nil {
		t.Fatal(err)
	}
	if len(measured) < peers {
		t.Errorf("only %d neighbor RTTs measured by round %d", len(measured), run.Rounds/2)
	}
	var low, high float64
	for k := range measured {
		d := measured[k] - matrix[k]
		low, high = min(low, d), max(high, d)
		if d < -2 || d > 2+0.02*matrix[k]+push*1000 {
			t.Errorf("neighbor RTT measured %.3f ms, matrix %.3f ms", measured[k], matrix[k])
		}
	}
	t.Logf("%d neighbor RTTs measured live, %+.3f to %+.3f ms from the matrix (push time of a round's vectors %.3f ms)",
		len(measured), low, high, push*1000)

	// Rounds take what the network imposes and no more.
	links, oneSided, err := out.LiveOverlay(run.Rounds / 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(oneSided) > 0 {
		t.Errorf("links only one end lists at round %d: %v", run.Rounds/2, oneSided)
	}
	adj := links.Adjacency(peers)
	stepSec := data.Model.TrainFLOPs() * float64(run.Batch) / run.PeerFLOPS
	theory := steadyRoundTime(adj, func(from, to int) float64 { return stepSec + rtt.At(from, to)/2/1000 })
	from, to := run.Rounds/4, run.Rounds-1
	var steady float64
	for _, tr := range out.Traces {
		steady += tr.Started[to].Sub(tr.Started[from]).Seconds() / float64(to-from) / float64(len(out.Traces))
	}
	t.Logf("steady round time %.3f ms; max-plus bound on the same overlay %.3f ms, plus at most %.3f ms to push vectors",
		steady*1000, theory*1000, push*1000)
	if steady < theory*0.999 || steady > theory+push+0.001 {
		t.Errorf("steady round time %.3f ms, want %.3f to %.3f ms", steady*1000, theory*1000, (theory+push+0.001)*1000)
	}

	// The algorithm-level simulator on the same overlay tells the same story:
	// the same models (the same seeds and synchronous rounds, so only the
	// few rounds a startup deadline cut short differ) at the same pace; the
	// protocol runs later by the spread of its peers' start, which the
	// algorithm-level simulator does not model (all its peers start at 0).
	res := algorithmLevel(t, run, nodes, links, target)
	if len(res.Records) != len(pts) {
		t.Fatalf("algorithm-level run has %d records, the protocol-level one %d points", len(res.Records), len(pts))
	}
	for k, r := range res.Records {
		p := pts[k]
		t.Logf("round %3d: protocol %7.3f s, accuracy %.4f; algorithm %7.3f s, accuracy %.4f",
			r.Round, p.Virtual.Seconds(), p.AccuracyMean, r.VirtualSeconds, r.AccuracyMean)
		if math.Abs(p.AccuracyMean-r.AccuracyMean) > 0.01 {
			t.Errorf("round %d: mean accuracy %.4f in the protocol-level run, %.4f in the algorithm-level one", r.Round, p.AccuracyMean, r.AccuracyMean)
		}
	}
	algoPerRound := res.VirtualSeconds / float64(run.Rounds)
	protoPerRound := (last.Virtual - pts[0].Virtual).Seconds() / float64(run.Rounds)
	t.Logf("per round: protocol %.3f ms, algorithm %.3f ms (ratio %.4f); round 0 spread over %.3f s of peer starts",
		protoPerRound*1000, algoPerRound*1000, protoPerRound/algoPerRound, pts[0].Virtual.Seconds())
	if r := protoPerRound / algoPerRound; r < 0.98 || r > 1.05 {
		t.Errorf("protocol-level rounds take %.4f× the algorithm-level ones, want 0.98 to 1.05", r)
	}
	if res.VirtualSecondsToTarget == nil {
		t.Fatalf("the algorithm-level run never reached %.2f", target)
	}
	ratio := hit.Virtual.Seconds() / *res.VirtualSecondsToTarget
	t.Logf("time to %.2f: protocol %.3f s, algorithm %.3f s, ratio %.3f", target, hit.Virtual.Seconds(), *res.VirtualSecondsToTarget, ratio)
	if ratio < 0.98 || ratio > 1.15 {
		t.Errorf("time to target: protocol-level %.3f s is %.3f× the algorithm-level %.3f s, want 0.98 to 1.15",
			hit.Virtual.Seconds(), ratio, *res.VirtualSecondsToTarget)
	}
}
