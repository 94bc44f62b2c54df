package gossip_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// livePeer is one real peer of a test mesh: its own libp2p host, gossipsub
// and training data, on loopback.
type livePeer struct {
	host   *p2p.Host
	peer   *gossip.Peer
	cancel context.CancelFunc
	done   chan struct{}
	sum    *gossip.Summary
	err    error
}

type meshFixture struct {
	t         *testing.T
	train     *training.Dataset
	test      *training.Dataset
	model     training.Model
	init      []float32
	parts     [][]int
	rounds    int
	neighbors topology.SelectConfig
	bootstrap []string
	dir       string
	minPeers  int
	gate      gate
	// latency, when set, stands in for the network's RTTs: peer i measures
	// latency(i, j) to peer j (loopback RTTs are all alike).
	latency func(i, j int) time.Duration
	// gpu, when it has an entry for peer i, is that peer's GPU status.
	gpu map[int]func() gossip.GPUStatus
	// uplink, when it has an entry for peer i, is the uplink rate peer i
	// states, bits/s.
	uplink map[int]float64
	mu     sync.Mutex
	index  map[peer.ID]int // peers started so far
}

// rttFor is peer i's RTT function: the fixture's latency when it has one,
// the transport's otherwise.
func (f *meshFixture) rttFor(i int, h *p2p.Host) func(context.Context, peer.ID) (p2p.RTTSample, error) {
	if f.latency == nil {
		return h.RTT
	}
	return func(_ context.Context, id peer.ID) (p2p.RTTSample, error) {
		f.mu.Lock()
		j, ok := f.index[id]
		f.mu.Unlock()
		if !ok {
			return p2p.RTTSample{}, fmt.Errorf("peer %s is not in the test mesh", id)
		}
		return p2p.RTTSample{RTT: f.latency(i, j), Source: "test"}, nil
	}
}

// gate holds every peer's local step once its round reaches a mark, so the
// test can stop the mesh at a known round, change it, and let it go on.
type gate struct {
	mu   sync.Mutex
	at   int
	open chan struct{}
}

func (g *gate) set(at int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.at = at
	if g.open != nil {
		close(g.open)
	}
	g.open = make(chan struct{})
}

func (g *gate) wait(ctx context.Context, round int) {
	for {
		g.mu.Lock()
		at, open := g.at, g.open
		g.mu.Unlock()
		if round < at {
			return
		}
		select {
		case <-open:
		case <-ctx.Done():
			return
		}
	}
}

