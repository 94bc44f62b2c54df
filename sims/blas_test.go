package sims

import (
	"fmt"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/openblas"
)

// TestRunOnOpenBLASDoesNotDependOnWorkers: OpenBLAS's sums change with its
// thread count, so the simulator must choose that count from the
// experiment, not from its worker pool. The MLP's second layer sums 784
// products per output, where OpenBLAS's single-threaded and threaded paths
// round differently.
func TestRunOnOpenBLASDoesNotDependOnWorkers(t *testing.T) {
	lib, err := openblas.Load("")
	if err != nil {
		t.Skipf("OpenBLAS not loaded: %v", err)
	}
	prev := nn.BLAS()
	defer nn.Use(prev)
	nn.Use(lib)
	s := smallSpec()
	s.Model = "mlp:784,64"
	s.Epochs = 1
	s.Topology = "ring"
	a := runSpec(t, s, 1)
	b := runSpec(t, s, 3)
	if fa, fb := fmt.Sprint(a.Records), fmt.Sprint(b.Records); fa != fb {
		t.Fatalf("1 and 3 workers, different records:\n%s\n%s", fa, fb)
	}
}
