package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

// BenchmarkCPUStep compares a CPU training step called directly on the model
// with the same step through a Compute that has no GPU lent: the switching
// layer must cost nothing measurable on the CPU path.
//
//	go test -run '^$' -bench CPUStep -count 5 ./gpu/
func BenchmarkCPUStep(b *testing.B) {
	for _, c := range []struct {
		spec         string
		dim, classes int
		batch        int
	}{{"mlp:64", 64, 10, 16}, {"mlp:256,128", 784, 10, 64}} {
		rng := rand.New(rand.NewPCG(1, 2))
		model, err := training.ParseModel(c.spec, c.dim, c.classes)
		if err != nil {
			b.Fatal(err)
		}
		params := make([]float32, model.NumParams())
		model.Init(params, rng)
		grad := make([]float32, len(params))
		x := make([]float32, c.batch*c.dim)
		for i := range x {
			x[i] = rng.Float32()
		}
		y := make([]int32, c.batch)
		for i := range y {
			y[i] = int32(rng.IntN(c.classes))
		}
		name := fmt.Sprintf("%s/in=%d/batch=%d", c.spec, c.dim, c.batch)
		b.Run(name+"/direct", func(b *testing.B) {
			for b.Loop() {
				model.LossGrad(params, grad, x, y)
			}
		})
		b.Run(name+"/compute", func(b *testing.B) {
			comp, err := NewCompute(ComputeConfig{ModelSpec: c.spec, Dim: c.dim, Classes: c.classes,
				OpenGPU: func(Status) (training.Backend, error) { return nil, fmt.Errorf("no GPU in this benchmark") }})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				comp.LossGrad(params, grad, x, y)
			}
		})
	}
}
