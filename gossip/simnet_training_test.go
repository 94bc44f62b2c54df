package gossip_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
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
	Link      simLink
}

// simRunName names every simulated run; the neighbor policy's seed derives from it.
const simRunName = "simnet"

// simData is what every peer of a run shares before it has a network.
type simData struct {
	run         simRun
	train, test *training.Dataset
	model       training.Model
	init        []float32
	parts       [][]int
	schedule    training.Schedule
}

func newSimData(t *testing.T, run simRun, peers int) *simData {
	t.Helper()
	train, test, err := training.LoadDataset("digits", "", 0.2, run.Seed)
	if err != nil {
		t.Fatal(err)
	}
	model, err := training.ParseModel(run.Model, train.Dim, train.Classes)
	if err != nil {
		t.Fatal(err)
	}
	// Seeds as the algorithm-level simulator draws them, so both worlds
	// start from the same model and shards.
	init := make([]float32, model.NumParams())
	model.Init(init, rand.New(rand.NewPCG(run.Seed, 0x696e6974)))
	parts, err := training.Partition("iid", train.Y, train.Classes, peers, run.Seed)
	if err != nil {
		t.Fatal(err)
	}
	schedule, err := training.ParseSchedule("cosine", run.LR, 0, run.Rounds)
	if err != nil {
		t.Fatal(err)
	}
	return &simData{run: run, train: train, test: test, model: model, init: init, parts: parts, schedule: schedule}
}

// peerTrace is what one simulated peer did, on the virtual clock.
type peerTrace struct {
	id      string
	mu      sync.Mutex
	started map[int]time.Time     // round -> when its local step began
	models  map[int][]float32     // round k -> model at the start of round k, every EvalEvery rounds
	status  map[int]gossip.Status // round -> the peer's status when it began the round
	ended   time.Time             // when Run returned
	sum     *gossip.Summary
	err     error
}

func (tr *peerTrace) noteStep(p *gossip.Peer, round int, params []float32, keep bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, again := tr.started[round]; again {
		return // a round retried after a catch-up: its first start counts
	}
	tr.started[round] = time.Now()
	tr.status[round] = p.Status()
	if keep {
		tr.models[round] = slices.Clone(params)
	}
}

