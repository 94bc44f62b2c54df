package gossip_test

// Like simnet_compare_test.go, this external test imports sims to run the
// algorithm-level simulator beside live peers.

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/sims"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/wire"
)

// TestSimulatorChargesTheBytesLivePeersSend: eight live peers on loopback
// train over random links (all synchronous), and the simulator runs the
// same rounds over the overlay they chose. Per peer per round, the
// parameter bytes the live peers' transports published must be within 2%
// of what the simulator charges (the simulator and the live peer price a
// vector with the same function, wire.VectorBytes), and what libp2p's
// meter counted leaving on the gossipsub protocol within 5%: it adds
// envelopes and the heartbeats, which the control topic's mesh relays, so
// that each member hears each heartbeat from up to D of its mesh peers.
func TestSimulatorChargesTheBytesLivePeersSend(t *testing.T) {
	if testing.Short() {
		t.Skip("live mesh test: real libp2p hosts on loopback")
	}
	const peers, rounds = 8, 60
	f := newMeshFixture(t, "mlp:256", peers, rounds, 3)
	f.neighbors.Policy = topology.PolicyRandom
	live := f.runToEnd(peers)

	index := map[string]int{}
	for i, lp := range live {
		index[lp.host.ID().String()] = i
	}
	var liveOut, meshsub float64
	var edges [][2]int
	for i, lp := range live {
		if lp.err != nil {
			t.Fatalf("peer %d: %v", i, lp.err)
		}
		liveOut += float64(lp.sum.BytesOut)
		for proto, st := range lp.host.Bandwidth.GetBandwidthByProtocol() {
			if strings.HasPrefix(string(proto), "/meshsub/") {
				meshsub += float64(st.TotalOut)
			}
		}
		for _, nb := range lp.sum.Neighbors {
			if j := index[nb]; i < j {
				edges = append(edges, [2]int{i, j})
			}
		}
	}
	liveOut /= peers * rounds
	meshsub /= peers * rounds

	spec := sims.DefaultSpec()
	spec.Peers, spec.Model, spec.Rounds, spec.Topology = peers, "mlp:256", rounds, "ring"
	e, err := spec.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if e.Graph, err = topology.FromEdges(peers, edges); err != nil {
		t.Fatal(err)
	}
	e.Mixing = topology.Metropolis(e.Graph)
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	simOut := res.BytesSentPerPeer / rounds
	vector := wire.VectorBytes(wire.Float32, len(f.init), wire.DefaultShardBytes)
	t.Logf("%d links; per peer per round: live transports %.0f B, simulator %.0f B (ratio %.4f; %d B a vector); libp2p meter, gossipsub out %.0f B (%.4f × the simulator)",
		len(edges), liveOut, simOut, liveOut/simOut, vector, meshsub, meshsub/simOut)
	if e.MessageBytes() != vector {
		t.Errorf("the simulator prices a message at %d B, the wire at %d B", e.MessageBytes(), vector)
	}
	if r := liveOut / simOut; r < 0.98 || r > 1.02 {
		t.Errorf("live peers published %.0f B per peer per round, the simulator charged %.0f B: ratio %.4f, want within 2%%", liveOut, simOut, r)
	}
	if r := meshsub / simOut; r < 1 || r > 1.05 {
		t.Errorf("libp2p counted %.0f B of gossipsub out per peer per round, the simulator charged %.0f B: ratio %.4f, want 1 to 1.05", meshsub, simOut, r)
	}
	if !slices.ContainsFunc(live, func(lp *livePeer) bool { return lp.sum.Published == rounds }) {
		t.Error("no peer published every round")
	}
}
