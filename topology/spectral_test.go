package topology

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// gapOf returns the spectral gap of g's Metropolis mixing matrix.
func gapOf(t testing.TB, g *Graph, err error) (gap, lambda2 float64) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	gap, lambda2, err = SpectralGap(Metropolis(g).Dense(g))
	if err != nil {
		t.Fatal(err)
	}
	return gap, lambda2
}

// closedFormGap returns 1 - max |λ| over the eigenvalues other than the one
// at index 0 (the eigenvalue 1 of the constant vector).
func closedFormGap(eigenvalues []float64) float64 {
	second := 0.0
	for _, v := range eigenvalues[1:] {
		second = max(second, math.Abs(v))
	}
	return 1 - second
}

// On the ring every degree is 2, so W = (1/3)(I + shift + shift⁻¹), a
// circulant with eigenvalues 1/3 + (2/3)·cos(2πk/n).
func TestSpectralGapRing(t *testing.T) {
	for _, n := range []int{3, 8, 16, 33, 100} {
		eig := make([]float64, n)
		for k := range eig {
			eig[k] = 1.0/3 + 2.0/3*math.Cos(2*math.Pi*float64(k)/float64(n))
		}
		g, err := Ring(n)
		gap, lambda2 := gapOf(t, g, err)
		want := closedFormGap(eig)
		if math.Abs(gap-want) > 1e-9 || math.Abs(lambda2-(1-want)) > 1e-9 {
			t.Errorf("ring %d: gap %.12f, λ2 %.12f; want gap %.12f", n, gap, lambda2, want)
		}
	}
}

// On a rows×cols torus every degree is 4, so W = I - L/5 with L the grid
// Laplacian, whose eigenvalues are 4 - 2cos(2πa/rows) - 2cos(2πb/cols).
func TestSpectralGapTorus(t *testing.T) {
	for _, n := range []int{9, 12, 20, 36, 45} {
		rows, cols, _ := torusShape(n)
		var eig []float64
		for a := range rows {
			for b := range cols {
				laplacian := 4 - 2*math.Cos(2*math.Pi*float64(a)/float64(rows)) - 2*math.Cos(2*math.Pi*float64(b)/float64(cols))
				eig = append(eig, 1-laplacian/5)
			}
		}
		g, err := Torus(n)
		gap, _ := gapOf(t, g, err)
		if want := closedFormGap(eig); math.Abs(gap-want) > 1e-9 {
			t.Errorf("torus %d (%d×%d): gap %.12f, want %.12f", n, rows, cols, gap, want)
		}
	}
}

// The exponential graph is circulant and d-regular, so every weight
// (neighbor and self) is 1/(1+d) and the eigenvalues are
// (1 + Σ_s cos(2πks/n))/(1+d) over the neighbor offsets s.
func TestSpectralGapExponential(t *testing.T) {
	for _, n := range []int{16, 33, 100} {
		g, err := Exponential(n)
		gap, _ := gapOf(t, g, err)
		d := float64(g.Degree(0))
		eig := make([]float64, n)
		for k := range eig {
			sum := 1.0
			for _, s := range g.Adj[0] {
				sum += math.Cos(2 * math.Pi * float64(k*s) / float64(n))
			}
			eig[k] = sum / (1 + d)
		}
		if want := closedFormGap(eig); math.Abs(gap-want) > 1e-9 {
			t.Errorf("exponential %d: gap %.12f, want %.12f", n, gap, want)
		}
	}
}

func TestSpectralGapExtremes(t *testing.T) {
	for _, n := range []int{2, 5, 40} {
		g, err := Complete(n)
		if gap, lambda2 := gapOf(t, g, err); math.Abs(gap-1) > 1e-9 || lambda2 > 1e-9 {
			t.Errorf("complete %d: gap %g, λ2 %g; want 1, 0", n, gap, lambda2)
		}
	}
	twoRings, err := FromEdges(8, [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6}, {6, 7}, {7, 4}})
	if gap, lambda2 := gapOf(t, twoRings, err); math.Abs(gap) > 1e-9 || math.Abs(lambda2-1) > 1e-9 {
		t.Errorf("disconnected graph: gap %g, λ2 %g; want 0, 1", gap, lambda2)
	}
	single, err := Ring(1)
	if gap, lambda2 := gapOf(t, single, err); gap != 1 || lambda2 != 0 {
		t.Errorf("single peer: gap %g, λ2 %g; want 1, 0", gap, lambda2)
	}
}

// Gossip mixes faster on denser overlays: the gap must order the graphs.
func TestSpectralGapOrdersTopologies(t *testing.T) {
	const n = 64
	ring, err := Ring(n)
	ringGap, _ := gapOf(t, ring, err)
	torus, err := Torus(n)
	torusGap, _ := gapOf(t, torus, err)
	exp, err := Exponential(n)
	expGap, _ := gapOf(t, exp, err)
	if !(ringGap < torusGap && torusGap < expGap && expGap < 1) {
		t.Errorf("gaps on %d peers: ring %.4f, torus %.4f, exponential %.4f; want increasing and below 1",
			n, ringGap, torusGap, expGap)
	}
}

func TestSpectralGapErrors(t *testing.T) {
	withNaN := mat.NewSymDense(2, []float64{1, math.NaN(), math.NaN(), 1})
	cases := []struct {
		name string
		w    *mat.SymDense
		want string
	}{
		{"nil", nil, "nil matrix"},
		{"empty", &mat.SymDense{}, "empty matrix"},
		{"NaN", withNaN, "W[0][1] = NaN"},
	}
	for _, c := range cases {
		_, _, err := SpectralGap(c.w)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// BenchmarkSpectralGap1000 times the dense eigendecomposition of the
// Metropolis matrix of an exponential graph on 1000 peers.
func BenchmarkSpectralGap1000(b *testing.B) {
	g, err := Exponential(1000)
	if err != nil {
		b.Fatal(err)
	}
	w := Metropolis(g).Dense(g)
	for b.Loop() {
		if _, _, err := SpectralGap(w); err != nil {
			b.Fatal(err)
		}
	}
}
