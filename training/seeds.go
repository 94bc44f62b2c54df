package training

import "math/rand/v2"

// A run draws everything random from one seed: each use draws from
// rand.NewPCG(seed, stream) with a stream of its own, so that the same seed
// gives unrelated numbers to each use and a change in how one use draws
// leaves every other draw as it was. The named streams spell their use in
// ASCII; the simulated peers' batch streams are 1, 2, 3, ..., far below all
// of them. Every peer of a run must draw the split, the partition and x₀
// alike, so none of these may change without changing every run's numbers.
const (
	// splitStream shuffles the stratified train/test split of data sets
	// that ship without a test set (SplitTrainTest).
	splitStream = 0x73706c6974 // "split"
	// iidStream deals the samples out in PartitionIID.
	iidStream = 0x696964 // "iid"
	// dirichletStream draws the class proportions of PartitionDirichlet.
	dirichletStream = 0x6469726963686c74 // "dirichlt"
	// shardsStream assigns classes to peers in PartitionShards.
	shardsStream = 0x736861726473 // "shards"
	// initStream draws the initial parameters x₀ every peer of a run starts
	// from (PreparedRecipe.Init).
	initStream = 0x696e6974 // "init"
	// evalSubsetStream picks the test samples the simulator scores at
	// intermediate evaluation points (PreparedRecipe.EvalSubset).
	evalSubsetStream = 0x6576616c // "eval"
	// sampleStream draws the text a trained language model generates
	// (SampleText).
	sampleStream = 0x73616d706c65 // "sample"
)

// PeerBatchRand returns the generator of simulated peer i's minibatches
// (i counts from 0), stream i+1 of the run's seed. The simulator and the
// protocol-level test harness both draw from it, so that one peer sees the
// same batches in both worlds. A live peer draws its own: gradmesh join
// seeds its batches afresh at every start.
func PeerBatchRand(seed uint64, peer int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(peer)+1))
}
