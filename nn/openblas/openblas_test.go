package openblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// library loads OpenBLAS or skips the test, saying why: CI runs these
// tests on machines with and without the library.
func library(t testing.TB) *Library {
	t.Helper()
	lib, err := Load("")
	if err != nil {
		t.Skipf("OpenBLAS not loaded: %v", err)
	}
	return lib
}

// gemmCase is one product: sizes, transposes, scalars and padded leading
// dimensions (ld > columns, as a submatrix has).
type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float32
	pad         int
}

func (c gemmCase) String() string {
	return fmt.Sprintf("%c%c/%dx%dx%d/alpha%g/beta%g/pad%d", c.tA, c.tB, c.m, c.n, c.k, c.alpha, c.beta, c.pad)
}

// operands fills A, B and C for c with values from rng; ld is each one's
// leading dimension.
func (c gemmCase) operands(rng *rand.Rand) (a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) {
	rowsA, colsA := c.m, c.k
	if c.tA != blas.NoTrans {
		rowsA, colsA = c.k, c.m
	}
	rowsB, colsB := c.k, c.n
	if c.tB != blas.NoTrans {
		rowsB, colsB = c.n, c.k
	}
	lda, ldb, ldc = max(1, colsA+c.pad), max(1, colsB+c.pad), max(1, c.n+c.pad)
	fill := func(rows, ld int) []float32 {
		s := make([]float32, rows*ld)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	return fill(rowsA, lda), lda, fill(rowsB, ldb), ldb, fill(c.m, ldc), ldc
}

func TestSgemmMatchesGonumOnRandomShapes(t *testing.T) {
	lib := library(t)
	rng := rand.New(rand.NewPCG(17, 4))
	trans := []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}
	var cases []gemmCase
	// Odd sizes straddle OpenBLAS's kernel tiles (multiples of 4, 8, 16),
	// and the larger ones its threaded path.
	for _, size := range [][3]int{{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 1}, {17, 13, 31}, {64, 10, 128}, {127, 65, 33}, {200, 301, 150}} {
		for _, tA := range trans {
			for _, tB := range trans {
				cases = append(cases, gemmCase{tA: tA, tB: tB, m: size[0], n: size[1], k: size[2],
					alpha: float32(rng.NormFloat64()), beta: []float32{0, 1, 0.5}[rng.IntN(3)], pad: rng.IntN(3)})
			}
		}
	}
	for _, c := range cases {
		a, lda, b, ldb, want, ldc := c.operands(rng)
		got := append([]float32(nil), want...)
		gonum.Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
		lib.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
		// Both sum k products in float32, in different orders: the error
		// grows like √k·ε relative to the sum of the products' magnitudes.
		tol := 1e-5 * float64(c.k+1) * math.Abs(float64(c.alpha))
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%v: C[%d] = %g, gonum %g", c, i, got[i], want[i])
			}
		}
	}
}

func TestSgemmWithoutProductsScalesC(t *testing.T) {
	lib := library(t)
	nan := float32(math.NaN())
	for _, c := range []struct {
		name        string
		k           int
		alpha, beta float32
		c, want     []float32
	}{
		{"k=0 beta=0 clears NaN", 0, 1, 0, []float32{nan, 2, 3, 4}, []float32{0, 0, 0, 0}},
		{"k=0 beta=2 scales", 0, 1, 2, []float32{1, 2, 3, 4}, []float32{2, 4, 6, 8}},
		{"alpha=0 ignores A and B", 3, 0, 1, []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}},
	} {
		a, b := make([]float32, 2*c.k), make([]float32, 2*c.k)
		a, b = append(a, nan), append(b, nan) // never read: NaN would show
		lib.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, c.k, c.alpha, a, max(1, c.k), b, 2, c.beta, c.c, 2)
		for i := range c.want {
			if c.c[i] != c.want[i] {
				t.Errorf("%s: C = %v, want %v", c.name, c.c, c.want)
				break
			}
		}
	}
	// Empty outputs: nothing to compute, no element to point C at.
	lib.Sgemm(blas.NoTrans, blas.NoTrans, 0, 4, 3, 1, nil, 3, make([]float32, 12), 4, 0, nil, 4)
	lib.Sgemm(blas.NoTrans, blas.NoTrans, 4, 0, 3, 1, make([]float32, 12), 3, nil, 1, 0, nil, 1)
}

