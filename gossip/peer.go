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

	"github.com/gradmesh/gradmesh/training"
)

// PeerConfig wires one training peer to the mesh.
type PeerConfig struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	Scorer *Scorer
	// Protect keeps (true) or releases (false) the connection to a chosen
	// neighbor in the connection manager; may be nil.
	Protect func(id peer.ID, keep bool)
	// RTT measures the round-trip time to a connected peer; may be nil.
	RTT func(ctx context.Context, id peer.ID) (time.Duration, error)

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

	Batch           int           // samples per local step, for reporting throughput
	Degree          int           // neighbors to mix with (default 4)
	MinPeers        int           // other run members to wait for before round 0 (default 1)
	MaxRoundTimeout time.Duration // longest a round waits for neighbors (default 5 s)
	Heartbeat       time.Duration // control-topic announcement period (default 1 s)
	ShardBytes      int           // target encoded shard size (default 256 KiB)
	Logger          *slog.Logger

	// GPUStatus reports where this peer's steps run, for /status and
	// /metrics; may be nil. Called from any goroutine.
	GPUStatus func() GPUStatus
}

// Window is how many rounds apart a neighbor's messages may be and still be
// accepted; further apart, they are rejected as stale or future, and a peer
// that finds itself that far behind its neighbors adopts their model.
const Window = 8

func (c *PeerConfig) setDefaults() {
	if c.EvalEvery <= 0 {
		c.EvalEvery = 10
	}
	if c.Degree <= 0 {
		c.Degree = 4
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
		c.ShardBytes = 256 << 10
	}
	if c.DataWeight == 0 {
		c.DataWeight = 1
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

	node      *training.Node
	round     atomic.Uint64 // node's round, read by validators
	published []float32     // what this peer sent for the round in progress
	asm       *Assembler

	control   *pubsub.Topic
	own       *pubsub.Topic
	neighbors map[peer.ID]*neighbor
	proposed  []string               // neighbor set computed at the last membership tick
	heard     map[peer.ID]*Heartbeat // latest heartbeat per member

	inbox     chan inbound
	stepped   chan stepResult
	evaluated chan evalResult
	jobs      chan func()

	roundStart time.Time
	roundEWMA  time.Duration
	deadline   *time.Timer

	stats   stats
	current atomic.Pointer[[]float32] // latest model, served to peers that catch up
}

type inbound struct {
	from  peer.ID
	shard *Shard
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

type neighbor struct {
	id     peer.ID
	sub    *pubsub.Subscription
	topic  *pubsub.Topic
	cancel context.CancelFunc
	rtt    time.Duration
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
	p := &Peer{cfg: cfg, log: cfg.Logger, self: cfg.Host.ID(), run: RunID(cfg.Run),
		model:     ModelFingerprint(cfg.ModelSpec, len(cfg.Init)),
		neighbors: map[peer.ID]*neighbor{}, heard: map[peer.ID]*Heartbeat{},
		inbox: make(chan inbound, 4096), stepped: make(chan stepResult, 1),
		evaluated: make(chan evalResult, 4), jobs: make(chan func(), 4)}
	p.asm = NewAssembler(len(cfg.Init), 4*cfg.Degree+16, 2*Window+1)
	init := slices.Clone(cfg.Init)
	p.current.Store(&init)
	var err error
	if p.control, err = cfg.PubSub.Join(ControlTopic(p.run)); err != nil {
		return nil, fmt.Errorf("gossip: joining the control topic: %w", err)
	}
	if err = cfg.PubSub.RegisterTopicValidator(ControlTopic(p.run), p.validateHeartbeat); err != nil {
		return nil, fmt.Errorf("gossip: control validator: %w", err)
	}
	if p.own, err = cfg.PubSub.Join(ParamTopic(p.run, p.self)); err != nil {
		return nil, fmt.Errorf("gossip: joining own parameter topic: %w", err)
	}
	return p, nil
}

// Run trains until the last round or until ctx ends, then returns what it
// achieved. The peer stays in the mesh (receiving and mixing) the whole time.
func (p *Peer) Run(ctx context.Context) (*Summary, error) {
	// Deferred calls run last-first: cancel the goroutines, then wait for them.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() { // compute goroutine: steps and evaluations, one at a time
		defer wg.Done()
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer sub.Cancel()
		p.readHeartbeats(ctx, sub, heartbeats)
	}()
	defer p.leaveAll()

	if err := p.start(ctx, heartbeats); err != nil {
		return p.summary(), err
	}
	beat := time.NewTicker(p.cfg.Heartbeat)
	defer beat.Stop()
	membership := time.NewTicker(250 * time.Millisecond)
	defer membership.Stop()
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
		case <-membership.C:
			p.updateNeighbors(ctx, false)
		case <-beat.C:
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
	// Members announce themselves once a heartbeat period; give them two to
	// be heard, and our neighbors time to subscribe to our topic.
	p.updateNeighbors(ctx, true)
	settle := time.NewTimer(2 * p.cfg.Heartbeat)
	defer settle.Stop()
	if err := p.await(ctx, heartbeats, settle.C, func() bool { p.updateNeighbors(ctx, false); return false }); err != nil {
		return err
	}
	startRound, params := 0, p.cfg.Init
	if behind := p.meshRound(nil); behind > Window/2 {
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
			p.heard[hb.from] = &hb.Heartbeat
		case <-t.C:
		case <-until:
			return nil
		}
	}
	return nil
}

