package topology

import (
	"math"
	"strings"
	"testing"
)

// testGraphs returns regular and irregular graphs to check weights on.
func testGraphs(t *testing.T) map[string]*Graph {
	t.Helper()
	gs := map[string]*Graph{}
	add := func(name string, g *Graph, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gs[name] = g
	}
	g, err := Ring(2)
	add("ring 2", g, err)
	g, err = Ring(17)
	add("ring 17", g, err)
	g, err = Torus(20)
	add("torus 20", g, err)
	g, err = Complete(9)
	add("complete 9", g, err)
	g, err = Exponential(33)
	add("exponential 33", g, err)
	g, err = RandomRegular(40, 5, seeded(2))
	add("regular 40,5", g, err)
	g, err = ErdosRenyi(60, 0.1, seeded(2))
	add("erdos-renyi 60,0.1", g, err)
	g, _, err = Geometric(80, 0.2, seeded(2))
	add("geometric 80,0.2", g, err)
	g, err = FromEdges(6, [][2]int{{0, 1}, {0, 2}, {0, 3}, {0, 4}}) // star plus an isolated peer
	add("star with isolated peer", g, err)
	return gs
}

func TestMetropolisIsDoublyStochastic(t *testing.T) {
	const tol = 1e-12
	for name, g := range testGraphs(t) {
		t.Run(name, func(t *testing.T) {
			m := Metropolis(g)
			if err := m.Validate(g); err != nil {
				t.Fatal(err)
			}
			w := m.Dense(g)
			if w == nil {
				t.Fatal("Dense returned nil")
			}
			n := g.N
			for i := range n {
				row, col := 0.0, 0.0
				for j := range n {
					if w.At(i, j) < 0 {
						t.Fatalf("W[%d][%d] = %g < 0", i, j, w.At(i, j))
					}
					if w.At(i, j) != w.At(j, i) {
						t.Fatalf("W[%d][%d] = %g but W[%d][%d] = %g", i, j, w.At(i, j), j, i, w.At(j, i))
					}
					row += w.At(i, j)
					col += w.At(j, i)
				}
				if math.Abs(row-1) > tol || math.Abs(col-1) > tol {
					t.Fatalf("row %d sums to %.15g and column %d to %.15g, want 1", i, row, i, col)
				}
			}
			// Dense puts each weight where Mixing says it goes.
			for i, nb := range g.Adj {
				if w.At(i, i) != m.Self[i] {
					t.Fatalf("W[%d][%d] = %g, Self = %g", i, i, w.At(i, i), m.Self[i])
				}
				for k, j := range nb {
					if w.At(i, j) != m.Neighbors[i][k] {
						t.Fatalf("W[%d][%d] = %g, Neighbors = %g", i, j, w.At(i, j), m.Neighbors[i][k])
					}
				}
			}
		})
	}
}

func TestMetropolisWeightsOnAStar(t *testing.T) {
	g, err := FromEdges(6, [][2]int{{0, 1}, {0, 2}, {0, 3}, {0, 4}})
	must(t, err)
	m := Metropolis(g)
	// Hub degree 4, leaf degree 1: every edge weighs 1/(1+4).
	for k, w := range m.Neighbors[0] {
		if math.Abs(w-0.2) > 1e-15 {
			t.Errorf("hub weight to %d = %g, want 0.2", g.Adj[0][k], w)
		}
	}
	checks := []struct {
		peer int
		want float64
	}{{0, 0.2}, {1, 0.8}, {5, 1}}
	for _, c := range checks {
		if math.Abs(m.Self[c.peer]-c.want) > 1e-15 {
			t.Errorf("Self[%d] = %g, want %g", c.peer, m.Self[c.peer], c.want)
		}
	}
}

func TestMixingValidateFindsDefects(t *testing.T) {
	g, err := Ring(4)
	must(t, err)
	cases := []struct {
		name string
		edit func(m *Mixing)
		want string
	}{
		{"short self", func(m *Mixing) { m.Self = m.Self[:3] }, "3 self weights"},
		{"short row", func(m *Mixing) { m.Neighbors[2] = m.Neighbors[2][:1] }, "row 2 has 1 neighbor weights"},
		{"negative", func(m *Mixing) { m.Neighbors[1][0] = -0.1 }, "W[1][0] = -0.1"},
		{"NaN self", func(m *Mixing) { m.Self[3] = math.NaN() }, "W[3][3] = NaN"},
		{"row sum", func(m *Mixing) { m.Self[0] += 0.01 }, "row 0 sums to"},
		{"asymmetric", func(m *Mixing) { m.Neighbors[0][0] += 0.1; m.Self[0] -= 0.1 }, "not symmetric"},
	}
	for _, c := range cases {
		m := Metropolis(g)
		c.edit(m)
		err := m.Validate(g)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestDenseRejectsMismatchedShapes(t *testing.T) {
	ring4, _ := Ring(4)
	ring5, _ := Ring(5)
	if w := Metropolis(ring4).Dense(ring5); w != nil {
		t.Error("Dense of a 4-peer mixing on a 5-peer graph should be nil")
	}
	if w := Metropolis(nil).Dense(nil); w != nil {
		t.Error("Dense of an empty mixing should be nil")
	}
	if w := (&Graph{}); Metropolis(w).Dense(w) != nil {
		t.Error("Dense on a graph with no peers should be nil")
	}
}
