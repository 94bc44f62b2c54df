package modeltest

import (
	"math"
	"math/rand/v2"

	"github.com/gradmesh/gradmesh/nn/nntest"
	"github.com/gradmesh/gradmesh/training"
)

// referenceLogits runs a plain per-sample float64 forward pass of an MLP with
// training.MLP's parameter layout (per layer: in×out row-major weights, then
// out biases; ReLU on hidden layers). It shares no code with any backend, so
// it is an independent oracle.
func referenceLogits(sizes []int, p []float64, x []float32, batch int) [][]float64 {
	logits := make([][]float64, batch)
	for s := range batch {
		a := make([]float64, sizes[0])
		for i := range a {
			a[i] = float64(x[s*sizes[0]+i])
		}
		off := 0
		for l := 1; l < len(sizes); l++ {
			in, out := sizes[l-1], sizes[l]
			z := make([]float64, out)
			for j := range out {
				z[j] = p[off+in*out+j]
				for i := range in {
					z[j] += a[i] * p[off+i*out+j]
				}
				if l < len(sizes)-1 && z[j] < 0 {
					z[j] = 0
				}
			}
			off += in*out + out
			a = z
		}
		logits[s] = a
	}
	return logits
}

// referenceLoss is the mean cross-entropy of the float64 forward pass.
func referenceLoss(sizes []int, p []float64, x []float32, y []int32) float64 {
	var total float64
	for s, z := range referenceLogits(sizes, p, x, len(y)) {
		total += crossEntropy(z, int(y[s]))
	}
	return total / float64(len(y))
}

func crossEntropy(z []float64, label int) float64 {
	maxv := z[0]
	for _, v := range z {
		maxv = math.Max(maxv, v)
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - maxv)
	}
	return math.Log(sum) + maxv - z[label]
}

// nearTies counts the rows whose two largest logits are so close that float32
// rounding in a different summation order may flip the predicted class.
func nearTies(logits [][]float64) int {
	n := 0
	for _, z := range logits {
		first, second := math.Inf(-1), math.Inf(-1)
		for _, v := range z {
			if v > first {
				first, second = v, first
			} else if v > second {
				second = v
			}
		}
		if first-second < 1e-4*math.Max(1, math.Abs(first)) {
			n++
		}
	}
	return n
}

func widen(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

// RandomBatch returns batch standard-normal feature rows of dim values and
// uniform labels below classes.
func RandomBatch(rng *rand.Rand, batch, dim, classes int) ([]float32, []int32) {
	x := make([]float32, batch*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	return x, y
}

// RelErr is |a−b| / |b|, or |a−b| when b is 0.
func RelErr(a, b float64) float64 {
	d := math.Abs(a - b)
	if b == 0 {
		return d
	}
	return d / math.Abs(b)
}

// VecRelErr is ‖a−b‖₂ / ‖b‖₂, or ‖a−b‖₂ when b is 0; NaN anywhere gives NaN,
// so it never passes a tolerance check.
func VecRelErr(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	return nntest.RelErr(a, b)
}

// CompareLossGrad runs LossGrad of m and of the CPU model ref on one batch and
// returns the relative errors of m's loss and gradient against ref's. m's
// gradient buffer starts full of NaN, so an entry m fails to write shows up.
func CompareLossGrad(m, ref training.Model, params, x []float32, y []int32) (lossErr, gradErr float64) {
	grad := nanVector(len(params))
	want := make([]float32, len(params))
	loss := m.LossGrad(params, grad, x, y)
	wantLoss := ref.LossGrad(params, want, x, y)
	return RelErr(loss, wantLoss), VecRelErr(grad, want)
}

func nanVector(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

// CompareEvaluate runs Evaluate of m and of the CPU model ref on the same
// rows. It returns by how many rows m's count of correct predictions differs
// from ref's, how many rows have near-tied top logits in the float64
// reference (rounding may flip those, so up to that many differences are
// fair), and the relative error of m's summed loss.
func CompareEvaluate(m, ref training.Model, params, x []float32, y []int32) (correctDiff, ties int, lossErr float64) {
	correct, lossSum := m.Evaluate(params, x, y)
	wantCorrect, wantLoss := ref.Evaluate(params, x, y)
	if mlp, ok := ref.(*training.MLP); ok {
		ties = nearTies(referenceLogits(mlp.Sizes(), widen(params), x, len(y)))
	}
	correctDiff = correct - wantCorrect
	if correctDiff < 0 {
		correctDiff = -correctDiff
	}
	return correctDiff, ties, RelErr(lossSum, wantLoss)
}
