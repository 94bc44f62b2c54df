package nn

import "math"

// ReLU is max(x, 0) elementwise over size values per sample.
type ReLU[F Float] struct {
	size  int
	y, dx []F
}

// NewReLU applies ReLU to samples of size values.
func NewReLU[F Float](size int) *ReLU[F] { return &ReLU[F]{size: size} }

// Params implements Layer: ReLU has none.
func (a *ReLU[F]) Params() []Param { return nil }

// InSize implements Layer.
func (a *ReLU[F]) InSize() int { return a.size }

// OutSize implements Layer.
func (a *ReLU[F]) OutSize() int { return a.size }

// Forward implements Layer.
func (a *ReLU[F]) Forward(_, x []F, n int) []F {
	a.y = Grow(a.y, n*a.size)
	for i, v := range x[:n*a.size] {
		a.y[i] = max(v, 0)
	}
	return a.y
}

// Backward implements Layer: the gradient passes where the unit was on.
func (a *ReLU[F]) Backward(_, _, dy []F, n int, needDX bool) []F {
	if !needDX {
		return nil
	}
	a.dx = Grow(a.dx, n*a.size)
	// Masking the bits rather than branching: on real activations the
	// branch goes either way at random and its mispredictions made this
	// loop several times slower.
	switch dx := any(a.dx).(type) {
	case []float32:
		y, dy := any(a.y).([]float32)[:len(dx)], any(dy).([]float32)[:len(dx)]
		for i, v := range y {
			dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & -uint32(on(v)))
		}
	case []float64:
		y, dy := any(a.y).([]float64)[:len(dx)], any(dy).([]float64)[:len(dx)]
		for i, v := range y {
			dx[i] = math.Float64frombits(math.Float64bits(dy[i]) & -uint64(on(v)))
		}
	}
	return a.dx
}

// on is 1 where a ReLU passed its input (v > 0), else 0; the compiler turns
// it into a flag, not a branch.
func on[F Float](v F) uint8 {
	if v > 0 {
		return 1
	}
	return 0
}

// FLOPs implements Layer.
func (a *ReLU[F]) FLOPs() float64 { return float64(a.size) }

// Clone implements Layer.
func (a *ReLU[F]) Clone() Layer[F] { return NewReLU[F](a.size) }
