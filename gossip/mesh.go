package gossip

import (
	"context"
	"errors"
	"slices"
	"sort"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// heardBeat is a validated heartbeat, its author, and what the neighbor
// planner reads of it, converted once on arrival.
type heardBeat struct {
	from peer.ID
	wire.Heartbeat
	announcement topology.Announcement // the author's proposals, by peer ID string
	coord        topology.Coord
}

func newHeardBeat(from peer.ID, hb *wire.Heartbeat) *heardBeat {
	h := &heardBeat{from: from, Heartbeat: *hb, coord: hb.Coord.Coord(),
		announcement: topology.Announcement{From: from.String(), Proposals: make([]topology.Link, 0, len(hb.Proposals)),
			UplinkBitsPerSec: 1000 * float64(hb.UplinkKbps)}}
	for _, pr := range hb.Proposals {
		h.announcement.Proposals = append(h.announcement.Proposals, topology.Link{ID: pr.ID.String(), Long: pr.Long, Slow: pr.Slow, RTT: pr.RTT})
	}
	return h
}

// members are the run's connected peers: those gossipsub lists on the
// control topic, by their string form.
func (p *Peer) members() map[string]peer.ID {
	out := map[string]peer.ID{}
	for _, id := range p.cfg.PubSub.ListPeers(wire.ControlTopic(p.run)) {
		out[id.String()] = id
	}
	return out
}

// shardValidator checks every message on sender's parameter topic before
// gossipsub accepts it. Malformed, forged or out-of-window messages are
// rejected, logged and charged to the peer that delivered them.
func (p *Peer) shardValidator(sender peer.ID, window uint64) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	expect := wire.Expect{RunID: p.run, Model: p.model, Total: len(p.cfg.Init), Window: window}
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if from == p.self {
			return pubsub.ValidationAccept
		}
		reject := func(err error) pubsub.ValidationResult {
			p.stats.noteRejected()
			p.cfg.Scorer.Penalize(from)
			p.log.Warn("rejected a parameter message", "from", from, "author", msg.GetFrom(), "topic", sender, "err", err)
			return pubsub.ValidationReject
		}
		if msg.GetFrom() != sender {
			return reject(errors.New("gossip: author is not the topic's sender"))
		}
		s, err := wire.DecodeShard(msg.Data)
		if err != nil {
			return reject(err)
		}
		if err := expect.Check(s, p.round.Load()); err != nil {
			if wire.Ignorable(err) { // a round outside the window: someone is behind, not hostile
				p.log.Debug("ignored a parameter message", "from", from, "err", err)
				return pubsub.ValidationIgnore
			}
			return reject(err)
		}
		msg.ValidatorData = s
		return pubsub.ValidationAccept
	}
}

func (p *Peer) validateHeartbeat(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if from == p.self {
		return pubsub.ValidationAccept
	}
	hb, err := wire.UnmarshalHeartbeat(msg.Data, p.run, p.model)
	if err == nil {
		err = hb.CheckAuthor(msg.GetFrom())
	}
	if err != nil {
		p.stats.noteRejected()
		p.cfg.Scorer.Penalize(from)
		p.log.Warn("rejected a heartbeat", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	msg.ValidatorData = hb
	return pubsub.ValidationAccept
}

func (p *Peer) readHeartbeats(ctx context.Context, sub *pubsub.Subscription, out chan<- *heardBeat) {
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			return
		}
		hb, ok := msg.ValidatorData.(*wire.Heartbeat)
		if !ok || msg.GetFrom() == p.self {
			continue
		}
		p.stats.noteIn(len(msg.Data))
		p.caps.note(msg.GetFrom(), hb)
		select {
		case out <- newHeardBeat(msg.GetFrom(), hb):
		case <-ctx.Done():
			return
		}
	}
}

// noteHeartbeat records a member's state and catches up when the
// neighbors have moved more than half a window ahead.
func (p *Peer) noteHeartbeat(ctx context.Context, hb *heardBeat) {
	p.heard[hb.from] = hb
	nbs := make([]peer.ID, 0, len(p.links))
	for _, l := range p.links {
		nbs = append(nbs, l.id)
	}
	ahead := p.meshRound(nbs)
	if ahead <= p.node.Round()+training.DefaultWindow/2 || ahead >= p.cfg.Rounds {
		return
	}
	r, params, err := p.fetchModel(ctx, p.peersAhead(ahead))
	if err != nil {
		p.log.Warn("fell behind the mesh and could not catch up", "round", p.node.Round(), "mesh", ahead, "err", err)
		return
	}
	if r <= p.node.Round() || r >= p.cfg.Rounds {
		return
	}
	p.log.Info("caught up with the mesh", "from", p.node.Round(), "to", r)
	if err := p.resetNode(r, params); err != nil {
		p.log.Warn("catch-up failed", "err", err)
		return
	}
	p.node.Start()
}

