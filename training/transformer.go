package training

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gradmesh/gradmesh/nn"
)

func init() {
	RegisterModel("gpt", "gpt:LAYERS,WIDTH,HEADS", buildGPT)
}

// GPTConfig sizes a character-level GPT. Context and Vocab come from the
// data (its windows and its vocabulary), the rest from the model spec.
type GPTConfig struct {
	Layers, Width, Heads int
	Context, Vocab       int
}

// maxModelParams caps a model's parameter vector, so that a spec typed
// with a digit too many fails with a message rather than an allocation.
const maxModelParams = 1 << 31

// Check refuses sizes no GPT has: a width its heads do not divide, and
// parameter vectors past maxModelParams.
func (c GPTConfig) Check() error {
	switch {
	case c.Layers < 1 || c.Width < 1 || c.Heads < 1:
		return fmt.Errorf("layers %d, width %d, heads %d: want each ≥ 1", c.Layers, c.Width, c.Heads)
	case c.Width%c.Heads != 0:
		return fmt.Errorf("width %d is not a multiple of %d heads: each head takes width/heads values", c.Width, c.Heads)
	case c.Context < 1 || c.Vocab < 2:
		return fmt.Errorf("context %d and vocabulary %d: want a context ≥ 1 and at least 2 tokens", c.Context, c.Vocab)
	case c.params() > maxModelParams:
		return fmt.Errorf("%.3g parameters, want at most %d", c.params(), maxModelParams)
	}
	return nil
}

// params counts the parameters in float64, which cannot overflow.
func (c GPTConfig) params() float64 {
	d, l := float64(c.Width), float64(c.Layers)
	embed := (float64(c.Vocab) + float64(c.Context)) * d
	block := 12*d*d + 13*d // c_attn, c_proj, c_fc, c_proj, two LayerNorms
	return embed + l*block + 2*d + d*float64(c.Vocab)
}

// Spec names the architecture with everything its parameter layout
// depends on, e.g. "gpt:4,128,4-ctx64-vocab96".
func (c GPTConfig) Spec() string {
	return fmt.Sprintf("gpt:%d,%d,%d-ctx%d-vocab%d", c.Layers, c.Width, c.Heads, c.Context, c.Vocab)
}

// buildGPT is the ModelBuilder of "gpt:LAYERS,WIDTH,HEADS": samples must be
// windows of context+1 token ids (text data), and the vocabulary is the
// data's classes.
func buildGPT(arg string, input Shape, classes int) (Model, error) {
	f := strings.Split(arg, ",")
	if arg == "" || len(f) != 3 {
		return nil, errors.New("want gpt:LAYERS,WIDTH,HEADS, e.g. gpt:4,128,4")
	}
	var sizes [3]int
	for i, s := range f {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%s %q is not a positive integer", [3]string{"layers", "width", "heads"}[i], s)
		}
		sizes[i] = v
	}
	if len(input) != 1 || input[0] < 2 {
		return nil, fmt.Errorf("a GPT reads windows of context+1 token ids (--dataset text:PATH or fortunes), not samples of shape %s", input)
	}
	return NewGPT(GPTConfig{Layers: sizes[0], Width: sizes[1], Heads: sizes[2], Context: input[0] - 1, Vocab: classes})
}

// NewGPT builds a GPT as a language model Network, with nanoGPT's layout
// and parameter names: transformer.wte and wpe, blocks transformer.h.N of
// ln_1, attn (c_attn, c_proj), ln_2 and mlp (c_fc, GELU, c_proj) in pre-norm
// residual form (x + attn(ln_1(x)), then x + mlp(ln_2(x))), transformer.ln_f,
// and lm_head, which is not tied to wte and has no bias.
func NewGPT(c GPTConfig) (*Network, error) {
	body, err := GPTBody[float32](c)
	if err != nil {
		return nil, err
	}
	return NewLanguageModel(c.Spec(), body, c.Vocab, c.Context)
}

// GPTBody is NewGPT's network in either precision: float64 to check its
// gradient against finite differences.
func GPTBody[F nn.Float](c GPTConfig) (nn.Layer[F], error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	d, t := c.Width, c.Context
	layers := []nn.Named[F]{{Name: "", Layer: nn.NewEmbedding[F](c.Vocab, d, t)}}
	for i := range c.Layers {
		attn, err := nn.NewCausalSelfAttention[F](d, c.Heads, t)
		if err != nil {
			return nil, err
		}
		mlp := nn.MustSequential(
			nn.Named[F]{Name: "c_fc", Layer: nn.NewLinear[F](d, 4*d, t)},
			nn.Named[F]{Name: "gelu", Layer: nn.NewGELU[F](4 * d * t)},
			nn.Named[F]{Name: "c_proj", Layer: nn.NewLinear[F](4*d, d, t)},
		)
		block := nn.MustSequential(
			preNorm("ln_1", "attn", attn, d, t),
			preNorm("ln_2", "mlp", mlp, d, t),
		)
		layers = append(layers, nn.Named[F]{Name: "h." + strconv.Itoa(i), Layer: block})
	}
	layers = append(layers, nn.Named[F]{Name: "ln_f", Layer: nn.NewLayerNorm[F](d, t)})
	body := nn.MustSequential(
		nn.Named[F]{Name: "transformer", Layer: nn.MustSequential(layers...)},
		nn.Named[F]{Name: "lm_head", Layer: nn.NewLinearNoBias[F](d, c.Vocab, t)},
	)
	return nn.WithInit[F](body, c.init), nil
}

// preNorm is the residual sublayer x + sub(norm(x)), its parameters named
// normName.* then subName.*.
func preNorm[F nn.Float](normName, subName string, sub nn.Layer[F], d, t int) nn.Named[F] {
	main := nn.MustSequential(
		nn.Named[F]{Name: normName, Layer: nn.NewLayerNorm[F](d, t)},
		nn.Named[F]{Name: subName, Layer: sub},
	)
	r, err := nn.NewResidual(nn.Named[F]{Name: "", Layer: main}, nn.Named[F]{})
	if err != nil {
		panic(err) // not reached: LayerNorm and the sublayers keep the shape
	}
	return nn.Named[F]{Name: "", Layer: r}
}

// init is GPT-2's initialization, as nanoGPT draws it: every matrix
// (embeddings, projections, head) N(0, 0.02), the projections that write
// into the residual stream (attn.c_proj, mlp.c_proj) scaled down by
// 1/√(2·layers) so that the stream's variance does not grow with depth,
// biases 0 and LayerNorms 1 and 0.
func (c GPTConfig) init(p nn.Param) nn.Init {
	const std = 0.02
	switch {
	case len(p.Shape) == 2 && strings.HasSuffix(p.Name, ".c_proj.weight"):
		return nn.Init{Kind: nn.Normal, Scale: std / math.Sqrt(2*float64(c.Layers))}
	case len(p.Shape) == 2:
		return nn.Init{Kind: nn.Normal, Scale: std}
	case strings.HasSuffix(p.Name, ".bias"):
		return nn.Init{Kind: nn.Constant, Scale: 0}
	}
	return p.Init // LayerNorm weights: 1
}
