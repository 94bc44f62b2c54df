package training

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/nntest"
)

func TestGPTGradientMatchesFiniteDifferences(t *testing.T) {
	body, err := GPTBody[float64](GPTConfig{Layers: 2, Width: 8, Heads: 2, Context: 4, Vocab: 5})
	if err != nil {
		t.Fatal(err)
	}
	nntest.CheckGradients(t, body, 3, 1, nntest.GradCheck{
		Input:       func(rng *rand.Rand, _ int) float64 { return float64(rng.IntN(5)) },
		NoInputGrad: true,
		MaxCoords:   400,
	})
}

// The whole language model, head and next-token targets included, against
// a GPT that PyTorch built with nanoGPT's names (scripts/golden.py, group
// gpt): same parameter list, loss and gradient.
func TestGPTLossAndGradientMatchPyTorch(t *testing.T) {
	var c *nntest.Golden
	for _, g := range nntest.LoadGolden(t, "../nn/testdata/golden/gpt.json") {
		if g.Name == "gpt_2x8x2_loss" {
			c = &g
		}
	}
	if c == nil {
		t.Fatal("golden case gpt_2x8x2_loss missing: regenerate with scripts/golden.py gpt")
	}
	const context, vocab = 5, 7
	m, err := ParseModel("gpt:2,8,2", Shape{context + 1}, vocab)
	if err != nil {
		t.Fatal(err)
	}
	net := m.(*Network)
	for i, p := range net.Params() {
		if p.Name != c.Names[i] || len(p.Shape) != len(c.Shapes[i]) || p.Size() != nn.NumParams([]nn.Param{{Shape: c.Shapes[i]}}) {
			t.Fatalf("parameter %d: %s %v, PyTorch's %s %v", i, p.Name, p.Shape, c.Names[i], c.Shapes[i])
		}
	}
	if len(net.Params()) != len(c.Names) {
		t.Fatalf("%d parameter tensors, PyTorch's GPT has %d", len(net.Params()), len(c.Names))
	}
	n := c.N
	y := make([]int32, n)
	for s := range y {
		y[s] = int32(c.X[s*(context+1)+context])
	}
	grad := make([]float32, len(c.Params))
	loss := net.LossGrad(c.Params, grad, c.X, y)
	if math.Abs(loss-float64(c.Y[0])) > 1e-5*float64(c.Y[0]) {
		t.Errorf("loss %.7g, PyTorch's %.7g", loss, c.Y[0])
	}
	for i := range grad {
		grad[i] *= c.DY[0] // PyTorch's gradient is of dy·loss
	}
	if e := nntest.RelErr(grad, c.Grads); e > nntest.Tolerance {
		t.Errorf("gradient relative error %.3g against PyTorch's, want ≤ %g", e, nntest.Tolerance)
	}
}

func TestGPTInitializesAsNanoGPT(t *testing.T) {
	const layers = 2
	m, err := NewGPT(GPTConfig{Layers: layers, Width: 16, Heads: 4, Context: 8, Vocab: 11})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
		var want nn.Init
		switch {
		case strings.HasSuffix(p.Name, "c_proj.weight"):
			want = nn.Init{Kind: nn.Normal, Scale: 0.02 / math.Sqrt(2*layers)}
		case strings.HasSuffix(p.Name, ".bias"):
			want = nn.Init{Kind: nn.Constant, Scale: 0}
		case strings.Contains(p.Name, "ln_"):
			want = nn.Init{Kind: nn.Constant, Scale: 1}
		default:
			want = nn.Init{Kind: nn.Normal, Scale: 0.02}
		}
		if p.Init != want {
			t.Errorf("%s starts as %+v, want %+v", p.Name, p.Init, want)
		}
	}
	want := "transformer.wte.weight transformer.wpe.weight " +
		"transformer.h.0.ln_1.weight transformer.h.0.ln_1.bias transformer.h.0.attn.c_attn.weight transformer.h.0.attn.c_attn.bias " +
		"transformer.h.0.attn.c_proj.weight transformer.h.0.attn.c_proj.bias transformer.h.0.ln_2.weight transformer.h.0.ln_2.bias " +
		"transformer.h.0.mlp.c_fc.weight transformer.h.0.mlp.c_fc.bias transformer.h.0.mlp.c_proj.weight transformer.h.0.mlp.c_proj.bias"
	if got := strings.Join(names[:14], " "); got != want {
		t.Errorf("names\n%s\nwant nanoGPT's\n%s", got, want)
	}
	if last := names[len(names)-3:]; strings.Join(last, " ") != "transformer.ln_f.weight transformer.ln_f.bias lm_head.weight" {
		t.Errorf("last names %v", last)
	}
	if m.Spec() != "gpt:2,16,4-ctx8-vocab11" {
		t.Errorf("spec %q", m.Spec())
	}
}

func TestGPTSpecErrorsNameTheValue(t *testing.T) {
	for _, c := range []struct {
		spec  string
		shape Shape
		want  string
	}{
		{"gpt:2,10,4", Shape{9}, "width 10 is not a multiple of 4 heads"},
		{"gpt:2,16", Shape{9}, "gpt:LAYERS,WIDTH,HEADS"},
		{"gpt:2,x,4", Shape{9}, `width "x"`},
		{"gpt:0,16,4", Shape{9}, `layers "0"`},
		{"gpt:2,16,4", Shape{1, 8, 8}, "shape 1×8×8"},
		{"gpt:2,16,4", Shape{1}, "shape 1"},
		{"gpt:1000,100000,4", Shape{65}, "parameters, want at most"},
	} {
		_, err := ParseModel(c.spec, c.shape, 10)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.spec) {
			t.Errorf("%s on %s: error %v, want one naming the spec and saying %q", c.spec, c.shape, err, c.want)
		}
	}
}

