package topology

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewPlannerErrors(t *testing.T) {
	if _, err := NewPlanner("", SelectConfig{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty self: error %v, want one saying the ID is empty", err)
	}
	if _, err := NewPlanner("a", SelectConfig{Degree: 2, Long: 2}); err == nil || !strings.Contains(err.Error(), "Long=2 must be below Degree=2") {
		t.Errorf("bad config: error %v, want the config's complaint", err)
	}
	if _, err := NewPlanner("a", SelectConfig{}); err != nil {
		t.Errorf("zero config (all defaults): %v", err)
	}
}

// TestPlannerFullPeerRefuses: c proposes h, its nearest, but h is full
// (MaxDegree 2: its own proposal o and the faster inbound b). c learns of
// the refusal from the announcements, proposes its next-best d, leaves h
// alone for RefusalMemory plans, and proposes h again once h has room.
func TestPlannerFullPeerRefuses(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 1, MaxDegree: 2, Shortlist: 2, RefusalMemory: 3}
	p, err := NewPlanner("c", cfg)
	must(t, err)
	p.Resume([]Link{{ID: "h", RTT: ms(5)}}) // proposed before h filled up
	cands := []Candidate{{ID: "h", RTT: ms(5)}, {ID: "d", RTT: ms(20)}, {ID: "b", RTT: ms(40)}, {ID: "o", RTT: ms(60)}}
	full := []Announcement{
		{From: "h", Proposals: []Link{{ID: "o", RTT: ms(1)}}},
		{From: "b", Proposals: []Link{{ID: "h", RTT: ms(2)}}},
		{From: "o"}, {From: "d"},
	}
	d := p.Plan(cands, full)
	if !slices.Equal(d.Refused, []string{"h"}) {
		t.Errorf("Refused = %v, want [h]", d.Refused)
	}
	if got := linkIDs(d.Propose); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("proposals after the refusal %v, want the next best, d", got)
	}
	if got := linkIDs(d.Accepted); !slices.Equal(got, []string{"d"}) || len(d.Active) != 1 || d.Active[0].ID != "d" {
		t.Errorf("accepted %v, active %v, want d (d has room)", got, d.Active)
	}
	// b leaves: h has room, but c remembers the refusal for 3 plans.
	roomy := []Announcement{full[0], full[2], full[3], {From: "c", Proposals: d.Propose}}
	for plan := 2; plan <= 3; plan++ {
		if d = p.Plan(cands, roomy); linkIDs(d.Propose)[0] != "d" {
			t.Fatalf("plan %d: proposed %v while the refusal is remembered", plan, d.Propose)
		}
	}
	d = p.Plan(cands, roomy)
	if got := linkIDs(d.Propose); !slices.Equal(got, []string{"h"}) {
		t.Errorf("after RefusalMemory plans: %v, want h again (4× faster than d, and it has room)", got)
	}
}

// TestPlannerSkipsFullPeers: a fresh peer does not propose a peer whose
// announced accepted set is full, even its nearest; it proposes it once it
// has room.
func TestPlannerSkipsFullPeers(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 1, MaxDegree: 2, Shortlist: 2}
	h := Announcement{From: "h", Proposals: []Link{{ID: "o", RTT: ms(1)}}}
	b := Announcement{From: "b", Proposals: []Link{{ID: "h", RTT: ms(4)}}}
	cands := []Candidate{{ID: "h", RTT: ms(3)}, {ID: "d", RTT: ms(20)}}
	for _, c := range []struct {
		name  string
		heard []Announcement
		want  string
	}{{"h full", []Announcement{h, b}, "d"}, {"h has room", []Announcement{h}, "h"}} {
		p, err := NewPlanner("c", cfg)
		must(t, err)
		d := p.Plan(cands, c.heard)
		if got := linkIDs(d.Propose); !slices.Equal(got, []string{c.want}) || len(d.Refused) != 0 {
			t.Errorf("%s: proposed %v, refused %v; want %s, no refusal", c.name, got, d.Refused, c.want)
		}
	}
}

// The live peer's loop: once per heartbeat period, Step with the members
// as candidates and the latest announcement heard from each, announce
// Decision.Propose, probe Decision.Probe, mix with Decision.Active.
func ExamplePlanner_Plan() {
	rtt := map[[2]string]time.Duration{
		{"a", "b"}: 2 * time.Millisecond, {"a", "c"}: 40 * time.Millisecond, {"b", "c"}: 45 * time.Millisecond,
	}
	between := func(x, y string) time.Duration { return rtt[[2]string{min(x, y), max(x, y)}] }
	ids := []string{"a", "b", "c"}
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 1}
	planners := map[string]*Planner{}
	for _, id := range ids {
		planners[id], _ = NewPlanner(id, cfg)
	}
	var heard []Announcement
	for exchange := 1; exchange <= 2; exchange++ {
		var next []Announcement
		for _, self := range ids {
			var cands []Candidate
			for _, other := range ids {
				if other != self {
					cands = append(cands, Candidate{ID: other, EstRTT: between(self, other)})
				}
			}
			d := planners[self].Plan(cands, heard)
			next = append(next, Announcement{From: self, Proposals: d.Propose})
			if exchange == 2 {
				fmt.Printf("%s proposes %v, mixes with", self, linkIDs(d.Propose))
				for _, a := range d.Active {
					fmt.Printf(" %s (weight %.2f)", a.ID, a.Weight)
				}
				fmt.Println()
			}
		}
		heard = next
	}
	// Output:
	// a proposes [b], mixes with b (weight 0.33) c (weight 0.33)
	// b proposes [a], mixes with a (weight 0.33)
	// c proposes [a], mixes with a (weight 0.33)
}
