package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// PeerConfig wires one training peer to the mesh.
type PeerConfig struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	Scorer *Scorer
	// Protect keeps (true) or releases (false) the connection to a chosen
	// neighbor in the connection manager; may be nil.
	Protect func(id peer.ID, keep bool)
	// RTT measures the round-trip time to a connected peer (p2p.Host.RTT
	// live; tests inject their own latencies); may be nil. It may block
	// (a ping) and is called from its own goroutine, at most once at a time
	// per peer, every heartbeat period for the peers being probed.
	RTT func(ctx context.Context, id peer.ID) (p2p.RTTSample, error)
	// wire.Device is what this peer computes on, announced in its heartbeats
	// (default: Name "cpu").
	Device wire.Device

	Run        string // training run name: peers of one run train one model
	ModelSpec  string // model architecture (training.Model.Spec), part of the fingerprint
	Init       []float32
	Optimizer  training.OptimizerConfig
	Schedule   training.Schedule
	Rounds     int
	DataWeight float64 // n_i / n̄; 0 means 1
	Order      training.MixOrder

	// Step computes the gradient of one local minibatch at params into grad
	// and returns its loss. It runs on the peer's compute goroutine.
	Step func(params, grad []float32) float64
	// Evaluate scores params on the peer's test set; may be nil.
	Evaluate  func(params []float32) training.Evaluation
	EvalEvery int // rounds between evaluations (default 10)

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

	Batch           int           // samples per local step, for reporting throughput
	MinPeers        int           // other run members to wait for before round 0 (default 1)
	MaxRoundTimeout time.Duration // longest a round waits for neighbors (default 5 s)
	Heartbeat       time.Duration // control-topic announcement period (default 1 s)
	ShardBytes      int           // target encoded shard size (default 256 KiB)
	Logger          *slog.Logger

	// GPUStatus reports where this peer's steps run, for /status and
	// /metrics; may be nil. Called from any goroutine.
	GPUStatus func() GPUStatus
}

