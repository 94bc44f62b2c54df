package training

import "math/rand/v2"

// Model computes the loss of one flat parameter vector on a batch and its
// gradient. Parameters live outside the model, so averaging, sharding and
// sending them is plain slice work; a Model value only holds scratch buffers,
// so each goroutine needs its own (see Clone).
type Model interface {
	// Spec names the architecture, e.g. "mlp:64-32-10". Two models with the
	// same Spec read the same parameter layout.
	Spec() string
	// NumParams is the length of the parameter vector.
	NumParams() int
	// Init writes freshly initialised parameters, deterministic for rng.
	Init(params []float32, rng *rand.Rand)
	// LossGrad returns the mean cross-entropy of the batch (x holds len(y)
	// rows) and writes its gradient with respect to params into grad.
	LossGrad(params, grad, x []float32, y []int32) float64
	// Evaluate returns how many of the len(y) samples are classified
	// correctly and the summed cross-entropy over them.
	Evaluate(params, x []float32, y []int32) (correct int, lossSum float64)
	// TrainFLOPs is the floating-point work of one LossGrad per sample.
	TrainFLOPs() float64
	// Clone returns a model with the same architecture and its own scratch.
	Clone() Model
}

// Evaluation is a model's quality on a labelled set.
type Evaluation struct {
	Accuracy float64 // fraction correct, 0..1
	Loss     float64 // mean cross-entropy, nats
}

// Evaluate scores params on the whole dataset.
func Evaluate(m Model, params []float32, d *Dataset) Evaluation {
	if d.Len() == 0 {
		return Evaluation{}
	}
	correct, loss := m.Evaluate(params, d.X, d.Y)
	return Evaluation{Accuracy: float64(correct) / float64(d.Len()), Loss: loss / float64(d.Len())}
}
