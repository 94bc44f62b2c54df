package training

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Recipe is what every peer of a run must share to train one model: the data
// and how it is dealt out to peers, the model, the optimizer and its
// learning-rate schedule, the order of local step and mixing, and the seed
// that every random draw of the run derives from (see the streams in
// seeds.go). Peers whose recipes differ do not train one model, even where
// their parameter vectors have the same length.
//
// The fields are the flags gradmesh sim and gradmesh join share, by the
// names they take on the command line; the JSON keys are those of the
// simulator's summary.json "config".
type Recipe struct {
	Dataset   string  `json:"dataset"` // digits|mnist|idx|csv:PATH|text:PATH|fortunes, as LoadDataset and LoadText read it
	DataDir   string  `json:"data_dir,omitempty"`
	Model     string  `json:"model"`     // a registered model's spec, as ParseModel reads it
	Partition string  `json:"partition"` // iid|dirichlet:ALPHA|shards:K, as Partition reads it
	Mix       string  `json:"mix"`       // atc|cta: local step before or after mixing
	Batch     int     `json:"batch"`     // samples per local step
	LR        float64 `json:"lr"`        // peak learning rate
	Schedule  string  `json:"schedule"`  // constant|cosine|step:EVERY:GAMMA, as ParseSchedule reads it
	Warmup    int     `json:"warmup_rounds"`
	Optimizer string  `json:"optimizer"` // sgd|adam
	Momentum  float64 `json:"momentum"`
	Nesterov  bool    `json:"nesterov"`
	// WeightDecay is an L2 penalty under sgd, decoupled under adam.
	WeightDecay float64 `json:"weight_decay"`
	Seed        uint64  `json:"seed"`
	// TestFraction is the held-out share of data sets without their own
	// test split (digits, csv).
	TestFraction float64 `json:"test_fraction"`
	// Context is the tokens a language model reads per window of text data
	// (each window holds one more, the last target); other data ignores it.
	Context int `json:"context"`
}

// DefaultRecipe is what gradmesh sim and gradmesh join train with no flags:
// an MLP on the embedded digits, IID shards, SGD with momentum on a cosine
// schedule.
func DefaultRecipe() Recipe {
	return Recipe{Dataset: "digits", Model: "mlp:64", Partition: "iid", Mix: "atc", Batch: 16, LR: 0.1,
		Schedule: "cosine", Optimizer: "sgd", Momentum: 0.9, Seed: 1, TestFraction: 0.2, Context: DefaultContext}
}

// Check reports the first setting that cannot train, naming its flag, before
// any data is read. What only the data can tell (a partition that leaves a
// peer empty, a test fraction that leaves no test set) fails in Prepare.
func (r Recipe) Check() error {
	switch {
	case r.Mix != "atc" && r.Mix != "cta":
		return fmt.Errorf("--mix %q: want atc (step, then mix) or cta (mix and step at once)", r.Mix)
	case r.Batch < 1:
		return fmt.Errorf("--batch %d: need at least 1 sample per step", r.Batch)
	case r.Warmup < 0:
		return fmt.Errorf("--warmup %d: want ≥ 0 rounds", r.Warmup)
	case IsTextDataset(r.Dataset) && r.Context < 1:
		return fmt.Errorf("--context %d: want at least 1 token", r.Context)
	}
	if _, _, err := lookupModel(r.Model); err != nil {
		return err
	}
	// The schedule's validity does not depend on the run's length.
	if _, err := r.LRSchedule(1); err != nil {
		return err
	}
	return r.OptimizerConfig().Validate()
}

// OptimizerConfig is the recipe's local optimizer.
func (r Recipe) OptimizerConfig() OptimizerConfig {
	return OptimizerConfig{Kind: r.Optimizer, Momentum: r.Momentum, Nesterov: r.Nesterov, WeightDecay: r.WeightDecay}
}

// MixOrder is the recipe's order of local step and mixing; Check has
// refused any Mix but atc and cta.
func (r Recipe) MixOrder() MixOrder {
	if r.Mix == "cta" {
		return CombineThenAdapt
	}
	return AdaptThenCombine
}

// LRSchedule is the recipe's learning rate for a run of the given rounds.
func (r Recipe) LRSchedule(rounds int) (Schedule, error) {
	return ParseSchedule(r.Schedule, r.LR, r.Warmup, rounds)
}