func (c *PeerConfig) setDefaults() {
	if c.EvalEvery <= 0 {
		c.EvalEvery = 10
	}
	c.Neighbors = c.Neighbors.WithDefaults()
	if c.Neighbors.Seed == 0 {
		c.Neighbors.Seed = wire.RunSeed(c.Run)
	}
	if c.MinPeers <= 0 {
		c.MinPeers = 1
	}
	if c.MaxRoundTimeout <= 0 {
		c.MaxRoundTimeout = 5 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.ShardBytes <= 0 {
		c.ShardBytes = wire.DefaultShardBytes
	}
	if c.Neighbors.MessageBytes == 0 {
		c.Neighbors.MessageBytes = wire.VectorBytes(wire.Float32, len(c.Init), c.ShardBytes)
	}
	if c.DataWeight == 0 {
		c.DataWeight = 1
	}
	if c.Device.Name == "" {
		c.Device.Name = "cpu"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Peer runs decentralized SGD over gossipsub: the same training.Node as the
// simulator, driven by wall-clock deadlines and the network.
type Peer struct {
	cfg   PeerConfig
	log   *slog.Logger
	self  peer.ID
	run   [16]byte
	model [16]byte

	node  *training.Node
	round atomic.Uint64 // node's round, read by validators
	asm   *wire.Assembler

	longAsm *wire.Assembler // long neighbors' vectors, which arrive rounds late

	control   *pubsub.Topic
	own       *pubsub.Topic // parameter topic: near neighbors follow it
	ownLong   *pubsub.Topic // long topic: long neighbors follow it
	neighbors map[peer.ID]*neighbor
	links     []link // active links, sorted by ID, as handed to the node
	// finalLinks are the links of the last round, for the summary: members
	// leave the control topic as they finish, so the links at exit are fewer.
	finalLinks    []link
	heard         map[peer.ID]*heardBeat // latest heartbeat per member
	sentRound     map[peer.ID]uint64     // latest round of a shard received from each peer
	planner       *topology.Planner      // neighbor selection
	vivaldi       *topology.Vivaldi      // this peer's network coordinate
	coordErrorMax float64                // a coordinate's error until it has been fitted to a sample
	proposals     []topology.Link        // announced in each heartbeat
	idOf          map[string]peer.ID     // members by their string form, from the last plan

	inbox     chan inbound
	stepped   chan stepResult
	evaluated chan evalResult
	jobs      chan func()
	measured  chan measured
	probing   map[peer.ID]bool // probes in flight
	rtt       rttTable
	wg        sync.WaitGroup // goroutines Run started; Run waits for them

	pacer    *training.Pacer // when a round gives up waiting
	deadline *time.Timer     // armed by the pacer

	stats   stats
	current atomic.Pointer[[]float32] // latest model, served to peers that catch up

	caps capabilityTable // members' announced devices, for /status
}

type inbound struct {
	from  peer.ID
	long  bool // arrived on the sender's long topic
	shard *wire.Shard
}

type stepResult struct {
	round int
	grad  []float32
	loss  float64
}

type evalResult struct {
	round int
	eval  training.Evaluation
}

// NewPeer checks the configuration and joins the run's topics.
func NewPeer(cfg PeerConfig) (*Peer, error) {
	cfg.setDefaults()
	switch {
	case cfg.Host == nil || cfg.PubSub == nil || cfg.Scorer == nil:
		return nil, errors.New("gossip: peer needs a host, a pubsub and a scorer")
	case cfg.Step == nil:
		return nil, errors.New("gossip: peer needs a Step function")
	case len(cfg.Init) == 0:
		return nil, errors.New("gossip: peer needs initial parameters")
	case cfg.Rounds < 1:
		return nil, fmt.Errorf("gossip: %d rounds, want ≥ 1", cfg.Rounds)
	case cfg.Run == "":
		return nil, errors.New("gossip: peer needs a run name")
	}
	if err := wire.CheckDeviceName(cfg.Device.Name); err != nil {
		return nil, fmt.Errorf("gossip: PeerConfig.Device: %w", err)
	}
	if cfg.Device.MemoryBytes > wire.MaxDeviceMemory {
		return nil, fmt.Errorf("gossip: PeerConfig.Device: memory %d bytes, at most %d", cfg.Device.MemoryBytes, uint64(wire.MaxDeviceMemory))
	}
	if err := cfg.Neighbors.Validate(); err != nil {
		return nil, fmt.Errorf("gossip: PeerConfig.Neighbors: %w", err)
	}
	if !(cfg.UplinkBitsPerSec >= 0) || cfg.UplinkBitsPerSec > wire.MaxUplinkBitsPerSec {
		return nil, fmt.Errorf("gossip: PeerConfig.UplinkBitsPerSec %g, want 0 (not stated) to %g", cfg.UplinkBitsPerSec, float64(wire.MaxUplinkBitsPerSec))
	}
	if cfg.Neighbors.MaxDegree > wire.MaxProposals || cfg.Neighbors.Degree > wire.MaxProposals {
		return nil, fmt.Errorf("gossip: PeerConfig.Neighbors: degree %d and max degree %d, at most %d (a heartbeat's proposals)",
			cfg.Neighbors.Degree, cfg.Neighbors.MaxDegree, wire.MaxProposals)
	}
	self := cfg.Host.ID()
	planner, err := topology.NewPlanner(self.String(), cfg.Neighbors)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	planner.SetUplink(float64(wire.UplinkKbps(cfg.UplinkBitsPerSec)) * 1000) // as the others will read it
	vcfg := topology.DefaultVivaldiConfig()
	vcfg.Seed = wire.RunSeed(string(self)) // reproducible for a given identity
	vivaldi, err := topology.NewVivaldi(vcfg)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	p := &Peer{cfg: cfg, log: cfg.Logger, self: self, run: wire.RunID(cfg.Run),
		model:     wire.ModelFingerprint(cfg.ModelSpec, len(cfg.Init)),
		neighbors: map[peer.ID]*neighbor{}, heard: map[peer.ID]*heardBeat{}, sentRound: map[peer.ID]uint64{},
		planner: planner, vivaldi: vivaldi, coordErrorMax: vcfg.ErrorMax, idOf: map[string]peer.ID{},
		inbox: make(chan inbound, 4096), stepped: make(chan stepResult, 1),
		evaluated: make(chan evalResult, 4), jobs: make(chan func(), 4),
		measured: make(chan measured, 64), probing: map[peer.ID]bool{}}
	p.pacer = training.NewPacer(training.PacerConfig{MaxRoundTimeout: cfg.MaxRoundTimeout, LongPeriod: cfg.Neighbors.LongPeriod})
	senders := 2*cfg.Neighbors.MaxDegree + 16 // room for neighbors that just left or just came
	p.asm = wire.NewAssembler(len(cfg.Init), senders, 2*training.DefaultWindow+1)
	p.longAsm = wire.NewAssembler(len(cfg.Init), senders, 2*training.DefaultWindow+1)
	init := slices.Clone(cfg.Init)
	p.current.Store(&init)
	if p.control, err = cfg.PubSub.Join(wire.ControlTopic(p.run)); err != nil {
		return nil, fmt.Errorf("gossip: joining the control topic: %w", err)
	}
	if err = cfg.PubSub.RegisterTopicValidator(wire.ControlTopic(p.run), p.validateHeartbeat); err != nil {
		return nil, fmt.Errorf("gossip: control validator: %w", err)
	}
	if p.own, err = cfg.PubSub.Join(wire.ParamTopic(p.run, p.self)); err != nil {
		return nil, fmt.Errorf("gossip: joining own parameter topic: %w", err)
	}
	if p.ownLong, err = cfg.PubSub.Join(wire.LongTopic(p.run, p.self)); err != nil {
		return nil, fmt.Errorf("gossip: joining own long topic: %w", err)
	}
	p.stats.policy = string(cfg.Neighbors.Policy)
	return p, nil
}

// Run trains until the last round or until ctx ends, then returns what it
// achieved. The peer stays in the mesh (receiving and mixing) the whole time.
func (p *Peer) Run(ctx context.Context) (*Summary, error) {
	// Deferred calls run last-first: cancel the goroutines, then wait for them.
	defer p.wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.wg.Add(1)
	go func() { // compute goroutine: steps and evaluations, one at a time
		defer p.wg.Done()
		for {
			select {
			case job := <-p.jobs:
				job()
			case <-ctx.Done():
				return
			}
		}
	}()
	sub, err := p.control.Subscribe()
	if err != nil {
		return p.summary(), fmt.Errorf("gossip: subscribing to the control topic: %w", err)
	}
	heartbeats := make(chan *heardBeat, 256)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer sub.Cancel()
		p.readHeartbeats(ctx, sub, heartbeats)
	}()
	defer p.leaveAll()

	if err := p.start(ctx, heartbeats); err != nil {
		return p.summary(), err
	}
	beat := time.NewTicker(p.cfg.Heartbeat)
	defer beat.Stop()
	p.deadline = time.NewTimer(time.Hour)
	defer p.deadline.Stop()
	p.node.Start()
	p.handleReady(ctx)
	p.publishHeartbeat(ctx)
	for !p.node.Done() {
		select {
		case <-ctx.Done():
			return p.summary(), ctx.Err()
		case r := <-p.stepped:
			if err := p.node.StepDone(r.round, r.grad, r.loss); err != nil {
				p.log.Warn("step result refused", "err", err)
			}
		case in := <-p.inbox:
			p.receive(in)
		case <-p.deadline.C:
			p.expire()
		case hb := <-heartbeats:
			p.noteHeartbeat(ctx, hb)
		case ev := <-p.evaluated:
			p.stats.setEval(ev.round, ev.eval)
		case m := <-p.measured:
			p.noteMeasured(m)
		case <-beat.C:
			p.plan(ctx)
			p.publishHeartbeat(ctx)
		}
		p.handleReady(ctx)
	}
	final := p.evaluateNow(ctx)
	p.stats.setEval(p.node.Round(), final)
	p.publishHeartbeat(ctx)
	return p.summary(), nil
}

// Round is the round in progress; safe from any goroutine.
func (p *Peer) Round() int { return int(p.round.Load()) }

// start waits for the run's first members, then decides where training
// begins: at round 0, or, when the members are already more than half a
// window ahead, at their round with their model.
func (p *Peer) start(ctx context.Context, heartbeats <-chan *heardBeat) error {
	p.log.Info("waiting for run members", "run", p.cfg.Run, "want", p.cfg.MinPeers)
	if err := p.await(ctx, heartbeats, nil, func() bool { return len(p.members()) >= p.cfg.MinPeers }); err != nil {
		return err
	}
	if err := p.settle(ctx, heartbeats); err != nil {
		return err
	}
	startRound, params := 0, p.cfg.Init
	if behind := p.meshRound(nil); behind > training.DefaultWindow/2 {
		r, adopted, err := p.fetchModel(ctx, p.peersAhead(behind))
		if err != nil {
			p.log.Warn("could not adopt the mesh's model; starting fresh", "err", err)
		} else if r < p.cfg.Rounds {
			startRound, params = r, adopted
			p.log.Info("joined a run in progress", "round", r)
		}
	}
	return p.resetNode(startRound, params)
}

// settlePlans bounds how many heartbeat periods a starting peer spends
// agreeing on its neighbors before round 0.
const settlePlans = 10

// settle agrees on neighbors before round 0: it announces, plans and probes
// once a heartbeat period until the active links have stayed the same, and
// non-empty, over three plans, or for at most settlePlans periods. Members
// need a period to hear each proposal and another to answer it, and our
// neighbors need the time to subscribe to our topics.
func (p *Peer) settle(ctx context.Context, heartbeats <-chan *heardBeat) error {
	beat := time.NewTicker(p.cfg.Heartbeat)
	defer beat.Stop()
	p.plan(ctx)
	p.publishHeartbeat(ctx)
	stable := 0
	for plans := 1; stable < 2 && plans < settlePlans; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case hb := <-heartbeats:
			p.heard[hb.from] = hb
		case m := <-p.measured:
			p.noteMeasured(m)
		case <-beat.C:
			before := p.links
			p.plan(ctx)
			p.publishHeartbeat(ctx)
			plans++
			if len(p.links) > 0 && slices.Equal(before, p.links) {
				stable++
			} else {
				stable = 0
			}
		}
	}
	p.log.Info("neighbors agreed", "neighbors", len(p.links), "stable", stable >= 2)
	return nil
}

