package topology

import (
	"slices"
)

// CirculantNeighbors picks a peer's neighbors from the members of a mesh
// without any negotiation: every peer sorts the same member set (itself
// included) into a ring and links to the members at offsets ±1, ±2, … until
// it has degree neighbors. Two peers with the same view of the membership
// choose each other symmetrically, so Metropolis weights stay valid; while
// views differ (a join or a departure still spreading), the asymmetry lasts
// until they converge and a round deadline bridges it.
//
// degree is rounded down to an even number (offsets come in ± pairs) and is
// at least 2; with fewer members than degree+1 every other member is a
// neighbor. self need not be in members. The result is sorted.
func CirculantNeighbors(self string, members []string, degree int) []string {
	ring := slices.Clone(members)
	if !slices.Contains(ring, self) {
		ring = append(ring, self)
	}
	slices.Sort(ring)
	ring = slices.Compact(ring)
	n := len(ring)
	if n <= 1 {
		return nil
	}
	degree = max(2, degree&^1)
	at, _ := slices.BinarySearch(ring, self)
	var out []string
	for k := 1; len(out) < degree && k <= n/2; k++ {
		for _, j := range []int{(at + k) % n, (at - k + n) % n} {
			if j != at && !slices.Contains(out, ring[j]) && len(out) < degree {
				out = append(out, ring[j])
			}
		}
	}
	slices.Sort(out)
	return out
}

// MetropolisWeight is the mixing weight between two neighbors of degrees di
// and dj: 1/(1+max(di, dj)). Each side computes it from the other's
// advertised degree, so W stays symmetric without a global view.
func MetropolisWeight(di, dj int) float64 { return 1 / float64(1+max(di, dj)) }
