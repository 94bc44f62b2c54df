package nn

import (
	"fmt"
	"math"
)

// CausalSelfAttention is a GPT's multi-head self-attention over a sample's
// context positions, as nanoGPT's CausalSelfAttention: one Linear c_attn
// projects each position's dim values to queries, keys and values (3·dim,
// in that order, each split into heads of dim/heads), every head attends
// with softmax(q·kᵀ/√head_dim) over the positions up to its own (the causal
// mask), and a Linear c_proj maps the heads' outputs, side by side, back to
// dim. No dropout.
//
// The products run per sample and head through Gemm, on strided views of
// the fused qkv rows, so nothing is transposed or copied, and by blocks of
// attnRows queries, each reaching only the keys up to its last row: the
// masked upper triangle is mostly never computed (a context of 64 does 3/4
// of the full products, 256 does 9/16).
type CausalSelfAttention[F Float] struct {
	dim, heads, context int
	cAttn, cProj        *Linear[F]

	qkv  []F // n·context rows of 3·dim: c_attn's output, valid until its next Forward
	att  []F // softmax probabilities, n·heads blocks of context×context (0 above the diagonal)
	y    []F // n·context rows of dim: the heads' outputs, c_proj's input
	dqkv []F
	ds   []F // one context×context block of score gradients, reused per head
}

// NewCausalSelfAttention attends over context positions of dim values with
// heads heads; dim must be a multiple of heads.
func NewCausalSelfAttention[F Float](dim, heads, context int) (*CausalSelfAttention[F], error) {
	if dim < 1 || heads < 1 || context < 1 {
		return nil, fmt.Errorf("nn: attention of width %d, %d heads over %d positions: want each ≥ 1", dim, heads, context)
	}
	if dim%heads != 0 {
		return nil, fmt.Errorf("nn: attention width %d is not a multiple of %d heads", dim, heads)
	}
	return &CausalSelfAttention[F]{dim: dim, heads: heads, context: context,
		cAttn: NewLinear[F](dim, 3*dim, context), cProj: NewLinear[F](dim, dim, context)}, nil
}

// Params implements Layer: c_attn's weight and bias, then c_proj's.
func (a *CausalSelfAttention[F]) Params() []Param {
	return append(prefixed("c_attn", a.cAttn.Params()), prefixed("c_proj", a.cProj.Params())...)
}

// InSize implements Layer.
func (a *CausalSelfAttention[F]) InSize() int { return a.dim * a.context }

// OutSize implements Layer.
func (a *CausalSelfAttention[F]) OutSize() int { return a.dim * a.context }

func (a *CausalSelfAttention[F]) split(p []F) (attn, proj []F) {
	k := 3*a.dim*a.dim + 3*a.dim // c_attn's weight and bias
	return p[:k], p[k:]
}

// attnRows is the query rows of one block of the attention products.
const attnRows = 32

// headViews returns where sample s's head h starts in the qkv rows (its
// queries; keys and values follow dim and 2·dim further) and in y, and its
// block of attention probabilities.
func (a *CausalSelfAttention[F]) headViews(s, h int) (qkvOff, yOff, attOff int) {
	hd, t := a.dim/a.heads, a.context
	return s*t*3*a.dim + h*hd, s*t*a.dim + h*hd, (s*a.heads + h) * t * t
}

// Forward implements Layer.
func (a *CausalSelfAttention[F]) Forward(p, x []F, n int) []F {
	pa, pp := a.split(p)
	a.qkv = a.cAttn.Forward(pa, x, n)
	t, d, hd := a.context, a.dim, a.dim/a.heads
	scale := F(1 / math.Sqrt(float64(hd)))
	a.att = Grow(a.att, n*a.heads*t*t)
	a.y = Grow(a.y, n*t*d)
	for s := 0; s < n; s++ {
		for h := 0; h < a.heads; h++ {
			qo, yo, ao := a.headViews(s, h)
			q, k, v := a.qkv[qo:], a.qkv[qo+d:], a.qkv[qo+2*d:]
			att := a.att[ao : ao+t*t]
			for r0 := 0; r0 < t; r0 += attnRows {
				// Queries r0..r1-1 score keys 0..r1-1; the causal
				// softmax keeps each row's past and zeroes the rest of
				// the row, so P·V sums over the past alone.
				r1 := min(r0+attnRows, t)
				Gemm(false, true, r1-r0, r1, hd, scale, q[r0*3*d:], 3*d, k, 3*d, 0, att[r0*t:], t)
				for i := r0; i < r1; i++ {
					causalSoftmax(att[i*t:(i+1)*t], i)
				}
				Gemm(false, false, r1-r0, hd, r1, 1, att[r0*t:], t, v, 3*d, 0, a.y[yo+r0*d:], d)
			}
		}
	}
	return a.cProj.Forward(pp, a.y, n)
}