func newMeshFixture(t *testing.T, modelSpec string, peers, rounds, degree int) *meshFixture {
	t.Helper()
	train, test, err := training.LoadDataset("digits", "", 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	model, err := training.ParseModel(modelSpec, train.Shape, train.Classes)
	if err != nil {
		t.Fatal(err)
	}
	init := make([]float32, model.NumParams())
	model.Init(init, rand.New(rand.NewPCG(1, 2)))
	parts, err := training.Partition("iid", train.Y, train.Classes, peers, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &meshFixture{t: t, train: train, test: test, model: model, init: init, parts: parts,
		rounds: rounds, neighbors: topology.SelectConfig{Degree: degree}, dir: t.TempDir(), minPeers: peers - 1, gate: gate{at: 1 << 30}}
}

// start runs peer i; its key lives in the fixture's directory, so starting
// the same i again restarts the same identity.
func (f *meshFixture) start(i int) *livePeer {
	f.t.Helper()
	key, _, err := p2p.LoadOrCreateKey(filepath.Join(f.dir, fmt.Sprintf("peer%d.key", i)))
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("GRADMESH_TEST_LOG") != "" {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("peer", i)
	}
	h, err := p2p.New(ctx, p2p.Config{Key: key, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: f.bootstrap, Logger: quiet})
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	f.mu.Lock()
	if f.index == nil {
		f.index = map[peer.ID]int{}
	}
	f.index[h.ID()] = i
	f.mu.Unlock()
	go h.JoinRun(ctx, "mesh-test", 200*time.Millisecond)
	scorer := gossip.NewScorer()
	ps, err := gossip.NewPubSub(ctx, h.Host, scorer)
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	steps := training.NewStepper(f.train.Subset(f.parts[i]), 16, rand.New(rand.NewPCG(1, uint64(i))))
	var batch training.Minibatch
	stepModel, evalModel := f.model.Clone(), f.model.Clone()
	var p *gossip.Peer
	p, err = gossip.NewPeer(gossip.PeerConfig{
		Transport: gossip.NewPubSubTransport(h.Host, ps, scorer, nil), RTT: f.rttFor(i, h), Run: "mesh-test", ModelSpec: f.model.Spec(),
		Learning: gossip.Learning{Init: f.init, Optimizer: training.OptimizerConfig{Kind: "sgd", Momentum: 0.9},
			Schedule: training.CosineLR{Base: 0.1, Total: f.rounds}, Rounds: f.rounds, Order: training.AdaptThenCombine},
		Gradient: func(params, grad []float32) float64 {
			f.gate.wait(ctx, p.Round())
			return steps.Gradient(stepModel, params, grad, &batch)
		},
		Evaluate:  func(params []float32) training.Evaluation { return training.Evaluate(evalModel, params, f.test) },
		EvalEvery: 20, Batch: 16, Neighbors: f.neighbors, MaxRoundTimeout: time.Second,
		Heartbeat: 200 * time.Millisecond, MinPeers: f.minPeers, Logger: quiet, GPUStatus: f.gpu[i],
		UplinkBitsPerSec: f.uplink[i],
	})
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	lp := &livePeer{host: h, peer: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(lp.done)
		lp.sum, lp.err = p.Run(ctx)
	}()
	if f.bootstrap == nil {
		f.bootstrap = h.Addrs()[:1]
	}
	return lp
}

// startAll starts peers 0..n-1 and kills them when the test ends.
func (f *meshFixture) startAll(n int) []*livePeer {
	live := make([]*livePeer, n)
	for i := range n {
		live[i] = f.start(i)
	}
	f.t.Cleanup(func() {
		for _, lp := range live {
			lp.kill()
		}
	})
	return live
}

// runToEnd starts peers 0..n-1 and returns once all have finished; their
// hosts stay up, with their bandwidth meters, until the test ends.
func (f *meshFixture) runToEnd(n int) []*livePeer {
	live := make([]*livePeer, n)
	for i := range n {
		live[i] = f.start(i)
	}
	for _, lp := range live {
		<-lp.done
	}
	f.t.Cleanup(func() {
		for _, lp := range live {
			lp.host.Close()
		}
	})
	waitBandwidthSweep(f.t) // the meters publish totals only on their next sweep
	return live
}

func (lp *livePeer) kill() {
	lp.cancel()
	<-lp.done
	lp.host.Close()
}

// waitFor polls cond until it holds or the deadline passes; the mesh runs on
// real time, so there is no virtual clock to advance instead.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}

// TestLiveMeshTrainsSurvivesDeathsAndRejoins: eight real peers bootstrapping
// from one train the digits model; two are killed mid-run and the other six
// still reach the target; one of the dead restarts with its old key, finds
// the mesh through the DHT and catches up with its round.
func TestLiveMeshTrainsSurvivesDeathsAndRejoins(t *testing.T) {
	if testing.Short() {
		t.Skip("live mesh test: real libp2p hosts on loopback, several seconds")
	}
	const peers, rounds = 8, 240
	f := newMeshFixture(t, "mlp:32", peers, rounds, 4)
	live := make([]*livePeer, peers)
	defer func() {
		for _, lp := range live {
			if lp != nil {
				lp.kill()
			}
		}
	}()
	atRound := func(peers []*livePeer, r int) func() bool {
		return func() bool {
			for _, lp := range peers {
				if lp.peer.Round() < r {
					return false
				}
			}
			return true
		}
	}
	f.gate.set(60)
	for i := range peers {
		live[i] = f.start(i)
	}
	waitFor(t, "all peers to reach round 60", 60*time.Second, atRound(live, 60))
	live[6].kill()
	live[7].kill()
	live[6], live[7] = nil, nil
	f.gate.set(100)
	waitFor(t, "the six survivors to reach round 100", 60*time.Second, atRound(live[:6], 100))
	f.minPeers = 1
	live[7] = f.start(7)
	waitFor(t, "the restarted peer to join", 60*time.Second, func() bool { return live[7].peer.Round() > 0 })
	if joined := live[7].peer.Status().JoinedAt; joined < 100-training.DefaultWindow {
		t.Errorf("restarted peer began at round %d; it should have adopted the mesh's round (about 100)", joined)
	}
	f.gate.set(1 << 30)
	var wg sync.WaitGroup
	for _, lp := range live {
		if lp == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); <-lp.done }()
	}
	wg.Wait()
	for i, lp := range live {
		if lp == nil {
			continue
		}
		if lp.err != nil {
			t.Fatalf("peer %d: %v", i, lp.err)
		}
		if lp.sum.FinalTestAccuracy < 0.90 {
			t.Errorf("peer %d: final accuracy %.4f after %d rounds, want ≥ 0.90", i, lp.sum.FinalTestAccuracy, lp.sum.Rounds)
		}
		t.Logf("peer %d: accuracy %.4f, rounds %d, neighbors %d, deadline rounds %d, in %d B, out %d B",
			i, lp.sum.FinalTestAccuracy, lp.sum.Rounds, len(lp.sum.Neighbors), lp.sum.Deadlines, lp.sum.BytesIn, lp.sum.BytesOut)
	}
}

