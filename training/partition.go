package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// maxDirichletTries bounds how often PartitionDirichlet redraws the class
// proportions before giving up on giving every peer enough samples.
const maxDirichletTries = 1000

// PartitionIID deals the samples out uniformly at random: each peer gets a
// shuffled share whose size differs from every other peer's by at most one,
// so every peer sees the global label distribution up to sampling noise.
func PartitionIID(labels []int32, peers int, seed uint64) ([][]int, error) {
	if err := checkPartitionPeers("IID", len(labels), peers); err != nil {
		return nil, err
	}
	n := len(labels)
	perm := rand.New(rand.NewPCG(seed, iidStream)).Perm(n)
	parts := make([][]int, peers)
	start := 0
	for i := range parts {
		size := n / peers
		if i < n%peers {
			size++
		}
		end := start + size
		parts[i] = perm[start:end:end] // capped, so appending to one part cannot overwrite the next
		start = end
	}
	return parts, nil
}

// PartitionDirichlet gives each peer a skewed label distribution, following
// Hsu et al. 2019: for each class it draws proportions p ~ Dir(alpha·1) over
// the peers and splits that class's samples by p. Small alpha (0.1) puts most
// of a class on a few peers; large alpha (100) approaches IID. Draws are
// repeated, up to 1000 times, until every peer holds at least
// min(10, n/(2·peers)) samples (at least 1), so that no peer is left with
// nothing to train on. Each peer's samples come in shuffled order.
func PartitionDirichlet(labels []int32, classes, peers int, alpha float64, seed uint64) ([][]int, error) {
	if err := checkPartitionPeers("Dirichlet", len(labels), peers); err != nil {
		return nil, err
	}
	if err := checkPartitionLabels("Dirichlet", labels, classes); err != nil {
		return nil, err
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("training: Dirichlet partition: alpha must be > 0 and finite, got %g", alpha)
	}
	n := len(labels)
	minSize := max(1, min(10, n/(2*peers)))

	src := rand.NewPCG(seed, dirichletStream)
	rng := rand.New(src)
	byClass := indicesByClass(labels, classes)
	for _, idx := range byClass {
		shuffleInts(rng, idx)
	}
	gamma := distuv.Gamma{Alpha: alpha, Beta: 1, Src: src}
	proportions := make([]float64, peers)
	cuts := make([][]int, classes) // cuts[c][j] is where peer j's share of class c ends
	for c := range cuts {
		cuts[c] = make([]int, peers)
	}
	sizes := make([]int, peers)
	for range maxDirichletTries {
		if drawDirichletCuts(gamma, proportions, byClass, cuts, sizes) && slices.Min(sizes) >= minSize {
			parts := make([][]int, peers)
			for c, idx := range byClass {
				start := 0
				for j, end := range cuts[c] {
					parts[j] = append(parts[j], idx[start:end]...)
					start = end
				}
			}
			for _, part := range parts {
				shuffleInts(rng, part)
			}
			return parts, nil
		}
	}
	return nil, fmt.Errorf("training: Dirichlet partition: in %d draws with alpha %g, none gave each of %d peers at least %d of the %d samples; use a larger alpha or fewer peers",
		maxDirichletTries, alpha, peers, minSize, n)
}

// drawDirichletCuts draws, for every class, proportions p ~ Dir(alpha·1)
// over the peers (normalised gamma variates) and turns them into cut points,
// adding up each peer's total in sizes. It reports false when a draw is
// unusable: for tiny alpha every gamma variate can underflow to zero.
func drawDirichletCuts(gamma distuv.Gamma, proportions []float64, byClass [][]int, cuts [][]int, sizes []int) bool {
	clear(sizes)
	for c, idx := range byClass {
		sum := 0.0
		for j := range proportions {
			proportions[j] = gamma.Rand()
			sum += proportions[j]
		}
		if !(sum > 0) || math.IsInf(sum, 0) {
			return false
		}
		cumulative := 0.0
		start := 0
		for j, p := range proportions {
			cumulative += p / sum
			end := min(len(idx), max(start, int(cumulative*float64(len(idx)))))
			if j == len(proportions)-1 {
				end = len(idx)
			}
			cuts[c][j] = end
			sizes[j] += end - start
			start = end
		}
	}
	return true
}

