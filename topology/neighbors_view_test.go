package topology

import (
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
		{"x", "z", true},       // x has room
		{"unheard", "z", true}, // nothing known against it
	}
	for _, c := range cases {
		if got := v.wouldAccept(c.target, c.peer); got != c.want {
			t.Errorf("wouldAccept(%s, %s) = %v, want %v", c.target, c.peer, got, c.want)
		}
	}
}
