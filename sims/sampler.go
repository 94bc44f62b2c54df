package sims

import "math/rand/v2"

// batchSampler draws minibatches from a peer's local data without
// replacement, reshuffling at every pass (epoch) over it.
type batchSampler struct {
	order []int
	pos   int
	rng   *rand.Rand
}

func newBatchSampler(n int, rng *rand.Rand) *batchSampler {
	s := &batchSampler{order: make([]int, n), rng: rng}
	for i := range s.order {
		s.order[i] = i
	}
	s.shuffle()
	return s
}

func (s *batchSampler) shuffle() {
	s.rng.Shuffle(len(s.order), func(i, j int) { s.order[i], s.order[j] = s.order[j], s.order[i] })
	s.pos = 0
}

// next appends the indices of the next batch of up to size samples (fewer
// only when the local set is smaller than a batch).
func (s *batchSampler) next(dst []int, size int) []int {
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
