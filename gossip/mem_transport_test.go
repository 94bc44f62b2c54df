package gossip_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/internal/testcodec"
	"github.com/gradmesh/gradmesh/internal/testpeer"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// memMesh is n peers of one run on a MemNetwork, each with its shard of
// the embedded digits; beforeStep, when set, runs before every local step.
type memMesh struct {
	net        *gossip.MemNetwork
	ids        []peer.ID
	peers      []*gossip.Peer
	beforeStep func(peer, round int)
}

func newMemMesh(t *testing.T, n, rounds int) *memMesh {
	return newMemMeshWith(t, n, rounds, nil)
}

// newMemMeshWith is newMemMesh with every peer encoding its vectors with
// codec (nil: the default).
func newMemMeshWith(t *testing.T, n, rounds int, codec wire.Codec) *memMesh {
	t.Helper()
	recipe := training.DefaultRecipe()
	recipe.Model = "mlp:16"
	prepared, err := recipe.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	schedule, err := recipe.LRSchedule(rounds)
	if err != nil {
		t.Fatal(err)
	}
	m := &memMesh{net: gossip.NewMemNetwork()}
	for i := range n {
		shard, weight, err := prepared.Shard(i, n)
		if err != nil {
			t.Fatal(err)
		}
		steps := training.NewStepper(shard, recipe.Batch, training.PeerBatchRand(recipe.Seed, i))
		var batch training.Minibatch
		model, evalModel := prepared.Model.Clone(), prepared.Model.Clone()
		id := testpeer.ID(t, uint64(100+i))
		self := i
		p, err := gossip.NewPeer(gossip.PeerConfig{
			Transport: m.net.Join(id),
			RTT: func(context.Context, peer.ID) (p2p.RTTSample, error) {
				return p2p.RTTSample{RTT: time.Millisecond, Source: "test"}, nil
			},
			Run: "mem", ModelSpec: prepared.Model.Spec(),
			Learning: gossip.Learning{Init: prepared.Init, Optimizer: recipe.OptimizerConfig(), Schedule: schedule,
				Rounds: rounds, DataWeight: weight, Order: recipe.MixOrder()},
			Gradient: func(params, grad []float32) float64 {
				if m.beforeStep != nil {
					m.beforeStep(self, m.peers[self].Round())
				}
				return steps.Gradient(model, params, grad, &batch)
			},
			Evaluate:  func(params []float32) training.Evaluation { return training.Evaluate(evalModel, params, prepared.Test) },
			Neighbors: topology.SelectConfig{Policy: topology.PolicyRandom, Degree: 2}, MinPeers: n - 1, Codec: codec,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		m.ids, m.peers = append(m.ids, id), append(m.peers, p)
	}
	return m
}

// run trains every peer to its last round and returns their summaries.
func (m *memMesh) run(t *testing.T) []*gossip.Summary {
	t.Helper()
	sums := make([]*gossip.Summary, len(m.peers))
	var wg sync.WaitGroup
	for i, p := range m.peers {
		wg.Go(func() {
			var err error
			if sums[i], err = p.Run(context.Background()); err != nil {
				t.Errorf("peer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return sums
}

// TestPeersTrainOverMemNetwork: the live peer runtime, on an in-process
// transport and virtual time, trains the digits model as it does over
// gossipsub: every peer finishes, with the accuracy the mesh reaches live,
// over links both ends agree on.
func TestPeersTrainOverMemNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemMesh(t, 4, 150)
		sums := m.run(t)
		for i, s := range sums {
			t.Logf("peer %d: %d rounds, accuracy %.4f, neighbors %d, deadlines %d, in %d out %d", i, s.Rounds, s.FinalTestAccuracy, len(s.Neighbors), s.Deadlines, s.BytesIn, s.BytesOut)
		}
		for i, s := range sums {
			if s.Rounds != 150 || s.FinalTestAccuracy < 0.9 || s.BytesIn == 0 || s.BytesOut == 0 || s.Rejected != 0 {
				t.Errorf("peer %d: %d rounds, accuracy %.4f, %d B in, %d B out, %d rejected", i, s.Rounds, s.FinalTestAccuracy, s.BytesIn, s.BytesOut, s.Rejected)
			}
			for _, nb := range s.Neighbors {
				j := slices.Index(m.ids, peer.ID(mustDecode(t, nb)))
				if !slices.Contains(sums[j].Neighbors, m.ids[i].String()) {
					t.Errorf("peer %d lists %d as a neighbor, which does not list it back", i, j)
				}
			}
		}
	})
}

// TestPartitionedPeerTrainsAlone: a peer cut off from the rest of the mesh
// at round 40 trains on alone, and the others, after a round or two ended
// by deadline, drop it from their links and finish without it.
func TestPartitionedPeerTrainsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemMesh(t, 4, 120)
		var cut sync.Once
		m.beforeStep = func(peer, round int) {
			if round == 40 {
				cut.Do(func() {
					for _, id := range m.ids[:3] {
						m.net.Cut(id, m.ids[3])
					}
				})
			}
		}
		sums := m.run(t)
		for i, s := range sums {
			t.Logf("peer %d: %d rounds, accuracy %.4f, neighbors %d, deadlines %d, in %d out %d", i, s.Rounds, s.FinalTestAccuracy, len(s.Neighbors), s.Deadlines, s.BytesIn, s.BytesOut)
		}
		for i, s := range sums {
			if s.Rounds != 120 || s.FinalTestAccuracy < 0.85 {
				t.Errorf("peer %d: %d rounds, accuracy %.4f", i, s.Rounds, s.FinalTestAccuracy)
			}
		}
		for i, s := range sums[:3] {
			if slices.Contains(s.Neighbors, m.ids[3].String()) || len(s.Neighbors) == 0 {
				t.Errorf("peer %d ends with neighbors %v: want some, without the cut-off peer", i, s.Neighbors)
			}
			// Rounds that waited for the cut-off peer end by deadline until
			// a plan drops it; each such deadline doubles the next, so ten
			// would be over a minute.
			if s.Deadlines < 1 || s.Deadlines > 10 {
				t.Errorf("peer %d ended %d rounds by deadline, want 1 to 10", i, s.Deadlines)
			}
		}
		if len(sums[3].Neighbors) != 0 {
			t.Errorf("the cut-off peer ends with neighbors %v", sums[3].Neighbors)
		}
	})
}

func mustDecode(t *testing.T, s string) peer.ID {
	t.Helper()
	id, err := peer.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPeersTrainWithARegisteredCodec: a codec added in one file and
// registered carries live peers' vectors; being lossless, it trains the
// mesh to the very accuracy the default codec does.
func TestPeersTrainWithARegisteredCodec(t *testing.T) {
	registered, _ := wire.CodecFor(testcodec.Encoding)
	before := testcodec.Encoded()
	var accuracy [2][]float64
	for k, c := range []wire.Codec{nil, registered} {
		synctest.Test(t, func(t *testing.T) {
			for _, s := range newMemMeshWith(t, 4, 100, c).run(t) {
				accuracy[k] = append(accuracy[k], s.FinalTestAccuracy)
			}
		})
	}
	if testcodec.Encoded() == before {
		t.Fatal("the registered codec encoded nothing")
	}
	if !slices.Equal(accuracy[0], accuracy[1]) || accuracy[1][0] < 0.9 {
		t.Errorf("final accuracy with the default codec %v, with the registered one %v; want the same, ≥ 0.9", accuracy[0], accuracy[1])
	}
}
