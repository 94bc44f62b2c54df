package meshtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

// Settings is one protocol-level training run: the settings the
// algorithm-level simulator takes for the same experiment (digits, IID
// shards, D-PSGD adapt-then-combine, SGD with momentum, cosine rate).
type Settings struct {
	Model  string
	Rounds int
	Batch  int
	LR     float64
	// Neighbors is every peer's neighbor policy; zero fields take the live
	// peer's defaults (its seed derives from the run name, RunName).
	Neighbors topology.SelectConfig
	EvalEvery int // rounds between recorded models
	Seed      uint64
	// PeerFLOPS prices a local step in virtual time as the algorithm-level
	// simulator does (model FLOPs × batch / speed); 0 makes steps free.
	PeerFLOPS float64
	// ComputeTime, when positive, is the virtual time of a local step instead
	// (a slow device), whatever PeerFLOPS says.
	ComputeTime time.Duration
	Link        Link
	// SampleEvery, when positive, also records every peer's active links at
	// this period of virtual time, not only when it begins a round.
	SampleEvery time.Duration
}

// BootstrapPeers is how many others each host connects to at the start,
// as a peer does with the first run members its rendezvous finds; the
// rest it reaches through the control topic's mesh and dials itself.
const BootstrapPeers = 4

// RunName names every simulated run; the neighbor policy's seed derives from it.
const RunName = "simnet"

// Data is what every peer of a run shares before it has a network.
type Data struct {
	Settings Settings
	Recipe   training.Recipe
	Test     *training.Dataset
	Model    training.Model
	Init     []float32
	Shards   []*training.Dataset // peer i's training data
	Weights  []float64           // peer i's data weight n_i/n̄
	Schedule training.Schedule
}

func NewData(t *testing.T, run Settings, peers int) *Data {
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
	data := &Data{Settings: run, Recipe: r, Test: prepared.Test, Model: prepared.Model, Init: prepared.Init,
		Shards: make([]*training.Dataset, peers), Weights: make([]float64, peers)}
	for i := range peers {
		if data.Shards[i], data.Weights[i], err = prepared.Shard(i, peers); err != nil {
			t.Fatal(err)
		}
	}
	if data.Schedule, err = r.LRSchedule(run.Rounds); err != nil {
		t.Fatal(err)
	}
	return data
}

// AtRound runs each function once, when the first peer begins that round
// (on that peer's compute goroutine, before its step): a way to change the
// world at a known point of training.
type AtRound map[int]func()

// RunMesh trains one gradmesh peer per host of w until every peer has
// finished its rounds. Call it inside the synctest bubble that made w.
func RunMesh(t *testing.T, w *World, data *Data, events AtRound) *Outcome {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops gossipsub before the world closes
	out := &Outcome{Data: data, Traces: make([]*Trace, len(w.Hosts)), Begun: time.Now()}
	peers := newPeers(ctx, t, w, out, events)
	var wg sync.WaitGroup
	for i, p := range peers {
		tr := out.Traces[i]
		wg.Go(func() {
			tr.Sum, tr.Err = p.Run(ctx)
			tr.Ended = time.Now()
		})
	}
	stopSampling := sampleLinks(peers, out, data.Settings.SampleEvery)
	if err := w.Bootstrap(ctx, BootstrapPeers, data.Settings.Seed); err != nil {
		t.Error(err)
		cancel()
	}
	wg.Wait()
	stopSampling()
	for i, tr := range out.Traces {
		if tr.Err != nil && !errors.Is(tr.Err, context.Canceled) {
			t.Errorf("peer %d: %v", i, tr.Err)
		}
		if r0, ok := tr.Started[0]; ok && (out.Start.IsZero() || r0.Before(out.Start)) {
			out.Start = r0
		}
	}
	return out
}

