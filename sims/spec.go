package sims

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

// Spec describes a simulation the way a researcher states it: names and
// numbers, as given on the command line. Prepare turns it into an Experiment.
// What the peers train is the embedded training.Recipe, the one a live mesh
// would share; the rest is the simulated world around them.
type Spec struct {
	Peers    int    `json:"peers"`
	Topology string `json:"topology"` // auto|edge|a graph (ring, exponential, ...)
	// Neighbors is the neighbor policy that chooses the overlay from
	// latencies (with a latency matrix or --topology edge): random, latency
	// or latency+long. Degree links per peer, LongLinks of them long-range,
	// exchanged every LongPeriod rounds.
	Neighbors  string `json:"neighbors"`
	Degree     int    `json:"degree"`
	LongLinks  int    `json:"long_links"`
	LongPeriod int    `json:"long_period"`
	// EdgePreset names the generated edge network (--topology edge), and
	// MobilitySeconds the virtual time between device moves (0: static).
	EdgePreset      string  `json:"edge_preset,omitempty"`
	MobilitySeconds float64 `json:"mobility_seconds,omitempty"`
	// MobilitySpeedup makes devices move that many times faster than the
	// virtual clock (1: real speed), so minutes of movement fit in a short run.
	MobilitySpeedup float64 `json:"mobility_speedup,omitempty"`
	Algo            string  `json:"algo"`
	// Aggregate is the rule every peer mixes with (training.ParseAggregator).
	Aggregate string `json:"aggregate"`
	// Recipe's fields stand in the JSON beside the others, as flags do.
	training.Recipe
	Weighting     string  `json:"weighting"` // samples|uniform
	Epochs        float64 `json:"epochs"`
	Rounds        int     `json:"rounds,omitempty"` // overrides Epochs when > 0
	LatencyMatrix string  `json:"latency_matrix,omitempty"`
	LatencyMS     float64 `json:"latency_ms"`     // one-way link delay without a matrix
	BandwidthMbps float64 `json:"bandwidth_mbps"` // each peer's uplink; 0 = unlimited
	PeerGFLOPS    float64 `json:"peer_gflops"`
	// RoundTimeoutMS, when set, gives simulated peers the live peer's
	// round deadlines (training.Pacer) under this --round-timeout, so that
	// rounds end by deadline as they would live. 0, the default, lets
	// every round wait for every vector: D-PSGD as written.
	RoundTimeoutMS float64 `json:"round_timeout_ms"`
	TargetAccuracy float64 `json:"target_accuracy,omitempty"`
	EvalEvery      int     `json:"eval_every"`   // 0: about 20 points per run
	EvalSamples    int     `json:"eval_samples"` // test samples at intermediate points; 0: all
}

// DefaultSpec is `gradmesh sim` with no flags: 16 peers running D-PSGD on the
// embedded digits data (training.DefaultRecipe), finishing in seconds.
func DefaultSpec() Spec {
	return Spec{
		Peers: 16, Topology: "auto", Algo: "dpsgd", Aggregate: training.DefaultAggregator,
		Neighbors: string(topology.PolicyLatencyLong), Degree: topology.DefaultSelectDegree, LongLinks: topology.DefaultSelectLong,
		LongPeriod: topology.DefaultLongPeriod, EdgePreset: "urban-6g", MobilitySpeedup: 1, Recipe: training.DefaultRecipe(),
		Weighting: string(WeightBySamples), Epochs: 40, LatencyMS: 10, BandwidthMbps: 100, PeerGFLOPS: 10,
		EvalSamples: 2000,
	}
}

// Algorithms the simulator runs.
var Algorithms = []string{"centralized", "local", "dpsgd"}

