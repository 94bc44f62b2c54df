// Package nntest checks layers: every backward pass against central finite
// differences of its own forward pass in float64, and the float32 passes
// against golden values PyTorch computed (nn/testdata/golden, written by
// scripts/golden.py).
package nntest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
)

// Tolerance is the relative error allowed between two gradients or outputs,
// as ‖a−b‖₂/‖b‖₂.
const Tolerance = 1e-4

// RelErr is ‖a−b‖₂/‖b‖₂, or ‖a‖₂ when b is all zeros.
func RelErr[F nn.Float](a, b []F) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// GradCheck tunes CheckGradients.
type GradCheck struct {
	// Input draws input value i of the batch; standard normal when nil.
	// Layers that read token ids draw integers here.
	Input func(rng *rand.Rand, i int) float64
	// NoInputGrad skips dx, for layers whose input is not differentiable
	// (token ids).
	NoInputGrad bool
	// MaxCoords caps how many parameter and input coordinates are perturbed
	// (a seeded choice); 0 means all.
	MaxCoords int
}

// CheckGradients draws parameters (from the layer's Init) and a batch of n
// inputs, takes the loss L = Σ y·w for a random w, and compares the
// layer's Backward against central differences of L through its Forward,
// all in float64, within Tolerance.
func CheckGradients(t testing.TB, layer nn.Layer[float64], n int, seed uint64, opt GradCheck) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	ps := layer.Params()
	p32 := make([]float32, nn.NumParams(ps))
	nn.InitParams(ps, p32, rng)
	p := make([]float64, len(p32))
	for i, v := range p32 {
		// Perturb constant inits (norm gains, zero biases) so every
		// parameter's gradient is exercised away from a special point.
		p[i] = float64(v) + 0.1*rng.NormFloat64()
	}
	x := make([]float64, n*layer.InSize())
	for i := range x {
		if opt.Input != nil {
			x[i] = opt.Input(rng, i)
		} else {
			x[i] = rng.NormFloat64()
		}
	}
	w := make([]float64, n*layer.OutSize())
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	loss := func() float64 {
		y := layer.Forward(p, x, n)
		var s float64
		for i, v := range y {
			s += v * w[i]
		}
		return s
	}
	loss()
	g := make([]float64, len(p))
	dx := layer.Backward(p, g, w, n, !opt.NoInputGrad)
	g = append([]float64(nil), g...)
	dx = append([]float64(nil), dx...)

	numeric := func(v []float64, coords []int) []float64 {
		out := make([]float64, len(coords))
		for k, i := range coords {
			old := v[i]
			h := 1e-6 * max(1, math.Abs(old))
			v[i] = old + h
			up := loss()
			v[i] = old - h
			down := loss()
			v[i] = old
			out[k] = (up - down) / (2 * h)
		}
		return out
	}
	compare := func(what string, analytic, v []float64) {
		coords := pick(len(v), opt.MaxCoords, rng)
		if len(coords) == 0 {
			return
		}
		num := numeric(v, coords)
		got := make([]float64, len(coords))
		for k, i := range coords {
			got[k] = analytic[i]
		}
		if e := RelErr(got, num); e > Tolerance || math.IsNaN(e) {
			t.Errorf("%s: gradient relative error %.3g against finite differences, want ≤ %g", what, e, Tolerance)
		}
	}
	compare("parameters", g, p)
	if !opt.NoInputGrad {
		compare("input", dx, x)
	}
}

func pick(n, limit int, rng *rand.Rand) []int {
	if limit <= 0 || limit >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return rng.Perm(n)[:limit]
}

// Golden is one PyTorch computation: a module's parameters (flattened in
// named_parameters order), a batch of N inputs, its output, an upstream
// gradient and the gradients PyTorch's autograd gave for them.
type Golden struct {
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config"` // the module's settings, as the test that reads it expects
	N      int             `json:"n"`
	Params []float32       `json:"params"`
	X      []float32       `json:"x"`
	Y      []float32       `json:"y"`
	DY     []float32       `json:"dy"`
	DX     []float32       `json:"dx"` // empty when the input is not differentiable
	Grads  []float32       `json:"grads"`
	Names  []string        `json:"names"` // parameter names, in order
	Shapes [][]int         `json:"shapes"`
}

// LoadGolden reads a golden file's cases.
func LoadGolden(t testing.TB, path string) []Golden {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden values: %v (regenerate with scripts/golden.py)", err)
	}
	var cases []Golden
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("golden values %s: %v", path, err)
	}
	return cases
}

// CheckGolden runs layer's float32 passes on a golden case and compares the
// output and gradients with PyTorch's within Tolerance; the layer's
// parameter names and shapes must be PyTorch's.
func CheckGolden(t testing.TB, layer nn.Layer[float32], c Golden) {
	t.Helper()
	ps := layer.Params()
	if err := sameParams(ps, c); err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	y := layer.Forward(c.Params, c.X, c.N)
	if e := RelErr(y, c.Y); e > Tolerance {
		t.Errorf("%s: output relative error %.3g against PyTorch, want ≤ %g", c.Name, e, Tolerance)
	}
	g := make([]float32, len(c.Params))
	dx := layer.Backward(c.Params, g, c.DY, c.N, len(c.DX) > 0)
	if e := RelErr(g, c.Grads); e > Tolerance {
		t.Errorf("%s: parameter gradient relative error %.3g against PyTorch, want ≤ %g", c.Name, e, Tolerance)
	}
	if len(c.DX) > 0 {
		if e := RelErr(dx, c.DX); e > Tolerance {
			t.Errorf("%s: input gradient relative error %.3g against PyTorch, want ≤ %g", c.Name, e, Tolerance)
		}
	}
}

func sameParams(ps []nn.Param, c Golden) error {
	if len(ps) != len(c.Names) {
		return fmt.Errorf("layer has %d parameter tensors, PyTorch's module %d (%v)", len(ps), len(c.Names), c.Names)
	}
	for i, p := range ps {
		if p.Name != c.Names[i] || fmt.Sprint(p.Shape) != fmt.Sprint(c.Shapes[i]) {
			return fmt.Errorf("parameter %d is %s %v, PyTorch's is %s %v", i, p.Name, p.Shape, c.Names[i], c.Shapes[i])
		}
	}
	if n := nn.NumParams(ps); n != len(c.Params) {
		return fmt.Errorf("layer has %d parameters, golden file %d", n, len(c.Params))
	}
	return nil
}
