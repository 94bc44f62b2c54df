package topology

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestProposeRandomIsDeterministicAndStable(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyRandom, Degree: 4, Seed: 1}
	cands := candidatesFrom(40, func(k int) time.Duration { return ms(float64(k + 1)) })
	first := cfg.Propose("self", cands, nil, nil)
	if len(first) != 4 {
		t.Fatalf("%d proposals, want Degree=4", len(first))
	}
	for _, l := range first {
		if l.Long {
			t.Errorf("random link %v is long; random links are all near", l)
		}
	}
	// Same seed, candidates in another order: same picks.
	reversed := slices.Clone(cands)
	slices.Reverse(reversed)
	if got := cfg.Propose("self", reversed, nil, nil); !slices.Equal(linkIDs(got), linkIDs(first)) {
		t.Errorf("candidate order changed the picks: %v, then %v", linkIDs(first), linkIDs(got))
	}
	// Members that are not picked leave: picks unchanged (rendezvous hashing).
	kept := slices.DeleteFunc(slices.Clone(cands), func(c Candidate) bool {
		return !slices.Contains(linkIDs(first), c.ID) && c.ID < "c3"
	})
	if got := cfg.Propose("self", kept, nil, nil); !slices.Equal(linkIDs(got), linkIDs(first)) {
		t.Errorf("unpicked members leaving changed the picks: %v, then %v", linkIDs(first), linkIDs(got))
	}
	// Latency does not matter to random.
	flat := candidatesFrom(40, func(int) time.Duration { return ms(5) })
	if got := cfg.Propose("self", flat, nil, nil); !slices.Equal(linkIDs(got), linkIDs(first)) {
		t.Errorf("RTTs changed random picks: %v, then %v", linkIDs(first), linkIDs(got))
	}
	// Another seed, another draw (and different peers draw differently).
	other := cfg
	other.Seed = 2
	if got := other.Propose("self", cands, nil, nil); slices.Equal(linkIDs(got), linkIDs(first)) {
		t.Errorf("seeds 1 and 2 gave the same picks %v", linkIDs(got))
	}
	if got := cfg.Propose("other", cands, nil, nil); slices.Equal(linkIDs(got), linkIDs(first)) {
		t.Errorf("peers self and other picked the same %v", linkIDs(got))
	}
}

// TestProposeRandomIsRoughlyUniform counts, over 2000 seeds, how often each
// of 50 candidates is picked: 4/50 of the time on average, so 160 times,
// with a binomial standard deviation of about 12. Every count must lie
// within five deviations.
func TestProposeRandomIsRoughlyUniform(t *testing.T) {
	const seeds, n, degree = 2000, 50, 4
	cands := candidatesFrom(n, func(k int) time.Duration { return ms(float64(k + 1)) })
	counts := map[string]int{}
	for seed := range uint64(seeds) {
		cfg := SelectConfig{Policy: PolicyRandom, Degree: degree, Seed: seed}
		for _, l := range cfg.Propose("self", cands, nil, nil) {
			counts[l.ID]++
		}
	}
	mean := float64(seeds*degree) / n
	sd := math.Sqrt(mean * (1 - float64(degree)/n))
	for _, c := range cands {
		if got := float64(counts[c.ID]); math.Abs(got-mean) > 5*sd {
			t.Errorf("%s picked %v times, want %.0f ± %.0f", c.ID, got, mean, 5*sd)
		}
	}
}

