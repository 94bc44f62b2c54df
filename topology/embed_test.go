package topology

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// planeMatrix returns the RTTs of n peers at random points of a 200 ms
// square, each with a random access-link height of 1–10 ms: exactly the
// geometry Vivaldi with a height can represent.
func planeMatrix(n int, seed uint64) *LatencyMatrix {
	rng := rand.New(rand.NewPCG(seed, 0))
	x, y, h := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x[i], y[i], h[i] = rng.Float64()*200, rng.Float64()*200, 1+rng.Float64()*9
	}
	m := &LatencyMatrix{N: n, MS: make([]float64, n*n)}
	for i := range n {
		for j := range n {
			if i != j {
				m.MS[i*n+j] = math.Hypot(x[i]-x[j], y[i]-y[j]) + h[i] + h[j]
			}
		}
	}
	return m
}

func TestEmbedMatrixIsNearlyExactOnAPlaneWithHeights(t *testing.T) {
	m := planeMatrix(100, 1)
	coords, err := EmbedMatrix(m, DefaultEmbedConfig())
	if err != nil {
		t.Fatal(err)
	}
	r, err := EvaluateCoords(m, coords, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plane with heights: %+v", r)
	// Measured: median 0.0027, p90 0.011, every nearest peer found.
	if r.MedianRelError > 0.005 || r.P90RelError > 0.02 {
		t.Errorf("median relative error %.4f, p90 %.4f; want at most 0.005 and 0.02 on an embeddable matrix",
			r.MedianRelError, r.P90RelError)
	}
	if r.NearestExactFraction < 0.98 {
		t.Errorf("nearest peer found by %.2f of peers, want at least 0.98", r.NearestExactFraction)
	}
}

func TestEmbedMatrixIsDeterministicPerSeed(t *testing.T) {
	m := planeMatrix(30, 2)
	cfg := DefaultEmbedConfig()
	cfg.Steps = 20
	embed := func(seed uint64) []Coord {
		cfg.Seed = seed
		coords, err := EmbedMatrix(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return coords
	}
	first, again, other := embed(11), embed(11), embed(12)
	if !reflect.DeepEqual(first, again) {
		t.Error("the same seed gave different coordinates")
	}
	if reflect.DeepEqual(first, other) {
		t.Error("seeds 11 and 12 gave identical coordinates")
	}
}

// TestEmbedMatrixLosesUnknownSamples: a peer whose every RTT is unknown
// never gets a sample, so it keeps its starting coordinate, while the
// others still embed well.
func TestEmbedMatrixLosesUnknownSamples(t *testing.T) {
	m := planeMatrix(40, 3)
	for j := range m.N {
		if j != 0 {
			m.MS[j] = math.NaN() // row 0: peer 0 cannot measure anyone
		}
	}
	coords, err := EmbedMatrix(m, DefaultEmbedConfig())
	if err != nil {
		t.Fatal(err)
	}
	start := Coord{Vec: make([]float64, CoordDimensions), Error: DefaultVivaldiConfig().ErrorMax,
		Height: DefaultVivaldiConfig().HeightMin.Seconds()}
	if !sameCoord(coords[0], start) {
		t.Errorf("peer 0 measured nothing but moved to %+v", coords[0])
	}
	for i := 1; i < m.N; i++ {
		if coords[i].Error > 0.2 {
			t.Errorf("peer %d still has error %.2f after embedding", i, coords[i].Error)
		}
	}
	rest, err := m.Sub(seq(1, m.N))
	if err != nil {
		t.Fatal(err)
	}
	r, err := EvaluateCoords(rest, coords[1:], 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.MedianRelError > 0.01 {
		t.Errorf("median relative error of the measurable peers %.4f, want at most 0.01", r.MedianRelError)
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestEmbedMatrixRejectsBadInput(t *testing.T) {
	good := planeMatrix(5, 1)
	cases := []struct {
		name   string
		m      *LatencyMatrix
		change func(*EmbedConfig)
		want   string
	}{
		{"nil matrix", nil, nil, "latency matrix is nil"},
		{"ragged matrix", &LatencyMatrix{N: 3, MS: make([]float64, 8)}, nil, "N=3 but 8 entries"},
		{"one peer", &LatencyMatrix{N: 1, MS: []float64{0}}, nil, "at least 2 peers"},
		{"no steps", good, func(c *EmbedConfig) { c.Steps = 0 }, "Steps >= 1, got 0"},
		{"no samples", good, func(c *EmbedConfig) { c.Samples = -2 }, "Samples >= 1 per peer and step, got -2"},
		{"near fraction above 1", good, func(c *EmbedConfig) { c.NearFraction = 1.5 }, "NearFraction is 1.5"},
		{"near fraction NaN", good, func(c *EmbedConfig) { c.NearFraction = math.NaN() }, "NearFraction is NaN"},
		{"near samples without a near set", good, func(c *EmbedConfig) { c.NearSet = 0 }, "NearSet is 0"},
		{"negative near set", good, func(c *EmbedConfig) { c.NearSet = -1 }, "NearSet is -1"},
		{"bad vivaldi config", good, func(c *EmbedConfig) { c.Vivaldi.CC = 2 }, "CC is 2"},
	}
	for _, c := range cases {
		cfg := DefaultEmbedConfig()
		if c.change != nil {
			c.change(&cfg)
		}
		if _, err := EmbedMatrix(c.m, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestNearPeersKeepsTheLowestDistinctRTTs(t *testing.T) {
	np := nearPeers{size: 3}
	for _, s := range []measuredPeer{{5, 50}, {6, 20}, {7, 90}, {8, 10}, {6, 30}, {9, 40}, {8, 95}} {
		np.offer(s.peer, s.ms)
	}
	// Peer 6 was remeasured at 30 and peer 8 at 95: the latest RTT counts.
	// Peer 5 (50) was pushed out by peer 9 and is not remembered, like a
	// live peer that keeps only its near list; peer 8 stays until a lower
	// RTT displaces it.
	want := []measuredPeer{{6, 30}, {9, 40}, {8, 95}}
	if !reflect.DeepEqual(np.peers, want) {
		t.Errorf("near peers %v, want %v", np.peers, want)
	}
	none := nearPeers{}
	none.offer(1, 5)
	if len(none.peers) != 0 {
		t.Errorf("a near set of size 0 kept %v", none.peers)
	}
}

// TestEmbedPlanetLab checks issue 4's acceptance thresholds on the real
// 490-peer PlanetLab matrix with the default settings of gradmesh topo.
func TestEmbedPlanetLab(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "rtt", "planetlab-490.tsv")
	if _, err := os.Stat(path); err != nil {
		abs, _ := filepath.Abs(path)
		t.Skipf("PlanetLab RTT matrix not found at %s (%v); it lives in ../shared/data beside the project", abs, err)
	}
	m, err := ReadLatencyMatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	coords, err := EmbedMatrix(m, DefaultEmbedConfig())
	if err != nil {
		t.Fatal(err)
	}
	r, err := EvaluateCoords(m, coords, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("planetlab-490, defaults: %+v", r)
	if r.MedianRelError > 0.08 {
		t.Errorf("median relative error %.4f, want at most 0.08", r.MedianRelError)
	}
	if r.NearestExactFraction < 0.66 {
		t.Errorf("true nearest found by %.3f of peers after probing 8, want at least 0.66", r.NearestExactFraction)
	}
}

// BenchmarkEmbedMatrix embeds 490 synthetic peers (PlanetLab's size) with
// the default settings: 490 × 300 × 4 = 588,000 coordinate updates per op.
func BenchmarkEmbedMatrix(b *testing.B) {
	m := planeMatrix(490, 1)
	cfg := DefaultEmbedConfig()
	updates := float64(m.N * cfg.Steps * cfg.Samples)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EmbedMatrix(m, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/updates, "ns/update")
}
