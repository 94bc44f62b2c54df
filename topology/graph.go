package topology

import (
	"fmt"
	"slices"
)

// Graph is an undirected simple graph on peers 0..N-1. Adj[i] lists the
// neighbors of peer i in ascending order, without self loops or duplicates,
// and j is in Adj[i] exactly when i is in Adj[j].
type Graph struct {
	N   int
	Adj [][]int
}

// Degree returns how many neighbors peer i has, or 0 if i is not a peer.
func (g *Graph) Degree(i int) int {
	if g == nil || i < 0 || i >= len(g.Adj) {
		return 0
	}
	return len(g.Adj[i])
}

// MaxDegree returns the largest degree of any peer (0 for an empty graph).
func (g *Graph) MaxDegree() int {
	if g == nil {
		return 0
	}
	best := 0
	for _, nb := range g.Adj {
		best = max(best, len(nb))
	}
	return best
}

// Edges returns the number of undirected edges.
func (g *Graph) Edges() int {
	if g == nil {
		return 0
	}
	sum := 0
	for _, nb := range g.Adj {
		sum += len(nb)
	}
	return sum / 2
}

// Connected reports whether every peer can reach every other one. Graphs
// with zero or one peer are connected. Out-of-range neighbor indices are
// ignored; use Validate to find them.
func (g *Graph) Connected() bool {
	if g == nil || g.N <= 1 {
		return true
	}
	if len(g.Adj) != g.N {
		return false
	}
	seen := make([]bool, g.N)
	seen[0] = true
	queue := []int{0}
	reached := 1
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range g.Adj[i] {
			if j >= 0 && j < g.N && !seen[j] {
				seen[j] = true
				reached++
				queue = append(queue, j)
			}
		}
	}
	return reached == g.N
}

// Validate checks that g is a well-formed undirected simple graph: one
// adjacency list per peer, every neighbor in range, lists sorted ascending,
// no self loops, no duplicates, and every edge present in both directions.
func (g *Graph) Validate() error {
	if g == nil {
		return fmt.Errorf("topology: graph is nil")
	}
	if g.N < 0 {
		return fmt.Errorf("topology: graph has N=%d peers, want >= 0", g.N)
	}
	if len(g.Adj) != g.N {
		return fmt.Errorf("topology: graph has N=%d but %d adjacency lists", g.N, len(g.Adj))
	}
	for i, nb := range g.Adj {
		for k, j := range nb {
			switch {
			case j < 0 || j >= g.N:
				return fmt.Errorf("topology: peer %d has neighbor %d, out of range [0,%d)", i, j, g.N)
			case j == i:
				return fmt.Errorf("topology: peer %d has a self loop", i)
			case k > 0 && j == nb[k-1]:
				return fmt.Errorf("topology: peer %d lists neighbor %d twice", i, j)
			case k > 0 && j < nb[k-1]:
				return fmt.Errorf("topology: peer %d's neighbors are not sorted (%d after %d)", i, j, nb[k-1])
			}
		}
	}
	for i, nb := range g.Adj {
		for _, j := range nb {
			if _, ok := slices.BinarySearch(g.Adj[j], i); !ok {
				return fmt.Errorf("topology: peer %d lists %d as a neighbor but %d does not list %d", i, j, j, i)
			}
		}
	}
	return nil
}

// FromEdges builds a graph on n peers from undirected edges. An edge may be
// given in either direction and more than once; duplicates are merged.
// Self loops and endpoints outside [0,n) are errors.
func FromEdges(n int, edges [][2]int) (*Graph, error) {
	if n < 0 {
		return nil, fmt.Errorf("topology: graph needs n >= 0 peers, got %d", n)
	}
	b := newBuilder(n)
	for k, e := range edges {
		i, j := e[0], e[1]
		switch {
		case i < 0 || i >= n || j < 0 || j >= n:
			return nil, fmt.Errorf("topology: edge %d (%d,%d) has an endpoint outside [0,%d)", k, i, j, n)
		case i == j:
			return nil, fmt.Errorf("topology: edge %d (%d,%d) is a self loop", k, i, j)
		}
		b.add(i, j)
	}
	return b.graph(), nil
}

// builder collects edges in any order and with repeats, and produces a Graph
// with sorted, deduplicated adjacency lists. Callers guarantee that endpoints
// are in range and distinct.
type builder struct {
	adj [][]int
}

func newBuilder(n int) *builder {
	return &builder{adj: make([][]int, n)}
}

func (b *builder) add(i, j int) {
	b.adj[i] = append(b.adj[i], j)
	b.adj[j] = append(b.adj[j], i)
}

func (b *builder) graph() *Graph {
	for i, nb := range b.adj {
		slices.Sort(nb)
		nb = slices.Compact(nb)
		b.adj[i] = slices.Clip(nb)
		if b.adj[i] == nil {
			b.adj[i] = []int{}
		}
	}
	return &Graph{N: len(b.adj), Adj: b.adj}
}