// Prepare loads and partitions the data, builds the model, overlay and
// network, and checks every value, so a bad flag fails before any work.
func (s Spec) Prepare() (*Experiment, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	recipe, err := s.Recipe.Prepare()
	if err != nil {
		return nil, err
	}
	train, test := recipe.Train, recipe.Test
	parts, err := recipe.Partition(s.Peers)
	if err != nil {
		return nil, err
	}
	e := &Experiment{Algo: s.Algo, Model: recipe.Model, Init: recipe.Init, Test: test, Optimizer: s.OptimizerConfig(),
		Order: s.MixOrder(), Batch: s.Batch, PeerFLOPS: s.PeerGFLOPS * 1e9,
		Target: s.TargetAccuracy, Seed: s.Seed, Weighting: Weighting(s.Weighting), Aggregate: s.Aggregate}

	if s.RoundTimeoutMS > 0 {
		e.Pacing = &training.PacerConfig{MaxRoundTimeout: time.Duration(s.RoundTimeoutMS * float64(time.Millisecond))}
	}
	e.Rounds = s.Rounds
	if e.Rounds == 0 {
		perPeer := float64(train.Len()) / float64(s.Peers)
		e.Rounds = max(1, int(math.Ceil(s.Epochs*perPeer/float64(s.Batch))))
	}
	switch s.Algo {
	case "centralized":
		// One model sees the samples of all peers each round: minibatch SGD
		// with the same total samples, the data-parallel baseline.
		e.Train = []*training.Dataset{train}
		e.Batch = s.Batch * s.Peers
	default:
		for _, idx := range parts {
			e.Train = append(e.Train, train.Subset(idx))
		}
	}
	src, err := s.latencies()
	if err != nil {
		return nil, err
	}
	if e.Network, err = s.network(len(e.Train), src); err != nil {
		return nil, err
	}
	if s.Algo == "dpsgd" {
		if err := s.overlay(src, e); err != nil {
			return nil, err
		}
		e.Mixing = topology.Metropolis(e.Graph)
		gap, _, err := topology.SpectralGap(e.Mixing.Dense(e.Graph))
		if err != nil {
			return nil, err
		}
		e.SpectralGap = &gap
	}
	if s.Algo != "centralized" {
		skew := training.LabelSkew(parts, train.Y, train.Classes)
		e.LabelSkew = &skew
	}
	if e.Schedule, err = s.LRSchedule(e.Rounds); err != nil {
		return nil, err
	}
	e.EvalEvery = s.EvalEvery
	if e.EvalEvery == 0 {
		e.EvalEvery = max(1, e.Rounds/20)
	}
	e.EvalTest = recipe.EvalSubset(s.EvalSamples)
	return e, nil
}

// Check reports the first value that cannot run, naming its flag, before any
// data is read: the simulated world's settings, then the embedded Recipe's
// (this method shadows Recipe.Check and runs it last).
func (s Spec) Check() error {
	switch {
	case s.Peers < 1:
		return fmt.Errorf("--peers %d: need at least 1 peer", s.Peers)
	case !slices.Contains(Algorithms, s.Algo):
		return fmt.Errorf("--algo %q: want one of %s", s.Algo, strings.Join(Algorithms, ", "))
	case s.Weighting != string(WeightBySamples) && s.Weighting != string(WeightUniform):
		return fmt.Errorf("--weighting %q: want samples or uniform", s.Weighting)
	case s.Rounds < 0:
		return fmt.Errorf("--rounds %d: want ≥ 0 (0 derives rounds from --epochs)", s.Rounds)
	case s.Rounds == 0 && !(s.Epochs > 0 && s.Epochs < 1e6):
		return fmt.Errorf("--epochs %g: want a number of passes > 0", s.Epochs)
	case !(s.LatencyMS >= 0) || math.IsInf(s.LatencyMS, 0):
		return fmt.Errorf("--latency %gms: want a finite delay ≥ 0", s.LatencyMS)
	case !(s.BandwidthMbps >= 0) || math.IsInf(s.BandwidthMbps, 0):
		return fmt.Errorf("--bandwidth %g: want Mbit/s ≥ 0 (0 = unlimited)", s.BandwidthMbps)
	case !(s.RoundTimeoutMS >= 0) || math.IsInf(s.RoundTimeoutMS, 0):
		return fmt.Errorf("--round-timeout %gms: want a finite duration ≥ 0 (0: rounds wait for every vector)", s.RoundTimeoutMS)
	case !(s.PeerGFLOPS > 0) || math.IsInf(s.PeerGFLOPS, 0):
		return fmt.Errorf("--peer-gflops %g: want a speed > 0", s.PeerGFLOPS)
	case !(s.TargetAccuracy >= 0 && s.TargetAccuracy <= 1):
		return fmt.Errorf("--target-accuracy %g: want a fraction in [0, 1]", s.TargetAccuracy)
	case s.EvalEvery < 0 || s.EvalSamples < 0:
		return fmt.Errorf("--eval-every and --eval-samples must be ≥ 0")
	case s.LongPeriod < 1:
		return fmt.Errorf("--long-period %d: want ≥ 1 round", s.LongPeriod)
	case !(s.MobilitySeconds >= 0) || math.IsInf(s.MobilitySeconds, 0):
		return fmt.Errorf("--mobility %gs: want a finite period ≥ 0 (0 = devices stay put)", s.MobilitySeconds)
	case s.MobilitySeconds > 0 && !(s.MobilitySpeedup > 0 && s.MobilitySpeedup <= 1e6):
		return fmt.Errorf("--mobility-speedup %g: want a factor in (0, 1e6]", s.MobilitySpeedup)
	case s.MobilitySeconds > 0 && s.Topology != "edge":
		return fmt.Errorf("--mobility needs --topology edge: only generated devices move")
	}
	if _, err := training.ParseAggregator(s.Aggregate); err != nil {
		return fmt.Errorf("--aggregate: %w", err)
	}
	return s.Recipe.Check()
}

