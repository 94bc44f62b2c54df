package nn

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
	for i, v := range a.y[:n*a.size] {
		if v > 0 {
			a.dx[i] = dy[i]
		} else {
			a.dx[i] = 0
		}
	}
	return a.dx
}

// FLOPs implements Layer.
func (a *ReLU[F]) FLOPs() float64 { return float64(a.size) }

// Clone implements Layer.
func (a *ReLU[F]) Clone() Layer[F] { return NewReLU[F](a.size) }