// await records heartbeats and calls tick every 50 ms until tick reports
// true, until is closed (or fires), or ctx ends.
func (p *Peer) await(ctx context.Context, heartbeats <-chan *heardBeat, until <-chan time.Time, tick func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !tick() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case hb := <-heartbeats:
			p.heard[hb.from] = hb
		case m := <-p.measured:
			p.noteMeasured(m)
		case <-t.C:
		case <-until:
			return nil
		}
	}
	return nil
}

func (p *Peer) resetNode(round int, params []float32) error {
	self, nb := p.nodeNeighbors()
	node, err := training.NewNode(training.NodeConfig{ID: training.PeerID(p.self), Params: params, SelfWeight: self,
		Neighbors: nb, Optimizer: p.cfg.Optimizer.New(len(params)), Schedule: p.cfg.Schedule, Rounds: p.cfg.Rounds,
		StartRound: round, Window: training.DefaultWindow, DataWeight: p.cfg.DataWeight, Order: p.cfg.Order,
		LongPeriod: p.cfg.Neighbors.LongPeriod})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	p.node = node
	p.round.Store(uint64(round))
	p.dropBefore(round)
	p.stats.noteStart(round)
	return nil
}

// handleReady carries out what the node asked for.
func (p *Peer) handleReady(ctx context.Context) {
	rd := p.node.Ready()
	if len(rd.Messages) > 0 {
		round := rd.Messages[0].Round
		near, long := p.audience(rd.Messages)
		// Followers the node does not count yet (a link one side adopted a
		// heartbeat earlier than the other) get the vector too, rather than
		// waiting out a deadline for it.
		near = near || len(p.own.ListPeers()) > 0
		long = long || (round%p.cfg.Neighbors.LongPeriod == 0 && len(p.ownLong.ListPeers()) > 0)
		p.publish(ctx, round, rd.Messages[0].Params, near, long)
	}
	for _, r := range rd.Rounds {
		p.finishRound(ctx, r)
	}
	if rd.Step != nil {
		p.round.Store(uint64(rd.Step.Round))
		p.dropBefore(rd.Step.Round)
		p.submitStep(ctx, rd.Step.Round, rd.Step.Params)
		p.armDeadline()
	}
}