// latencies loads or generates the run's round-trip times: nil for a
// uniform network.
func (s Spec) latencies() (*latencySource, error) {
	switch {
	case s.Topology == "edge" && s.LatencyMatrix != "":
		return nil, fmt.Errorf("--topology edge generates its own latencies: drop --latency-matrix")
	case s.Topology == "edge":
		cfg, err := topology.EdgePreset(s.EdgePreset)
		if err != nil {
			return nil, fmt.Errorf("--edge-preset: %w", err)
		}
		cfg.Devices = s.Peers
		en, err := topology.GenerateEdge(cfg, s.Seed)
		if err != nil {
			return nil, err
		}
		return &latencySource{rtt: en.RTT, ms: en.Matrix(), edge: en}, nil
	case s.LatencyMatrix != "":
		m, err := topology.ReadLatencyMatrix(s.LatencyMatrix)
		if err != nil {
			return nil, err
		}
		m.FillUnknown()
		nodes, err := sampleNodes(m.N, s.Peers, s.Seed)
		if err != nil {
			return nil, err
		}
		sub, err := m.Sub(nodes)
		if err != nil {
			return nil, err
		}
		rtt := func(i, j int) time.Duration { return time.Duration(sub.At(i, j) * float64(time.Millisecond)) }
		return &latencySource{rtt: rtt, ms: sub}, nil
	}
	return nil, nil
}

func (s Spec) network(peers int, src *latencySource) (*Network, error) {
	bps := s.BandwidthMbps * 1e6
	switch {
	case src == nil:
		return UniformNetwork(peers, s.LatencyMS/1000, bps), nil
	case src.edge != nil: // every device has its own radio rates
		return NetworkFromEdge(src.edge), nil
	}
	nw, _, err := MatrixNetwork(src.ms, peers, bps, s.Seed)
	return nw, err
}

// overlay fixes the graph peers mix over: a named graph, or one the
// neighbor policy chooses from the run's latencies.
func (s Spec) overlay(src *latencySource, e *Experiment) error {
	name := s.Topology
	if name == "auto" && src == nil {
		name = "exponential"
	}
	if name != "auto" && name != "edge" {
		g, err := topology.Parse(name, s.Peers, s.Seed)
		if err != nil {
			return err
		}
		if !g.Connected() {
			return fmt.Errorf("--topology %s with %d peers and seed %d is disconnected: peers in different components never agree (use a denser graph)",
				name, s.Peers, s.Seed)
		}
		e.Graph = g
		e.Overlay = &OverlayFacts{Policy: name, MeanDegree: 2 * float64(g.Edges()) / float64(g.N)}
		return nil
	}
	o, cfg, err := s.planOverlay(src, e)
	if err != nil {
		return err
	}
	e.Graph, e.Long, e.LongPeriod = o.Graph, o.IsAsync, s.LongPeriod
	if s.MobilitySeconds > 0 {
		e.Mobility = s.edgeMobility(src, cfg, o, e.Network.UplinkBitsPerSec)
	}
	return nil
}
