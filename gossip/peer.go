package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// Peer runs decentralized SGD with the members of its run: the same
// training.Node and training.Pacer as the simulator, driven by the wall
// clock and a Transport. One goroutine, Run's, owns its state; Status and
// Round may be called from any.
type Peer struct {
	cfg  PeerConfig
	log  *slog.Logger
	self peer.ID
	run  [16]byte // wire.RunID(cfg.Run)
	// model is the wire fingerprint of the model spec and parameter count.
	model [16]byte
	net   Transport

	node    *training.Node
	round   atomic.Uint64             // node's round, read by the checks
	current atomic.Pointer[[]float32] // latest model, served to peers that catch up

	vectors   vectorExchange // shards in and out
	members   memberTable    // what members said and sent
	neighbors neighborhood   // whom to mix with
	pacer     *training.Pacer
	deadline  *time.Timer // armed by the pacer
	compute   compute     // local steps and evaluations
	wg        sync.WaitGroup

	stats stats
	caps  capabilityTable // members' announced devices, for /status
}

// NewPeer checks the configuration; the peer joins its run when it runs.
func NewPeer(cfg PeerConfig) (*Peer, error) {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	self := cfg.Transport.Self()
	p := &Peer{cfg: cfg, log: cfg.Logger, self: self, run: wire.RunID(cfg.Run), net: cfg.Transport,
		model:   wire.ModelFingerprint(cfg.ModelSpec, len(cfg.Learning.Init)),
		vectors: newVectorExchange(len(cfg.Learning.Init), 2*cfg.Neighbors.MaxDegree+16, cfg.Neighbors.LongPeriod),
		members: newMemberTable(),
		pacer:   training.NewPacer(training.PacerConfig{MaxRoundTimeout: cfg.MaxRoundTimeout, LongPeriod: cfg.Neighbors.LongPeriod}),
		compute: newCompute(),
	}
	if err := p.neighbors.init(self, cfg.Neighbors, cfg.UplinkBitsPerSec); err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	init := slices.Clone(cfg.Learning.Init)
	p.current.Store(&init)
	p.stats.policy = string(cfg.Neighbors.Policy)
	return p, nil
}

// session is what the transport needs to carry this peer's run.
func (p *Peer) session() Session {
	checks := newChecks(p.run, p.model, len(p.cfg.Learning.Init), p.cfg.Neighbors.LongPeriod, &p.round, p.stats.noteRejected, p.log)
	return Session{Run: p.run, Model: p.model, Params: len(p.cfg.Learning.Init), ShardBytes: p.cfg.ShardBytes, Checks: checks,
		Current: func() (uint64, []float32) { return p.round.Load(), *p.current.Load() }}
}

// Run joins the run, trains until the last round or until ctx ends, then
// leaves and returns what it achieved. The peer stays in the mesh
// (receiving and mixing) the whole time.
func (p *Peer) Run(ctx context.Context) (*Summary, error) {
	// Deferred calls run last-first: leave the run, cancel the goroutines,
	// then wait for them.
	defer p.wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.wg.Go(func() { p.compute.run(ctx) })
	if err := p.net.Open(p.session()); err != nil {
		return p.summary(), fmt.Errorf("gossip: joining run %q: %w", p.cfg.Run, err)
	}
	defer p.net.Close()

	backlog, err := p.start(ctx)
	if err != nil {
		return p.summary(), err
	}
	beat := time.NewTicker(p.cfg.Heartbeat)
	defer beat.Stop()
	p.deadline = time.NewTimer(time.Hour)
	defer p.deadline.Stop()
	p.node.Start()
	p.handleReady(ctx)
	p.announce(ctx)
	for _, in := range backlog { // counted as they arrived
		p.receiveShard(in)
		p.handleReady(ctx)
	}
	for !p.node.Done() {
		select {
		case <-ctx.Done():
			return p.summary(), ctx.Err()
		case r := <-p.compute.gradients:
			if err := p.node.GradientDone(r.round, r.grad, r.loss); err != nil {
				p.log.Warn("step result refused", "err", err)
			}
		case in := <-p.net.Heartbeats():
			p.receive(ctx, in)
		case in := <-p.net.Shards():
			p.receive(ctx, in)
		case <-p.deadline.C:
			p.expire()
		case ev := <-p.compute.evaluated:
			p.stats.setEval(ev.round, ev.eval)
		case m := <-p.neighbors.measured:
			p.noteMeasured(m)
		case <-beat.C:
			p.plan(ctx)
			p.announce(ctx)
		}
		p.handleReady(ctx)
	}
	p.stats.setEval(p.node.Round(), p.evaluateNow(ctx))
	p.announce(ctx)
	return p.summary(), nil
}

// Round is the round in progress; safe from any goroutine.
func (p *Peer) Round() int { return int(p.round.Load()) }

// receive takes one inbound message: a member's heartbeat, or a shard of a
// neighbor's vector.
func (p *Peer) receive(ctx context.Context, in Inbound) {
	p.stats.noteIn(in.Bytes)
	if in.Heartbeat != nil {
		p.caps.note(in.From, in.Heartbeat)
		p.noteHeartbeat(ctx, p.members.note(in.From, in.Heartbeat))
		return
	}
	p.receiveShard(in)
}

// resetNode starts a node at round with params: at the run's start, or
// when the peer catches up with the mesh.
func (p *Peer) resetNode(round int, params []float32) error {
	l := p.cfg.Learning
	agg, err := training.ParseAggregator(l.Aggregate)
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	self, nb := p.neighbors.nodeNeighbors()
	// A neighbor already past round sent that round's vector before this
	// peer could receive it: waiting for it would cost the round its deadline.
	var awaiting []training.PeerID
	for _, v := range nb {
		if p.knownRound(v.ID) > round {
			awaiting = append(awaiting, v.ID)
		}
	}
	node, err := training.NewNode(training.NodeConfig{ID: training.PeerID(p.self), Params: params, SelfWeight: self,
		Neighbors: nb, Optimizer: l.Optimizer.New(len(params)), Schedule: l.Schedule, Rounds: l.Rounds,
		StartRound: round, DataWeight: l.DataWeight, Order: l.Order, LongPeriod: p.cfg.Neighbors.LongPeriod, Aggregator: agg,
		UnsyncedLinks: true, Awaiting: awaiting})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	p.node = node
	p.round.Store(uint64(round))
	p.vectors.dropBefore(round)
	p.stats.noteStart(round)
	return nil
}