// simOutcome is a finished protocol-level run.
type simOutcome struct {
	data   *simData
	traces []*peerTrace
	begun  time.Time // when the hosts were up and the peers about to start
	start  time.Time // the first local step of round 0, on any peer
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
	stepTime := time.Duration(0)
	if run.PeerFLOPS > 0 {
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
		tr := &peerTrace{id: h.ID().String(), started: map[int]time.Time{}, models: map[int][]float32{},
			status: map[int]gossip.Status{}}
		out.traces[i] = tr
		scorer := gossip.NewScorer()
		ps, err := gossip.NewPubSub(ctx, h, scorer)
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		shard := data.train.Subset(data.parts[i])
		sampler := training.NewBatchSampler(shard.Len(), rand.New(rand.NewPCG(run.Seed, uint64(i)+1)))
		stepModel, evalModel := data.model.Clone(), data.model.Clone()
		var idx []int
		var bx []float32
		var by []int32
		self := i
		peers[i], err = gossip.NewPeer(gossip.PeerConfig{
			Host: h, PubSub: ps, Scorer: scorer, RTT: (&p2p.Host{Host: h}).RTT,
			Run: simRunName, ModelSpec: data.model.Spec(), Init: data.init,
			Optimizer: training.OptimizerConfig{Kind: "sgd", Momentum: 0.9}, Schedule: data.schedule,
			Rounds: run.Rounds, Order: training.AdaptThenCombine,
			DataWeight: float64(shard.Len()) * float64(n) / float64(data.train.Len()),
			Step: func(params, grad []float32) float64 {
				r := peers[self].Round()
				fire(r)
				tr.noteStep(peers[self], r, params, r%run.EvalEvery == 0)
				idx = sampler.Next(idx[:0], run.Batch)
				bx, by = shard.Batch(idx, bx, by)
				loss := stepModel.LossGrad(params, grad, bx, by)
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
	if err := w.connectAll(ctx); err != nil {
		t.Error(err)
		cancel()
	}
	wg.Wait()
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

// meshPoint is the mesh once every peer has begun round Round.
type meshPoint struct {
	Round        int
	Virtual      time.Duration // since the first step of round 0, when the slowest peer got there
	AccuracyMean float64
	AccuracyMin  float64
}

// curve scores every peer's recorded models, round by round, as the
// algorithm-level simulator's records do; the last point is the peers' own
// final evaluation when they finished.
func (o *simOutcome) curve() ([]meshPoint, error) {
	var pts []meshPoint
	for k := 0; k < o.data.run.Rounds; k += o.data.run.EvalEvery {
		pt := meshPoint{Round: k, AccuracyMin: 1}
		for i, tr := range o.traces {
			m, ok := tr.models[k]
			if !ok {
				return nil, fmt.Errorf("peer %d has no model for round %d (it began at round %d)", i, k, minKey(tr.started))
			}
			acc := training.Evaluate(o.data.model, m, o.data.test).Accuracy
			pt.AccuracyMean += acc / float64(len(o.traces))
			pt.AccuracyMin = min(pt.AccuracyMin, acc)
			pt.Virtual = max(pt.Virtual, tr.started[k].Sub(o.start))
		}
		pts = append(pts, pt)
	}
	last := meshPoint{Round: o.data.run.Rounds, AccuracyMin: 1}
	for i, tr := range o.traces {
		if tr.sum == nil || tr.sum.Rounds < o.data.run.Rounds {
			return nil, fmt.Errorf("peer %d did not finish its %d rounds", i, o.data.run.Rounds)
		}
		last.AccuracyMean += tr.sum.FinalTestAccuracy / float64(len(o.traces))
		last.AccuracyMin = min(last.AccuracyMin, tr.sum.FinalTestAccuracy)
		last.Virtual = max(last.Virtual, tr.ended.Sub(o.start))
	}
	return append(pts, last), nil
}

// index is the host index of a peer ID; -1 if it is none of the run's.
func (o *simOutcome) index(id string) int {
	return slices.IndexFunc(o.traces, func(tr *peerTrace) bool { return tr.id == id })
}

// neighborRTTs lists, for every peer at round k, each neighbor's RTT as the
// peer measured it live beside the RTT the matrix gives the pair (the mean
// of both directions: a round trip crosses each once).
func (o *simOutcome) neighborRTTs(k int, rtt *topology.LatencyMatrix) (measured, matrix []float64, err error) {
	for i, tr := range o.traces {
		st, ok := tr.status[k]
		if !ok {
			return nil, nil, fmt.Errorf("peer %d has no status at round %d", i, k)
		}
		for _, nb := range st.Neighbors {
			j := o.index(nb.PeerID)
			if j < 0 {
				return nil, nil, fmt.Errorf("peer %d lists neighbor %s, which is no peer of the run", i, nb.PeerID)
			}
			if nb.RTTms == 0 {
				continue // not measured yet
			}
			measured = append(measured, nb.RTTms)
			matrix = append(matrix, (rtt.At(i, j)+rtt.At(j, i))/2)
		}
	}
	return measured, matrix, nil
}

// overlay is the neighbor graph the peers mixed on at round k, by host
// index; an edge one side lists counts for both.
func (o *simOutcome) overlay(k int) ([][]int, error) {
	n := len(o.traces)
	set := make([]map[int]bool, n)
	for i := range set {
		set[i] = map[int]bool{}
	}
	for i, tr := range o.traces {
		st, ok := tr.status[k]
		if !ok {
			return nil, fmt.Errorf("peer %d has no status at round %d", i, k)
		}
		for _, nb := range st.Neighbors {
			j := o.index(nb.PeerID)
			if j < 0 {
				return nil, fmt.Errorf("peer %d lists neighbor %s, which is no peer of the run", i, nb.PeerID)
			}
			set[i][j], set[j][i] = true, true
		}
	}
	adj := make([][]int, n)
	for i, s := range set {
		for j := range s {
			adj[i] = append(adj[i], j)
		}
		slices.Sort(adj[i])
	}
	return adj, nil
}

// timeToTarget is the virtual time of the first point whose mean accuracy
// reaches target.
func timeToTarget(pts []meshPoint, target float64) (meshPoint, bool) {
	for _, p := range pts {
		if p.AccuracyMean >= target {
			return p, true
		}
	}
	return meshPoint{}, false
}

func minKey(m map[int]time.Time) int {
	first := -1
	for k := range m {
		if first < 0 || k < first {
			first = k
		}
	}
	return first
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
