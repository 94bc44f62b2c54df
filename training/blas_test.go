package training

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/openblas"
)

// renamedBLAS is gonum's SGEMM under another name.
type renamedBLAS struct{ nn.SGEMM }

func (renamedBLAS) Name() string { return "test BLAS 1.0" }

func TestCPUBackendNamesTheBLASInUse(t *testing.T) {
	prev := nn.BLAS()
	defer nn.Use(prev)
	nn.Use(renamedBLAS{nn.Gonum()})
	if d := (CPUBackend{}).Device(); !strings.HasSuffix(d, "BLAS test BLAS 1.0") {
		t.Errorf("Device() = %q, want it to name the BLAS in use", d)
	}
}

// TestMLPStepAgreesOnGonumAndOpenBLAS runs one step of MLPs with odd sizes
// on both libraries: the same loss and gradient up to float32 rounding.
func TestMLPStepAgreesOnGonumAndOpenBLAS(t *testing.T) {
	lib, err := openblas.Load("")
	if err != nil {
		t.Skipf("OpenBLAS not loaded: %v", err)
	}
	prev := nn.BLAS()
	defer nn.Use(prev)
	rng := rand.New(rand.NewPCG(5, 17))
	for _, sizes := range [][]int{{64, 10}, {97, 33, 7}, {784, 129, 65, 10}} {
		m, err := NewMLP(sizes...)
		if err != nil {
			t.Fatal(err)
		}
		params := make([]float32, m.NumParams())
		m.Init(params, rng)
		x, y := randomBatch(rng, 37, sizes[0], sizes[len(sizes)-1])
		step := func(s nn.SGEMM) ([]float32, float64) {
			nn.Use(s)
			grad := make([]float32, len(params))
			return grad, m.LossGrad(params, grad, x, y)
		}
		want, wantLoss := step(nn.Gonum())
		got, gotLoss := step(lib)
		if math.Abs(gotLoss-wantLoss) > 1e-5*wantLoss {
			t.Errorf("%v: loss %g on OpenBLAS, %g on gonum", sizes, gotLoss, wantLoss)
		}
		var scale float64
		for _, g := range want {
			scale = max(scale, math.Abs(float64(g)))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*scale {
				t.Fatalf("%v: gradient[%d] = %g on OpenBLAS, %g on gonum (largest %g)", sizes, i, got[i], want[i], scale)
			}
		}
	}
}