// PartitionShards gives each peer exactly k distinct classes, the
// "pathological non-IID" split of McMahan et al.: classes are permuted by
// seed and peer i takes classes perm[(i·k+j) mod classes] for j < k; each
// class's samples are split evenly among the peers that hold it. Every class
// must go to some peer, so peers·k must be at least classes.
func PartitionShards(labels []int32, classes, peers, k int, seed uint64) ([][]int, error) {
	if err := checkPartitionPeers("shards", len(labels), peers); err != nil {
		return nil, err
	}
	if err := checkPartitionLabels("shards", labels, classes); err != nil {
		return nil, err
	}
	switch {
	case k < 1 || k > classes:
		return nil, fmt.Errorf("training: shards partition: %d classes per peer, want 1..%d", k, classes)
	case peers*k < classes:
		return nil, fmt.Errorf("training: shards partition: %d peers × %d classes each cover only %d of the %d classes; use more peers or a larger k",
			peers, k, peers*k, classes)
	}
	rng := rand.New(rand.NewPCG(seed, shardsStream))
	perm := rng.Perm(classes)
	holders := make([][]int, classes) // holders[c] lists the peers that hold class c
	for i := range peers {
		for j := range k {
			c := perm[(i*k+j)%classes]
			holders[c] = append(holders[c], i)
		}
	}
	parts := make([][]int, peers)
	for c, idx := range indicesByClass(labels, classes) {
		shuffleInts(rng, idx)
		h := len(holders[c])
		for r, peer := range holders[c] {
			parts[peer] = append(parts[peer], idx[r*len(idx)/h:(r+1)*len(idx)/h]...)
		}
	}
	for i, part := range parts {
		if len(part) == 0 {
			held := make([]int, k)
			for j := range k {
				held[j] = perm[(i*k+j)%classes]
			}
			return nil, fmt.Errorf("training: shards partition: peer %d gets no samples: its classes %v have fewer samples than peers holding them",
				i, held)
		}
		shuffleInts(rng, part)
	}
	return parts, nil
}

// Partition runs the partitioner named by a flag value: "iid",
// "dirichlet:ALPHA" (e.g. dirichlet:0.1) or "shards:K" (e.g. shards:2).
func Partition(spec string, labels []int32, classes, peers int, seed uint64) ([][]int, error) {
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	switch {
	case kind == "iid" && !hasArg:
		return PartitionIID(labels, peers, seed)
	case kind == "dirichlet" && hasArg:
		alpha, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return nil, fmt.Errorf("training: partition %q: alpha %q is not a number", spec, arg)
		}
		return PartitionDirichlet(labels, classes, peers, alpha, seed)
	case kind == "shards" && hasArg:
		k, err := strconv.Atoi(arg)
		if err != nil {
			return nil, fmt.Errorf("training: partition %q: K %q is not an integer", spec, arg)
		}
		return PartitionShards(labels, classes, peers, k, seed)
	}
	return nil, fmt.Errorf("training: unknown partition %q: want iid, dirichlet:ALPHA (e.g. dirichlet:0.1) or shards:K (e.g. shards:2)", spec)
}

// LabelSkew measures how far a partition is from IID: the mean over
// non-empty peers of the total-variation distance between the peer's label
// distribution and that of all labels. It is 0 when every peer mirrors the
// global mix and approaches 1 when peers hold disjoint rare classes. parts
// must index into labels, and labels lie in [0, classes), as the
// partitioners guarantee.
func LabelSkew(parts [][]int, labels []int32, classes int) float64 {
	global := make([]float64, classes)
	for _, y := range labels {
		global[y] += 1 / float64(len(labels))
	}
	local := make([]float64, classes)
	total, peers := 0.0, 0
	for _, part := range parts {
		if len(part) == 0 {
			continue
		}
		clear(local)
		for _, i := range part {
			local[labels[i]] += 1 / float64(len(part))
		}
		distance := 0.0
		for c := range local {
			distance += math.Abs(local[c] - global[c])
		}
		total += distance / 2
		peers++
	}
	if peers == 0 {
		return 0
	}
	return total / float64(peers)
}

// checkPartitionPeers rejects peer counts that cannot give every peer a sample.
func checkPartitionPeers(kind string, samples, peers int) error {
	switch {
	case peers < 1:
		return fmt.Errorf("training: %s partition: %d peers, want at least 1", kind, peers)
	case samples == 0:
		return fmt.Errorf("training: %s partition: no samples to partition", kind)
	case peers > samples:
		return fmt.Errorf("training: %s partition: %d peers but only %d samples; every peer needs at least one", kind, peers, samples)
	}
	return nil
}

// checkPartitionLabels rejects labels outside [0, classes).
func checkPartitionLabels(kind string, labels []int32, classes int) error {
	if classes < 1 {
		return fmt.Errorf("training: %s partition: %d classes, want at least 1", kind, classes)
	}
	for i, y := range labels {
		if y < 0 || int(y) >= classes {
			return fmt.Errorf("training: %s partition: sample %d has label %d, want 0..%d", kind, i, y, classes-1)
		}
	}
	return nil
}

// indicesByClass lists the sample indices of each class in ascending order.
func indicesByClass(labels []int32, classes int) [][]int {
	byClass := make([][]int, classes)
	for i, y := range labels {
		byClass[y] = append(byClass[y], i)
	}
	return byClass
}

// shuffleInts shuffles s in place.
func shuffleInts(rng *rand.Rand, s []int) {
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}