func (p *Peer) submitStep(ctx context.Context, round int, params []float32) {
	job := func() {
		grad := make([]float32, len(params))
		start := time.Now()
		loss := p.cfg.Step(params, grad)
		p.stats.noteStep(time.Since(start))
		select {
		case p.stepped <- stepResult{round: round, grad: grad, loss: loss}:
		case <-ctx.Done():
		}
	}
	select {
	case p.jobs <- job:
	case <-ctx.Done():
	}
}

func (p *Peer) finishRound(ctx context.Context, r training.RoundResult) {
	p.pacer.Finish(time.Now())
	params := r.Params
	p.current.Store(&params)
	p.stats.noteRound(r)
	done := r.Round+1 >= p.cfg.Rounds
	if done {
		p.finalLinks = slices.Clone(p.links)
	}
	if p.cfg.Evaluate != nil && !done && (r.Round+1)%p.cfg.EvalEvery == 0 {
		round := r.Round + 1
		job := func() {
			ev := p.cfg.Evaluate(params)
			select {
			case p.evaluated <- evalResult{round: round, eval: ev}:
			default: // a newer evaluation will follow
			}
		}
		select {
		case p.jobs <- job:
		default: // compute goroutine busy: skip this evaluation rather than delay training
		}
	}
}

// evaluateNow scores the current model on the compute goroutine, the only
// one that may call Evaluate (a periodic evaluation may still be running).
func (p *Peer) evaluateNow(ctx context.Context) training.Evaluation {
	if p.cfg.Evaluate == nil {
		return training.Evaluation{}
	}
	params := p.node.Params()
	done := make(chan training.Evaluation, 1)
	select {
	case p.jobs <- func() { done <- p.cfg.Evaluate(params) }:
	case <-ctx.Done():
		return training.Evaluation{}
	}
	select {
	case ev := <-done:
		return ev
	case <-ctx.Done():
		return training.Evaluation{}
	}
}

