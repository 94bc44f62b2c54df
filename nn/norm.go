package nn

import "fmt"

// GroupNormEps is torch.nn.GroupNorm's default eps.
const GroupNormEps = 1e-5

// GroupNorm is torch.nn.GroupNorm with an affine transform: the channels of
// each sample are split into groups of consecutive channels, each group is
// normalized to zero mean and unit variance over its channels and positions
// (the biased variance, plus eps), and channel c is then scaled by
// weight[c] and shifted by bias[c]. Unlike batch norm it has no statistics
// over the batch, so peers training on different data can average its
// parameters and nothing else.
//
// A group's values are contiguous in a C×H×W sample. Its mean and variance
// are accumulated in float64, two passes, so a float32 group of many
// thousand values loses nothing to rounding.
type GroupNorm[F Float] struct {
	in     Image
	groups int

	y, dx []F
	x     []F
	stats []float64 // per (sample, group): mean, then 1/√(var+eps)
	parts [][]F     // per chunk: its share of the parameter gradient
}

// NewGroupNorm normalizes in over groups groups of its channels; the
// channels must split into them evenly.
func NewGroupNorm[F Float](in Image, groups int) (*GroupNorm[F], error) {
	if err := in.validate(); err != nil {
		return nil, fmt.Errorf("nn: groupnorm: %w", err)
	}
	if groups < 1 || in.C%groups != 0 {
		return nil, fmt.Errorf("nn: groupnorm on %s: %d channels do not split into %d groups", in, in.C, groups)
	}
	return &GroupNorm[F]{in: in, groups: groups}, nil
}

// In is the layout of the layer's input samples, and of its outputs.
func (l *GroupNorm[F]) In() Image { return l.in }

// Params implements Layer: PyTorch's weight (starting at 1) and bias
// (starting at 0), one per channel.
func (l *GroupNorm[F]) Params() []Param {
	return []Param{
		{Name: "weight", Shape: []int{l.in.C}, Init: Init{Kind: Constant, Scale: 1}},
		{Name: "bias", Shape: []int{l.in.C}, Init: Init{Kind: Constant, Scale: 0}},
	}
}

// InSize implements Layer.
func (l *GroupNorm[F]) InSize() int { return l.in.Size() }

// OutSize implements Layer.
func (l *GroupNorm[F]) OutSize() int { return l.in.Size() }

// FLOPs implements Layer: about two passes for the statistics and one for
// the output, a few operations per value.
func (l *GroupNorm[F]) FLOPs() float64 { return 7 * float64(l.in.Size()) }

// Clone implements Layer.
func (l *GroupNorm[F]) Clone() Layer[F] { return &GroupNorm[F]{in: l.in, groups: l.groups} }

// Forward implements Layer.
func (l *GroupNorm[F]) Forward(p, x []F, n int) []F {
	c, area := l.in.C, l.in.H*l.in.W
	per := c / l.groups * area // values per group
	weight, bias := p[:c], p[c:2*c]
	l.x = x
	l.y = Grow(l.y, n*l.in.Size())
	l.stats = Grow(l.stats, 2*n*l.groups)
	spans := chunks(n, l.in.Size())
	forEach(workersFor(len(spans)), len(spans), func(_, k int) {
		for g := spans[k].lo * l.groups; g < spans[k].hi*l.groups; g++ {
			src, dst := x[g*per:][:per], l.y[g*per:][:per]
			var sum float64
			for _, v := range src {
				sum += float64(v)
			}
			mean := sum / float64(per)
			var ss float64
			for _, v := range src {
				d := float64(v) - mean
				ss += d * d
			}
			rstd := 1 / sqrt(ss/float64(per)+GroupNormEps)
			l.stats[2*g], l.stats[2*g+1] = mean, rstd
			ch := g % l.groups * (c / l.groups)
			for j := 0; j < per; j += area {
				// y = (x − mean)·rstd·w + b = x·s + t per channel.
				s := F(rstd * float64(weight[ch]))
				t := bias[ch] - F(mean)*s
				for i, v := range src[j : j+area] {
					dst[j+i] = v*s + t
				}
				ch++
			}
		}
	})
	return l.y
}

// Backward implements Layer. With x̂ the normalized input, m the values of
// a group and g = dy·weight: dweight = Σ dy·x̂, dbias = Σ dy per channel,
// and dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) over the group.
func (l *GroupNorm[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	c, area := l.in.C, l.in.H*l.in.W
	perGroup := c / l.groups
	per := perGroup * area
	weight := p[:c]
	if needDX {
		l.dx = Grow(l.dx, n*l.in.Size())
	}
	spans := chunks(n, l.in.Size())
	l.parts = perWorker(l.parts, len(spans), 2*c)
	forEach(workersFor(len(spans)), len(spans), func(_, k int) {
		part := l.parts[k]
		clear(part)
		dw, db := part[:c], part[c:]
		for grp := spans[k].lo * l.groups; grp < spans[k].hi*l.groups; grp++ {
			mean, rstd := l.stats[2*grp], l.stats[2*grp+1]
			src, up := l.x[grp*per:][:per], dy[grp*per:][:per]
			first := grp % l.groups * perGroup
			var sumG, sumGX float64 // Σ g and Σ g·x̂ over the group
			for j := range perGroup {
				var sdy, sdyx float64
				for i, d := range up[j*area : (j+1)*area] {
					sdy += float64(d)
					sdyx += float64(d) * (float64(src[j*area+i]) - mean)
				}
				sdyx *= rstd
				dw[first+j] += F(sdyx)
				db[first+j] += F(sdy)
				sumG += sdy * float64(weight[first+j])
				sumGX += sdyx * float64(weight[first+j])
			}
			if !needDX {
				continue
			}
			dst := l.dx[grp*per:][:per]
			// dx = rstd·w·dy − rstd·mean(g) − x̂·rstd·mean(g·x̂), with
			// x̂ = (x − mean)·rstd: per channel, dx = a·dy + b·x + c0.
			mg, mgx := sumG/float64(per), sumGX/float64(per)
			for j := range perGroup {
				a := F(rstd * float64(weight[first+j]))
				b := F(-rstd * rstd * mgx)
				c0 := F(-rstd*mg + rstd*rstd*mgx*mean)
				for i, d := range up[j*area : (j+1)*area] {
					dst[j*area+i] = a*d + b*src[j*area+i] + c0
				}
			}
		}
	})
	sumInto(g, l.parts[:len(spans)])
	if !needDX {
		return nil
	}
	return l.dx
}