// newPeers makes one peer per host of w, each tracing its rounds into out
// and firing the events of the rounds it begins.
func newPeers(ctx context.Context, t *testing.T, w *World, out *Outcome, events AtRound) []*gossip.Peer {
	t.Helper()
	data, run, n := out.Data, out.Data.Settings, len(w.Hosts)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("GRADMESH_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	computeTime := run.ComputeTime
	if computeTime <= 0 && run.PeerFLOPS > 0 {
		computeTime = time.Duration(data.Model.TrainFLOPs() * float64(run.Batch) / run.PeerFLOPS * float64(time.Second))
	}
	var fired sync.Map // round -> *sync.Once
	fire := func(round int) {
		if f, ok := events[round]; ok {
			once, _ := fired.LoadOrStore(round, &sync.Once{})
			once.(*sync.Once).Do(f)
		}
	}
	peers := make([]*gossip.Peer, n)
	for i, h := range w.Hosts {
		tr := newTrace(h.ID().String())
		out.Traces[i] = tr
		scorer := gossip.NewScorer()
		ps, err := gossip.NewPubSub(ctx, h, scorer)
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		steps := training.NewStepper(data.Shards[i], run.Batch, training.PeerBatchRand(run.Seed, i))
		var batch training.Minibatch
		model, evalModel := data.Model.Clone(), data.Model.Clone()
		peers[i], err = gossip.NewPeer(gossip.PeerConfig{
			Transport: gossip.NewPubSubTransport(h, ps, scorer, func(id peer.ID, keep bool) { w.Protect(i, id, keep) }),
			RTT:       (&p2p.Host{Host: h}).RTT,
			Run:       RunName, ModelSpec: data.Model.Spec(),
			Learning: gossip.Learning{Init: data.Init, Optimizer: data.Recipe.OptimizerConfig(), Schedule: data.Schedule,
				Rounds: run.Rounds, Order: data.Recipe.MixOrder(), DataWeight: data.Weights[i]},
			Gradient: func(params, grad []float32) float64 {
				r := peers[i].Round()
				fire(r)
				tr.noteStep(peers[i], r, run.EvalEvery, params)
				loss := steps.Gradient(model, params, grad, &batch)
				if computeTime > 0 {
					// The step's price in virtual time (CPU work takes none
					// under synctest): the bubble's clock moves on only once
					// every goroutine waits, so this costs no wall time.
					time.Sleep(computeTime)
				}
				return loss
			},
			Evaluate:  func(params []float32) training.Evaluation { return training.Evaluate(evalModel, params, data.Test) },
			EvalEvery: run.Rounds, // the trace keeps the models; the peer scores only its last
			Batch:     run.Batch, Neighbors: run.Neighbors, MinPeers: n - 1, Logger: logger.With("peer", i),
		})
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
	}
	return peers
}

// sampleLinks records every peer's active links and proposals into its
// trace every period of virtual time (never, for period 0) until the
// returned stop is called.
func sampleLinks(peers []*gossip.Peer, out *Outcome, period time.Duration) (stop func()) {
	if period <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				for i, p := range peers {
					st := p.Status()
					out.Traces[i].Samples = append(out.Traces[i].Samples, LinkSample{At: now, Links: st.Neighbors, Proposals: st.Proposals})
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// SimulatePlanetLab trains one live peer per node of a seeded PlanetLab
// sample inside a synctest bubble and returns what they did, the sample's
// RTT matrix and its node numbers. events, when not nil, makes the run's
// round events from the simulated world (inside the bubble, so that they
// can change it). It logs the sample, the wall time and when round 0 began.
func SimulatePlanetLab(t *testing.T, run Settings, peers int, events func(w *World) AtRound) (*Outcome, *topology.LatencyMatrix, []int) {
	t.Helper()
	rtt, nodes := SampleRTT(t, peers, run.Seed)
	data := NewData(t, run, peers)
	var out *Outcome
	wallStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		w := NewWorld(t, rtt, run.Link, run.Seed)
		defer w.Close()
		var ev AtRound
		if events != nil {
			ev = events(w)
		}
		out = RunMesh(t, w, data, ev)
		if n := w.Misses.Load(); n != 0 {
			t.Errorf("%d packets between unknown addresses", n)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d peers on PlanetLab nodes %v (seed %d); wall time %v; round 0 began %.3f s virtual after the hosts started",
		peers, nodes, run.Seed, time.Since(wallStart).Round(time.Millisecond), out.Start.Sub(out.Begun).Seconds())
	return out, rtt, nodes
}

// PlanetLabPath is the shared 490-node PlanetLab RTT matrix (ms, row =
// sender), in the shared data beside the repository.
var PlanetLabPath = filepath.Join(repositoryRoot(), "..", "shared", "data", "rtt", "planetlab-490.tsv")

// repositoryRoot is the directory of go.mod: two levels above this file.
func repositoryRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SampleRTT loads the PlanetLab matrix and picks n of its nodes with the
// seeded draw the algorithm-level simulator uses (sims.MatrixNetwork), so
// both worlds place their peers on the same nodes. It skips the test when
// the shared data is absent.
func SampleRTT(t *testing.T, n int, seed uint64) (*topology.LatencyMatrix, []int) {
	t.Helper()
	if _, err := os.Stat(PlanetLabPath); err != nil {
		t.Skipf("PlanetLab RTT matrix not found at %s (shared test data beside the project): %v", PlanetLabPath, err)
	}
	m, err := topology.ReadLatencyMatrix(PlanetLabPath)
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

// PeersFromEnv is how many peers the PlanetLab runs place: 16, or the
// value of GRADMESH_SIMNET_PEERS (2 to 490) for a bigger or smaller sample.
func PeersFromEnv(t *testing.T) int {
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

// SeedFromEnv seeds the PlanetLab runs (node sample, identities, data): 1,
// or the value of GRADMESH_SIMNET_SEED.
func SeedFromEnv(t *testing.T) uint64 {
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