// TestSlowMarkHasHysteresis: a near link is marked slow once its RTT
// exceeds AsyncRTT and stays slow until it drops below
// AsyncRTT×(1−Hysteresis), so measurement noise around AsyncRTT does not
// flip the link's mode.
func TestSlowMarkHasHysteresis(t *testing.T) {
	cases := []struct {
		rtt     time.Duration
		wasSlow bool
		want    bool
	}{
		{ms(99), false, false},
		{ms(101), false, true},
		{ms(99), true, true},  // inside the band: stays slow
		{ms(81), true, true},  // still inside 80–100 ms
		{ms(79), true, false}, // below AsyncRTT×0.8
		{ms(0), true, false},  // unknown RTT is never slow
	}
	cfg := SelectConfig{Policy: PolicyLatencyLong}.WithDefaults() // AsyncRTT 100 ms, Hysteresis 0.2
	for _, c := range cases {
		current := []Link{{ID: "a", Slow: c.wasSlow, RTT: ms(95)}}
		got := cfg.Propose("self", []Candidate{{ID: "a", RTT: c.rtt}, {ID: "far", RTT: ms(300)}}, current, nil)
		at := slices.IndexFunc(got, func(l Link) bool { return l.ID == "a" })
		if at < 0 || got[at].Slow != c.want {
			t.Errorf("RTT %v, slow before %v: proposals %v, want a with Slow=%v", c.rtt, c.wasSlow, got, c.want)
		}
	}
	for _, off := range []SelectConfig{{Policy: PolicyRandom}, {Policy: PolicyLatency, AsyncRTT: -1}} {
		off = off.WithDefaults()
		if got := off.Propose("self", []Candidate{{ID: "a", RTT: ms(500)}}, nil, nil); got[0].Slow {
			t.Errorf("policy %s, AsyncRTT %v: a 500 ms link marked slow", off.Policy, off.AsyncRTT)
		}
	}
}

// TestLongLinkModeFollowsItsRTT: a long link starts slow and turns fast
// only below AsyncRTT×(1−Hysteresis); once fast it turns slow again above
// AsyncRTT. An unknown RTT is slow, and with AsyncRTT ≤ 0 every long link is.
func TestLongLinkModeFollowsItsRTT(t *testing.T) {
	cases := []struct {
		rtt     time.Duration
		wasFast bool
		want    bool
	}{
		{ms(60), false, false}, // lands well within AsyncRTT: mixed every round
		{ms(79), false, false},
		{ms(81), false, true}, // inside the 80–100 ms band: stays slow
		{ms(99), false, true},
		{ms(99), true, false}, // ... or fast, if it was
		{ms(101), true, true},
		{ms(0), true, true}, // unknown: a hash picked it, it may cross an ocean
	}
	// Degree 2, Long 1: the one other candidate (1 ms) takes the near place.
	cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: 2, Long: 1}.WithDefaults()
	for _, c := range cases {
		current := []Link{{ID: "far", Long: true, Slow: !c.wasFast, RTT: ms(95)}}
		got := cfg.Propose("self", []Candidate{{ID: "near", RTT: ms(1)}, {ID: "far", RTT: c.rtt}}, current, nil)
		at := slices.IndexFunc(got, func(l Link) bool { return l.ID == "far" })
		if at < 0 || !got[at].Long || got[at].Slow != c.want {
			t.Errorf("RTT %v, fast before %v: proposals %v, want far long with Slow=%v", c.rtt, c.wasFast, got, c.want)
		}
		if fresh := cfg.Propose("self", []Candidate{{ID: "near", RTT: ms(1)}, {ID: "far", RTT: c.rtt}}, nil, nil); c.wasFast {
			// A new long link is not fast yet.
			if at := slices.IndexFunc(fresh, func(l Link) bool { return l.ID == "far" }); at < 0 || fresh[at].Slow != (c.rtt <= 0 || c.rtt > ms(80)) {
				t.Errorf("RTT %v, new link: proposals %v, want Slow=%v", c.rtt, fresh, c.rtt <= 0 || c.rtt > ms(80))
			}
		}
	}
	never := SelectConfig{Policy: PolicyLatencyLong, Degree: 2, Long: 1, AsyncRTT: -1}.WithDefaults()
	got := never.Propose("self", []Candidate{{ID: "near", RTT: ms(500)}, {ID: "far", RTT: ms(1)}}, nil, nil)
	for _, l := range got {
		if l.Slow != l.Long {
			t.Errorf("AsyncRTT < 0: %v, want long links slow and near links not", got)
		}
	}
}

