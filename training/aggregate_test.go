package training

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMeanTakesOwnValuesWhereAPartialVectorHasNone: a partial vector mixes
// exactly, bit for bit, as the whole vector would with the node's own
// values in its gaps, so a lost shard leaves that neighbor's weight with
// the node for those coordinates.
func TestMeanTakesOwnValuesWhereAPartialVectorHasNone(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	vec := func() []float32 {
		v := make([]float32, 50)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	own, a, b := vec(), vec(), vec()
	spans := []Span{{Lo: 0, Hi: 10}, {Lo: 25, Hi: 40}}
	padded := slices.Clone(own)
	for _, s := range spans {
		copy(padded[s.Lo:s.Hi], a[s.Lo:s.Hi])
	}
	partial := make([]float32, len(a)) // what arrived; zero in the gaps
	for _, s := range spans {
		copy(partial[s.Lo:s.Hi], a[s.Lo:s.Hi])
	}
	got, want := make([]float32, len(own)), make([]float32, len(own))
	Mean{}.Mix(got, own, 0.4, []Arrival{{From: "a", Weight: 0.3, Params: partial, Spans: spans}, {From: "b", Weight: 0.3, Params: b}})
	Mean{}.Mix(want, own, 0.4, []Arrival{{From: "a", Weight: 0.3, Params: padded}, {From: "b", Weight: 0.3, Params: b}})
	if !slices.Equal(got, want) {
		t.Fatalf("partial mix differs from the mix padded with own values:\n%v\n%v", got, want)
	}
}

// TestNodeRefusesBadSpans: spans that are none at all, unsorted,
// overlapping, empty or outside the vector are a shell's bug, and a long-link vector is mixed
// whole or not at all.
func TestNodeRefusesBadSpans(t *testing.T) {
	n := newTestNode(t, "i", []float32{1, 2, 3, 4}, 0.25, []Neighbor{{ID: "a", Weight: 0.5}, {ID: "l", Weight: 0.25, Long: true}}, 0)
	n.Start()
	for _, spans := range [][]Span{{}, {{Lo: 2, Hi: 4}, {Lo: 0, Hi: 1}}, {{Lo: 0, Hi: 3}, {Lo: 2, Hi: 4}}, {{Lo: 1, Hi: 1}}, {{Lo: 3, Hi: 5}}, {{Lo: -1, Hi: 2}}} {
		if err := n.Receive(Message{From: "a", Round: 0, Params: make([]float32, 4), Spans: spans}); !errors.Is(err, ErrShape) {
			t.Errorf("spans %v: %v, want ErrShape", spans, err)
		}
	}
	if err := n.Receive(Message{From: "l", Round: 0, Params: make([]float32, 4), Spans: []Span{{Lo: 0, Hi: 2}}}); !errors.Is(err, ErrShape) {
		t.Errorf("a partial long-link vector: %v, want ErrShape", err)
	}
	if err := n.Receive(Message{From: "a", Round: 0, Params: make([]float32, 4), Spans: []Span{{Lo: 0, Hi: 2}, {Lo: 2, Hi: 3}}}); err != nil {
		t.Errorf("adjacent spans refused: %v", err)
	}
}

// ownOnly is a rule that exists only in this test: it ignores every
// neighbor. It shows what adding a rule takes: one type implementing
// Aggregator and one RegisterAggregator call.
type ownOnly struct{}

func (ownOnly) Mix(out, own []float32, _ float64, _ []Arrival)   { copy(out, own) }
func (ownOnly) Correct([]float32, float64, []float32, []float32) {}

func init() {
	RegisterAggregator("own-only", "own-only", func(string) (Aggregator, error) { return ownOnly{}, nil })
	RegisterAggregator("nil-rule", "nil-rule", func(string) (Aggregator, error) { return nil, nil })
}

// TestRegisterAggregatorRefusesMistakes: a taken name, a name with a colon,
// no usage or no builder is a mistake in the program, which panics at once.
func TestRegisterAggregatorRefusesMistakes(t *testing.T) {
	build := func(string) (Aggregator, error) { return Mean{}, nil }
	for _, c := range []struct {
		name, usage string
		build       func(string) (Aggregator, error)
	}{{"own-only", "own-only", build}, {"bad:name", "bad", build}, {"x", "", build}, {"y", "y", nil}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterAggregator(%q, %q, builder %v) did not panic", c.name, c.usage, c.build != nil)
				}
			}()
			RegisterAggregator(c.name, c.usage, c.build)
		}()
	}
}

// TestRegisteredAggregatorRunsInTheNode: a node built with a registered
// rule mixes by it; unknown names list the registered ones, and a builder
// that returns no rule is an error.
func TestRegisteredAggregatorRunsInTheNode(t *testing.T) {
	if _, err := ParseAggregator("nil-rule"); err == nil {
		t.Error("a builder that returned no rule gave no error")
	}
	_, err := ParseAggregator("nope:3")
	if err == nil || !strings.Contains(err.Error(), "mean") || !strings.Contains(err.Error(), "own-only") {
		t.Errorf("unknown rule: %v, want an error listing mean and own-only", err)
	}
	if _, err := ParseAggregator("mean:2"); err == nil {
		t.Error("mean took an argument")
	}
	agg, err := ParseAggregator("own-only")
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(NodeConfig{ID: "i", Params: []float32{4}, SelfWeight: 0.5, Neighbors: []Neighbor{{ID: "a", Weight: 0.5}},
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 1}, Aggregator: agg, Order: AdaptThenCombine})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	must(t, n.GradientDone(0, []float32{1}, 0))
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{100}}))
	rd := n.Ready()
	if len(rd.Rounds) != 1 || rd.Rounds[0].Params[0] != 3 || math.IsNaN(float64(rd.Rounds[0].Params[0])) {
		t.Fatalf("round with the own-only rule: %+v, want x = 4 − 1 = 3, the neighbor ignored", rd.Rounds)
	}
}

// TestPartialVectorMixesWithTheSteppedModel: a partial vector delivered at
// a deadline that fires before the gradient is in waits for the step; its
// missing coordinates then count the node's stepped model, the vector it
// published this round, and the round reports it ended by deadline.
func TestPartialVectorMixesWithTheSteppedModel(t *testing.T) {
	n, err := NewNode(NodeConfig{ID: "i", Params: []float32{4, 4}, SelfWeight: 0.5, Neighbors: []Neighbor{{ID: "a", Weight: 0.5}},
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(2), Schedule: ConstantLR{Base: 0.5}, Order: AdaptThenCombine})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{10, 0}, Spans: []Span{{Lo: 0, Hi: 1}}}))
	n.Deadline(0)
	if len(n.Ready().Rounds) != 0 {
		t.Fatal("the round ended before its gradient")
	}
	must(t, n.GradientDone(0, []float32{1, 1}, 0))
	rd := n.Ready()
	// stepped = 4 − 0.5·1 = 3.5; coordinate 0 mixes a's 10, coordinate 1 the stepped 3.5.
	if len(rd.Rounds) != 1 || !slices.Equal(rd.Rounds[0].Params, []float32{0.5*10 + 0.5*3.5, 3.5}) || !rd.Rounds[0].ByDeadline {
		t.Fatalf("round %+v, want params [6.75 3.5] ended by deadline", rd.Rounds)
	}
}
