package nn

import (
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type layers compute in: float32 to train, float64 to
// check gradients against finite differences.
type Float interface{ ~float32 | ~float64 }

// SGEMM is a single-precision row-major matrix product, as BLAS's sgemm
// computes it: C = alpha·op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n.
// It is the seam through which every float32 layer reaches a BLAS.
type SGEMM interface {
	// Name says which library computes, for the one log line that reports it.
	Name() string
	Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// gonumSGEMM is gonum's pure-Go SGEMM: always present, and the fallback
// when no faster BLAS can be loaded.
type gonumSGEMM struct{ gonum.Implementation }

func (gonumSGEMM) Name() string { return "gonum (pure Go)" }

// sgemm computes every float32 matrix product; Use replaces it.
var sgemm SGEMM = gonumSGEMM{}

// Gonum returns gonum's pure-Go SGEMM, the default.
func Gonum() SGEMM { return gonumSGEMM{} }

// BLAS returns the library float32 layers compute their matrix products with.
func BLAS() SGEMM { return sgemm }

// Use makes every float32 matrix product run on s. Call it before training
// starts, not while layers compute. Limits set by LimitThreads carry over
// to s.
func Use(s SGEMM) {
	threads.Lock()
	defer threads.Unlock()
	if t, ok := sgemm.(Threaded); ok && len(threads.limits) > 0 {
		t.SetThreads(threads.free)
	}
	sgemm = s
	threads.free = 0
	threads.apply()
}

// Threaded is an SGEMM that runs each product on threads of its own, out of
// sight of the Go scheduler (OpenBLAS's pthreads). gonum's SGEMM is not one:
// its goroutines share GOMAXPROCS with every other goroutine, so it never
// oversubscribes the cores.
type Threaded interface {
	SGEMM
	// Threads is how many threads one product may run on.
	Threads() int
	// SetThreads sets it; n ≥ 1.
	SetThreads(n int)
}

// threadCaps holds the caps LimitThreads put on a Threaded SGEMM. The
// smallest active cap applies; free is the library's own count, recorded
// when the first cap applies and restored when the last is released (0
// while no cap is applied).
type threadCaps struct {
	sync.Mutex
	limits []int
	free   int
}

var threads threadCaps

// LimitThreads caps the threads each product of the SGEMM in use runs on at
// n until release is called. A caller that computes on several goroutines
// at once sets 1: the simulator's worker pool then fills the cores with
// single-threaded products instead of pool × BLAS threads fighting over
// them, and a single model (a live peer) keeps every core for each product.
// Caps nest; the smallest active one applies. Call it while no product is
// running. With an SGEMM that is not Threaded it does nothing.
func LimitThreads(n int) (release func()) {
	n = max(n, 1)
	threads.Lock()
	defer threads.Unlock()
	threads.limits = append(threads.limits, n)
	threads.apply()
	var once sync.Once
	return func() {
		once.Do(func() {
			threads.Lock()
			defer threads.Unlock()
			for i, l := range threads.limits {
				if l == n {
					threads.limits = append(threads.limits[:i], threads.limits[i+1:]...)
					break
				}
			}
			threads.apply()
		})
	}
}

// apply sets the SGEMM in use to the smallest active cap, or back to its own
// count when none is left. The caller holds threads' lock.
func (c *threadCaps) apply() {
	t, ok := sgemm.(Threaded)
	if !ok {
		return
	}
	if len(c.limits) == 0 {
		if c.free > 0 {
			t.SetThreads(c.free)
			c.free = 0
		}
		return
	}
	if c.free == 0 {
		c.free = t.Threads()
	}
	t.SetThreads(min(slices.Min(c.limits), c.free))
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices, where
// op transposes when tA/tB say so, op(A) is m×k and op(B) k×n: through the
// SGEMM in use for float32, through gonum's DGEMM for float64.
func Gemm[F Float](tA, tB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := trans(tA), trans(tB)
	switch c := any(c).(type) {
	case []float32:
		sgemm.Sgemm(ta, tb, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c, ldc)
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), c, ldc)
	}
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// exp, tanh, sqrt and log run in float64: float32 layers lose nothing to
// it, and the float64 check sees the same formulas.
func exp[F Float](x F) F  { return F(math.Exp(float64(x))) }
func tanh[F Float](x F) F { return F(math.Tanh(float64(x))) }
func sqrt[F Float](x F) F { return F(math.Sqrt(float64(x))) }

// Grow returns buf with length n, reallocating only when it is too short:
// the scratch idiom of every layer.
func Grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}