func TestProposeLatencyPicksTrueNearest(t *testing.T) {
	for _, c := range []struct{ n, degree int }{{5, 4}, {20, 4}, {200, 4}, {200, 8}, {3, 4}} {
		t.Run(fmt.Sprintf("n=%d degree=%d", c.n, c.degree), func(t *testing.T) {
			rng := seeded(uint64(c.n*100 + c.degree))
			cands := candidatesFrom(c.n, func(int) time.Duration { return ms(1 + 200*rng.Float64()) })
			cfg := SelectConfig{Policy: PolicyLatency, Degree: c.degree, Shortlist: c.degree}
			got := cfg.Propose("self", cands, nil, nil)
			byRTT := slices.Clone(cands)
			slices.SortFunc(byRTT, func(a, b Candidate) int { return int(a.RTT - b.RTT) })
			want := make([]Link, 0, c.degree)
			for _, cd := range byRTT[:min(c.degree, c.n)] {
				rtt := cd.RTT.Round(time.Microsecond)
				want = append(want, Link{ID: cd.ID, RTT: rtt, Slow: rtt > DefaultAsyncRTT})
			}
			if !slices.Equal(got, want) {
				t.Errorf("proposals %v, want the nearest, fastest first: %v", got, want)
			}
		})
	}
}

func TestProposeLatencyLongSplitsNearAndLong(t *testing.T) {
	for _, c := range []struct{ degree, long int }{{4, 1}, {6, 2}, {2, 1}} {
		t.Run(fmt.Sprintf("degree=%d long=%d", c.degree, c.long), func(t *testing.T) {
			cands := candidatesFrom(60, func(k int) time.Duration { return ms(float64(1 + k)) })
			cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: c.degree, Long: c.long, Seed: 5}
			got := cfg.Propose("self", cands, nil, nil)
			if len(got) != c.degree {
				t.Fatalf("%d proposals %v, want Degree=%d", len(got), got, c.degree)
			}
			near, long := got[:c.degree-c.long], got[c.degree-c.long:]
			for k, l := range near {
				if l.Long || l.ID != cands[k].ID {
					t.Errorf("near link %d = %v, want the %d-th nearest %s, not long", k, l, k+1, cands[k].ID)
				}
			}
			// The long links are the best rendezvous scores among the rest.
			h := newRendezvous(cfg.Seed, "self")
			rest := slices.Clone(cands[c.degree-c.long:])
			slices.SortFunc(rest, func(a, b Candidate) int {
				sa, sb := h.score(a.ID), h.score(b.ID)
				switch {
				case sa > sb:
					return -1
				case sa < sb:
					return 1
				}
				return 0
			})
			for k, l := range long {
				if !l.Long || l.ID != rest[k].ID {
					t.Errorf("long link %d = %v, want long to %s (rendezvous rank %d)", k, l, rest[k].ID, k+1)
				}
			}
		})
	}
}

func TestProposeRanksMeasuredThenEstimatedThenUnknown(t *testing.T) {
	cands := []Candidate{
		{ID: "unknown"},
		{ID: "far-measured", EstRTT: ms(1), RTT: ms(90)}, // measurement beats a wrong estimate
		{ID: "estimated", EstRTT: ms(20)},
		{ID: "measured", RTT: ms(10)},
		{ID: "self", RTT: ms(0.1)},
		{ID: "", RTT: ms(0.1)},
	}
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 4}
	got := cfg.Propose("self", cands, nil, nil)
	want := []Link{{ID: "measured", RTT: ms(10)}, {ID: "estimated", RTT: ms(20)}, {ID: "far-measured", RTT: ms(90)}, {ID: "unknown"}}
	if !slices.Equal(got, want) {
		t.Errorf("proposals %v, want %v", got, want)
	}
}

func TestProposeSkipsRefused(t *testing.T) {
	cands := candidatesFrom(10, func(k int) time.Duration { return ms(float64(1 + k)) })
	cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: 3, Long: 1, Seed: 3}
	fresh := cfg.Propose("self", cands, nil, nil)
	refused := map[string]bool{"c0": true, fresh[2].ID: true}
	got := cfg.Propose("self", cands, fresh, refused)
	for _, l := range got {
		if refused[l.ID] {
			t.Errorf("proposed refused %s: %v", l.ID, got)
		}
	}
	if len(got) != 3 || got[0].ID != "c1" || got[1].ID != "c2" || !got[2].Long || got[2].ID == fresh[2].ID {
		t.Errorf("proposals %v, want c1, c2 near (c0 refused) and a long link other than the refused %s", got, fresh[2].ID)
	}
}