// PreparedRecipe is a Recipe made ready to train: its data loaded and
// standardized, its model built and the initial parameters drawn. It is
// the same on every peer of a run; what differs per peer (its shard, its
// batches) comes from its methods and from a Stepper.
type PreparedRecipe struct {
	Recipe Recipe
	// Train and Test are standardized with the training set's statistics,
	// but for text data, whose values are token ids.
	Train, Test *Dataset
	// Model is a prototype: each goroutine that computes clones it.
	Model Model
	// Init is x₀, drawn from the run's seed: every peer starts from it.
	Init []float32
}

// Prepare checks the recipe, loads its data, builds its model for the data's
// sample shape and draws the initial parameters.
func (r Recipe) Prepare() (*PreparedRecipe, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	train, test, err := r.load()
	if err != nil {
		return nil, err
	}
	model, err := ParseModel(r.Model, train.Shape, train.Classes)
	if err != nil {
		return nil, err
	}
	if err := r.fits(model, train); err != nil {
		return nil, err
	}
	init := make([]float32, model.NumParams())
	model.Init(init, rand.New(rand.NewPCG(r.Seed, initStream)))
	return &PreparedRecipe{Recipe: r, Train: train, Test: test, Model: model, Init: init}, nil
}

// load reads the recipe's data: text in windows of Context tokens, other
// data standardized.
func (r Recipe) load() (train, test *Dataset, err error) {
	if IsTextDataset(r.Dataset) {
		return LoadText(r.Dataset, r.DataDir, r.Context)
	}
	return LoadDataset(r.Dataset, r.DataDir, r.TestFraction, r.Seed)
}

// fits refuses a model that cannot learn from the data however its sizes
// fit: a language model reads token ids, which only text data holds, and a
// classifier on text windows would read its label, the window's last
// token, among its inputs.
func (r Recipe) fits(m Model, train *Dataset) error {
	lm, ok := m.(interface{ LanguageModel() bool })
	predictsTokens, text := ok && lm.LanguageModel(), train.Vocab != nil
	switch {
	case predictsTokens && !text:
		return fmt.Errorf("model %q predicts the next token: it needs text data (--dataset text:PATH or fortunes), not %q", r.Model, r.Dataset)
	case !predictsTokens && text:
		return fmt.Errorf("model %q is a classifier, but --dataset %s holds windows of text whose label is their own last token: want a language model (gpt:...)", r.Model, r.Dataset)
	}
	return nil
}

// Partition deals the training set out to peers with the recipe's
// partitioner and seed: part i lists peer i's sample indices into Train.
// Every sample goes to exactly one peer.
func (p *PreparedRecipe) Partition(peers int) ([][]int, error) {
	return Partition(p.Recipe.Partition, p.Train.Y, p.Train.Classes, peers, p.Recipe.Seed)
}

// Shard returns the training data of peer i of peers, and its data weight:
// its share of the samples over the mean share, n_i/n̄ (see DataWeight).
func (p *PreparedRecipe) Shard(i, peers int) (*Dataset, float64, error) {
	if i < 0 || i >= peers {
		return nil, 0, fmt.Errorf("training: shard %d of %d: want 0 ≤ shard < %d", i, peers, peers)
	}
	parts, err := p.Partition(peers)
	if err != nil {
		return nil, 0, err
	}
	return p.Train.Subset(parts[i]), DataWeight(len(parts[i]), peers, p.Train.Len()), nil
}

// DataWeight is the step weight n_i/n̄ of a peer holding samples of total
// samples dealt out to peers: 1 for an equal share. Scaling each peer's
// steps by it makes the mesh minimise the loss over all samples, as
// centralized training does.
func DataWeight(samples, peers, total int) float64 {
	return float64(samples) * float64(peers) / float64(total)
}

// EvalSubset returns the test samples scored at intermediate evaluation
// points: a seeded choice of samples of them, in test-set order, or the
// whole test set when samples is 0 or not below its size.
func (p *PreparedRecipe) EvalSubset(samples int) *Dataset {
	if samples <= 0 || samples >= p.Test.Len() {
		return p.Test
	}
	rng := rand.New(rand.NewPCG(p.Recipe.Seed, evalSubsetStream))
	idx := rng.Perm(p.Test.Len())[:samples]
	slices.Sort(idx)
	return p.Test.Subset(idx)
}
