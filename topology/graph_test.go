package topology

import (
	"slices"
	"strings"
	"testing"
)

func TestFromEdges(t *testing.T) {
	g, err := FromEdges(5, [][2]int{{0, 1}, {1, 0}, {3, 1}, {1, 2}, {0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1}, {0, 2, 3}, {1}, {1}, {}}
	for i := range want {
		if !slices.Equal(g.Adj[i], want[i]) {
			t.Errorf("Adj[%d] = %v, want %v", i, g.Adj[i], want[i])
		}
	}
	if g.Edges() != 3 || g.MaxDegree() != 3 || g.Degree(1) != 3 || g.Degree(4) != 0 {
		t.Errorf("edges %d, max degree %d, degree(1) %d, degree(4) %d; want 3, 3, 3, 0",
			g.Edges(), g.MaxDegree(), g.Degree(1), g.Degree(4))
	}
	if g.Connected() {
		t.Error("peer 4 is isolated, but Connected() is true")
	}
}

func TestFromEdgesErrors(t *testing.T) {
	cases := []struct {
		n     int
		edges [][2]int
		want  string
	}{
		{-1, nil, "n >= 0"},
		{3, [][2]int{{0, 1}, {2, 2}}, "edge 1 (2,2) is a self loop"},
		{3, [][2]int{{0, 3}}, "edge 0 (0,3) has an endpoint outside [0,3)"},
		{3, [][2]int{{0, 1}, {-1, 2}}, "edge 1 (-1,2)"},
	}
	for _, c := range cases {
		_, err := FromEdges(c.n, c.edges)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "topology: ") {
			t.Errorf("FromEdges(%d, %v): error %v, want one containing %q", c.n, c.edges, err, c.want)
		}
	}
}

func TestValidateFindsDefects(t *testing.T) {
	cases := []struct {
		name string
		g    *Graph
		want string
	}{
		{"nil", nil, "nil"},
		{"negative N", &Graph{N: -1}, "N=-1"},
		{"missing lists", &Graph{N: 3, Adj: [][]int{{1}, {0}}}, "2 adjacency lists"},
		{"out of range", &Graph{N: 2, Adj: [][]int{{2}, {}}}, "neighbor 2, out of range"},
		{"self loop", &Graph{N: 2, Adj: [][]int{{0}, {}}}, "peer 0 has a self loop"},
		{"duplicate", &Graph{N: 2, Adj: [][]int{{1, 1}, {0}}}, "lists neighbor 1 twice"},
		{"unsorted", &Graph{N: 3, Adj: [][]int{{2, 1}, {0}, {0}}}, "not sorted"},
		{"asymmetric", &Graph{N: 3, Adj: [][]int{{1, 2}, {0}, {}}}, "2 does not list 0"},
	}
	for _, c := range cases {
		err := c.g.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestConnected(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		edges [][2]int
		want  bool
	}{
		{"empty", 0, nil, true},
		{"single peer", 1, nil, true},
		{"two isolated", 2, nil, false},
		{"path", 4, [][2]int{{0, 1}, {1, 2}, {2, 3}}, true},
		{"two triangles", 6, [][2]int{{0, 1}, {1, 2}, {2, 0}, {3, 4}, {4, 5}, {5, 3}}, false},
		{"star", 5, [][2]int{{0, 1}, {0, 2}, {0, 3}, {0, 4}}, true},
	}
	for _, c := range cases {
		g, err := FromEdges(c.n, c.edges)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Connected(); got != c.want {
			t.Errorf("%s: Connected() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGraphMethodsDoNotPanicOnBadInput(t *testing.T) {
	var nilGraph *Graph
	if nilGraph.Degree(0) != 0 || nilGraph.MaxDegree() != 0 || nilGraph.Edges() != 0 || !nilGraph.Connected() {
		t.Error("nil graph: want degree 0, max degree 0, 0 edges, connected")
	}
	g := &Graph{N: 3, Adj: [][]int{{1, 7}, {0, -2}, {}}}
	if g.Degree(-1) != 0 || g.Degree(3) != 0 {
		t.Error("Degree of a non-peer should be 0")
	}
	if g.Connected() {
		t.Error("peer 2 is isolated, but Connected() is true")
	}
}
