package topology

import (
	"cmp"
	"slices"
)

// Announcement is what a peer says about neighbor selection in its
// periodic heartbeat, which every member hears: the links it proposes.
type Announcement struct {
	From      string
	Proposals []Link
	// UplinkBitsPerSec is the peer's uplink rate as it states it (0:
	// unknown). With the run's MessageBytes it caps the links the peer
	// takes (capacity.go).
	UplinkBitsPerSec float64
}

// View is what a peer derives from the latest announcements of all members:
// every announcer's accepted set, the active edges and each peer's active
// degree. Peers that heard the same announcements derive the same View, so
// both ends of an edge agree on whether it is active, long, and how it is
// weighted, without another message.
//
// Announcements come from untrusted peers, so NewView sanitises them: of a
// peer's proposals only the first Degree distinct ones to other peers count
// (a peer cannot make itself a hub by proposing to everyone), and a peer's
// accepted set never exceeds MaxDegree, nor what its announced uplink
// allows. What it cannot check is the RTT a proposer announces, which
// ranks it among the target's inbound proposals: a peer that lies about it
// can take an inbound place at a full peer from an honest proposer, which
// then links elsewhere, but it cannot add links. Nor can it check a stated
// uplink rate: understating it only caps the liar; stating a very slow one
// stretches the budget for all, at worst to no caps.
type View struct {
	cfg      SelectConfig
	index    map[string]int
	ids      []string
	caps     []SelectConfig // cfg capped by each announcer's uplink
	uplinks  []float64      // announced uplink rates, per announcer
	own      [][]Link       // sanitised proposals, per announcer
	inbound  [][]Inbound    // proposals made to each announcer
	accepted [][]Link       // derived accepted set, per announcer
	active   [][]Link       // accepted links whose other end accepts back, sorted by ID
	degree   []int          // len(active)
}

// NewView derives the accepted and active sets from announcements. When a
// peer announced more than once, its last announcement counts; an
// announcement without a sender is ignored. cfg must be the run's config
// (invalid values are clamped; validate it first).
func NewView(cfg SelectConfig, anns []Announcement) *View {
	cfg = cfg.normalized()
	v := &View{cfg: cfg, index: make(map[string]int, len(anns))}
	for _, a := range anns {
		if a.From == "" {
			continue
		}
		at, ok := v.index[a.From]
		if !ok {
			at = len(v.ids)
			v.index[a.From] = at
			v.ids = append(v.ids, a.From)
			v.own = append(v.own, nil)
			v.uplinks = append(v.uplinks, 0)
		}
		v.own[at], v.uplinks[at] = a.Proposals, a.UplinkBitsPerSec
	}
	n := len(v.ids)
	budget := cfg.uplinkBudget(v.uplinks)
	v.caps = make([]SelectConfig, n)
	for i, id := range v.ids {
		v.caps[i] = cfg.capped(cfg.linkCapacity(v.uplinks[i], budget))
		v.own[i] = sanitiseProposals(id, v.own[i], v.caps[i].Degree)
	}
	v.inbound = make([][]Inbound, n)
	for i, props := range v.own {
		for _, l := range props {
			if t, ok := v.index[l.ID]; ok {
				v.inbound[t] = append(v.inbound[t], Inbound{ID: v.ids[i], RTT: l.RTT, Long: l.Long})
			}
		}
	}
	v.accepted = make([][]Link, n)
	for i, id := range v.ids {
		v.accepted[i] = v.caps[i].Accept(id, v.own[i], v.inbound[i])
	}
	v.active = make([][]Link, n)
	v.degree = make([]int, n)
	for i, id := range v.ids {
		for _, l := range v.accepted[i] {
			if v.accepts(l.ID, id) {
				v.active[i] = append(v.active[i], l)
			}
		}
		slices.SortFunc(v.active[i], func(a, b Link) int { return cmp.Compare(a.ID, b.ID) })
		v.degree[i] = len(v.active[i])
	}
	v.markSlowLinksAsync()
	return v
}

