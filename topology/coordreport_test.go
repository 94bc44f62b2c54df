package topology

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// lineCoords places peers on the first axis at the given milliseconds, with
// no height or adjustment, so estimated RTTs are plain differences.
func lineCoords(ms ...float64) []Coord {
	coords := make([]Coord, len(ms))
	for i, x := range ms {
		coords[i] = Coord{Vec: make([]float64, CoordDimensions)}
		coords[i].Vec[0] = x / 1000
	}
	return coords
}

// handMatrix: peers at 0, 10, 20 and 40 ms estimate
//
//	    0   1   2   3
//	0   -  10  20  40
//	1  10   -  10  30
//	2  20  10   -  20
//	3  40  30  20   -
//
// while the true RTTs (row = sender) are below. Relative errors: 0 on
// 0↔1, 1→2, 1↔3; 0.2 on 0↔2, 2→1, 2↔3; 4 on 0↔3.
func handMatrix() *LatencyMatrix {
	return &LatencyMatrix{N: 4, MS: []float64{
		0, 10, 25, 8,
		10, 0, 10, 30,
		25, 12.5, 0, 25,
		8, 30, 25, 0,
	}}
}

func TestEvaluateCoordsHandMadeMatrix(t *testing.T) {
	m, coords := handMatrix(), lineCoords(0, 10, 20, 40)
	cases := []struct {
		shortlist, k int
		exact        float64
		stretch      float64
	}{
		// Shortlists by estimate (ties by index): peer 0 {1,2,3}, peer 1
		// {0,2,3}, peer 2 {1,0,3}, peer 3 {2,1,0}. True nearest: 0→3 (8),
		// 1→0 or 2 (10, a tie), 2→1 (12.5), 3→0 (8).
		{shortlist: 1, k: 1, exact: 0.5, stretch: (10.0/8 + 1 + 1 + 25.0/8) / 4},
		// Peer 0 probes 1, 2 (10, 25) against the true 8, 10; peer 3
		// probes 2, 1 (25, 30) against 8, 25.
		{shortlist: 2, k: 1, exact: 0.5, stretch: (10.0/8 + 1 + 1 + 25.0/8) / 4},
		{shortlist: 2, k: 2, exact: 0.5, stretch: (17.5/9 + 1 + 1 + 27.5/16.5) / 4},
		{shortlist: 3, k: 2, exact: 1, stretch: 1},
		{shortlist: 8, k: 3, exact: 1, stretch: 1},
	}
	for _, c := range cases {
		r, err := EvaluateCoords(m, coords, c.shortlist, c.k)
		if err != nil {
			t.Fatal(err)
		}
		if r.Peers != 4 || r.Pairs != 12 || r.Shortlist != c.shortlist || r.K != c.k {
			t.Errorf("shortlist %d k %d: counts %+v", c.shortlist, c.k, r)
		}
		// Sorted errors: five 0, five 0.2, two 4.
		closeTo(t, "median", r.MedianRelError, 0.2)
		closeTo(t, "p90", r.P90RelError, 0.2+0.9*3.8)
		closeTo(t, "mean", r.MeanRelError, (5*0.2+2*4)/12.0)
		closeTo(t, "nearest exact", r.NearestExactFraction, c.exact)
		closeTo(t, "stretch", r.Stretch, c.stretch)
	}
}

// TestEvaluateCoordsSkipsUnknownRTTs: with 0→3 unknown, peer 0 can neither
// probe peer 3 nor count it as its nearest, and the pair leaves the errors.
func TestEvaluateCoordsSkipsUnknownRTTs(t *testing.T) {
	m := handMatrix()
	m.MS[0*4+3] = math.NaN()
	r, err := EvaluateCoords(m, lineCoords(0, 10, 20, 40), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pairs != 11 {
		t.Errorf("pairs %d, want 11", r.Pairs)
	}
	closeTo(t, "nearest exact", r.NearestExactFraction, 0.75) // peer 0 now finds peer 1
	closeTo(t, "mean", r.MeanRelError, (5*0.2+4)/11.0)
}

func TestCoordReportJSONKeys(t *testing.T) {
	r, err := EvaluateCoords(handMatrix(), lineCoords(0, 10, 20, 40), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"median_rel_error":`, `"p90_rel_error":`, `"nearest_exact_fraction":`, `"stretch":`,
		`"mean_rel_error":`, `"peers":4`, `"pairs":12`, `"shortlist":2`, `"k":1`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("JSON %s lacks %s", raw, key)
		}
	}
}

func TestEvaluateCoordsRejectsBadInput(t *testing.T) {
	m, coords := handMatrix(), lineCoords(0, 10, 20, 40)
	broken := lineCoords(0, 10, 20, 40)
	broken[2].Vec[0] = math.NaN()
	unknown := &LatencyMatrix{N: 2, MS: []float64{0, math.NaN(), math.NaN(), 0}}
	cases := []struct {
		name      string
		m         *LatencyMatrix
		coords    []Coord
		shortlist int
		k         int
		want      string
	}{
		{"nil matrix", nil, coords, 2, 1, "nil"},
		{"too few coordinates", m, coords[:3], 2, 1, "3 coordinates for a latency matrix of 4 peers"},
		{"empty shortlist", m, coords, 0, 1, "shortlist is 0"},
		{"k zero", m, coords, 2, 0, "k is 0"},
		{"k above shortlist", m, coords, 2, 3, "k is 3, want 1 <= k <= shortlist (2)"},
		{"invalid coordinate", m, broken, 2, 1, "coordinate of peer 2"},
		{"nothing known", unknown, lineCoords(0, 1), 1, 1, "no known positive RTT"},
	}
	for _, c := range cases {
		if _, err := EvaluateCoords(c.m, c.coords, c.shortlist, c.k); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func closeTo(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestEvaluateCoordsTiesCountAsExact: peer 0 is 5 ms from both others; its
// coordinates rank peer 2 first, which is as near as peer 1.
func TestEvaluateCoordsTiesCountAsExact(t *testing.T) {
	m := &LatencyMatrix{N: 3, MS: []float64{
		0, 5, 5,
		5, 0, 9,
		5, 9, 0,
	}}
	r, err := EvaluateCoords(m, lineCoords(0, -6, 4), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Peer 0 shortlists 2 (est 4): exact by the tie. Peer 1 shortlists 0
	// (est 6): exact. Peer 2 shortlists 0 (est 4): exact.
	closeTo(t, "nearest exact", r.NearestExactFraction, 1)
	closeTo(t, "stretch", r.Stretch, 1)
}
