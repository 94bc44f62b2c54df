package training

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SplitTrainTest divides d into a training and a test set by a stratified
// shuffle: every class puts the same fraction of its samples in the test set
// (to within one sample), so a rare class is not lost from either side by
// chance. The test set holds round(testFraction·n) samples. Both sets are in
// shuffled order; the result is deterministic for a given seed.
func SplitTrainTest(d *Dataset, testFraction float64, seed uint64) (train, test *Dataset, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("training: splitting dataset %q: test fraction %g, want 0 < f < 1", d.Name, testFraction)
	}
	if err := d.Validate(); err != nil {
		return nil, nil, err
	}
	byClass := indicesByClass(d.Y, d.Classes)
	quotas := stratifiedQuotas(d.ClassCounts(), testFraction)
	rng := rand.New(rand.NewPCG(seed, splitStream))
	var trainIdx, testIdx []int
	for c, idx := range byClass {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		testIdx = append(testIdx, idx[:quotas[c]]...)
		trainIdx = append(trainIdx, idx[quotas[c]:]...)
	}
	if len(testIdx) == 0 || len(trainIdx) == 0 {
		return nil, nil, fmt.Errorf("training: splitting dataset %q: test fraction %g of %d samples leaves %d for training and %d for testing, want both > 0",
			d.Name, testFraction, d.Len(), len(trainIdx), len(testIdx))
	}
	rng.Shuffle(len(trainIdx), func(i, j int) { trainIdx[i], trainIdx[j] = trainIdx[j], trainIdx[i] })
	rng.Shuffle(len(testIdx), func(i, j int) { testIdx[i], testIdx[j] = testIdx[j], testIdx[i] })
	return d.Subset(trainIdx), d.Subset(testIdx), nil
}

// stratifiedQuotas returns how many samples of each class go to the test
// set: round(fraction·total) in all, shared by largest remainder so that
// each class gets its proportional share rounded up or down.
func stratifiedQuotas(counts []int, fraction float64) []int {
	total := 0
	for _, n := range counts {
		total += n
	}
	quotas := make([]int, len(counts))
	remainders := make([]float64, len(counts))
	assigned := 0
	for c, n := range counts {
		exact := fraction * float64(n)
		quotas[c] = int(math.Floor(exact))
		remainders[c] = exact - float64(quotas[c])
		assigned += quotas[c]
	}
	order := make([]int, len(counts))
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(remainders[b], remainders[a]) })
	want := int(math.Round(fraction * float64(total)))
	for _, c := range order {
		if assigned >= want {
			break
		}
		if quotas[c] < counts[c] {
			quotas[c]++
			assigned++
		}
	}
	return quotas
}