// TestHysteresisDoesNotFlapUnderNoise re-draws every RTT with ±10%
// multiplicative noise before each of 50 plans. Near neighbors 10, 11, 12
// and 13 ms away compete with 14, 15, ... ms: without hysteresis the
// fourth place changes hands every third plan or so; with 20% it may
// change only while it moves to a truly faster peer (at most once in 500
// seeds tried), so two changes is a generous bound.
func TestHysteresisDoesNotFlapUnderNoise(t *testing.T) {
	changes := func(hysteresis float64, seed uint64) int {
		rng := seeded(seed)
		cfg := SelectConfig{Policy: PolicyLatency, Degree: 4, Hysteresis: hysteresis}
		var current []Link
		n := 0
		for range 50 {
			cands := candidatesFrom(20, func(k int) time.Duration {
				return ms(float64(10+k) * (0.9 + 0.2*rng.Float64()))
			})
			next := cfg.Propose("self", cands, current, nil)
			if current != nil && !slices.Equal(linkIDs(next), linkIDs(current)) {
				n++
			}
			current = next
		}
		return n
	}
	flaps := 0
	for seed := range uint64(20) {
		if got := changes(0.2, seed); got > 2 {
			t.Errorf("seed %d: neighbor set changed %d times in 50 noisy plans with hysteresis 0.2, want <= 2", seed, got)
		}
		flaps += changes(1e-9, seed)
	}
	if flaps < 20*10 {
		t.Errorf("without hysteresis only %d changes in 20×50 plans; the noise does not test anything", flaps)
	}
}

func TestHysteresisReplacesASlowNeighbor(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 3} // Hysteresis 0.2
	rtts := []float64{10, 11, 12, 12.5, 30, 40}
	cands := candidatesFrom(len(rtts), func(k int) time.Duration { return ms(rtts[k]) })
	current := cfg.Propose("self", cands, nil, nil)
	if got := linkIDs(current); !slices.Equal(got, []string{"c0", "c1", "c2"}) {
		t.Fatalf("first plan %v, want c0 c1 c2", got)
	}
	for _, c := range []struct {
		factor float64
		want   []string
	}{
		{1.3, []string{"c0", "c1", "c2"}}, // 13 ms, but ×0.8 < 12.5 ms: stays
		{2, []string{"c1", "c2", "c3"}},   // 20 ms ×0.8 = 16 > 12.5 ms: replaced by c3
	} {
		slower := slices.Clone(cands)
		slower[0].RTT = ms(10 * c.factor)
		if got := linkIDs(cfg.Propose("self", slower, current, nil)); !slices.Equal(got, c.want) {
			t.Errorf("c0 %g× slower: %v, want %v", c.factor, got, c.want)
		}
	}
}

// TestProposeReplacesOneWorkingLinkPerPlan: when every near neighbor gets
// far at once (the peer moved), one link is replaced per plan, so the peer
// keeps mixing while it moves; a refused or departed link does not count
// against that, it is not working.
func TestProposeReplacesOneWorkingLinkPerPlan(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 3}
	before := candidatesFrom(8, func(k int) time.Duration { return ms(float64(1 + k)) })
	current := cfg.Propose("self", before, nil, nil) // c0 c1 c2
	// After the move c0 c1 c2 are far and c7 is the nearest.
	moved := candidatesFrom(8, func(k int) time.Duration {
		if k < 3 {
			return ms(float64(100 + k))
		}
		return ms(float64(10 * (8 - k)))
	})
	want := [][]string{{"c0", "c1", "c7"}, {"c0", "c6", "c7"}, {"c5", "c6", "c7"}, {"c5", "c6", "c7"}}
	for plan, w := range want {
		current = cfg.Propose("self", moved, current, nil)
		if got := linkIDs(current); !slices.Equal(got, w) {
			t.Fatalf("plan %d after the move: %v, want %v", plan+1, got, w)
		}
	}
	current = cfg.Propose("self", before, nil, nil)
	got := linkIDs(cfg.Propose("self", moved, current, map[string]bool{"c0": true}))
	if !slices.Equal(got, []string{"c1", "c6", "c7"}) {
		t.Errorf("moved with c0 refused: %v, want c1 c6 c7 (c0 and c2 replaced)", got)
	}
}