// causalSoftmax replaces row[:last+1] with its softmax and zeroes the rest.
func causalSoftmax[F Float](row []F, last int) {
	top := row[0]
	for _, v := range row[1 : last+1] {
		top = max(top, v)
	}
	var z F
	for j := 0; j <= last; j++ {
		e := exp(row[j] - top)
		row[j] = e
		z += e
	}
	inv := 1 / z
	for j := 0; j <= last; j++ {
		row[j] *= inv
	}
	clear(row[last+1:])
}

// Backward implements Layer. For one head with probabilities P, values V
// and output gradient dY: dV = Pᵀ·dY, dP = dY·Vᵀ, the softmax gives
// dS = P ⊙ (dP − rowsum(dP ⊙ P)), and with the 1/√head_dim scale folded
// into dS, dQ = dS·K and dK = dSᵀ·Q. Masked entries have P = 0, so they get
// no gradient.
func (a *CausalSelfAttention[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	pa, pp := a.split(p)
	ga, gp := a.split(g)
	dY := a.cProj.Backward(pp, gp, dy, n, true)
	t, d, hd := a.context, a.dim, a.dim/a.heads
	scale := F(1 / math.Sqrt(float64(hd)))
	a.dqkv = Grow(a.dqkv, n*t*3*d)
	a.ds = Grow(a.ds, t*t)
	for s := 0; s < n; s++ {
		for h := 0; h < a.heads; h++ {
			qo, yo, ao := a.headViews(s, h)
			q, k, v := a.qkv[qo:], a.qkv[qo+d:], a.qkv[qo+2*d:]
			dq, dk, dv := a.dqkv[qo:], a.dqkv[qo+d:], a.dqkv[qo+2*d:]
			att, dyh := a.att[ao:ao+t*t], dY[yo:]
			// The last block reaches every key, so its products set dK
			// and dV (β = 0); each earlier block adds to their first r1
			// rows.
			for r0 := (t - 1) / attnRows * attnRows; r0 >= 0; r0 -= attnRows {
				r1 := min(r0+attnRows, t)
				rows, beta := r1-r0, F(1)
				if r1 == t {
					beta = 0
				}
				pb, dyb, ds := att[r0*t:], dyh[r0*d:], a.ds[r0*t:]
				Gemm(true, false, r1, hd, rows, 1, pb, t, dyb, d, beta, dv, 3*d)
				Gemm(false, true, rows, r1, hd, 1, dyb, d, v, 3*d, 0, ds, t)
				for i := r0; i < r1; i++ {
					softmaxBackward(att[i*t:i*t+i+1], a.ds[i*t:(i+1)*t], scale)
				}
				Gemm(false, false, rows, hd, r1, 1, ds, t, k, 3*d, 0, dq[r0*3*d:], 3*d)
				Gemm(true, false, r1, hd, rows, 1, ds, t, q[r0*3*d:], 3*d, beta, dk, 3*d)
			}
		}
	}
	return a.cAttn.Backward(pa, ga, a.dqkv, n, needDX)
}

// softmaxBackward turns dp, the gradient at one row of probabilities whose
// nonzero part is pr, into the gradient at its scaled scores:
// scale·pr ⊙ (dp − pr·dp), and zero past pr.
func softmaxBackward[F Float](pr, dp []F, scale F) {
	var dot F
	for j, p := range pr {
		dot += p * dp[j]
	}
	for j, p := range pr {
		dp[j] = p * (dp[j] - dot) * scale
	}
	clear(dp[len(pr):])
}

// FLOPs implements Layer: the two projections, and per head the scores and
// their weighted sum (2·context²·head_dim each) plus the softmax.
func (a *CausalSelfAttention[F]) FLOPs() float64 {
	t := float64(a.context)
	return a.cAttn.FLOPs() + a.cProj.FLOPs() + 4*t*t*float64(a.dim) + 5*t*t*float64(a.heads)
}

// Clone implements Layer.
func (a *CausalSelfAttention[F]) Clone() Layer[F] {
	c, _ := NewCausalSelfAttention[F](a.dim, a.heads, a.context)
	return c
}
