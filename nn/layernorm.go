package nn

// LayerNormEps is torch.nn.LayerNorm's default epsilon, added to the
// variance before the square root.
const LayerNormEps = 1e-5

// LayerNorm is torch.nn.LayerNorm(dim) at each of a sample's positions:
// every row of dim values is shifted to mean 0 and scaled to variance 1
// (the biased variance, as PyTorch), then multiplied by weight and shifted
// by bias. It keeps no running statistics, so it normalizes the same way in
// training and evaluation, and averaging peers' parameters is all a mesh
// needs to agree on it.
type LayerNorm[F Float] struct {
	dim, positions int
	xhat, rstd     []F // normalized rows and 1/σ of each row, from Forward
	y, dx          []F
}

// NewLayerNorm normalizes rows of dim values at each of positions positions.
func NewLayerNorm[F Float](dim, positions int) *LayerNorm[F] {
	return &LayerNorm[F]{dim: dim, positions: positions}
}

// Params implements Layer: weight 1 and bias 0, as PyTorch starts them.
func (l *LayerNorm[F]) Params() []Param {
	return []Param{
		{Name: "weight", Shape: []int{l.dim}, Init: Init{Kind: Constant, Scale: 1}},
		{Name: "bias", Shape: []int{l.dim}, Init: Init{Kind: Constant, Scale: 0}},
	}
}

// InSize implements Layer.
func (l *LayerNorm[F]) InSize() int { return l.dim * l.positions }

// OutSize implements Layer.
func (l *LayerNorm[F]) OutSize() int { return l.dim * l.positions }

// Forward implements Layer. The row statistics add up in float64, so a
// float32 row of any width loses no more than its own rounding.
func (l *LayerNorm[F]) Forward(p, x []F, n int) []F {
	rows := n * l.positions
	w, b := p[:l.dim], p[l.dim:]
	l.xhat = Grow(l.xhat, rows*l.dim)
	l.rstd = Grow(l.rstd, rows)
	l.y = Grow(l.y, rows*l.dim)
	for r := 0; r < rows; r++ {
		in := x[r*l.dim : (r+1)*l.dim]
		var sum float64
		for _, v := range in {
			sum += float64(v)
		}
		mean := sum / float64(l.dim)
		var sq float64
		for _, v := range in {
			d := float64(v) - mean
			sq += d * d
		}
		rstd := 1 / sqrt(sq/float64(l.dim)+LayerNormEps)
		l.rstd[r] = F(rstd)
		xhat, out := l.xhat[r*l.dim:(r+1)*l.dim], l.y[r*l.dim:(r+1)*l.dim]
		for j, v := range in {
			h := F((float64(v) - mean) * rstd)
			xhat[j] = h
			out[j] = h*w[j] + b[j]
		}
	}
	return l.y
}

// Backward implements Layer. With x̂ the normalized row and d = dy·weight,
// the input gradient is (d − mean(d) − x̂·mean(d·x̂))/σ.
func (l *LayerNorm[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	rows := n * l.positions
	w := p[:l.dim]
	gw, gb := g[:l.dim], g[l.dim:]
	clear(g)
	if needDX {
		l.dx = Grow(l.dx, rows*l.dim)
	}
	for r := 0; r < rows; r++ {
		d, xhat := dy[r*l.dim:(r+1)*l.dim], l.xhat[r*l.dim:(r+1)*l.dim]
		var sumD, sumDX float64
		for j, v := range d {
			gw[j] += v * xhat[j]
			gb[j] += v
			dn := float64(v * w[j])
			sumD += dn
			sumDX += dn * float64(xhat[j])
		}
		if !needDX {
			continue
		}
		meanD, meanDX := F(sumD/float64(l.dim)), F(sumDX/float64(l.dim))
		rstd := l.rstd[r]
		dx := l.dx[r*l.dim : (r+1)*l.dim]
		for j, v := range d {
			dx[j] = (v*w[j] - meanD - xhat[j]*meanDX) * rstd
		}
	}
	if !needDX {
		return nil
	}
	return l.dx
}

// FLOPs implements Layer: about eight operations per value.
func (l *LayerNorm[F]) FLOPs() float64 { return 8 * float64(l.dim*l.positions) }

// Clone implements Layer.
func (l *LayerNorm[F]) Clone() Layer[F] { return NewLayerNorm[F](l.dim, l.positions) }
