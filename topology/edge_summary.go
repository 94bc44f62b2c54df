package topology

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// maxSummaryPairs bounds the device pairs Summary reads RTT percentiles
// from; larger networks use that many seeded random pairs.
const maxSummaryPairs = 2_000_000

// EdgeSummary describes a generated edge network for people: its size, its
// device mix and the spread of round-trip times between devices.
type EdgeSummary struct {
	Name       string
	AreaKm     float64
	Sites      int
	SitesInUse int // sites with at least one device attached
	Hubs       int
	Devices    int
	Classes    []EdgeClassSummary
	// SameSitePairs is the fraction of device pairs attached to one site,
	// which talk through its MEC host.
	SameSitePairs float64
	// RTT percentiles over device pairs i ≠ j: exact when Pairs ≤
	// PairsSampled, else over PairsSampled seeded random pairs.
	RTTMin, RTTP50, RTTP90, RTTP99, RTTMax time.Duration
	Pairs, PairsSampled                    int
}

// EdgeClassSummary is one access class's share of the network.
type EdgeClassSummary struct {
	Name                                 string
	Devices                              int
	MedianAccessRTT                      time.Duration
	MedianUplinkMbps, MedianDownlinkMbps float64
}

// Summary measures the network as it is now.
func (en *EdgeNetwork) Summary() EdgeSummary {
	n := len(en.devices)
	s := EdgeSummary{
		Name: en.cfg.Name, AreaKm: en.cfg.AreaKm, Sites: len(en.sites), Hubs: len(en.hubSite), Devices: n,
		Pairs: n * (n - 1) / 2,
	}
	perSite := make([]int, len(en.sites))
	for _, site := range en.site {
		perSite[site]++
	}
	samePairs := 0
	for _, c := range perSite {
		if c > 0 {
			s.SitesInUse++
		}
		samePairs += c * (c - 1) / 2
	}
	if s.Pairs > 0 {
		s.SameSitePairs = float64(samePairs) / float64(s.Pairs)
	}
	for k, cl := range en.cfg.Classes {
		var rtt, up, down []float64
		for i, c := range en.class {
			if c == k {
				rtt = append(rtt, en.accessRTT[i])
				up = append(up, en.uplink[i]/1e6)
				down = append(down, en.downlink[i]/1e6)
			}
		}
		cs := EdgeClassSummary{Name: cl.Name, Devices: len(rtt)}
		if len(rtt) > 0 {
			r, _ := medianOf(rtt)
			cs.MedianAccessRTT = edgeDuration(r)
			cs.MedianUplinkMbps, _ = medianOf(up)
			cs.MedianDownlinkMbps, _ = medianOf(down)
		}
		s.Classes = append(s.Classes, cs)
	}
	rtts := en.pairRTTs()
	s.PairsSampled = len(rtts)
	if len(rtts) > 0 {
		slices.Sort(rtts)
		s.RTTMin, s.RTTMax = edgeDuration(rtts[0]), edgeDuration(rtts[len(rtts)-1])
		s.RTTP50, s.RTTP90, s.RTTP99 = edgeDuration(nearestRank(rtts, 0.5)), edgeDuration(nearestRank(rtts, 0.9)), edgeDuration(nearestRank(rtts, 0.99))
	}
	return s
}

// pairRTTs returns the RTT of every pair i < j, or of maxSummaryPairs random
// pairs when there are more.
func (en *EdgeNetwork) pairRTTs() []float64 {
	n := len(en.devices)
	pairs := n * (n - 1) / 2
	if pairs <= maxSummaryPairs {
		out := make([]float64, 0, pairs)
		for i := range n {
			for j := i + 1; j < n; j++ {
				out = append(out, en.rttSeconds(i, j))
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(uint64(n), edgeSummaryStream))
	out := make([]float64, maxSummaryPairs)
	for k := range out {
		i := rng.IntN(n)
		j := rng.IntN(n - 1)
		if j >= i {
			j++
		}
		out[k] = en.rttSeconds(i, j)
	}
	return out
}

// nearestRank returns the q-quantile of sorted xs by the nearest-rank rule.
func nearestRank(sorted []float64, q float64) float64 {
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(k, 0)]
}

func edgeDuration(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// String renders the summary as a few aligned lines for a terminal.
func (s EdgeSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "edge network %q: %d devices on %d of %d sites, %d hubs, %g×%g km\n",
		s.Name, s.Devices, s.SitesInUse, s.Sites, s.Hubs, s.AreaKm, s.AreaKm)
	for _, c := range s.Classes {
		fmt.Fprintf(&b, "  %-12s %5d devices  air RTT %-9v up %7.1f  down %7.1f Mbit/s (medians)\n",
			c.Name, c.Devices, c.MedianAccessRTT.Round(time.Microsecond), c.MedianUplinkMbps, c.MedianDownlinkMbps)
	}
	sampled := ""
	if s.PairsSampled < s.Pairs {
		sampled = fmt.Sprintf(", from %d sampled pairs", s.PairsSampled)
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	fmt.Fprintf(&b, "  RTT min %v  p50 %v  p90 %v  p99 %v  max %v; %.1f%% of pairs share a site%s\n",
		r(s.RTTMin), r(s.RTTP50), r(s.RTTP90), r(s.RTTP99), r(s.RTTMax), 100*s.SameSitePairs, sampled)
	return b.String()
}
