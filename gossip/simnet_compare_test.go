package gossip_test

// This file runs the algorithm-level simulator beside the protocol-level one.
// Importing sims from a test of gossip is the one exception to "nothing
// imports sims but cmd": it is an external test package, so gossip itself
// still does not depend on sims, and comparing the two worlds run for run is
// what the design's "one algorithm, three worlds" asks of these tests.

import (
	"context"
	"slices"
	"testing"

	"github.com/gradmesh/gradmesh/internal/meshtest"
	"github.com/gradmesh/gradmesh/sims"
	"github.com/gradmesh/gradmesh/topology"
)

// algorithmLevel runs the same experiment in the algorithm-level simulator:
// same data, shards, seeds, model, schedule, PlanetLab nodes, link rate and
// step price, uplink and downlink rates, round deadlines, on the overlay links (by host
// index; long ones mixed asynchronously every LongPeriod rounds). It fails
// the test if sims would place the peers on other nodes than nodes.
func algorithmLevel(t *testing.T, run meshtest.Settings, nodes []int, links meshtest.Links, target float64) *sims.Result {
	t.Helper()
	spec := sims.DefaultSpec()
	spec.Peers, spec.Topology, spec.Model, spec.Rounds, spec.Batch, spec.LR = len(nodes), "ring", run.Model, run.Rounds, run.Batch, run.LR
	spec.Schedule, spec.Optimizer, spec.Momentum, spec.Mix, spec.Partition, spec.Weighting = "cosine", "sgd", 0.9, "atc", "iid", "samples"
	spec.Seed, spec.LatencyMatrix, spec.EvalEvery, spec.EvalSamples, spec.TestFraction = run.Seed, meshtest.PlanetLabPath, run.EvalEvery, 0, 0.2
	spec.BandwidthMbps, spec.PeerGFLOPS, spec.TargetAccuracy = float64(run.Link.BitsPerSec)/1e6, run.PeerFLOPS/1e9, target
	spec.RoundTimeoutMS = 5000 // the live peers' round deadlines (PeerConfig.MaxRoundTimeout's default)
	e, err := spec.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	m, err := topology.ReadLatencyMatrix(meshtest.PlanetLabPath)
	if err != nil {
		t.Fatal(err)
	}
	m.FillUnknown()
	if _, simNodes, err := sims.MatrixNetwork(m, len(nodes), 1, run.Seed); err != nil || !slices.Equal(simNodes, nodes) {
		t.Fatalf("sims places the peers on nodes %v (err %v), the protocol-level run on %v", simNodes, err, nodes)
	}
	// simnet rate-limits both directions of each host's link; sims' matrix
	// network limits only uplinks unless told otherwise.
	e.Network.DownlinkBitsPerSec = slices.Clone(e.Network.UplinkBitsPerSec)
	var edges [][2]int
	for e := range links {
		edges = append(edges, [2]int(e))
	}
	if e.Graph, err = topology.FromEdges(len(nodes), edges); err != nil {
		t.Fatal(err)
	}
	e.Long = func(i, j int) bool { return links[meshtest.NewEdge(i, j)] }
	e.LongPeriod = run.Neighbors.WithDefaults().LongPeriod
	e.Mixing = topology.Metropolis(e.Graph)
	gap, _, err := topology.SpectralGap(e.Mixing.Dense(e.Graph))
	if err != nil {
		t.Fatal(err)
	}
	e.SpectralGap = &gap
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}
