package training

import "math/rand/v2"

// BatchSampler draws minibatches from a peer's local data without
// replacement, reshuffling at every pass (epoch) over it.
type BatchSampler struct {
	order []int
	pos   int
	rng   *rand.Rand
}

// NewBatchSampler samples indices 0..n-1.
func NewBatchSampler(n int, rng *rand.Rand) *BatchSampler {
	s := &BatchSampler{order: make([]int, n), rng: rng}
	for i := range s.order {
		s.order[i] = i
	}
	s.shuffle()
	return s
}

func (s *BatchSampler) shuffle() {
	s.rng.Shuffle(len(s.order), func(i, j int) { s.order[i], s.order[j] = s.order[j], s.order[i] })
	s.pos = 0
}

// Next appends the indices of the next batch of up to size samples (fewer
// only when the local set is smaller than a batch).
func (s *BatchSampler) Next(dst []int, size int) []int {
	size = min(size, len(s.order))
	for len(dst) < size {
		if s.pos == len(s.order) {
			s.shuffle()
		}
		dst = append(dst, s.order[s.pos])
		s.pos++
	}
	return dst
}

// Batch gathers the samples at idx into x (row-major) and y, reusing their
// storage, and returns them.
func (d *Dataset) Batch(idx []int, x []float32, y []int32) ([]float32, []int32) {
	x, y = x[:0], y[:0]
	for _, i := range idx {
		x = append(x, d.Row(i)...)
		y = append(y, d.Y[i])
	}
	return x, y
}
