package main

import (
	"flag"
	"strings"

	"github.com/gradmesh/gradmesh/sims"
	"github.com/gradmesh/gradmesh/training"
)

// addTrainingFlags registers the flags gradmesh sim and gradmesh join share:
// what a peer learns from, and how. Defaults come from s.
func addTrainingFlags(fs *flag.FlagSet, s *sims.Spec) {
	fs.StringVar(&s.Dataset, "dataset", s.Dataset, "data: digits (embedded)|mnist (IDX files in --data-dir)|csv:PATH")
	fs.StringVar(&s.DataDir, "data-dir", s.DataDir, "directory of IDX files named like MNIST's (train-images-idx3-ubyte[.gz], ...)")
	fs.StringVar(&s.Model, "model", s.Model, "model: "+strings.Join(training.ModelUsages(), "|")+" (every peer of a run uses the same)")
	fs.StringVar(&s.Partition, "partition", s.Partition, "how data is split over peers: iid|dirichlet:ALPHA|shards:K")
	fs.IntVar(&s.Batch, "batch", s.Batch, "minibatch size of each local step")
	fs.Float64Var(&s.LR, "lr", s.LR, "peak learning rate")
	fs.StringVar(&s.Schedule, "schedule", s.Schedule, "learning-rate schedule: constant|cosine|step:EVERY:GAMMA")
	fs.IntVar(&s.Warmup, "warmup", s.Warmup, "rounds of linear learning-rate warm-up (cosine schedule)")
	fs.StringVar(&s.Optimizer, "optimizer", s.Optimizer, "local optimizer: sgd|adam")
	fs.Float64Var(&s.Momentum, "momentum", s.Momentum, "SGD momentum")
	fs.BoolVar(&s.Nesterov, "nesterov", s.Nesterov, "use Nesterov momentum")
	fs.Float64Var(&s.WeightDecay, "weight-decay", s.WeightDecay, "weight decay")
	fs.StringVar(&s.Mix, "mix", s.Mix, "D-PSGD order: atc (local step, then mix) or cta (mix x_r while stepping; overlaps compute and network)")
	fs.Uint64Var(&s.Seed, "seed", s.Seed, "seed for data split, partition, initial model and batches (the same on every peer of a run)")
	fs.Float64Var(&s.TestFraction, "test-fraction", s.TestFraction, "held-out fraction for data sets without a test split (digits, csv)")
}
