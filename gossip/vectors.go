package gossip

import (
	"context"
	"errors"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// vectorExchange reassembles neighbors' vectors from their shards: near
// vectors for the rounds in the window, long ones for exchanges up to
// 2·LongPeriod rounds back, since they arrive rounds late.
type vectorExchange struct {
	asm        [2]*wire.Assembler // by Channel
	longPeriod int
}

// newVectorExchange holds vectors of params values from at most senders
// peers per channel (neighbors, and some that just left or just came).
func newVectorExchange(params, senders, longPeriod int) vectorExchange {
	rounds := 2*training.DefaultWindow + 1
	return vectorExchange{longPeriod: longPeriod,
		asm: [2]*wire.Assembler{Near: wire.NewAssembler(params, senders, rounds), Long: wire.NewAssembler(params, senders, rounds)}}
}

// dropBefore frees partial vectors the node can no longer use: near ones
// of finished rounds, long ones of exchanges more than 2·LongPeriod back.
func (v *vectorExchange) dropBefore(round int) {
	v.asm[Near].DropBefore(uint64(round))
	v.asm[Long].DropBefore(uint64(max(round-2*v.longPeriod, 0)))
}

// forget drops everything held for a peer that is no neighbor any more.
func (v *vectorExchange) forget(id peer.ID) {
	v.asm[Near].Forget(id.String())
	v.asm[Long].Forget(id.String())
}

// receiveShard adds a neighbor's shard to its vector and hands a completed
// vector to the node.
func (p *Peer) receiveShard(in Inbound) {
	complete, err := p.vectors.asm[in.Channel].Add(in.From.String(), in.Shard)
	if err != nil {
		p.log.Debug("shard dropped", "from", in.From, "channel", in.Channel, "err", err)
		return
	}
	p.members.noteShard(in.From, in.Shard.Round)
	if in.Shard.Round > uint64(p.node.Round()) {
		p.lost(in.From)
	}
	if !complete {
		return
	}
	if t, ok := p.vectors.asm[in.Channel].Take(in.From.String(), in.Shard.Round); ok {
		p.deliver(in.From, int(in.Shard.Round), t)
	}
}

// lost ends the wait for from's vector of the round in progress, if the
// node still waits for it: from has sent a shard of a later round, and a
// sender's shards arrive in the order it published them, so what arrived
// of this round's vector is all that will (it is mixed as a deadline
// would mix it).
func (p *Peer) lost(from peer.ID) {
	near, _ := p.node.Missing()
	if !slices.Contains(near, training.PeerID(from)) {
		return
	}
	round := p.node.Round()
	p.deliverPartial(from, round)
	p.node.Lost(round, training.PeerID(from))
}

// deliverPartial hands the node what arrived of a near neighbor's vector
// for round, when the round ends by deadline: a long exchange is mixed
// whole or not at all.
func (p *Peer) deliverPartial(from peer.ID, round int) {
	if t, ok := p.vectors.asm[Near].Take(from.String(), uint64(round)); ok {
		p.log.Debug("mixing a partial vector", "from", from, "shards", t.Shards, "of", t.Of)
		p.deliver(from, round, t)
	}
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

// publish sends this peer's vector for round as shards: on its near
// channel when near neighbors (or any follower) expect it, and on its long
// channel when round opens a long exchange that a long neighbor (or any
// follower) expects. The shards are encoded once for both.
func (p *Peer) publish(ctx context.Context, round int, params []float32, near, long bool) {
	var channels []Channel
	if near {
		channels = append(channels, Near)
		p.stats.notePublish()
	}
	if long {
		channels = append(channels, Long)
		p.stats.noteLongPublish()
	}
	if len(channels) == 0 {
		return
	}
	tmpl := wire.Shard{RunID: p.run, Model: p.model, Round: uint64(round), Degree: uint16(min(len(p.neighbors.links), 65535)),
		DataWeight: float32(p.cfg.Learning.DataWeight), Encoding: p.cfg.Codec.Encoding()}
	for _, s := range wire.Split(tmpl, params, wire.ShardValues(p.cfg.Codec, p.cfg.ShardBytes)) {
		buf, err := wire.AppendShard(nil, &s) // a transport may keep the slice: no reuse
		if err != nil {
			p.log.Error("cannot encode a shard", "err", err)
			return
		}
		for _, ch := range channels {
			copies, err := p.net.Publish(ctx, ch, buf)
			if err != nil {
				p.log.Debug("publish failed", "channel", ch, "err", err)
				return
			}
			p.stats.noteOut(len(buf) * copies)
		}
	}
}
