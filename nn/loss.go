package nn

import "math"

// SoftmaxCrossEntropy scores rows of logits (rows×classes, row-major)
// against targets: it returns the summed cross-entropy in nats and how many
// rows put their largest logit on the target, and, when dlogits is not nil,
// writes scale·(softmax(logits) − onehot(target)) into it, the gradient of
// scale times the summed loss. The log-sum-exp runs in float64 with the row
// maximum subtracted, so large logits neither overflow nor lose the loss to
// rounding.
func SoftmaxCrossEntropy[F Float](logits []F, classes int, targets []int32, dlogits []F, scale F) (lossSum float64, correct int) {
	for r, t := range targets {
		row := logits[r*classes : (r+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(t) {
			correct++
		}
		top := float64(row[best])
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - top)
		}
		lossSum += math.Log(z) - (float64(row[t]) - top)
		if dlogits == nil {
			continue
		}
		out := dlogits[r*classes : (r+1)*classes]
		for j, v := range row {
			out[j] = F(math.Exp(float64(v)-top)/z) * scale
		}
		out[t] -= scale
	}
	return lossSum, correct
}
