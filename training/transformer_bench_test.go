package training

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gptBenchCases are the sizes BenchmarkGPTTrainStep and
// internal/cpubench (with scripts/bench_torch_step.py) time alike: a small character model and the
// one docs/RESULTS.md trains on the fortunes corpus.
var gptBenchCases = []struct {
	cfg   GPTConfig
	batch int
}{
	{GPTConfig{Layers: 2, Width: 64, Heads: 4, Context: 64, Vocab: 96}, 16},
	{GPTConfig{Layers: 4, Width: 128, Heads: 4, Context: 64, Vocab: 96}, 16},
}

// BenchmarkGPTTrainStep measures one LossGrad (forward, cross-entropy and
// backward) of a character-level GPT and reports GFLOP/s of model FLOPs and
// tokens/s (every position of a window is a predicted token).
func BenchmarkGPTTrainStep(b *testing.B) {
	for _, c := range gptBenchCases {
		name := fmt.Sprintf("gpt:%d,%d,%d-ctx%d-batch%d", c.cfg.Layers, c.cfg.Width, c.cfg.Heads, c.cfg.Context, c.batch)
		b.Run(name, func(b *testing.B) {
			m, err := NewGPT(c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			params := make([]float32, m.NumParams())
			m.Init(params, rng)
			grad := make([]float32, len(params))
			window := c.cfg.Context + 1
			x := make([]float32, c.batch*window)
			y := make([]int32, c.batch)
			for i := range x {
				x[i] = float32(rng.IntN(c.cfg.Vocab))
			}
			for s := range y {
				y[s] = int32(x[s*window+c.cfg.Context])
			}
			m.LossGrad(params, grad, x, y) // grow the scratch outside the timing
			b.ResetTimer()
			for b.Loop() {
				m.LossGrad(params, grad, x, y)
			}
			perStep := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(m.TrainFLOPs()*float64(c.batch)/perStep/1e9, "GFLOP/s")
			b.ReportMetric(float64(c.batch*c.cfg.Context)/perStep, "tokens/s")
		})
	}
}
