package topology

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// maxRegularAttempts bounds how often RandomRegular draws a new graph in
// search of a connected one (and, rarely, after a pairing gets stuck).
const maxRegularAttempts = 100

// randomPairTries is how many uniformly random stub pairs RandomRegular tries
// before it enumerates the pairs that are still allowed.
const randomPairTries = 64

// Ring returns the cycle 0-1-…-(n-1)-0: every peer has degree 2 (n=1 has no
// edges, n=2 a single edge). Its spectral gap shrinks as 1/n², so it mixes
// slowly on many peers.
func Ring(n int) (*Graph, error) {
	if n < 1 {
		return nil, fmt.Errorf("topology: ring needs n >= 1 peers, got %d", n)
	}
	b := newBuilder(n)
	if n > 1 {
		for i := range n {
			b.add(i, (i+1)%n) // for n=2 both turns give the same edge; the builder merges them
		}
	}
	return b.graph(), nil
}

// Torus returns the 2-D torus (wrap-around grid) on rows×cols = n peers,
// using the most square factorisation with rows, cols >= 3, so that every
// peer has exactly 4 distinct neighbors. Peer r·cols+c sits at row r,
// column c. For n with no such factorisation (primes, n < 9, 2·prime, …)
// the error names the nearest n that work.
func Torus(n int) (*Graph, error) {
	if n < 1 {
		return nil, fmt.Errorf("topology: torus needs n >= 1 peers, got %d", n)
	}
	rows, cols, ok := torusShape(n)
	if !ok {
		return nil, fmt.Errorf("topology: torus needs n = rows×cols with rows, cols >= 3 "+
			"(n = 9, 12, 15, 16, 18, 20, 21, 24, 25, …); n=%d does not factor so; %s",
			n, nearestTorusSizes(n))
	}
	b := newBuilder(n)
	for r := range rows {
		for c := range cols {
			i := r*cols + c
			b.add(i, r*cols+(c+1)%cols)
			b.add(i, ((r+1)%rows)*cols+c)
		}
	}
	return b.graph(), nil
}

// torusShape returns the factorisation n = rows×cols with 3 <= rows <= cols
// and rows as large as possible.
func torusShape(n int) (rows, cols int, ok bool) {
	for r := int(math.Sqrt(float64(n))) + 1; r >= 3; r-- {
		if r*r <= n && n%r == 0 {
			return r, n / r, true
		}
	}
	return 0, 0, false
}

// nearestTorusSizes describes the closest peer counts below and above n
// that Torus accepts.
func nearestTorusSizes(n int) string {
	above := max(n+1, 9)
	for ; ; above++ {
		if _, _, ok := torusShape(above); ok {
			break
		}
	}
	for below := n - 1; below >= 9; below-- {
		if _, _, ok := torusShape(below); ok {
			return fmt.Sprintf("nearest that work: %d and %d", below, above)
		}
	}
	return fmt.Sprintf("nearest that works: %d", above)
}

// Complete returns the complete graph: every peer averages with every other
// one (degree n-1), the best possible mixing at the highest cost.
func Complete(n int) (*Graph, error) {
	if n < 1 {
		return nil, fmt.Errorf("topology: complete graph needs n >= 1 peers, got %d", n)
	}
	b := newBuilder(n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			b.add(i, j)
		}
	}
	return b.graph(), nil
}

// Exponential returns the static exponential graph of Ying et al. 2021,
// symmetrised: peer i is joined to (i ± 2^k) mod n for k = 0…⌈log2 n⌉-1.
// Each peer has about 2·log2(n) neighbors (7 for n=16, 20 for n=1000) and
// the spectral gap stays large as n grows.
func Exponential(n int) (*Graph, error) {
	if n < 1 {
		return nil, fmt.Errorf("topology: exponential graph needs n >= 1 peers, got %d", n)
	}
	b := newBuilder(n)
	for hop := 1; hop < n; hop *= 2 {
		for i := range n {
			b.add(i, (i+hop)%n)
		}
	}
	return b.graph(), nil
}

// RandomRegular returns a random simple graph in which every peer has
// exactly k neighbors. It pairs edge stubs at random, never accepting a self
// loop or a repeated edge (the Steger–Wormald method), and for k > (n-1)/2
// draws the complement instead. It redraws up to 100 times to find a
// connected graph; if none turns up (certain for k <= 1 with n > 2, likely
// for k = 2 on many peers) it returns the last, disconnected one, so callers
// that need connectivity should check Connected.
func RandomRegular(n, k int, rng *rand.Rand) (*Graph, error) {
	switch {
	case n < 1:
		return nil, fmt.Errorf("topology: random regular graph needs n >= 1 peers, got %d", n)
	case k < 0 || k >= n:
		return nil, fmt.Errorf("topology: random regular graph needs 0 <= k < n, got k=%d with n=%d", k, n)
	case n*k%2 != 0:
		return nil, fmt.Errorf("topology: random regular graph needs n·k even, got n=%d k=%d", n, k)
	case rng == nil:
		return nil, fmt.Errorf("topology: random regular graph needs a random source, got nil")
	}
	complement := k > (n-1)/2
	degree := k
	if complement {
		degree = n - 1 - k
	}
	var last *Graph
	for range maxRegularAttempts {
		g, ok := pairStubs(n, degree, rng)
		if !ok {
			continue
		}
		if complement {
			g = complementOf(g)
		}
		if g.Connected() {
			return g, nil
		}
		last = g
	}
	if last == nil {
		return nil, fmt.Errorf("topology: random regular graph with n=%d k=%d: no simple pairing found in %d attempts",
			n, k, maxRegularAttempts)
	}
	return last, nil
}