// TestLongLinkIsSticky: a newcomer that outscores the current long link
// would be picked by a fresh peer, but does not displace a working one.
func TestLongLinkIsSticky(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: 3, Long: 1, Seed: 11}
	cands := candidatesFrom(20, func(k int) time.Duration { return ms(float64(1 + k)) })
	current := cfg.Propose("self", cands, nil, nil)
	long := current[2]
	h := newRendezvous(cfg.Seed, "self")
	newcomer := ""
	for k := 0; newcomer == ""; k++ {
		if id := "n" + strconv.Itoa(k); h.score(id) > h.score(long.ID) {
			newcomer = id
		}
	}
	joined := append(slices.Clone(cands), Candidate{ID: newcomer, RTT: ms(500)})
	if fresh := cfg.Propose("self", joined, nil, nil); fresh[2].ID != newcomer {
		t.Fatalf("fresh long pick %v, want the higher-scoring newcomer %s", fresh[2], newcomer)
	}
	if got := cfg.Propose("self", joined, current, nil); got[2] != long {
		t.Errorf("newcomer %s displaced the current long link: %v, want %v", newcomer, got[2], long)
	}
	// When the long link's peer leaves, the next score takes over.
	left := slices.DeleteFunc(slices.Clone(joined), func(c Candidate) bool { return c.ID == long.ID })
	if got := cfg.Propose("self", left, current, nil); got[2].ID != newcomer {
		t.Errorf("after %s left: long link %v, want %s", long.ID, got[2], newcomer)
	}
}

func TestShortlistFor(t *testing.T) {
	cands := []Candidate{
		{ID: "a", EstRTT: ms(30)}, {ID: "b", EstRTT: ms(10)}, {ID: "c", EstRTT: ms(20)},
		{ID: "d"}, {ID: "e", EstRTT: ms(40), RTT: ms(1)}, {ID: "self", EstRTT: ms(1)}, {ID: "", EstRTT: ms(1)},
	}
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 2, Shortlist: 3}
	current := []Link{{ID: "e"}, {ID: "b"}, {ID: "gone"}}
	want := []string{"b", "c", "a", "e"} // by estimate (not measurement), then current members
	if got := cfg.ShortlistFor("self", cands, current); !slices.Equal(got, want) {
		t.Errorf("shortlist %v, want %v", got, want)
	}
	// Unknown estimates come last, spread by rendezvous score.
	wide := SelectConfig{Policy: PolicyLatency, Degree: 2, Shortlist: 6}
	if got := wide.ShortlistFor("self", cands, nil); len(got) != 5 || got[4] != "d" {
		t.Errorf("shortlist %v, want the 5 other candidates, d (no estimate) last", got)
	}
	random := SelectConfig{Policy: PolicyRandom, Degree: 2, Shortlist: 3}
	if got := random.ShortlistFor("self", cands, current); !slices.Equal(got, []string{"e", "b"}) {
		t.Errorf("random policy shortlist %v, want only the current links e b", got)
	}
}

// TestShortlistSpreadsPeersWithoutEstimates: before coordinates exist,
// peers must not all probe the same members.
func TestShortlistSpreadsPeersWithoutEstimates(t *testing.T) {
	cands := candidatesFrom(100, func(int) time.Duration { return 0 })
	cfg := SelectConfig{Policy: PolicyLatency, Degree: 4}
	probed := map[string]int{}
	for p := range 50 {
		for _, id := range cfg.ShortlistFor("p"+strconv.Itoa(p), cands, nil) {
			probed[id]++
		}
	}
	if len(probed) < 60 {
		t.Errorf("50 peers probed only %d distinct members of 100; want the probes spread", len(probed))
	}
}

