package sims

import (
	"fmt"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// Experiment is a fully resolved simulation: data already partitioned, model
// built, overlay and network fixed. Prepare builds one from a Spec; tests may
// build one by hand.
type Experiment struct {
	Algo     string              // "centralized", "local" or "dpsgd"
	Model    training.Model      // prototype; every worker clones it
	Init     []float32           // x₀, shared by all peers
	Train    []*training.Dataset // one per simulated peer
	Test     *training.Dataset   // final evaluation
	EvalTest *training.Dataset   // intermediate evaluation points (a subset of Test, or Test)
	Graph    *topology.Graph     // overlay for dpsgd; nil otherwise
	Mixing   *topology.Mixing    // weights on Graph
	// Long tells which overlay edges are long links, mixed asynchronously
	// every LongPeriod rounds (training.Neighbor.Long); nil means none.
	Long       func(i, j int) bool
	LongPeriod int
	// Mobility, when set, changes the network and re-plans the overlay
	// while the simulation runs.
	Mobility  *Mobility
	Network   *Network
	Optimizer training.OptimizerConfig
	// Aggregate names the rule every peer mixes with (training.ParseAggregator;
	// "" is training.DefaultAggregator).
	Aggregate string
	Schedule  training.Schedule
	Weighting Weighting         // how much each peer's steps count
	Order     training.MixOrder // local step before or after mixing
	Batch     int               // samples per local step
	Rounds    int               // rounds every peer runs
	EvalEvery int               // rounds between evaluation points
	PeerFLOPS float64           // compute speed of every peer, FLOP/s
	// ComputeTime, when set, is the virtual seconds peer's local step of round
	// takes instead of the model's FLOPs at PeerFLOPS: stragglers, stalls.
	ComputeTime func(peer, round int) float64
	// Pacing, when set, gives every peer a round deadline under the live
	// peer's rules (training.Pacer); nil lets every round wait for all its
	// vectors, however late.
	Pacing *training.PacerConfig
	// Codec encodes vectors on the wire (nil: wire.Float32) and ShardBytes
	// bounds a shard (0: wire.DefaultShardBytes): a message costs exactly
	// what a live peer sends (wire.VectorBytes).
	Codec      wire.Codec
	ShardBytes int
	Target     float64 // accuracy whose first crossing is timed; 0 for none
	Seed       uint64
	Workers    int                   // goroutines computing steps; 0 means GOMAXPROCS
	Progress   func(done, total int) // rounds finished over all peers; may be nil
	// Observe, when set, sees every finished round of every peer, at its
	// virtual time, from the event loop.
	Observe func(peer int, r training.RoundResult, at float64)

	// Facts about the setup that the summary reports; nil when they do not apply.
	SpectralGap *float64 // 1 − |λ₂(W)| of the overlay's mixing matrix
	LabelSkew   *float64 // mean total-variation distance of peers' label mix from the global one
	Overlay     *OverlayFacts
}

// OverlayFacts describes the overlay a run mixed over, for the summary.
type OverlayFacts struct {
	Policy     string  `json:"policy"`      // neighbor policy, or the fixed graph's name
	MeanDegree float64 `json:"mean_degree"` // active links per peer
	AsyncLinks int     `json:"async_links"` // links mixed asynchronously (slower than AsyncRTT, or long of unknown RTT)
	// MeanLinkRTTMs is the mean round-trip time over the overlay's links, ms.
	MeanLinkRTTMs float64 `json:"mean_link_rtt_ms"`
	// PlanIterations is how many heartbeat exchanges the neighbor protocol
	// took to settle (0 for a fixed graph).
	PlanIterations int `json:"plan_iterations"`
	// UplinkCapped counts the peers whose uplink allows fewer links than
	// MaxDegree (topology.SelectConfig.LinkCapacity).
	UplinkCapped int `json:"uplink_capped"`
}

// Mobility moves the simulated devices every Every virtual seconds. Move
// returns the new one-way delays (nil when no device changed its
// attachment) and, when the peers re-plan, their new overlay.
type Mobility struct {
	Every float64
	Move  func(now float64) (MobilityUpdate, error)
}

// MobilityUpdate is what one mobility step changed.
type MobilityUpdate struct {
	OneWay []float64           // new delays, as Network.OneWay; nil for none
	Graph  *topology.Graph     // new overlay; nil keeps the current one
	Long   func(i, j int) bool // long edges of Graph
}

// Weighting says how much each peer's local steps count in the mesh.
type Weighting string

const (
	// WeightBySamples scales a peer's steps by its data share n_i/n̄, so the
	// mesh minimises the loss over all samples, as the centralized baseline does.
	WeightBySamples Weighting = "samples"
	// WeightUniform gives every peer the same step: the mesh minimises the
	// unweighted mean of per-peer losses (plain D-PSGD).
	WeightUniform Weighting = "uniform"
)

func (e *Experiment) peers() int { return len(e.Train) }

func (e *Experiment) validate() error {
	switch {
	case e.peers() == 0:
		return fmt.Errorf("sims: experiment has no peers")
	case e.Rounds < 1:
		return fmt.Errorf("sims: %d rounds, want ≥ 1", e.Rounds)
	case e.Batch < 1:
		return fmt.Errorf("sims: batch of %d, want ≥ 1", e.Batch)
	case len(e.Init) != e.Model.NumParams():
		return fmt.Errorf("sims: initial vector has %d values, model %s has %d", len(e.Init), e.Model.Spec(), e.Model.NumParams())
	case e.Algo == "dpsgd" && (e.Graph == nil || e.Mixing == nil || e.Graph.N != e.peers()):
		return fmt.Errorf("sims: dpsgd needs an overlay graph on all %d peers", e.peers())
	case e.Mobility != nil && !(e.Mobility.Every > 0):
		return fmt.Errorf("sims: mobility every %g virtual seconds, want > 0", e.Mobility.Every)
	case e.Network == nil || e.Network.N < e.peers():
		return fmt.Errorf("sims: network model covers fewer than %d peers", e.peers())
	case !(e.PeerFLOPS > 0):
		return fmt.Errorf("sims: peer compute speed %g FLOP/s, want > 0", e.PeerFLOPS)
	}
	for i, d := range e.Train {
		if d.Len() == 0 {
			return fmt.Errorf("sims: peer %d has no training data", i)
		}
	}
	return nil
}

// evalPoints lists the completed-round counts at which the peers are scored:
// 0, every EvalEvery rounds, and the last round.
func (e *Experiment) evalPoints() []int {
	every := max(e.EvalEvery, 1)
	pts := []int{0}
	for k := every; k < e.Rounds; k += every {
		pts = append(pts, k)
	}
	return append(pts, e.Rounds)
}

// computeSeconds is the virtual duration of peer's local step of round.
func (e *Experiment) computeSeconds(peer, round int) float64 {
	if e.ComputeTime != nil {
		return e.ComputeTime(peer, round)
	}
	return e.Model.TrainFLOPs() * float64(e.Batch) / e.PeerFLOPS
}

// MessageBytes is the size of one parameter message on the wire, as a live
// peer encodes it.
func (e *Experiment) MessageBytes() int {
	c, shard := e.Codec, e.ShardBytes
	if c == nil {
		c = wire.Float32
	}
	if shard <= 0 {
		shard = wire.DefaultShardBytes
	}
	return wire.VectorBytes(c, e.Model.NumParams(), shard)
}
