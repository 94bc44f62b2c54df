package gossip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// PeerConfig wires one training peer to its run.
type PeerConfig struct {
	// Transport reaches the run's other members (PubSubTransport on a live
	// mesh, MemNetwork in tests); the peer opens and closes it.
	Transport Transport
	// RTT measures the round-trip time to a connected peer (p2p.Host.RTT
	// live; tests inject their own latencies); may be nil. It may block
	// (a ping) and is called from its own goroutine, at most once at a time
	// per peer, every heartbeat period for the peers being probed.
	RTT func(ctx context.Context, id peer.ID) (p2p.RTTSample, error)
	// Device is what this peer computes on, announced in its heartbeats
	// (default: Name "cpu").
	Device wire.Device

	Run       string // training run name: peers of one run train one model
	ModelSpec string // model architecture (training.Model.Spec), part of the fingerprint
	Learning  Learning

	// Gradient computes the gradient of one local minibatch at params into
	// grad and returns its loss. It runs on the peer's compute goroutine.
	Gradient func(params, grad []float32) float64
	// Evaluate scores params on the peer's test set; may be nil.
	Evaluate  func(params []float32) training.Evaluation
	EvalEvery int // rounds between evaluations (default 10)
	Batch     int // samples per local step, for reporting throughput

	// Neighbors is how the peer chooses whom to mix with (policy, degree,
	// long links and their period, …). Every peer of a run must use the
	// same values: each derives the others' accepted sets from their
	// announcements. Zero fields take topology's defaults (latency+long,
	// degree 4, one long link exchanged every 2 rounds); a zero Seed is
	// derived from the run name, so that all peers of a run agree on it,
	// and a zero MessageBytes from the model's size on the wire.
	Neighbors topology.SelectConfig
	// UplinkBitsPerSec is this peer's uplink rate as its owner states it
	// (0: not stated). It travels in heartbeats, and under the
	// latency-aware policies caps this peer's links to what the uplink
	// sends within the run's uplink budget, so a slow uplink does not set
	// the pace of every round of the mesh.
	UplinkBitsPerSec float64

	MinPeers        int           // other run members to wait for before round 0 (default 1)
	MaxRoundTimeout time.Duration // longest a round waits for neighbors (default training.DefaultRoundTimeout)
	Heartbeat       time.Duration // control-topic announcement period (default 1 s)
	ShardBytes      int           // target encoded shard size (default wire.DefaultShardBytes)
	// Codec encodes this peer's vectors (default wire.Float32); it receives
	// any registered codec.
	Codec  wire.Codec
	Logger *slog.Logger

	// GPUStatus reports where this peer's steps run, for /status and
	// /metrics; may be nil. Called from any goroutine.
	GPUStatus func() GPUStatus
}

// Learning is what the peer's training.Node learns with: the run's initial
// model, optimizer and schedule, this peer's share of the data, and how it
// mixes. A peer that catches up builds a new node from it.
type Learning struct {
	Init       []float32
	Optimizer  training.OptimizerConfig
	Schedule   training.Schedule
	Rounds     int
	DataWeight float64 // n_i / n̄; 0 means 1
	Order      training.MixOrder
	// Aggregate names the rule the node mixes with (training.ParseAggregator;
	// "" is training.DefaultAggregator).
	Aggregate string
}

func (c *PeerConfig) setDefaults() {
	if c.EvalEvery <= 0 {
		c.EvalEvery = 10
	}
	c.Neighbors = c.Neighbors.WithDefaults()
	if c.Neighbors.Seed == 0 {
		c.Neighbors.Seed = wire.RunSeed(c.Run)
	}
	c.MinPeers = max(c.MinPeers, 1)
	c.MaxRoundTimeout = cmp.Or(max(c.MaxRoundTimeout, 0), training.DefaultRoundTimeout)
	c.Heartbeat = cmp.Or(max(c.Heartbeat, 0), time.Second)
	c.ShardBytes = cmp.Or(max(c.ShardBytes, 0), wire.DefaultShardBytes)
	if c.Codec == nil {
		c.Codec = wire.Float32
	}
	if c.Neighbors.MessageBytes == 0 {
		c.Neighbors.MessageBytes = wire.VectorBytes(c.Codec, len(c.Learning.Init), c.ShardBytes)
	}
	c.Learning.DataWeight = cmp.Or(c.Learning.DataWeight, 1)
	c.Learning.Aggregate = cmp.Or(c.Learning.Aggregate, training.DefaultAggregator)
	c.Device.Name = cmp.Or(c.Device.Name, "cpu")
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// check refuses a configuration the peer cannot run with, naming the field.
func (c *PeerConfig) check() error {
	switch {
	case c.Transport == nil:
		return errors.New("gossip: peer needs a Transport")
	case c.Gradient == nil:
		return errors.New("gossip: peer needs a Gradient function")
	case len(c.Learning.Init) == 0:
		return errors.New("gossip: peer needs initial parameters")
	case c.Learning.Rounds < 1:
		return fmt.Errorf("gossip: %d rounds, want ≥ 1", c.Learning.Rounds)
	case c.Run == "":
		return errors.New("gossip: peer needs a run name")
	case c.Device.MemoryBytes > wire.MaxDeviceMemory:
		return fmt.Errorf("gossip: PeerConfig.Device: memory %d bytes, at most %d", c.Device.MemoryBytes, uint64(wire.MaxDeviceMemory))
	case !(c.UplinkBitsPerSec >= 0) || c.UplinkBitsPerSec > wire.MaxUplinkBitsPerSec:
		return fmt.Errorf("gossip: PeerConfig.UplinkBitsPerSec %g, want 0 (not stated) to %g", c.UplinkBitsPerSec, float64(wire.MaxUplinkBitsPerSec))
	case c.Neighbors.MaxDegree > wire.MaxProposals || c.Neighbors.Degree > wire.MaxProposals:
		return fmt.Errorf("gossip: PeerConfig.Neighbors: degree %d and max degree %d, at most %d (a heartbeat's proposals)",
			c.Neighbors.Degree, c.Neighbors.MaxDegree, wire.MaxProposals)
	}
	if err := wire.CheckDeviceName(c.Device.Name); err != nil {
		return fmt.Errorf("gossip: PeerConfig.Device: %w", err)
	}
	if err := c.Neighbors.Validate(); err != nil {
		return fmt.Errorf("gossip: PeerConfig.Neighbors: %w", err)
	}
	if reg, ok := wire.CodecFor(c.Codec.Encoding()); !ok || reg.Name() != c.Codec.Name() {
		return fmt.Errorf("gossip: PeerConfig.Codec: %s (encoding %d) is not registered (wire.RegisterCodec)", c.Codec.Name(), c.Codec.Encoding())
	}
	if _, err := training.ParseAggregator(c.Learning.Aggregate); err != nil {
		return fmt.Errorf("gossip: PeerConfig.Learning: %w", err)
	}
	return nil
}