// trainOnText runs Adam on text's windows and returns the model, its
// parameters and the loss of the first step and the mean of the last ten.
func trainOnText(t *testing.T, text, spec string, context, steps int) (*Network, []float32, *Dataset, [2]float64) {
	t.Helper()
	train, _, err := TextDataset("test", text, context)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseModel(spec, train.Shape, train.Classes)
	if err != nil {
		t.Fatal(err)
	}
	params := make([]float32, m.NumParams())
	m.Init(params, rand.New(rand.NewPCG(1, 1)))
	grad := make([]float32, len(params))
	opt := OptimizerConfig{Kind: "adam"}.New(len(params))
	st := NewStepper(train, 8, rand.New(rand.NewPCG(2, 2)))
	var b Minibatch
	var ends [2]float64
	for i := range steps {
		loss := st.Gradient(m, params, grad, &b)
		opt.Step(params, grad, 0.01)
		if i == 0 {
			ends[0] = loss
		}
		if i >= steps-10 {
			ends[1] += loss / 10
		}
	}
	return m.(*Network), params, train, ends
}

// A GPT trained on a repeating phrase learns it: the loss falls from about
// log(vocabulary) to near zero, and greedy sampling continues the phrase
// from a short prompt, also while the prompt is shorter than the context
// (the padded window) and after the text outgrows it (the sliding one).
// The phrase's 23 characters and the context of 16 share no factor, so
// training windows start at every offset into the phrase, as the sliding
// window does.
func TestGPTLearnsAndContinuesARepeatingText(t *testing.T) {
	const phrase = "the cat sat on the mat "
	m, params, train, loss := trainOnText(t, strings.Repeat(phrase, 40), "gpt:1,32,2", 16, 150)
	if !(loss[0] > 2 && loss[1] < 0.2) {
		t.Fatalf("loss %.3f at the first step, %.3f over the last: want > 2 (log 10 = 2.30) falling below 0.2", loss[0], loss[1])
	}
	prompt, _ := train.Vocab.Encode("the cat")
	out, err := m.Sample(params, prompt, 3*len(phrase), 0, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	got := train.Vocab.Decode(out)
	if want := strings.Repeat(phrase, 4)[len("the cat") : len("the cat")+3*len(phrase)]; got != want {
		t.Errorf("greedy continuation of %q:\n%q\nwant\n%q", "the cat", got, want)
	}
}

func TestSampleDrawsWithTemperatureAndRefusesBadRequests(t *testing.T) {
	m, err := NewGPT(GPTConfig{Layers: 1, Width: 8, Heads: 2, Context: 4, Vocab: 6})
	if err != nil {
		t.Fatal(err)
	}
	params := make([]float32, m.NumParams())
	m.Init(params, rand.New(rand.NewPCG(1, 1)))
	a, _ := m.Sample(params, []int32{1}, 50, 1, rand.New(rand.NewPCG(9, 9)))
	b, _ := m.Sample(params, []int32{1}, 50, 1, rand.New(rand.NewPCG(9, 9)))
	if len(a) != 50 || string(runesOf(a)) != string(runesOf(b)) {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	// A near-uniform model at temperature 1 spreads its draws over the vocabulary.
	seen := map[int32]bool{}
	for _, id := range a {
		seen[id] = true
	}
	if len(seen) < 4 {
		t.Errorf("50 draws from a fresh model hit %d of 6 tokens", len(seen))
	}
	for _, c := range []struct {
		prompt []int32
		temp   float64
		want   string
	}{
		{nil, 1, "prompt"},
		{[]int32{6}, 1, "prompt token 0 is 6"},
		{[]int32{1}, -1, "temperature -1"},
		{[]int32{1}, math.Inf(1), "temperature +Inf"},
	} {
		if _, err := m.Sample(params, c.prompt, 5, c.temp, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("prompt %v, temperature %g: error %v, want one saying %q", c.prompt, c.temp, err, c.want)
		}
	}
	mlp, _ := NewClassifier("mlp", nn.NewLinear[float32](5, 3, 1), 3)
	if _, err := mlp.Sample(make([]float32, 18), []int32{0}, 1, 1, nil); err == nil {
		t.Error("a classifier sampled tokens")
	}
}

func runesOf(ids []int32) []rune {
	r := make([]rune, len(ids))
	for i, id := range ids {
		r[i] = 'a' + id
	}
	return r
}

// Evaluate scores a language model's windows in chunks of at most evalChunk
// samples; the chunking must not change what it counts.
func TestLanguageModelEvaluationDoesNotDependOnChunks(t *testing.T) {
	const context, vocab, n = 4, 5, evalChunk + 76
	m, err := NewGPT(GPTConfig{Layers: 1, Width: 8, Heads: 2, Context: context, Vocab: vocab})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	params := make([]float32, m.NumParams())
	m.Init(params, rng)
	x := make([]float32, n*(context+1))
	y := make([]int32, n)
	for i := range x {
		x[i] = float32(rng.IntN(vocab))
	}
	for s := range y {
		y[s] = int32(x[s*(context+1)+context])
	}
	correct, loss := m.Evaluate(params, x, y)
	const split = 300 // both parts fit one chunk
	c1, l1 := m.Evaluate(params, x[:split*(context+1)], y[:split])
	c2, l2 := m.Evaluate(params, x[split*(context+1):], y[split:])
	if correct != c1+c2 || math.Abs(loss-(l1+l2)) > 1e-9*loss {
		t.Errorf("all %d windows: %d correct, loss %v; in two parts: %d, %v", n, correct, loss, c1+c2, l1+l2)
	}
}
