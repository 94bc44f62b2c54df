package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/training"
)

// BenchmarkCPUStep compares a CPU training step called directly on the model
// with the same step through a Compute that has no GPU lent: the switching
// layer must cost nothing measurable on the CPU path. It reports both and
// their ratio (compute/direct).
//
//	go test -run '^$' -bench CPUStep -count 5 ./gpu/
func BenchmarkCPUStep(b *testing.B) {
	for _, c := range []struct {
		spec         string
		dim, classes int
		batch        int
	}{{"mlp:64", 64, 10, 16}, {"mlp:256,128", 784, 10, 64}} {
		rng := rand.New(rand.NewPCG(1, 2))
		model, err := training.ParseModel(c.spec, training.Flat(c.dim), c.classes)
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
		comp, err := NewCompute(ComputeConfig{ModelSpec: c.spec, Input: training.Flat(c.dim), Classes: c.classes,
			OpenGPU: func(Status) (training.Backend, error) { return nil, fmt.Errorf("no GPU in this benchmark") }})
		if err != nil {
			b.Fatal(err)
		}
		timed := func(f func(params, grad, x []float32, y []int32) float64) time.Duration {
			start := time.Now()
			f(params, grad, x, y)
			return time.Since(start)
		}
		// The two calls alternate, and which goes first too, so load from
		// other processes and warm caches fall on both alike and the ratio
		// stays meaningful on a shared machine.
		b.Run(fmt.Sprintf("%s/in=%d/batch=%d", c.spec, c.dim, c.batch), func(b *testing.B) {
			var direct, through time.Duration
			first := false
			for b.Loop() {
				if first = !first; first {
					direct += timed(model.LossGrad)
					through += timed(comp.LossGrad)
				} else {
					through += timed(comp.LossGrad)
					direct += timed(model.LossGrad)
				}
			}
			b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/step")
			b.ReportMetric(float64(through.Nanoseconds())/float64(b.N), "compute-ns/step")
			b.ReportMetric(float64(through)/float64(direct), "compute/direct")
		})
	}
}
