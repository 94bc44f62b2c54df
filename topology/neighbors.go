package topology

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Candidate is a member a peer could link to, with what it knows of the RTT
// between them. Durations of 0 or below mean unknown.
type Candidate struct {
	ID     string
	EstRTT time.Duration // from network coordinates (0 = unknown)
	RTT    time.Duration // measured (0 = not measured)
}

// rtt returns the best known RTT: measured, else estimated, else 0.
func (c Candidate) rtt() time.Duration {
	switch {
	case c.RTT > 0:
		return c.RTT
	case c.EstRTT > 0:
		return c.EstRTT
	}
	return 0
}

// Link is a link a peer proposes or accepts. In a proposal, Long marks a
// long-range link (picked by rendezvous hash, not by RTT) and Slow a link
// the proposer finds too slow to mix every round (see SelectConfig.slow).
// RTT is the proposer's best knowledge of the link's round-trip time (0 =
// unknown; Propose gives whole microseconds); it travels with the
// announcement, so that every member ranks a peer's inbound proposals the
// same way and can derive its accepted set. In an active link (View.Active)
// Long means the link is mixed asynchronously every LongPeriod rounds,
// rather than every round: it is slow, whatever picked it.
type Link struct {
	ID   string
	Long bool
	Slow bool
	RTT  time.Duration
}

// Inbound is a proposal another peer made to this one: who, the RTT the
// proposer announced for it (0 = unknown) and whether it is long-range.
type Inbound struct {
	ID   string
	RTT  time.Duration
	Long bool
}

// announcedRTT is the RTT a proposal carries: whole microseconds (at least
// one when known), so that a wire format in microseconds carries exactly
// what the proposer ranked with, and every member ranks inbound proposals
// the same way.
func announcedRTT(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return max(d.Round(time.Microsecond), time.Microsecond)
}

// rttKey orders RTTs ascending with unknown ones (<= 0) last.
func rttKey(d time.Duration) float64 {
	if d <= 0 {
		return math.Inf(1)
	}
	return float64(d)
}

// ShortlistFor returns whom self should probe before its next plan: the
// Shortlist candidates with the smallest estimated RTT, then those of its
// current links that are still candidates, so that they are re-measured.
// Candidates without an estimate rank last, in an order drawn from (Seed,
// self, candidate) so that peers without coordinates yet spread their
// probes instead of all probing the same members. The random policy ignores
// latency and probes only its current links (their RTT ranks them as
// inbound proposals). Deterministic; self and empty IDs are never listed.
func (c SelectConfig) ShortlistFor(self string, cands []Candidate, current []Link) []string {
	c = c.normalized()
	var out []string
	if c.Policy != PolicyRandom {
		best := newTopK(c.Shortlist)
		hash := newRendezvous(c.Seed, self)
		for _, cd := range cands {
			if cd.ID == "" || cd.ID == self {
				continue
			}
			best.offer(rankedCandidate{
				Candidate: cd,
				key:       rttKey(cd.EstRTT),
				score:     hash.score(cd.ID),
			})
		}
		for _, r := range best.items {
			out = append(out, r.ID)
		}
	}
	for _, l := range current {
		if l.ID == "" || l.ID == self || slices.Contains(out, l.ID) {
			continue
		}
		if slices.ContainsFunc(cands, func(cd Candidate) bool { return cd.ID == l.ID }) {
			out = append(out, l.ID)
		}
	}
	return out
}