func TestSgemmPanicsBeforeCReadsPastASlice(t *testing.T) {
	lib := library(t)
	for _, c := range []struct {
		name string
		call func()
		want string
	}{
		{"short A", func() {
			lib.Sgemm(blas.NoTrans, blas.NoTrans, 3, 3, 3, 1, make([]float32, 8), 3, make([]float32, 9), 3, 0, make([]float32, 9), 3)
		}, "a has 8 values"},
		{"short C", func() {
			lib.Sgemm(blas.NoTrans, blas.Trans, 3, 3, 3, 1, make([]float32, 9), 3, make([]float32, 9), 3, 0, make([]float32, 8), 3)
		}, "c has 8 values"},
		{"lda below the columns", func() {
			lib.Sgemm(blas.Trans, blas.NoTrans, 4, 2, 3, 1, make([]float32, 12), 3, make([]float32, 6), 2, 0, make([]float32, 8), 2)
		}, "lda 3 < max(1, 4 columns)"},
		{"size beyond a C int", func() {
			lib.Sgemm(blas.NoTrans, blas.NoTrans, 1, 1, math.MaxInt32+1, 1, nil, 1, nil, 1, 0, make([]float32, 1), 1)
		}, "outside a C int"},
		{"bad transpose", func() {
			lib.Sgemm('x', blas.NoTrans, 1, 1, 1, 1, []float32{1}, 1, []float32{1}, 1, 0, []float32{1}, 1)
		}, "bad transpose"},
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, c.want) {
					t.Errorf("%s: panic %v, want one saying %q", c.name, r, c.want)
				}
			}()
			c.call()
		}()
	}
}

// TestConcurrentCallsGiveEachCallersResult: a live peer may evaluate while
// it trains, and the simulator's workers compute side by side, so products
// run from several goroutines at once, on OpenBLAS's own thread count.
func TestConcurrentCallsGiveEachCallersResult(t *testing.T) {
	lib := library(t)
	rng := rand.New(rand.NewPCG(8, 8))
	c := gemmCase{tA: blas.NoTrans, tB: blas.Trans, m: 96, n: 200, k: 300, alpha: 1}
	const callers = 4
	type job struct{ a, b, c, want []float32 }
	jobs := make([]job, callers)
	var lda, ldb, ldc int
	for i := range jobs {
		var a, b, cm []float32
		a, lda, b, ldb, cm, ldc = c.operands(rng)
		want := append([]float32(nil), cm...)
		lib.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
		jobs[i] = job{a, b, cm, want}
	}
	errs := make(chan error, callers)
	for _, j := range jobs {
		go func() {
			for range 50 {
				got := make([]float32, len(j.c))
				lib.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, j.a, lda, j.b, ldb, c.beta, got, ldc)
				for i := range got {
					if got[i] != j.want[i] {
						errs <- fmt.Errorf("C[%d] = %g, alone %g", i, got[i], j.want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkSgemmCall prices a call: tiny products show the binding's fixed
// cost (purego's call into C), larger ones what is left of it.
func BenchmarkSgemmCall(b *testing.B) {
	lib := library(b)
	for _, c := range []gemmCase{
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 1, n: 1, k: 1, alpha: 1},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 8, n: 8, k: 8, alpha: 1},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 64, n: 10, k: 128, alpha: 1},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 64, n: 256, k: 784, alpha: 1},
	} {
		a, lda, bm, ldb, cm, ldc := c.operands(rand.New(rand.NewPCG(1, 1)))
		for _, impl := range []struct {
			name string
			s    interface {
				Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
			}
		}{{"openblas", lib}, {"gonum", gonum.Implementation{}}} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", impl.name, c.m, c.n, c.k), func(b *testing.B) {
				for b.Loop() {
					impl.s.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, bm, ldb, c.beta, cm, ldc)
				}
			})
		}
	}
}
