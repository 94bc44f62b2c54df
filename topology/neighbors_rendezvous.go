package topology

// rendezvous ranks candidates for one peer under a run-wide seed: the peer
// picks the candidates with the highest scores (rendezvous, or
// highest-random-weight, hashing). A score depends only on (seed, self,
// candidate), so a member joining or leaving never reorders the others:
// picks move only when a chosen candidate leaves or a newcomer outscores
// one, which keeps random and long-range links from flapping as the
// membership changes.
//
// The hash is FNV-1a over the seed, the length of self (so that the split
// between the two IDs is unambiguous), self and the candidate, finished
// with the SplitMix64 mixer because FNV's low bits are poorly mixed for
// short inputs that differ only at the end. The state after self is kept,
// so scoring a candidate hashes only its ID.
type rendezvous struct{ prefix uint64 }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func newRendezvous(seed uint64, self string) rendezvous {
	h := uint64(fnvOffset)
	for _, v := range []uint64{seed, uint64(len(self))} {
		for range 8 {
			h = (h ^ (v & 0xff)) * fnvPrime
			v >>= 8
		}
	}
	for i := 0; i < len(self); i++ {
		h = (h ^ uint64(self[i])) * fnvPrime
	}
	return rendezvous{prefix: h}
}

// score returns the candidate's rendezvous score; higher ranks first.
func (r rendezvous) score(candidate string) uint64 {
	h := r.prefix
	for i := 0; i < len(candidate); i++ {
		h = (h ^ uint64(candidate[i])) * fnvPrime
	}
	return splitMix64(h)
}

// splitMix64 is the finalizer of the SplitMix64 generator: a bijection that
// spreads every input bit over the whole word.
func splitMix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
