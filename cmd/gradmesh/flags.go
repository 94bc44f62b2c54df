package main

import (
	"flag"
	"strings"

	"github.com/gradmesh/gradmesh/training"
)

// addTrainingFlags registers the flags gradmesh sim and gradmesh join share:
// the run's recipe, what a peer learns from and how. Defaults come from r.
func addTrainingFlags(fs *flag.FlagSet, r *training.Recipe) {
	fs.StringVar(&r.Dataset, "dataset", r.Dataset, "data: digits (embedded)|mnist (IDX files in --data-dir)|csv:PATH|text:PATH (any UTF-8 file, character tokens)|fortunes (Debian's fortunes package)")
	fs.StringVar(&r.DataDir, "data-dir", r.DataDir, "directory of IDX files named like MNIST's (train-images-idx3-ubyte[.gz], ...), or of fortune files (default "+training.FortunesDir+")")
	fs.IntVar(&r.Context, "context", r.Context, "tokens a language model reads per window of text data (text:PATH, fortunes)")
	fs.StringVar(&r.Model, "model", r.Model, "model: "+strings.Join(training.ModelUsages(), "|")+" (every peer of a run uses the same)")
	fs.StringVar(&r.Partition, "partition", r.Partition, "how data is split over peers: iid|dirichlet:ALPHA|shards:K")
	fs.IntVar(&r.Batch, "batch", r.Batch, "minibatch size of each local step")
	fs.Float64Var(&r.LR, "lr", r.LR, "peak learning rate")
	fs.StringVar(&r.Schedule, "schedule", r.Schedule, "learning-rate schedule: constant|cosine|step:EVERY:GAMMA")
	fs.IntVar(&r.Warmup, "warmup", r.Warmup, "rounds of linear learning-rate warm-up (cosine schedule)")
	fs.StringVar(&r.Optimizer, "optimizer", r.Optimizer, "local optimizer: sgd|adam")
	fs.Float64Var(&r.Momentum, "momentum", r.Momentum, "SGD momentum")
	fs.BoolVar(&r.Nesterov, "nesterov", r.Nesterov, "use Nesterov momentum")
	fs.Float64Var(&r.WeightDecay, "weight-decay", r.WeightDecay, "weight decay")
	fs.StringVar(&r.Mix, "mix", r.Mix, "D-PSGD order: atc (local step, then mix) or cta (mix x_r while stepping; overlaps compute and network)")
	fs.Uint64Var(&r.Seed, "seed", r.Seed, "seed for data split, partition, initial model and batches (the same on every peer of a run)")
	fs.Float64Var(&r.TestFraction, "test-fraction", r.TestFraction, "held-out fraction for data sets without a test split (digits, csv)")
}

// addAggregateFlag registers --aggregate: the rule a peer mixes its
// neighbors' vectors with. Unlike the recipe, peers of a run may differ in it.
func addAggregateFlag(fs *flag.FlagSet, spec *string) {
	fs.StringVar(spec, "aggregate", *spec, "how a peer combines its neighbors' vectors with its own: "+strings.Join(training.AggregatorUsages(), "|"))
}