func TestAccept(t *testing.T) {
	cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: 2, Long: 1, MaxDegree: 4}
	cases := []struct {
		name    string
		own     []Link
		inbound []Inbound
		want    []Link
	}{
		{"own first, then inbound by RTT",
			[]Link{{ID: "a", RTT: ms(5)}, {ID: "b", Long: true, RTT: ms(80)}},
			[]Inbound{{ID: "x", RTT: ms(30)}, {ID: "y", RTT: ms(3)}, {ID: "z", RTT: ms(9)}},
			[]Link{{ID: "a", RTT: ms(5)}, {ID: "b", Long: true, RTT: ms(80)}, {ID: "y", RTT: ms(3)}, {ID: "z", RTT: ms(9)}}},
		{"mutual proposal counted once; near wins",
			[]Link{{ID: "a", RTT: ms(5)}, {ID: "b", Long: true, RTT: ms(80)}},
			[]Inbound{{ID: "b", RTT: ms(79)}, {ID: "a", Long: true, RTT: ms(6)}, {ID: "x", RTT: ms(30)}},
			[]Link{{ID: "a", RTT: ms(5)}, {ID: "b", RTT: ms(80)}, {ID: "x", RTT: ms(30)}}},
		{"both long stays long",
			[]Link{{ID: "b", Long: true, RTT: ms(80)}},
			[]Inbound{{ID: "b", Long: true, RTT: ms(79)}},
			[]Link{{ID: "b", Long: true, RTT: ms(80)}}},
		{"unknown RTT last, ties by ID, self and repeats skipped",
			nil,
			[]Inbound{{ID: "u"}, {ID: "self", RTT: ms(1)}, {ID: "q", RTT: ms(7)}, {ID: "p", RTT: ms(7)}, {ID: "q", RTT: ms(2)}, {ID: "", RTT: ms(1)}},
			[]Link{{ID: "q", RTT: ms(2)}, {ID: "p", RTT: ms(7)}, {ID: "u"}}},
		{"negative RTT is unknown",
			nil,
			[]Inbound{{ID: "liar", RTT: -ms(5)}, {ID: "honest", RTT: ms(50)}},
			[]Link{{ID: "honest", RTT: ms(50)}, {ID: "liar"}}},
		{"own links beyond MaxDegree dropped (untrusted announcement)",
			[]Link{{ID: "a"}, {ID: "b"}, {ID: "a"}, {ID: "c"}, {ID: "d"}, {ID: "e"}},
			[]Inbound{{ID: "x", RTT: ms(1)}},
			[]Link{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := cfg.Accept("self", c.own, c.inbound); !slices.Equal(got, c.want) {
				t.Errorf("accepted %v, want %v", got, c.want)
			}
		})
	}
}

// TestSelectionSurvivesBadConfig: the selection functions cannot return an
// error, so they clamp a bad config rather than panic.
func TestSelectionSurvivesBadConfig(t *testing.T) {
	cands := candidatesFrom(10, func(k int) time.Duration { return ms(float64(k + 1)) })
	for _, cfg := range []SelectConfig{
		{Degree: -3}, {Policy: "bogus", Long: 99}, {MaxDegree: -1, Shortlist: -5},
		{Hysteresis: math.NaN(), Long: -2}, {Policy: PolicyRandom, Degree: -1, Long: 5},
	} {
		props := cfg.Propose("self", cands, nil, nil)
		if len(props) == 0 || len(props) > 10 {
			t.Errorf("%+v: %d proposals, want a clamped, non-empty set", cfg, len(props))
		}
		_ = cfg.ShortlistFor("self", cands, props)
		if acc := cfg.Accept("self", props, []Inbound{{ID: "x"}}); len(acc) < len(props) {
			t.Errorf("%+v: accepted %d of its own %d proposals", cfg, len(acc), len(props))
		}
	}
}

func TestProposalsAnnounceWholeMicroseconds(t *testing.T) {
	cands := []Candidate{{ID: "a", RTT: 1234567 * time.Nanosecond}, {ID: "b", EstRTT: 400 * time.Nanosecond}, {ID: "c"}}
	got := SelectConfig{Policy: PolicyLatency, Degree: 3}.Propose("self", cands, nil, nil)
	want := []Link{{ID: "b", RTT: time.Microsecond}, {ID: "a", RTT: 1235 * time.Microsecond}, {ID: "c"}}
	if !slices.Equal(got, want) {
		t.Errorf("proposals %v, want %v (RTT rounded to µs, at least 1 µs when known)", got, want)
	}
}
