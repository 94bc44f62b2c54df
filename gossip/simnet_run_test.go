package gossip_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// simRun is one protocol-level training run: the settings the
// algorithm-level simulator takes for the same experiment (digits, IID
// shards, D-PSGD adapt-then-combine, SGD with momentum, cosine rate).
type simRun struct {
	Model  string
	Rounds int
	Batch  int
	LR     float64
	// Neighbors is every peer's neighbor policy; zero fields take the live
	// peer's defaults (its seed derives from the run name, simRunName).
	Neighbors topology.SelectConfig
	EvalEvery int // rounds between recorded models
	Seed      uint64
	// PeerFLOPS prices a local step in virtual time as the algorithm-level
	// simulator does (model FLOPs × batch / speed); 0 makes steps free.
	PeerFLOPS float64
	// StepTime, when positive, is the virtual time of a local step instead
	// (a slow device), whatever PeerFLOPS says.
	StepTime time.Duration
	Link     simLink
	// SampleEvery, when positive, also records every peer's active links at
	// this period of virtual time, not only when it begins a round.
	SampleEvery time.Duration
}

// simRunName names every simulated run; the neighbor policy's seed derives from it.
const simRunName = "simnet"

// simData is what every peer of a run shares before it has a network.
type simData struct {
	run      simRun
	recipe   training.Recipe
	test     *training.Dataset
	model    training.Model
	init     []float32
	shards   []*training.Dataset // peer i's training data
	weights  []float64           // peer i's data weight n_i/n̄
	schedule training.Schedule
}

func newSimData(t *testing.T, run simRun, peers int) *simData {
	t.Helper()
	// The algorithm-level simulator's recipe (digits, IID shards, SGD with
	// momentum on a cosine schedule, adapt-then-combine) and seeds, so both
	// worlds start from the same model and shards.
	r := training.DefaultRecipe()
	r.Model, r.Batch, r.LR, r.Seed = run.Model, run.Batch, run.LR, run.Seed
	prepared, err := r.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	data := &simData{run: run, recipe: r, test: prepared.Test, model: prepared.Model, init: prepared.Init,
		shards: make([]*training.Dataset, peers), weights: make([]float64, peers)}
	for i := range peers {
		if data.shards[i], data.weights[i], err = prepared.Shard(i, peers); err != nil {
			t.Fatal(err)
		}
	}
	if data.schedule, err = r.LRSchedule(run.Rounds); err != nil {
		t.Fatal(err)
	}
	return data
}

// atRound runs each function once, when the first peer begins that round
// (on that peer's compute goroutine, before its step): a way to change the
// world at a known point of training.
type atRound map[int]func()

// runSimMesh trains one gradmesh peer per host of w until every peer has
// finished its rounds. Call it inside the synctest bubble that made w.
func runSimMesh(t *testing.T, w *simWorld, data *simData, events atRound) *simOutcome {
	t.Helper()
	n := len(w.hosts)
	run := data.run
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops gossipsub before the world closes
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("GRADMESH_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	stepTime := run.StepTime
	if stepTime <= 0 && run.PeerFLOPS > 0 {
		stepTime = time.Duration(data.model.TrainFLOPs() * float64(run.Batch) / run.PeerFLOPS * float64(time.Second))
	}
	out := &simOutcome{data: data, traces: make([]*peerTrace, n), begun: time.Now()}
	var fired sync.Map // round -> *sync.Once
	fire := func(round int) {
		if f, ok := events[round]; ok {
			once, _ := fired.LoadOrStore(round, &sync.Once{})
			once.(*sync.Once).Do(f)
		}
	}
	peers := make([]*gossip.Peer, n)
	for i, h := range w.hosts {
		tr := newPeerTrace(h.ID().String())
		out.traces[i] = tr
		scorer := gossip.NewScorer()
		ps, err := gossip.NewPubSub(ctx, h, scorer)
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		steps := training.NewStepper(data.shards[i], run.Batch, training.PeerBatchRand(run.Seed, i))
		var batch training.Minibatch
		stepModel, evalModel := data.model.Clone(), data.model.Clone()
		self := i
		peers[i], err = gossip.NewPeer(gossip.PeerConfig{
			Host: h, PubSub: ps, Scorer: scorer, RTT: (&p2p.Host{Host: h}).RTT,
			Run: simRunName, ModelSpec: data.model.Spec(), Init: data.init,
			Optimizer: data.recipe.OptimizerConfig(), Schedule: data.schedule,
			Rounds: run.Rounds, Order: data.recipe.MixOrder(), DataWeight: data.weights[i],
			Step: func(params, grad []float32) float64 {
				r := peers[self].Round()
				fire(r)
				tr.noteStep(peers[self], r, run.EvalEvery, params)
				loss := steps.Step(stepModel, params, grad, &batch)
				if stepTime > 0 {
					// The step's price in virtual time (CPU work takes none
					// under synctest): the bubble's clock moves on only once
					// every goroutine waits, so this costs no wall time.
					time.Sleep(stepTime)
				}
				return loss
			},
			Evaluate:  func(params []float32) training.Evaluation { return training.Evaluate(evalModel, params, data.test) },
			EvalEvery: run.Rounds, // the trace keeps the models; the peer scores only its last
			Batch:     run.Batch, Neighbors: run.Neighbors, MinPeers: n - 1, Logger: logger.With("peer", i),
		})
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		peers[i].ServeModel()
	}
	var wg sync.WaitGroup
	for i, p := range peers {
		tr := out.traces[i]
		wg.Go(func() {
			tr.sum, tr.err = p.Run(ctx)
			tr.ended = time.Now()
		})
	}
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	if run.SampleEvery > 0 {
		sampler.Go(func() {
			tick := time.NewTicker(run.SampleEvery)
			defer tick.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case now := <-tick.C:
					for i, p := range peers {
						tr := out.traces[i]
						st := p.Status()
						tr.samples = append(tr.samples, linkSample{at: now, links: st.Neighbors, proposals: st.Proposals})
					}
				}
			}
		})
	}
	if err := w.connectAll(ctx); err != nil {
		t.Error(err)
		cancel()
	}
	wg.Wait()
	close(stopSampling)
	sampler.Wait()
	for i, tr := range out.traces {
		if tr.err != nil && !errors.Is(tr.err, context.Canceled) {
			t.Errorf("peer %d: %v", i, tr.err)
		}
		if r0, ok := tr.started[0]; ok && (out.start.IsZero() || r0.Before(out.start)) {
			out.start = r0
		}
	}
	return out
}

