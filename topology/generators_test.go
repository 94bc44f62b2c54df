package topology

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// seeded returns a deterministic random source for tests.
func seeded(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x74657374))
}

func sameGraph(a, b *Graph) bool {
	return a.N == b.N && slices.EqualFunc(a.Adj, b.Adj, slices.Equal[[]int])
}

func TestGenerators(t *testing.T) {
	const irregular = -1
	cases := []struct {
		name      string
		build     func() (*Graph, error)
		n         int
		degree    int // every peer's degree, or irregular
		edges     int
		connected bool
	}{
		{"ring 1", func() (*Graph, error) { return Ring(1) }, 1, 0, 0, true},
		{"ring 2", func() (*Graph, error) { return Ring(2) }, 2, 1, 1, true},
		{"ring 3", func() (*Graph, error) { return Ring(3) }, 3, 2, 3, true},
		{"ring 100", func() (*Graph, error) { return Ring(100) }, 100, 2, 100, true},
		{"torus 9", func() (*Graph, error) { return Torus(9) }, 9, 4, 18, true},
		{"torus 12", func() (*Graph, error) { return Torus(12) }, 12, 4, 24, true},
		{"torus 1000", func() (*Graph, error) { return Torus(1000) }, 1000, 4, 2000, true},
		{"complete 1", func() (*Graph, error) { return Complete(1) }, 1, 0, 0, true},
		{"complete 5", func() (*Graph, error) { return Complete(5) }, 5, 4, 10, true},
		{"complete 64", func() (*Graph, error) { return Complete(64) }, 64, 63, 2016, true},
		{"exponential 1", func() (*Graph, error) { return Exponential(1) }, 1, 0, 0, true},
		{"exponential 2", func() (*Graph, error) { return Exponential(2) }, 2, 1, 1, true},
		{"exponential 5", func() (*Graph, error) { return Exponential(5) }, 5, 4, 10, true},
		{"exponential 16", func() (*Graph, error) { return Exponential(16) }, 16, 7, 56, true},
		{"exponential 1000", func() (*Graph, error) { return Exponential(1000) }, 1000, 20, 10000, true},
		{"regular 10,3", func() (*Graph, error) { return RandomRegular(10, 3, seeded(1)) }, 10, 3, 15, true},
		{"regular 1000,6", func() (*Graph, error) { return RandomRegular(1000, 6, seeded(1)) }, 1000, 6, 3000, true},
		{"regular 20,17 (dense)", func() (*Graph, error) { return RandomRegular(20, 17, seeded(1)) }, 20, 17, 170, true},
		{"regular 7,6 (complete)", func() (*Graph, error) { return RandomRegular(7, 6, seeded(1)) }, 7, 6, 21, true},
		{"regular 4,0", func() (*Graph, error) { return RandomRegular(4, 0, seeded(1)) }, 4, 0, 0, false},
		{"regular 10,1", func() (*Graph, error) { return RandomRegular(10, 1, seeded(1)) }, 10, 1, 5, false},
		{"erdos-renyi p=1", func() (*Graph, error) { return ErdosRenyi(12, 1, seeded(1)) }, 12, 11, 66, true},
		{"geometric r=2", func() (*Graph, error) {
			g, _, err := Geometric(12, 2, seeded(1))
			return g, err
		}, 12, 11, 66, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if g.N != c.n {
				t.Errorf("N = %d, want %d", g.N, c.n)
			}
			if c.degree != irregular {
				for i := range g.N {
					if g.Degree(i) != c.degree {
						t.Fatalf("peer %d has degree %d, want %d", i, g.Degree(i), c.degree)
					}
				}
			}
			if g.Edges() != c.edges {
				t.Errorf("%d edges, want %d", g.Edges(), c.edges)
			}
			if c.connected && !g.Connected() {
				t.Error("graph is not connected")
			}
		})
	}
}