// Propose returns self's proposals from its candidates: under latency and
// latency+long, the near links first (fastest first), then the long ones.
// It is deterministic and never proposes self, an empty ID or a refused ID.
//
// Near links go to the candidates with the smallest RTT (measured, else
// estimated, else unknown and last). A current near link counts its RTT
// ×(1−Hysteresis), so a newcomer must be that much faster to displace it,
// and at most one working near link is replaced per plan: noisy
// measurements do not flap the neighbor set, and a peer never drops all its
// links at once while it moves (links to members that left or refused are
// replaced at once, they are not working).
//
// Long links (latency+long) and random links (random) go to the
// candidates with the highest rendezvous score for (Seed, self, candidate)
// among those that are not near picks; a current link of the same kind
// stays while it is eligible, so a newcomer that happens to outscore it
// does not cause churn.
//
// With fewer eligible candidates than Degree, every eligible candidate is
// proposed. Propose clamps an invalid config into range rather than fail;
// validate it first.
func (c SelectConfig) Propose(self string, cands []Candidate, current []Link, refused map[string]bool) []Link {
	return c.normalized().propose(self, cands, current, func(cd Candidate) bool { return refused[cd.ID] })
}

// propose is Propose with a normalized config and a predicate for excluded
// candidates (refused, or predicted to refuse).
func (c SelectConfig) propose(self string, cands []Candidate, current []Link, excluded func(Candidate) bool) []Link {
	if c.Policy == PolicyRandom {
		return c.hashed(self, cands, current, false, c.Degree, nil, excluded)
	}
	near := c.nearest(self, cands, current, excluded)
	long := c.hashed(self, cands, current, true, c.longCount(), near, excluded)
	return append(near, long...)
}

// nearest picks the near links: the nearCount fastest eligible candidates
// with hysteresis for current near links, replacing at most one of those
// that are still eligible. A candidate is eligible if it is not self, has
// an ID and is not excluded; excluded, the costly test, is asked only of
// candidates that would make the picks.
func (c SelectConfig) nearest(self string, cands []Candidate, current []Link, excluded func(Candidate) bool) []Link {
	k := c.nearCount()
	isCurrent := func(id string) bool {
		return slices.ContainsFunc(current, func(l Link) bool { return !l.Long && l.ID == id })
	}
	best := newTopK(k)
	hash := newRendezvous(c.Seed, self)
	var kept []rankedCandidate // current near links that are still eligible
	for _, cd := range cands {
		if cd.ID == "" || cd.ID == self {
			continue
		}
		r := rankedCandidate{Candidate: cd, key: rttKey(cd.rtt()), score: hash.score(cd.ID)}
		cur := isCurrent(cd.ID)
		if cur {
			r.key *= 1 - c.Hysteresis
		}
		if (cur || best.wants(r)) && !excluded(cd) {
			if cur {
				kept = upsertRanked(kept, r)
			}
			best.offer(r)
		}
	}
	picks := best.items
	slices.SortFunc(kept, compareRanked)
	kept = kept[:min(len(kept), k)]
	var leaving []rankedCandidate
	for _, r := range kept {
		if !slices.ContainsFunc(picks, func(p rankedCandidate) bool { return p.ID == r.ID }) {
			leaving = append(leaving, r)
		}
	}
	if len(leaving) > 1 {
		// Replace only the worst leaving link this plan; keep the others and
		// fill the remaining places with the best newcomers.
		worst := leaving[len(leaving)-1]
		stay := slices.DeleteFunc(slices.Clone(kept), func(r rankedCandidate) bool { return r.ID == worst.ID })
		for _, p := range picks {
			if len(stay) == k {
				break
			}
			if !slices.ContainsFunc(stay, func(s rankedCandidate) bool { return s.ID == p.ID }) {
				stay = append(stay, p)
			}
		}
		slices.SortFunc(stay, compareRanked)
		picks = stay
	}
	out := make([]Link, len(picks), len(picks)+c.longCount())
	for i, r := range picks {
		rtt := announcedRTT(r.rtt())
		wasSlow := slices.ContainsFunc(current, func(l Link) bool { return !l.Long && l.Slow && l.ID == r.ID })
		out[i] = Link{ID: r.ID, RTT: rtt, Slow: c.slow(rtt, wasSlow)}
	}
	return out
}