// armDeadline bounds the new round by the pacer's deadline. A dead
// neighbor costs one deadline per round until membership drops it.
func (p *Peer) armDeadline() {
	p.deadline.Reset(p.pacer.Begin(time.Now()))
}

// knownRound is the furthest round anything shows id at (see Peer.seenRound).
func (p *Peer) knownRound(id training.PeerID) int {
	return int(min(p.seenRound(peer.ID(id)), 1<<40))
}

// audience says whether the node's messages go to near neighbors, to long
// ones, or both.
func (p *Peer) audience(msgs []training.Message) (near, long bool) {
	isLong := map[training.PeerID]bool{}
	for _, nb := range p.node.Neighbors() {
		isLong[nb.ID] = nb.Long
	}
	for _, m := range msgs {
		if isLong[m.To] {
			long = true
		} else {
			near = true
		}
	}
	return near, long
}

// dropBefore frees partial vectors the node can no longer use: near ones
// of finished rounds, long ones of exchanges more than 2·LongPeriod back.
func (p *Peer) dropBefore(round int) {
	p.asm.DropBefore(uint64(round))
	p.longAsm.DropBefore(uint64(max(round-2*p.cfg.Neighbors.LongPeriod, 0)))
}

// receive feeds a validated shard to the assembler and a completed vector to the node.
func (p *Peer) receive(in inbound) {
	asm := p.asm
	if in.long {
		asm = p.longAsm
	}
	complete, err := asm.Add(in.from.String(), in.shard)
	if err != nil {
		p.log.Debug("shard dropped", "from", in.from, "long", in.long, "err", err)
		return
	}
	p.sentRound[in.from] = max(p.sentRound[in.from], in.shard.Round)
	if !complete {
		return
	}
	t, ok := asm.Take(in.from.String(), in.shard.Round)
	if !ok {
		return
	}
	p.deliver(in.from, int(in.shard.Round), t)
}

func (p *Peer) deliver(from peer.ID, round int, t wire.Taken) {
	err := p.node.Receive(training.Message{From: training.PeerID(from), To: training.PeerID(p.self), Round: round, Params: t.Values, Spans: t.Spans})
	switch {
	case err == nil:
		p.stats.noteMixed(from)
	case errors.Is(err, training.ErrStaleRound), errors.Is(err, training.ErrNotNeighbor), errors.Is(err, training.ErrOffCadence):
		// Late, from a peer that stopped being a neighbor, or sent while a
		// link switched between near and long: normal churn.
	default:
		p.log.Debug("vector refused", "from", from, "round", round, "err", err)
	}
}

// expire ends the round in progress with what arrived, partially received
// vectors included (the node's Aggregator decides what their missing
// coordinates count as), unless the pacer says to wait on for neighbors
// that are behind.
func (p *Peer) expire() {
	round := p.node.Round()
	near, long := p.node.Missing()
	if wait := p.pacer.Expire(time.Now(), round, near, long, p.knownRound); wait > 0 {
		p.log.Debug("round waits for neighbors that are behind", "round", round, "near", peerIDs(near), "long", peerIDs(long))
		p.deadline.Reset(wait)
		return
	}
	for _, nb := range p.node.Neighbors() {
		if nb.Long {
			continue // a long exchange is mixed whole or not at all
		}
		if t, ok := p.asm.Take(peer.ID(nb.ID).String(), uint64(round)); ok {
			p.log.Debug("mixing a partial vector", "from", nb.ID, "shards", t.Shards, "of", t.Of)
			p.deliver(peer.ID(nb.ID), round, t)
		}
	}
	if len(near)+len(long) > 0 {
		p.log.Debug("round ended by deadline", "round", round, "near", peerIDs(near), "long", peerIDs(long))
	}
	p.stats.noteDeadline()
	p.node.Deadline(round)
	p.deadline.Reset(p.cfg.MaxRoundTimeout) // if the step is still running, check again later
}

// peerIDs renders node peer IDs as libp2p peer IDs, for logs.
func peerIDs(ids []training.PeerID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = peer.ID(id).String()
	}
	return out
}
