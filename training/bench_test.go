package training

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/gradmesh/gradmesh/nn"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// BenchmarkMLPTrainStep measures one forward+backward pass of the issue's
// reference network and reports GFLOP/s (model FLOPs, not counting the
// optimizer's elementwise update).
func BenchmarkMLPTrainStep(b *testing.B) {
	for _, c := range []struct {
		name  string
		sizes []int
		batch int
	}{
		{"784-256-128-10/batch64", []int{784, 256, 128, 10}, 64},
		{"784-256-128-10/batch512", []int{784, 256, 128, 10}, 512},
		{"784-128-10/batch32", []int{784, 128, 10}, 32},
		{"64-10/batch16", []int{64, 10}, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, _ := NewMLP(c.sizes...)
			rng := rand.New(rand.NewPCG(1, 1))
			params := make([]float32, m.NumParams())
			m.Init(params, rng)
			grad := make([]float32, len(params))
			x, y := randomBatch(rng, c.batch, c.sizes[0], c.sizes[len(c.sizes)-1])
			b.ResetTimer()
			for b.Loop() {
				m.LossGrad(params, grad, x, y)
			}
			b.ReportMetric(m.TrainFLOPs()*float64(c.batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemm is the ceiling the train step can reach with gonum's
// pure-Go BLAS on this machine: one square float32 GEMM.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{256, 512} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(2, 2))
			mk := func() blas32.General {
				d := make([]float32, n*n)
				for i := range d {
					d[i] = float32(rng.NormFloat64())
				}
				return blas32.General{Rows: n, Cols: n, Stride: n, Data: d}
			}
			x, y, z := mk(), mk(), mk()
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, x, y, 0, z)
			}
			b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkCNNTrainStep measures one LossGrad (forward, backward, every
// parameter's gradient; no optimizer) of the convolutional models on
// MNIST-shaped batches, with layers spread over every core GOMAXPROCS gives
// (nn.SetParallelism): -cpu 1 is the one-thread step, -cpu 2 the two-thread
// one. internal/cpubench times the same step beside PyTorch's on the same
// modules (scripts/bench_torch_step.py) and prints the ratio.
func BenchmarkCNNTrainStep(b *testing.B) {
	for _, spec := range []string{"lenet5", "resnet:8,16", "resnet:20,16"} {
		for _, batch := range []int{32, 64} {
			b.Run(fmt.Sprintf("%s/batch%d", spec, batch), func(b *testing.B) { benchTrainStep(b, spec, batch) })
		}
	}
}

func benchTrainStep(b *testing.B, spec string, batch int) {
	defer nn.SetParallelism(nn.SetParallelism(runtime.GOMAXPROCS(0)))
	m, err := ParseModel(spec, Shape{1, 28, 28}, 10)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	params := make([]float32, m.NumParams())
	m.Init(params, rng)
	grad := make([]float32, len(params))
	x, y := randomBatch(rng, batch, 784, 10)
	m.LossGrad(params, grad, x, y) // scratch grows once, outside the timing
	b.ResetTimer()
	for b.Loop() {
		m.LossGrad(params, grad, x, y)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
	b.ReportMetric(m.TrainFLOPs()*float64(batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
