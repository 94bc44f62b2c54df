package nn

// Linear is torch.nn.Linear applied at each of a sample's positions:
// y = x·Wᵀ + b, with weight out×in and bias out. A classifier's head has one
// position per sample; a transformer's projections have one per token.
type Linear[F Float] struct {
	in, out, positions int
	bias               bool // false: no bias tensor (Linear(..., bias=False))
	x, y, dx           []F
}

// NewLinear maps in features to out at each of positions positions.
func NewLinear[F Float](in, out, positions int) *Linear[F] {
	return &Linear[F]{in: in, out: out, positions: positions, bias: true}
}

// NewLinearNoBias is NewLinear without the bias, as torch.nn.Linear(in, out,
// bias=False): a language model's output head, for one.
func NewLinearNoBias[F Float](in, out, positions int) *Linear[F] {
	return &Linear[F]{in: in, out: out, positions: positions}
}

// Params implements Layer.
func (l *Linear[F]) Params() []Param {
	ps := []Param{{Name: "weight", Shape: []int{l.out, l.in}, Init: FanIn(l.in)}}
	if l.bias {
		ps = append(ps, Param{Name: "bias", Shape: []int{l.out}, Init: FanIn(l.in)})
	}
	return ps
}

// InSize implements Layer.
func (l *Linear[F]) InSize() int { return l.in * l.positions }

// OutSize implements Layer.
func (l *Linear[F]) OutSize() int { return l.out * l.positions }

// split returns the weight and the bias (empty without one).
func (l *Linear[F]) split(p []F) (w, b []F) { return p[:l.out*l.in], p[l.out*l.in:] }

// Forward implements Layer.
func (l *Linear[F]) Forward(p, x []F, n int) []F {
	rows := n * l.positions
	w, b := l.split(p)
	l.x = x
	l.y = Grow(l.y, rows*l.out)
	var beta F // 0: the product overwrites y
	if l.bias {
		for r := 0; r < rows; r++ {
			copy(l.y[r*l.out:(r+1)*l.out], b)
		}
		beta = 1
	}
	Gemm(false, true, rows, l.out, l.in, 1, x, l.in, w, l.in, beta, l.y, l.out)
	return l.y
}

// Backward implements Layer.
func (l *Linear[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	rows := n * l.positions
	w, _ := l.split(p)
	gw, gb := l.split(g)
	Gemm(true, false, l.out, l.in, rows, 1, dy, l.out, l.x, l.in, 0, gw, l.in)
	if l.bias {
		clear(gb)
		for r := 0; r < rows; r++ {
			for j, d := range dy[r*l.out : (r+1)*l.out] {
				gb[j] += d
			}
		}
	}
	if !needDX {
		return nil
	}
	l.dx = Grow(l.dx, rows*l.in)
	Gemm(false, false, rows, l.in, l.out, 1, dy, l.out, w, l.in, 0, l.dx, l.in)
	return l.dx
}

// FLOPs implements Layer.
func (l *Linear[F]) FLOPs() float64 { return 2 * float64(l.in*l.out*l.positions) }

// Clone implements Layer.
func (l *Linear[F]) Clone() Layer[F] {
	return &Linear[F]{in: l.in, out: l.out, positions: l.positions, bias: l.bias}
}