// markSlowLinksAsync mixes an active link asynchronously when either end
// proposed it as slow (SelectConfig.slow and slowLong: its RTT above
// AsyncRTT, with a hysteresis band), whether it is near or long.
// Synchronous D-PSGD runs at the pace of its slowest synchronous link
// anywhere in the mesh (a round waits for neighbors, who wait for theirs),
// so one isolated peer whose nearest members are 150 ms away would slow
// every round of every peer; a long link that happens to be fast is mixed
// every round like a near one. Both ends read the same announcements, so
// they agree on the mode.
func (v *View) markSlowLinksAsync() {
	if v.cfg.Policy == PolicyRandom { // random is the synchronous baseline
		return
	}
	proposedSlow := func(from int, to string) bool {
		return slices.ContainsFunc(v.own[from], func(l Link) bool { return l.ID == to && l.Slow })
	}
	for i, id := range v.ids {
		for k, l := range v.active[i] {
			j, ok := v.index[l.ID]
			if ok {
				v.active[i][k].Long = proposedSlow(i, l.ID) || proposedSlow(j, id)
			}
		}
	}
}

// sanitiseProposals keeps the first limit distinct proposals to peers other
// than from, with negative RTTs read as unknown.
func sanitiseProposals(from string, props []Link, limit int) []Link {
	var out []Link
	for _, l := range props {
		if len(out) == limit {
			break
		}
		if l.ID == "" || l.ID == from || slices.ContainsFunc(out, func(o Link) bool { return o.ID == l.ID }) {
			continue
		}
		out = append(out, Link{ID: l.ID, Long: l.Long, Slow: l.Slow, RTT: max(l.RTT, 0)})
	}
	return out
}

// accepts reports whether target's derived accepted set holds peer.
func (v *View) accepts(target, peer string) bool {
	t, ok := v.index[target]
	return ok && slices.ContainsFunc(v.accepted[t], func(l Link) bool { return l.ID == peer })
}

// MaxLinks is how many links id's announced uplink allows it (0: no cap
// of its own, MaxDegree applies).
func (v *View) MaxLinks(id string) int {
	if t, ok := v.index[id]; ok && v.caps[t].MaxDegree < v.cfg.MaxDegree {
		return v.caps[t].MaxDegree
	}
	return 0
}

// capsOf is the config that applies to id: the run's, capped by its uplink.
func (v *View) capsOf(id string) SelectConfig {
	if t, ok := v.index[id]; ok {
		return v.caps[t]
	}
	return v.cfg
}

// Announced reports whether id has announced.
func (v *View) Announced(id string) bool {
	_, ok := v.index[id]
	return ok
}

// Accepted returns id's derived accepted set in order of acceptance (own
// proposals, then inbound ones by announced RTT), or nil if id has not
// announced.
func (v *View) Accepted(id string) []Link {
	if t, ok := v.index[id]; ok {
		return slices.Clone(v.accepted[t])
	}
	return nil
}

// Active returns id's active links, sorted by ID: the accepted links whose
// other end accepts id back. Long marks a link mixed asynchronously: one
// that either end proposed as slow (markSlowLinksAsync), near or long.
func (v *View) Active(id string) []Link {
	if t, ok := v.index[id]; ok {
		return slices.Clone(v.active[t])
	}
	return nil
}

// Degree returns id's number of active links (0 if it has not announced).
func (v *View) Degree(id string) int {
	if t, ok := v.index[id]; ok {
		return v.degree[t]
	}
	return 0
}

// wouldAccept predicts whether target would accept a new proposal from
// peer: yes if target has not announced (nothing is known against it) or
// already accepts peer; otherwise only if it has more free places than
// the reserve (see inboundReserve). It lets a proposer skip a full peer
// instead of learning of the refusal a heartbeat later.
//
// A full peer counts as refusing even when peer would outrank its worst
// inbound proposal and so displace it: displaced peers displace others in
// turn, and when nearly every peer is full (the random policy fills most
// peers to MaxDegree) those chains kept 1000-peer meshes re-planning for
// over 70 exchanges instead of about 10. Proposals that race for the same
// place are still settled by Accept's RTT order.
func (v *View) wouldAccept(target, peer string) bool {
	t, ok := v.index[target]
	if !ok {
		return true
	}
	acc, c := v.accepted[t], v.caps[t]
	return c.MaxDegree-len(acc) > c.inboundReserve() || slices.ContainsFunc(acc, func(l Link) bool { return l.ID == peer })
}
