package nn_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/nntest"
)

func tokenIDs(vocab int) func(*rand.Rand, int) float64 {
	return func(rng *rand.Rand, _ int) float64 { return float64(rng.IntN(vocab)) }
}

func mustAttention[F nn.Float](t testing.TB, dim, heads, context int) *nn.CausalSelfAttention[F] {
	t.Helper()
	a, err := nn.NewCausalSelfAttention[F](dim, heads, context)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEmbeddingGradientsMatchFiniteDifferences(t *testing.T) {
	// Few windows over a small vocabulary: some tokens repeat (their rows
	// must add up), some never occur (their rows must stay zero).
	nntest.CheckGradients(t, nn.NewEmbedding[float64](7, 4, 5), 3, 1, nntest.GradCheck{Input: tokenIDs(7), NoInputGrad: true})
}

func TestLayerNormGradientsMatchFiniteDifferences(t *testing.T) {
	nntest.CheckGradients(t, nn.NewLayerNorm[float64](6, 4), 3, 2, nntest.GradCheck{})
	nntest.CheckGradients(t, nn.NewLayerNorm[float64](1, 3), 2, 3, nntest.GradCheck{}) // one value: x̂ = 0
}

func TestGELUGradientsMatchFiniteDifferences(t *testing.T) {
	nntest.CheckGradients(t, nn.NewGELU[float64](10), 4, 4, nntest.GradCheck{
		Input: func(rng *rand.Rand, _ int) float64 { return 3 * rng.NormFloat64() }})
}

func TestAttentionGradientsMatchFiniteDifferences(t *testing.T) {
	nntest.CheckGradients(t, mustAttention[float64](t, 8, 2, 5), 2, 5, nntest.GradCheck{})
	nntest.CheckGradients(t, mustAttention[float64](t, 6, 3, 4), 3, 6, nntest.GradCheck{})
	nntest.CheckGradients(t, mustAttention[float64](t, 4, 1, 1), 2, 7, nntest.GradCheck{}) // one position attends to itself only
	// Past 32 positions the products run by blocks of query rows: two
	// blocks, then three with a short last one.
	nntest.CheckGradients(t, mustAttention[float64](t, 4, 2, 40), 1, 8, nntest.GradCheck{MaxCoords: 300})
	nntest.CheckGradients(t, mustAttention[float64](t, 2, 1, 70), 1, 9, nntest.GradCheck{MaxCoords: 300})
}

// Position t's output must not depend on any later position's input: that
// is what lets a language model train on every position of a window at
// once, and sample from a window padded past the text it has.
func TestAttentionIsCausal(t *testing.T) {
	for _, c := range []struct{ context, changed int }{{6, 3}, {70, 40}} {
		checkCausal(t, 8, 2, c.context, c.changed)
	}
}

func checkCausal(t *testing.T, dim, heads, context, changed int) {
	const n = 2
	a := mustAttention[float64](t, dim, heads, context)
	rng := rand.New(rand.NewPCG(1, 1))
	p := make([]float32, nn.NumParams(a.Params()))
	nn.InitParams(a.Params(), p, rng)
	p64 := make([]float64, len(p))
	for i, v := range p {
		p64[i] = float64(v)
	}
	x := make([]float64, n*context*dim)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	before := append([]float64(nil), a.Forward(p64, x, n)...)
	for s := 0; s < n; s++ {
		for j := 0; j < dim; j++ {
			x[(s*context+changed)*dim+j] += 1
		}
	}
	after := a.Forward(p64, x, n)
	for s := 0; s < n; s++ {
		for pos := 0; pos < context; pos++ {
			row := (s*context + pos) * dim
			moved := nntest.RelErr(after[row:row+dim], before[row:row+dim]) > 1e-12
			if moved != (pos >= changed) {
				t.Errorf("sample %d, position %d: output moved %v after changing position %d's input", s, pos, moved, changed)
			}
		}
	}
}

func TestAttentionRefusesAWidthNotDividedByHeads(t *testing.T) {
	_, err := nn.NewCausalSelfAttention[float32](10, 4, 8)
	if err == nil || !strings.Contains(err.Error(), "10") || !strings.Contains(err.Error(), "4 heads") {
		t.Fatalf("width 10 over 4 heads: error %v, want one naming both", err)
	}
}

func TestLinearWithoutBiasMatchesLinearWithZeroBias(t *testing.T) {
	nntest.CheckGradients(t, nn.NewLinearNoBias[float64](5, 3, 2), 3, 8, nntest.GradCheck{})
	plain, nobias := nn.NewLinear[float32](5, 3, 2), nn.NewLinearNoBias[float32](5, 3, 2)
	if ps := nobias.Params(); len(ps) != 1 || ps[0].Name != "weight" {
		t.Fatalf("parameters %v, want the weight alone", ps)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	w := make([]float32, 15)
	x := make([]float32, 4*10)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	want := plain.Forward(append(append([]float32(nil), w...), 0, 0, 0), x, 4)
	// A stale output buffer must not leak into the next product.
	nobias.Forward(w, x, 4)[0] = 1e9
	if e := nntest.RelErr(nobias.Forward(w, x, 4), want); e > 1e-7 {
		t.Errorf("output relative error %.3g against a zero bias", e)
	}
}

func TestWithInitChangesOnlyInitialValues(t *testing.T) {
	inner := nn.NewLinear[float32](4, 3, 1)
	l := nn.WithInit[float32](inner, func(p nn.Param) nn.Init {
		if p.Name == "bias" {
			return nn.Init{Kind: nn.Constant, Scale: 0.5}
		}
		return p.Init
	})
	ps := l.Params()
	if ps[1].Init != (nn.Init{Kind: nn.Constant, Scale: 0.5}) || ps[0].Init != inner.Params()[0].Init {
		t.Fatalf("inits %v, want the bias constant 0.5 and the weight untouched", ps)
	}
	if inner.Params()[1].Init.Kind != nn.Uniform {
		t.Fatal("WithInit changed the wrapped layer's own parameters")
	}
	if c := l.Clone(); c.Params()[1].Init.Scale != 0.5 {
		t.Fatal("a clone lost the chosen inits")
	}
}

func TestTransformerLayersMatchPyTorch(t *testing.T) {
	for _, c := range nntest.LoadGolden(t, "testdata/golden/gpt.json") {
		var cfg struct{ Vocab, Dim, Context, Positions, Size, Heads int }
		if err := json.Unmarshal(c.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		var layer nn.Layer[float32]
		switch {
		case strings.HasPrefix(c.Name, "embedding"):
			layer = nn.NewEmbedding[float32](cfg.Vocab, cfg.Dim, cfg.Context)
		case strings.HasPrefix(c.Name, "layernorm"):
			layer = nn.NewLayerNorm[float32](cfg.Dim, cfg.Positions)
		case strings.HasPrefix(c.Name, "gelu"):
			layer = nn.NewGELU[float32](cfg.Size)
		case strings.HasPrefix(c.Name, "attention"):
			layer = mustAttention[float32](t, cfg.Dim, cfg.Heads, cfg.Context)
		default:
			continue // the whole model's case: training's test reads it
		}
		t.Run(c.Name, func(t *testing.T) {
			// Twice on one layer: the second pass runs on scratch the
			// first left behind, which must not leak into its results.
			nntest.CheckGolden(t, layer, c)
			nntest.CheckGolden(t, layer, c)
		})
	}
}
