package gossip

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// neighborhood is whom the peer mixes with and how it chooses them: the
// active links, the channels it follows, the neighbor planner, its network
// coordinate, and the RTTs it measured.
type neighborhood struct {
	links []link // active links, sorted by ID, as handed to the node
	// finalLinks are the links of the last round, for the summary.
	finalLinks []link
	following  map[peer.ID]Channel // the channel followed of each neighbor
	// retiring are the channels of links that changed, still followed
	// until the node's round numbered here has ended: the node counts a
	// link until its next round, so the vector of the round in progress must
	// still come in over the old channel.
	retiring      map[following]int
	planner       *topology.Planner
	vivaldi       *topology.Vivaldi // this peer's network coordinate
	coordErrorMax float64           // a coordinate's error until it has been fitted to a sample
	proposals     []topology.Link   // announced in each heartbeat
	idOf          map[string]peer.ID
	rtt           rttTable
	probing       map[peer.ID]bool // probes in flight
	measured      chan measured    // finished probes
}

// link is an active neighbor as the peer mixes with it: near links are
// mixed every round over the neighbor's near channel, long links every
// LongPeriod rounds over its long channel.
type link struct {
	id     peer.ID
	long   bool
	weight float64 // Metropolis weight 1/(1+max(d_self, d_other))
}

func (l link) channel() Channel {
	if l.long {
		return Long
	}
	return Near
}

// init sets up self's neighbor selection under cfg, announcing an uplink
// of uplinkBitsPerSec (0: not stated).
func (n *neighborhood) init(self peer.ID, cfg topology.SelectConfig, uplinkBitsPerSec float64) error {
	planner, err := topology.NewPlanner(self.String(), cfg)
	if err != nil {
		return err
	}
	planner.SetUplink(float64(wire.UplinkKbps(uplinkBitsPerSec)) * 1000) // as the others will read it
	vcfg := topology.DefaultVivaldiConfig()
	vcfg.Seed = wire.RunSeed(string(self)) // reproducible for a given identity
	vivaldi, err := topology.NewVivaldi(vcfg)
	if err != nil {
		return err
	}
	n.following, n.retiring = map[peer.ID]Channel{}, map[following]int{}
	n.planner, n.vivaldi, n.coordErrorMax = planner, vivaldi, vcfg.ErrorMax
	n.idOf, n.probing, n.measured = map[string]peer.ID{}, map[peer.ID]bool{}, make(chan measured, 64)
	return nil
}

