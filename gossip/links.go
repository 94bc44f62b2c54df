package gossip

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// link is an active neighbor as the peer mixes with it: near links are
// mixed every round over the neighbor's parameter topic, long links every
// LongPeriod rounds over its long topic.
type link struct {
	id     peer.ID
	long   bool
	weight float64 // Metropolis weight 1/(1+max(d_self, d_other))
}

// neighbor is a followed topic of an active link.
type neighbor struct {
	id     peer.ID
	long   bool
	sub    *pubsub.Subscription
	topic  *pubsub.Topic
	cancel context.CancelFunc
}

func (p *Peer) topicOf(id peer.ID, long bool) string {
	if long {
		return wire.LongTopic(p.run, id)
	}
	return wire.ParamTopic(p.run, id)
}

// applyLinks makes links the peer's neighbor set: it follows the topics of
// new links (the long topic of a long one, so it never pulls a vector every
// round from a long neighbor), unfollows those of dropped ones, and hands the
// node the set with its weights, from the node's next round. A link whose
// long flag flipped changes topic.
func (p *Peer) applyLinks(ctx context.Context, links []link) {
	links = slices.Clone(links)
	slices.SortFunc(links, func(a, b link) int { return cmp.Compare(a.id, b.id) })
	reweighted := !slices.Equal(links, p.links)
	sameLink := func(a, b link) bool { return a.id == b.id && a.long == b.long }
	changed := !slices.EqualFunc(links, p.links, sameLink)
	for _, l := range links {
		if nb, ok := p.neighbors[l.id]; ok && nb.long == l.long {
			continue
		} else if ok {
			p.unfollow(nb, false)
		}
		if err := p.follow(ctx, l.id, l.long); err != nil {
			p.log.Warn("cannot follow neighbor", "peer", l.id, "long", l.long, "err", err)
		}
	}
	for id, nb := range p.neighbors {
		if !slices.ContainsFunc(links, func(l link) bool { return l.id == id }) {
			p.unfollow(nb, true)
		}
	}
	p.links = links
	if !reweighted {
		return
	}
	p.stats.setLinks(links)
	p.applyLinksToNode()
	if !changed {
		return // only a neighbor's degree, and so a weight, moved
	}
	p.stats.noteChange()
	long := 0
	for _, l := range links {
		if l.long {
			long++
		}
	}
	p.log.Info("neighbors changed", "neighbors", len(links), "long", long)
}

// applyLinksToNode hands the node the current links; they take effect at
// the node's next round.
func (p *Peer) applyLinksToNode() {
	if p.node == nil {
		return
	}
	self, nb := p.nodeNeighbors()
	if err := p.node.SetNeighbors(self, nb); err != nil {
		p.log.Warn("neighbor weights refused", "err", err)
	}
}

// nodeNeighbors converts the links to the node's neighbor list and self
// weight, which takes what the links leave of 1.
func (p *Peer) nodeNeighbors() (float64, []training.Neighbor) {
	self := 1.0
	nb := make([]training.Neighbor, 0, len(p.links))
	for _, l := range p.links {
		nb = append(nb, training.Neighbor{ID: training.PeerID(l.id), Weight: l.weight, Long: l.long})
		self -= l.weight
	}
	return max(self, 0), nb
}

// follow subscribes to a neighbor's parameter or long topic with a validator.
func (p *Peer) follow(ctx context.Context, id peer.ID, long bool) error {
	name := p.topicOf(id, long)
	window := uint64(training.DefaultWindow)
	if long { // a long neighbor's exchange may land up to 2·LongPeriod rounds off
		window = max(window, uint64(2*p.cfg.Neighbors.LongPeriod))
	}
	if err := p.cfg.PubSub.RegisterTopicValidator(name, p.shardValidator(id, window)); err != nil {
		return fmt.Errorf("validator for %s: %w", name, err)
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
	nb := &neighbor{id: id, long: long, sub: sub, topic: topic, cancel: cancel}
	p.neighbors[id] = nb
	if p.cfg.Protect != nil {
		p.cfg.Protect(id, true)
	}
	go p.readShards(subCtx, nb)
	p.probe(ctx, []peer.ID{id})
	return nil
}

// unfollow leaves a neighbor's topic; gone says the neighbor is no longer a
// neighbor at all (rather than switching between near and long).
func (p *Peer) unfollow(nb *neighbor, gone bool) {
	nb.cancel()
	nb.sub.Cancel()
	_ = nb.topic.Close()
	_ = p.cfg.PubSub.UnregisterTopicValidator(p.topicOf(nb.id, nb.long))
	delete(p.neighbors, nb.id)
	if !gone {
		return
	}
	if p.cfg.Protect != nil {
		p.cfg.Protect(nb.id, false)
	}
	p.asm.Forget(nb.id.String())
	p.longAsm.Forget(nb.id.String())
	p.stats.forget(nb.id)
}

func (p *Peer) leaveAll() {
	for _, nb := range p.neighbors {
		p.unfollow(nb, true)
	}
}

func (p *Peer) readShards(ctx context.Context, nb *neighbor) {
	for {
		msg, err := nb.sub.Next(ctx)
		if err != nil {
			return
		}
		s, ok := msg.ValidatorData.(*wire.Shard)
		if !ok {
			continue
		}
		p.stats.noteIn(len(msg.Data))
		select {
		case p.inbox <- inbound{from: nb.id, long: nb.long, shard: s}:
		case <-ctx.Done():
			return
		}
	}
}
