package topology

import (
	"fmt"
	"slices"
	"testing"
)

func TestCirculantNeighborsAreSymmetricAndBounded(t *testing.T) {
	for _, n := range []int{2, 3, 5, 6, 12, 31} {
		for _, degree := range []int{2, 4, 5, 8} {
			members := make([]string, n)
			for i := range members {
				members[i] = fmt.Sprintf("peer-%03d", (i*37)%1000) // unsorted input
			}
			nb := map[string][]string{}
			for _, m := range members {
				nb[m] = CirculantNeighbors(m, members, degree)
				want := min(n-1, max(2, degree&^1))
				if len(nb[m]) != want {
					t.Fatalf("n=%d degree=%d: %s has %d neighbors %v, want %d", n, degree, m, len(nb[m]), nb[m], want)
				}
				if slices.Contains(nb[m], m) {
					t.Fatalf("%s is its own neighbor", m)
				}
			}
			for a, list := range nb {
				for _, b := range list {
					if !slices.Contains(nb[b], a) {
						t.Fatalf("n=%d degree=%d: %s picks %s but not the other way round", n, degree, a, b)
					}
				}
			}
			// The chosen overlay is connected.
			edges := [][2]int{}
			idx := map[string]int{}
			for i, m := range members {
				idx[m] = i
			}
			for a, list := range nb {
				for _, b := range list {
					if idx[a] < idx[b] {
						edges = append(edges, [2]int{idx[a], idx[b]})
					}
				}
			}
			g, err := FromEdges(n, edges)
			if err != nil || !g.Connected() {
				t.Fatalf("n=%d degree=%d: overlay not connected (%v)", n, degree, err)
			}
		}
	}
}

func TestCirculantNeighborsWithoutSelfInMembers(t *testing.T) {
	got := CirculantNeighbors("c", []string{"a", "b", "d", "e"}, 2)
	if !slices.Equal(got, []string{"b", "d"}) {
		t.Fatalf("got %v, want [b d]", got)
	}
	if CirculantNeighbors("solo", nil, 4) != nil {
		t.Fatal("a lone peer has neighbors")
	}
}

func TestMetropolisWeight(t *testing.T) {
	if MetropolisWeight(2, 4) != 0.2 || MetropolisWeight(4, 2) != 0.2 || MetropolisWeight(0, 0) != 1 {
		t.Fatal("Metropolis weight is not 1/(1+max(di,dj))")
	}
}
