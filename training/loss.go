package training

import (
	"math"

	"gonum.org/v1/gonum/blas/blas32"
)

// softmaxCrossEntropy returns the summed cross-entropy of the logits against
// the labels and writes softmax(logits) − onehot(y) into delta. The
// log-sum-exp runs in float64 with the row maximum subtracted, so large
// logits neither overflow nor lose the loss to rounding.
func softmaxCrossEntropy(logits blas32.General, y []int32, delta blas32.General) float64 {
	var sum float64
	for r, label := range y {
		row := logits.Data[r*logits.Stride : r*logits.Stride+logits.Cols]
		out := delta.Data[r*delta.Stride : r*delta.Stride+delta.Cols]
		maxv := maxOf(row)
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - maxv))
		}
		for j, v := range row {
			out[j] = float32(math.Exp(float64(v-maxv)) / z)
		}
		out[label]--
		sum += math.Log(z) - float64(row[label]-maxv)
	}
	return sum
}

// scoreLogits counts argmax hits and sums the cross-entropy over a batch.
func scoreLogits(logits blas32.General, y []int32) (correct int, lossSum float64) {
	for r, label := range y {
		row := logits.Data[r*logits.Stride : r*logits.Stride+logits.Cols]
		maxv := maxOf(row)
		best := 0
		var z float64
		for j, v := range row {
			z += math.Exp(float64(v - maxv))
			if v > row[best] {
				best = j
			}
		}
		if best == int(label) {
			correct++
		}
		lossSum += math.Log(z) - float64(row[label]-maxv)
	}
	return correct, lossSum
}

func maxOf(v []float32) float32 {
	m := v[0]
	for _, x := range v[1:] {
		if x > m {
			m = x
		}
	}
	return m
}
