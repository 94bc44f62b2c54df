package nn

import "math"

// geluC is √(2/π), the scale inside GELU's tanh approximation.
var geluC = math.Sqrt(2 / math.Pi)

// GELU is the Gaussian error linear unit in the tanh approximation GPT-2
// was trained with (llm.c's, and torch.nn.GELU(approximate="tanh")):
// y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), elementwise over size values
// per sample.
type GELU[F Float] struct {
	size  int
	x, th []F // input and tanh(u) of the last Forward
	y, dx []F
}

// NewGELU applies GELU to samples of size values.
func NewGELU[F Float](size int) *GELU[F] { return &GELU[F]{size: size} }

// Params implements Layer: GELU has none.
func (a *GELU[F]) Params() []Param { return nil }

// InSize implements Layer.
func (a *GELU[F]) InSize() int { return a.size }

// OutSize implements Layer.
func (a *GELU[F]) OutSize() int { return a.size }

// Forward implements Layer.
func (a *GELU[F]) Forward(_, x []F, n int) []F {
	a.x = x[:n*a.size]
	a.th = Grow(a.th, n*a.size)
	a.y = Grow(a.y, n*a.size)
	for i, v := range a.x {
		t := tanh(F(geluC) * (v + 0.044715*v*v*v))
		a.th[i] = t
		a.y[i] = 0.5 * v * (1 + t)
	}
	return a.y
}

// Backward implements Layer: dy/dx = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²).
func (a *GELU[F]) Backward(_, _, dy []F, n int, needDX bool) []F {
	if !needDX {
		return nil
	}
	a.dx = Grow(a.dx, n*a.size)
	for i, v := range a.x {
		t := a.th[i]
		du := F(geluC) * (1 + 3*0.044715*v*v)
		a.dx[i] = dy[i] * (0.5*(1+t) + 0.5*v*(1-t*t)*du)
	}
	return a.dx
}

// FLOPs implements Layer: a handful of operations and a tanh per value.
func (a *GELU[F]) FLOPs() float64 { return 10 * float64(a.size) }

// Clone implements Layer.
func (a *GELU[F]) Clone() Layer[F] { return NewGELU[F](a.size) }
