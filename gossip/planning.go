package gossip

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
)

// plan runs one heartbeat period of neighbor selection (topology.Planner):
// it forgets departed members, ranks the members by measured and estimated
// RTT, probes the shortlist, takes the proposals to announce in the next
// heartbeat, and adopts the active links (those both ends accept, as every
// member derives from the announcements) with their Metropolis weights.
//
// The Planner's hysteresis (a current near link stays unless a candidate
// is 20% faster; refused proposals are left alone for a few plans) and the
// mutual acceptance an active link needs replace the old rule that adopted
// a neighbor set only once two membership ticks agreed: a member whose
// subscription flickers changes nobody's active set until both ends have
// announced it.
func (p *Peer) plan(ctx context.Context) {
	members := p.members()
	p.forgetDeparted(members)
	cands := make([]topology.Candidate, 0, len(members))
	anns := make([]topology.Announcement, 0, len(p.heard))
	for s, id := range members {
		if id == p.self {
			continue
		}
		c := topology.Candidate{ID: s, RTT: p.rtt.smoothed(id)}
		if hb, ok := p.heard[id]; ok {
			c.EstRTT = p.estimate(hb.coord)
			anns = append(anns, hb.announcement)
		}
		cands = append(cands, c)
	}
	// The Planner is deterministic for a given input order.
	slices.SortFunc(cands, func(a, b topology.Candidate) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(anns, func(a, b topology.Announcement) int { return cmp.Compare(a.From, b.From) })
	p.idOf = members
	d := p.planner.Step(cands, anns)
	p.proposals = d.Propose
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
	p.stats.setPlan(d, p.estimates(cands))
}

// fallbackLinks keeps a peer that has members from mixing with nobody
// while no link is active (its proposals not yet answered, or all its
// neighbors gone): the previous links that are still members, else the
// accepted set, all near, weighted 1/(1+n) each. The other ends may not
// count this peer back for a heartbeat or two; mixing one-sided for that
// long costs a little symmetry, mixing with nobody costs the run.
func (p *Peer) fallbackLinks(members map[string]peer.ID, accepted []topology.Link) []link {
	var ids []peer.ID
	for _, l := range p.links {
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
	if len(links) > 0 && !slices.EqualFunc(links, p.links, func(a, b link) bool { return a.id == b.id }) {
		p.log.Info("no agreed neighbors yet; mixing with proposed ones", "neighbors", len(links))
	}
	return links
}

// forgetDeparted drops what the peer holds on members that left: their
// heartbeats (so they no longer count toward the mesh's round), RTTs and
// coordinate-filter samples.
func (p *Peer) forgetDeparted(members map[string]peer.ID) {
	for id := range p.heard {
		if _, ok := members[id.String()]; !ok {
			delete(p.heard, id)
			delete(p.sentRound, id)
			p.vivaldi.Forget(id.String())
			p.caps.forget(id)
		}
	}
	for _, id := range p.rtt.ids() {
		if _, ok := members[id.String()]; !ok {
			p.rtt.forget(id)
		}
	}
}

// estimate is the RTT this peer's coordinate predicts to a coordinate, 0
// when unknown: a coordinate that fails validation, or either coordinate
// still at its initial error (never fitted to a single sample: it sits at
// the origin and predicts nothing, so ranking by it would be ranking by
// noise).
func (p *Peer) estimate(c topology.Coord) time.Duration {
	if c.Error >= p.coordErrorMax || p.vivaldi.Coord().Error >= p.coordErrorMax {
		return 0
	}
	if d := p.vivaldi.Estimate(c); d > 0 && d < topology.UnknownDistance {
		return d
	}
	return 0
}

// estimates maps each candidate to its estimated RTT, for /status.
func (p *Peer) estimates(cands []topology.Candidate) map[string]time.Duration {
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
	hb, ok := p.heard[id]
	if !ok {
		return
	}
	if _, err := p.vivaldi.Update(id.String(), hb.coord, rtt); err != nil {
		p.log.Debug("coordinate not updated", "peer", id, "err", err)
	}
}
