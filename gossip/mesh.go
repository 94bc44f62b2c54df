package gossip

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

// heardBeat is a validated heartbeat and its author.
type heardBeat struct {
	from peer.ID
	Heartbeat
}

// members are the run's connected peers: those gossipsub lists on the
// control topic, by their string form (the order CirculantNeighbors sorts).
func (p *Peer) members() map[string]peer.ID {
	out := map[string]peer.ID{}
	for _, id := range p.cfg.PubSub.ListPeers(ControlTopic(p.run)) {
		out[id.String()] = id
	}
	return out
}

// updateNeighbors recomputes the neighbor set from the membership, follows
// the new neighbors' parameter topics and drops the old ones. The node uses
// the new set from its next round.
//
// A new set is adopted only once two consecutive calls agree on it (unless
// force): membership seen through gossipsub flickers while subscriptions
// and connections settle, and every flicker would subscribe to, and so pull
// a full vector from, a peer that is not really a neighbor.
func (p *Peer) updateNeighbors(ctx context.Context, force bool) {
	members := p.members()
	for id := range p.heard { // departed members no longer count toward the mesh's round
		if _, ok := members[id.String()]; !ok {
			delete(p.heard, id)
		}
	}
	for _, id := range p.rtt.ids() {
		if _, ok := members[id.String()]; !ok {
			p.rtt.forget(id)
		}
	}
	want := topology.CirculantNeighbors(p.self.String(), slices.Collect(maps.Keys(members)), p.cfg.Degree)
	if !force && !slices.Equal(want, p.proposed) {
		p.proposed = want
		return
	}
	p.proposed = want
	changed := false
	for _, s := range want {
		id := members[s]
		if _, ok := p.neighbors[id]; ok {
			continue
		}
		changed = true
		if err := p.follow(ctx, id); err != nil {
			p.log.Warn("cannot follow neighbor", "peer", id, "err", err)
		}
	}
	for id, nb := range p.neighbors {
		if !slices.Contains(want, id.String()) {
			changed = true
			p.unfollow(nb)
		}
	}
	if changed {
		p.stats.noteChange()
		p.stats.setLinks(slices.Collect(maps.Keys(p.neighbors)))
		p.log.Info("neighbors changed", "neighbors", len(p.neighbors), "members", len(members))
		p.applyNeighborsToNode()
	}
}

// applyNeighborsToNode hands the node the current neighbor set; it takes
// effect at the node's next round.
func (p *Peer) applyNeighborsToNode() {
	if p.node == nil {
		return
	}
	self, nb := p.neighborWeights()
	if err := p.node.SetNeighbors(self, nb); err != nil {
		p.log.Warn("neighbor weights refused", "err", err)
	}
}

// neighborWeights gives Metropolis weights for the current neighbor set,
// each from the neighbor's advertised degree (our own until we hear it).
func (p *Peer) neighborWeights() (float64, []training.Neighbor) {
	d := len(p.neighbors)
	var nb []training.Neighbor
	self := 1.0
	for id := range p.neighbors {
		dj := d
		if hb, ok := p.heard[id]; ok && hb.Degree > 0 {
			dj = int(hb.Degree)
		}
		w := topology.MetropolisWeight(d, dj)
		nb = append(nb, training.Neighbor{ID: training.PeerID(id), Weight: w})
		self -= w
	}
	return self, nb
}

// follow subscribes to a neighbor's parameter topic with a validator.
func (p *Peer) follow(ctx context.Context, id peer.ID) error {
	name := ParamTopic(p.run, id)
	if err := p.cfg.PubSub.RegisterTopicValidator(name, p.shardValidator(id)); err != nil {
		return err
	}
	topic, err := p.cfg.PubSub.Join(name)
	if err != nil {
		_ = p.cfg.PubSub.UnregisterTopicValidator(name)
		return err
	}
	sub, err := topic.Subscribe(pubsub.WithBufferSize(1024))
	if err != nil {
		_ = topic.Close()
		_ = p.cfg.PubSub.UnregisterTopicValidator(name)
		return err
	}
	subCtx, cancel := context.WithCancel(ctx)
	nb := &neighbor{id: id, sub: sub, topic: topic, cancel: cancel}
	p.neighbors[id] = nb
	if p.cfg.Protect != nil {
		p.cfg.Protect(id, true)
	}
	go p.readShards(subCtx, nb)
	p.probe(ctx, []peer.ID{id})
	return nil
}