// pairStubs draws a simple d-regular graph by pairing stubs (d per peer)
// one edge at a time, only ever choosing two stubs of distinct peers that
// are not yet joined. It reports false when no allowed pair is left before
// all stubs are used, which the caller answers with a fresh draw.
func pairStubs(n, d int, rng *rand.Rand) (*Graph, bool) {
	stubs := make([]int, 0, n*d) // stubs[s] is the peer that owns stub s
	for v := range n {
		for range d {
			stubs = append(stubs, v)
		}
	}
	joined := make(map[[2]int]bool, n*d/2)
	key := func(u, v int) [2]int { return [2]int{min(u, v), max(u, v)} }
	b := newBuilder(n)
	// removeStubs drops stubs s and t (s != t) by swapping them to the end.
	removeStubs := func(s, t int) {
		for _, x := range []int{max(s, t), min(s, t)} {
			last := len(stubs) - 1
			stubs[x] = stubs[last]
			stubs = stubs[:last]
		}
	}
	for len(stubs) > 0 {
		paired := false
		for range randomPairTries {
			s, t := rng.IntN(len(stubs)), rng.IntN(len(stubs))
			u, v := stubs[s], stubs[t]
			if u == v || joined[key(u, v)] {
				continue
			}
			joined[key(u, v)] = true
			b.add(u, v)
			removeStubs(s, t)
			paired = true
			break
		}
		if paired {
			continue
		}
		// Random tries keep failing: choose among the allowed pairs directly,
		// each weighted by how many stub pairs it stands for.
		s, t, ok := allowedStubPair(stubs, joined, rng)
		if !ok {
			return nil, false
		}
		u, v := stubs[s], stubs[t]
		joined[key(u, v)] = true
		b.add(u, v)
		removeStubs(s, t)
	}
	return b.graph(), true
}

// allowedStubPair picks, with probability proportional to the number of stub
// pairs it covers, a pair of remaining stubs that belong to distinct peers
// not yet joined. It returns their positions in stubs.
func allowedStubPair(stubs []int, joined map[[2]int]bool, rng *rand.Rand) (s, t int, ok bool) {
	left := map[int]int{} // peer -> remaining stubs
	for _, v := range stubs {
		left[v]++
	}
	peers := make([]int, 0, len(left))
	for v := range left {
		peers = append(peers, v)
	}
	slices.Sort(peers) // map order is random; keep draws deterministic
	type pair struct{ u, v, weight int }
	var allowed []pair
	total := 0
	for a, u := range peers {
		for _, v := range peers[a+1:] {
			if !joined[[2]int{u, v}] {
				w := left[u] * left[v]
				allowed = append(allowed, pair{u, v, w})
				total += w
			}
		}
	}
	if total == 0 {
		return 0, 0, false
	}
	r := rng.IntN(total)
	var chosen pair
	for _, p := range allowed {
		if r < p.weight {
			chosen = p
			break
		}
		r -= p.weight
	}
	s = slices.Index(stubs, chosen.u)
	t = slices.Index(stubs, chosen.v)
	return s, t, true
}

// complementOf returns the graph joining exactly the peers g does not join.
func complementOf(g *Graph) *Graph {
	b := newBuilder(g.N)
	for i := range g.N {
		nb := g.Adj[i]
		for j := i + 1; j < g.N; j++ {
			if _, ok := slices.BinarySearch(nb, j); !ok {
				b.add(i, j)
			}
		}
	}
	return b.graph()
}

// ErdosRenyi returns a G(n,p) random graph: each of the n(n-1)/2 possible
// edges is present independently with probability p, 0 < p <= 1. It is
// connected with high probability once p > ln(n)/n, but not guaranteed to be.
func ErdosRenyi(n int, p float64, rng *rand.Rand) (*Graph, error) {
	switch {
	case n < 1:
		return nil, fmt.Errorf("topology: Erdős–Rényi graph needs n >= 1 peers, got %d", n)
	case !(p > 0 && p <= 1):
		return nil, fmt.Errorf("topology: Erdős–Rényi graph needs edge probability 0 < p <= 1, got %g", p)
	case rng == nil:
		return nil, fmt.Errorf("topology: Erdős–Rényi graph needs a random source, got nil")
	}
	b := newBuilder(n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if rng.Float64() < p {
				b.add(i, j)
			}
		}
	}
	return b.graph(), nil
}

// Geometric returns a random geometric graph: n points drawn uniformly in
// the unit square, joined when their Euclidean distance is at most radius
// (in unit-square lengths, radius > 0). It models peers that talk to whoever
// is physically near, like devices around a base station. Points[i] is the
// (x, y) position of peer i. Connectivity is likely once
// π·radius² > ln(n)/n, but not guaranteed.
func Geometric(n int, radius float64, rng *rand.Rand) (*Graph, [][2]float64, error) {
	switch {
	case n < 1:
		return nil, nil, fmt.Errorf("topology: geometric graph needs n >= 1 peers, got %d", n)
	case !(radius > 0) || math.IsInf(radius, 0):
		return nil, nil, fmt.Errorf("topology: geometric graph needs a finite radius > 0, got %g", radius)
	case rng == nil:
		return nil, nil, fmt.Errorf("topology: geometric graph needs a random source, got nil")
	}
	points := make([][2]float64, n)
	for i := range points {
		points[i] = [2]float64{rng.Float64(), rng.Float64()}
	}
	b := newBuilder(n)
	r2 := radius * radius
	for i := range n {
		for j := i + 1; j < n; j++ {
			dx, dy := points[i][0]-points[j][0], points[i][1]-points[j][1]
			if dx*dx+dy*dy <= r2 {
				b.add(i, j)
			}
		}
	}
	return b.graph(), points, nil
}