func TestGeneratorNeighbors(t *testing.T) {
	ring, _ := Ring(5)
	torus, _ := Torus(12) // 3 rows × 4 columns
	exp, _ := Exponential(16)
	cases := []struct {
		name string
		got  []int
		want []int
	}{
		{"ring 5 peer 0", ring.Adj[0], []int{1, 4}},
		{"torus 3×4 peer 0", torus.Adj[0], []int{1, 3, 4, 8}},
		{"torus 3×4 peer 5", torus.Adj[5], []int{1, 4, 6, 9}},
		{"exponential 16 peer 0", exp.Adj[0], []int{1, 2, 4, 8, 12, 14, 15}},
	}
	for _, c := range cases {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: neighbors %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestTorusPicksMostSquareShape(t *testing.T) {
	cases := []struct{ n, rows, cols int }{
		{9, 3, 3}, {12, 3, 4}, {16, 4, 4}, {36, 6, 6}, {48, 6, 8}, {1000, 25, 40}, {27, 3, 9},
	}
	for _, c := range cases {
		rows, cols, ok := torusShape(c.n)
		if !ok || rows != c.rows || cols != c.cols {
			t.Errorf("torusShape(%d) = %d×%d (%v), want %d×%d", c.n, rows, cols, ok, c.rows, c.cols)
		}
	}
}

func TestTorusErrorSaysWhichSizesWork(t *testing.T) {
	cases := []struct {
		n    int
		want string
	}{
		{0, "n >= 1"},
		{4, "nearest that works: 9"},
		{8, "nearest that works: 9"},
		{14, "nearest that work: 12 and 15"},
		{17, "nearest that work: 16 and 18"},
		{22, "nearest that work: 21 and 24"},
	}
	for _, c := range cases {
		_, err := Torus(c.n)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Torus(%d): error %v, want one containing %q", c.n, err, c.want)
		}
	}
}

func TestGeneratorErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"ring 0", second(Ring(0)), "ring needs n >= 1"},
		{"complete -1", second(Complete(-1)), "complete graph needs n >= 1"},
		{"exponential 0", second(Exponential(0)), "exponential graph needs n >= 1"},
		{"regular n=0", second(RandomRegular(0, 0, seeded(1))), "n >= 1"},
		{"regular odd", second(RandomRegular(5, 3, seeded(1))), "n·k even, got n=5 k=3"},
		{"regular k=n", second(RandomRegular(5, 5, seeded(1))), "0 <= k < n, got k=5 with n=5"},
		{"regular k<0", second(RandomRegular(5, -2, seeded(1))), "got k=-2"},
		{"regular nil rng", second(RandomRegular(6, 3, nil)), "random source"},
		{"erdos-renyi p=0", second(ErdosRenyi(5, 0, seeded(1))), "0 < p <= 1, got 0"},
		{"erdos-renyi p=1.5", second(ErdosRenyi(5, 1.5, seeded(1))), "got 1.5"},
		{"erdos-renyi p=NaN", second(ErdosRenyi(5, math.NaN(), seeded(1))), "got NaN"},
		{"erdos-renyi n=0", second(ErdosRenyi(0, 0.5, seeded(1))), "n >= 1"},
		{"erdos-renyi nil rng", second(ErdosRenyi(5, 0.5, nil)), "random source"},
		{"geometric r=0", third(Geometric(5, 0, seeded(1))), "radius > 0, got 0"},
		{"geometric r<0", third(Geometric(5, -1, seeded(1))), "got -1"},
		{"geometric r=Inf", third(Geometric(5, math.Inf(1), seeded(1))), "got +Inf"},
		{"geometric n=0", third(Geometric(0, 0.5, seeded(1))), "n >= 1"},
		{"geometric nil rng", third(Geometric(5, 0.5, nil)), "random source"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || !strings.HasPrefix(c.err.Error(), "topology: ") {
			t.Errorf("%s: error %v, want one starting \"topology: \" and containing %q", c.name, c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// TestRandomGeneratorsAreDeterministic checks that a seed fixes the graph and
// that another seed gives another graph.
func TestRandomGeneratorsAreDeterministic(t *testing.T) {
	builders := map[string]func(seed uint64) *Graph{
		"regular": func(seed uint64) *Graph {
			g, err := RandomRegular(50, 4, seeded(seed))
			must(t, err)
			return g
		},
		"erdos-renyi": func(seed uint64) *Graph {
			g, err := ErdosRenyi(50, 0.1, seeded(seed))
			must(t, err)
			return g
		},
		"geometric": func(seed uint64) *Graph {
			g, _, err := Geometric(50, 0.25, seeded(seed))
			must(t, err)
			return g
		},
	}
	for name, build := range builders {
		a, b, c := build(7), build(7), build(8)
		if !sameGraph(a, b) {
			t.Errorf("%s: seed 7 gave two different graphs", name)
		}
		if sameGraph(a, c) {
			t.Errorf("%s: seeds 7 and 8 gave the same graph", name)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRandomRegularAlwaysSimple draws many graphs, sparse and dense, small
// and odd-sized, where naive stub pairing would often produce loops or
// repeated edges.
func TestRandomRegularAlwaysSimple(t *testing.T) {
	shapes := []struct{ n, k int }{{4, 2}, {6, 3}, {8, 5}, {10, 4}, {11, 6}, {12, 9}, {50, 7}, {30, 20}, {200, 2}}
	for _, s := range shapes {
		for seed := range uint64(30) {
			g, err := RandomRegular(s.n, s.k, seeded(seed))
			if err != nil {
				t.Fatalf("n=%d k=%d seed %d: %v", s.n, s.k, seed, err)
			}
			if err := g.Validate(); err != nil {
				t.Fatalf("n=%d k=%d seed %d: %v", s.n, s.k, seed, err)
			}
			for i := range g.N {
				if g.Degree(i) != s.k {
					t.Fatalf("n=%d k=%d seed %d: peer %d has degree %d", s.n, s.k, seed, i, g.Degree(i))
				}
			}
			if s.k >= 3 && !g.Connected() {
				t.Errorf("n=%d k=%d seed %d: not connected", s.n, s.k, seed)
			}
		}
	}
}

func TestErdosRenyiEdgeCount(t *testing.T) {
	const n, p = 200, 0.1
	g, err := ErdosRenyi(n, p, seeded(3))
	must(t, err)
	must(t, g.Validate())
	mean := p * n * (n - 1) / 2
	sd := math.Sqrt(mean * (1 - p))
	if d := math.Abs(float64(g.Edges()) - mean); d > 5*sd {
		t.Errorf("%d edges, want about %.0f ± %.0f", g.Edges(), mean, 5*sd)
	}
}

func TestGeometricJoinsExactlyNearbyPoints(t *testing.T) {
	const n, radius = 120, 0.15
	g, points, err := Geometric(n, radius, seeded(5))
	must(t, err)
	must(t, g.Validate())
	if len(points) != n {
		t.Fatalf("%d points, want %d", len(points), n)
	}
	for i, p := range points {
		if p[0] < 0 || p[0] >= 1 || p[1] < 0 || p[1] >= 1 {
			t.Fatalf("point %d = %v is outside the unit square", i, p)
		}
		for j := range n {
			if j == i {
				continue
			}
			near := math.Hypot(p[0]-points[j][0], p[1]-points[j][1]) <= radius
			_, joined := slices.BinarySearch(g.Adj[i], j)
			if near != joined {
				t.Fatalf("peers %d and %d: within radius %v, joined %v", i, j, near, joined)
			}
		}
	}
}

// allowedStubPair is the fallback when random stub pairs keep failing: it
// must offer only pairs of distinct, unjoined peers, weighted by stub count.
func TestAllowedStubPair(t *testing.T) {
	stubs := []int{0, 0, 1, 2} // peer 0 has two stubs left
	joined := map[[2]int]bool{{0, 1}: true}
	counts := map[[2]int]int{}
	rng := seeded(4)
	for range 3000 {
		s, u, ok := allowedStubPair(stubs, joined, rng)
		if !ok {
			t.Fatal("no pair found, but (0,2) and (1,2) are allowed")
		}
		counts[[2]int{min(stubs[s], stubs[u]), max(stubs[s], stubs[u])}]++
	}
	if len(counts) != 2 || counts[[2]int{0, 2}] == 0 || counts[[2]int{1, 2}] == 0 {
		t.Fatalf("pairs drawn %v, want only (0,2) and (1,2)", counts)
	}
	// (0,2) covers two stub pairs and (1,2) one: expect about 2:1.
	if ratio := float64(counts[[2]int{0, 2}]) / float64(counts[[2]int{1, 2}]); ratio < 1.7 || ratio > 2.3 {
		t.Errorf("(0,2):(1,2) drawn %.2f:1, want about 2:1", ratio)
	}
	if _, _, ok := allowedStubPair([]int{3, 3}, nil, rng); ok {
		t.Error("two stubs of one peer cannot be paired, but a pair was offered")
	}
	if _, _, ok := allowedStubPair([]int{0, 1}, joined, rng); ok {
		t.Error("peers 0 and 1 are already joined, but a pair was offered")
	}
}
