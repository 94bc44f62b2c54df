package gossip

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
)

// handleReady carries out what the node asked for: send its vector, note
// finished rounds, start the next round's step and arm its deadline.
func (p *Peer) handleReady(ctx context.Context) {
	rd := p.node.Ready()
	if len(rd.Messages) > 0 {
		round := rd.Messages[0].Round
		near, long := p.audience(rd.Messages)
		// Followers the node does not count yet (a link one side adopted a
		// heartbeat earlier than the other) get the vector too, rather than
		// waiting out a deadline for it.
		near = near || p.net.Followers(Near) > 0
		long = long || (round%p.cfg.Neighbors.LongPeriod == 0 && p.net.Followers(Long) > 0)
		p.publish(ctx, round, rd.Messages[0].Params, near, long)
	}
	for _, r := range rd.Rounds {
		p.finishRound(r)
	}
	if rd.Gradient != nil {
		p.round.Store(uint64(rd.Gradient.Round))
		p.vectors.dropBefore(rd.Gradient.Round)
		p.retireBefore(rd.Gradient.Round)
		p.computeGradient(ctx, rd.Gradient.Round, rd.Gradient.Params)
		p.deadline.Reset(p.pacer.Begin(time.Now()))
	}
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

// finishRound records a finished round: its model (served to peers that
// catch up), its time (for the pacer), and now and then an evaluation.
func (p *Peer) finishRound(r training.RoundResult) {
	p.pacer.Finish(time.Now())
	params := r.Params
	p.current.Store(&params)
	p.stats.noteRound(r)
	done := r.Round+1 >= p.cfg.Learning.Rounds
	if done {
		// Members leave the control topic as they finish, so the links
		// at exit are fewer: the summary reports the last round's.
		p.neighbors.finalLinks = slices.Clone(p.neighbors.links)
	}
	if p.cfg.Evaluate != nil && !done && (r.Round+1)%p.cfg.EvalEvery == 0 {
		p.evaluateLater(r.Round+1, params)
	}
}

// expire ends the round in progress with what arrived, partially received
// vectors included (the node's Aggregator decides what their missing
// coordinates count as), unless the pacer says to wait on for neighbors
// that are behind. A dead neighbor costs one deadline per round until
// membership drops it.
func (p *Peer) expire() {
	round := p.node.Round()
	near, long := p.node.Missing()
	if wait := p.pacer.Expire(time.Now(), round, near, long, p.knownRound); wait > 0 {
		p.log.Debug("round waits for neighbors that are behind", "round", round, "near", peerIDs(near), "long", peerIDs(long))
		p.deadline.Reset(wait)
		return
	}
	for _, id := range near {
		p.deliverPartial(peer.ID(id), round)
	}
	if len(near)+len(long) > 0 {
		p.log.Debug("round ended by deadline", "round", round, "near", peerIDs(near), "long", peerIDs(long))
	}
	p.stats.noteDeadline()
	p.node.Deadline(round) // the round ends now, or with its gradient if that is still being computed
}

// knownRound is the furthest round anything shows id at, as the pacer
// reads it.
func (p *Peer) knownRound(id training.PeerID) int {
	return int(min(p.members.seenRound(peer.ID(id)), maxRound))
}

// peerIDs renders node peer IDs as libp2p peer IDs, for logs.
func peerIDs(ids []training.PeerID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = peer.ID(id).String()
	}
	return out
}