// simulatePlanetLab trains one live peer per node of a seeded PlanetLab
// sample inside a synctest bubble and returns what they did, the sample's
// RTT matrix and its node numbers. events, when not nil, makes the run's
// round events from the simulated world (inside the bubble, so that they
// can change it). It logs the sample, the wall time and when round 0 began.
func simulatePlanetLab(t *testing.T, run simRun, peers int, events func(w *simWorld) atRound) (*simOutcome, *topology.LatencyMatrix, []int) {
	t.Helper()
	rtt, nodes := sampleRTT(t, peers, run.Seed)
	data := newSimData(t, run, peers)
	var out *simOutcome
	wallStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		w := newSimWorld(t, rtt, run.Link, run.Seed)
		defer w.close()
		var ev atRound
		if events != nil {
			ev = events(w)
		}
		out = runSimMesh(t, w, data, ev)
		if n := w.misses.Load(); n != 0 {
			t.Errorf("%d packets between unknown addresses", n)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d peers on PlanetLab nodes %v (seed %d); wall time %v; round 0 began %.3f s virtual after the hosts started",
		peers, nodes, run.Seed, time.Since(wallStart).Round(time.Millisecond), out.start.Sub(out.begun).Seconds())
	return out, rtt, nodes
}

// planetLabPath is the shared 490-node PlanetLab RTT matrix (ms, row = sender).
const planetLabPath = "../../shared/data/rtt/planetlab-490.tsv"

// sampleRTT loads the PlanetLab matrix and picks n of its nodes with the
// seeded draw the algorithm-level simulator uses (sims.MatrixNetwork), so
// both worlds place their peers on the same nodes. It skips the test when
// the shared data is absent.
func sampleRTT(t *testing.T, n int, seed uint64) (*topology.LatencyMatrix, []int) {
	t.Helper()
	if _, err := os.Stat(planetLabPath); err != nil {
		t.Skipf("PlanetLab RTT matrix not found at %s (shared test data beside the project): %v", planetLabPath, err)
	}
	m, err := topology.ReadLatencyMatrix(planetLabPath)
	if err != nil {
		t.Fatal(err)
	}
	m.FillUnknown()
	nodes := make([]int, m.N)
	for i := range nodes {
		nodes[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e6f646573))
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	nodes = nodes[:n]
	slices.Sort(nodes)
	sub, err := m.Sub(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return sub, nodes
}

// simnetPeers is how many peers the PlanetLab runs place: 16, or the
// value of GRADMESH_SIMNET_PEERS (2 to 490) for a bigger or smaller sample.
func simnetPeers(t *testing.T) int {
	v := os.Getenv("GRADMESH_SIMNET_PEERS")
	if v == "" {
		return 16
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 || n > 490 {
		t.Fatalf("GRADMESH_SIMNET_PEERS=%q: want a peer count from 2 to 490 (PlanetLab has 490 nodes)", v)
	}
	return n
}

// simnetSeed seeds the PlanetLab runs (node sample, identities, data): 1,
// or the value of GRADMESH_SIMNET_SEED.
func simnetSeed(t *testing.T) uint64 {
	v := os.Getenv("GRADMESH_SIMNET_SEED")
	if v == "" {
		return 1
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		t.Fatalf("GRADMESH_SIMNET_SEED=%q: want a seed ≥ 1", v)
	}
	return n
}

// encodedVectorBytes is the wire size of one parameter vector of init's length.
func encodedVectorBytes(t *testing.T, init []float32) int {
	t.Helper()
	n := 0
	for _, s := range wire.Split(wire.Shard{Encoding: wire.EncodingFloat32}, init, wire.ShardValues(wire.Float32, 256<<10)) {
		b, err := wire.AppendShard(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		n += len(b)
	}
	return n
}
