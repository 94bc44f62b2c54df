package gossip

import (
	"context"
	"slices"
	"time"
)

// maxBacklog bounds the shards a starting peer keeps for after its start:
// neighbors that started earlier already send vectors.
const maxBacklog = 4096

// start waits for the run's first members, agrees on neighbors, then
// decides where training begins: at round 0, or, when the members are
// already more than catchUpLag rounds ahead, at their round with their
// model. It returns the shards that arrived meanwhile, in order.
func (p *Peer) start(ctx context.Context) ([]Inbound, error) {
	var backlog []Inbound
	p.log.Info("waiting for run members", "run", p.cfg.Run, "want", p.cfg.MinPeers)
	if err := p.await(ctx, &backlog, func() bool { return len(p.net.Members()) >= p.cfg.MinPeers }); err != nil {
		return nil, err
	}
	if err := p.settle(ctx, &backlog); err != nil {
		return nil, err
	}
	startRound, params := 0, p.cfg.Learning.Init
	if behind := p.members.meshRound(nil); behind > catchUpLag {
		r, adopted, err := p.fetchModel(ctx, p.members.ahead(behind))
		if err != nil {
			p.log.Warn("could not adopt the mesh's model; starting fresh", "err", err)
		} else if r < p.cfg.Learning.Rounds {
			startRound, params = r, adopted
			p.log.Info("joined a run in progress", "round", r)
		}
	}
	return backlog, p.resetNode(startRound, params)
}

// settlePlans bounds how many heartbeat periods a starting peer spends
// agreeing on its neighbors before round 0.
const settlePlans = 10

// settle agrees on neighbors before round 0: it announces, plans and probes
// once a heartbeat period until the active links have stayed the same, and
// non-empty, over three plans, or for at most settlePlans periods. Members
// need a period to hear each proposal and another to answer it, and our
// neighbors need the time to follow our channels.
func (p *Peer) settle(ctx context.Context, backlog *[]Inbound) error {
	beat := time.NewTicker(p.cfg.Heartbeat)
	defer beat.Stop()
	p.plan(ctx)
	p.announce(ctx)
	plans, stable := 1, 0
	replan := func() {
		before := p.neighbors.links
		p.plan(ctx)
		p.announce(ctx)
		plans++
		if len(p.neighbors.links) > 0 && slices.Equal(before, p.neighbors.links) {
			stable++
		} else {
			stable = 0
		}
	}
	// A peer whose links have settled still waits for a neighbor's first
	// vector, or for the settling of the slowest, before it begins: peers
	// that began seconds apart would spend their first rounds waiting out
	// deadlines for neighbors that had not begun, and fall out of step.
	// The first to begin sets off its neighbors, and they theirs, so the
	// mesh begins within a few RTTs of one peer's start.
	began := func() bool {
		return slices.ContainsFunc(*backlog, func(in Inbound) bool {
			return slices.ContainsFunc(p.neighbors.links, func(l link) bool { return l.id == in.From })
		})
	}
	err := p.recordUntil(ctx, backlog, beat.C, replan, func() bool {
		return (stable >= 2 && began()) || plans >= settlePlans
	})
	p.log.Info("neighbors agreed", "neighbors", len(p.neighbors.links), "stable", stable >= 2)
	return err
}

// await records what arrives until ready reports true (asked after each
// arrival and every 50 ms) or ctx ends. It announces the peer once a
// heartbeat period meanwhile: members that are not connected to it hear
// of it only from its heartbeats.
func (p *Peer) await(ctx context.Context, backlog *[]Inbound, ready func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var announced time.Time
	return p.recordUntil(ctx, backlog, t.C, func() {
		if now := time.Now(); now.Sub(announced) >= p.cfg.Heartbeat {
			announced = now
			p.announce(ctx)
		}
	}, ready)
}

// recordUntil records what arrives before training starts (see hold),
// calls tick at every tick, and returns once done reports true, asked
// before the first event and after each, or when ctx ends.
func (p *Peer) recordUntil(ctx context.Context, backlog *[]Inbound, ticks <-chan time.Time, tick func(), done func() bool) error {
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in := <-p.net.Heartbeats():
			p.hold(in, backlog)
		case in := <-p.net.Shards():
			p.hold(in, backlog)
		case m := <-p.neighbors.measured:
			p.noteMeasured(m)
		case <-ticks:
			tick()
		}
	}
	return nil
}

// hold records a heartbeat that arrives before training starts, and keeps
// a shard for after, up to maxBacklog of them.
func (p *Peer) hold(in Inbound, backlog *[]Inbound) {
	p.stats.noteIn(in.Bytes)
	switch {
	case in.Heartbeat != nil:
		p.caps.note(in.From, in.Heartbeat)
		p.members.note(in.From, in.Heartbeat)
	case len(*backlog) < maxBacklog:
		*backlog = append(*backlog, in)
	default:
		p.log.Debug("shard dropped: too many arrived before training started", "from", in.From, "round", in.Shard.Round)
	}
}