// slow decides whether a near link with the given RTT is marked slow (mixed
// asynchronously): once its RTT exceeds AsyncRTT, until it drops below
// AsyncRTT×(1−Hysteresis). The mode of a link is the one thing both of its
// ends must switch in the same round, and they hear of a switch at
// different times; without the band, a link whose RTT sits at AsyncRTT
// flipped with every noisy measurement, and each flip cost a round that
// ended by deadline at one end, which its neighbors then waited for in
// turn. Never under the random policy (the synchronous baseline) or with
// AsyncRTT ≤ 0; an unknown RTT is not slow.
func (c SelectConfig) slow(rtt time.Duration, wasSlow bool) bool {
	if c.AsyncRTT <= 0 || c.Policy == PolicyRandom || rtt <= 0 {
		return false
	}
	if wasSlow {
		return float64(rtt) > float64(c.AsyncRTT)*(1-c.Hysteresis)
	}
	return rtt > c.AsyncRTT
}

// slowLong decides the same for a long link, whose mode follows its RTT
// like a near link's: a long link that happens to land close by costs a
// round little, and mixed every round it ties its ends' clusters together
// twice as often. A long link starts slow, as a hash picked it and it may
// cross an ocean, and turns fast only once its RTT is below the lower edge
// of the hysteresis band, AsyncRTT×(1−Hysteresis); it turns slow again
// above AsyncRTT. Long links of 80–100 ms stay asynchronous: mixed every
// round they paced the mesh (PlanetLab MNIST, 64 peers, seed 1: rounds 23%
// longer than with them asynchronous). With AsyncRTT ≤ 0 every long link is
// slow.
func (c SelectConfig) slowLong(rtt time.Duration, wasFast bool) bool {
	return c.AsyncRTT <= 0 || rtt <= 0 || c.slow(rtt, !wasFast)
}

// hashed picks n links of one kind (long, or the random policy's near
// ones) by rendezvous score among eligible candidates not in taken. Current
// links of that kind that are still eligible stay first.
func (c SelectConfig) hashed(self string, cands []Candidate, current []Link, long bool, n int, taken []Link, excluded func(Candidate) bool) []Link {
	if n <= 0 {
		return nil
	}
	isTaken := func(id string) bool { return slices.ContainsFunc(taken, func(l Link) bool { return l.ID == id }) }
	isCurrent := func(id string) bool {
		return slices.ContainsFunc(current, func(l Link) bool { return l.Long == long && l.ID == id })
	}
	var sticky []rankedCandidate
	best := newTopK(n)
	hash := newRendezvous(c.Seed, self)
	for _, cd := range cands {
		if cd.ID == "" || cd.ID == self || isTaken(cd.ID) {
			continue
		}
		// All keys equal: the rendezvous score alone ranks (then the ID,
		// should two scores collide).
		r := rankedCandidate{Candidate: cd, score: hash.score(cd.ID)}
		cur := isCurrent(cd.ID)
		if (cur || best.wants(r)) && !excluded(cd) {
			if cur {
				sticky = upsertRanked(sticky, r)
			}
			best.offer(r)
		}
	}
	slices.SortFunc(sticky, compareRanked)
	picks := sticky[:min(len(sticky), n)]
	for _, r := range best.items {
		if len(picks) == n {
			break
		}
		if !slices.ContainsFunc(picks, func(p rankedCandidate) bool { return p.ID == r.ID }) {
			picks = append(picks, r)
		}
	}
	slices.SortFunc(picks, compareRanked)
	out := make([]Link, len(picks))
	for i, r := range picks {
		rtt := announcedRTT(r.rtt())
		out[i] = Link{ID: r.ID, Long: long, RTT: rtt}
		if long {
			wasFast := slices.ContainsFunc(current, func(l Link) bool { return l.Long && !l.Slow && l.ID == r.ID })
			out[i].Slow = c.slowLong(rtt, wasFast)
		}
	}
	return out
}

