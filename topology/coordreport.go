package topology

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// CoordReport measures how well network coordinates predict a latency
// matrix, and how well a peer that shortlists by coordinates and then
// probes the shortlist chooses its neighbors.
type CoordReport struct {
	// Peers is the number of peers; Pairs the ordered pairs (i, j), i ≠ j,
	// with a known, positive RTT over which the errors are taken.
	Peers int `json:"peers"`
	Pairs int `json:"pairs"`
	// Shortlist is how many peers each peer probes, the ones with the
	// smallest estimated RTT; K how many neighbors it keeps from them.
	Shortlist int `json:"shortlist"`
	K         int `json:"k"`
	// MedianRelError, P90RelError and MeanRelError summarise the relative
	// error |estimate − true| / true over Pairs.
	MedianRelError float64 `json:"median_rel_error"`
	P90RelError    float64 `json:"p90_rel_error"`
	MeanRelError   float64 `json:"mean_rel_error"`
	// NearestExactFraction is the fraction of peers whose best probed
	// shortlisted peer is a true nearest peer (ties in RTT count).
	NearestExactFraction float64 `json:"nearest_exact_fraction"`
	// Stretch is, averaged over peers, the mean true RTT to the K
	// neighbors picked from the probed shortlist over the mean true RTT to
	// the true K nearest peers: 1 is perfect, larger is worse.
	Stretch float64 `json:"stretch"`
}

// EvaluateCoords compares the RTTs that coords (one per peer of m) predict
// with the true RTTs in m. For each peer it also plays out neighbor
// choice: shortlist the shortlist peers with the smallest estimated RTT
// (ties by index), probe them (read their true RTT from m) and keep the k
// with the smallest true RTT. Only peers with a known RTT from the peer
// are candidates. A peer with fewer candidates shortlists all of them; a
// peer whose k true nearest are all at 0 ms counts towards Stretch only
// if its picks are at 0 ms too (stretch 1).
func EvaluateCoords(m *LatencyMatrix, coords []Coord, shortlist, k int) (CoordReport, error) {
	if err := m.shapeError(); err != nil {
		return CoordReport{}, err
	}
	switch {
	case len(coords) != m.N:
		return CoordReport{}, fmt.Errorf("topology: %d coordinates for a latency matrix of %d peers", len(coords), m.N)
	case shortlist < 1:
		return CoordReport{}, fmt.Errorf("topology: shortlist is %d, want >= 1", shortlist)
	case k < 1 || k > shortlist:
		return CoordReport{}, fmt.Errorf("topology: k is %d, want 1 <= k <= shortlist (%d)", k, shortlist)
	}
	for i, c := range coords {
		if err := c.Validate(); err != nil {
			return CoordReport{}, fmt.Errorf("topology: coordinate of peer %d: %w", i, err)
		}
	}
	n := m.N
	report := CoordReport{Peers: n, Shortlist: shortlist, K: k}
	var (
		relErrors   []float64
		exact       int
		choosers    int
		stretchSum  float64
		stretchPeer int
		cands       = make([]candidate, 0, n)
	)
	for i := range n {
		cands = cands[:0]
		for j := range n {
			trueMS := m.At(i, j)
			if j == i || !known(trueMS) {
				continue
			}
			estMS := distanceSeconds(coords[i], coords[j]) * 1000
			cands = append(cands, candidate{peer: j, trueMS: trueMS, estMS: estMS})
			if trueMS > 0 {
				relErrors = append(relErrors, math.Abs(estMS-trueMS)/trueMS)
			}
		}
		if len(cands) == 0 {
			continue
		}
		probed := slices.Clone(cands)
		slices.SortFunc(probed, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(a.estMS, b.estMS), cmp.Compare(a.peer, b.peer))
		})
		probed = probed[:min(shortlist, len(probed))]
		slices.SortFunc(probed, byTrueRTT)
		slices.SortFunc(cands, byTrueRTT)

		choosers++
		if probed[0].trueMS == cands[0].trueMS {
			exact++
		}
		keep := min(k, len(probed))
		picked, best := meanTrueMS(probed[:keep]), meanTrueMS(cands[:keep])
		switch {
		case best > 0:
			stretchSum += picked / best
			stretchPeer++
		case picked == 0:
			stretchSum++
			stretchPeer++
		}
	}
	if len(relErrors) == 0 {
		return CoordReport{}, fmt.Errorf("topology: the latency matrix has no known positive RTT between distinct peers")
	}
	slices.Sort(relErrors)
	report.Pairs = len(relErrors)
	report.MedianRelError = quantileSorted(relErrors, 0.5)
	report.P90RelError = quantileSorted(relErrors, 0.9)
	sum := 0.0
	for _, e := range relErrors {
		sum += e
	}
	report.MeanRelError = sum / float64(len(relErrors))
	report.NearestExactFraction = float64(exact) / float64(choosers)
	if stretchPeer > 0 {
		report.Stretch = stretchSum / float64(stretchPeer)
	}
	return report, nil
}

// candidate is a possible neighbor of one peer, with its true and
// estimated RTT in milliseconds.
type candidate struct {
	peer          int
	trueMS, estMS float64
}

func byTrueRTT(a, b candidate) int {
	return cmp.Or(cmp.Compare(a.trueMS, b.trueMS), cmp.Compare(a.peer, b.peer))
}

func meanTrueMS(cs []candidate) float64 {
	sum := 0.0
	for _, c := range cs {
		sum += c.trueMS
	}
	return sum / float64(len(cs))
}

// quantileSorted returns the q-quantile of ascending xs, interpolating
// linearly between the two nearest ranks; xs must not be empty.
func quantileSorted(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	lo := int(pos)
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	frac := pos - float64(lo)
	return xs[lo] + frac*(xs[lo+1]-xs[lo])
}
