package topology

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// mixingTolerance is how far a row sum may stray from 1, and W_ij from W_ji,
// before Mixing.Validate complains. It absorbs float64 rounding over rows of
// a few thousand entries.
const mixingTolerance = 1e-9

// Mixing holds one row of the mixing matrix W per peer, aligned with the
// graph it was built for: W[i][i] = Self[i] and W[i][g.Adj[i][k]] =
// Neighbors[i][k]; every other entry of row i is zero. A peer's next model
// is Self[i]·x_i + Σ_k Neighbors[i][k]·x_{Adj[i][k]}.
type Mixing struct {
	Self      []float64
	Neighbors [][]float64
}

// Metropolis returns the Metropolis–Hastings weights for g:
// W_ij = 1/(1+max(d_i, d_j)) for each neighbor j, and the rest of the row on
// the diagonal. W is symmetric and doubly stochastic on any graph, and each
// peer needs only its neighbors' degrees to compute its row. A nil graph
// gives an empty Mixing.
func Metropolis(g *Graph) *Mixing {
	if g == nil {
		return &Mixing{}
	}
	m := &Mixing{
		Self:      make([]float64, len(g.Adj)),
		Neighbors: make([][]float64, len(g.Adj)),
	}
	for i, nb := range g.Adj {
		row := make([]float64, len(nb))
		sum := 0.0
		for k, j := range nb {
			row[k] = 1 / float64(1+max(len(nb), g.Degree(j)))
			sum += row[k]
		}
		m.Neighbors[i] = row
		m.Self[i] = 1 - sum
	}
	return m
}

// Dense returns W as an n×n symmetric matrix, for spectral analysis. It
// reads each edge's weight from the row of its lower-numbered peer, so W
// must be symmetric (as Metropolis weights are). It returns nil when m does
// not match the shape of g (use Validate to learn why) or g has no peers.
func (m *Mixing) Dense(g *Graph) *mat.SymDense {
	if m == nil || g == nil || g.N == 0 || m.shapeError(g) != nil {
		return nil
	}
	w := mat.NewSymDense(g.N, nil)
	for i, nb := range g.Adj {
		w.SetSym(i, i, m.Self[i])
		for k, j := range nb {
			if j > i && j < g.N {
				w.SetSym(i, j, m.Neighbors[i][k])
			}
		}
	}
	return w
}

// Validate checks that m is a proper gossip matrix for g: one weight per
// neighbor, all weights finite and nonnegative, each row summing to 1 and
// W_ij = W_ji (so that columns sum to 1 as well: doubly stochastic), all
// within 1e-9.
func (m *Mixing) Validate(g *Graph) error {
	if err := m.shapeError(g); err != nil {
		return err
	}
	for i, nb := range g.Adj {
		sum := m.Self[i]
		if !(m.Self[i] >= 0) || math.IsInf(m.Self[i], 0) {
			return fmt.Errorf("topology: mixing weight W[%d][%d] = %g, want finite and >= 0", i, i, m.Self[i])
		}
		for k, j := range nb {
			w := m.Neighbors[i][k]
			if !(w >= 0) || math.IsInf(w, 0) {
				return fmt.Errorf("topology: mixing weight W[%d][%d] = %g, want finite and >= 0", i, j, w)
			}
			sum += w
			if j < 0 || j >= g.N {
				return fmt.Errorf("topology: peer %d has neighbor %d, out of range [0,%d)", i, j, g.N)
			}
			back, ok := slices.BinarySearch(g.Adj[j], i)
			if !ok {
				return fmt.Errorf("topology: peer %d lists %d as a neighbor but %d does not list %d", i, j, j, i)
			}
			if math.Abs(w-m.Neighbors[j][back]) > mixingTolerance {
				return fmt.Errorf("topology: mixing matrix is not symmetric: W[%d][%d] = %g but W[%d][%d] = %g",
					i, j, w, j, i, m.Neighbors[j][back])
			}
		}
		if math.Abs(sum-1) > mixingTolerance {
			return fmt.Errorf("topology: mixing row %d sums to %.12g, want 1", i, sum)
		}
	}
	return nil
}

// shapeError reports whether m has a weight for exactly each peer and edge
// of g.
func (m *Mixing) shapeError(g *Graph) error {
	switch {
	case m == nil:
		return fmt.Errorf("topology: mixing is nil")
	case g == nil:
		return fmt.Errorf("topology: graph is nil")
	case len(g.Adj) != g.N:
		return fmt.Errorf("topology: graph has N=%d but %d adjacency lists", g.N, len(g.Adj))
	case len(m.Self) != g.N || len(m.Neighbors) != g.N:
		return fmt.Errorf("topology: mixing has %d self weights and %d neighbor rows, want %d of each",
			len(m.Self), len(m.Neighbors), g.N)
	}
	for i, nb := range g.Adj {
		if len(m.Neighbors[i]) != len(nb) {
			return fmt.Errorf("topology: mixing row %d has %d neighbor weights, but peer %d has %d neighbors",
				i, len(m.Neighbors[i]), i, len(nb))
		}
	}
	return nil
}