// plan runs one heartbeat period of neighbor selection (topology.Planner):
// it forgets departed members, ranks the members by measured and estimated
// RTT, probes the shortlist, takes the proposals to announce in the next
// heartbeat, and adopts the active links (those both ends accept, as every
// member derives from the announcements) with their Metropolis weights.
//
// The Planner's hysteresis (a current near link stays unless a candidate
// is 20% faster; refused proposals are left alone for a few plans) and the
// mutual acceptance an active link needs keep a member whose subscription
// flickers from changing anybody's active set until both ends have
// announced it.
func (p *Peer) plan(ctx context.Context) {
	n := &p.neighbors
	members := map[string]peer.ID{}
	for _, id := range p.net.Members() {
		members[id.String()] = id
	}
	p.forgetDeparted(members)
	cands := make([]topology.Candidate, 0, len(members))
	anns := make([]topology.Announcement, 0, len(p.members.heard))
	for s, id := range members {
		c := topology.Candidate{ID: s, RTT: n.rtt.smoothed(id)}
		if hb, ok := p.members.heard[id]; ok {
			c.EstRTT = n.estimate(hb.coord)
			anns = append(anns, hb.announcement)
		}
		cands = append(cands, c)
	}
	// The Planner is deterministic for a given input order.
	slices.SortFunc(cands, func(a, b topology.Candidate) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(anns, func(a, b topology.Announcement) int { return cmp.Compare(a.From, b.From) })
	n.idOf = members
	d := n.planner.Plan(cands, anns)
	n.proposals = d.Propose
	var probe []peer.ID
	for _, s := range d.Probe {
		if id, ok := members[s]; ok {
			probe = append(probe, id)
		}
	}
	p.probe(ctx, probe)
	if len(d.Refused) > 0 {
		p.log.Debug("proposals refused", "peers", d.Refused)
	}
	links := make([]link, 0, len(d.Active))
	for _, a := range d.Active {
		if id, ok := members[a.ID]; ok {
			links = append(links, link{id: id, long: a.Long, weight: a.Weight})
		}
	}
	if len(links) == 0 && len(cands) > 0 {
		links = p.fallbackLinks(members, d.Accepted)
	}
	p.applyLinks(ctx, links)
	p.stats.setPlan(d, n.estimates(cands))
}

// fallbackLinks keeps a peer that has members from mixing with nobody
// while no link is active (its proposals not yet answered, or all its
// neighbors gone): the previous links that are still members, else the
// accepted set, all near, weighted 1/(1+n) each. The other ends may not
// count this peer back for a heartbeat or two; mixing one-sided for that
// long costs a little symmetry, mixing with nobody costs the run.
func (p *Peer) fallbackLinks(members map[string]peer.ID, accepted []topology.Link) []link {
	var ids []peer.ID
	for _, l := range p.neighbors.links {
		if _, ok := members[l.id.String()]; ok {
			ids = append(ids, l.id)
		}
	}
	if len(ids) == 0 {
		for _, l := range accepted {
			if id, ok := members[l.ID]; ok {
				ids = append(ids, id)
			}
		}
	}
	links := make([]link, len(ids))
	for i, id := range ids {
		links[i] = link{id: id, weight: 1 / float64(1+len(ids))}
	}
	if len(links) > 0 && !slices.EqualFunc(links, p.neighbors.links, func(a, b link) bool { return a.id == b.id }) {
		p.log.Info("no agreed neighbors yet; mixing with proposed ones", "neighbors", len(links))
	}
	return links
}

// forgetDeparted drops what the peer holds on members that left: their
// heartbeats (so they no longer count toward the mesh's round), RTTs and
// coordinate-filter samples.
func (p *Peer) forgetDeparted(members map[string]peer.ID) {
	for id := range p.members.heard {
		if _, ok := members[id.String()]; !ok {
			p.members.forget(id)
			p.neighbors.vivaldi.Forget(id.String())
			p.caps.forget(id)
		}
	}
	for _, id := range p.neighbors.rtt.ids() {
		if _, ok := members[id.String()]; !ok {
			p.neighbors.rtt.forget(id)
		}
	}
}

// applyLinks makes links the peer's neighbor set: it follows the channels
// of new links (the long channel of a long one, so it never pulls a vector
// every round from a long neighbor), retires those of dropped ones, and
// hands the node the set with its weights, from the node's next round. A
// link whose long flag flipped changes channel.
func (p *Peer) applyLinks(ctx context.Context, links []link) {
	n := &p.neighbors
	links = slices.Clone(links)
	slices.SortFunc(links, func(a, b link) int { return cmp.Compare(a.id, b.id) })
	reweighted := !slices.Equal(links, n.links)
	changed := !slices.EqualFunc(links, n.links, func(a, b link) bool { return a.id == b.id && a.long == b.long })
	for _, l := range links {
		if ch, ok := n.following[l.id]; ok && ch == l.channel() {
			continue
		} else if ok {
			p.retire(l.id, ch)
		}
		if err := p.follow(ctx, l.id, l.channel()); err != nil {
			p.log.Warn("cannot follow neighbor", "peer", l.id, "channel", l.channel(), "err", err)
		}
	}
	for id, ch := range n.following {
		if !slices.ContainsFunc(links, func(l link) bool { return l.id == id }) {
			p.retire(id, ch)
		}
	}
	n.links = links
	if !reweighted {
		return
	}
	p.stats.setLinks(links)
	if p.node != nil {
		self, nb := n.nodeNeighbors()
		if err := p.node.SetNeighbors(self, nb); err != nil {
			p.log.Warn("neighbor weights refused", "err", err)
		}
	}
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

// follow starts receiving a neighbor's vectors on ch, or keeps receiving
// them where ch was retiring, and measures its RTT.
func (p *Peer) follow(ctx context.Context, id peer.ID, ch Channel) error {
	n := &p.neighbors
	if _, ok := n.retiring[following{id, ch}]; ok {
		delete(n.retiring, following{id, ch})
	} else if err := p.net.Follow(id, ch); err != nil {
		return err
	}
	n.following[id] = ch
	p.probe(ctx, []peer.ID{id})
	return nil
}

// retire stops counting id's channel ch as a link's: before training the
// peer unfollows it at once, while training once the node's round in
// progress, the last that still counts the link, has ended.
func (p *Peer) retire(id peer.ID, ch Channel) {
	n := &p.neighbors
	delete(n.following, id)
	if p.node == nil {
		p.unfollow(following{id, ch})
		return
	}
	n.retiring[following{id, ch}] = p.node.Round()
}

// retireBefore unfollows the retiring channels no round from round on needs.
func (p *Peer) retireBefore(round int) {
	for f, last := range p.neighbors.retiring {
		if last < round {
			delete(p.neighbors.retiring, f)
			p.unfollow(f)
		}
	}
}

// unfollow stops receiving a neighbor's vectors on one channel, and
// forgets the neighbor once the peer follows none of its channels.
func (p *Peer) unfollow(f following) {
	p.net.Unfollow(f.id, f.ch)
	n := &p.neighbors
	if _, ok := n.following[f.id]; ok {
		return
	}
	for other := range n.retiring {
		if other.id == f.id {
			return
		}
	}
	p.net.Release(f.id)
	p.vectors.forget(f.id)
	p.stats.forget(f.id)
}

// nodeNeighbors converts the links to the node's neighbor list and self
// weight, which takes what the links leave of 1.
func (n *neighborhood) nodeNeighbors() (float64, []training.Neighbor) {
	self := 1.0
	nb := make([]training.Neighbor, 0, len(n.links))
	for _, l := range n.links {
		nb = append(nb, training.Neighbor{ID: training.PeerID(l.id), Weight: l.weight, Long: l.long})
		self -= l.weight
	}
	return max(self, 0), nb
}

// estimate is the RTT this peer's coordinate predicts to a coordinate, 0
// when unknown: a coordinate that fails validation, or either coordinate
// still at its initial error (never fitted to a single sample: it sits at
// the origin and predicts nothing, so ranking by it would be ranking by
// noise).
func (n *neighborhood) estimate(c topology.Coord) time.Duration {
	if c.Error >= n.coordErrorMax || n.vivaldi.Coord().Error >= n.coordErrorMax {
		return 0
	}
	if d := n.vivaldi.Estimate(c); d > 0 && d < topology.UnknownDistance {
		return d
	}
	return 0
}

// estimates maps each candidate to its estimated RTT, for /status.
func (n *neighborhood) estimates(cands []topology.Candidate) map[string]time.Duration {
	out := make(map[string]time.Duration, len(cands))
	for _, c := range cands {
		if c.EstRTT > 0 {
			out[c.ID] = c.EstRTT
		}
	}
	return out
}

// updateCoordinate feeds one RTT sample to this peer's Vivaldi client with
// the coordinate the peer last announced; samples of peers not heard yet
// only feed the RTT filter.
func (p *Peer) updateCoordinate(id peer.ID, rtt time.Duration) {
	hb, ok := p.members.heard[id]
	if !ok {
		return
	}
	if _, err := p.neighbors.vivaldi.Update(id.String(), hb.coord, rtt); err != nil {
		p.log.Debug("coordinate not updated", "peer", id, "err", err)
	}
}