func (p *Peer) resetNode(round int, params []float32) error {
	self, nb := p.neighborWeights()
	node, err := training.NewNode(training.NodeConfig{ID: training.PeerID(p.self), Params: params, SelfWeight: self,
		Neighbors: nb, Optimizer: p.cfg.Optimizer.New(len(params)), Schedule: p.cfg.Schedule, Rounds: p.cfg.Rounds,
		StartRound: round, Window: Window, DataWeight: p.cfg.DataWeight, Order: p.cfg.Order})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	p.node = node
	p.round.Store(uint64(round))
	p.asm.DropBefore(uint64(round))
	p.stats.noteStart(round)
	return nil
}

// handleReady carries out what the node asked for.
func (p *Peer) handleReady(ctx context.Context) {
	rd := p.node.Ready()
	if len(rd.Messages) > 0 {
		p.published = rd.Messages[0].Params
		p.publish(ctx, rd.Messages[0].Round, p.published)
	}
	for _, r := range rd.Rounds {
		p.finishRound(ctx, r)
	}
	if rd.Step != nil {
		p.round.Store(uint64(rd.Step.Round))
		p.asm.DropBefore(uint64(rd.Step.Round))
		if p.cfg.Order == training.CombineThenAdapt {
			p.published = rd.Step.Params
		}
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
	elapsed := time.Since(p.roundStart)
	if p.roundEWMA == 0 {
		p.roundEWMA = elapsed
	} else {
		p.roundEWMA = (3*p.roundEWMA + elapsed) / 4
	}
	params := r.Params
	p.current.Store(&params)
	p.stats.noteRound(r)
	done := r.Round+1 >= p.cfg.Rounds
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

// armDeadline bounds the new round: four times the recent round time, at
// least 100 ms, at most MaxRoundTimeout. A dead neighbor costs one deadline
// per round until membership drops it.
func (p *Peer) armDeadline() {
	p.roundStart = time.Now()
	timeout := min(max(4*p.roundEWMA, 100*time.Millisecond), p.cfg.MaxRoundTimeout)
	if p.roundEWMA == 0 {
		timeout = p.cfg.MaxRoundTimeout
	}
	p.deadline.Reset(timeout)
}

// receive feeds a validated shard to the assembler and a completed vector to the node.
func (p *Peer) receive(in inbound) {
	complete, err := p.asm.Add(in.from.String(), in.shard)
	if err != nil {
		p.log.Debug("shard dropped", "from", in.from, "err", err)
		return
	}
	if !complete {
		return
	}
	vec, _, _, ok := p.asm.Take(in.from.String(), in.shard.Round, p.published)
	if !ok {
		return
	}
	p.deliver(in.from, int(in.shard.Round), vec)
}

func (p *Peer) deliver(from peer.ID, round int, vec []float32) {
	err := p.node.Receive(training.Message{From: training.PeerID(from), To: training.PeerID(p.self), Round: round, Params: vec})
	switch {
	case err == nil:
		p.stats.noteMixed(from)
	case errors.Is(err, training.ErrStaleRound), errors.Is(err, training.ErrNotNeighbor):
		// Late, or from a peer that stopped being a neighbor: normal churn.
	default:
		p.log.Debug("vector refused", "from", from, "round", round, "err", err)
	}
}

// expire ends the round in progress with what arrived: partially received
// vectors are completed with this peer's own values.
func (p *Peer) expire() {
	round := p.node.Round()
	for _, nb := range p.node.Neighbors() {
		if vec, got, of, ok := p.asm.Take(peer.ID(nb.ID).String(), uint64(round), p.published); ok {
			p.log.Debug("mixing a partial vector", "from", nb.ID, "shards", got, "of", of)
			p.deliver(peer.ID(nb.ID), round, vec)
		}
	}
	p.stats.noteDeadline()
	p.node.Deadline(round)
	p.deadline.Reset(p.cfg.MaxRoundTimeout) // if the step is still running, check again later
}
