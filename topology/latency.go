package topology

import (
	"fmt"
	"math"
	"slices"
)

// LatencyMatrix is a square matrix of measured round-trip times between N
// nodes, in milliseconds, stored row-major in MS: MS[i*N+j] is the RTT
// measured with node i as the sender and j as the receiver. Measurements may
// be asymmetric. Unknown entries are NaN; the diagonal is 0.
type LatencyMatrix struct {
	N  int
	MS []float64
}

// known reports whether an RTT entry holds a measurement: finite and >= 0.
// NaN marks an unknown entry; negative values are treated as unknown too.
func known(ms float64) bool {
	return ms >= 0 && ms <= math.MaxFloat64
}

// At returns the RTT in milliseconds from node i to node j: NaN if it is
// unknown or if i or j is not a node.
func (l *LatencyMatrix) At(i, j int) float64 {
	if l == nil || i < 0 || j < 0 || i >= l.N || j >= l.N || i*l.N+j >= len(l.MS) {
		return math.NaN()
	}
	return l.MS[i*l.N+j]
}

// FillUnknown replaces each unknown entry (i, j) with the reverse
// measurement (j, i) when that is known, since RTT is nearly symmetric, and
// otherwise with the median of all known off-diagonal entries. An unknown
// diagonal entry becomes 0. It returns how many entries it filled. If no
// off-diagonal entry is known at all, entries without a known reverse stay
// unknown.
func (l *LatencyMatrix) FillUnknown() int {
	if l.shapeError() != nil {
		return 0
	}
	n := l.N
	before := slices.Clone(l.MS)
	var offDiagonal []float64
	for i := range n {
		for j := range n {
			if v := before[i*n+j]; i != j && known(v) {
				offDiagonal = append(offDiagonal, v)
			}
		}
	}
	median, haveMedian := medianOf(offDiagonal)
	filled := 0
	for i := range n {
		for j := range n {
			if known(before[i*n+j]) {
				continue
			}
			switch reverse := before[j*n+i]; {
			case i == j:
				l.MS[i*n+j] = 0
			case known(reverse):
				l.MS[i*n+j] = reverse
			case haveMedian:
				l.MS[i*n+j] = median
			default:
				continue
			}
			filled++
		}
	}
	return filled
}

// medianOf returns the median of xs (the mean of the middle two for an even
// count); it reorders xs.
func medianOf(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	slices.Sort(xs)
	mid := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[mid], true
	}
	return (xs[mid-1] + xs[mid]) / 2, true
}

// Sub returns the matrix restricted to the nodes idx, in that order: entry
// (a, b) of the result is entry (idx[a], idx[b]) of l. Each index must be a
// node of l and appear once.
func (l *LatencyMatrix) Sub(idx []int) (*LatencyMatrix, error) {
	if err := l.shapeError(); err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("topology: latency submatrix needs at least one node index")
	}
	seen := make(map[int]int, len(idx))
	for pos, i := range idx {
		if i < 0 || i >= l.N {
			return nil, fmt.Errorf("topology: latency submatrix index %d (position %d) is out of range [0,%d)", i, pos, l.N)
		}
		if first, dup := seen[i]; dup {
			return nil, fmt.Errorf("topology: latency submatrix index %d appears twice (positions %d and %d)", i, first, pos)
		}
		seen[i] = pos
	}
	m := len(idx)
	sub := &LatencyMatrix{N: m, MS: make([]float64, m*m)}
	for a, i := range idx {
		for b, j := range idx {
			sub.MS[a*m+b] = l.MS[i*l.N+j]
		}
	}
	return sub, nil
}

// shapeError reports whether l is a usable N×N matrix.
func (l *LatencyMatrix) shapeError() error {
	switch {
	case l == nil:
		return fmt.Errorf("topology: latency matrix is nil")
	case l.N < 0 || len(l.MS) != l.N*l.N:
		return fmt.Errorf("topology: latency matrix has N=%d but %d entries, want N×N", l.N, len(l.MS))
	}
	return nil
}
