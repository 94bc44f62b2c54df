package topology

import (
	"time"

	"slices"
	"testing"
)

func TestViewActiveEdgesAreMutual(t *testing.T) {
	// MaxDegree 2: c accepts its own proposal d and the faster inbound a,
	// so b, which also proposed c, is not accepted and b–c is not active.
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 1, MaxDegree: 2}
	v := NewView(cfg, []Announcement{
		{From: "a", Proposals: []Link{{ID: "c", RTT: ms(2)}}},
		{From: "b", Proposals: []Link{{ID: "c", RTT: ms(9)}}},
		{From: "c", Proposals: []Link{{ID: "d", RTT: ms(4)}}},
		{From: "d", Proposals: []Link{{ID: "c", Long: true, RTT: ms(4)}}},
	})
	wantActive := map[string][]string{"a": {"c"}, "b": nil, "c": {"a", "d"}, "d": {"c"}}
	for id, want := range wantActive {
		if got := linkIDs(v.Active(id)); !slices.Equal(got, want) {
			t.Errorf("Active(%s) = %v, want %v", id, got, want)
		}
		if v.Degree(id) != len(want) {
			t.Errorf("Degree(%s) = %d, want %d", id, v.Degree(id), len(want))
		}
	}
	if got := linkIDs(v.Accepted("c")); !slices.Equal(got, []string{"a", "d"}) {
		t.Errorf("Accepted(c) = %v, want a d", got)
	}
	// c–d was proposed near by c and long by d: near wins on both ends.
	for _, l := range append(v.Active("c"), v.Active("d")...) {
		if l.Long {
			t.Errorf("link %v is long; c proposed it as near", l)
		}
	}
	if v.Active("nobody") != nil || v.Accepted("nobody") != nil || v.Degree("nobody") != 0 || v.Announced("nobody") {
		t.Error("a peer that never announced has links in the view")
	}
}

// TestViewSanitisesAnnouncements: an untrusted peer cannot become a hub by
// proposing to everyone, nor confuse the view with junk.
func TestViewSanitisesAnnouncements(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 2, MaxDegree: 4}
	greedy := Announcement{From: "g", Proposals: []Link{
		{ID: "g"}, {ID: ""}, {ID: "a", RTT: -ms(1)}, {ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"},
	}}
	anns := []Announcement{
		{From: "g", Proposals: []Link{{ID: "d"}}}, // superseded by the later announcement
		greedy,
		{From: "", Proposals: []Link{{ID: "a"}}}, // no sender: ignored
		{From: "a"}, {From: "b"}, {From: "c"}, {From: "d"},
	}
	v := NewView(cfg, anns)
	if got := linkIDs(v.Active("g")); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("greedy peer's active links %v, want only its first Degree=2 valid proposals a b", got)
	}
	for _, l := range v.Accepted("a") {
		if l.ID == "g" && l.RTT != 0 {
			t.Errorf("negative announced RTT kept as %v, want unknown (0)", l.RTT)
		}
	}
}

func TestViewWouldAccept(t *testing.T) {
	// h: MaxDegree 3, own proposal o, inbound x (3 ms) and y (7 ms): full.
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 1, MaxDegree: 3}
	v := NewView(cfg, []Announcement{
		{From: "h", Proposals: []Link{{ID: "o", RTT: ms(1)}}},
		{From: "x", Proposals: []Link{{ID: "h", RTT: ms(3)}}},
		{From: "y", Proposals: []Link{{ID: "h", RTT: ms(7)}}},
		{From: "r", Proposals: []Link{{ID: "x", RTT: ms(7)}}},
		{From: "o"},
	})
	cases := []struct {
		target, peer string
		want         bool
	}{
		{"h", "y", true},       // already accepted
		{"h", "o", true},       // h's own proposal
		{"h", "z", false},      // full: z would have to displace someone
		{"x", "z", false},      // x (h and r) keeps its last free place in reserve
		{"o", "z", true},       // o (h) has two free places
		{"unheard", "z", true}, // nothing known against it
	}
	for _, c := range cases {
		if got := v.wouldAccept(c.target, c.peer); got != c.want {
			t.Errorf("wouldAccept(%s, %s) = %v, want %v", c.target, c.peer, got, c.want)
		}
	}
	// With room for only one inbound link there is no reserve: x's last
	// place is open.
	tight := SelectConfig{Policy: PolicyLatency, Degree: 2, MaxDegree: 3}
	u := NewView(tight, []Announcement{{From: "x", Proposals: []Link{{ID: "h"}}}, {From: "r", Proposals: []Link{{ID: "x"}}}})
	if !u.wouldAccept("x", "z") {
		t.Error("MaxDegree = Degree+1: a peer with one free place refuses")
	}
}

func TestSlowNearLinksAreMixedAsynchronouslyByBothEnds(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	anns := []Announcement{
		{From: "a", Proposals: []Link{{ID: "b", RTT: ms(10)}, {ID: "c", RTT: ms(90)}}},
		{From: "b", Proposals: []Link{{ID: "a", RTT: ms(10)}}},
		// c measured a–c as slow, a did not: either end's mark decides, for both.
		{From: "c", Proposals: []Link{{ID: "a", RTT: ms(140), Slow: true}}},
	}
	for _, pol := range []Policy{PolicyLatency, PolicyRandom} {
		v := NewView(SelectConfig{Policy: pol, Degree: 2}.WithDefaults(), anns)
		long := func(from, to string) bool {
			for _, l := range v.Active(from) {
				if l.ID == to {
					return l.Long
				}
			}
			t.Fatalf("%s: %s–%s is not active", pol, from, to)
			return false
		}
		wantSlow := pol != PolicyRandom // random stays the synchronous baseline
		if long("a", "c") != wantSlow || long("c", "a") != wantSlow {
			t.Errorf("%s: a–c (140 ms) async %v/%v, want %v on both ends", pol, long("a", "c"), long("c", "a"), wantSlow)
		}
		if long("a", "b") || long("b", "a") {
			t.Errorf("%s: a–b (10 ms) mixed asynchronously", pol)
		}
	}
}

func TestLongLinksAreMixedByTheirRTT(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	anns := []Announcement{
		{From: "a", Proposals: []Link{{ID: "b", RTT: ms(2)}, {ID: "c", Long: true, RTT: ms(60)}, {ID: "d", Long: true, RTT: ms(180), Slow: true}}},
		{From: "b", Proposals: []Link{{ID: "a", RTT: ms(2)}}},
		{From: "c", Proposals: []Link{{ID: "d", RTT: ms(3)}}},
		// d finds a–d fast, a finds it slow: either end's mark decides, for both.
		{From: "d", Proposals: []Link{{ID: "c", RTT: ms(3)}, {ID: "a", Long: true, RTT: ms(90)}}},
	}
	v := NewView(SelectConfig{Policy: PolicyLatencyLong, Degree: 3, Long: 1}.WithDefaults(), anns)
	async := func(from, to string) bool {
		for _, l := range v.Active(from) {
			if l.ID == to {
				return l.Long
			}
		}
		t.Fatalf("%s–%s is not active", from, to)
		return false
	}
	for _, c := range []struct {
		x, y string
		want bool
	}{{"a", "b", false}, {"a", "c", false}, {"a", "d", true}, {"c", "d", false}} {
		if async(c.x, c.y) != c.want || async(c.y, c.x) != c.want {
			t.Errorf("%s–%s async %v/%v, want %v on both ends", c.x, c.y, async(c.x, c.y), async(c.y, c.x), c.want)
		}
	}
}