// seenRound is the furthest round anything shows id at: its latest
// heartbeat, or a shard it sent.
func (p *Peer) seenRound(id peer.ID) uint64 {
	at := p.sentRound[id]
	if hb, ok := p.heard[id]; ok {
		at = max(at, hb.Round)
	}
	return at
}

// meshRound is the median latest round heard from the given peers (all
// members when nil). The median keeps one peer that lies about its round
// from dragging the others along.
func (p *Peer) meshRound(among []peer.ID) int {
	var rounds []int
	for id, hb := range p.heard {
		if among == nil || slices.Contains(among, id) {
			rounds = append(rounds, int(min(hb.Round, 1<<40)))
		}
	}
	if len(rounds) == 0 {
		return 0
	}
	sort.Ints(rounds)
	return rounds[len(rounds)/2]
}

// peersAhead lists up to three members at or past round, most advanced first.
func (p *Peer) peersAhead(round int) []peer.ID {
	var ids []peer.ID
	for id, hb := range p.heard {
		if int(min(hb.Round, 1<<40)) >= round {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b peer.ID) int { return int(p.heard[b].Round) - int(p.heard[a].Round) })
	return ids[:min(3, len(ids))]
}

// publish sends this peer's vector for round as shards: on its parameter
// topic when near neighbors (or any follower) expect it, and on its long
// topic when round opens a long exchange that a long neighbor (or any
// follower) expects. The shards are encoded once for both.
func (p *Peer) publish(ctx context.Context, round int, params []float32, near, long bool) {
	if !near && !long {
		return
	}
	tmpl := wire.Shard{RunID: p.run, Model: p.model, Round: uint64(round), Degree: uint16(min(len(p.links), 65535)),
		DataWeight: float32(p.cfg.DataWeight), Encoding: wire.EncodingFloat32}
	var topics []*pubsub.Topic
	if near {
		topics = append(topics, p.own)
		p.stats.notePublish()
	}
	if long {
		topics = append(topics, p.ownLong)
		p.stats.noteLongPublish()
	}
	for _, s := range wire.Split(tmpl, params, wire.ShardValues(wire.Float32, p.cfg.ShardBytes)) {
		buf, err := wire.AppendShard(nil, &s) // gossipsub keeps the slice: no reuse
		if err != nil {
			p.log.Error("cannot encode a shard", "err", err)
			return
		}
		for _, t := range topics {
			if err := t.Publish(ctx, buf); err != nil {
				p.log.Debug("publish failed", "topic", t.String(), "err", err)
				return
			}
			p.stats.noteOut(len(buf) * len(t.ListPeers()))
		}
	}
}

// publishHeartbeat announces this peer's round, coordinate, proposals and
// active degree on the control topic.
func (p *Peer) publishHeartbeat(ctx context.Context) {
	round := uint64(0)
	if p.node != nil {
		round = uint64(p.node.Round())
	}
	hb := wire.Heartbeat{RunID: p.run, Model: p.model, Round: round, Degree: uint16(min(len(p.links), wire.MaxHeartbeatDegree)),
		DataWeight: float32(p.cfg.DataWeight), SamplesPerSec: float32(p.samplesPerSec()), Device: p.device(),
		Coord: wire.CoordOf(p.vivaldi.Coord()), UplinkKbps: wire.UplinkKbps(p.cfg.UplinkBitsPerSec)}
	for _, l := range p.proposals {
		if id, ok := p.idOf[l.ID]; ok && len(hb.Proposals) < wire.MaxProposals {
			hb.Proposals = append(hb.Proposals, wire.Proposal{ID: id, Long: l.Long, Slow: l.Slow, RTT: l.RTT})
		}
	}
	b, err := hb.Marshal()
	if err != nil {
		p.log.Error("cannot encode a heartbeat", "err", err)
		return
	}
	if err := p.control.Publish(ctx, b); err != nil {
		p.log.Debug("heartbeat not sent", "err", err)
	}
}
