package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/training/modeltest"
)

// BenchmarkTrainStep times one LossGrad, the work a peer does every round,
// on each backend: the CPU (gonum) and the GPU (cuBLAS, skipped without
// one). A GPU step includes uploading the parameters and the batch and
// downloading the gradient, as in a live peer. samples/s counts batch rows;
// GFLOP/s counts Model.TrainFLOPs (forward 2·in·out per layer, backward the
// same for weight gradients and again for input gradients past layer 1),
// the definition scripts/bench_torch.py uses too.
func BenchmarkTrainStep(b *testing.B) {
	backends := []struct {
		name string
		open func() (training.Backend, error)
	}{
		{"cpu", func() (training.Backend, error) { return training.CPUBackend{}, nil }},
		{"cuda", func() (training.Backend, error) { return Open(0) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			backend, err := be.open()
			if err != nil {
				b.Skipf("no %s backend: %v", be.name, err)
			}
			defer backend.Close()
			for _, model := range []struct{ name, spec string }{
				{"784-256-128-10", "mlp:256,128"},
				{"784-1024-1024-10", "mlp:1024,1024"},
			} {
				for _, batch := range []int{64, 512} {
					b.Run(fmt.Sprintf("%s/batch%d", model.name, batch), func(b *testing.B) {
						benchmarkTrainStep(b, backend, model.spec, batch)
					})
				}
			}
		})
	}
}

func benchmarkTrainStep(b *testing.B, backend training.Backend, spec string, batch int) {
	m, err := backend.NewModel(spec, training.Flat(784), 10)
	if err != nil {
		b.Fatal(err)
	}
	defer training.CloseModel(m)
	rng := rand.New(rand.NewPCG(1, 1))
	params := make([]float32, m.NumParams())
	m.Init(params, rng)
	grad := make([]float32, len(params))
	x, y := modeltest.RandomBatch(rng, batch, 784, 10)
	m.LossGrad(params, grad, x, y) // allocate device buffers, JIT, cuBLAS heuristics
	for b.Loop() {
		m.LossGrad(params, grad, x, y)
	}
	if err := training.ModelErr(m); err != nil {
		b.Fatal(err)
	}
	perSecond := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSecond*float64(batch), "samples/s")
	b.ReportMetric(perSecond*float64(batch)*m.TrainFLOPs()/1e9, "GFLOP/s")
}
