package training

import "math/rand/v2"

// LossGrader computes a batch's mean loss and writes its gradient at params,
// as Model.LossGrad does. Every Model is one; so is a shell that moves steps
// between devices, such as a live peer lending its GPU.
type LossGrader interface {
	LossGrad(params, grad, x []float32, y []int32) float64
}

// Minibatch is storage for one drawn batch, reused from step to step. Its
// zero value is ready. Whoever computes steps owns one: a live peer keeps
// its own, and each simulator worker keeps one for all the peers it steps,
// so memory grows with the workers rather than the peers.
type Minibatch struct {
	index []int
	x     []float32
	y     []int32
}

// Stepper computes one peer's local steps: it draws minibatches from the
// peer's data, without replacement within a pass and reshuffled for each
// pass (BatchSampler), and evaluates the loss and gradient on each. It holds
// no model, since who computes differs by shell: a simulator worker's clone,
// a live peer's GPU. One goroutine at a time may step it.
type Stepper struct {
	data    *Dataset
	batch   int
	sampler *BatchSampler
}

// NewStepper steps through data in batches of batch samples (all of data
// when it holds fewer), drawing from rng.
func NewStepper(data *Dataset, batch int, rng *rand.Rand) *Stepper {
	return &Stepper{data: data, batch: batch, sampler: NewBatchSampler(data.Len(), rng)}
}

// Gradient draws the next minibatch into b and returns its mean loss under
// m at params, with the gradient written into grad.
func (s *Stepper) Gradient(m LossGrader, params, grad []float32, b *Minibatch) float64 {
	b.index = s.sampler.Next(b.index[:0], s.batch)
	b.x, b.y = s.data.Batch(b.index, b.x, b.y)
	return m.LossGrad(params, grad, b.x, b.y)
}
