package sims

import (
	"context"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

// keepOwn ignores every neighbor: a rule that exists only in this test.
type keepOwn struct{}

func (keepOwn) Mix(out, own []float32, _ float64, _ []training.Arrival) { copy(out, own) }
func (keepOwn) Correct([]float32, float64, []float32, []float32)        {}

func init() {
	training.RegisterAggregator("keep-own", "keep-own", func(string) (training.Aggregator, error) { return keepOwn{}, nil })
}

// TestSimulatorMixesWithTheRegisteredRule: peers that mix by a registered
// rule which ignores neighbors train exactly as peers that never talk
// (--algo local), while the mean makes them agree.
func TestSimulatorMixesWithTheRegisteredRule(t *testing.T) {
	run := func(algo, aggregate string) *Result {
		spec := DefaultSpec()
		spec.Peers, spec.Rounds, spec.Algo, spec.Partition = 8, 40, algo, "dirichlet:0.3"
		e, err := spec.Prepare()
		if err != nil {
			t.Fatal(err)
		}
		e.Aggregate = aggregate
		res, err := e.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	local, own, mean := run("local", ""), run("dpsgd", "keep-own"), run("dpsgd", "")
	if own.FinalTestAccuracy != local.FinalTestAccuracy || own.FinalTestAccuracyMin != local.FinalTestAccuracyMin ||
		own.FinalConsensusDistance != local.FinalConsensusDistance {
		t.Errorf("keep-own: accuracy %.4f (min %.4f), consensus %.4g; local: %.4f (min %.4f), %.4g",
			own.FinalTestAccuracy, own.FinalTestAccuracyMin, own.FinalConsensusDistance,
			local.FinalTestAccuracy, local.FinalTestAccuracyMin, local.FinalConsensusDistance)
	}
	if !(mean.FinalConsensusDistance < own.FinalConsensusDistance/100) {
		t.Errorf("mean: consensus distance %.3g, not far below keep-own's %.3g", mean.FinalConsensusDistance, own.FinalConsensusDistance)
	}
}