// Accept returns self's accepted set: its own proposals, then the peers
// that propose it by ascending announced RTT (unknown last, ties by ID),
// until MaxDegree links. A peer that both proposes self and is proposed by
// it is listed once, long only if both sides marked it long (near wins:
// it was near for one of them). Self, empty and repeated IDs are skipped;
// the first proposal of a repeated ID counts. The order is the order of
// acceptance.
func (c SelectConfig) Accept(self string, own []Link, inbound []Inbound) []Link {
	c = c.normalized()
	out := make([]Link, 0, min(c.MaxDegree, len(own)+len(inbound)))
	for _, l := range own {
		if len(out) == c.MaxDegree {
			break
		}
		if l.ID == "" || l.ID == self || slices.ContainsFunc(out, func(a Link) bool { return a.ID == l.ID }) {
			continue
		}
		out = append(out, Link{ID: l.ID, Long: l.Long, Slow: l.Slow, RTT: max(l.RTT, 0)})
	}
	ranked := slices.Clone(inbound)
	slices.SortStableFunc(ranked, compareInbound)
	seen := make(map[string]bool, len(ranked))
	for _, in := range ranked {
		if in.ID == "" || in.ID == self || seen[in.ID] {
			continue
		}
		seen[in.ID] = true
		if at := slices.IndexFunc(out, func(a Link) bool { return a.ID == in.ID }); at >= 0 {
			out[at].Long = out[at].Long && in.Long
			continue
		}
		if len(out) < c.MaxDegree {
			out = append(out, Link{ID: in.ID, Long: in.Long, RTT: max(in.RTT, 0)})
		}
	}
	return out
}

// compareInbound orders inbound proposals by announced RTT, unknown last,
// then by ID.
func compareInbound(a, b Inbound) int {
	if c := cmp.Compare(rttKey(a.RTT), rttKey(b.RTT)); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// rankedCandidate is a candidate with its ranking: key ascending (an
// effective RTT, +Inf if unknown), then score descending (a rendezvous
// hash, which spreads ties such as unknown RTTs), then ID.
type rankedCandidate struct {
	Candidate
	key   float64
	score uint64
}

func compareRanked(a, b rankedCandidate) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// upsertRanked adds r to rs, or replaces the entry with the same ID if r
// ranks better: a candidate listed twice counts with its best entry.
func upsertRanked(rs []rankedCandidate, r rankedCandidate) []rankedCandidate {
	if at := slices.IndexFunc(rs, func(x rankedCandidate) bool { return x.ID == r.ID }); at >= 0 {
		if compareRanked(r, rs[at]) < 0 {
			rs[at] = r
		}
		return rs
	}
	return append(rs, r)
}

// topK keeps the k best-ranked distinct candidates offered, sorted best
// first. O(k) per offer, for the small k of neighbor selection.
type topK struct {
	k     int
	items []rankedCandidate
}

func newTopK(k int) *topK { return &topK{k: k, items: make([]rankedCandidate, 0, max(k, 0)+1)} }

// wants reports whether offering r could change the picks: cheaper than
// offer, so that costly eligibility tests run only for candidates that
// would make it.
func (t *topK) wants(r rankedCandidate) bool {
	return t.k > 0 && (len(t.items) < t.k || compareRanked(r, t.items[len(t.items)-1]) < 0)
}

func (t *topK) offer(r rankedCandidate) {
	if !t.wants(r) {
		return // also worse than any entry with its ID
	}
	if at := slices.IndexFunc(t.items, func(x rankedCandidate) bool { return x.ID == r.ID }); at >= 0 {
		if compareRanked(r, t.items[at]) >= 0 {
			return
		}
		t.items = slices.Delete(t.items, at, at+1)
	}
	at, _ := slices.BinarySearchFunc(t.items, r, compareRanked)
	t.items = slices.Insert(t.items, at, r)
	if len(t.items) > t.k {
		t.items = t.items[:t.k]
	}
}