// TestInboundBytesFollowNeighborsNotMeshSize counts what really crosses each
// peer's transport on the gossipsub protocol (forwarded and duplicate copies
// included, heartbeats too) on a 12-peer mesh of degree 4 under the default
// policy, latency+long: per round it must stay within 1.25 × (near
// neighbors + long neighbors / LongPeriod) × one encoded parameter vector.
// It must not grow with the mesh, and a long neighbor must cost a vector
// every LongPeriod rounds (its long topic), not every round. Loopback RTTs
// would make every long link fast enough to mix every round; AsyncRTT < 0
// keeps them all asynchronous.
func TestInboundBytesFollowNeighborsNotMeshSize(t *testing.T) {
	if testing.Short() {
		t.Skip("live mesh test: real libp2p hosts on loopback")
	}
	const peers, rounds, degree = 12, 60, 4
	f := newMeshFixture(t, "mlp:256", peers, rounds, degree)
	f.neighbors.AsyncRTT = -1
	period := f.neighbors.WithDefaults().LongPeriod
	live := f.runToEnd(peers)
	payload := wire.VectorBytes(wire.Float32, len(f.init), wire.DefaultShardBytes)
	withLong := 0
	for i, lp := range live {
		if lp.err != nil {
			t.Fatalf("peer %d: %v", i, lp.err)
		}
		var in int64
		for proto, st := range lp.host.Bandwidth.GetBandwidthByProtocol() {
			if strings.HasPrefix(string(proto), "/meshsub/") {
				in += st.TotalIn
			}
		}
		all, long := len(lp.sum.Neighbors), len(lp.sum.LongNeighbors)
		vectors := float64(all-long) + float64(long)/float64(period) // expected vectors in per round
		perRound := float64(in) / float64(rounds)
		t.Logf("peer %d: %d near + %d long neighbors, %.0f B in per round = %.3f × expected (%.2f vectors of %d B; %.2f if long links sent every round); %d neighbor changes, %d rounds published, %d on the long topic",
			i, all-long, long, perRound, perRound/(vectors*float64(payload)), vectors, payload, float64(all), lp.sum.NeighborChanges, lp.sum.Published, lp.sum.LongPublished)
		if max := f.neighbors.WithDefaults().MaxDegree; all > max || all == 0 {
			t.Errorf("peer %d has %d neighbors, want 1..%d", i, all, max)
		}
		if perRound > 1.25*vectors*float64(payload) {
			t.Errorf("peer %d received %.0f B per round, over 1.25 × %.2f vectors × %d B", i, perRound, vectors, payload)
		}
		if lp.sum.LongPublished > int64(rounds/period+1) {
			t.Errorf("peer %d published on its long topic in %d rounds, want at most every %dth of %d", i, lp.sum.LongPublished, period, rounds)
		}
		if long > 0 {
			withLong++
		}
	}
	if withLong == 0 {
		t.Error("no peer has a long neighbor under latency+long")
	}
}
