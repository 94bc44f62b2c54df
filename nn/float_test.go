package nn_test

import (
	"testing"

	"gonum.org/v1/gonum/blas"

	"github.com/gradmesh/gradmesh/nn"
)

// threadedBLAS is a Threaded SGEMM that only counts its threads.
type threadedBLAS struct{ threads int }

func (*threadedBLAS) Name() string { return "threaded" }
func (*threadedBLAS) Sgemm(blas.Transpose, blas.Transpose, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
}
func (b *threadedBLAS) Threads() int     { return b.threads }
func (b *threadedBLAS) SetThreads(n int) { b.threads = n }

func useForTest(t *testing.T, s nn.SGEMM) {
	prev := nn.BLAS()
	nn.Use(s)
	t.Cleanup(func() { nn.Use(prev) })
}

func TestLimitThreadsNestsAndRestoresTheLibrarysCount(t *testing.T) {
	lib := &threadedBLAS{threads: 4}
	useForTest(t, lib)
	step := func(what string, want int) {
		t.Helper()
		if lib.threads != want {
			t.Errorf("%s: %d threads, want %d", what, lib.threads, want)
		}
	}
	outer := nn.LimitThreads(2)
	step("cap 2", 2)
	inner := nn.LimitThreads(1)
	step("caps 2 and 1", 1)
	above := nn.LimitThreads(8)
	step("caps 2, 1 and 8", 1)
	inner()
	inner() // releasing twice releases once
	step("caps 2 and 8", 2)
	outer()
	step("cap 8, above the library's own 4", 4)
	above()
	step("no cap", 4)
}

func TestUseCarriesActiveCapsOver(t *testing.T) {
	first, second := &threadedBLAS{threads: 2}, &threadedBLAS{threads: 6}
	useForTest(t, first)
	release := nn.LimitThreads(1)
	nn.Use(second)
	if first.threads != 2 || second.threads != 1 {
		t.Errorf("after Use under a cap: replaced library at %d threads (want its own 2), new one at %d (want 1)", first.threads, second.threads)
	}
	release()
	if second.threads != 6 {
		t.Errorf("after release: %d threads, want the library's own 6", second.threads)
	}
}