func (p *Peer) unfollow(nb *neighbor) {
	nb.cancel()
	nb.sub.Cancel()
	_ = nb.topic.Close()
	_ = p.cfg.PubSub.UnregisterTopicValidator(ParamTopic(p.run, nb.id))
	if p.cfg.Protect != nil {
		p.cfg.Protect(nb.id, false)
	}
	p.asm.Forget(nb.id.String())
	p.stats.forget(nb.id)
	delete(p.neighbors, nb.id)
}

func (p *Peer) leaveAll() {
	for _, nb := range p.neighbors {
		p.unfollow(nb)
	}
}

func (p *Peer) readShards(ctx context.Context, nb *neighbor) {
	for {
		msg, err := nb.sub.Next(ctx)
		if err != nil {
			return
		}
		s, ok := msg.ValidatorData.(*Shard)
		if !ok {
			continue
		}
		p.stats.noteIn(len(msg.Data))
		select {
		case p.inbox <- inbound{from: nb.id, shard: s}:
		case <-ctx.Done():
			return
		}
	}
}

// shardValidator checks every message on sender's parameter topic before
// gossipsub accepts it. Malformed, forged or out-of-window messages are
// rejected, logged and charged to the peer that delivered them.
func (p *Peer) shardValidator(sender peer.ID) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	expect := Expect{RunID: p.run, Model: p.model, Total: len(p.cfg.Init), Window: Window}
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
		s, err := DecodeShard(msg.Data)
		if err != nil {
			return reject(err)
		}
		if err := expect.Check(s, p.round.Load()); err != nil {
			if Ignorable(err) { // a round outside the window: someone is behind, not hostile
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
	hb, err := UnmarshalHeartbeat(msg.Data, p.run, p.model)
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
		hb, ok := msg.ValidatorData.(*Heartbeat)
		if !ok || msg.GetFrom() == p.self {
			continue
		}
		p.stats.noteIn(len(msg.Data))
		select {
		case out <- &heardBeat{from: msg.GetFrom(), Heartbeat: *hb}:
		case <-ctx.Done():
			return
		}
	}
}

// noteHeartbeat records a member's state and catches up when the
// neighbors have moved more than half a window ahead.
func (p *Peer) noteHeartbeat(ctx context.Context, hb *heardBeat) {
	prev, known := p.heard[hb.from]
	p.heard[hb.from] = &hb.Heartbeat
	if _, isNeighbor := p.neighbors[hb.from]; isNeighbor && (!known || prev.Degree != hb.Degree) {
		p.applyNeighborsToNode()
	}
	nbs := make([]peer.ID, 0, len(p.neighbors))
	for id := range p.neighbors {
		nbs = append(nbs, id)
	}
	ahead := p.meshRound(nbs)
	if ahead <= p.node.Round()+Window/2 || ahead >= p.cfg.Rounds {
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

// publish sends this peer's vector for round as shards on its own topic.
func (p *Peer) publish(ctx context.Context, round int, params []float32) {
	tmpl := Shard{RunID: p.run, Model: p.model, Round: uint64(round), Degree: uint16(min(len(p.neighbors), 65535)),
		DataWeight: float32(p.cfg.DataWeight), Encoding: EncodingFloat32}
	subscribers := len(p.own.ListPeers())
	p.stats.notePublish()
	for _, s := range Split(tmpl, params, ShardValues(p.cfg.ShardBytes)) {
		buf, err := AppendShard(nil, &s) // gossipsub keeps the slice: no reuse
		if err != nil {
			p.log.Error("cannot encode a shard", "err", err)
			return
		}
		if err := p.own.Publish(ctx, buf); err != nil {
			p.log.Debug("publish failed", "err", err)
			return
		}
		p.stats.noteOut(len(buf) * subscribers)
	}
}

func (p *Peer) publishHeartbeat(ctx context.Context) {
	hb := Heartbeat{RunID: p.run, Model: p.model, Round: uint64(p.node.Round()), Degree: uint16(min(len(p.neighbors), MaxHeartbeatDegree)),
		DataWeight: float32(p.cfg.DataWeight), SamplesPerSec: float32(p.samplesPerSec()), Device: p.cfg.Device}
	for id := range p.neighbors {
		if len(hb.Proposals) < MaxProposals {
			hb.Proposals = append(hb.Proposals, Proposal{ID: id})
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
