package topology

import (
	"fmt"
	"slices"
)

// Planner is one peer's neighbor selection across heartbeats: it holds the
// links the peer proposes and the peers that refused it recently, and turns
// what the peer heard into what it does next. It has no clock and does no
// I/O; the live peer calls Plan once per heartbeat period, and the
// simulator's BuildOverlay drives one Planner per peer the same way. Not
// safe for concurrent use.
type Planner struct {
	cfg     SelectConfig
	self    string
	current []Link         // what self proposes now (its last announcement)
	refused map[string]int // refused peer -> plan from which it may be proposed again
	plans   int            // plans made so far
	uplink  float64        // self's announced uplink rate, bits/s (0: unknown)
}

// Decision is what a peer does after a plan.
type Decision struct {
	// Probe lists whom to measure before the next plan: the shortlist by
	// estimated RTT and the current links.
	Probe []string
	// Propose is the proposals to announce in the next heartbeat.
	Propose []Link
	// Refused lists the peers that did not accept self's previous
	// proposals; they are left alone for RefusalMemory plans.
	Refused []string
	// Accepted is self's accepted set (own proposals, then inbound ones).
	Accepted []Link
	// Active is whom self mixes with, sorted by ID, with Metropolis weights.
	Active []ActiveLink
	// MaxLinks is how many links self's uplink allows it (0: no cap of
	// its own).
	MaxLinks int
}

// ActiveLink is an active edge seen from one end: the other end, whether the
// edge is long (mixed asynchronously every LongPeriod rounds), the other
// end's active degree as derived from the announcements, and the
// Metropolis weight 1/(1+max(d_self, d_other)). The self weight is 1 minus
// the sum of the weights.
type ActiveLink struct {
	ID     string
	Long   bool
	Degree int
	Weight float64
}

// NewPlanner returns a planner for peer self under cfg (zero fields take
// their defaults). It fails on an empty self or an invalid config.
func NewPlanner(self string, cfg SelectConfig) (*Planner, error) {
	if self == "" {
		return nil, fmt.Errorf("topology: neighbor planner needs the peer's own ID, got an empty one")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Planner{cfg: cfg.normalized(), self: self, refused: map[string]int{}}, nil
}

// Resume makes links the current proposals, as after a restart from the
// last announcement, or when re-planning an existing overlay: hysteresis
// then favours them. Links to self or empty IDs are dropped.
func (p *Planner) Resume(links []Link) {
	p.current = sanitiseProposals(p.self, links, p.cfg.Degree)
}

// SetUplink sets the uplink rate self announces, bits/s (0 or less:
// unknown). With the run's MessageBytes it caps the links self takes
// (capacity.go); proposals beyond the cap are dropped at the next plan.
func (p *Planner) SetUplink(bitsPerSec float64) { p.uplink = max(bitsPerSec, 0) }

// Current returns the proposals self announces now.
func (p *Planner) Current() []Link { return slices.Clone(p.current) }

// Plan makes one plan from the candidates (the members other than self,
// with estimated and measured RTT) and the latest announcement heard from
// each member. Self's own entry in heard, if any, is replaced by what the
// planner last proposed. Decision.Accepted and Active are derived from
// heard with self's new proposals in place: what the members will derive
// once they hear self's next heartbeat.
func (p *Planner) Plan(cands []Candidate, heard []Announcement) Decision {
	refused := p.plan(cands, NewView(p.cfg, p.withOwn(heard)))
	after := NewView(p.cfg, p.withOwn(heard))
	d := Decision{
		MaxLinks: after.MaxLinks(p.self),
		Probe:    p.cfg.ShortlistFor(p.self, cands, p.current),
		Propose:  slices.Clone(p.current),
		Refused:  refused,
		Accepted: after.Accepted(p.self),
	}
	active := after.Active(p.self)
	for _, l := range active {
		dj := after.Degree(l.ID)
		d.Active = append(d.Active, ActiveLink{ID: l.ID, Long: l.Long, Degree: dj, Weight: MetropolisWeight(len(active), dj)})
	}
	return d
}

// withOwn returns heard with self's announcement replaced by the current
// proposals.
func (p *Planner) withOwn(heard []Announcement) []Announcement {
	out := make([]Announcement, 0, len(heard)+1)
	for _, a := range heard {
		if a.From != p.self {
			out = append(out, a)
		}
	}
	return append(out, Announcement{From: p.self, Proposals: p.current, UplinkBitsPerSec: p.uplink})
}

// plan is one heartbeat's decision on a view that holds self's current
// proposals: it notes which of them the targets did not accept, forgets
// old refusals, and proposes anew, skipping refused peers and those the
// view predicts would refuse. It returns the new refusals.
func (p *Planner) plan(cands []Candidate, view *View) []string {
	p.plans++
	for id, from := range p.refused {
		if p.plans >= from {
			delete(p.refused, id)
		}
	}
	var refused []string
	working := make([]Link, 0, len(p.current))
	for _, l := range p.current {
		if view.Announced(l.ID) && !view.accepts(l.ID, p.self) {
			refused = append(refused, l.ID)
			p.refused[l.ID] = p.plans + p.cfg.RefusalMemory
			continue
		}
		working = append(working, l)
	}
	p.current = view.capsOf(p.self).propose(p.self, cands, working, func(cd Candidate) bool {
		if _, ok := p.refused[cd.ID]; ok {
			return true
		}
		return !view.wouldAccept(cd.ID, p.self)
	})
	return refused
}

// remembersRefusals reports whether a refusal still keeps a peer from
// being proposed; until none does, a plan may still change.
func (p *Planner) remembersRefusals() bool { return len(p.refused) > 0 }
