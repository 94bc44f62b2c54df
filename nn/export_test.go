package nn

// SetKeptPatchesMax sets how many patch values a Conv2d keeps for its
// backward pass and returns the previous limit, so that tests can run both
// the kept and the unrolled-again paths on small layers.
func SetKeptPatchesMax(n int) int {
	old := keptPatchesMax
	keptPatchesMax = n
	return old
}
